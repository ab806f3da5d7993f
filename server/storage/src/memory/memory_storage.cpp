#include "memory/memory_storage.h"

#include "credentials.h"

namespace parley::storage {

// The coroutines below never suspend, so each one holds the lock from its first statement to its
// co_return and completes inline when awaited.

StoreResult<void> MemoryAccountStore::createAccount(Account account) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    MemoryState::UserKey key{account.host, account.username};
    if (state_.accounts.contains(key)) {
        co_return StorageError::AlreadyExists;
    }
    account.credentials = normalizeCredentials(std::move(account.credentials));
    state_.accounts.emplace(std::move(key), std::move(account));
    co_return Result<void, StorageError>{};
}

StoreResult<std::optional<Account>> MemoryAccountStore::findAccount(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.accounts.find({std::move(host), std::move(username)});
    if (it == state_.accounts.end()) {
        co_return std::optional<Account>{};
    }
    co_return std::optional<Account>{it->second};
}

StoreResult<void> MemoryAccountStore::setCredentials(std::string host, std::string username,
                                                     std::vector<sasl::ScramCredential> credentials) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.accounts.find({std::move(host), std::move(username)});
    if (it == state_.accounts.end()) {
        co_return StorageError::NotFound;
    }
    it->second.credentials = normalizeCredentials(std::move(credentials));
    co_return Result<void, StorageError>{};
}

StoreResult<void> MemoryAccountStore::deleteAccount(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.accounts.find({host, username});
    if (it == state_.accounts.end()) {
        co_return StorageError::NotFound;
    }
    state_.accounts.erase(it);
    // The user's documents sort together, starting at the empty store and key.
    auto value = state_.values.lower_bound({host, username, std::string{}, std::string{}});
    while (value != state_.values.end() && std::get<0>(value->first) == host &&
           std::get<1>(value->first) == username) {
        value = state_.values.erase(value);
    }
    co_return Result<void, StorageError>{};
}

StoreResult<std::vector<std::string>> MemoryAccountStore::listAccounts(std::string host) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    std::vector<std::string> usernames;
    for (auto it = state_.accounts.lower_bound({host, std::string{}});
         it != state_.accounts.end() && it->first.first == host; ++it) {
        usernames.push_back(it->first.second);
    }
    co_return usernames;
}

StoreResult<std::optional<std::string>> MemoryKeyValueStore::get(std::string host, std::string username,
                                                                 std::string store, std::string key) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.values.find({std::move(host), std::move(username), std::move(store), std::move(key)});
    if (it == state_.values.end()) {
        co_return std::optional<std::string>{};
    }
    co_return std::optional<std::string>{it->second};
}

StoreResult<void> MemoryKeyValueStore::set(std::string host, std::string username, std::string store,
                                           std::string key, std::string value) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    state_.values.insert_or_assign({std::move(host), std::move(username), std::move(store), std::move(key)},
                                   std::move(value));
    co_return Result<void, StorageError>{};
}

StoreResult<void> MemoryKeyValueStore::remove(std::string host, std::string username, std::string store,
                                              std::string key) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    state_.values.erase({std::move(host), std::move(username), std::move(store), std::move(key)});
    co_return Result<void, StorageError>{};
}

void MemoryStorage::close() {
    std::lock_guard lock(state_.mutex);
    state_.closed = true;
}

}  // namespace parley::storage
