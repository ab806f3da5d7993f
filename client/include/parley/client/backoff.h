#pragma once
// Reconnection delays: exponential backoff with full jitter, so that many clients cut off by the same
// server restart do not all come back in the same second.
#include <chrono>
#include <cstdint>
#include <functional>

namespace parley::client {

struct BackoffPolicy {
    std::chrono::milliseconds initial{1000};   ///< upper bound of the first delay
    std::chrono::milliseconds maximum{60000};  ///< the bound never grows past this
    double multiplier = 2.0;                   ///< growth of the bound per failed attempt
    /// 0: always wait exactly the bound; 1: wait a uniformly random time in [0, bound] ("full jitter").
    double jitter = 1.0;
};

class Backoff {
  public:
    /// `random` returns a number in [0, 1); it is injectable so that tests are deterministic.
    explicit Backoff(BackoffPolicy policy = {}, std::function<double()> random = {});

    /// The delay before the next attempt; each call grows the bound for the following one.
    std::chrono::milliseconds next();
    /// After a successful connection: the next delay starts from `initial` again.
    void reset() noexcept { attempt_ = 0; }
    std::uint32_t attempts() const noexcept { return attempt_; }

  private:
    BackoffPolicy policy_;
    std::function<double()> random_;
    std::uint32_t attempt_ = 0;
};

}  // namespace parley::client
