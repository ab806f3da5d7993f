#include "sqlite/sqlite_database.h"

#include <sqlite3.h>

#include <cassert>
#include <cstring>
#include <utility>

namespace parley::storage {

StorageError toStorageError(int resultCode) noexcept {
    switch (resultCode) {
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_UNIQUE:
            return StorageError::AlreadyExists;
        default:
            // SQLITE_FULL, SQLITE_IOERR_*, SQLITE_CANTOPEN, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_BUSY,
            // SQLITE_NOMEM, SQLITE_READONLY...: the backend cannot serve the request now.
            return StorageError::Unavailable;
    }
}

namespace {

std::string_view hintFor(int resultCode) {
    switch (resultCode & 0xff) {
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_AUTH:
            return "Check that the file's folder exists and that the user running parleyd may read and write "
                   "both the folder and the file.";
        case SQLITE_READONLY:
            return "Make the file and its folder writable by the user running parleyd (SQLite also writes "
                   "the "
                   "-wal and -shm files next to it).";
        case SQLITE_FULL:
            return "Free some disk space on that file system.";
        case SQLITE_IOERR:
            return "Check the disk and the file system (dmesg may tell more).";
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return "The file is not a usable Parley database: restore it from a backup, or set storage.path "
                   "to "
                   "another file.";
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return "Another process holds the database locked: stop it (is another parleyd running?).";
        default:
            return "";
    }
}

}  // namespace

std::string describeOpenFailure(std::string_view what, const std::filesystem::path& file, int resultCode,
                                std::string_view detail, int systemErrno) {
    std::string message{what};
    message += " ";
    message += file.string();
    message += ": ";
    message += detail.empty() ? std::string_view{sqlite3_errstr(resultCode)} : detail;
    if (systemErrno != 0) {
        message += " (";
        message += std::strerror(systemErrno);
        message += ")";
    }
    message += ".";
    if (auto hint = hintFor(resultCode); !hint.empty()) {
        message += " ";
        message += hint;
    }
    return message;
}

// SqliteStatement

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : statement_(std::exchange(other.statement_, nullptr)), bindError_(other.bindError_) {}

SqliteStatement::~SqliteStatement() {
    if (statement_ != nullptr) {
        sqlite3_reset(statement_);
        sqlite3_clear_bindings(statement_);
    }
}

namespace {
// A null pointer would bind NULL instead of an empty string.
const char* textData(std::string_view text) {
    return text.empty() ? "" : text.data();
}
}  // namespace

SqliteStatement& SqliteStatement::bindText(int index, std::string_view text) {
    // SQLITE_STATIC: the caller's strings outlive the statement's use; bindings are cleared on reset.
    int rc = sqlite3_bind_text64(statement_, index, textData(text), text.size(), SQLITE_STATIC, SQLITE_UTF8);
    if (rc != SQLITE_OK && bindError_ == SQLITE_OK) {
        bindError_ = rc;
    }
    return *this;
}

SqliteStatement& SqliteStatement::bindTextCopy(int index, std::string_view text) {
    // SQLITE_TRANSIENT: SQLite copies the bytes before this returns, so `text` may be a temporary.
    int rc =
        sqlite3_bind_text64(statement_, index, textData(text), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK && bindError_ == SQLITE_OK) {
        bindError_ = rc;
    }
    return *this;
}

SqliteStatement& SqliteStatement::bindBlob(int index, std::string_view bytes) {
    int rc = sqlite3_bind_blob64(statement_, index, textData(bytes), bytes.size(), SQLITE_STATIC);
    if (rc != SQLITE_OK && bindError_ == SQLITE_OK) {
        bindError_ = rc;
    }
    return *this;
}

SqliteStatement& SqliteStatement::bindInt64(int index, std::int64_t value) {
    int rc = sqlite3_bind_int64(statement_, index, value);
    if (rc != SQLITE_OK && bindError_ == SQLITE_OK) {
        bindError_ = rc;
    }
    return *this;
}

int SqliteStatement::step() {
    if (bindError_ != SQLITE_OK) {
        return bindError_;
    }
    return sqlite3_step(statement_);
}

Result<void, StorageError> SqliteStatement::run() {
    int rc = step();
    if (rc != SQLITE_DONE) {
        return toStorageError(rc);
    }
    return {};
}

std::string SqliteStatement::columnText(int index) {
    const auto* text = sqlite3_column_text(statement_, index);
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement_, index));
    if (text == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(text), size);
}

std::string SqliteStatement::columnBlob(int index) {
    const void* blob = sqlite3_column_blob(statement_, index);
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement_, index));
    if (blob == nullptr) {  // NULL or an empty blob
        return {};
    }
    return std::string(static_cast<const char*>(blob), size);
}

std::int64_t SqliteStatement::columnInt64(int index) {
    return sqlite3_column_int64(statement_, index);
}

// SqliteDatabase

void SqliteDatabase::StatementDeleter::operator()(sqlite3_stmt* statement) const noexcept {
    sqlite3_finalize(statement);
}

Result<std::unique_ptr<SqliteDatabase>, OpenError> SqliteDatabase::open(const std::filesystem::path& file) {
    sqlite3* db = nullptr;
    // NOMUTEX: one thread at a time uses the connection (the opener, then the worker).
    const int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        int systemErrno = db != nullptr ? sqlite3_system_errno(db) : 0;
        sqlite3_close_v2(db);
        return OpenError{
            describeOpenFailure("cannot open the SQLite database", file, rc, detail, systemErrno)};
    }
    sqlite3_extended_result_codes(db, 1);
    // SQLite silently opens a file it may not write read-only; the server needs to write.
    if (sqlite3_db_readonly(db, "main") == 1) {
        sqlite3_close_v2(db);
        return OpenError{describeOpenFailure("cannot open the SQLite database", file, SQLITE_READONLY,
                                             "the file is read-only", 0)};
    }
    return std::make_unique<SqliteDatabase>(Passkey{}, db, file);
}

SqliteDatabase::~SqliteDatabase() {
    statements_.clear();
    // The last connection to close checkpoints the WAL into the database file.
    sqlite3_close_v2(db_);
}

Result<SqliteStatement, StorageError> SqliteDatabase::statement(std::string_view sql) {
    auto it = statements_.find(std::string{sql});
    if (it == statements_.end()) {
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &raw, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(raw);
            return toStorageError(rc);
        }
        it =
            statements_.emplace(std::string{sql}, std::unique_ptr<sqlite3_stmt, StatementDeleter>(raw)).first;
    }
    // A statement is used by one operation at a time; a second concurrent use would be a bug here.
    assert(sqlite3_stmt_busy(it->second.get()) == 0);
    return SqliteStatement(it->second.get());
}

int SqliteDatabase::execute(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
}

std::string SqliteDatabase::errorMessage() const {
    return sqlite3_errmsg(db_);
}

std::int64_t SqliteDatabase::changes() const noexcept {
    return sqlite3_changes64(db_);
}

std::int64_t SqliteDatabase::lastInsertRowid() const noexcept {
    return sqlite3_last_insert_rowid(db_);
}

// SqliteTransaction

Result<SqliteTransaction, StorageError> SqliteTransaction::begin(SqliteDatabase& db, Mode mode) {
    // IMMEDIATE takes the write lock up front, so a write transaction cannot fail half-way with
    // SQLITE_BUSY because another process (the sqlite3 shell, a backup) started writing first.
    auto statement = db.statement(mode == Mode::Write ? "BEGIN IMMEDIATE" : "BEGIN");
    if (!statement) {
        return statement.error();
    }
    if (auto done = statement->run(); !done) {
        return done.error();
    }
    return SqliteTransaction(db);
}

SqliteTransaction::SqliteTransaction(SqliteTransaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

SqliteTransaction::~SqliteTransaction() {
    if (db_ == nullptr) {
        return;
    }
    // After some errors (SQLITE_FULL, SQLITE_IOERR) SQLite has already rolled back; this is then a no-op
    // that fails, which is fine.
    if (auto statement = db_->statement("ROLLBACK")) {
        (void)statement->step();
    }
}

Result<void, StorageError> SqliteTransaction::commit() {
    assert(db_ != nullptr);
    auto statement = db_->statement("COMMIT");
    if (!statement) {
        return statement.error();
    }
    if (auto done = statement->run(); !done) {
        return done.error();  // still open: the destructor rolls back
    }
    db_ = nullptr;
    return {};
}

Result<std::int64_t, StorageError> countUserRows(SqliteDatabase& db, std::string_view table,
                                                 const std::string& host, const std::string& username) {
    auto select =
        db.statement("SELECT count(*) FROM " + std::string(table) + " WHERE host = ?1 AND username = ?2");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    const int rc = select->step();
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return select->columnInt64(0);
}

}  // namespace parley::storage
