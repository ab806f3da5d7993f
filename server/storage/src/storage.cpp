#include "parley/storage/storage.h"

#include "memory/memory_storage.h"
#include "sqlite/sqlite_storage.h"

namespace parley::storage {

std::string_view toString(StorageError error) noexcept {
    switch (error) {
        case StorageError::NotFound:
            return "not found";
        case StorageError::AlreadyExists:
            return "already exists";
        case StorageError::Unavailable:
            return "storage unavailable";
        case StorageError::QuotaExceeded:
            return "quota exceeded";
    }
    return "unknown storage error";
}

std::string_view toString(Subscription subscription) noexcept {
    // The values of the subscription attribute (RFC 6121 §2.1.2.5).
    switch (subscription) {
        case Subscription::None:
            return "none";
        case Subscription::To:
            return "to";
        case Subscription::From:
            return "from";
        case Subscription::Both:
            return "both";
    }
    return "none";
}

Result<std::unique_ptr<Storage>, OpenError> openStorage(const StorageOptions& options) {
    if (options.backend == "memory") {
        return std::unique_ptr<Storage>(std::make_unique<MemoryStorage>());
    }
    if (options.backend == "sqlite") {
        return SqliteStorage::open(options);
    }
    return OpenError{"unknown storage backend \"" + options.backend +
                     "\": set storage.backend to \"sqlite\" or \"memory\""};
}

}  // namespace parley::storage
