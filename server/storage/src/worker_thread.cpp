#include "worker_thread.h"

#include <cassert>

namespace parley::storage {

WorkerThread::WorkerThread() : workGuard_(asio::make_work_guard(context_)) {
    thread_ = std::thread([this] { context_.run(); });
    threadId_ = thread_.get_id();
}

WorkerThread::~WorkerThread() {
    stop();
}

void WorkerThread::stop() {
    assert(!runningInThisThread() && "stop() on the worker thread would join itself");
    std::lock_guard stopLock(stopMutex_);
    {
        // Everything posted so far was posted while accepting_ was true, so before this reset: run()
        // returns only after it has run all of it.
        std::lock_guard lock(mutex_);
        accepting_ = false;
        workGuard_.reset();
    }
    if (thread_.joinable()) {
        thread_.join();
    }
}

}  // namespace parley::storage
