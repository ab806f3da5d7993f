// The worked examples of RFC 5802 §5 (SCRAM-SHA-1) and RFC 7677 §3 (SCRAM-SHA-256), both directions.
#include "parley/base/base64.h"
#include "parley/sasl/scram_client.h"
#include "parley/sasl/scram_server.h"
#include "sasl_test_util.h"

#include <gtest/gtest.h>

namespace parley::sasl {
namespace {

using test::as;

struct Vector {
    HashAlgorithm algorithm;
    const char* clientNonce;
    const char* serverNonce;
    const char* salt;
    const char* clientFirst;
    const char* serverFirst;
    const char* clientFinal;
    const char* serverFinal;
};

const Vector kRfc5802 = {HashAlgorithm::Sha1,
                         "fyko+d2lbbFgONRv9qkxdawL",
                         "3rfcNHYJY1ZVvWVs7j",
                         "QSXCR+Q6sek8bf92",
                         "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                         "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
                         "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                         "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="};

const Vector kRfc7677 = {
    HashAlgorithm::Sha256,
    "rOprNGfwEbeRWgbNEkqO",
    "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    "W22ZaJ0SNY7soEsUEjb6gQ==",
    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"
    "Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="};

class RfcVector : public ::testing::TestWithParam<Vector> {};

TEST_P(RfcVector, ServerSide) {
    const Vector& v = GetParam();
    ScramServer server(v.algorithm, false, ServerOptions{});
    server.setServerNonceForTest(v.serverNonce);
    Step step = server.start(std::string_view(v.clientFirst));
    EXPECT_EQ(as<NeedCredential>(step).username, "user");
    EXPECT_EQ(as<NeedCredential>(step).algorithm, v.algorithm);
    const auto salt = base64Decode(v.salt);
    ASSERT_TRUE(salt);
    step = server.provideCredential(deriveScramCredential(v.algorithm, "pencil", *salt, 4096));
    EXPECT_EQ(as<Challenge>(step).data, v.serverFirst);
    step = server.respond(v.clientFinal);
    const Success& success = as<Success>(step);
    EXPECT_EQ(success.additionalData, v.serverFinal);
    EXPECT_EQ(success.username, "user");
    EXPECT_EQ(success.authzid, "");
}

TEST_P(RfcVector, ClientSide) {
    const Vector& v = GetParam();
    ScramClient client(v.algorithm, "user", "pencil");
    client.setClientNonceForTest(v.clientNonce);
    EXPECT_EQ(client.clientFirst(), v.clientFirst);
    auto final = client.clientFinal(v.serverFirst);
    ASSERT_TRUE(final);
    EXPECT_EQ(*final, v.clientFinal);
    EXPECT_TRUE(client.verifyServerFinal(v.serverFinal));
}

TEST_P(RfcVector, ClientRejectsWrongServerSignature) {
    const Vector& v = GetParam();
    ScramClient client(v.algorithm, "user", "pencil");
    client.setClientNonceForTest(v.clientNonce);
    client.clientFirst();
    ASSERT_TRUE(client.clientFinal(v.serverFirst));
    std::string tampered = v.serverFinal;
    tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(client.verifyServerFinal(tampered));
}

INSTANTIATE_TEST_SUITE_P(Rfc, RfcVector, ::testing::Values(kRfc5802, kRfc7677), [](const auto& param) {
    return param.index == 0 ? "Rfc5802Sha1" : "Rfc7677Sha256";
});

}  // namespace
}  // namespace parley::sasl
