// SqliteBlockListStore: table blocklist (migrations/sqlite/0005_blocklist.sql, docs/storage.md
// "Block lists").
#include <sqlite3.h>

#include <set>
#include <utility>

#include "sqlite/sqlite_storage.h"

namespace parley::storage {

namespace {

Result<std::vector<std::string>, StorageError> selectBlocked(SqliteDatabase& db, const std::string& host,
                                                             const std::string& username) {
    // BINARY collation compares bytes like std::string's operator<, as the memory backend sorts.
    auto select = db.statement("SELECT jid FROM blocklist WHERE host = ?1 AND username = ?2 ORDER BY jid");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    std::vector<std::string> jids;
    for (;;) {
        const int rc = select->step();
        if (rc == SQLITE_DONE) {
            return jids;
        }
        if (rc != SQLITE_ROW) {
            return toStorageError(rc);
        }
        jids.push_back(select->columnText(0));
    }
}

Result<bool, StorageError> isBlocked(SqliteDatabase& db, const std::string& host, const std::string& username,
                                     const std::string& jid) {
    auto select = db.statement("SELECT 1 FROM blocklist WHERE host = ?1 AND username = ?2 AND jid = ?3");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username).bindText(3, jid);
    const int rc = select->step();
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return toStorageError(rc);
}

Result<std::int64_t, StorageError> countBlocked(SqliteDatabase& db, const std::string& host,
                                                const std::string& username) {
    return countUserRows(db, "blocklist", host, username);
}

Result<void, StorageError> insertBlocked(SqliteDatabase& db, const std::string& host,
                                         const std::string& username, const std::vector<std::string>& jids,
                                         std::size_t maxItems) {
    // The quota check and the inserts in one transaction: all of them are added, or none.
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        std::set<std::string> added;
        for (const auto& jid : jids) {
            auto blocked = isBlocked(db, host, username, jid);
            if (!blocked) {
                return blocked.error();
            }
            if (!*blocked) {
                added.insert(jid);
            }
        }
        if (added.empty()) {
            return {};
        }
        if (maxItems != 0) {
            auto size = countBlocked(db, host, username);
            if (!size) {
                return size.error();
            }
            if (static_cast<std::uint64_t>(*size) + added.size() > maxItems) {
                return StorageError::QuotaExceeded;
            }
        }
        for (const auto& jid : added) {
            auto insert = db.statement("INSERT INTO blocklist (host, username, jid) VALUES (?1, ?2, ?3)");
            if (!insert) {
                return insert.error();
            }
            insert->bindText(1, host).bindText(2, username).bindText(3, jid);
            if (auto done = insert->run(); !done) {
                return done.error();
            }
        }
        return {};
    });
}

Result<void, StorageError> deleteBlocked(SqliteDatabase& db, const std::string& host,
                                         const std::string& username, const std::vector<std::string>& jids) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        if (jids.empty()) {  // XEP-0191 §3.4: an empty <unblock/> unblocks every JID
            auto clear = db.statement("DELETE FROM blocklist WHERE host = ?1 AND username = ?2");
            if (!clear) {
                return clear.error();
            }
            clear->bindText(1, host).bindText(2, username);
            return clear->run();
        }
        for (const auto& jid : jids) {
            auto remove =
                db.statement("DELETE FROM blocklist WHERE host = ?1 AND username = ?2 AND jid = ?3");
            if (!remove) {
                return remove.error();
            }
            remove->bindText(1, host).bindText(2, username).bindText(3, jid);
            if (auto done = remove->run(); !done) {
                return done.error();
            }
        }
        return {};
    });
}

}  // namespace

StoreResult<std::vector<std::string>> SqliteBlockListStore::list(std::string host, std::string username) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username)] {
        return selectBlocked(db, host, username);
    });
}

StoreResult<void> SqliteBlockListStore::add(std::string host, std::string username,
                                            std::vector<std::string> jids, std::size_t maxItems) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                jids = std::move(jids),
                                maxItems] { return insertBlocked(db, host, username, jids, maxItems); });
}

StoreResult<void> SqliteBlockListStore::remove(std::string host, std::string username,
                                               std::vector<std::string> jids) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                jids = std::move(jids)] { return deleteBlocked(db, host, username, jids); });
}

}  // namespace parley::storage
