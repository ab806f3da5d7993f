// The message archive's part of the storage conformance suite (docs/storage.md "Message archive"):
// every backend passes these same cases (docs/STYLE.md rule 10).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "parley/storage/storage.h"
#include "sqlite/sqlite_storage.h"
#include "test_support.h"

namespace parley::storage::test {
namespace {

ArchivedMessage archived(std::string id, std::int64_t stamp, std::string with = "romeo@example.org",
                         std::string text = "", std::string resource = "") {
    ArchivedMessage message;
    message.id = id;
    message.stamp = stamp;
    message.with = std::move(with);
    message.withResource = std::move(resource);
    message.xml = "<message id='" + id + "'><body>" + text + "</body></message>";
    message.text = std::move(text);
    return message;
}

std::vector<std::string> idsOf(const ArchivePage& page) {
    std::vector<std::string> ids;
    for (const auto& message : page.messages)
        ids.push_back(message.id);
    return ids;
}

using Ids = std::vector<std::string>;

asio::awaitable<bool> appendOne(ArchiveStore* archive, std::string id) {
    auto appended = co_await archive->append("example.org", "juliet", archived(std::move(id), 1000), 0);
    co_return appended.has_value();
}

// Spawns appends of `ids` on `io`, all in flight at once; counts the successful ones in `succeeded`.
void spawnAppends(asio::io_context& io, ArchiveStore& archive, const std::vector<std::string>& ids,
                  std::atomic<int>& succeeded) {
    for (const std::string& id : ids) {
        asio::co_spawn(io, appendOne(&archive, id), [&succeeded](std::exception_ptr error, bool ok) {
            if (!error && ok)
                ++succeeded;
        });
    }
}

template <class Backend>
class ArchiveConformance : public ::testing::Test {
  protected:
    template <class T>
    T run(asio::awaitable<T> task) {
        return runSync(io_, std::move(task));
    }
    ArchiveStore& archive() { return storage_->archive(); }

    void append(ArchivedMessage message, std::string user = "juliet", std::size_t maxPerUser = 0) {
        auto appended = run(archive().append("example.org", std::move(user), std::move(message), maxPerUser));
        ASSERT_TRUE(appended) << toString(appended.error());
    }
    // Appends m0..m(n-1), stamps 1000, 2000, ...
    void appendNumbered(int n, std::string user = "juliet") {
        for (int i = 0; i < n; ++i)
            append(archived("m" + std::to_string(i), 1000 * (i + 1)), user);
    }
    ArchivePage page(ArchiveQuery query, std::string user = "juliet") {
        auto found = run(archive().query("example.org", std::move(user), std::move(query)));
        EXPECT_TRUE(found) << toString(found.error());
        return found ? std::move(*found) : ArchivePage{};
    }
    static ArchiveQuery all(std::size_t max = 100) {
        ArchiveQuery query;
        query.max = max;
        return query;
    }

    asio::io_context io_;
    Backend backend_;
    std::unique_ptr<Storage> storage_ = backend_.open();
};

TYPED_TEST_SUITE_P(ArchiveConformance);

TYPED_TEST_P(ArchiveConformance, MessagesComeBackInArchiveOrderWithEveryField) {
    const auto empty = this->page(this->all());
    EXPECT_TRUE(empty.messages.empty());
    EXPECT_EQ(empty.count, 0u);
    EXPECT_TRUE(empty.complete);

    // Archive order is insertion order, whatever the stamps say.
    this->append(archived("b", 2000, "romeo@example.org", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x8c\xb9", "orchard"));
    this->append(archived("a", 1000, "nurse@example.com"));
    const auto found = this->page(this->all());
    ASSERT_EQ(idsOf(found), (Ids{"b", "a"}));
    EXPECT_EQ(found.count, 2u);
    EXPECT_TRUE(found.complete);
    const ArchivedMessage& first = found.messages[0];
    EXPECT_EQ(first.stamp, 2000);
    EXPECT_EQ(first.with, "romeo@example.org");
    EXPECT_EQ(first.withResource, "orchard");
    EXPECT_EQ(first.text, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x8c\xb9");
    EXPECT_EQ(first.xml, archived("b", 0, "", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x8c\xb9").xml);
    EXPECT_EQ(found.messages[1].withResource, "");
}

TYPED_TEST_P(ArchiveConformance, ATakenIdIsAlreadyExistsInThatArchiveOnly) {
    this->append(archived("same", 1000));
    auto again = this->run(this->archive().append("example.org", "juliet", archived("same", 2000), 0));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), StorageError::AlreadyExists);
    this->append(archived("same", 3000), "romeo");  // another user's archive
    EXPECT_EQ(this->page(this->all()).count, 1u);
    EXPECT_EQ(this->page(this->all(), "romeo").count, 1u);
}

TYPED_TEST_P(ArchiveConformance, FiltersByWithResourceTimeIdsAndText) {
    this->append(archived("r1", 1000, "romeo@example.org", "Wherefore art thou", "orchard"));
    this->append(archived("n1", 2000, "nurse@example.org", "Madam, your mother"));
    this->append(archived("r2", 3000, "romeo@example.org", "By a name I know not how", "balcony"));
    this->append(archived("r3", 4000, "romeo@example.org", "ART and name"));

    ArchiveQuery query = this->all();
    query.with = "romeo@example.org";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"r1", "r2", "r3"}));
    query.withResource = "balcony";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"r2"}));

    query = this->all();
    query.start = 2000;  // inclusive
    query.end = 3000;    // inclusive
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"n1", "r2"}));
    EXPECT_EQ(this->page(query).count, 2u);

    query = this->all();
    query.ids = Ids{"r3", "n1"};
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"n1", "r3"}));
    query.with = "nurse@example.org";  // the other filters still apply
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"n1"}));
    query.with.reset();
    query.ids = Ids{};
    EXPECT_EQ(idsOf(this->page(query)), Ids{});

    // Full text: every word, case-insensitively, as whole words; punctuation separates them. Only this
    // user's messages count.
    this->append(archived("other", 1000, "juliet@example.org", "art name"), "romeo");
    query = this->all();
    query.text = "art";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"r1", "r3"}));
    query.text = "NAME, art!";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"r3"}));
    query.text = "nam";
    EXPECT_EQ(idsOf(this->page(query)), Ids{});
    query.text = "name";
    query.with = "romeo@example.org";
    query.end = 3000;
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"r2"}));
    EXPECT_EQ(this->page(query).count, 1u);
}

TYPED_TEST_P(ArchiveConformance, AfterIdAndBeforeIdAreExclusiveBounds) {
    this->appendNumbered(5);
    ArchiveQuery query = this->all();
    query.afterId = "m1";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m2", "m3", "m4"}));
    query.beforeId = "m4";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m2", "m3"}));
    EXPECT_EQ(this->page(query).count, 2u);
    query.afterId.reset();
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m0", "m1", "m2", "m3"}));
}

TYPED_TEST_P(ArchiveConformance, PagesForwardAndBackwardWithCountAndComplete) {
    this->appendNumbered(7);
    ArchiveQuery query = this->all(3);
    auto first = this->page(query);
    EXPECT_EQ(idsOf(first), (Ids{"m0", "m1", "m2"}));
    EXPECT_EQ(first.count, 7u);
    EXPECT_EQ(first.firstIndex, 0u);  // XEP-0059 §2.4: where the page starts among all matches
    EXPECT_FALSE(first.complete);
    query.after = "m2";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m3", "m4", "m5"}));
    EXPECT_EQ(this->page(query).firstIndex, 3u);
    EXPECT_FALSE(this->page(query).complete);
    query.after = "m5";
    auto last = this->page(query);
    EXPECT_EQ(idsOf(last), (Ids{"m6"}));
    EXPECT_TRUE(last.complete);
    EXPECT_EQ(last.count, 7u);
    EXPECT_EQ(last.firstIndex, 6u);
    query.after = "m4";  // exactly the rest: complete
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m5", "m6"}));
    EXPECT_TRUE(this->page(query).complete);

    // Backwards: before "" is the last page; each page comes in archive order.
    query = this->all(3);
    query.before = "";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m4", "m5", "m6"}));
    EXPECT_FALSE(this->page(query).complete);
    EXPECT_EQ(this->page(query).firstIndex, 4u);
    query.before = "m4";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m1", "m2", "m3"}));
    EXPECT_EQ(this->page(query).firstIndex, 1u);
    query.before = "m1";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m0"}));
    EXPECT_EQ(this->page(query).firstIndex, 0u);
    EXPECT_TRUE(this->page(query).complete);
    EXPECT_EQ(this->page(query).count, 7u);

    // With a filter, paging counts only what matches; the page bound may be a message it skips.
    query = this->all(2);
    query.start = 3000;
    query.after = "m0";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m2", "m3"}));
    EXPECT_EQ(this->page(query).count, 5u);
    EXPECT_EQ(this->page(query).firstIndex, 0u);
    query.after = "m2";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m3", "m4"}));
    EXPECT_EQ(this->page(query).firstIndex, 1u);  // only m2 matches before it
    query.after.reset();
    query.before = "m6";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"m4", "m5"}));
    EXPECT_EQ(this->page(query).firstIndex, 2u);

    // max 0: only the count (XEP-0059 §2.7).
    query = this->all(0);
    auto counted = this->page(query);
    EXPECT_TRUE(counted.messages.empty());
    EXPECT_EQ(counted.count, 7u);
}

// Stamps need not grow with the archive order (a clock set back): a time range still finds exactly
// the messages in it, in archive order, page by page, with the right count and first index.
TYPED_TEST_P(ArchiveConformance, ATimeRangeIsExactWhenStampsAreOutOfOrder) {
    for (const auto& [id, stamp] : std::vector<std::pair<std::string, std::int64_t>>{
             {"a", 5000}, {"b", 1000}, {"c", 3000}, {"d", 9000}, {"e", 2000}, {"f", 4000}, {"g", 1500}})
        this->append(archived(id, stamp));
    ArchiveQuery query = this->all(2);
    query.start = 2000;
    query.end = 5000;
    auto first = this->page(query);
    EXPECT_EQ(idsOf(first), (Ids{"a", "c"}));
    EXPECT_EQ(first.count, 4u);
    EXPECT_FALSE(first.complete);
    query.after = "c";
    auto second = this->page(query);
    EXPECT_EQ(idsOf(second), (Ids{"e", "f"}));
    EXPECT_EQ(second.firstIndex, 2u);
    EXPECT_TRUE(second.complete);
    query.after.reset();
    query.before = "";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"e", "f"}));
    query.before = "e";
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"a", "c"}));
    // Together with the ids filter.
    query = this->all();
    query.start = 1000;
    query.end = 3000;
    query.ids = std::vector<std::string>{"g", "c", "d"};
    EXPECT_EQ(idsOf(this->page(query)), (Ids{"c", "g"}));
}

TYPED_TEST_P(ArchiveConformance, UnknownIdsAreNotFound) {
    this->appendNumbered(2);
    this->append(archived("romeos", 1000), "romeo");
    for (int which = 0; which < 5; ++which) {
        for (const std::string id : {"absent", "romeos"}) {  // another archive's id is unknown here
            ArchiveQuery query = this->all();
            if (which == 4)
                query.ids = Ids{"m0", id};
            else
                (which == 0   ? query.after
                 : which == 1 ? query.before
                 : which == 2 ? query.afterId
                              : query.beforeId) = id;
            auto found = this->run(this->archive().query("example.org", "juliet", query));
            ASSERT_FALSE(found) << which << " " << id;
            EXPECT_EQ(found.error(), StorageError::NotFound);
        }
    }
}

TYPED_TEST_P(ArchiveConformance, AppendBeyondTheQuotaRemovesTheOldest) {
    for (int i = 0; i < 5; ++i)
        this->append(archived("m" + std::to_string(i), 1000), "juliet", 3);
    EXPECT_EQ(idsOf(this->page(this->all())), (Ids{"m2", "m3", "m4"}));
    EXPECT_EQ(this->page(this->all()).count, 3u);
    // A trimmed id is free, and unknown to paging.
    ArchiveQuery query = this->all();
    query.after = "m0";
    EXPECT_FALSE(this->run(this->archive().query("example.org", "juliet", query)));
    // Another user's archive is not touched; 0 is no limit.
    this->appendNumbered(4, "romeo");
    this->append(archived("m5", 1000), "juliet", 0);
    EXPECT_EQ(this->page(this->all()).count, 4u);
    EXPECT_EQ(this->page(this->all(), "romeo").count, 4u);
}

TYPED_TEST_P(ArchiveConformance, RemoveOlderThanRemovesEveryUsersOldMessages) {
    this->appendNumbered(4);           // stamps 1000..4000
    this->appendNumbered(2, "romeo");  // 1000, 2000
    auto removed = this->run(this->archive().removeOlderThan(2500));
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, 4u);
    EXPECT_EQ(idsOf(this->page(this->all())), (Ids{"m2", "m3"}));
    EXPECT_EQ(this->page(this->all()).count, 2u);
    EXPECT_EQ(this->page(this->all(), "romeo").count, 0u);
    removed = this->run(this->archive().removeOlderThan(2500));
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, 0u);
}

TYPED_TEST_P(ArchiveConformance, RemoveOlderThanRemovesAnyNumberOfMessages) {
    // More than the SQLite backend removes per transaction (2000), appended all at once.
    constexpr int kOld = 4500;
    std::vector<std::string> ids;
    for (int i = 0; i < kOld; ++i)
        ids.push_back("c" + std::to_string(i));
    std::atomic<int> succeeded{0};
    spawnAppends(this->io_, this->archive(), ids, succeeded);  // stamp 1000
    this->io_.restart();
    this->io_.run();
    ASSERT_EQ(succeeded.load(), kOld);
    this->append(archived("new", 5000));
    auto removed = this->run(this->archive().removeOlderThan(2000));
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, static_cast<std::size_t>(kOld));
    EXPECT_EQ(idsOf(this->page(this->all())), (Ids{"new"}));
}

TYPED_TEST_P(ArchiveConformance, RemoveAllAndDeleteAccountRemoveOneUsersArchive) {
    this->appendNumbered(3);
    this->appendNumbered(3, "romeo");
    this->append(archived("x", 1000), "nurse");
    ASSERT_TRUE(this->run(this->archive().removeAll("example.org", "juliet")));
    EXPECT_EQ(this->page(this->all()).count, 0u);
    EXPECT_TRUE(this->page(this->all()).messages.empty());
    EXPECT_EQ(this->page(this->all(), "romeo").count, 3u);
    ASSERT_TRUE(this->run(this->archive().removeAll("example.org", "nobody")));  // nothing to remove

    Account romeo;
    romeo.host = "example.org";
    romeo.username = "romeo";
    ASSERT_TRUE(this->run(this->storage_->accounts().createAccount(romeo)));
    ASSERT_TRUE(this->run(this->storage_->accounts().deleteAccount("example.org", "romeo", 1700000000)));
    EXPECT_EQ(this->page(this->all(), "romeo").count, 0u);
    EXPECT_TRUE(this->page(this->all(), "romeo").messages.empty());
    EXPECT_EQ(this->page(this->all(), "nurse").count, 1u);
    // The ids are free again.
    this->append(archived("m0", 1000), "romeo");
}

TYPED_TEST_P(ArchiveConformance, ArchivesAreIsolatedByHostAndUser) {
    this->append(archived("j", 1000));
    auto other = this->run(this->archive().append("example.com", "juliet", archived("k", 1000), 0));
    ASSERT_TRUE(other);
    EXPECT_EQ(idsOf(this->page(this->all())), (Ids{"j"}));
    auto elsewhere = this->run(this->archive().query("example.com", "juliet", this->all()));
    ASSERT_TRUE(elsewhere);
    EXPECT_EQ(idsOf(*elsewhere), (Ids{"k"}));
    EXPECT_EQ(this->page(this->all(), "romeo").count, 0u);
}

TYPED_TEST_P(ArchiveConformance, ConcurrentAppendsFromSeveralThreadsAreAllKept) {
    constexpr int kAppends = 200;
    std::vector<std::string> ids;
    for (int i = 0; i < kAppends; ++i)
        ids.push_back("c" + std::to_string(i));
    std::atomic<int> succeeded{0};
    spawnAppends(this->io_, this->archive(), ids, succeeded);
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i)
        threads.emplace_back([this] { this->io_.run(); });
    for (auto& thread : threads)
        thread.join();
    EXPECT_EQ(succeeded.load(), kAppends);
    auto found = this->page(this->all(1000));
    EXPECT_EQ(found.count, static_cast<std::size_t>(kAppends));
    EXPECT_EQ(found.messages.size(), static_cast<std::size_t>(kAppends));
}

TYPED_TEST_P(ArchiveConformance, CallsAfterCloseAreUnavailable) {
    this->storage_->close();
    auto appended = this->run(this->archive().append("example.org", "juliet", archived("a", 1), 0));
    ASSERT_FALSE(appended);
    EXPECT_EQ(appended.error(), StorageError::Unavailable);
    auto found = this->run(this->archive().query("example.org", "juliet", this->all()));
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error(), StorageError::Unavailable);
    auto removed = this->run(this->archive().removeOlderThan(1));
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error(), StorageError::Unavailable);
    auto all = this->run(this->archive().removeAll("example.org", "juliet"));
    ASSERT_FALSE(all);
    EXPECT_EQ(all.error(), StorageError::Unavailable);
}

REGISTER_TYPED_TEST_SUITE_P(ArchiveConformance, MessagesComeBackInArchiveOrderWithEveryField,
                            ATakenIdIsAlreadyExistsInThatArchiveOnly, FiltersByWithResourceTimeIdsAndText,
                            AfterIdAndBeforeIdAreExclusiveBounds, PagesForwardAndBackwardWithCountAndComplete,
                            ATimeRangeIsExactWhenStampsAreOutOfOrder, UnknownIdsAreNotFound,
                            AppendBeyondTheQuotaRemovesTheOldest, RemoveOlderThanRemovesEveryUsersOldMessages,
                            RemoveOlderThanRemovesAnyNumberOfMessages,
                            RemoveAllAndDeleteAccountRemoveOneUsersArchive, ArchivesAreIsolatedByHostAndUser,
                            ConcurrentAppendsFromSeveralThreadsAreAllKept, CallsAfterCloseAreUnavailable);

// One line per backend.
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, ArchiveConformance, MemoryBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, ArchiveConformance, SqliteBackend);

// SQLite group commit (docs/storage.md "Message archive"): appends queued while the worker is busy
// are committed together, in one transaction, and each caller still gets its own result.
TEST(SqliteArchive, AppendsQueuedWhileTheWorkerIsBusyShareOneTransaction) {
    SqliteBackend backend;
    auto storage = backend.open();
    auto& sqlite = dynamic_cast<SqliteStorage&>(*storage);
    auto& archive = dynamic_cast<SqliteArchiveStore&>(storage->archive());
    asio::io_context io;

    // Hold the worker until every append below is queued.
    std::promise<void> release;
    auto released = release.get_future().share();
    auto blocker =
        asio::co_spawn(io, sqlite.workerForTest().runOnWorker([released]() -> Result<void, StorageError> {
            released.wait();
            return {};
        }),
                       asio::use_future);
    std::vector<std::string> ids;
    for (int i = 0; i < 100; ++i)
        ids.push_back("g" + std::to_string(i));
    ids.push_back("g7");  // a taken id fails alone, not its group
    std::atomic<int> succeeded{0};
    spawnAppends(io, archive, ids, succeeded);
    io.poll();  // each append runs up to its wait for the worker: all are queued
    const auto before = archive.appendCommitsForTest();
    release.set_value();
    io.restart();
    io.run();
    blocker.get();
    EXPECT_EQ(succeeded.load(), 100);
    EXPECT_EQ(archive.appendCommitsForTest() - before, 1u);
    auto found = runSync(io, archive.query("example.org", "juliet", ArchiveQuery{.max = 1000}));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->count, 100u);
}

}  // namespace
}  // namespace parley::storage::test
