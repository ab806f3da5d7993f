#pragma once
// Helpers for the storage tests: run a coroutine to completion, a temporary folder, and the backend
// factories the conformance suite is instantiated with.
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "parley/storage/storage.h"

namespace parley::storage::test {

// Runs `task` on `io` (on this thread) until it completes, and returns its result. The io_context
// returns from run() only when nothing is outstanding, so this also checks that a backend keeps the
// caller's executor busy while it works elsewhere.
template <class T>
T runSync(asio::io_context& io, asio::awaitable<T> task) {
    auto future = asio::co_spawn(io, std::move(task), asio::use_future);
    io.restart();
    io.run();
    return future.get();
}

// A fresh folder under the system's temporary folder, removed with everything in it on destruction.
class TempDir {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "parley-storage-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("cannot create a temporary folder from " + pattern);
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code error;
        // A test may have taken the write permission away.
        for (const auto& entry : std::filesystem::recursive_directory_iterator(path_, error)) {
            std::filesystem::permissions(entry.path(), std::filesystem::perms::owner_all,
                                         std::filesystem::perm_options::add, error);
        }
        std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::add, error);
        std::filesystem::remove_all(path_, error);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

inline std::unique_ptr<Storage> openOrThrow(const StorageOptions& options) {
    auto storage = openStorage(options);
    if (!storage) {
        throw std::runtime_error("openStorage failed: " + storage.error().message);
    }
    return std::move(*storage);
}

// Backend factories for the conformance suite: open() gives a fresh, empty storage.
struct MemoryBackend {
    std::unique_ptr<Storage> open() { return openOrThrow({.backend = "memory"}); }
};

struct SqliteBackend {
    TempDir dir;
    // In a folder that does not exist yet, which the backend must create.
    std::unique_ptr<Storage> open() {
        return openOrThrow({.backend = "sqlite", .path = dir.path() / "var" / "parley.db"});
    }
};

}  // namespace parley::storage::test
