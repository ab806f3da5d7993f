#include "runtime.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <iostream>

namespace parley::bench {

namespace {

Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

void Group::State::done() {
    if (pending.fetch_sub(1) == 1) {
        std::lock_guard lock(mutex);
        cv.notify_all();
    }
}

bool Group::waitUntil(Clock::time_point until) {
    State& s = *state_;
    std::unique_lock lock(s.mutex);
    return s.cv.wait_until(lock, until, [&s] { return s.pending.load() == 0; });
}

Runtime::Runtime(const Options& options) : options_(options) {
    for (unsigned i = 0; i < options_.threads; ++i) {
        auto loop = std::make_unique<Loop>();
        loop->index = i;
        loops_.push_back(std::move(loop));
    }
    if (!options_.csv.empty()) {
        csv_.open(options_.csv);
        if (!csv_) {
            std::cerr << "parley-bench: cannot write the CSV file " << options_.csv << "\n";
        } else {
            csv_ << "t_s,phase,sessions,logins_per_s,sent_per_s,delivered_per_s,p50_ms,p99_ms,errors,"
                    "server_rss_bytes,server_cpu_percent,tcp_mem_bytes,bench_rss_bytes\n";
        }
    }
    for (auto& loop : loops_) {
        Loop* l = loop.get();
        asio::co_spawn(l->io, watchdog(*l), asio::detached);
        threads_.emplace_back([l] {
            auto guard = asio::make_work_guard(l->io);
            l->io.run();
        });
    }
    nextSample_ = start_ + std::chrono::seconds(1);
    lastServerCpu_ = cpuSeconds(options_.serverPid);
}

Runtime::~Runtime() {
    stop();
}

void Runtime::stop() {
    if (stopped_) {
        return;
    }
    stopped_ = true;
    for (auto& loop : loops_) {
        loop->io.stop();
    }
    for (auto& thread : threads_) {
        thread.join();
    }
}

asio::awaitable<void> Runtime::watchdog(Loop& loop) {
    asio::steady_timer timer(loop.io);
    std::vector<Watched*> expired;
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(200));
        co_await timer.async_wait(asio::use_awaitable);
        const auto now = Clock::now();
        expired.clear();
        for (Watched* w : loop.watched) {
            if (w->deadline() <= now) {
                expired.push_back(w);
            }
        }
        for (Watched* w : expired) {
            w->onDeadline();
        }
    }
}

void Runtime::spawn(Loop& loop, Group& group, std::function<asio::awaitable<void>()> work) {
    group.add();
    asio::co_spawn(loop.io, std::move(work), [this, state = group.state()](std::exception_ptr error) {
        if (error) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                fail(std::string("internal error: ") + e.what());
            }
        }
        state->done();
    });
}

bool Runtime::wait(Group& group, double seconds) {
    const auto until = Clock::now() + bench::seconds(std::min(seconds, 1e7));
    for (;;) {
        const auto step = std::min(until, nextSample_);
        if (group.waitUntil(step)) {
            return !failed();
        }
        if (failed()) {
            // Let the group's coroutines see the failure and end (each step is bounded by --timeout).
            group.waitUntil(std::min(until, Clock::now() + bench::seconds(options_.timeout + 5)));
            return false;
        }
        if (Clock::now() >= nextSample_) {
            sample();
        }
        if (Clock::now() >= until) {
            return false;
        }
    }
}

bool Runtime::sleep(double seconds) {
    const auto until = Clock::now() + bench::seconds(seconds);
    while (Clock::now() < until) {
        if (failed()) {
            return false;
        }
        std::this_thread::sleep_until(std::min(until, nextSample_));
        if (Clock::now() >= nextSample_) {
            sample();
        }
    }
    return !failed();
}

void Runtime::fail(std::string message) {
    std::lock_guard lock(mutex_);
    if (!failed_.exchange(true)) {
        failure_ = std::move(message);
    }
}

std::string Runtime::failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
}

Totals Runtime::totals() const {
    std::vector<const LoopStats*> stats;
    for (const auto& loop : loops_) {
        stats.push_back(&loop->stats);
    }
    return sumStats(stats);
}

double Runtime::elapsed() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
}

void Runtime::setPhase(std::string phase) {
    std::lock_guard lock(mutex_);
    phase_ = std::move(phase);
}

void Runtime::sample() {
    // Called about once a second by the main thread: rates are differences of the cumulative totals.
    const double interval = 1.0 + std::chrono::duration<double>(Clock::now() - nextSample_).count();
    nextSample_ += std::chrono::seconds(1);
    if (nextSample_ < Clock::now()) {
        nextSample_ = Clock::now() + std::chrono::seconds(1);
    }
    const Totals now = totals();
    Histogram::Counts window{};
    for (std::size_t i = 0; i < window.size(); ++i) {
        window[i] = now.latency[i] - last_.latency[i];
    }
    const double loginsPerS = static_cast<double>(now.logins - last_.logins) / interval;
    const double sentPerS = static_cast<double>(now.sent - last_.sent) / interval;
    const double deliveredPerS = static_cast<double>(now.delivered - last_.delivered) / interval;
    const double p50 = static_cast<double>(percentile(window, 50)) / 1e6;
    const double p99 = static_cast<double>(percentile(window, 99)) / 1e6;
    const std::uint64_t serverRss = residentBytes(options_.serverPid);
    const double serverCpu = cpuSeconds(options_.serverPid);
    const double serverCpuPercent = (serverCpu - lastServerCpu_) / interval * 100.0;
    lastServerCpu_ = serverCpu;
    const std::uint64_t tcpMem = tcpSocketMemoryBytes();
    const std::uint64_t benchRss = ownResidentBytes();
    std::string phase;
    {
        std::lock_guard lock(mutex_);
        phase = phase_;
    }
    char line[512];
    std::snprintf(line, sizeof line,
                  "[%s %5.0fs] %s sessions=%llu logins/s=%.0f sent/s=%.0f delivered/s=%.0f p50=%.2fms "
                  "p99=%.2fms errors=%llu",
                  options_.scenario.c_str(), elapsed(), phase.c_str(),
                  static_cast<unsigned long long>(now.sessions), loginsPerS, sentPerS, deliveredPerS, p50,
                  p99, static_cast<unsigned long long>(now.errors));
    std::cerr << line;
    if (options_.serverPid > 0) {
        std::fprintf(stderr, " server_rss=%.1fMiB server_cpu=%.0f%%",
                     static_cast<double>(serverRss) / 1048576.0, serverCpuPercent);
    }
    std::cerr << std::endl;
    if (csv_) {
        csv_ << static_cast<long>(elapsed() + 0.5) << ',' << phase << ',' << now.sessions << ',' << loginsPerS
             << ',' << sentPerS << ',' << deliveredPerS << ',' << p50 << ',' << p99 << ',' << now.errors
             << ',' << serverRss << ',' << serverCpuPercent << ',' << tcpMem << ',' << benchRss << '\n';
        csv_.flush();
    }
    last_ = now;
}

}  // namespace parley::bench
