#pragma once
// Timers: periodic and one-shot work for modules (ModuleContext::every / after), measured with the
// server's Clock so that tests move a FakeClock instead of sleeping (docs/STYLE.md rule 8). Each timer
// belongs to one event loop, chosen round-robin when it is made; that loop looks at the Clock once a
// second and starts the work that is due as a detached coroutine there. Work that waits for storage
// does so as any coroutine does: the backend runs the call on its own thread (docs/storage.md), so the
// loop is not held. The core knows nothing of what the work does.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "parley/server/clock.h"
#include "parley/server/event_loops.h"
#include "parley/server/registration.h"

namespace parley::server {

namespace asio = boost::asio;

using TimerWork = std::function<asio::awaitable<void>()>;

class Timers {
  public:
    Timers(const Clock& clock, EventLoops& loops);
    ~Timers();
    Timers(const Timers&) = delete;
    Timers& operator=(const Timers&) = delete;

    // Runs `work` one `interval` of the Clock from now, then one interval after each run ended: one
    // run at a time, and a Clock that jumps by many intervals gives one run, not a burst. Destroying
    // the handle cancels the runs not started yet (a run in progress finishes). `interval` must be
    // positive.
    Registration every(std::chrono::nanoseconds interval, TimerWork work);
    // Runs `work` once, when `delay` of the Clock has passed. Destroying the handle first cancels it.
    Registration after(std::chrono::nanoseconds delay, TimerWork work);

    // Starts, on their loops, the runs that are due by the Clock now. Each loop does this once a second
    // by itself; tests call it after moving a FakeClock.
    void runDue();
    // Runs started and not finished yet (tests wait for 0 after runDue).
    std::size_t runningForTest() const noexcept { return running_.load(); }

  private:
    struct Entry {
        std::uint64_t id = 0;
        std::size_t loop = 0;
        Clock::TimePoint due;
        std::chrono::nanoseconds interval{0};  // 0: once
        TimerWork work;
        bool running = false;
    };
    Registration add(std::chrono::nanoseconds delay, std::chrono::nanoseconds interval, TimerWork work);
    // On loop `loop`: starts its entries that are due.
    void runDueOn(std::size_t loop);
    void arm(std::size_t loop);
    void finished(const std::shared_ptr<Entry>& entry);

    const Clock& clock_;
    EventLoops& loops_;
    mutable std::mutex mutex_;  // entries_ and the entries' due and running (any loop, any handle)
    std::map<std::uint64_t, std::shared_ptr<Entry>> entries_;
    std::uint64_t nextId_ = 0;
    std::size_t nextLoop_ = 0;
    std::atomic<std::size_t> running_{0};
    std::vector<std::unique_ptr<asio::steady_timer>> ticks_;  // one per loop, touched on that loop
};

}  // namespace parley::server
