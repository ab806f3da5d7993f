// SqliteRosterStore: tables roster_items, roster_versions and roster_tombstones
// (migrations/sqlite/0003_roster.sql, docs/storage.md "Rosters").
#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "roster_tombstones.h"
#include "sqlite/sqlite_storage.h"
#include "sqlite/string_list.h"

namespace parley::storage {

namespace {

// The roster_items.subscription column. This is the on-disk format, so it is spelled out rather than
// cast from the enum.
std::int64_t subscriptionColumn(Subscription subscription) {
    switch (subscription) {
        case Subscription::None:
            return 0;
        case Subscription::To:
            return 1;
        case Subscription::From:
            return 2;
        case Subscription::Both:
            return 3;
    }
    return 0;  // unreachable: the switch covers the enum
}

Subscription subscriptionFromColumn(std::int64_t value) {
    switch (value) {
        case 1:
            return Subscription::To;
        case 2:
            return Subscription::From;
        case 3:
            return Subscription::Both;
        default:  // 0; the column's CHECK allows nothing else
            return Subscription::None;
    }
}

constexpr const char* kItemColumns =
    "jid, name, groups, subscription, ask_out, pending_in, pre_approved, listed, pending_in_stanza, version";

// Reads the columns of kItemColumns, in that order.
RosterItem readItem(SqliteStatement& row) {
    RosterItem item;
    item.jid = row.columnText(0);
    item.name = row.columnText(1);
    item.groups = decodeStringList(row.columnText(2));
    item.subscription = subscriptionFromColumn(row.columnInt64(3));
    item.askOut = row.columnInt64(4) != 0;
    item.pendingIn = row.columnInt64(5) != 0;
    item.preApproved = row.columnInt64(6) != 0;
    item.listed = row.columnInt64(7) != 0;
    item.pendingInStanza = row.columnText(8);
    item.version = static_cast<std::uint64_t>(row.columnInt64(9));
    return item;
}

struct VersionRow {
    std::uint64_t version = 0;
    std::uint64_t removedSince = 0;
};

Result<VersionRow, StorageError> selectVersion(SqliteDatabase& db, const std::string& host,
                                               const std::string& username) {
    auto select =
        db.statement("SELECT version, removed_since FROM roster_versions WHERE host = ?1 AND username = ?2");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    const int rc = select->step();
    if (rc == SQLITE_DONE) {
        return VersionRow{};
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return VersionRow{static_cast<std::uint64_t>(select->columnInt64(0)),
                      static_cast<std::uint64_t>(select->columnInt64(1))};
}

Result<void, StorageError> writeVersion(SqliteDatabase& db, const std::string& host,
                                        const std::string& username, VersionRow row) {
    auto upsert = db.statement(
        "INSERT INTO roster_versions (host, username, version, removed_since) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (host, username) DO UPDATE SET version = excluded.version, "
        "removed_since = excluded.removed_since");
    if (!upsert) {
        return upsert.error();
    }
    upsert->bindText(1, host)
        .bindText(2, username)
        .bindInt64(3, static_cast<std::int64_t>(row.version))
        .bindInt64(4, static_cast<std::int64_t>(row.removedSince));
    return upsert->run();
}

Result<std::optional<RosterItem>, StorageError> selectItem(SqliteDatabase& db, const std::string& host,
                                                           const std::string& username,
                                                           const std::string& jid) {
    auto select = db.statement(std::string{"SELECT "} + kItemColumns +
                               " FROM roster_items WHERE host = ?1 AND username = ?2 AND jid = ?3");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username).bindText(3, jid);
    const int rc = select->step();
    if (rc == SQLITE_DONE) {
        return std::optional<RosterItem>{};
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return std::optional<RosterItem>{readItem(*select)};
}

Result<Roster, StorageError> selectRoster(SqliteDatabase& db, const std::string& host,
                                          const std::string& username) {
    // One read transaction, so the version, the items and the tombstones come from the same snapshot.
    return inTransaction(db, SqliteTransaction::Mode::Read, [&]() -> Result<Roster, StorageError> {
        Roster roster;
        auto version = selectVersion(db, host, username);
        if (!version) {
            return version.error();
        }
        roster.version = version->version;
        roster.removedSince = version->removedSince;

        // BINARY collation compares bytes like std::string's operator<, as the memory backend sorts.
        auto items = db.statement(std::string{"SELECT "} + kItemColumns +
                                  " FROM roster_items WHERE host = ?1 AND username = ?2 ORDER BY jid");
        if (!items) {
            return items.error();
        }
        items->bindText(1, host).bindText(2, username);
        for (;;) {
            const int rc = items->step();
            if (rc == SQLITE_DONE) {
                break;
            }
            if (rc != SQLITE_ROW) {
                return toStorageError(rc);
            }
            roster.items.push_back(readItem(*items));
        }

        auto tombstones = db.statement(
            "SELECT jid, version FROM roster_tombstones WHERE host = ?1 AND username = ?2 ORDER BY version");
        if (!tombstones) {
            return tombstones.error();
        }
        tombstones->bindText(1, host).bindText(2, username);
        for (;;) {
            const int rc = tombstones->step();
            if (rc == SQLITE_DONE) {
                break;
            }
            if (rc != SQLITE_ROW) {
                return toStorageError(rc);
            }
            roster.removed.emplace_back(tombstones->columnText(0),
                                        static_cast<std::uint64_t>(tombstones->columnInt64(1)));
        }
        return roster;
    });
}

Result<std::int64_t, StorageError> countItems(SqliteDatabase& db, const std::string& host,
                                              const std::string& username) {
    return countUserRows(db, "roster_items", host, username);
}

Result<void, StorageError> deleteTombstone(SqliteDatabase& db, const std::string& host,
                                           const std::string& username, const std::string& jid) {
    auto remove =
        db.statement("DELETE FROM roster_tombstones WHERE host = ?1 AND username = ?2 AND jid = ?3");
    if (!remove) {
        return remove.error();
    }
    remove->bindText(1, host).bindText(2, username).bindText(3, jid);
    return remove->run();
}

Result<std::uint64_t, StorageError> upsertItem(SqliteDatabase& db, const std::string& host,
                                               const std::string& username, const RosterItem& item,
                                               std::size_t maxItems) {
    // The quota check, the version bump and the row write in one transaction.
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<std::uint64_t, StorageError> {
        auto existing = selectItem(db, host, username, item.jid);
        if (!existing) {
            return existing.error();
        }
        // Replacing an item never exceeds the quota; unlisted items count like the others.
        if (!existing->has_value() && maxItems != 0) {
            auto size = countItems(db, host, username);
            if (!size) {
                return size.error();
            }
            if (static_cast<std::uint64_t>(*size) >= maxItems) {
                return StorageError::QuotaExceeded;
            }
        }
        auto version = selectVersion(db, host, username);
        if (!version) {
            return version.error();
        }
        ++version->version;
        if (auto written = writeVersion(db, host, username, *version); !written) {
            return written.error();
        }
        auto upsert = db.statement(
            "INSERT INTO roster_items (host, username, jid, name, groups, subscription, ask_out, pending_in, "
            "pre_approved, listed, pending_in_stanza, version) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
            "ON CONFLICT (host, username, jid) DO UPDATE SET name = excluded.name, groups = excluded.groups, "
            "subscription = excluded.subscription, ask_out = excluded.ask_out, "
            "pending_in = excluded.pending_in, pre_approved = excluded.pre_approved, "
            "listed = excluded.listed, pending_in_stanza = excluded.pending_in_stanza, "
            "version = excluded.version");
        if (!upsert) {
            return upsert.error();
        }
        const std::string groups = encodeStringList(item.groups);
        upsert->bindText(1, host)
            .bindText(2, username)
            .bindText(3, item.jid)
            .bindText(4, item.name)
            .bindText(5, groups)
            .bindInt64(6, subscriptionColumn(item.subscription))
            .bindInt64(7, item.askOut ? 1 : 0)
            .bindInt64(8, item.pendingIn ? 1 : 0)
            .bindInt64(9, item.preApproved ? 1 : 0)
            .bindInt64(10, item.listed ? 1 : 0)
            .bindText(11, item.pendingInStanza)
            .bindInt64(12, static_cast<std::int64_t>(version->version));
        if (auto done = upsert->run(); !done) {
            return done.error();
        }
        // Re-added: the item itself now tells a client what changed.
        if (auto done = deleteTombstone(db, host, username, item.jid); !done) {
            return done.error();
        }
        return version->version;
    });
}

// The version of the newest tombstone beyond the latest kMaxRosterTombstones, if any. Versions are
// unique within a roster, so every tombstone up to it is to be pruned.
Result<std::optional<std::int64_t>, StorageError> newestTombstoneToPrune(SqliteDatabase& db,
                                                                         const std::string& host,
                                                                         const std::string& username) {
    auto select = db.statement(
        "SELECT version FROM roster_tombstones WHERE host = ?1 AND username = ?2 "
        "ORDER BY version DESC LIMIT 1 OFFSET ?3");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host)
        .bindText(2, username)
        .bindInt64(3, static_cast<std::int64_t>(kMaxRosterTombstones));
    const int rc = select->step();
    if (rc == SQLITE_DONE) {
        return std::optional<std::int64_t>{};
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return std::optional<std::int64_t>{select->columnInt64(0)};
}

// Keeps the latest kMaxRosterTombstones tombstones and raises removed_since past the pruned ones, so
// that the tombstones still list every removal at or after it.
Result<void, StorageError> pruneTombstones(SqliteDatabase& db, const std::string& host,
                                           const std::string& username, VersionRow& version) {
    auto threshold = newestTombstoneToPrune(db, host, username);
    if (!threshold) {
        return threshold.error();
    }
    if (!threshold->has_value()) {
        return {};
    }
    auto prune =
        db.statement("DELETE FROM roster_tombstones WHERE host = ?1 AND username = ?2 AND version <= ?3");
    if (!prune) {
        return prune.error();
    }
    prune->bindText(1, host).bindText(2, username).bindInt64(3, **threshold);
    if (auto done = prune->run(); !done) {
        return done.error();
    }
    version.removedSince = std::max(version.removedSince, static_cast<std::uint64_t>(**threshold) + 1);
    return {};
}

Result<std::uint64_t, StorageError> deleteItem(SqliteDatabase& db, const std::string& host,
                                               const std::string& username, const std::string& jid) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<std::uint64_t, StorageError> {
        auto version = selectVersion(db, host, username);
        if (!version) {
            return version.error();
        }
        auto remove = db.statement("DELETE FROM roster_items WHERE host = ?1 AND username = ?2 AND jid = ?3");
        if (!remove) {
            return remove.error();
        }
        remove->bindText(1, host).bindText(2, username).bindText(3, jid);
        if (auto done = remove->run(); !done) {
            return done.error();
        }
        if (db.changes() == 0) {
            return version->version;  // absent: nothing changes, the empty transaction commits
        }
        ++version->version;
        auto tombstone = db.statement(
            "INSERT INTO roster_tombstones (host, username, jid, version) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT (host, username, jid) DO UPDATE SET version = excluded.version");
        if (!tombstone) {
            return tombstone.error();
        }
        tombstone->bindText(1, host)
            .bindText(2, username)
            .bindText(3, jid)
            .bindInt64(4, static_cast<std::int64_t>(version->version));
        if (auto done = tombstone->run(); !done) {
            return done.error();
        }
        if (auto pruned = pruneTombstones(db, host, username, *version); !pruned) {
            return pruned.error();
        }
        if (auto written = writeVersion(db, host, username, *version); !written) {
            return written.error();
        }
        return version->version;
    });
}

}  // namespace

StoreResult<Roster> SqliteRosterStore::loadRoster(std::string host, std::string username) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username)] {
        return selectRoster(db, host, username);
    });
}

StoreResult<std::optional<RosterItem>> SqliteRosterStore::findItem(std::string host, std::string username,
                                                                   std::string jid) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                jid = std::move(jid)] { return selectItem(db, host, username, jid); });
}

StoreResult<std::uint64_t> SqliteRosterStore::putItem(std::string host, std::string username, RosterItem item,
                                                      std::size_t maxItems) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                item = std::move(item),
                                maxItems] { return upsertItem(db, host, username, item, maxItems); });
}

StoreResult<std::uint64_t> SqliteRosterStore::removeItem(std::string host, std::string username,
                                                         std::string jid) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                jid = std::move(jid)] { return deleteItem(db, host, username, jid); });
}

}  // namespace parley::storage
