// SqliteArchiveStore: tables archive, archive_owners, archive_state and the FTS5 table archive_text
// (migrations/sqlite/0012_archive_owners.sql, docs/storage.md "Message archive").
#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>

#include "archive_words.h"
#include "sqlite/sqlite_storage.h"

namespace parley::storage {

namespace {

using Param = std::variant<std::int64_t, std::string>;

// One row, one integer column: the value, nullopt when there is no row.
Result<std::optional<std::int64_t>, StorageError> selectInt(SqliteStatement& select) {
    const int rc = select.step();
    if (rc == SQLITE_DONE) {
        return std::optional<std::int64_t>{};
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return std::optional<std::int64_t>{select.columnInt64(0)};
}

// The number of the archive's owner (archive_owners); nullopt when the user never had an archive.
Result<std::optional<std::int64_t>, StorageError> ownerOf(SqliteDatabase& db, const std::string& host,
                                                          const std::string& username) {
    auto select = db.statement("SELECT owner FROM archive_owners WHERE host = ?1 AND username = ?2");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    return selectInt(*select);
}

// The seq of the message `id` in this archive; NotFound when there is none.
Result<std::int64_t, StorageError> seqOf(SqliteDatabase& db, std::int64_t owner, const std::string& id) {
    auto select = db.statement("SELECT seq FROM archive WHERE owner = ?1 AND id = ?2");
    if (!select) {
        return select.error();
    }
    select->bindInt64(1, owner).bindText(2, id);
    auto seq = selectInt(*select);
    if (!seq) {
        return seq.error();
    }
    if (!*seq) {
        return StorageError::NotFound;
    }
    return **seq;
}

struct ArchiveState {
    std::int64_t indexed = 0;  // archive_text holds the messages up to this seq
    bool ordered = true;       // stamps never decrease in seq order
};

Result<ArchiveState, StorageError> readState(SqliteDatabase& db) {
    auto select = db.statement("SELECT indexed, ordered FROM archive_state WHERE one = 1");
    if (!select) {
        return select.error();
    }
    const int rc = select->step();
    if (rc != SQLITE_ROW) {
        return rc == SQLITE_DONE ? StorageError::Unavailable : toStorageError(rc);
    }
    return ArchiveState{select->columnInt64(0), select->columnInt64(1) != 0};
}

Result<SqliteStatement, StorageError> prepare(SqliteDatabase& db, const std::string& sql,
                                              const std::vector<Param>& params) {
    auto statement = db.statement(sql);
    if (!statement) {
        return statement.error();
    }
    int index = 0;
    for (const Param& param : params) {
        ++index;
        if (const auto* number = std::get_if<std::int64_t>(&param))
            statement->bindInt64(index, *number);
        else
            statement->bindText(index, std::get<std::string>(param));
    }
    return statement;
}

// The owner's number, given to it on its first message.
Result<std::int64_t, StorageError> ownerFor(SqliteDatabase& db, const std::string& host,
                                            const std::string& username) {
    auto found = ownerOf(db, host, username);
    if (!found) {
        return found.error();
    }
    if (*found) {
        return **found;
    }
    auto insert = db.statement("INSERT INTO archive_owners (host, username) VALUES (?1, ?2)");
    if (!insert) {
        return insert.error();
    }
    insert->bindText(1, host).bindText(2, username);
    if (auto done = insert->run(); !done) {
        return done.error();
    }
    return db.lastInsertRowid();
}

Result<void, StorageError> runStatement(SqliteDatabase& db, std::string_view sql) {
    auto statement = db.statement(sql);
    if (!statement) {
        return statement.error();
    }
    return statement->run();
}

// One queued append inside the group's transaction. AlreadyExists (the id is taken) fails only this
// message; any other error fails the whole group. `lastStamp` is the newest message's stamp while the
// stamps are ordered (nullopt once they are not).
Result<void, StorageError> insertOne(SqliteDatabase& db, const SqliteArchiveStore::PendingAppend& pending,
                                     std::int64_t owner, std::optional<std::int64_t>& lastStamp,
                                     bool& duplicate) {
    auto insert = db.statement(
        "INSERT INTO archive (owner, id, stamp, with_bare, with_resource, xml, body) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (owner, id) DO NOTHING");
    if (!insert) {
        return insert.error();
    }
    const ArchivedMessage& message = pending.message;
    insert->bindInt64(1, owner)
        .bindText(2, message.id)
        .bindInt64(3, message.stamp)
        .bindText(4, message.with)
        .bindText(5, message.withResource)
        .bindText(6, message.xml)
        .bindText(7, message.text);
    if (auto done = insert->run(); !done) {
        return done.error();
    }
    duplicate = db.changes() == 0;
    if (duplicate) {
        return {};
    }
    if (lastStamp && message.stamp < *lastStamp) {
        // A clock set back: from now on time ranges are checked row by row (archive_state.ordered).
        if (auto cleared = runStatement(db, "UPDATE archive_state SET ordered = 0"); !cleared) {
            return cleared.error();
        }
        lastStamp.reset();
    } else if (lastStamp) {
        lastStamp = message.stamp;
    }
    auto counted =
        db.statement("UPDATE archive_owners SET count = count + 1 WHERE owner = ?1 RETURNING count");
    if (!counted) {
        return counted.error();
    }
    counted->bindInt64(1, owner);
    auto stored = selectInt(*counted);
    if (!stored) {
        return stored.error();
    }
    if (pending.maxPerUser == 0) {
        return {};
    }
    // The quota: the oldest messages beyond it go (the trigger of 0012_archive_owners.sql counts them).
    const auto excess = stored->value_or(0) - static_cast<std::int64_t>(pending.maxPerUser);
    if (excess <= 0) {
        return {};
    }
    auto trim = db.statement(
        "DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE owner = ?1 ORDER BY seq LIMIT ?2)");
    if (!trim) {
        return trim.error();
    }
    trim->bindInt64(1, owner).bindInt64(2, excess);
    return trim->run();
}

// Full-text indexing behind the watermark archive_state.indexed: adds the messages after it, at most
// `limit` of them, in this transaction. Returns how many seqs it covered (0: up to date).
Result<std::int64_t, StorageError> indexText(SqliteDatabase& db, std::int64_t limit) {
    auto state = readState(db);
    if (!state) {
        return state.error();
    }
    auto newest = db.statement("SELECT max(seq) FROM archive");
    if (!newest) {
        return newest.error();
    }
    auto last = selectInt(*newest);
    if (!last) {
        return last.error();
    }
    const std::int64_t newestSeq = last->value_or(0);
    const std::int64_t upTo = newestSeq - state->indexed > limit ? state->indexed + limit : newestSeq;
    if (upTo <= state->indexed) {
        return 0;
    }
    auto add = db.statement(
        "INSERT INTO archive_text (rowid, owner, body) SELECT seq, 'o' || owner, body FROM archive "
        "WHERE seq > ?1 AND seq <= ?2");
    if (!add) {
        return add.error();
    }
    add->bindInt64(1, state->indexed).bindInt64(2, upTo);
    if (auto done = add->run(); !done) {
        return done.error();
    }
    auto mark = db.statement("UPDATE archive_state SET indexed = ?1");
    if (!mark) {
        return mark.error();
    }
    mark->bindInt64(1, upTo);
    if (auto done = mark->run(); !done) {
        return done.error();
    }
    return upTo - state->indexed;
}

// The FTS5 query for `text` in one archive: the owner's token (as indexText writes it) and each word
// as a quoted string in the body, all required.
std::string matchExpression(std::int64_t owner, const std::vector<std::string>& words) {
    std::string expression = "owner : o" + std::to_string(owner);
    for (const std::string& word : words) {
        expression += " AND body : \"";
        for (const char c : word) {
            expression += c;
            if (c == '"')
                expression += '"';
        }
        expression += '"';
    }
    return expression;
}

// The first seq whose stamp is >= `start` (forwards), or the last whose stamp is <= `end`, found in
// archive_by_age; only meaningful while the stamps are ordered. nullopt: there is none.
Result<std::optional<std::int64_t>, StorageError> seqAtStamp(SqliteDatabase& db, std::int64_t stamp,
                                                             bool forwards) {
    auto select =
        db.statement(forwards ? "SELECT seq FROM archive WHERE stamp >= ?1 ORDER BY stamp, seq LIMIT 1"
                              : "SELECT seq FROM archive WHERE stamp <= ?1 ORDER BY stamp DESC, seq "
                                "DESC LIMIT 1");
    if (!select) {
        return select.error();
    }
    select->bindInt64(1, stamp);
    return selectInt(*select);
}

Result<ArchivePage, StorageError> selectPage(SqliteDatabase& db, std::int64_t owner,
                                             const ArchiveQuery& query) {
    // The ids the query names must exist (XEP-0313 §4.1.1: item-not-found), resolved to seqs.
    std::optional<std::int64_t> afterSeq;
    std::optional<std::int64_t> beforeSeq;
    std::string filters = " WHERE owner = ?";
    std::vector<Param> params{owner};
    // The form's bounds are filters (they change the count); RSM's are the page's position.
    const std::pair<const std::optional<std::string>*, const char*> formBounds[] = {
        {&query.afterId, " AND seq > ?"}, {&query.beforeId, " AND seq < ?"}};
    for (const auto& [id, op] : formBounds) {
        if (!*id)
            continue;
        auto seq = seqOf(db, owner, **id);
        if (!seq) {
            return seq.error();
        }
        filters += op;
        params.emplace_back(*seq);
    }
    const std::pair<const std::optional<std::string>*, std::optional<std::int64_t>*> pageBounds[] = {
        {&query.after, &afterSeq}, {&query.before, &beforeSeq}};
    for (const auto& [id, seqOut] : pageBounds) {
        if (!*id || (*id)->empty())
            continue;  // an empty <before/> is the last page, not an id
        auto seq = seqOf(db, owner, **id);
        if (!seq) {
            return seq.error();
        }
        *seqOut = *seq;
    }
    if (query.with) {
        filters += " AND with_bare = ?";
        params.emplace_back(*query.with);
        if (query.withResource) {
            filters += " AND with_resource = ?";
            params.emplace_back(*query.withResource);
        }
    }
    if (query.ids) {
        // Each id must exist, and is resolved to its seq: "seq IN (...)" is a lookup per id in
        // archive_by_owner. One statement for any number of ids: the seqs as a JSON array (json_each).
        std::string array = "[";
        for (const std::string& id : *query.ids) {
            auto seq = seqOf(db, owner, id);
            if (!seq) {
                return seq.error();
            }
            array += (array.size() > 1 ? "," : "") + std::to_string(*seq);
        }
        array += ']';
        filters += " AND seq IN (SELECT value FROM json_each(?))";
        params.emplace_back(std::move(array));
    }
    const std::vector<std::string> words = archiveWords(query.text);
    if (!words.empty()) {
        filters += " AND seq IN (SELECT rowid FROM archive_text WHERE archive_text MATCH ?)";
        params.emplace_back(matchExpression(owner, words));
    }
    if (query.start || query.end) {
        auto state = readState(db);
        if (!state) {
            return state.error();
        }
        for (const auto& [bound, forwards] : {std::pair{&query.start, true}, std::pair{&query.end, false}}) {
            if (!*bound)
                continue;
            if (!state->ordered) {
                // Stamps out of order (a clock set back): each message's stamp is checked.
                filters += forwards ? " AND +stamp >= ?" : " AND +stamp <= ?";
                params.emplace_back(**bound);
                continue;
            }
            // Stamps ordered: the range is a seq range, read from the one index on stamps, so counts
            // and pages stay on the owner's indexes.
            auto edge = seqAtStamp(db, **bound, forwards);
            if (!edge) {
                return edge.error();
            }
            filters += forwards ? " AND seq >= ?" : " AND seq <= ?";
            params.emplace_back(edge->value_or(forwards ? std::numeric_limits<std::int64_t>::max() : 0));
        }
    }

    // The same filters count what precedes the page (XEP-0059 §2.4 <first index/>).
    auto countMatching = [&](const std::string& extra,
                             const std::vector<Param>& values) -> Result<std::size_t, StorageError> {
        auto count = prepare(db, "SELECT count(*) FROM archive" + filters + extra, values);
        if (!count) {
            return count.error();
        }
        const int rc = count->step();
        if (rc != SQLITE_ROW) {
            return toStorageError(rc);
        }
        return static_cast<std::size_t>(count->columnInt64(0));
    };

    ArchivePage page;
    if (params.size() == 1) {
        // No filter: the count archive_owners keeps, instead of counting the archive.
        auto stored = db.statement("SELECT count FROM archive_owners WHERE owner = ?1");
        if (!stored) {
            return stored.error();
        }
        stored->bindInt64(1, owner);
        auto count = selectInt(*stored);
        if (!count) {
            return count.error();
        }
        page.count = static_cast<std::size_t>(count->value_or(0));
    } else {
        auto count = countMatching("", params);
        if (!count) {
            return count.error();
        }
        page.count = *count;
    }
    const std::vector<Param> filterParams = params;

    // One more row than the page shows tells whether another page follows (XEP-0313 §4.3 complete).
    const bool backwards = query.before.has_value();
    std::string sql = "SELECT id, stamp, with_bare, with_resource, xml, body, seq FROM archive" + filters;
    if (backwards && beforeSeq) {
        sql += " AND seq < ?";
        params.emplace_back(*beforeSeq);
    } else if (!backwards && afterSeq) {
        sql += " AND seq > ?";
        params.emplace_back(*afterSeq);
    }
    sql += backwards ? " ORDER BY seq DESC LIMIT ?" : " ORDER BY seq LIMIT ?";
    params.emplace_back(static_cast<std::int64_t>(std::min<std::size_t>(query.max, 1u << 20)) + 1);
    auto select = prepare(db, sql, params);
    if (!select) {
        return select.error();
    }
    std::int64_t firstSeq = 0;  // of the page's first message in archive order
    for (;;) {
        const int rc = select->step();
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            return toStorageError(rc);
        }
        ArchivedMessage message;
        message.id = select->columnText(0);
        message.stamp = select->columnInt64(1);
        message.with = select->columnText(2);
        message.withResource = select->columnText(3);
        message.xml = select->columnText(4);
        message.text = select->columnText(5);
        page.messages.push_back(std::move(message));
        // Forwards the first row is the page's first; backwards the last kept one is.
        if (page.messages.size() == 1 || (backwards && page.messages.size() <= query.max))
            firstSeq = select->columnInt64(6);
    }
    page.complete = page.messages.size() <= query.max;
    if (!page.complete)
        page.messages.pop_back();
    if (backwards)
        std::reverse(page.messages.begin(), page.messages.end());
    // Where the page starts among all that match: known without counting for the first and the last
    // page, else counted with the same filters.
    if (page.messages.empty() || (!backwards && !afterSeq)) {
        page.firstIndex = 0;
    } else if (backwards && !beforeSeq) {
        page.firstIndex = page.count - page.messages.size();
    } else {
        std::vector<Param> values = filterParams;
        values.emplace_back(firstSeq);
        auto before = countMatching(" AND seq < ?", values);
        if (!before) {
            return before.error();
        }
        page.firstIndex = *before;
    }
    return page;
}

// A page of an archive that was never written to: empty, unless the query names ids (item-not-found).
Result<ArchivePage, StorageError> emptyPage(const ArchiveQuery& query) {
    const bool namesIds = query.afterId || query.beforeId || (query.after && !query.after->empty()) ||
                          (query.before && !query.before->empty()) || (query.ids && !query.ids->empty());
    if (namesIds) {
        return StorageError::NotFound;
    }
    ArchivePage page;
    page.complete = true;
    return page;
}

}  // namespace

Result<void, StorageError> deleteArchiveOf(SqliteDatabase& db, const std::string& host,
                                           const std::string& username) {
    return runForUser(db,
                      {"DELETE FROM archive WHERE owner = (SELECT owner FROM archive_owners WHERE host = ?1 "
                       "AND username = ?2)",
                       "DELETE FROM archive_owners WHERE host = ?1 AND username = ?2"},
                      host, username);
}

StoreResult<void> SqliteArchiveStore::append(std::string host, std::string username, ArchivedMessage message,
                                             std::size_t maxPerUser) {
    const std::uint64_t ticket =
        appends_.enqueue(PendingAppend{std::move(host), std::move(username), std::move(message), maxPerUser});
    // The job runs after every message queued before it, so its own is committed by it or by an
    // earlier job of the same group.
    return worker_.runOnWorker(
        [this, ticket] { return appends_.take(ticket, [this](auto& group) { return commitGroup(group); }); });
}

std::vector<Result<void, StorageError>> SqliteArchiveStore::commitGroup(
    const std::vector<PendingAppend>& group) {
    std::vector<Result<void, StorageError>> outcomes(group.size());
    auto committed = inTransaction(db_, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        auto state = readState(db_);
        if (!state) {
            return state.error();
        }
        // While the stamps are ordered, the newest message's stamp (the largest) is what the next must
        // not go below.
        std::optional<std::int64_t> lastStamp;
        if (state->ordered) {
            auto newest = db_.statement("SELECT stamp FROM archive ORDER BY seq DESC LIMIT 1");
            if (!newest) {
                return newest.error();
            }
            auto stamp = selectInt(*newest);
            if (!stamp) {
                return stamp.error();
            }
            lastStamp = stamp->value_or(std::numeric_limits<std::int64_t>::min());
        }
        // Owners looked up once per group.
        std::unordered_map<std::string, std::int64_t> owners;
        for (std::size_t i = 0; i < group.size(); ++i) {
            const PendingAppend& pending = group[i];
            std::string key = pending.host + '\n' + pending.username;
            auto known = owners.find(key);
            if (known == owners.end()) {
                auto owner = ownerFor(db_, pending.host, pending.username);
                if (!owner) {
                    return owner.error();
                }
                known = owners.emplace(std::move(key), *owner).first;
            }
            bool duplicate = false;
            if (auto inserted = insertOne(db_, pending, known->second, lastStamp, duplicate); !inserted) {
                return inserted.error();
            }
            if (duplicate)
                outcomes[i] = StorageError::AlreadyExists;  // fails this message only
            else
                newestSeq_ = db_.lastInsertRowid();  // the archive row's (triggers restore it)
        }
        return {};
    });
    if (!committed) {
        // Any other error fails the whole group.
        for (auto& outcome : outcomes)
            outcome = committed.error();
        return outcomes;
    }
    indexTextInBackground();
    return outcomes;
}

void SqliteArchiveStore::indexTextInBackground() {
    // Full-text indexing in large batches, off the appends' transactions: one FTS5 insert of many
    // rows costs far less per row than one per message. A failure leaves the watermark where it was,
    // and the next batch (or a full-text query) tries again.
    constexpr std::int64_t kBatch = 8192;
    const std::int64_t newest = newestSeq_;
    if (newest - indexedUpTo_ < kBatch) {
        return;
    }
    auto indexed =
        inTransaction(db_, SqliteTransaction::Mode::Write, [&]() -> Result<std::int64_t, StorageError> {
            auto state = readState(db_);
            if (!state) {
                return state.error();
            }
            indexedUpTo_ = state->indexed;
            if (newest - indexedUpTo_ < kBatch) {
                return 0;
            }
            return indexText(db_, kBatch);
        });
    if (indexed) {
        indexedUpTo_ += *indexed;
    }
}

StoreResult<ArchivePage> SqliteArchiveStore::query(std::string host, std::string username,
                                                   ArchiveQuery query) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username),
                                query = std::move(query)] {
        // A full-text query first indexes what the batches have not (archive_state.indexed).
        if (!archiveWords(query.text).empty()) {
            auto indexed = inTransaction(db, SqliteTransaction::Mode::Write, [&] {
                return indexText(db, std::numeric_limits<std::int64_t>::max());
            });
            if (!indexed) {
                return Result<ArchivePage, StorageError>(indexed.error());
            }
        }
        // A read transaction: the count and the page see the same archive.
        return inTransaction(db, SqliteTransaction::Mode::Read, [&]() -> Result<ArchivePage, StorageError> {
            auto owner = ownerOf(db, host, username);
            if (!owner) {
                return owner.error();
            }
            if (!*owner) {
                return emptyPage(query);
            }
            return selectPage(db, **owner, query);
        });
    });
}

StoreResult<std::size_t> SqliteArchiveStore::removeOlderThan(std::int64_t stamp) {
    // In chunks, each its own job and transaction, so that removing a year of every user's messages
    // never holds the worker (and every other storage call) for long: appends and queries run between.
    constexpr std::int64_t kChunk = 2000;
    std::size_t removed = 0;
    for (;;) {
        auto work = [&db = db_, stamp] {
            return inTransaction(db, SqliteTransaction::Mode::Write,
                                 [&]() -> Result<std::size_t, StorageError> {
                                     auto remove = db.statement(
                                         "DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE "
                                         "stamp < ?1 LIMIT ?2)");
                                     if (!remove) {
                                         return remove.error();
                                     }
                                     remove->bindInt64(1, stamp).bindInt64(2, kChunk);
                                     if (auto done = remove->run(); !done) {
                                         return done.error();
                                     }
                                     return static_cast<std::size_t>(db.changes());
                                 });
        };
        // Named, not a temporary in the co_await (docs/STYLE.md rule 16b).
        auto chunk = co_await worker_.runOnWorker(std::move(work));
        if (!chunk) {
            co_return chunk.error();
        }
        removed += *chunk;
        if (*chunk < static_cast<std::size_t>(kChunk)) {
            co_return removed;
        }
    }
}

StoreResult<void> SqliteArchiveStore::removeAll(std::string host, std::string username) {
    return worker_.runOnWorker([&db = db_, host = std::move(host), username = std::move(username)] {
        return inTransaction(db, SqliteTransaction::Mode::Write,
                             [&] { return deleteArchiveOf(db, host, username); });
    });
}

}  // namespace parley::storage
