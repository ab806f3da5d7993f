#include "parley/streams/inbound_rate_limiter.h"

#include <gtest/gtest.h>

namespace parley::server {
namespace {

using namespace std::chrono_literals;
const InboundRateLimiter::TimePoint kStart{std::chrono::seconds(100)};

TEST(InboundRateLimiter, UnlimitedNeverPauses) {
    InboundRateLimiter limiter(0, kStart);
    limiter.onRead(100'000'000);
    EXPECT_EQ(limiter.pause(kStart), 0ms);
}

TEST(InboundRateLimiter, OneSecondBurstIsAllowed) {
    InboundRateLimiter limiter(10'000, kStart);
    limiter.onRead(10'000);
    EXPECT_EQ(limiter.pause(kStart), 0ms);
}

TEST(InboundRateLimiter, PausesForTheExcessAndRecoversAsTimePasses) {
    InboundRateLimiter limiter(10'000, kStart);
    limiter.onRead(15'000);  // 5 000 bytes over the burst: half a second at 10 000 B/s
    EXPECT_EQ(limiter.pause(kStart), 501ms);
    EXPECT_EQ(limiter.pause(kStart + 250ms), 251ms);
    EXPECT_EQ(limiter.pause(kStart + 500ms), 0ms);
}

TEST(InboundRateLimiter, SustainedRateAtTheLimitNeverPauses) {
    InboundRateLimiter limiter(10'000, kStart);
    for (int second = 1; second <= 10; ++second) {
        limiter.onRead(10'000);
        EXPECT_EQ(limiter.pause(kStart + std::chrono::seconds(second)), 0ms) << "second " << second;
    }
}

}  // namespace
}  // namespace parley::server
