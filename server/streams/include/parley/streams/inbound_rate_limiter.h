#pragma once
// InboundRateLimiter: a token bucket kept as debt, for limits.inbound_bytes_per_second (XEP-0205 §4.7).
// Bytes read add debt; debt drains at `rate` bytes per second; while more than one second's worth is
// owed, reading pauses for as long as it takes to get back under. Pure logic: times come in.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace parley::server {

class InboundRateLimiter {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;

    // `bytesPerSecond` 0 means unlimited.
    // `burstSeconds`: how many seconds' worth may be owed before reading pauses.
    InboundRateLimiter(std::size_t bytesPerSecond, TimePoint now, double burstSeconds = 1)
        : rate_(bytesPerSecond), burst_(burstSeconds), since_(now) {}

    void onRead(std::size_t bytes) { debt_ += static_cast<double>(bytes); }

    // How long to stop reading now (zero: read on).
    std::chrono::milliseconds pause(TimePoint now) {
        if (rate_ == 0) {
            debt_ = 0;
            return {};
        }
        const double rate = static_cast<double>(rate_);
        debt_ = std::max(0.0, debt_ - std::chrono::duration<double>(now - since_).count() * rate);
        since_ = now;
        const double excess = debt_ - rate * burst_;  // burst_ seconds' worth may be owed
        if (excess <= 0)
            return {};
        return std::chrono::milliseconds(static_cast<std::int64_t>(excess * 1000.0 / rate) + 1);
    }

  private:
    std::size_t rate_;
    double burst_;
    TimePoint since_;
    double debt_ = 0;
};

}  // namespace parley::server
