#pragma once
// EventLoops: one io_context per thread (one per core by default). A session is pinned to one loop
// for its whole life; work for it from elsewhere is posted to that loop.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace parley::server {

namespace asio = boost::asio;

class EventLoops {
  public:
    explicit EventLoops(std::size_t count);
    ~EventLoops();

    std::size_t size() const noexcept { return loops_.size(); }
    asio::io_context& loop(std::size_t index) { return *loops_[index]; }
    // Round-robin choice for a new connection.
    asio::io_context& next() { return loop(nextIndex()); }
    std::size_t nextIndex() noexcept { return next_.fetch_add(1, std::memory_order_relaxed) % loops_.size(); }
    // The loop the calling thread runs, or loop 0 for threads that run none (admin, tests).
    asio::io_context& current();
    bool isCurrentThreadALoop() const noexcept;

    // Starts one thread per loop.
    void start();
    // Lets the loops finish their queued work and return once nothing keeps them busy.
    void releaseWork();
    // Stops the loops at once and joins the threads.
    void stop();
    // Joins the threads (after releaseWork or stop).
    void join();

  private:
    std::vector<std::unique_ptr<asio::io_context>> loops_;
    std::vector<std::optional<asio::executor_work_guard<asio::io_context::executor_type>>> guards_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace parley::server
