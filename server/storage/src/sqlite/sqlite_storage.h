#pragma once
// The SQLite backend. One worker thread owns the connection; every store call is a job handed to it
// with WorkerThread::runOnWorker, and the caller resumes on its own executor.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "parley/storage/storage.h"
#include "sqlite/group_commit.h"
#include "sqlite/sqlite_database.h"
#include "worker_thread.h"

namespace parley::storage {

class SqliteAccountStore final : public AccountStore {
  public:
    SqliteAccountStore(WorkerThread& worker, SqliteDatabase& db) : worker_(worker), db_(db) {}

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
    WorkerThread& worker_;
    SqliteDatabase& db_;  // touched only by jobs on worker_
};

class SqliteKeyValueStore final : public KeyValueStore {
  public:
    SqliteKeyValueStore(WorkerThread& worker, SqliteDatabase& db) : worker_(worker), db_(db) {}

    StoreResult<std::optional<std::string>> get(std::string host, std::string username, std::string store,
                                                std::string key) override;
    StoreResult<void> set(std::string host, std::string username, std::string store, std::string key,
                          std::string value) override;
    StoreResult<void> remove(std::string host, std::string username, std::string store,
                             std::string key) override;

  private:
    WorkerThread& worker_;
    SqliteDatabase& db_;
};

class SqliteRosterStore final : public RosterStore {
  public:
    SqliteRosterStore(WorkerThread& worker, SqliteDatabase& db) : worker_(worker), db_(db) {}

    StoreResult<Roster> loadRoster(std::string host, std::string username) override;
    StoreResult<std::optional<RosterItem>> findItem(std::string host, std::string username,
                                                    std::string jid) override;
    StoreResult<std::uint64_t> putItem(std::string host, std::string username, RosterItem item,
                                       std::size_t maxItems) override;
    StoreResult<std::uint64_t> removeItem(std::string host, std::string username, std::string jid) override;

  private:
    WorkerThread& worker_;
    SqliteDatabase& db_;
};

class SqliteOfflineStore final : public OfflineStore {
  public:
    SqliteOfflineStore(WorkerThread& worker, SqliteDatabase& db) : worker_(worker), db_(db) {}

    StoreResult<std::uint64_t> push(std::string host, std::string username, OfflineMessage message,
                                    std::size_t maxPerUser) override;
    StoreResult<std::vector<OfflineMessage>> list(std::string host, std::string username,
                                                  std::size_t limit) override;
    StoreResult<void> remove(std::string host, std::string username, std::vector<std::uint64_t> ids) override;
    StoreResult<std::size_t> count(std::string host, std::string username) override;

    // How many transactions the pushes took so far (for the group-commit test).
    std::uint64_t pushCommitsForTest() const noexcept { return pushes_.commits(); }

    struct PendingPush {
        std::string host;
        std::string username;
        OfflineMessage message;
        std::size_t maxPerUser = 0;
    };

  private:
    WorkerThread& worker_;
    SqliteDatabase& db_;
    GroupCommit<PendingPush, std::uint64_t> pushes_;
};

class SqliteBlockListStore final : public BlockListStore {
  public:
    SqliteBlockListStore(WorkerThread& worker, SqliteDatabase& db) : worker_(worker), db_(db) {}

    StoreResult<std::vector<std::string>> list(std::string host, std::string username) override;
    StoreResult<void> add(std::string host, std::string username, std::vector<std::string> jids,
                          std::size_t maxItems) override;
    StoreResult<void> remove(std::string host, std::string username, std::vector<std::string> jids) override;

  private:
    WorkerThread& worker_;
    SqliteDatabase& db_;
};

class SqlitePepStore final : public PepStore {
  public:
    SqlitePepStore(WorkerThread& worker, SqliteDatabase& db) : worker_(worker), db_(db) {}

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
    WorkerThread& worker_;
    SqliteDatabase& db_;
};

// Appends are committed in groups (docs/storage.md "Message archive"): each append queues its message
// and a job on the worker; the first of those jobs to run writes every message queued by then in one
// transaction, and the later ones find their result ready. While the worker is busy with one commit,
// the next group gathers, so a busy server costs one commit per group, not per message, and a lone
// append is committed at once.
class SqliteArchiveStore final : public ArchiveStore {
  public:
    SqliteArchiveStore(WorkerThread& worker, SqliteDatabase& db) : worker_(worker), db_(db) {}

    StoreResult<void> append(std::string host, std::string username, ArchivedMessage message,
                             std::size_t maxPerUser) override;
    StoreResult<ArchivePage> query(std::string host, std::string username, ArchiveQuery query) override;
    StoreResult<std::size_t> removeOlderThan(std::int64_t stamp) override;
    StoreResult<void> removeAll(std::string host, std::string username) override;

    // How many transactions the appends took so far (for the group-commit test and benchmark).
    std::uint64_t appendCommitsForTest() const noexcept { return appends_.commits(); }

    struct PendingAppend {
        std::string host;
        std::string username;
        ArchivedMessage message;
        std::size_t maxPerUser = 0;
    };

  private:
    // On the worker: commits a group of appends in one transaction; one outcome per append.
    std::vector<Result<void, StorageError>> commitGroup(const std::vector<PendingAppend>& group);
    // On the worker, after a group's commit: indexes a batch of messages for full-text search when
    // enough are waiting (archive_state.indexed).
    void indexTextInBackground();

    WorkerThread& worker_;
    SqliteDatabase& db_;
    GroupCommit<PendingAppend, void> appends_;
    std::int64_t indexedUpTo_ = 0;  // worker only: archive_state.indexed as last seen (a lower bound)
    std::int64_t newestSeq_ = 0;    // worker only: the seq of the last message appended
};

class SqliteStorage final : public Storage {
  public:
    // Creates the file's folder, opens the database, sets the pragmas and applies pending migrations,
    // all on the calling thread (startup), before the worker takes the connection over.
    static Result<std::unique_ptr<Storage>, OpenError> open(const StorageOptions& options);

    explicit SqliteStorage(std::unique_ptr<SqliteDatabase> db);
    ~SqliteStorage() override;

    AccountStore& accounts() override { return accounts_; }
    KeyValueStore& keyValue() override { return keyValue_; }
    RosterStore& roster() override { return roster_; }
    OfflineStore& offline() override { return offline_; }
    BlockListStore& blockList() override { return blockList_; }
    PepStore& pep() override { return pep_; }
    ArchiveStore& archive() override { return archive_; }
    void close() override;

    // For tests that change the connection (e.g. PRAGMA max_page_count to simulate a full disk): use
    // the database only from jobs run on the worker.
    WorkerThread& workerForTest() noexcept { return worker_; }
    SqliteDatabase& databaseForTest() noexcept { return *db_; }

  private:
    std::mutex closeMutex_;               // close() and the destructor may race
    std::unique_ptr<SqliteDatabase> db_;  // reset by close(), after the worker has stopped
    WorkerThread worker_;
    SqliteAccountStore accounts_{worker_, *db_};
    SqliteKeyValueStore keyValue_{worker_, *db_};
    SqliteRosterStore roster_{worker_, *db_};
    SqliteOfflineStore offline_{worker_, *db_};
    SqliteBlockListStore blockList_{worker_, *db_};
    SqlitePepStore pep_{worker_, *db_};
    SqliteArchiveStore archive_{worker_, *db_};
};

// Runs each statement (without rows, ?1 = host, ?2 = username), in the caller's transaction if any.
Result<void, StorageError> runForUser(SqliteDatabase& db, std::initializer_list<const char*> statements,
                                      const std::string& host, const std::string& username);
// Deletes a user's archive, inside the caller's transaction (removeAll, deleteAccount).
Result<void, StorageError> deleteArchiveOf(SqliteDatabase& db, const std::string& host,
                                           const std::string& username);

// Brings the schema up to date: creates schema_migrations, refuses a database newer than this binary,
// applies each missing migration in its own transaction. Exposed for the tests.
Result<void, OpenError> applySqliteMigrations(SqliteDatabase& db);

}  // namespace parley::storage
