#include <gtest/gtest.h>

#include "parley/client/backoff.h"

namespace parley::client {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, WithoutJitterTheDelayDoublesUpToTheMaximum) {
    Backoff backoff(
        {.initial = milliseconds(100), .maximum = milliseconds(1000), .multiplier = 2.0, .jitter = 0.0},
        [] { return 0.5; });
    EXPECT_EQ(backoff.next(), milliseconds(100));
    EXPECT_EQ(backoff.next(), milliseconds(200));
    EXPECT_EQ(backoff.next(), milliseconds(400));
    EXPECT_EQ(backoff.next(), milliseconds(800));
    EXPECT_EQ(backoff.next(), milliseconds(1000));
    EXPECT_EQ(backoff.next(), milliseconds(1000));
}

TEST(BackoffTest, FullJitterDrawsBetweenZeroAndTheBound) {
    double draw = 0.0;
    Backoff backoff(
        {.initial = milliseconds(1000), .maximum = milliseconds(60000), .multiplier = 2.0, .jitter = 1.0},
        [&draw] { return draw; });
    draw = 0.0;  // no reduction: the bound itself
    EXPECT_EQ(backoff.next(), milliseconds(1000));
    draw = 0.75;  // bound 2000, reduced by 75%
    EXPECT_EQ(backoff.next(), milliseconds(500));
    draw = 0.999;  // bound 4000: almost nothing
    EXPECT_LE(backoff.next(), milliseconds(4));
}

TEST(BackoffTest, ResetStartsAgainFromTheInitialDelay) {
    Backoff backoff(
        {.initial = milliseconds(10), .maximum = milliseconds(1000), .multiplier = 3.0, .jitter = 0.0});
    backoff.next();
    backoff.next();
    EXPECT_EQ(backoff.attempts(), 2u);
    backoff.reset();
    EXPECT_EQ(backoff.next(), milliseconds(10));
}

TEST(BackoffTest, ManyAttemptsNeitherOverflowNorExceedTheMaximum) {
    Backoff backoff(
        {.initial = milliseconds(1000), .maximum = milliseconds(60000), .multiplier = 2.0, .jitter = 0.0});
    for (int i = 0; i < 500; ++i)
        EXPECT_LE(backoff.next(), milliseconds(60000));
}

}  // namespace
}  // namespace parley::client
