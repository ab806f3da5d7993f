#include "sqlite/sqlite_storage.h"

#include <sqlite3.h>

#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "credentials.h"
#include "sqlite/sqlite_migrations.h"

namespace parley::storage {

namespace {

// How long a statement waits for a lock held by another process (the sqlite3 shell, a backup) before
// failing with SQLITE_BUSY, which becomes StorageError::Unavailable.
constexpr int kBusyTimeoutMilliseconds = 5000;

// The scram_credentials.algorithm column: the IANA hash names used in SCRAM mechanism names. This is
// the on-disk format, so it is spelled here rather than borrowed from libs/sasl.
std::string_view algorithmColumn(sasl::HashAlgorithm algorithm) {
    switch (algorithm) {
        case sasl::HashAlgorithm::Sha1:
            return "SHA-1";
        case sasl::HashAlgorithm::Sha256:
            return "SHA-256";
        case sasl::HashAlgorithm::Sha512:
            return "SHA-512";
    }
    return "SHA-256";  // unreachable: the switch covers the enum
}

std::optional<sasl::HashAlgorithm> algorithmFromColumn(std::string_view name) {
    if (name == "SHA-1") {
        return sasl::HashAlgorithm::Sha1;
    }
    if (name == "SHA-256") {
        return sasl::HashAlgorithm::Sha256;
    }
    if (name == "SHA-512") {
        return sasl::HashAlgorithm::Sha512;
    }
    return std::nullopt;
}

Result<void, StorageError> insertCredentials(SqliteDatabase& db, const std::string& host,
                                             const std::string& username,
                                             const std::vector<sasl::ScramCredential>& credentials) {
    for (const auto& credential : credentials) {
        auto insert = db.statement(
            "INSERT INTO scram_credentials (host, username, algorithm, salt, iterations, stored_key, "
            "server_key) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!insert) {
            return insert.error();
        }
        insert->bindText(1, host)
            .bindText(2, username)
            .bindText(3, algorithmColumn(credential.algorithm))
            .bindBlob(4, credential.salt)
            .bindInt64(5, credential.iterations)
            .bindBlob(6, credential.storedKey)
            .bindBlob(7, credential.serverKey);
        if (auto done = insert->run(); !done) {
            return done.error();
        }
    }
    return {};
}

Result<std::vector<sasl::ScramCredential>, StorageError> selectCredentials(SqliteDatabase& db,
                                                                           const std::string& host,
                                                                           const std::string& username) {
    auto select = db.statement(
        "SELECT algorithm, salt, iterations, stored_key, server_key FROM scram_credentials "
        "WHERE host = ?1 AND username = ?2");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    std::vector<sasl::ScramCredential> credentials;
    for (;;) {
        int rc = select->step();
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            return toStorageError(rc);
        }
        auto algorithm = algorithmFromColumn(select->columnText(0));
        if (!algorithm) {
            // Written by a newer parleyd that knows more hashes: this one cannot use it anyway.
            continue;
        }
        sasl::ScramCredential credential;
        credential.algorithm = *algorithm;
        credential.salt = select->columnBlob(1);
        credential.iterations = static_cast<std::uint32_t>(select->columnInt64(2));
        credential.storedKey = select->columnBlob(3);
        credential.serverKey = select->columnBlob(4);
        credentials.push_back(std::move(credential));
    }
    return normalizeCredentials(std::move(credentials));
}

Result<std::optional<std::int64_t>, StorageError> selectTombstone(SqliteDatabase& db, const std::string& host,
                                                                  const std::string& username) {
    auto select = db.statement("SELECT deleted_at FROM account_tombstones WHERE host = ?1 AND username = ?2");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    int rc = select->step();
    if (rc == SQLITE_DONE) {
        return std::optional<std::int64_t>{};
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return std::optional<std::int64_t>{select->columnInt64(0)};
}

Result<void, StorageError> deleteTombstone(SqliteDatabase& db, const std::string& host,
                                           const std::string& username) {
    auto remove = db.statement("DELETE FROM account_tombstones WHERE host = ?1 AND username = ?2");
    if (!remove) {
        return remove.error();
    }
    remove->bindText(1, host).bindText(2, username);
    if (auto done = remove->run(); !done) {
        return done.error();
    }
    if (db.changes() == 0) {
        return StorageError::NotFound;
    }
    return {};
}

// Inside a write transaction.
Result<void, StorageError> insertAccountRows(SqliteDatabase& db, const Account& account) {
    // The name of a deleted account stays taken until its tombstone is removed.
    auto tombstone = selectTombstone(db, account.host, account.username);
    if (!tombstone) {
        return tombstone.error();
    }
    if (tombstone->has_value()) {
        return StorageError::AlreadyExists;
    }
    auto insert = db.statement("INSERT INTO accounts (host, username, created_at) VALUES (?1, ?2, ?3)");
    if (!insert) {
        return insert.error();
    }
    insert->bindText(1, account.host).bindText(2, account.username).bindInt64(3, account.createdAt);
    // A PRIMARY KEY violation here is a taken user name: AlreadyExists.
    if (auto done = insert->run(); !done) {
        return done.error();
    }
    return insertCredentials(db, account.host, account.username, normalizeCredentials(account.credentials));
}

Result<void, StorageError> insertAccount(SqliteDatabase& db, const Account& account) {
    return inTransaction(db, SqliteTransaction::Mode::Write,
                         [&]() -> Result<void, StorageError> { return insertAccountRows(db, account); });
}

// One transaction for all: a commit (and its fsync) per account would make 10 000 accounts take
// minutes. The account row and its credentials are inserted together, so a taken name (whose INSERT
// fails before any credential row) leaves nothing behind.
Result<std::size_t, StorageError> insertAccounts(SqliteDatabase& db, const std::vector<Account>& accounts) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<std::size_t, StorageError> {
        std::size_t created = 0;
        for (const Account& account : accounts) {
            auto inserted = insertAccountRows(db, account);
            if (inserted) {
                ++created;
            } else if (inserted.error() != StorageError::AlreadyExists) {
                return inserted.error();
            }
        }
        return created;
    });
}

Result<std::optional<Account>, StorageError> selectAccount(SqliteDatabase& db, const std::string& host,
                                                           const std::string& username) {
    // One read transaction, so the account and its credentials come from the same snapshot.
    return inTransaction(
        db, SqliteTransaction::Mode::Read, [&]() -> Result<std::optional<Account>, StorageError> {
            auto select = db.statement("SELECT created_at FROM accounts WHERE host = ?1 AND username = ?2");
            if (!select) {
                return select.error();
            }
            select->bindText(1, host).bindText(2, username);
            int rc = select->step();
            if (rc == SQLITE_DONE) {
                return std::optional<Account>{};
            }
            if (rc != SQLITE_ROW) {
                return toStorageError(rc);
            }
            Account account;
            account.host = host;
            account.username = username;
            account.createdAt = select->columnInt64(0);
            auto credentials = selectCredentials(db, host, username);
            if (!credentials) {
                return credentials.error();
            }
            account.credentials = std::move(*credentials);
            return std::optional<Account>{std::move(account)};
        });
}

Result<bool, StorageError> accountExists(SqliteDatabase& db, const std::string& host,
                                         const std::string& username) {
    auto select = db.statement("SELECT 1 FROM accounts WHERE host = ?1 AND username = ?2");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    int rc = select->step();
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return toStorageError(rc);
}

Result<void, StorageError> replaceCredentials(SqliteDatabase& db, const std::string& host,
                                              const std::string& username,
                                              const std::vector<sasl::ScramCredential>& credentials) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        auto exists = accountExists(db, host, username);
        if (!exists) {
            return exists.error();
        }
        if (!*exists) {
            return StorageError::NotFound;
        }
        auto remove = db.statement("DELETE FROM scram_credentials WHERE host = ?1 AND username = ?2");
        if (!remove) {
            return remove.error();
        }
        remove->bindText(1, host).bindText(2, username);
        if (auto done = remove->run(); !done) {
            return done.error();
        }
        return insertCredentials(db, host, username, normalizeCredentials(credentials));
    });
}

Result<void, StorageError> removeAccount(SqliteDatabase& db, const std::string& host,
                                         const std::string& username, std::int64_t deletedAt) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        // The credentials go by ON DELETE CASCADE; the user's other data, not tied to the account row
        // (a user may keep data without a local account), by hand.
        auto removeAccountRow = db.statement("DELETE FROM accounts WHERE host = ?1 AND username = ?2");
        if (!removeAccountRow) {
            return removeAccountRow.error();
        }
        removeAccountRow->bindText(1, host).bindText(2, username);
        if (auto done = removeAccountRow->run(); !done) {
            return done.error();
        }
        if (db.changes() == 0) {
            return StorageError::NotFound;
        }
        auto removed = runForUser(db,
                                  {
                                      "DELETE FROM key_value WHERE host = ?1 AND username = ?2",
                                      "DELETE FROM roster_items WHERE host = ?1 AND username = ?2",
                                      "DELETE FROM roster_versions WHERE host = ?1 AND username = ?2",
                                      "DELETE FROM roster_tombstones WHERE host = ?1 AND username = ?2",
                                      "DELETE FROM offline_messages WHERE host = ?1 AND username = ?2",
                                      "DELETE FROM blocklist WHERE host = ?1 AND username = ?2",
                                      "DELETE FROM pep_nodes WHERE host = ?1 AND username = ?2",
                                      "DELETE FROM pep_items WHERE host = ?1 AND username = ?2",
                                  },
                                  host, username);
        if (!removed) {
            return removed.error();
        }
        if (auto archive = deleteArchiveOf(db, host, username); !archive) {
            return archive.error();
        }
        // The tombstone keeps the name taken (createAccount refuses it). None can exist for a live
        // account, but OR REPLACE keeps a hand-edited database from failing the deletion.
        auto tombstone = db.statement(
            "INSERT OR REPLACE INTO account_tombstones (host, username, deleted_at) VALUES (?1, ?2, ?3)");
        if (!tombstone) {
            return tombstone.error();
        }
        tombstone->bindText(1, host).bindText(2, username).bindInt64(3, deletedAt);
        return tombstone->run();
    });
}

Result<std::vector<std::string>, StorageError> selectUsernames(SqliteDatabase& db, const std::string& host) {
    // BINARY collation compares bytes like std::string's operator<, as the memory backend sorts.
    auto select = db.statement("SELECT username FROM accounts WHERE host = ?1 ORDER BY username");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host);
    std::vector<std::string> usernames;
    for (;;) {
        int rc = select->step();
        if (rc == SQLITE_DONE) {
            return usernames;
        }
        if (rc != SQLITE_ROW) {
            return toStorageError(rc);
        }
        usernames.push_back(select->columnText(0));
    }
}

Result<std::optional<std::string>, StorageError> selectValue(SqliteDatabase& db, const std::string& host,
                                                             const std::string& username,
                                                             const std::string& store,
                                                             const std::string& key) {
    auto select = db.statement(
        "SELECT value FROM key_value WHERE host = ?1 AND username = ?2 AND store = ?3 AND key = ?4");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username).bindText(3, store).bindText(4, key);
    int rc = select->step();
    if (rc == SQLITE_DONE) {
        return std::optional<std::string>{};
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return std::optional<std::string>{select->columnBlob(0)};
}

Result<void, StorageError> upsertValue(SqliteDatabase& db, const std::string& host,
                                       const std::string& username, const std::string& store,
                                       const std::string& key, const std::string& value) {
    auto upsert = db.statement(
        "INSERT INTO key_value (host, username, store, key, value) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (host, username, store, key) DO UPDATE SET value = excluded.value");
    if (!upsert) {
        return upsert.error();
    }
    upsert->bindText(1, host).bindText(2, username).bindText(3, store).bindText(4, key).bindBlob(5, value);
    return upsert->run();
}

Result<void, StorageError> deleteValue(SqliteDatabase& db, const std::string& host,
                                       const std::string& username, const std::string& store,
                                       const std::string& key) {
    auto remove =
        db.statement("DELETE FROM key_value WHERE host = ?1 AND username = ?2 AND store = ?3 AND key = ?4");
    if (!remove) {
        return remove.error();
    }
    remove->bindText(1, host).bindText(2, username).bindText(3, store).bindText(4, key);
    return remove->run();
}

std::string setupFailure(SqliteDatabase& db, std::string_view what, int rc) {
    return describeOpenFailure(what, db.file(), rc, db.errorMessage(), sqlite3_system_errno(db.handle()));
}

// Runs a pragma that returns its new value (journal_mode) and returns that value.
Result<std::string, OpenError> queryPragma(SqliteDatabase& db, const std::string& pragma) {
    auto statement = db.statement(pragma);
    if (!statement) {
        return OpenError{
            setupFailure(db, "cannot configure the SQLite database", sqlite3_errcode(db.handle()))};
    }
    int rc = statement->step();
    if (rc != SQLITE_ROW) {
        return OpenError{setupFailure(db, "cannot configure the SQLite database", rc)};
    }
    // In place: OpenError, an aggregate of one string, is constructible from a string too.
    return Result<std::string, OpenError>(boost::system::in_place_value, statement->columnText(0));
}

Result<void, OpenError> configure(SqliteDatabase& db, const StorageOptions& options) {
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMilliseconds);
    // WAL: readers do not block the writer, and a commit is one append to the log.
    auto journalMode = queryPragma(db, "PRAGMA journal_mode = WAL");
    if (!journalMode) {
        return journalMode.error();
    }
    if (*journalMode != "wal") {
        return OpenError{describeOpenFailure("cannot switch to write-ahead logging the SQLite database",
                                             db.file(), SQLITE_CANTOPEN, "journal_mode stays " + *journalMode,
                                             0)};
    }
    // NORMAL in WAL mode: a power loss can lose the last commits but never corrupts the database.
    // FULL also syncs the log on every commit.
    const std::string pragmas = std::string{"PRAGMA synchronous = "} +
                                (options.synchronousFull ? "FULL" : "NORMAL") +
                                "; PRAGMA foreign_keys = ON;"
                                // Checkpoints (which run inside a commit, on the worker) 10 times rarer: an
                                // index page that many groups write goes to the database file once (the WAL
                                // grows to ~40 MB; docs/benchmarks-findings/archive.md).
                                " PRAGMA wal_autocheckpoint = 10000;";
    if (int rc = db.execute(pragmas); rc != SQLITE_OK) {
        return OpenError{setupFailure(db, "cannot configure the SQLite database", rc)};
    }
    return {};
}

}  // namespace

Result<void, StorageError> runForUser(SqliteDatabase& db, std::initializer_list<const char*> statements,
                                      const std::string& host, const std::string& username) {
    for (const char* sql : statements) {
        auto statement = db.statement(sql);
        if (!statement) {
            return statement.error();
        }
        statement->bindText(1, host).bindText(2, username);
        if (auto done = statement->run(); !done) {
            return done.error();
        }
    }
    return {};
}

Result<void, OpenError> applySqliteMigrations(SqliteDatabase& db) {
    const auto migrations = sqliteMigrations();
    const int latest = migrations.back().version;
    if (int rc = db.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
        rc != SQLITE_OK) {
        return OpenError{
            setupFailure(db, "cannot create the schema_migrations table in the SQLite database", rc)};
    }

    std::set<std::int64_t> applied;
    {
        auto select = db.statement("SELECT version FROM schema_migrations ORDER BY version");
        if (!select) {
            return OpenError{setupFailure(db, "cannot read schema_migrations in the SQLite database",
                                          sqlite3_errcode(db.handle()))};
        }
        int rc = SQLITE_ROW;
        while ((rc = select->step()) == SQLITE_ROW) {
            applied.insert(select->columnInt64(0));
        }
        if (rc != SQLITE_DONE) {
            return OpenError{setupFailure(db, "cannot read schema_migrations in the SQLite database", rc)};
        }
    }
    if (!applied.empty() && *applied.rbegin() > latest) {
        return OpenError{
            "the SQLite database " + db.file().string() + " has schema version " +
            std::to_string(*applied.rbegin()) + ", but this parleyd knows versions up to " +
            std::to_string(latest) +
            ": it was written by a newer parleyd. Run that newer version, or restore a backup made "
            "with this one."};
    }

    for (const auto& migration : migrations) {
        if (applied.contains(migration.version)) {
            continue;
        }
        std::string label = std::to_string(migration.version);
        label.insert(0, label.size() < 4 ? 4 - label.size() : 0, '0');  // as in the file name: 0002_key_value
        label += "_";
        label += migration.name;
        auto failure = [&](int rc) {
            return OpenError{setupFailure(db, "migration " + label + " failed on the SQLite database", rc)};
        };
        auto transaction = SqliteTransaction::begin(db, SqliteTransaction::Mode::Write);
        if (!transaction) {
            return failure(sqlite3_extended_errcode(db.handle()));
        }
        if (int rc = db.execute(std::string{migration.sql}); rc != SQLITE_OK) {
            return failure(rc);
        }
        {
            auto record = db.statement(
                "INSERT INTO schema_migrations (version, name, applied_at) "
                "VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER))");
            if (!record) {
                return failure(sqlite3_extended_errcode(db.handle()));
            }
            record->bindInt64(1, migration.version).bindText(2, migration.name);
            if (int rc = record->step(); rc != SQLITE_DONE) {
                return failure(rc);
            }
        }
        if (auto committed = transaction->commit(); !committed) {
            return failure(sqlite3_extended_errcode(db.handle()));
        }
    }
    return {};
}

// SqliteStorage

Result<std::unique_ptr<Storage>, OpenError> SqliteStorage::open(const StorageOptions& options) {
    const auto& file = options.path;
    if (file.empty()) {
        return OpenError{
            "the SQLite storage backend needs a database file: set storage.path (e.g. \"parley.db\")"};
    }
    if (const auto folder = file.parent_path(); !folder.empty()) {
        std::error_code error;
        std::filesystem::create_directories(folder, error);
        if (error) {
            return OpenError{"cannot create the folder " + folder.string() + " for the SQLite database " +
                             file.string() + ": " + error.message() +
                             ". Create it, or let the user running parleyd write to its parent folder."};
        }
    }
    auto db = SqliteDatabase::open(file);
    if (!db) {
        return db.error();
    }
    if (auto configured = configure(**db, options); !configured) {
        return configured.error();
    }
    if (auto migrated = applySqliteMigrations(**db); !migrated) {
        return migrated.error();
    }
    return std::unique_ptr<Storage>(std::make_unique<SqliteStorage>(std::move(*db)));
}

SqliteStorage::SqliteStorage(std::unique_ptr<SqliteDatabase> db) : db_(std::move(db)) {}

SqliteStorage::~SqliteStorage() {
    close();
}

void SqliteStorage::close() {
    // Runs the jobs already queued (their callers get their results), refuses new ones with
    // Unavailable, then closes the connection, which checkpoints the WAL.
    worker_.stop();
    std::lock_guard lock(closeMutex_);
    db_.reset();
}

// SqliteAccountStore

StoreResult<void> SqliteAccountStore::createAccount(Account account) {
    return worker_.runOnWorker(
        [&db = db_, account = std::move(account)] { return insertAccount(db, account); });
}

StoreResult<std::size_t> SqliteAccountStore::createAccounts(std::vector<Account> accounts) {
    return worker_.runOnWorker(
        [&db = db_, accounts = std::move(accounts)] { return insertAccounts(db, accounts); });
}

StoreResult<std::optional<Account>> SqliteAccountStore::findAccount(std::string host, std::string username) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username)] {
        return selectAccount(db, host, username);
    });
}

StoreResult<void> SqliteAccountStore::setCredentials(std::string host, std::string username,
                                                     std::vector<sasl::ScramCredential> credentials) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                credentials = std::move(credentials)] {
        return replaceCredentials(db, host, username, credentials);
    });
}

StoreResult<void> SqliteAccountStore::deleteAccount(std::string host, std::string username,
                                                    std::int64_t deletedAt) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                deletedAt] { return removeAccount(db, host, username, deletedAt); });
}

StoreResult<std::vector<std::string>> SqliteAccountStore::listAccounts(std::string host) {
    return worker_.runOnWorker([&db = db_, host = std::move(host)] { return selectUsernames(db, host); });
}

StoreResult<std::optional<std::int64_t>> SqliteAccountStore::findTombstone(std::string host,
                                                                           std::string username) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username)] {
        return selectTombstone(db, host, username);
    });
}

StoreResult<void> SqliteAccountStore::removeTombstone(std::string host, std::string username) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username)] {
        return deleteTombstone(db, host, username);
    });
}

// SqliteKeyValueStore

StoreResult<std::optional<std::string>> SqliteKeyValueStore::get(std::string host, std::string username,
                                                                 std::string store, std::string key) {
    return worker_.runOnWorker(
        [&db = db_, host = std::move(host), username = std::move(username), store = std::move(store),
         key = std::move(key)] { return selectValue(db, host, username, store, key); });
}

StoreResult<void> SqliteKeyValueStore::set(std::string host, std::string username, std::string store,
                                           std::string key, std::string value) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                store = std::move(store), key = std::move(key), value = std::move(value)] {
        return upsertValue(db, host, username, store, key, value);
    });
}

StoreResult<void> SqliteKeyValueStore::remove(std::string host, std::string username, std::string store,
                                              std::string key) {
    return worker_.runOnWorker(
        [&db = db_, host = std::move(host), username = std::move(username), store = std::move(store),
         key = std::move(key)] { return deleteValue(db, host, username, store, key); });
}

}  // namespace parley::storage
