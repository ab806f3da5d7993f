// SASL PLAIN (RFC 4616).
#include "parley/sasl/plain.h"
#include "sasl_test_util.h"

#include <gtest/gtest.h>

namespace parley::sasl {
namespace {

using namespace std::string_literals;
using test::as;
using test::isFail;

std::unique_ptr<ServerMechanism> plain() {
    auto m = makeServerMechanism("PLAIN", ServerOptions{});
    EXPECT_NE(m, nullptr);
    return m;
}

TEST(Plain, SuccessWithoutAuthzid) {
    auto m = plain();
    EXPECT_EQ(m->name(), "PLAIN");
    const auto& check = as<NeedPasswordCheck>(m->start("\0juliet\0r0m30"s));
    EXPECT_EQ(check.username, "juliet");
    EXPECT_EQ(check.password, "r0m30");
    const Success& s = as<Success>(m->providePasswordCheck(true));
    EXPECT_EQ(s.username, "juliet");
    EXPECT_EQ(s.authzid, "");
    EXPECT_EQ(s.additionalData, "");
}

TEST(Plain, SuccessWithAuthzid) {
    auto m = plain();
    as<NeedPasswordCheck>(m->start("romeo@example.net\0juliet\0r0m30"s));
    const Success& s = as<Success>(m->providePasswordCheck(true));
    EXPECT_EQ(s.username, "juliet");
    EXPECT_EQ(s.authzid, "romeo@example.net");
}

TEST(Plain, WrongPassword) {
    auto m = plain();
    as<NeedPasswordCheck>(m->start("\0juliet\0wrong"s));
    EXPECT_TRUE(isFail(m->providePasswordCheck(false), Failure::NotAuthorized));
    EXPECT_TRUE(isFail(m->respond("\0juliet\0wrong"s), Failure::MalformedRequest));
}

TEST(Plain, WithoutInitialResponse) {
    auto m = plain();
    EXPECT_EQ(as<Challenge>(m->start(std::nullopt)).data, "");
    EXPECT_EQ(as<NeedPasswordCheck>(m->respond("\0juliet\0r0m30"s)).username, "juliet");
    EXPECT_TRUE(std::holds_alternative<Success>(m->providePasswordCheck(true)));
}

class MalformedPlain : public ::testing::TestWithParam<std::string> {};

TEST_P(MalformedPlain, IsMalformedRequest) {
    EXPECT_TRUE(isFail(plain()->start(std::string_view(GetParam())), Failure::MalformedRequest));
}

// RFC 4616 §2: authcid and passwd are 1*SAFE, so empty ones are malformed, not wrong credentials.
INSTANTIATE_TEST_SUITE_P(Rfc4616, MalformedPlain,
                         ::testing::Values(""s, "juliet"s, "\0juliet"s, "\0juliet\0"s, "\0\0r0m30"s, "\0\0"s,
                                           "a\0juliet\0r0\0m30"s, "\0juliet\0r0m30\0"s,
                                           "\0jul\xffiet\0r0m30"s, "\0juliet\0\xc0\x80"s,
                                           "\xed\xa0\x80\0juliet\0r0m30"s,
                                           "\0"s + std::string(256, 'a') + "\0r0m30"s,
                                           "\0juliet\0"s + std::string(256, 'a'),
                                           std::string(256, 'a') + "\0juliet\0r0m30"s));

TEST(Plain, AcceptsFieldsOf255Octets) {
    const std::string f(255, 'a');
    auto m = plain();
    EXPECT_EQ(as<NeedPasswordCheck>(m->start(f + '\0' + f + '\0' + f)).password, f);
}

TEST(Plain, ClientMessage) {
    EXPECT_EQ(*plainMessage("juliet", "r0m30"), "\0juliet\0r0m30"s);
    EXPECT_EQ(*plainMessage("juliet", "r0m30", "romeo"), "romeo\0juliet\0r0m30"s);
    EXPECT_EQ(plainMessage("", "r0m30").error(), Failure::MalformedRequest);
    EXPECT_EQ(plainMessage("juliet", "").error(), Failure::MalformedRequest);
    EXPECT_EQ(plainMessage("jul\0iet"s, "x").error(), Failure::MalformedRequest);
    EXPECT_EQ(plainMessage("juliet", std::string(256, 'x')).error(), Failure::MalformedRequest);
    EXPECT_THROW((void)plainMessage("", "x").value(), std::runtime_error);
}

TEST(Plain, RoundTripThroughServer) {
    auto m = plain();
    const auto msg = plainMessage("j\xc3\xbcliet", "p\xc3\xa4ss", "admin");
    ASSERT_TRUE(msg);
    const auto& check = as<NeedPasswordCheck>(m->start(*msg));
    EXPECT_EQ(check.username, "j\xc3\xbcliet");
    EXPECT_EQ(check.password, "p\xc3\xa4ss");
}

}  // namespace
}  // namespace parley::sasl
