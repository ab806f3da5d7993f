#pragma once
// The generator's threads: one io_context per thread, each with its own counters and a watchdog that
// cancels the connections whose current step passed its deadline. The main thread only waits, prints
// a progress line each second and writes the CSV sample.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "metrics.h"
#include "options.h"

namespace parley::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Anything with a deadline that the watchdog may cancel.
class Watched {
  public:
    virtual ~Watched() = default;
    virtual Clock::time_point deadline() const noexcept = 0;
    virtual void onDeadline() = 0;
};

struct Loop {
    unsigned index = 0;
    asio::io_context io{1};
    LoopStats stats;
    std::unordered_set<Watched*> watched;  // touched only on this loop's thread
};

// Coroutines whose completion the main thread waits for.
// The count lives in a shared block that the completion handlers keep, so a Group that goes out of
// scope early (after a failure) leaves no dangling reference behind.
class Group {
  public:
    struct State {
        std::atomic<int> pending{0};
        std::mutex mutex;
        std::condition_variable cv;
        void done();
    };
    void add() { state_->pending.fetch_add(1); }
    void done() { state_->done(); }
    // True once nothing is pending; false if `until` passed first.
    bool waitUntil(Clock::time_point until);
    int pending() const { return state_->pending.load(); }
    std::shared_ptr<State> state() const { return state_; }

  private:
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

class Runtime {
  public:
    explicit Runtime(const Options& options);
    ~Runtime();  // stops the loops and joins their threads
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    unsigned size() const noexcept { return static_cast<unsigned>(loops_.size()); }
    Loop& loop(std::size_t index) { return *loops_[index % loops_.size()]; }
    const Options& options() const noexcept { return options_; }

    // Runs `work` on `loop`; `group` counts it until it returns. An exception is a failure of the run.
    void spawn(Loop& loop, Group& group, std::function<asio::awaitable<void>()> work);
    // Waits for the group (printing progress each second) at most `seconds`; false on timeout or when
    // the run failed.
    bool wait(Group& group, double seconds);
    // Sleeps `seconds`, printing progress each second; returns early (false) when the run failed.
    bool sleep(double seconds);

    // The first failure ends the run: the scenario stops, prints its JSON with "error" and exits 1.
    void fail(std::string message);
    bool failed() const noexcept { return failed_.load(); }
    std::string failure() const;

    Totals totals() const;
    double elapsed() const;  // seconds since the runtime started
    // Scenario-specific text for the progress line (what the phase is doing).
    void setPhase(std::string phase);

    // Stops the loops (pending coroutines are abandoned) and joins the threads.
    void stop();

  private:
    void sample();
    asio::awaitable<void> watchdog(Loop& loop);

    Options options_;
    std::vector<std::unique_ptr<Loop>> loops_;
    std::vector<std::thread> threads_;
    std::atomic<bool> failed_{false};
    mutable std::mutex mutex_;
    std::string failure_;
    std::string phase_;
    Clock::time_point start_ = Clock::now();
    Clock::time_point nextSample_;
    Totals last_;
    double lastServerCpu_ = 0;
    std::ofstream csv_;
    bool stopped_ = false;
};

}  // namespace parley::bench
