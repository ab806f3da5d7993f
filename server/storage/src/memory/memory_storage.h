#pragma once
// The in-memory backend: for tests and for throw-away development servers. Every call completes
// inline under one mutex, since callers may be on several event-loop threads.
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
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
    std::map<UserKey, Account> accounts;         // ordered, so a host's user names come out sorted
    std::map<UserKey, std::int64_t> tombstones;  // deleted accounts' names -> deletion time (Unix s)
    std::map<ValueKey, std::string> values;

    struct RosterData {
        std::uint64_t version = 0;
        std::uint64_t removedSince = 0;
        std::map<std::string, RosterItem> items;          // by jid, so they come out sorted
        std::map<std::uint64_t, std::string> tombstones;  // removal version -> jid, oldest first
    };
    std::map<UserKey, RosterData> rosters;
    // Offline message ids come from one counter for all users, so an id is never reused (not even
    // after the user's messages were all removed), as with the SQLite backend's AUTOINCREMENT.
    std::uint64_t lastOfflineId = 0;
    std::map<UserKey, std::map<std::uint64_t, OfflineMessage>> offline;  // by id: oldest first
    std::map<UserKey, std::set<std::string>> blockLists;
    struct PepNodeData {
        PepNodeConfig config;
        std::uint64_t lastOrder = 0;
        std::vector<PepItem> items;  // oldest first
    };
    std::map<UserKey, std::map<std::string, PepNodeData>> pep;  // nodes by name, so they come out sorted
    // Archived messages by a sequence number shared by all users: archive order.
    struct ArchiveData {
        std::map<std::uint64_t, ArchivedMessage> messages;
        std::map<std::string, std::uint64_t> byId;
    };
    std::uint64_t lastArchiveSeq = 0;
    std::map<UserKey, ArchiveData> archives;
};

class MemoryAccountStore final : public AccountStore {
  public:
    explicit MemoryAccountStore(MemoryState& state) : state_(state) {}

    StoreResult<void> createAccount(Account account) override;
    StoreResult<std::size_t> createAccounts(std::vector<Account> accounts) override;
    StoreResult<std::optional<Account>> findAccount(std::string host, std::string username) override;
    StoreResult<void> setCredentials(std::string host, std::string username,
                                     std::vector<sasl::ScramCredential> credentials) override;
    StoreResult<void> deleteAccount(std::string host, std::string username, std::int64_t deletedAt) override;
    StoreResult<std::vector<std::string>> listAccounts(std::string host) override;
    StoreResult<std::optional<std::int64_t>> findTombstone(std::string host, std::string username) override;
    StoreResult<void> removeTombstone(std::string host, std::string username) override;

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

class MemoryRosterStore final : public RosterStore {
  public:
    explicit MemoryRosterStore(MemoryState& state) : state_(state) {}

    StoreResult<Roster> loadRoster(std::string host, std::string username) override;
    StoreResult<std::optional<RosterItem>> findItem(std::string host, std::string username,
                                                    std::string jid) override;
    StoreResult<std::uint64_t> putItem(std::string host, std::string username, RosterItem item,
                                       std::size_t maxItems) override;
    StoreResult<std::uint64_t> removeItem(std::string host, std::string username, std::string jid) override;

  private:
    MemoryState& state_;
};

class MemoryOfflineStore final : public OfflineStore {
  public:
    explicit MemoryOfflineStore(MemoryState& state) : state_(state) {}

    StoreResult<std::uint64_t> push(std::string host, std::string username, OfflineMessage message,
                                    std::size_t maxPerUser) override;
    StoreResult<std::vector<OfflineMessage>> list(std::string host, std::string username,
                                                  std::size_t limit) override;
    StoreResult<void> remove(std::string host, std::string username, std::vector<std::uint64_t> ids) override;
    StoreResult<std::size_t> count(std::string host, std::string username) override;

  private:
    MemoryState& state_;
};

class MemoryBlockListStore final : public BlockListStore {
  public:
    explicit MemoryBlockListStore(MemoryState& state) : state_(state) {}

    StoreResult<std::vector<std::string>> list(std::string host, std::string username) override;
    StoreResult<void> add(std::string host, std::string username, std::vector<std::string> jids,
                          std::size_t maxItems) override;
    StoreResult<void> remove(std::string host, std::string username, std::vector<std::string> jids) override;

  private:
    MemoryState& state_;
};

class MemoryPepStore final : public PepStore {
  public:
    explicit MemoryPepStore(MemoryState& state) : state_(state) {}

    StoreResult<std::vector<PepNode>> listNodes(std::string host, std::string username) override;
    StoreResult<std::optional<PepNodeConfig>> findNode(std::string host, std::string username,
                                                       std::string node) override;
    StoreResult<void> createNode(std::string host, std::string username, std::string node,
                                 PepNodeConfig config, std::size_t maxNodes) override;
    StoreResult<void> configureNode(std::string host, std::string username, std::string node,
                                    PepNodeConfig config) override;
    StoreResult<void> deleteNode(std::string host, std::string username, std::string node) override;
    StoreResult<std::uint64_t> publishItem(std::string host, std::string username, std::string node,
                                           PepItem item) override;
    StoreResult<std::vector<PepItem>> items(std::string host, std::string username, std::string node,
                                            std::vector<std::string> ids, std::size_t limit) override;
    StoreResult<bool> retractItem(std::string host, std::string username, std::string node,
                                  std::string id) override;
    StoreResult<void> purgeNode(std::string host, std::string username, std::string node) override;

  private:
    // The node, or nullptr. Call with the mutex held.
    MemoryState::PepNodeData* find(const std::string& host, const std::string& username,
                                   const std::string& node);
    // The node; Unavailable once closed, NotFound if absent. Call with the mutex held.
    Result<MemoryState::PepNodeData*, StorageError> existing(const std::string& host,
                                                             const std::string& username,
                                                             const std::string& node);
    MemoryState& state_;
};

class MemoryArchiveStore final : public ArchiveStore {
  public:
    explicit MemoryArchiveStore(MemoryState& state) : state_(state) {}

    StoreResult<void> append(std::string host, std::string username, ArchivedMessage message,
                             std::size_t maxPerUser) override;
    StoreResult<ArchivePage> query(std::string host, std::string username, ArchiveQuery query) override;
    StoreResult<std::size_t> removeOlderThan(std::int64_t stamp) override;
    StoreResult<void> removeAll(std::string host, std::string username) override;

  private:
    MemoryState& state_;
};

class MemoryStorage final : public Storage {
  public:
    MemoryStorage() = default;

    AccountStore& accounts() override { return accounts_; }
    KeyValueStore& keyValue() override { return keyValue_; }
    RosterStore& roster() override { return roster_; }
    OfflineStore& offline() override { return offline_; }
    BlockListStore& blockList() override { return blockList_; }
    PepStore& pep() override { return pep_; }
    ArchiveStore& archive() override { return archive_; }
    void close() override;

  private:
    MemoryState state_;
    MemoryAccountStore accounts_{state_};
    MemoryKeyValueStore keyValue_{state_};
    MemoryRosterStore roster_{state_};
    MemoryOfflineStore offline_{state_};
    MemoryBlockListStore blockList_{state_};
    MemoryPepStore pep_{state_};
    MemoryArchiveStore archive_{state_};
};

}  // namespace parley::storage
