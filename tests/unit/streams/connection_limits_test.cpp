// Per-address limits of the client listener (XEP-0205 §4.1-§4.3) and the failed-login ban
// (reliability row 25). Times are explicit: no clock, no sleeping.
#include <gtest/gtest.h>

#include "parley/streams/c2s_service.h"

namespace parley::server {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::make_address;
const ConnectionLimits::TimePoint kStart{std::chrono::hours(1000)};

TEST(ConnectionLimitsBan, TwentyFailuresBanTheAddressForTheBanTime) {
    ConnectionLimits limits(0, 0, 20, std::chrono::seconds(3600));
    const auto attacker = make_address("192.0.2.7");
    for (int i = 0; i < 19; ++i)
        limits.authenticationFailed(attacker, kStart + std::chrono::seconds(i));
    EXPECT_TRUE(limits.admit(attacker, kStart + 20s)) << "19 failures are not yet a ban";
    limits.closed(attacker, true);
    limits.authenticationFailed(attacker, kStart + 20s);
    EXPECT_FALSE(limits.admit(attacker, kStart + 21s));
    EXPECT_TRUE(limits.isBanned(attacker, kStart + 3600s));
    EXPECT_TRUE(limits.admit(make_address("192.0.2.8"), kStart + 21s)) << "other addresses are not affected";
    EXPECT_TRUE(limits.admit(attacker, kStart + 20s + 3601s)) << "the ban ends";
}

TEST(ConnectionLimitsBan, FailuresSpreadBeyondTheWindowDoNotAddUp) {
    ConnectionLimits limits(0, 0, 3, std::chrono::seconds(60));
    const auto client = make_address("2001:db8::1");
    limits.authenticationFailed(client, kStart);
    limits.authenticationFailed(client, kStart + 30s);
    limits.authenticationFailed(client, kStart + 90s);  // the first window has passed: counting restarts
    EXPECT_FALSE(limits.isBanned(client, kStart + 91s));
    limits.authenticationFailed(client, kStart + 100s);
    limits.authenticationFailed(client, kStart + 110s);
    EXPECT_TRUE(limits.isBanned(client, kStart + 111s));
}

TEST(ConnectionLimitsBan, LoopbackAndDisabledBanNeverBan) {
    ConnectionLimits limits(0, 0, 1, std::chrono::seconds(60));
    limits.authenticationFailed(make_address("127.0.0.1"), kStart);
    EXPECT_TRUE(limits.admit(make_address("127.0.0.1"), kStart + 1s));
    ConnectionLimits disabled(0, 0, 0, std::chrono::seconds(60));
    for (int i = 0; i < 100; ++i)
        disabled.authenticationFailed(make_address("192.0.2.9"), kStart);
    EXPECT_TRUE(disabled.admit(make_address("192.0.2.9"), kStart + 1s));
}

}  // namespace
}  // namespace parley::server
