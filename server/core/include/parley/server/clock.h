#pragma once
// Time comes through an interface so that tests advance it instead of sleeping (docs/STYLE.md rule 8).
#include <atomic>
#include <chrono>

namespace parley::server {

class Clock {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    virtual ~Clock() = default;
    virtual TimePoint now() const noexcept = 0;
    // Wall-clock seconds since the Unix epoch (timestamps in storage and XEP-0202).
    virtual std::int64_t unixSeconds() const noexcept = 0;
};

class SystemClock final : public Clock {
  public:
    TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
    std::int64_t unixSeconds() const noexcept override {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
  public:
    TimePoint now() const noexcept override { return TimePoint(std::chrono::nanoseconds(nanos_.load())); }
    std::int64_t unixSeconds() const noexcept override {
        return 1'700'000'000 + nanos_.load() / 1'000'000'000;
    }
    void advance(std::chrono::nanoseconds by) noexcept { nanos_ += by.count(); }

  private:
    std::atomic<std::int64_t> nanos_{1'000'000'000};
};

}  // namespace parley::server
