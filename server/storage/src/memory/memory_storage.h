#pragma once
// The in-memory backend: for tests and for throw-away development servers. Every call completes
// inline under one mutex, since callers may be on several event-loop threads.
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

#include "parley/storage/storage.h"

namespace parley::storage {

struct MemoryState {
    using UserKey = std::pair<std::string, std::string>;  // host, username
    // host, username, store, key
    using ValueKey = std::tuple<std::string, std::string, std::string, std::string>;

    std::mutex mutex;
    bool closed = false;
    std::map<UserKey, Account> accounts;  // ordered, so a host's user names come out sorted
    std::map<ValueKey, std::string> values;
};

class MemoryAccountStore final : public AccountStore {
  public:
    explicit MemoryAccountStore(MemoryState& state) : state_(state) {}

    StoreResult<void> createAccount(Account account) override;
    StoreResult<std::optional<Account>> findAccount(std::string host, std::string username) override;
    StoreResult<void> setCredentials(std::string host, std::string username,
                                     std::vector<sasl::ScramCredential> credentials) override;
    StoreResult<void> deleteAccount(std::string host, std::string username) override;
    StoreResult<std::vector<std::string>> listAccounts(std::string host) override;

  private:
    MemoryState& state_;
};

class MemoryKeyValueStore final : public KeyValueStore {
  public:
    explicit MemoryKeyValueStore(MemoryState& state) : state_(state) {}

    StoreResult<std::optional<std::string>> get(std::string host, std::string username, std::string store,
                                                std::string key) override;
    StoreResult<void> set(std::string host, std::string username, std::string store, std::string key,
                          std::string value) override;
    StoreResult<void> remove(std::string host, std::string username, std::string store,
                             std::string key) override;

  private:
    MemoryState& state_;
};

class MemoryStorage final : public Storage {
  public:
    MemoryStorage() = default;

    AccountStore& accounts() override { return accounts_; }
    KeyValueStore& keyValue() override { return keyValue_; }
    void close() override;

  private:
    MemoryState state_;
    MemoryAccountStore accounts_{state_};
    MemoryKeyValueStore keyValue_{state_};
};

}  // namespace parley::storage
