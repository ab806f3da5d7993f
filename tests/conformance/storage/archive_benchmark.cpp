// A manual benchmark of the SQLite message archive (docs/storage.md "Message archive"), not part of
// ctest: it measures, it does not judge. On an on-disk database in a temporary folder:
//
//   1. appends per second, one at a time (each awaited before the next: one commit each) and with many
//      in flight (group commit: the appends queued while the worker commits share the next transaction);
//   2. an archive of ROWS messages (default 1,000,000) across USERS users (default 1,000), then the
//      time of typical queries of one user's archive: the last page, the next page after an id, a
//      `with` filter, a time range, full text, and ids.
//
// usage: archive_benchmark [ROWS [USERS [full]]]  (full: synchronous_full = true)
//            (build: cmake --build --preset dev --target archive_benchmark)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sqlite/sqlite_storage.h"
#include "test_support.h"

namespace parley::storage::test {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

ArchivedMessage message(std::size_t n, std::size_t users) {
    static const char* const kWords[] = {"wherefore", "art",  "thou", "romeo", "deny", "thy",   "father",
                                         "refuse",    "name", "rose", "by",    "any",  "other", "word"};
    ArchivedMessage archived;
    archived.id = "id" + std::to_string(n);
    archived.stamp = 1'700'000'000'000 + static_cast<std::int64_t>(n) * 1000;
    archived.with = "contact" + std::to_string(n % 17) + "@example.org";
    archived.withResource = "phone";
    archived.text =
        std::string(kWords[n % 14]) + " " + kWords[(n / 14) % 14] + " " + std::to_string(n % users);
    archived.xml = "<message xmlns='jabber:client' type='chat' from='" + archived.with + "/phone' id='m" +
                   std::to_string(n) + "'><body>" + archived.text + "</body></message>";
    return archived;
}

std::string userOf(std::size_t n, std::size_t users) {
    return "user" + std::to_string(n % users);
}

asio::awaitable<void> appendSequentially(ArchiveStore* archive, std::size_t from, std::size_t count,
                                         std::size_t users) {
    for (std::size_t n = from; n < from + count; ++n) {
        auto appended = co_await archive->append("example.org", userOf(n, users), message(n, users), 0);
        if (!appended)
            std::fprintf(stderr, "append failed: %s\n", std::string(toString(appended.error())).c_str());
    }
}

// `lanes` coroutines append [from, from + count) between them: `lanes` appends in flight at once.
void appendConcurrently(asio::io_context& io, ArchiveStore& archive, std::size_t from, std::size_t count,
                        std::size_t users, std::size_t lanes) {
    const std::size_t perLane = count / lanes;
    for (std::size_t lane = 0; lane < lanes; ++lane) {
        const std::size_t size = lane + 1 == lanes ? count - lane * perLane : perLane;  // the last: the rest
        asio::co_spawn(io, appendSequentially(&archive, from + lane * perLane, size, users), asio::detached);
    }
    io.restart();
    io.run();
}

template <class Query>
void timeQuery(asio::io_context& io, ArchiveStore& archive, const char* what, Query makeQuery) {
    constexpr int kRounds = 200;
    std::size_t found = 0;
    std::size_t count = 0;
    const auto start = Clock::now();
    for (int round = 0; round < kRounds; ++round) {
        auto page = runSync(io, archive.query("example.org", "user7", makeQuery()));
        if (!page) {
            std::printf("  %-42s failed: %s\n", what, std::string(toString(page.error())).c_str());
            return;
        }
        found = page->messages.size();
        count = page->count;
    }
    std::printf("  %-42s %8.3f ms  (%zu messages of %zu)\n", what, secondsSince(start) * 1000 / kRounds,
                found, count);
}

int run(std::size_t rows, std::size_t users, bool synchronousFull) {
    TempDir dir;
    auto storage = openOrThrow(
        {.backend = "sqlite", .path = dir.path() / "archive.db", .synchronousFull = synchronousFull});
    std::printf("SQLite synchronous=%s\n", synchronousFull ? "FULL (an fsync per commit)" : "NORMAL");
    auto& archive = dynamic_cast<SqliteArchiveStore&>(storage->archive());
    asio::io_context io;

    constexpr std::size_t kSequential = 2000;
    auto start = Clock::now();
    runSync(io, appendSequentially(&archive, 0, kSequential, users));
    std::printf("appends one at a time:      %8.0f per second (%zu appends)\n",
                kSequential / secondsSince(start), kSequential);

    constexpr std::size_t kConcurrent = 50000;
    const auto commitsBefore = archive.appendCommitsForTest();
    start = Clock::now();
    appendConcurrently(io, archive, kSequential, kConcurrent, users, 256);
    std::printf("appends 256 in flight:      %8.0f per second (%zu appends in %llu transactions)\n",
                kConcurrent / secondsSince(start), kConcurrent,
                static_cast<unsigned long long>(archive.appendCommitsForTest() - commitsBefore));

    const std::size_t done = kSequential + kConcurrent;
    if (rows > done) {
        start = Clock::now();
        appendConcurrently(io, archive, done, rows - done, users, 512);
        std::printf("filled to %zu messages of %zu users in %.1f s\n", rows, users, secondsSince(start));
    }

    std::printf("queries of user7's archive (%zu messages), mean of 200:\n", rows / users);
    timeQuery(io, archive, "last page of 50 (RSM <before/>)", [] {
        ArchiveQuery query;
        query.before = "";
        return query;
    });
    timeQuery(io, archive, "first page of 50", [] { return ArchiveQuery{}; });
    timeQuery(io, archive, "50 after an id in the middle", [&] {
        ArchiveQuery query;
        query.after = "id" + std::to_string(7 + users * (rows / users / 2));
        return query;
    });
    timeQuery(io, archive, "with=contact3, last page", [] {
        ArchiveQuery query;
        query.with = "contact3@example.org";
        query.before = "";
        return query;
    });
    timeQuery(io, archive, "a time range (start, end)", [&] {
        ArchiveQuery query;
        query.start = 1'700'000'000'000 + static_cast<std::int64_t>(rows / 3) * 1000;
        query.end = 1'700'000'000'000 + static_cast<std::int64_t>(rows / 2) * 1000;
        return query;
    });
    timeQuery(io, archive, "with=contact3 and a time range", [&] {
        ArchiveQuery query;
        query.with = "contact3@example.org";
        query.start = 1'700'000'000'000 + static_cast<std::int64_t>(rows / 3) * 1000;
        return query;
    });
    timeQuery(io, archive, "with=contact3, 50 before an id in the middle", [&] {
        ArchiveQuery query;
        query.with = "contact3@example.org";
        query.before = "id" + std::to_string(7 + users * (rows / users / 2));
        return query;
    });
    timeQuery(io, archive, "full text 'rose thy'", [] {
        ArchiveQuery query;
        query.text = "rose thy";
        return query;
    });
    timeQuery(io, archive, "ids (3 of them)", [&] {
        ArchiveQuery query;
        query.ids = std::vector<std::string>{"id7", "id" + std::to_string(7 + users),
                                             "id" + std::to_string(7 + 2 * users)};
        return query;
    });
    storage->close();
    return 0;
}

}  // namespace
}  // namespace parley::storage::test

int main(int argc, char** argv) {
    const std::size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
    const std::size_t users = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000;
    const bool full = argc > 3 && std::string(argv[3]) == "full";
    return parley::storage::test::run(rows, users, full);
}
