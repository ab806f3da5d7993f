// SqlitePepStore: tables pep_nodes and pep_items (migrations/sqlite/0008_pep.sql, docs/storage.md
// "Personal eventing").
#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "sqlite/sqlite_storage.h"
#include "sqlite/string_list.h"

namespace parley::storage {

namespace {

struct NodeKey {
    std::string host;
    std::string username;
    std::string node;
};

// A statement whose ?1, ?2, ?3 are the node's host, user name and name.
Result<SqliteStatement, StorageError> nodeStatement(SqliteDatabase& db, std::string_view sql,
                                                    const NodeKey& key) {
    auto statement = db.statement(sql);
    if (!statement) {
        return statement.error();
    }
    statement->bindText(1, key.host).bindText(2, key.username).bindText(3, key.node);
    return std::move(*statement);
}

constexpr const char* kConfigColumns =
    "access_model, max_items, persist_items, send_last_published_item, notify_retract, roster_groups, "
    "whitelist, max_items_max, title, description, payload_type";

PepNodeConfig configFromRow(SqliteStatement& row, int first) {
    PepNodeConfig config;
    config.accessModel = row.columnText(first);
    config.maxItems = static_cast<std::size_t>(row.columnInt64(first + 1));
    config.persistItems = row.columnInt64(first + 2) != 0;
    config.sendLastPublishedItem = row.columnText(first + 3);
    config.notifyRetract = row.columnInt64(first + 4) != 0;
    config.rosterGroups = decodeStringList(row.columnText(first + 5));
    config.whitelist = decodeStringList(row.columnText(first + 6));
    config.maxItemsIsMax = row.columnInt64(first + 7) != 0;
    config.title = row.columnText(first + 8);
    config.description = row.columnText(first + 9);
    config.payloadType = row.columnText(first + 10);
    return config;
}

// The string lists of a configuration, encoded; bound by reference, so they must outlive the statement's
// step (bindText does not copy).
struct EncodedLists {
    std::string rosterGroups;
    std::string whitelist;
};

// Binds the configuration to ?4 ... ?14.
void bindConfig(SqliteStatement& statement, const PepNodeConfig& config, EncodedLists& lists) {
    lists.rosterGroups = encodeStringList(config.rosterGroups);
    lists.whitelist = encodeStringList(config.whitelist);
    statement.bindText(4, config.accessModel)
        .bindInt64(5, static_cast<std::int64_t>(config.maxItems))
        .bindInt64(6, config.persistItems ? 1 : 0)
        .bindText(7, config.sendLastPublishedItem)
        .bindInt64(8, config.notifyRetract ? 1 : 0)
        .bindText(9, lists.rosterGroups)
        .bindText(10, lists.whitelist)
        .bindInt64(11, config.maxItemsIsMax ? 1 : 0)
        .bindText(12, config.title)
        .bindText(13, config.description)
        .bindText(14, config.payloadType);
}

Result<std::optional<PepNodeConfig>, StorageError> selectNode(SqliteDatabase& db, const NodeKey& key) {
    auto select = nodeStatement(db,
                                std::string("SELECT ") + kConfigColumns +
                                    " FROM pep_nodes WHERE host = ?1 AND username = ?2 AND node = ?3",
                                key);
    if (!select) {
        return select.error();
    }
    const int rc = select->step();
    if (rc == SQLITE_DONE) {
        return std::optional<PepNodeConfig>();
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return std::optional<PepNodeConfig>(configFromRow(*select, 0));
}

Result<std::vector<PepNode>, StorageError> selectNodes(SqliteDatabase& db, const std::string& host,
                                                       const std::string& username) {
    auto select = db.statement(std::string("SELECT node, ") + kConfigColumns +
                               " FROM pep_nodes WHERE host = ?1 AND username = ?2 ORDER BY node");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    std::vector<PepNode> nodes;
    for (;;) {
        const int rc = select->step();
        if (rc == SQLITE_DONE) {
            return nodes;
        }
        if (rc != SQLITE_ROW) {
            return toStorageError(rc);
        }
        nodes.push_back(PepNode{select->columnText(0), configFromRow(*select, 1)});
    }
}

// Runs a statement on the node's rows and says whether it changed any.
Result<bool, StorageError> changeNode(SqliteDatabase& db, std::string_view sql, const NodeKey& key) {
    auto statement = nodeStatement(db, sql, key);
    if (!statement) {
        return statement.error();
    }
    if (auto done = statement->run(); !done) {
        return done.error();
    }
    return db.changes() > 0;
}

// Drops the oldest items past the node's max_items (0: no limit).
Result<void, StorageError> trimItems(SqliteDatabase& db, const NodeKey& key) {
    auto trimmed =
        changeNode(db,
                   "DELETE FROM pep_items WHERE host = ?1 AND username = ?2 AND node = ?3 AND seq NOT IN "
                   "(SELECT seq FROM pep_items WHERE host = ?1 AND username = ?2 AND node = ?3 "
                   "ORDER BY seq DESC LIMIT (SELECT CASE max_items WHEN 0 THEN -1 ELSE max_items END "
                   "FROM pep_nodes WHERE host = ?1 AND username = ?2 AND node = ?3))",
                   key);
    if (!trimmed) {
        return trimmed.error();
    }
    return {};
}

Result<std::int64_t, StorageError> countNodes(SqliteDatabase& db, const std::string& host,
                                              const std::string& username) {
    return countUserRows(db, "pep_nodes", host, username);
}

Result<void, StorageError> insertNode(SqliteDatabase& db, const NodeKey& key, const PepNodeConfig& config,
                                      std::size_t maxNodes) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        auto existing = selectNode(db, key);
        if (!existing) {
            return existing.error();
        }
        if (existing->has_value()) {
            return StorageError::AlreadyExists;
        }
        if (maxNodes != 0) {
            auto count = countNodes(db, key.host, key.username);
            if (!count) {
                return count.error();
            }
            if (static_cast<std::uint64_t>(*count) >= maxNodes) {
                return StorageError::QuotaExceeded;
            }
        }
        auto insert =
            nodeStatement(db,
                          std::string("INSERT INTO pep_nodes (host, username, node, ") + kConfigColumns +
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                          key);
        if (!insert) {
            return insert.error();
        }
        EncodedLists lists;
        bindConfig(*insert, config, lists);
        return insert->run();
    });
}

Result<void, StorageError> updateNode(SqliteDatabase& db, const NodeKey& key, const PepNodeConfig& config) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        auto update =
            nodeStatement(db,
                          "UPDATE pep_nodes SET access_model = ?4, max_items = ?5, persist_items = ?6, "
                          "send_last_published_item = ?7, notify_retract = ?8, roster_groups = ?9, "
                          "whitelist = ?10, max_items_max = ?11, title = ?12, description = ?13, "
                          "payload_type = ?14 WHERE host = ?1 AND username = ?2 AND node = ?3",
                          key);
        if (!update) {
            return update.error();
        }
        EncodedLists lists;
        bindConfig(*update, config, lists);
        if (auto done = update->run(); !done) {
            return done.error();
        }
        if (db.changes() == 0) {
            return StorageError::NotFound;
        }
        return trimItems(db, key);
    });
}

Result<void, StorageError> removeNode(SqliteDatabase& db, const NodeKey& key) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        auto removed =
            changeNode(db, "DELETE FROM pep_nodes WHERE host = ?1 AND username = ?2 AND node = ?3", key);
        if (!removed) {
            return removed.error();
        }
        if (!*removed) {
            return StorageError::NotFound;
        }
        auto items =
            changeNode(db, "DELETE FROM pep_items WHERE host = ?1 AND username = ?2 AND node = ?3", key);
        if (!items) {
            return items.error();
        }
        return {};
    });
}

Result<std::uint64_t, StorageError> insertItem(SqliteDatabase& db, const NodeKey& key, const PepItem& item) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<std::uint64_t, StorageError> {
        auto select = nodeStatement(
            db, "SELECT next_seq FROM pep_nodes WHERE host = ?1 AND username = ?2 AND node = ?3", key);
        if (!select) {
            return select.error();
        }
        const int rc = select->step();
        if (rc == SQLITE_DONE) {
            return StorageError::NotFound;
        }
        if (rc != SQLITE_ROW) {
            return toStorageError(rc);
        }
        const std::int64_t seq = select->columnInt64(0);
        auto bump = changeNode(
            db,
            "UPDATE pep_nodes SET next_seq = next_seq + 1 WHERE host = ?1 AND username = ?2 AND node = ?3",
            key);
        if (!bump) {
            return bump.error();
        }
        auto insert = nodeStatement(db,
                                    "INSERT OR REPLACE INTO pep_items (host, username, node, item_id, seq, "
                                    "publisher, xml, published_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                    key);
        if (!insert) {
            return insert.error();
        }
        insert->bindText(4, item.id)
            .bindInt64(5, seq)
            .bindText(6, item.publisher)
            .bindText(7, item.xml)
            .bindInt64(8, item.publishedAt);
        if (auto done = insert->run(); !done) {
            return done.error();
        }
        if (auto trimmed = trimItems(db, key); !trimmed) {
            return trimmed.error();
        }
        return static_cast<std::uint64_t>(seq);
    });
}

Result<std::vector<PepItem>, StorageError> selectItems(SqliteDatabase& db, const NodeKey& key,
                                                       const std::vector<std::string>& ids,
                                                       std::size_t limit) {
    return inTransaction(
        db, SqliteTransaction::Mode::Read, [&]() -> Result<std::vector<PepItem>, StorageError> {
            auto node = selectNode(db, key);
            if (!node) {
                return node.error();
            }
            if (!node->has_value()) {
                return StorageError::NotFound;
            }
            auto select = nodeStatement(
                db,
                "SELECT item_id, seq, publisher, xml, published_at FROM pep_items WHERE host = ?1 AND "
                "username = ?2 AND node = ?3 ORDER BY seq DESC",
                key);
            if (!select) {
                return select.error();
            }
            std::vector<PepItem> items;
            for (;;) {
                if (limit != 0 && items.size() >= limit) {
                    return items;
                }
                const int rc = select->step();
                if (rc == SQLITE_DONE) {
                    return items;
                }
                if (rc != SQLITE_ROW) {
                    return toStorageError(rc);
                }
                PepItem item{select->columnText(0), select->columnText(3), select->columnText(2),
                             static_cast<std::uint64_t>(select->columnInt64(1)), select->columnInt64(4)};
                if (ids.empty() || std::find(ids.begin(), ids.end(), item.id) != ids.end()) {
                    items.push_back(std::move(item));
                }
            }
        });
}

Result<bool, StorageError> deleteItem(SqliteDatabase& db, const NodeKey& key, const std::string& id) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<bool, StorageError> {
        auto node = selectNode(db, key);
        if (!node) {
            return node.error();
        }
        if (!node->has_value()) {
            return StorageError::NotFound;
        }
        auto remove = nodeStatement(
            db, "DELETE FROM pep_items WHERE host = ?1 AND username = ?2 AND node = ?3 AND item_id = ?4",
            key);
        if (!remove) {
            return remove.error();
        }
        remove->bindText(4, id);
        if (auto done = remove->run(); !done) {
            return done.error();
        }
        return db.changes() > 0;
    });
}

Result<void, StorageError> deleteItems(SqliteDatabase& db, const NodeKey& key) {
    return inTransaction(db, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        auto node = selectNode(db, key);
        if (!node) {
            return node.error();
        }
        if (!node->has_value()) {
            return StorageError::NotFound;
        }
        auto removed =
            changeNode(db, "DELETE FROM pep_items WHERE host = ?1 AND username = ?2 AND node = ?3", key);
        if (!removed) {
            return removed.error();
        }
        return {};
    });
}

}  // namespace

StoreResult<std::vector<PepNode>> SqlitePepStore::listNodes(std::string host, std::string username) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username)] {
        return selectNodes(db, host, username);
    });
}

StoreResult<std::optional<PepNodeConfig>> SqlitePepStore::findNode(std::string host, std::string username,
                                                                   std::string node) {
    return worker_.runOnWorker([&db = db_, key = NodeKey{std::move(host), std::move(username),
                                                         std::move(node)}] { return selectNode(db, key); });
}

StoreResult<void> SqlitePepStore::createNode(std::string host, std::string username, std::string node,
                                             PepNodeConfig config, std::size_t maxNodes) {
    return worker_.runOnWorker(
        [&db = db_, key = NodeKey{std::move(host), std::move(username), std::move(node)},
         config = std::move(config), maxNodes] { return insertNode(db, key, config, maxNodes); });
}

StoreResult<void> SqlitePepStore::configureNode(std::string host, std::string username, std::string node,
                                                PepNodeConfig config) {
    return worker_.runOnWorker([&db = db_,
                                key = NodeKey{std::move(host), std::move(username), std::move(node)},
                                config = std::move(config)] { return updateNode(db, key, config); });
}

StoreResult<void> SqlitePepStore::deleteNode(std::string host, std::string username, std::string node) {
    return worker_.runOnWorker([&db = db_, key = NodeKey{std::move(host), std::move(username),
                                                         std::move(node)}] { return removeNode(db, key); });
}

StoreResult<std::uint64_t> SqlitePepStore::publishItem(std::string host, std::string username,
                                                       std::string node, PepItem item) {
    return worker_.runOnWorker([&db = db_,
                                key = NodeKey{std::move(host), std::move(username), std::move(node)},
                                item = std::move(item)] { return insertItem(db, key, item); });
}

StoreResult<std::vector<PepItem>> SqlitePepStore::items(std::string host, std::string username,
                                                        std::string node, std::vector<std::string> ids,
                                                        std::size_t limit) {
    return worker_.runOnWorker([&db = db_,
                                key = NodeKey{std::move(host), std::move(username), std::move(node)},
                                ids = std::move(ids), limit] { return selectItems(db, key, ids, limit); });
}

StoreResult<bool> SqlitePepStore::retractItem(std::string host, std::string username, std::string node,
                                              std::string id) {
    return worker_.runOnWorker([&db = db_,
                                key = NodeKey{std::move(host), std::move(username), std::move(node)},
                                id = std::move(id)] { return deleteItem(db, key, id); });
}

StoreResult<void> SqlitePepStore::purgeNode(std::string host, std::string username, std::string node) {
    return worker_.runOnWorker([&db = db_, key = NodeKey{std::move(host), std::move(username),
                                                         std::move(node)}] { return deleteItems(db, key); });
}

}  // namespace parley::storage
