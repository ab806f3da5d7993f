// SqliteArchiveStore: tables archive, archive_counts and the FTS5 table archive_text
// (migrations/sqlite/0007_archive.sql, docs/storage.md "Message archive").
#include <sqlite3.h>

#include <algorithm>
#include <string_view>
#include <utility>
#include <variant>

#include "archive_words.h"
#include "sqlite/sqlite_storage.h"

namespace parley::storage {

namespace {

using Param = std::variant<std::int64_t, std::string>;

// The seq of the message `id` in this archive; NotFound when there is none.
Result<std::int64_t, StorageError> seqOf(SqliteDatabase& db, const std::string& host,
                                         const std::string& username, const std::string& id) {
    auto select = db.statement("SELECT seq FROM archive WHERE host = ?1 AND username = ?2 AND id = ?3");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username).bindText(3, id);
    const int rc = select->step();
    if (rc == SQLITE_DONE) {
        return StorageError::NotFound;
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return select->columnInt64(0);
}

Result<std::int64_t, StorageError> storedCount(SqliteDatabase& db, const std::string& host,
                                               const std::string& username) {
    auto select = db.statement("SELECT count FROM archive_counts WHERE host = ?1 AND username = ?2");
    if (!select) {
        return select.error();
    }
    select->bindText(1, host).bindText(2, username);
    const int rc = select->step();
    if (rc == SQLITE_DONE) {
        return 0;
    }
    if (rc != SQLITE_ROW) {
        return toStorageError(rc);
    }
    return select->columnInt64(0);
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

// One queued append inside the group's transaction. AlreadyExists (the id is taken) fails only this
// message; any other error fails the whole group.
Result<void, StorageError> insertOne(SqliteDatabase& db, const SqliteArchiveStore::PendingAppend& pending,
                                     bool& duplicate) {
    auto insert = db.statement(
        "INSERT INTO archive (host, username, id, stamp, with_bare, with_resource, xml, body) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (host, username, id) DO NOTHING");
    if (!insert) {
        return insert.error();
    }
    const ArchivedMessage& message = pending.message;
    insert->bindText(1, pending.host)
        .bindText(2, pending.username)
        .bindText(3, message.id)
        .bindInt64(4, message.stamp)
        .bindText(5, message.with)
        .bindText(6, message.withResource)
        .bindText(7, message.xml)
        .bindText(8, message.text);
    if (auto done = insert->run(); !done) {
        return done.error();
    }
    duplicate = db.changes() == 0;
    if (duplicate || pending.maxPerUser == 0) {
        return {};
    }
    // The quota: the oldest messages beyond it go (archive_counts is kept by the triggers).
    auto stored = storedCount(db, pending.host, pending.username);
    if (!stored) {
        return stored.error();
    }
    const auto excess = *stored - static_cast<std::int64_t>(pending.maxPerUser);
    if (excess <= 0) {
        return {};
    }
    auto trim = db.statement(
        "DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE host = ?1 AND username = ?2 "
        "ORDER BY seq LIMIT ?3)");
    if (!trim) {
        return trim.error();
    }
    trim->bindText(1, pending.host).bindText(2, pending.username).bindInt64(3, excess);
    return trim->run();
}

// The FTS5 query for `text` in one user's archive: the user's owner token (as the triggers of
// 0007_archive.sql write it) and each word as a quoted string in the body, all required.
std::string matchExpression(const std::string& host, const std::string& username,
                            const std::vector<std::string>& words) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string expression = "owner : o";
    for (const char c : host + "\n" + username) {
        expression += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
        expression += kHex[static_cast<unsigned char>(c) & 0xf];
    }
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

Result<ArchivePage, StorageError> selectPage(SqliteDatabase& db, const std::string& host,
                                             const std::string& username, const ArchiveQuery& query) {
    // The ids the query names must exist (XEP-0313 §4.1.1: item-not-found), resolved to seqs.
    std::optional<std::int64_t> afterSeq;
    std::optional<std::int64_t> beforeSeq;
    std::string filters = " WHERE host = ? AND username = ?";
    std::vector<Param> params{host, username};
    // The form's bounds are filters (they change the count); RSM's are the page's position.
    const std::pair<const std::optional<std::string>*, const char*> formBounds[] = {
        {&query.afterId, " AND seq > ?"}, {&query.beforeId, " AND seq < ?"}};
    for (const auto& [id, op] : formBounds) {
        if (!*id)
            continue;
        auto seq = seqOf(db, host, username, **id);
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
        auto seq = seqOf(db, host, username, **id);
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
        // archive_by_owner, where "id IN (...)" made SQLite walk the whole archive of the user.
        // One statement for any number of ids: the seqs as a JSON array (SQLite's json_each).
        std::string array = "[";
        for (const std::string& id : *query.ids) {
            auto seq = seqOf(db, host, username, id);
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
        params.emplace_back(matchExpression(host, username, words));
    }
    // A time range: the count reads the stamps in an index (archive_by_stamp, archive_by_with_stamp).
    // The page reads messages in archive order, between the first and the last seq whose stamp is in
    // the range (from the same index), and checks the stamp of each (`+stamp` keeps SQLite from
    // sorting the whole range by seq): stamps grow with seq, so it reads about one page of messages.
    // Every message in the range lies between those seqs, so the page is exact whatever the stamps.
    std::string pageFilters = filters;
    std::vector<Param> pageParams = params;
    if (query.start || query.end) {
        std::string range = " WHERE host = ? AND username = ?";
        std::vector<Param> rangeParams{host, username};
        for (const auto& [bound, op] : {std::pair{&query.start, " >= ?"}, std::pair{&query.end, " <= ?"}}) {
            if (!*bound)
                continue;
            filters += std::string(" AND stamp") + op;
            params.emplace_back(**bound);
            pageFilters += std::string(" AND +stamp") + op;
            pageParams.emplace_back(**bound);
            range += std::string(" AND stamp") + op;
            rangeParams.emplace_back(**bound);
        }
        // Only the edge the page is read from matters (the stamps are checked anyway), and only when
        // the range has that end: each edge costs a walk over the range's index entries.
        const bool backwards = query.before.has_value();
        if ((backwards && query.end) || (!backwards && query.start)) {
            pageFilters += backwards ? " AND seq <= (SELECT max(seq) FROM archive"
                                     : " AND seq >= (SELECT min(seq) FROM archive";
            pageFilters += range + ")";
            pageParams.insert(pageParams.end(), rangeParams.begin(), rangeParams.end());
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
    if (params.size() == 2) {
        // No filter: the count the triggers keep, instead of counting the archive.
        auto stored = storedCount(db, host, username);
        if (!stored) {
            return stored.error();
        }
        page.count = static_cast<std::size_t>(*stored);
    } else {
        // A COUNT over an index that holds every filtered column (0010_archive_count_index.sql), so it
        // reads index entries only, never the messages.
        auto count = countMatching("", params);
        if (!count) {
            return count.error();
        }
        page.count = *count;
    }
    const std::vector<Param> filterParams = params;
    params = std::move(pageParams);

    // One more row than the page shows tells whether another page follows (XEP-0313 §4.3 complete).
    const bool backwards = query.before.has_value();
    std::string sql = "SELECT id, stamp, with_bare, with_resource, xml, body, seq FROM archive" + pageFilters;
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
    // page, else counted over the same index as the count.
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

}  // namespace

Result<void, StorageError> deleteArchiveOf(SqliteDatabase& db, const std::string& host,
                                           const std::string& username) {
    return runForUser(db,
                      {"DELETE FROM archive WHERE host = ?1 AND username = ?2",
                       "DELETE FROM archive_counts WHERE host = ?1 AND username = ?2"},
                      host, username);
}

StoreResult<void> SqliteArchiveStore::append(std::string host, std::string username, ArchivedMessage message,
                                             std::size_t maxPerUser) {
    std::uint64_t ticket = 0;
    {
        std::lock_guard lock(queueMutex_);
        ticket = ++nextTicket_;
        queued_.push_back(
            PendingAppend{ticket, std::move(host), std::move(username), std::move(message), maxPerUser});
    }
    // The job runs after every message queued before it, so its own is committed by it or by an
    // earlier job of the same group.
    return worker_.runOnWorker([this, ticket] { return commitQueued(ticket); });
}

Result<void, StorageError> SqliteArchiveStore::commitQueued(std::uint64_t ticket) {
    if (auto ready = results_.find(ticket); ready != results_.end()) {
        auto result = std::move(ready->second);
        results_.erase(ready);
        return result;
    }
    std::vector<PendingAppend> group;
    {
        std::lock_guard lock(queueMutex_);
        group.swap(queued_);
    }
    std::vector<std::uint64_t> duplicates;
    auto committed = inTransaction(db_, SqliteTransaction::Mode::Write, [&]() -> Result<void, StorageError> {
        for (const PendingAppend& pending : group) {
            bool duplicate = false;
            if (auto inserted = insertOne(db_, pending, duplicate); !inserted) {
                return inserted.error();
            }
            if (duplicate)
                duplicates.push_back(pending.ticket);
        }
        return {};
    });
    commits_.fetch_add(1);
    for (const PendingAppend& pending : group) {
        Result<void, StorageError> result;
        if (!committed)
            result = committed.error();
        else if (std::find(duplicates.begin(), duplicates.end(), pending.ticket) != duplicates.end())
            result = StorageError::AlreadyExists;
        results_.emplace(pending.ticket, std::move(result));
    }
    auto own = results_.find(ticket);
    if (own == results_.end()) {
        return StorageError::Unavailable;  // cannot happen: the message was queued before its job
    }
    auto result = std::move(own->second);
    results_.erase(own);
    return result;
}

StoreResult<ArchivePage> SqliteArchiveStore::query(std::string host, std::string username,
                                                   ArchiveQuery query) {
    return worker_.runOnWorker(
        [&db = db_, host = std::move(host), username = std::move(username), query = std::move(query)] {
            // A read transaction: the count and the page see the same archive.
            return inTransaction(db, SqliteTransaction::Mode::Read,
                                 [&] { return selectPage(db, host, username, query); });
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
