// Timers (server/core): module work runs on the Clock, once per interval, never two runs at once, and
// not after its handle is gone. The loop is polled by hand (no thread), so nothing waits for real time.
#include "parley/server/timers.h"

#include <gtest/gtest.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

namespace parley::server {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

class TimersTest : public ::testing::Test {
  protected:
    // Starts what is due and runs the loop until nothing is ready (real-time waits are not waited for).
    void runDue() {
        timers_.runDue();
        loops_.loop(0).poll();
        loops_.loop(0).restart();
    }

    void advanceAndRunDue(std::chrono::nanoseconds by) {
        clock_.advance(by);
        runDue();
    }

    // Work that counts its runs (a plain lambda that returns the coroutine: docs/STYLE.md rule 7).
    static asio::awaitable<void> count(int* runs) {
        ++*runs;
        co_return;
    }
    static TimerWork counting(int& runs) {
        return [&runs] { return count(&runs); };
    }
    // Work that counts its start, then waits until `gate` is cancelled: a slow cleanup.
    static asio::awaitable<void> countThenWait(int* runs, boost::asio::steady_timer* gate) {
        ++*runs;
        boost::system::error_code ignored;
        co_await gate->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }

    FakeClock clock_;
    EventLoops loops_{1};  // not started: polled by runDue()
    Timers timers_{clock_, loops_};
};

TEST_F(TimersTest, EveryRunsOncePerIntervalOfTheClock) {
    int runs = 0;
    Registration timer = timers_.every(minutes(10), counting(runs));
    runDue();
    EXPECT_EQ(runs, 0);  // not before one interval
    advanceAndRunDue(minutes(9));
    EXPECT_EQ(runs, 0);
    advanceAndRunDue(minutes(1));
    EXPECT_EQ(runs, 1);
    runDue();
    EXPECT_EQ(runs, 1);  // once per interval, however often the loop looks
    advanceAndRunDue(minutes(10));
    EXPECT_EQ(runs, 2);
    // A clock that jumps by a day gives one run, not a burst of 144.
    advanceAndRunDue(std::chrono::hours(24));
    EXPECT_EQ(runs, 3);
    EXPECT_EQ(timers_.runningForTest(), 0u);
}

TEST_F(TimersTest, AfterRunsOnce) {
    int runs = 0;
    Registration timer = timers_.after(seconds(30), counting(runs));
    advanceAndRunDue(seconds(29));
    EXPECT_EQ(runs, 0);
    advanceAndRunDue(seconds(1));
    EXPECT_EQ(runs, 1);
    advanceAndRunDue(minutes(5));
    EXPECT_EQ(runs, 1);
}

TEST_F(TimersTest, DestroyingTheHandleCancels) {
    int every = 0;
    int once = 0;
    std::optional<Registration> periodic = timers_.every(minutes(1), counting(every));
    std::optional<Registration> single = timers_.after(minutes(1), counting(once));
    periodic.reset();
    single.reset();
    advanceAndRunDue(minutes(5));
    EXPECT_EQ(every, 0);
    EXPECT_EQ(once, 0);
}

TEST_F(TimersTest, ARunThatIsStillGoingDelaysTheNext) {
    int started = 0;
    // The work waits on a real timer that only the test lets go (by cancelling it).
    boost::asio::steady_timer gate(loops_.loop(0), std::chrono::hours(1));
    Registration timer = timers_.every(minutes(1), [&] { return countThenWait(&started, &gate); });
    advanceAndRunDue(minutes(1));
    EXPECT_EQ(started, 1);
    EXPECT_EQ(timers_.runningForTest(), 1u);
    advanceAndRunDue(minutes(5));
    EXPECT_EQ(started, 1);  // never two runs at once
    gate.cancel();
    loops_.loop(0).poll();
    loops_.loop(0).restart();
    EXPECT_EQ(timers_.runningForTest(), 0u);
    // The next run is one interval after that one ended.
    runDue();
    EXPECT_EQ(started, 1);
    advanceAndRunDue(minutes(1));
    EXPECT_EQ(started, 2);
    gate.cancel();
    loops_.loop(0).poll();
}

}  // namespace
}  // namespace parley::server
