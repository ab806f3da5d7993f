// SqliteOfflineStore: table offline_messages (migrations/sqlite/0004_offline.sql, docs/storage.md
// "Offline messages").
#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "sqlite/sqlite_storage.h"

namespace parley::storage {

namespace {

Result<std::int64_t, StorageError> countMessages(SqliteDatabase& db, const std::string& host,
                                                 const std::string& username) {
    return countUserRows(db, "offline_messages", host, username);
}

// One queued message inside the group's transaction: QuotaExceeded (the check comes before the insert)
// fails only this message; any other error fails the whole group.
Result<std::uint64_t, StorageError> insertMessage(SqliteDatabase& db,
                                                  const SqliteOfflineStore::PendingPush& pending) {
    if (pending.maxPerUser != 0) {
        auto stored = countMessages(db, pending.host, pending.username);
        if (!stored) {
            return stored.error();
        }
        if (static_cast<std::uint64_t>(*stored) >= pending.maxPerUser) {
            return StorageError::QuotaExceeded;
        }
    }
    auto insert =
        db.statement("INSERT INTO offline_messages (host, username, stored_at, xml) VALUES (?1, ?2, ?3, ?4)");
    if (!insert) {
        return insert.error();
    }
    insert->bindText(1, pending.host)
        .bindText(2, pending.username)
        .bindInt64(3, pending.message.storedAt)
        .bindText(4, pending.message.xml);
    if (auto done = insert->run(); !done) {
        return done.error();
    }
    // The AUTOINCREMENT id: larger than every id ever used, in any user's messages.
    return static_cast<std::uint64_t>(db.lastInsertRowid());
}

Result<std::vector<OfflineMessage>, StorageError> selectMessages(SqliteDatabase& db, const std::string& host,
                                                                 const std::string& username,
                                                                 std::size_t limit) {
    auto select = db.statement(
        "SELECT id, stored_at, xml FROM offline_messages WHERE host = ?1 AND username = ?2 "
        "ORDER BY id LIMIT ?3");
    if (!select) {
        return select.error();
    }
    // A negative LIMIT is no limit.
    constexpr auto kMaxLimit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    const std::int64_t sqlLimit = limit == 0 ? -1 : static_cast<std::int64_t>(std::min(limit, kMaxLimit));
    select->bindText(1, host).bindText(2, username).bindInt64(3, sqlLimit);
    std::vector<OfflineMessage> messages;
    for (;;) {
        const int rc = select->step();
        if (rc == SQLITE_DONE) {
            return messages;
        }
        if (rc != SQLITE_ROW) {
            return toStorageError(rc);
        }
        OfflineMessage message;
        message.id = static_cast<std::uint64_t>(select->columnInt64(0));
        message.storedAt = select->columnInt64(1);
        message.xml = select->columnText(2);
        messages.push_back(std::move(message));
    }
}

Result<void, StorageError> deleteMessages(SqliteDatabase& db, const std::string& host,
                                          const std::string& username,
                                          const std::vector<std::uint64_t>& ids) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        for (const auto id : ids) {
            // Only the user's own messages: an id of another user's message matches nothing here.
            auto remove =
                db.statement("DELETE FROM offline_messages WHERE id = ?1 AND host = ?2 AND username = ?3");
            if (!remove) {
                return remove.error();
            }
            remove->bindInt64(1, static_cast<std::int64_t>(id)).bindText(2, host).bindText(3, username);
            if (auto done = remove->run(); !done) {
                return done.error();
            }
        }
        return {};
    });
}

}  // namespace

StoreResult<std::uint64_t> SqliteOfflineStore::push(std::string host, std::string username,
                                                    OfflineMessage message, std::size_t maxPerUser) {
    // Group commit, as the archive's appends (docs/storage.md "Offline messages"): the quota checks and
    // the inserts of the messages queued meanwhile in one transaction, committed before the callers
    // resume: each message is then in the WAL, which survives a crash of the process.
    const std::uint64_t ticket =
        pushes_.enqueue(PendingPush{std::move(host), std::move(username), std::move(message), maxPerUser});
    return worker_.runOnWorker([this, ticket] {
        return pushes_.take(ticket, [this](const std::vector<PendingPush>& group) {
            std::vector<Result<std::uint64_t, StorageError>> outcomes;
            outcomes.reserve(group.size());
            auto committed =
                inTransaction(db_, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
                    for (const PendingPush& pending : group) {
                        auto inserted = insertMessage(db_, pending);
                        if (!inserted && inserted.error() != StorageError::QuotaExceeded) {
                            return inserted.error();
                        }
                        outcomes.push_back(std::move(inserted));
                    }
                    return {};
                });
            if (!committed) {
                outcomes.assign(group.size(), Result<std::uint64_t, StorageError>(committed.error()));
            }
            return outcomes;
        });
    });
}

StoreResult<std::vector<OfflineMessage>> SqliteOfflineStore::list(std::string host, std::string username,
                                                                  std::size_t limit) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username), limit] {
        return selectMessages(db, host, username, limit);
    });
}

StoreResult<void> SqliteOfflineStore::remove(std::string host, std::string username,
                                             std::vector<std::uint64_t> ids) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                ids = std::move(ids)] { return deleteMessages(db, host, username, ids); });
}

StoreResult<std::size_t> SqliteOfflineStore::count(std::string host, std::string username) {
    return worker_.runOnWorker([&db = db_, host = std::move(host),
                                username = std::move(username)]() -> Result<std::size_t, StorageError> {
        auto stored = countMessages(db, host, username);
        if (!stored) {
            return stored.error();
        }
        return static_cast<std::size_t>(*stored);
    });
}

}  // namespace parley::storage
