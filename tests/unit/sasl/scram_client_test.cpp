// The SCRAM client against hostile or broken servers, and SaltedPassword caching.
#include "parley/sasl/scram_client.h"
#include "parley/sasl/scram_server.h"
#include "sasl_test_util.h"

#include <gtest/gtest.h>

namespace parley::sasl {
namespace {

using test::as;

Result<std::string, Failure> finalFor(std::string_view serverFirst) {
    ScramClient client(HashAlgorithm::Sha256, "user", "pencil");
    client.setClientNonceForTest("abc");
    client.clientFirst();
    return client.clientFinal(serverFirst);
}

TEST(ScramClient, RejectsBadServerFirst) {
    for (std::string_view bad :
         {"", "r=abc,s=c2FsdA==,i=4096", "r=xyzdef,s=c2FsdA==,i=4096", "r=abcdef,s=,i=4096",
          "r=abcdef,s=!!,i=4096", "r=abcdef,s=c2FsdA==", "r=abcdef,s=c2FsdA==,i=0",
          "r=abcdef,s=c2FsdA==,i=04096", "r=abcdef,s=c2FsdA==,i=99999999999", "r=abcdef,s=c2FsdA==,i=4096,",
          "m=x,r=abcdef,s=c2FsdA==,i=4096", "r=abcdef,s=c2FsdA==,i=4096,m=x", "s=c2FsdA==,r=abcdef,i=4096",
          "r=abcdef,s=c2FsdA==,i=2000000"}) {
        auto r = finalFor(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error(), Failure::MalformedRequest) << bad;
    }
}

TEST(ScramClient, RejectsTooFewIterations) {
    auto r = finalFor("r=abcdef,s=c2FsdA==,i=4095");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), Failure::MechanismTooWeak);
}

TEST(ScramClient, IgnoresOptionalExtensions) {
    EXPECT_TRUE(finalFor("r=abcdef,s=c2FsdA==,i=4096,x=y"));
}

TEST(ScramClient, VerifyOutOfTurnFails) {
    ScramClient client(HashAlgorithm::Sha256, "user", "pencil");
    EXPECT_FALSE(client.verifyServerFinal("v=abc="));
    client.setClientNonceForTest("abc");
    client.clientFirst();
    EXPECT_FALSE(client.verifyServerFinal("v=abc="));
    // A failed clientFinal ends the exchange: a retry with a good message is refused.
    EXPECT_FALSE(client.clientFinal("r=xyz,s=c2FsdA==,i=4096"));
    EXPECT_FALSE(client.clientFinal("r=abcdef,s=c2FsdA==,i=4096"));
}

TEST(ScramClient, ServerErrorIsReported) {
    ScramClient client(HashAlgorithm::Sha256, "user", "pencil");
    client.setClientNonceForTest("abc");
    client.clientFirst();
    ASSERT_TRUE(client.clientFinal("r=abcdef,s=c2FsdA==,i=4096"));
    EXPECT_FALSE(client.verifyServerFinal("e=invalid-proof"));
    EXPECT_EQ(client.serverError(), "invalid-proof");
}

TEST(ScramClient, MalformedServerFinal) {
    for (std::string_view bad : {"", "v=", "v=!!!", "x=abc", "v=abc=,", "e="}) {
        ScramClient client(HashAlgorithm::Sha256, "user", "pencil");
        client.setClientNonceForTest("abc");
        client.clientFirst();
        ASSERT_TRUE(client.clientFinal("r=abcdef,s=c2FsdA==,i=4096"));
        EXPECT_FALSE(client.verifyServerFinal(bad)) << bad;
    }
}

TEST(ScramClient, ClientFinalOutOfTurn) {
    ScramClient client(HashAlgorithm::Sha256, "user", "pencil");
    auto r = client.clientFinal("r=abcdef,s=c2FsdA==,i=4096");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), Failure::MalformedRequest);
}

TEST(ScramClient, CachedSaltedPasswordSkipsPbkdf2) {
    const HashAlgorithm a = HashAlgorithm::Sha512;
    ScramClient first(a, "juliet", "r0m30");
    ScramServer server1(a, false, ServerOptions{});
    auto r1 = test::runExchange(server1, first, "r0m30", a);
    ASSERT_TRUE(std::holds_alternative<Success>(r1.last));
    EXPECT_FALSE(first.usedCache());
    ASSERT_TRUE(first.saltedPassword());
    const ScramSaltedPassword cached = *first.saltedPassword();
    EXPECT_EQ(cached.iterations, 4096u);
    EXPECT_EQ(cached.salt, test::credentialFor(a, "r0m30").salt);
    EXPECT_EQ(cached.saltedPassword.size(), 64u);

    // The password given here is wrong: success proves the cache was used instead of PBKDF2.
    ScramClient second(a, "juliet", "not the password");
    second.useCachedSaltedPassword(cached);
    ScramServer server2(a, false, ServerOptions{});
    auto r2 = test::runExchange(server2, second, "r0m30", a);
    EXPECT_TRUE(second.usedCache());
    EXPECT_TRUE(std::holds_alternative<Success>(r2.last));
    EXPECT_TRUE(r2.clientVerified);
}

TEST(ScramClient, CacheForOtherSaltIsNotUsed) {
    const HashAlgorithm a = HashAlgorithm::Sha256;
    ScramClient client(a, "juliet", "r0m30");
    client.useCachedSaltedPassword(ScramSaltedPassword{a, "other salt", 4096, std::string(32, 'x')});
    ScramServer server(a, false, ServerOptions{});
    auto r = test::runExchange(server, client, "r0m30", a);
    EXPECT_FALSE(client.usedCache());
    EXPECT_TRUE(std::holds_alternative<Success>(r.last));
}

TEST(ScramClient, IterationLimitsAreConfigurable) {
    ScramClient client(HashAlgorithm::Sha256, "user", "pencil");
    client.setIterationLimits(1, 10);
    client.setClientNonceForTest("abc");
    client.clientFirst();
    EXPECT_TRUE(client.clientFinal("r=abcdef,s=c2FsdA==,i=10"));
}

}  // namespace
}  // namespace parley::sasl
