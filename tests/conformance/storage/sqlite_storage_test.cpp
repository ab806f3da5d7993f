// SQLite-only cases: the database file, migrations, durability across reopening, and the threading
// contract (resume on the caller's executor).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "parley/storage/storage.h"
#include "sqlite/sqlite_database.h"
#include "sqlite/sqlite_migrations.h"
#include "sqlite/sqlite_storage.h"
#include "test_support.h"

namespace parley::storage::test {
namespace {

// Reads the database behind the backend's back, with the sqlite3 C API.
class RawDatabase {
  public:
    explicit RawDatabase(const std::filesystem::path& file, int flags = SQLITE_OPEN_READWRITE) {
        if (sqlite3_open_v2(file.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
            throw std::runtime_error("cannot open " + file.string() + " for the test");
        }
    }
    ~RawDatabase() { sqlite3_close_v2(db_); }
    RawDatabase(const RawDatabase&) = delete;
    RawDatabase& operator=(const RawDatabase&) = delete;

    void execute(const std::string& sql) {
        char* error = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            std::string message = error != nullptr ? error : "?";
            sqlite3_free(error);
            throw std::runtime_error(sql + ": " + message);
        }
    }

    // Every row, each column as text.
    std::vector<std::vector<std::string>> rows(const std::string& sql) {
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
        std::vector<std::vector<std::string>> result;
        while (sqlite3_step(statement) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int i = 0; i < sqlite3_column_count(statement); ++i) {
                const auto* text = sqlite3_column_text(statement, i);
                row.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
            }
            result.push_back(std::move(row));
        }
        sqlite3_finalize(statement);
        return result;
    }

  private:
    sqlite3* db_ = nullptr;
};

Account account(std::string host, std::string username) {
    Account result;
    result.host = std::move(host);
    result.username = std::move(username);
    result.createdAt = 1700000000;
    sasl::ScramCredential credential;
    credential.salt = "salt";
    credential.iterations = 4096;
    credential.storedKey = std::string(32, 's');
    credential.serverKey = std::string(32, 'k');
    result.credentials = {credential};
    return result;
}

RosterItem rosterItem(std::string jid) {
    RosterItem item;
    item.jid = std::move(jid);
    return item;
}

OfflineMessage offlineMessage(std::string xml) {
    OfflineMessage message;
    message.storedAt = 1700000000000;
    message.xml = std::move(xml);
    return message;
}

class SqliteStorageTest : public ::testing::Test {
  protected:
    StorageOptions options() const { return {.backend = "sqlite", .path = file_}; }
    std::unique_ptr<Storage> open() { return openOrThrow(options()); }
    template <class T>
    T run(asio::awaitable<T> task) {
        return runSync(io_, std::move(task));
    }

    TempDir dir_;
    std::filesystem::path file_ = dir_.path() / "parley.db";
    asio::io_context io_;
};

TEST_F(SqliteStorageTest, MigrationsAreAppliedInOrderAndRecorded) {
    open()->close();
    RawDatabase raw(file_);
    const auto rows =
        raw.rows("SELECT version, name, applied_at > 0 FROM schema_migrations ORDER BY version");
    const auto migrations = sqliteMigrations();
    ASSERT_EQ(rows.size(), migrations.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(rows[i][0], std::to_string(i + 1));
        EXPECT_EQ(rows[i][1], migrations[i].name);
        EXPECT_EQ(rows[i][2], "1");
    }
    EXPECT_EQ(raw.rows("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"),
              (std::vector<std::vector<std::string>>{{"account_tombstones"},
                                                     {"accounts"},
                                                     {"archive"},
                                                     {"archive_owners"},
                                                     {"archive_state"},
                                                     {"archive_text"},  // FTS5 and its shadow tables
                                                     {"archive_text_config"},
                                                     {"archive_text_data"},
                                                     {"archive_text_docsize"},
                                                     {"archive_text_idx"},
                                                     {"blocklist"},
                                                     {"key_value"},
                                                     {"offline_messages"},
                                                     {"pep_items"},
                                                     {"pep_nodes"},
                                                     {"roster_items"},
                                                     {"roster_tombstones"},
                                                     {"roster_versions"},
                                                     {"schema_migrations"},
                                                     {"scram_credentials"},
                                                     {"sqlite_sequence"}}));  // AUTOINCREMENT's counters
}

// Migration 0012 (integer archive owners, batched full-text index) keeps every archived message of a
// database at 0011: its id, order, stamps, counts and full-text search, and new messages come after.
TEST_F(SqliteStorageTest, ArchivesOfAnOlderSchemaAreKeptAndStayQueryable) {
    {
        RawDatabase raw(file_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        raw.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at "
            "INTEGER NOT NULL)");
        for (const auto& migration : sqliteMigrations()) {
            if (migration.version > 11)
                break;
            raw.execute("BEGIN; " + std::string(migration.sql) + "; INSERT INTO schema_migrations VALUES (" +
                        std::to_string(migration.version) + ", '" + std::string(migration.name) +
                        "', 1); COMMIT");
        }
        raw.execute(
            "INSERT INTO archive (host, username, id, stamp, with_bare, with_resource, xml, body) VALUES "
            "('example.org', 'juliet', 'old-1', 1000, 'romeo@example.org', 'r', '<message/>', 'wherefore art "
            "thou'), "
            "('example.org', 'romeo', 'old-2', 2000, 'juliet@example.org', '', '<message/>', 'orchard "
            "walls'), "
            "('example.org', 'juliet', 'old-3', 3000, 'nurse@example.org', '', '<message/>', 'the orchard')");
    }
    auto storage = open();
    auto page = [&](const std::string& user, ArchiveQuery query) {
        auto found = run(storage->archive().query("example.org", user, std::move(query)));
        EXPECT_TRUE(found);
        return found ? *found : ArchivePage{};
    };
    auto ids = [&](const std::string& user, ArchiveQuery query) {
        std::vector<std::string> result;
        for (const auto& message : page(user, std::move(query)).messages)
            result.push_back(message.id);
        return result;
    };
    using Ids = std::vector<std::string>;
    const auto juliet = page("juliet", {.max = 10});
    ASSERT_EQ(juliet.messages.size(), 2u);
    EXPECT_EQ(juliet.count, 2u);
    EXPECT_EQ(juliet.messages[0].id, "old-1");
    EXPECT_EQ(juliet.messages[0].stamp, 1000);
    EXPECT_EQ(juliet.messages[0].withResource, "r");
    EXPECT_EQ(juliet.messages[1].id, "old-3");
    EXPECT_EQ(ids("juliet", {.text = "orchard", .max = 10}), Ids{"old-3"});  // romeo's is in his archive
    EXPECT_EQ(ids("romeo", {.max = 10}), Ids{"old-2"});
    const auto next = page("juliet", {.after = "old-1", .max = 10});
    EXPECT_EQ(next.messages.size(), 1u);
    EXPECT_EQ(next.firstIndex, 1u);
    EXPECT_EQ(ids("juliet", {.start = 2000, .end = 3000, .max = 10}), Ids{"old-3"});
    // A taken id is still taken; a new message comes after the old ones.
    ArchivedMessage fresh{.id = "old-3", .stamp = 4000, .with = "romeo@example.org", .xml = "<message/>"};
    auto taken = run(storage->archive().append("example.org", "juliet", fresh, 0));
    ASSERT_FALSE(taken);
    EXPECT_EQ(taken.error(), StorageError::AlreadyExists);
    fresh.id = "new-1";
    ASSERT_TRUE(run(storage->archive().append("example.org", "juliet", fresh, 0)));
    const auto newest = page("juliet", {.before = "", .max = 1});
    EXPECT_EQ(newest.count, 3u);
    ASSERT_EQ(newest.messages.size(), 1u);
    EXPECT_EQ(newest.messages[0].id, "new-1");
    storage->close();
    EXPECT_EQ(RawDatabase(file_).rows("SELECT count(*) FROM archive_owners"),
              (std::vector<std::vector<std::string>>{{"2"}}));
}

// Full-text indexing runs in batches behind archive_state.indexed: a removal of messages on either side
// of the watermark keeps the index exact, and a search first indexes what is left.
TEST_F(SqliteStorageTest, FullTextIndexBatchesStayExactAcrossRemovals) {
    constexpr int kMessages = 9000;  // more than one background batch (8192)
    auto storage = open();
    int appended = 0;
    for (int i = 0; i < kMessages; ++i) {
        ArchivedMessage message{.id = "m" + std::to_string(i),
                                .stamp = 1000 * static_cast<std::int64_t>(i + 1),
                                .with = "romeo@example.org",
                                .xml = "<message/>",
                                .text = i % 2 == 0 ? "alpha" : "beta"};
        asio::co_spawn(io_, storage->archive().append("example.org", "juliet", std::move(message), 0),
                       [&appended](std::exception_ptr error, Result<void, StorageError> result) {
                           if (!error && result)
                               ++appended;
                       });
    }
    io_.run();
    ASSERT_EQ(appended, kMessages);
    const auto indexed = std::stoll(RawDatabase(file_).rows("SELECT indexed FROM archive_state")[0][0]);
    EXPECT_GE(indexed, 8192);  // a background batch ran, without any search
    EXPECT_LT(indexed, kMessages);
    // m0..m8499 go: indexed ones and, past the watermark, ones not indexed yet.
    auto removed = run(storage->archive().removeOlderThan(1000 * 8501));
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, 8500u);
    ArchiveQuery search{.max = 1000};
    search.text = "alpha";
    auto found = run(storage->archive().query("example.org", "juliet", search));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->count, 250u);
    ASSERT_FALSE(found->messages.empty());
    EXPECT_EQ(found->messages.front().id, "m8500");
    storage->close();
    RawDatabase raw(file_);
    EXPECT_EQ(raw.rows("SELECT indexed = (SELECT max(seq) FROM archive) FROM archive_state"),
              (std::vector<std::vector<std::string>>{{"1"}}));
    // The index holds no entry of a removed message.
    EXPECT_EQ(raw.rows("SELECT count(*) FROM archive_text WHERE archive_text MATCH 'alpha'"),
              (std::vector<std::vector<std::string>>{{"250"}}));
    raw.execute("INSERT INTO archive_text (archive_text) VALUES ('integrity-check')");
}

// Offline messages are group-committed like the archive's appends (docs/storage.md "Offline
// messages"): pushes queued while the worker is busy share one transaction, each caller gets its own
// id, and a push over the quota fails alone.
TEST_F(SqliteStorageTest, OfflinePushesQueuedWhileTheWorkerIsBusyShareOneTransaction) {
    auto storage = open();
    auto& sqlite = dynamic_cast<SqliteStorage&>(*storage);
    auto& offline = dynamic_cast<SqliteOfflineStore&>(storage->offline());
    std::promise<void> release;
    auto released = release.get_future().share();
    auto blocker =
        asio::co_spawn(io_, sqlite.workerForTest().runOnWorker([released]() -> Result<void, StorageError> {
            released.wait();
            return {};
        }),
                       asio::use_future);
    std::vector<std::uint64_t> ids;
    int overQuota = 0;
    for (int i = 0; i < 11; ++i) {
        // romeo's quota is 10: the 11th push is over it.
        asio::co_spawn(
            io_, offline.push("example.org", "romeo", offlineMessage("<m" + std::to_string(i) + "/>"), 10),
            [&](std::exception_ptr error, Result<std::uint64_t, StorageError> pushed) {
                if (error)
                    return;
                if (pushed)
                    ids.push_back(*pushed);
                else if (pushed.error() == StorageError::QuotaExceeded)
                    ++overQuota;
            });
    }
    io_.poll();  // every push is queued, waiting for the worker
    const auto before = offline.pushCommitsForTest();
    release.set_value();
    io_.restart();
    io_.run();
    blocker.get();
    EXPECT_EQ(offline.pushCommitsForTest() - before, 1u);
    EXPECT_EQ(ids.size(), 10u);
    EXPECT_EQ(overQuota, 1);
    EXPECT_EQ(std::set<std::uint64_t>(ids.begin(), ids.end()).size(), 10u);  // each its own id
    auto listed = run(storage->offline().list("example.org", "romeo", 0));
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 10u);
    EXPECT_EQ(listed->front().xml, "<m0/>");  // in the order pushed
    EXPECT_EQ(listed->back().xml, "<m9/>");
}

TEST_F(SqliteStorageTest, ReopeningAppliesNothing) {
    open()->close();
    const std::string query = "SELECT version, name, applied_at FROM schema_migrations ORDER BY version";
    const auto before = RawDatabase(file_).rows(query);
    auto storage = open();
    storage->close();
    EXPECT_EQ(RawDatabase(file_).rows(query), before);
}

TEST_F(SqliteStorageTest, PragmasAreSetForDurability) {
    open()->close();
    // journal_mode is stored in the file; synchronous and foreign_keys are per connection, so they
    // are checked through their effects in the other cases (cascade on delete).
    EXPECT_EQ(RawDatabase(file_).rows("PRAGMA journal_mode"),
              (std::vector<std::vector<std::string>>{{"wal"}}));
    auto full = openStorage({.backend = "sqlite", .path = file_, .synchronousFull = true});
    ASSERT_TRUE(full) << full.error().message;
    (*full)->close();
}

TEST_F(SqliteStorageTest, ReopeningKeepsTheData) {
    {
        auto storage = open();
        ASSERT_TRUE(run(storage->accounts().createAccount(account("example.org", "juliet"))));
        ASSERT_TRUE(run(storage->keyValue().set("example.org", "juliet", "private", "k", "v")));
        // No close(): the destructor closes.
    }
    auto storage = open();
    auto found = run(storage->accounts().findAccount("example.org", "juliet"));
    ASSERT_TRUE(found && found->has_value());
    EXPECT_EQ((*found)->credentials, account("example.org", "juliet").credentials);
    auto value = run(storage->keyValue().get("example.org", "juliet", "private", "k"));
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, "v");
}

TEST_F(SqliteStorageTest, DeletingAnAccountCascadesToItsCredentialRows) {
    auto storage = open();
    ASSERT_TRUE(run(storage->accounts().createAccount(account("example.org", "juliet"))));
    ASSERT_TRUE(run(storage->keyValue().set("example.org", "juliet", "private", "k", "v")));
    ASSERT_TRUE(run(storage->roster().putItem("example.org", "juliet", rosterItem("a@example.com"), 0)));
    ASSERT_TRUE(run(storage->roster().putItem("example.org", "juliet", rosterItem("b@example.com"), 0)));
    ASSERT_TRUE(run(storage->roster().removeItem("example.org", "juliet", "b@example.com")));
    ASSERT_TRUE(run(storage->offline().push("example.org", "juliet", offlineMessage("<message/>"), 0)));
    ASSERT_TRUE(run(storage->blockList().add("example.org", "juliet", {"c@example.com"}, 0)));
    ASSERT_TRUE(run(storage->accounts().deleteAccount("example.org", "juliet", 1800000000)));
    storage->close();
    RawDatabase raw(file_);
    for (const char* table : {"accounts", "scram_credentials", "key_value", "roster_items", "roster_versions",
                              "roster_tombstones", "offline_messages", "blocklist"}) {
        EXPECT_TRUE(raw.rows(std::string{"SELECT * FROM "} + table).empty()) << table;
    }
    // Only the name's tombstone is left, written in the same transaction.
    EXPECT_EQ(raw.rows("SELECT host, username, deleted_at FROM account_tombstones"),
              (std::vector<std::vector<std::string>>{{"example.org", "juliet", "1800000000"}}));
}

TEST_F(SqliteStorageTest, TombstonesSurviveReopening) {
    {
        auto storage = open();
        ASSERT_TRUE(run(storage->accounts().createAccount(account("example.org", "juliet"))));
        ASSERT_TRUE(run(storage->accounts().deleteAccount("example.org", "juliet", 1800000000)));
    }
    auto storage = open();
    auto tombstone = run(storage->accounts().findTombstone("example.org", "juliet"));
    ASSERT_TRUE(tombstone);
    EXPECT_EQ(*tombstone, std::optional<std::int64_t>{1800000000});
    auto created = run(storage->accounts().createAccount(account("example.org", "juliet")));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error(), StorageError::AlreadyExists);
}

TEST_F(SqliteStorageTest, ReopeningKeepsRostersOfflineMessagesAndBlockLists) {
    RosterItem romeo = rosterItem("romeo@example.net");
    romeo.name = "Rom\xc3\xa9o";
    romeo.groups = {"Friends", "", "two\nlines"};
    romeo.subscription = Subscription::From;
    romeo.pendingIn = true;
    romeo.askOut = true;
    romeo.preApproved = true;
    romeo.listed = false;
    romeo.pendingInStanza = "<presence type='subscribe'/>";
    std::uint64_t firstId = 0;
    {
        auto storage = open();
        ASSERT_TRUE(run(storage->roster().putItem("example.org", "juliet", romeo, 0)));
        ASSERT_TRUE(
            run(storage->roster().putItem("example.org", "juliet", rosterItem("nurse@example.org"), 0)));
        ASSERT_TRUE(run(storage->roster().removeItem("example.org", "juliet", "nurse@example.org")));
        auto id =
            run(storage->offline().push("example.org", "juliet", offlineMessage("<message id='1'/>"), 0));
        ASSERT_TRUE(id);
        firstId = *id;
        ASSERT_TRUE(
            run(storage->offline().push("example.org", "juliet", offlineMessage("<message id='2'/>"), 0)));
        ASSERT_TRUE(run(storage->offline().remove("example.org", "juliet", {firstId})));
        ASSERT_TRUE(run(storage->blockList().add("example.org", "juliet", {"tybalt@example.com"}, 0)));
        // No close(): the destructor closes.
    }
    auto storage = open();
    auto roster = run(storage->roster().loadRoster("example.org", "juliet"));
    ASSERT_TRUE(roster);
    EXPECT_EQ(roster->version, 3u);
    ASSERT_EQ(roster->items.size(), 1u);
    const RosterItem& found = roster->items[0];
    EXPECT_EQ(found.jid, romeo.jid);
    EXPECT_EQ(found.name, romeo.name);
    EXPECT_EQ(found.groups, romeo.groups);
    EXPECT_EQ(found.subscription, Subscription::From);
    EXPECT_TRUE(found.askOut && found.pendingIn && found.preApproved);
    EXPECT_FALSE(found.listed);
    EXPECT_EQ(found.pendingInStanza, romeo.pendingInStanza);
    EXPECT_EQ(found.version, 1u);
    EXPECT_EQ(roster->removed,
              (std::vector<std::pair<std::string, std::uint64_t>>{{"nurse@example.org", 3}}));
    // The next change continues from the stored version.
    auto next = run(storage->roster().putItem("example.org", "juliet", rosterItem("nurse@example.org"), 0));
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, 4u);

    auto messages = run(storage->offline().list("example.org", "juliet", 0));
    ASSERT_TRUE(messages);
    ASSERT_EQ(messages->size(), 1u);
    EXPECT_EQ((*messages)[0].xml, "<message id='2'/>");
    // Ids are not reused across a restart either.
    auto id = run(storage->offline().push("example.org", "juliet", offlineMessage("<message id='3'/>"), 0));
    ASSERT_TRUE(id);
    EXPECT_GT(*id, (*messages)[0].id);

    auto blocked = run(storage->blockList().list("example.org", "juliet"));
    ASSERT_TRUE(blocked);
    EXPECT_EQ(*blocked, std::vector<std::string>{"tybalt@example.com"});
}

TEST_F(SqliteStorageTest, RosterColumnsAreInTheDocumentedFormat) {
    // docs/storage.md and 0003_roster.sql: each group escaped and followed by a line feed; the
    // subscription 0 none, 1 to, 2 from, 3 both; flags 0 or 1.
    auto storage = open();
    RosterItem item = rosterItem("romeo@example.net");
    item.groups = {"a", "", "b\nc\\d"};
    item.subscription = Subscription::Both;
    item.preApproved = true;
    ASSERT_TRUE(run(storage->roster().putItem("example.org", "juliet", item, 0)));
    storage->close();
    EXPECT_EQ(
        RawDatabase(file_).rows("SELECT hex(groups), subscription, ask_out, pending_in, pre_approved, "
                                "listed, version FROM roster_items"),
        (std::vector<std::vector<std::string>>{{"610A0A625C6E635C5C640A", "3", "0", "0", "1", "1", "1"}}));
}

TEST_F(SqliteStorageTest, NoPasswordIsStored) {
    auto storage = open();
    ASSERT_TRUE(run(storage->accounts().createAccount(account("example.org", "juliet"))));
    storage->close();
    const auto columns = RawDatabase(file_).rows("SELECT name FROM pragma_table_info('scram_credentials')");
    for (const auto& column : columns) {
        EXPECT_EQ(column[0].find("password"), std::string::npos) << column[0];
    }
}

TEST_F(SqliteStorageTest, DatabaseFromANewerParleydIsRefused) {
    open()->close();
    RawDatabase(file_).execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)");
    auto storage = openStorage(options());
    ASSERT_FALSE(storage);
    const auto& message = storage.error().message;
    EXPECT_NE(message.find(file_.string()), std::string::npos) << message;
    EXPECT_NE(message.find("9999"), std::string::npos) << message;
    EXPECT_NE(message.find("newer"), std::string::npos) << message;
}

TEST_F(SqliteStorageTest, MissingFoldersAreCreated) {
    const auto nested = dir_.path() / "a" / "b" / "parley.db";
    auto storage = openStorage({.backend = "sqlite", .path = nested});
    ASSERT_TRUE(storage) << storage.error().message;
    (*storage)->close();
    EXPECT_TRUE(std::filesystem::exists(nested));
}

TEST_F(SqliteStorageTest, FolderThatCannotBeCreatedIsAClearOpenError) {
    // A regular file where a folder should be: fails even for root.
    std::ofstream(dir_.path() / "blocker") << "not a folder";
    const auto file = dir_.path() / "blocker" / "var" / "parley.db";
    auto storage = openStorage({.backend = "sqlite", .path = file});
    ASSERT_FALSE(storage);
    const auto& message = storage.error().message;
    EXPECT_NE(message.find("cannot create the folder"), std::string::npos) << message;
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
}

TEST_F(SqliteStorageTest, PathThatIsAFolderIsAClearOpenError) {
    std::filesystem::create_directory(file_);
    auto storage = openStorage(options());
    ASSERT_FALSE(storage);
    const auto& message = storage.error().message;
    EXPECT_NE(message.find("cannot open the SQLite database " + file_.string()), std::string::npos)
        << message;
    EXPECT_NE(message.find("read and write"), std::string::npos) << message;  // the hint: what to check
}

TEST_F(SqliteStorageTest, FileThatIsNotADatabaseIsAClearOpenError) {
    std::ofstream(file_) << std::string(4096, 'x');
    auto storage = openStorage(options());
    ASSERT_FALSE(storage);
    const auto& message = storage.error().message;
    EXPECT_NE(message.find(file_.string()), std::string::npos) << message;
    EXPECT_NE(message.find("backup"), std::string::npos) << message;
}

TEST_F(SqliteStorageTest, ReadOnlyFileIsAClearOpenError) {
    if (geteuid() == 0) {
        GTEST_SKIP() << "root may write a read-only file";
    }
    open()->close();
    std::filesystem::permissions(file_, std::filesystem::perms::owner_read);
    auto storage = openStorage(options());
    ASSERT_FALSE(storage);
    const auto& message = storage.error().message;
    EXPECT_NE(message.find(file_.string()), std::string::npos) << message;
    EXPECT_NE(message.find("read-only"), std::string::npos) << message;
    EXPECT_NE(message.find("writable"), std::string::npos) << message;
}

TEST_F(SqliteStorageTest, UnwritableFolderIsAClearOpenError) {
    if (geteuid() == 0) {
        GTEST_SKIP() << "root may write an unwritable folder";
    }
    const auto folder = dir_.path() / "locked";
    std::filesystem::create_directory(folder);
    std::filesystem::permissions(folder,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    auto storage = openStorage({.backend = "sqlite", .path = folder / "parley.db"});
    ASSERT_FALSE(storage);
    const auto& message = storage.error().message;
    EXPECT_NE(message.find((folder / "parley.db").string()), std::string::npos) << message;
    EXPECT_NE(message.find("read and write"), std::string::npos) << message;
}

TEST_F(SqliteStorageTest, EmptyPathIsAClearOpenError) {
    auto storage = openStorage({.backend = "sqlite"});
    ASSERT_FALSE(storage);
    EXPECT_NE(storage.error().message.find("storage.path"), std::string::npos) << storage.error().message;
}

TEST(SqliteErrorMapping, ConstraintIsAlreadyExistsAndEverythingElseUnavailable) {
    EXPECT_EQ(toStorageError(SQLITE_CONSTRAINT_PRIMARYKEY), StorageError::AlreadyExists);
    EXPECT_EQ(toStorageError(SQLITE_CONSTRAINT_UNIQUE), StorageError::AlreadyExists);
    for (int code : {SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC, SQLITE_CANTOPEN,
                     SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_BUSY, SQLITE_READONLY, SQLITE_NOMEM}) {
        EXPECT_EQ(toStorageError(code), StorageError::Unavailable) << sqlite3_errstr(code);
    }
}

// bindText does not copy: binding a temporary std::string must not compile (it would dangle by the
// time the statement steps), while names, views and literals do.
template <class Text>
concept BindableText = requires(SqliteStatement& statement, Text&& text) {
    statement.bindText(1, std::forward<Text>(text));
};
static_assert(!BindableText<std::string>, "bindText(1, a + b) would bind freed memory");
static_assert(!BindableText<std::string&&>);
static_assert(BindableText<std::string&>);
static_assert(BindableText<const std::string&>);
static_assert(BindableText<std::string_view>);
static_assert(BindableText<const char (&)[4]>);

TEST_F(SqliteStorageTest, BindTextCopyKeepsATemporaryThatIsGoneBeforeTheStep) {
    auto storage = open();
    auto* sqlite = dynamic_cast<SqliteStorage*>(storage.get());
    ASSERT_NE(sqlite, nullptr);
    auto read = run(sqlite->workerForTest().runOnWorker(
        [db = &sqlite->databaseForTest()]() -> Result<std::string, StorageError> {
            auto select = db->statement("SELECT ?1 || ?2");
            if (!select)
                return select.error();
            {
                std::string first = "temporary " + std::string(64, 'a');
                select->bindTextCopy(1, first);
                first.assign(first.size(), 'z');  // what SQLITE_STATIC would now read
            }
            select->bindTextCopy(2, std::string("!") + "?");
            if (select->step() != SQLITE_ROW)
                return StorageError::Unavailable;
            return select->columnText(0);
        }));
    ASSERT_TRUE(read);
    EXPECT_EQ(*read, "temporary " + std::string(64, 'a') + "!?");
}

TEST_F(SqliteStorageTest, FullDiskIsUnavailableAndLeavesNoHalfWrittenAccount) {
    auto storage = open();
    auto* sqlite = dynamic_cast<SqliteStorage*>(storage.get());
    ASSERT_NE(sqlite, nullptr);
    // The database may not grow past its current size: the next page it needs fails with SQLITE_FULL.
    auto limited = run(sqlite->workerForTest().runOnWorker([db = &sqlite->databaseForTest()] {
        return db->execute("PRAGMA max_page_count = 1") == SQLITE_OK ? Result<void, StorageError>{}
                                                                     : StorageError::Unavailable;
    }));
    ASSERT_TRUE(limited);

    auto stored = run(storage->keyValue().set("example.org", "juliet", "s", "k", std::string(1 << 20, 'x')));
    ASSERT_FALSE(stored);
    EXPECT_EQ(stored.error(), StorageError::Unavailable);

    // The account row would fit, its large credential would not: nothing of it stays.
    Account big = account("example.org", "romeo");
    big.credentials[0].salt = std::string(1 << 20, 's');
    auto created = run(storage->accounts().createAccount(big));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error(), StorageError::Unavailable);
    auto found = run(storage->accounts().findAccount("example.org", "romeo"));
    ASSERT_TRUE(found);
    EXPECT_EQ(*found, std::nullopt);
}

TEST_F(SqliteStorageTest, FullDiskMakesWritesUnavailableAndChangesNothing) {
    auto storage = open();
    auto* sqlite = dynamic_cast<SqliteStorage*>(storage.get());
    ASSERT_NE(sqlite, nullptr);
    ASSERT_TRUE(run(storage->roster().putItem("example.org", "juliet", rosterItem("romeo@example.net"), 0)));
    auto setMaxPageCount = [&](int pages) {
        return run(sqlite->workerForTest().runOnWorker([db = &sqlite->databaseForTest(), pages] {
            return db->execute("PRAGMA max_page_count = " + std::to_string(pages)) == SQLITE_OK
                       ? Result<void, StorageError>{}
                       : StorageError::Unavailable;
        }));
    };
    ASSERT_TRUE(setMaxPageCount(1));  // no page beyond the current size

    // An offline message that was not stored must not look stored: the sender would lose it.
    auto pushed =
        run(storage->offline().push("example.org", "juliet", offlineMessage(std::string(1 << 20, 'x')), 0));
    ASSERT_FALSE(pushed);
    EXPECT_EQ(pushed.error(), StorageError::Unavailable);
    auto counted = run(storage->offline().count("example.org", "juliet"));
    ASSERT_TRUE(counted);
    EXPECT_EQ(*counted, 0u);

    // The version bump and the item go together, or not at all.
    RosterItem big = rosterItem("nurse@example.org");
    big.pendingInStanza = std::string(1 << 20, 'p');
    auto put = run(storage->roster().putItem("example.org", "juliet", big, 0));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error(), StorageError::Unavailable);
    auto roster = run(storage->roster().loadRoster("example.org", "juliet"));
    ASSERT_TRUE(roster);
    EXPECT_EQ(roster->version, 1u);
    EXPECT_EQ(roster->items.size(), 1u);

    std::vector<std::string> many;
    for (int i = 0; i < 20000; ++i) {
        many.push_back("blocked" + std::to_string(i) + "@example.com");
    }
    auto added = run(storage->blockList().add("example.org", "juliet", many, 0));
    ASSERT_FALSE(added);
    EXPECT_EQ(added.error(), StorageError::Unavailable);
    auto blocked = run(storage->blockList().list("example.org", "juliet"));
    ASSERT_TRUE(blocked);
    EXPECT_TRUE(blocked->empty());

    // Once there is room again, the same connection works.
    ASSERT_TRUE(setMaxPageCount(1 << 30));
    pushed =
        run(storage->offline().push("example.org", "juliet", offlineMessage(std::string(1 << 20, 'x')), 0));
    ASSERT_TRUE(pushed) << toString(pushed.error());
    counted = run(storage->offline().count("example.org", "juliet"));
    ASSERT_TRUE(counted);
    EXPECT_EQ(*counted, 1u);
}

asio::awaitable<Result<void, StorageError>> setValue(Storage* storage, int index) {
    co_return co_await storage->keyValue().set("example.org", "juliet", "s", std::to_string(index), "v");
}

TEST_F(SqliteStorageTest, CloseFinishesQueuedWork) {
    constexpr int kCalls = 50;
    auto storage = open();
    std::vector<std::future<Result<void, StorageError>>> results;
    for (int i = 0; i < kCalls; ++i) {
        results.push_back(asio::co_spawn(io_, setValue(storage.get(), i), asio::use_future));
    }
    io_.poll();        // every coroutine starts and hands its call to the worker
    storage->close();  // runs all of them before closing
    io_.run();         // the callers resume
    for (auto& result : results) {
        EXPECT_TRUE(result.get());
    }
    storage = open();
    for (int i = 0; i < kCalls; ++i) {
        auto value = run(storage->keyValue().get("example.org", "juliet", "s", std::to_string(i)));
        ASSERT_TRUE(value);
        EXPECT_EQ(*value, "v");
    }
}

// Counts the calls that resumed on another thread than the one the coroutine started on.
asio::awaitable<int> callsResumedElsewhere(Storage* storage, asio::io_context* io, std::string username) {
    const auto executor = io->get_executor();
    const auto self = std::this_thread::get_id();
    int elsewhere = 0;
    auto check = [&] {
        if (std::this_thread::get_id() != self || !executor.running_in_this_thread()) {
            ++elsewhere;
        }
    };
    std::ignore = co_await storage->accounts().createAccount(account("example.org", username));
    check();
    std::ignore = co_await storage->accounts().findAccount("example.org", username);
    check();
    std::ignore = co_await storage->keyValue().set("example.org", username, "s", "k", "v");
    check();
    std::ignore = co_await storage->keyValue().get("example.org", username, "s", "k");
    check();
    std::ignore = co_await storage->accounts().listAccounts("example.org");
    check();
    std::ignore = co_await storage->accounts().deleteAccount("example.org", username, 1800000000);
    check();
    co_return elsewhere;
}

TEST_F(SqliteStorageTest, CallersResumeOnTheirOwnExecutor) {
    auto storage = open();
    // Two event loops on two threads share the storage, as the server's network threads do.
    asio::io_context first;
    asio::io_context second;
    auto firstResult =
        asio::co_spawn(first, callsResumedElsewhere(storage.get(), &first, "juliet"), asio::use_future);
    auto secondResult =
        asio::co_spawn(second, callsResumedElsewhere(storage.get(), &second, "romeo"), asio::use_future);
    std::thread firstThread([&] { first.run(); });
    std::thread secondThread([&] { second.run(); });
    firstThread.join();
    secondThread.join();
    EXPECT_EQ(firstResult.get(), 0);
    EXPECT_EQ(secondResult.get(), 0);
}

}  // namespace
}  // namespace parley::storage::test
