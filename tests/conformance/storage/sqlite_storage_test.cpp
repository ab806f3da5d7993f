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
    explicit RawDatabase(const std::filesystem::path& file) {
        if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
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
              (std::vector<std::vector<std::string>>{
                  {"accounts"}, {"key_value"}, {"schema_migrations"}, {"scram_credentials"}}));
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
    ASSERT_TRUE(run(storage->accounts().deleteAccount("example.org", "juliet")));
    storage->close();
    RawDatabase raw(file_);
    EXPECT_TRUE(raw.rows("SELECT * FROM scram_credentials").empty());
    EXPECT_TRUE(raw.rows("SELECT * FROM key_value").empty());
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
    std::ignore = co_await storage->accounts().deleteAccount("example.org", username);
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
