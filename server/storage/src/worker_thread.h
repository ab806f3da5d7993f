#pragma once
// The bridge between coroutines on the network event loops and a backend that blocks (SQLite): one
// dedicated thread runs the blocking work in order, and the awaiting coroutine resumes on its own
// executor, never on the worker (docs/storage.md "Asynchronous model").
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/result.hpp>
#include <concepts>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "parley/storage/storage.h"

namespace parley::storage {

class WorkerThread {
  public:
    WorkerThread();
    ~WorkerThread();
    WorkerThread(const WorkerThread&) = delete;
    WorkerThread& operator=(const WorkerThread&) = delete;

    // Runs `work()` on the worker thread and completes on the awaiting coroutine's executor with its
    // result. After stop(), completes with StorageError::Unavailable without running `work`.
    // `work` runs after the caller has suspended, so it must own (capture by value) what it uses.
    template <class F>
    requires std::invocable<F&> &&
        std::constructible_from<std::invoke_result_t<F&>, boost::system::in_place_error_t, StorageError>
    auto runOnWorker(F work) -> asio::awaitable<std::invoke_result_t<F&>>;

    // Stops accepting work, lets the queued work finish, and joins the thread. Idempotent; must not be
    // called from the worker thread itself.
    void stop();

    bool runningInThisThread() const noexcept { return std::this_thread::get_id() == threadId_; }
    std::thread::id threadIdForTest() const noexcept { return threadId_; }

  private:
    asio::io_context context_{1};
    std::mutex mutex_;  // guards accepting_ and workGuard_, so nothing is posted after the last run()
    bool accepting_ = true;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> workGuard_;
    std::mutex stopMutex_;  // serialises stop() (close() and the destructor may race)
    std::thread thread_;
    std::thread::id threadId_;
};

template <class F>
requires std::invocable<F&> &&
    std::constructible_from<std::invoke_result_t<F&>, boost::system::in_place_error_t, StorageError>
auto WorkerThread::runOnWorker(F work) -> asio::awaitable<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    // Not a coroutine: async_initiate stores `work` by value in the operation it returns, and the
    // initiation below runs once the caller has suspended in co_await.
    auto initiation = [this](auto handler, F job) {
        // The caller's executor must not run out of work while the job is on the worker, or its
        // io_context::run() would return early.
        auto callerExecutor =
            asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
        auto complete = [callerExecutor](auto completionHandler, R result) {
            asio::post(callerExecutor, [completionHandler = std::move(completionHandler),
                                        result = std::move(result)]() mutable {
                std::move(completionHandler)(std::move(result));
            });
        };
        std::unique_lock lock(mutex_);
        if (!accepting_) {
            lock.unlock();
            complete(std::move(handler), R(boost::system::in_place_error, StorageError::Unavailable));
            return;
        }
        asio::post(context_,
                   [handler = std::move(handler), job = std::move(job),
                    complete = std::move(complete)]() mutable { complete(std::move(handler), job()); });
    };
    return asio::async_initiate<const asio::use_awaitable_t<>, void(R)>(std::move(initiation),
                                                                        asio::use_awaitable, std::move(work));
}

}  // namespace parley::storage
