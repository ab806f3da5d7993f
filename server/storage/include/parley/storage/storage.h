#pragma once
// Storage: one interface per feature, each with an in-memory and an SQLite backend (PostgreSQL later),
// all passing one conformance suite (tests/conformance/storage). Calls are coroutines; a backend that
// blocks (SQLite) runs the work on its own thread and resumes the caller on the caller's executor, so a
// network event loop never waits for the disk (docs/ARCHITECTURE.md "Storage").
//
// Coroutine parameters are taken by value (docs/STYLE.md rule 7).
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/base/result.h"
#include "parley/sasl/scram_credential.h"

namespace parley::storage {

namespace asio = boost::asio;

enum class StorageError : std::uint8_t {
    NotFound,       // the account (or row) does not exist
    AlreadyExists,  // e.g. registering a taken user name
    Unavailable,    // the backend failed (I/O error, disk full, database down): retry later
    QuotaExceeded,  // a per-user limit was reached
};
std::string_view toString(StorageError error) noexcept;

template <class T>
using StoreResult = asio::awaitable<Result<T, StorageError>>;

struct Account {
    std::string host;                                // prepared domain
    std::string username;                            // prepared localpart
    std::vector<sasl::ScramCredential> credentials;  // one per hash algorithm
    std::int64_t createdAt = 0;                      // Unix seconds
};

class AccountStore {
  public:
    virtual ~AccountStore() = default;
    // AlreadyExists if the user name is taken on that host.
    virtual StoreResult<void> createAccount(Account account) = 0;
    // nullopt (not an error) when there is no such account.
    virtual StoreResult<std::optional<Account>> findAccount(std::string host, std::string username) = 0;
    // Replaces all credentials (password change). NotFound if there is no such account.
    virtual StoreResult<void> setCredentials(std::string host, std::string username,
                                             std::vector<sasl::ScramCredential> credentials) = 0;
    // Deletes the account and everything stored for it in this backend. NotFound if absent.
    virtual StoreResult<void> deleteAccount(std::string host, std::string username) = 0;
    // User names on a host, sorted.
    virtual StoreResult<std::vector<std::string>> listAccounts(std::string host) = 0;
};

// Small per-user documents that a feature reads and writes whole (XEP-0049 private XML, vCards,
// preferences). `store` names the feature ("private", "vcard"), `key` the document in it.
class KeyValueStore {
  public:
    virtual ~KeyValueStore() = default;
    virtual StoreResult<std::optional<std::string>> get(std::string host, std::string username,
                                                        std::string store, std::string key) = 0;
    virtual StoreResult<void> set(std::string host, std::string username, std::string store, std::string key,
                                  std::string value) = 0;
    // Removing an absent key is not an error.
    virtual StoreResult<void> remove(std::string host, std::string username, std::string store,
                                     std::string key) = 0;
};

// A backend: owns its threads and connections and hands out the feature stores.
class Storage {
  public:
    virtual ~Storage() = default;
    virtual AccountStore& accounts() = 0;
    virtual KeyValueStore& keyValue() = 0;
    // Finishes queued work and closes; called once at shutdown.
    virtual void close() = 0;
};

struct StorageOptions {
    std::string backend = "sqlite";  // "sqlite" or "memory"
    std::filesystem::path path;      // sqlite database file (created with its folder)
    bool synchronousFull = false;    // sqlite: PRAGMA synchronous=FULL instead of NORMAL
};

struct OpenError {
    std::string
        message;  // what failed and how to fix it, e.g. "cannot open var/parley.db: permission denied"
};

// Opens a backend; the SQLite one applies pending migrations (server/storage/migrations/sqlite) first.
Result<std::unique_ptr<Storage>, OpenError> openStorage(const StorageOptions& options);

}  // namespace parley::storage
