#pragma once
// A thin RAII layer over one SQLite connection: cached prepared statements, transactions, and the
// mapping of SQLite result codes to StorageError. Used only on the backend's worker thread (after
// open), so nothing here locks.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "parley/base/result.h"
#include "parley/storage/storage.h"

struct sqlite3;
struct sqlite3_stmt;

namespace parley::storage {

// AlreadyExists for a UNIQUE or PRIMARY KEY violation, Unavailable for everything else: I/O errors, a
// full disk, corruption, a lock held too long by another process. The caller decides what a
// constraint violation means in its context.
StorageError toStorageError(int resultCode) noexcept;

// A message for OpenError: "<what> <file>: <SQLite's message> (<OS error>). <how to fix it>".
std::string describeOpenFailure(std::string_view what, const std::filesystem::path& file, int resultCode,
                                std::string_view detail, int systemErrno);

class SqliteDatabase;

// One use of a cached prepared statement: bind, step, read columns; reset on destruction so the
// cached statement can be reused. A bind failure is remembered and returned by the next step().
class SqliteStatement {
  public:
    SqliteStatement(SqliteStatement&& other) noexcept;
    SqliteStatement& operator=(SqliteStatement&&) = delete;
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;
    ~SqliteStatement();

    // Parameter indexes start at 1, as in SQLite (?1, ?2, ...). bindText and bindBlob do not copy
    // (SQLITE_STATIC): what they point to must live until the statement is reset or destroyed. So a
    // temporary std::string does not compile (bindText(1, a + b) would be a use-after-free): name the
    // string first, or use bindTextCopy, which has SQLite copy the bytes (SQLITE_TRANSIENT).
    SqliteStatement& bindText(int index, std::string_view text);
    template <class T>
    requires std::is_same_v<T, std::string>  // an rvalue std::string (T&& is a forwarding reference)
        SqliteStatement& bindText(int index, T&& text) = delete;
    SqliteStatement& bindTextCopy(int index, std::string_view text);
    SqliteStatement& bindBlob(int index, std::string_view bytes);
    template <class T>
    requires std::is_same_v<T, std::string> SqliteStatement& bindBlob(int index, T&& bytes) = delete;
    SqliteStatement& bindInt64(int index, std::int64_t value);

    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step();
    // Steps once and expects SQLITE_DONE (a statement that returns no rows).
    Result<void, StorageError> run();

    // Column indexes start at 0.
    std::string columnText(int index);
    std::string columnBlob(int index);
    std::int64_t columnInt64(int index);

  private:
    friend class SqliteDatabase;
    explicit SqliteStatement(sqlite3_stmt* statement) : statement_(statement) {}

    sqlite3_stmt* statement_;  // owned by the database's cache
    int bindError_ = 0;        // SQLITE_OK
};

class SqliteDatabase {
  public:
    // Opens (creating if needed) the database file. On failure, the message names the file and the
    // cause, for OpenError.
    static Result<std::unique_ptr<SqliteDatabase>, OpenError> open(const std::filesystem::path& file);

    struct Passkey {  // lets only open() construct, while std::make_unique can
      private:
        friend class SqliteDatabase;
        Passkey() = default;
    };
    SqliteDatabase(Passkey, sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
    ~SqliteDatabase();
    SqliteDatabase(const SqliteDatabase&) = delete;
    SqliteDatabase& operator=(const SqliteDatabase&) = delete;

    // A prepared statement for `sql`, compiled on first use and cached for the connection's lifetime.
    // `sql` must be a single statement.
    Result<SqliteStatement, StorageError> statement(std::string_view sql);

    // Runs one or more statements without caching them (pragmas, migrations). Returns the result code.
    int execute(const std::string& sql);

    // The connection's last error message, for people.
    std::string errorMessage() const;
    std::int64_t changes() const noexcept;
    // The rowid of the last row inserted on this connection (an INTEGER PRIMARY KEY column).
    std::int64_t lastInsertRowid() const noexcept;
    sqlite3* handle() const noexcept { return db_; }
    const std::filesystem::path& file() const noexcept { return file_; }

  private:
    struct StatementDeleter {
        void operator()(sqlite3_stmt* statement) const noexcept;
    };

    sqlite3* db_;
    std::filesystem::path file_;
    // Keyed by the SQL text; declared after db_ so the statements are finalised before the close.
    std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StatementDeleter>> statements_;
};

// BEGIN on construction, ROLLBACK on destruction unless commit() succeeded.
class SqliteTransaction {
  public:
    enum class Mode : std::uint8_t { Read, Write };

    static Result<SqliteTransaction, StorageError> begin(SqliteDatabase& db, Mode mode);
    SqliteTransaction(SqliteTransaction&& other) noexcept;
    SqliteTransaction& operator=(SqliteTransaction&&) = delete;
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    ~SqliteTransaction();

    Result<void, StorageError> commit();

  private:
    explicit SqliteTransaction(SqliteDatabase& db) : db_(&db) {}

    SqliteDatabase* db_;  // null once committed, rolled back, or moved from
};

// Runs `body` (returning a Result<T, StorageError>) inside a transaction and commits if it succeeded;
// rolls back otherwise, so a failure leaves nothing half-written.
template <class Body>
auto inTransaction(SqliteDatabase& db, SqliteTransaction::Mode mode, Body body) -> decltype(body()) {
    auto transaction = SqliteTransaction::begin(db, mode);
    if (!transaction) {
        return transaction.error();
    }
    auto result = body();
    if (!result) {
        return result;
    }
    if (auto committed = transaction->commit(); !committed) {
        return committed.error();
    }
    return result;
}

// How many rows of one user `table` holds (a table with host and username columns, named by the
// caller: never user input).
Result<std::int64_t, StorageError> countUserRows(SqliteDatabase& db, std::string_view table,
                                                 const std::string& host, const std::string& username);

}  // namespace parley::storage
