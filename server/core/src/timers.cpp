#include "parley/server/timers.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <exception>

#include "parley/server/log.h"

namespace parley::server {

namespace {
// How often each loop looks at the Clock. The Clock decides when work is due; this only bounds how
// late it is noticed with a real clock.
constexpr std::chrono::seconds kTick{1};

const Logger& timersLog() {
    static const Logger log("timers");
    return log;
}

// The run itself: a plain function, not a capturing lambda (docs/STYLE.md rule 7), and the work's
// awaitable is named before it is awaited (rule 16b).
asio::awaitable<void> runWork(TimerWork work) {
    auto run = work();
    co_await std::move(run);
}
}  // namespace

Timers::Timers(const Clock& clock, EventLoops& loops) : clock_(clock), loops_(loops) {
    for (std::size_t i = 0; i < loops_.size(); ++i) {
        ticks_.push_back(std::make_unique<asio::steady_timer>(loops_.loop(i)));
        asio::post(loops_.loop(i), [this, i] { arm(i); });
    }
}

Timers::~Timers() = default;

void Timers::arm(std::size_t loop) {
    ticks_[loop]->expires_after(kTick);
    ticks_[loop]->async_wait([this, loop](const boost::system::error_code& ec) {
        if (ec)
            return;
        runDueOn(loop);
        arm(loop);
    });
}

Registration Timers::every(std::chrono::nanoseconds interval, TimerWork work) {
    if (interval <= std::chrono::nanoseconds::zero())
        interval = std::chrono::nanoseconds(1);  // a bug in the caller; never spin
    return add(interval, interval, std::move(work));
}

Registration Timers::after(std::chrono::nanoseconds delay, TimerWork work) {
    return add(delay, std::chrono::nanoseconds::zero(), std::move(work));
}

Registration Timers::add(std::chrono::nanoseconds delay, std::chrono::nanoseconds interval, TimerWork work) {
    auto entry = std::make_shared<Entry>();
    entry->interval = interval;
    entry->work = std::move(work);
    entry->due = clock_.now() + std::chrono::duration_cast<Clock::TimePoint::duration>(delay);
    std::uint64_t id = 0;
    {
        std::lock_guard lock(mutex_);
        id = ++nextId_;
        entry->id = id;
        // Round-robin, so that the periodic work of several modules does not all land on one loop.
        entry->loop = nextLoop_++ % loops_.size();
        entries_.emplace(id, std::move(entry));
    }
    // The handle erases the entry: no further run starts. A run in progress holds its own reference.
    return Registration([this, id] {
        std::lock_guard lock(mutex_);
        entries_.erase(id);
    });
}

void Timers::runDue() {
    for (std::size_t i = 0; i < loops_.size(); ++i)
        asio::post(loops_.loop(i), [this, i] { runDueOn(i); });
}

void Timers::runDueOn(std::size_t loop) {
    const Clock::TimePoint now = clock_.now();
    std::vector<std::shared_ptr<Entry>> due;
    {
        std::lock_guard lock(mutex_);
        for (auto it = entries_.begin(); it != entries_.end();) {
            const std::shared_ptr<Entry>& entry = it->second;
            if (entry->loop != loop || entry->running || now < entry->due) {
                ++it;
                continue;
            }
            due.push_back(entry);
            if (entry->interval == std::chrono::nanoseconds::zero()) {
                it = entries_.erase(it);  // once: done with it
                continue;
            }
            entry->running = true;
            ++it;
        }
        running_ += due.size();
    }
    for (const std::shared_ptr<Entry>& entry : due) {
        asio::co_spawn(loops_.loop(loop), runWork(entry->work), [this, entry](std::exception_ptr error) {
            if (error) {
                // A bug in the module's work; the timer goes on (the next run may well succeed).
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    timersLog().error(std::string("a timer's work failed: ") + e.what());
                } catch (...) {
                    timersLog().error("a timer's work failed with an unknown exception");
                }
            }
            finished(entry);
        });
    }
}

void Timers::finished(const std::shared_ptr<Entry>& entry) {
    {
        std::lock_guard lock(mutex_);
        // The next run is one interval after this one ended, so a slow run never makes runs overlap
        // or pile up.
        entry->running = false;
        entry->due = clock_.now() + std::chrono::duration_cast<Clock::TimePoint::duration>(entry->interval);
    }
    --running_;
}

}  // namespace parley::server
