#include "parley/client/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace parley::client {

Backoff::Backoff(BackoffPolicy policy, std::function<double()> random)
    : policy_(policy), random_(std::move(random)) {
    if (!random_) {
        random_ = [engine = std::mt19937_64(std::random_device{}())]() mutable {
            return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
        };
    }
}

std::chrono::milliseconds Backoff::next() {
    // The bound grows as initial * multiplier^attempt, capped at maximum; with jitter j the delay is
    // drawn from [bound * (1 - j), bound] ("full jitter" for j = 1), which spreads a crowd of clients
    // that lost the same server.
    const double initial = static_cast<double>(policy_.initial.count());
    const double maximum = static_cast<double>(policy_.maximum.count());
    const double bound =
        std::min(maximum, initial * std::pow(policy_.multiplier, static_cast<double>(attempt_)));
    if (attempt_ < 64)
        ++attempt_;
    const double jitter = std::clamp(policy_.jitter, 0.0, 1.0);
    const double delay = bound * (1.0 - jitter * random_());
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(0.0, delay)));
}

}  // namespace parley::client
