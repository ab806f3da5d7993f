// WorkerThread, the bridge the SQLite backend (and later ones that block) hand their calls to.
#include "worker_thread.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>
#include <vector>

#include "test_support.h"

namespace parley::storage::test {
namespace {

struct Observed {
    std::thread::id jobThread;
    std::thread::id resumedThread;
    int value = 0;
};

asio::awaitable<Observed> observe(WorkerThread* worker) {
    Observed observed;
    auto result =
        co_await worker->runOnWorker([&jobThread = observed.jobThread]() -> Result<int, StorageError> {
            jobThread = std::this_thread::get_id();
            return 42;
        });
    observed.resumedThread = std::this_thread::get_id();
    observed.value = result ? *result : -1;
    co_return observed;
}

TEST(StorageWorkerThread, RunsTheJobOnTheWorkerAndResumesTheCaller) {
    WorkerThread worker;
    asio::io_context io;
    const Observed observed = runSync(io, observe(&worker));
    EXPECT_EQ(observed.value, 42);
    EXPECT_EQ(observed.jobThread, worker.threadIdForTest());
    EXPECT_NE(observed.jobThread, std::this_thread::get_id());
    EXPECT_EQ(observed.resumedThread, std::this_thread::get_id());
}

asio::awaitable<Result<int, StorageError>> runCounted(WorkerThread* worker, int* runs) {
    co_return co_await worker->runOnWorker([runs]() -> Result<int, StorageError> { return ++*runs; });
}

TEST(StorageWorkerThread, AfterStopJobsDoNotRunAndAreUnavailable) {
    WorkerThread worker;
    worker.stop();
    worker.stop();  // idempotent
    asio::io_context io;
    int runs = 0;
    auto result = runSync(io, runCounted(&worker, &runs));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), StorageError::Unavailable);
    EXPECT_EQ(runs, 0);
}

TEST(StorageWorkerThread, JobsRunInOrderAndStopFinishesThem) {
    WorkerThread worker;
    asio::io_context io;
    int runs = 0;  // touched only on the worker, one job at a time
    std::vector<std::future<Result<int, StorageError>>> results;
    for (int i = 0; i < 20; ++i) {
        results.push_back(asio::co_spawn(io, runCounted(&worker, &runs), asio::use_future));
    }
    io.poll();  // all twenty are queued on the worker (some may have completed already)
    worker.stop();
    io.run();
    for (int i = 0; i < 20; ++i) {
        auto result = results[static_cast<std::size_t>(i)].get();
        ASSERT_TRUE(result);
        EXPECT_EQ(*result, i + 1);  // in the order they were handed over
    }
    EXPECT_EQ(runs, 20);
}

}  // namespace
}  // namespace parley::storage::test
