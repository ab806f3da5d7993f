// Client and server against each other: round trips for every hash with and without channel
// binding, and every way an exchange must fail.
#include "parley/base/base64.h"
#include "parley/sasl/scram_client.h"
#include "parley/sasl/scram_server.h"
#include "sasl_test_util.h"

#include <gtest/gtest.h>

#include <regex>

namespace parley::sasl {
namespace {

using test::as;
using test::isFail;
using test::runExchange;

constexpr HashAlgorithm kAll[] = {HashAlgorithm::Sha1, HashAlgorithm::Sha256, HashAlgorithm::Sha512};

ServerOptions tlsOptions() {
    ServerOptions o;
    o.tls = true;
    o.channelBindings.tlsExporter = std::string(32, '\x42');
    o.channelBindings.tlsServerEndPoint = std::string(32, '\x17');
    o.plusAdvertised = true;
    o.fakeCredentialSecret = "server secret for unknown users";
    return o;
}

std::string mechanismName(HashAlgorithm algorithm, bool plus) {
    return "SCRAM-" + std::string(toString(algorithm)) + (plus ? "-PLUS" : "");
}

struct RoundTrip {
    HashAlgorithm algorithm;
    std::string cbType;  // empty: no channel binding
};

class ScramRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(ScramRoundTrip, Succeeds) {
    const RoundTrip& p = GetParam();
    const ServerOptions options = tlsOptions();
    std::optional<ClientChannelBinding> cb;
    if (!p.cbType.empty()) {
        cb = ClientChannelBinding{p.cbType, p.cbType == kTlsExporter
                                                ? options.channelBindings.tlsExporter
                                                : options.channelBindings.tlsServerEndPoint};
    }
    ScramClient client(p.algorithm, "juliet", "r0m30", cb, true);
    EXPECT_EQ(client.mechanismName(), mechanismName(p.algorithm, cb.has_value()));
    auto server = makeServerMechanism(client.mechanismName(), options);
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(server->name(), client.mechanismName());
    auto r = runExchange(*server, client, "r0m30", p.algorithm);
    const Success& s = as<Success>(r.last);
    EXPECT_EQ(s.username, "juliet");
    EXPECT_TRUE(r.clientVerified);
    if (cb) {
        EXPECT_TRUE(r.clientFirst.starts_with("p=" + p.cbType + ",,"));
    } else {
        EXPECT_TRUE(r.clientFirst.starts_with("n,,"));
    }
}

TEST_P(ScramRoundTrip, WithoutInitialResponse) {
    const RoundTrip& p = GetParam();
    const ServerOptions options = tlsOptions();
    std::optional<ClientChannelBinding> cb;
    if (!p.cbType.empty()) {
        cb = ClientChannelBinding{p.cbType, p.cbType == kTlsExporter
                                                ? options.channelBindings.tlsExporter
                                                : options.channelBindings.tlsServerEndPoint};
    }
    ScramClient client(p.algorithm, "juliet", "r0m30", cb, true);
    auto server = makeServerMechanism(client.mechanismName(), options);
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(as<Challenge>(server->start(std::nullopt)).data, "");
    EXPECT_TRUE(std::holds_alternative<NeedCredential>(server->respond(client.clientFirst())));
    Step step = server->provideCredential(test::credentialFor(p.algorithm, "r0m30"));
    auto final = client.clientFinal(as<Challenge>(step).data);
    ASSERT_TRUE(final);
    step = server->respond(*final);
    EXPECT_TRUE(client.verifyServerFinal(as<Success>(step).additionalData));
}

INSTANTIATE_TEST_SUITE_P(
    AllHashes, ScramRoundTrip,
    ::testing::Values(RoundTrip{HashAlgorithm::Sha1, ""}, RoundTrip{HashAlgorithm::Sha1, "tls-exporter"},
                      RoundTrip{HashAlgorithm::Sha1, "tls-server-end-point"},
                      RoundTrip{HashAlgorithm::Sha256, ""}, RoundTrip{HashAlgorithm::Sha256, "tls-exporter"},
                      RoundTrip{HashAlgorithm::Sha256, "tls-server-end-point"},
                      RoundTrip{HashAlgorithm::Sha512, ""}, RoundTrip{HashAlgorithm::Sha512, "tls-exporter"},
                      RoundTrip{HashAlgorithm::Sha512, "tls-server-end-point"}),
    [](const auto& param) {
        std::string name = mechanismName(param.param.algorithm, false) + "_" +
                           (param.param.cbType.empty() ? std::string("none") : param.param.cbType);
        for (char& c : name) {
            if (c == '-')
                c = '_';
        }
        return name;
    });

TEST(ScramExchange, WrongPasswordIsNotAuthorized) {
    for (HashAlgorithm a : kAll) {
        ScramClient client(a, "juliet", "wrong");
        ScramServer server(a, false, tlsOptions());
        auto r = runExchange(server, client, "r0m30", a);
        EXPECT_TRUE(isFail(r.last, Failure::NotAuthorized));
    }
}

// RFC 6120 §13.11: no difference between "no such user" and "wrong password".
TEST(ScramExchange, UnknownUserLooksLikeWrongPassword) {
    for (HashAlgorithm a : kAll) {
        ScramClient wrongPassword(a, "juliet", "wrong");
        ScramServer server1(a, false, tlsOptions());
        auto known = runExchange(server1, wrongPassword, "r0m30", a);

        ScramClient unknownUser(a, "nobody", "r0m30");
        ScramServer server2(a, false, tlsOptions());
        auto unknown = runExchange(server2, unknownUser, std::nullopt, a);

        ASSERT_TRUE(std::holds_alternative<Fail>(known.last));
        ASSERT_TRUE(std::holds_alternative<Fail>(unknown.last));
        EXPECT_EQ(std::get<Fail>(known.last).failure, std::get<Fail>(unknown.last).failure);
        EXPECT_EQ(std::get<Fail>(known.last).text, std::get<Fail>(unknown.last).text);

        // Same challenge shape: 16-byte salt and the default iteration count, like a real credential.
        const std::regex shape("r=[!-+--~]+,s=[A-Za-z0-9+/]{22}==,i=4096");
        EXPECT_TRUE(std::regex_match(known.serverFirst, shape)) << known.serverFirst;
        EXPECT_TRUE(std::regex_match(unknown.serverFirst, shape)) << unknown.serverFirst;
    }
}

std::string saltOf(const std::string& serverFirst) {
    const auto s = serverFirst.find(",s=");
    return serverFirst.substr(s + 3, serverFirst.find(",i=") - s - 3);
}

TEST(ScramExchange, UnknownUserSaltIsStablePerUserAndSecret) {
    auto challengeFor = [](const std::string& user, const std::string& secret, HashAlgorithm a) {
        ServerOptions o;
        o.fakeCredentialSecret = secret;
        o.defaultIterations = 10000;
        ScramServer server(a, false, o);
        ScramClient client(a, user, "x");
        server.start(client.clientFirst());
        return as<Challenge>(server.provideCredential(std::nullopt)).data;
    };
    const std::string first = challengeFor("nobody", "k1", HashAlgorithm::Sha256);
    EXPECT_NE(first.find(",i=10000"), std::string::npos);
    EXPECT_EQ(saltOf(first), saltOf(challengeFor("nobody", "k1", HashAlgorithm::Sha256)));
    EXPECT_NE(saltOf(first), saltOf(challengeFor("somebody", "k1", HashAlgorithm::Sha256)));
    EXPECT_NE(saltOf(first), saltOf(challengeFor("nobody", "k2", HashAlgorithm::Sha256)));
    EXPECT_NE(saltOf(first), saltOf(challengeFor("nobody", "k1", HashAlgorithm::Sha1)));
    // Without a configured secret a per-process random one is used: still stable in the process.
    EXPECT_EQ(saltOf(challengeFor("nobody", "", HashAlgorithm::Sha256)),
              saltOf(challengeFor("nobody", "", HashAlgorithm::Sha256)));
}

// Even someone who knows the fake salt derivation cannot log in as a user that does not exist:
// the server refuses a fabricated credential regardless of the proof.
TEST(ScramExchange, UnknownUserNeverSucceeds) {
    ScramServer server(HashAlgorithm::Sha256, false, tlsOptions());
    ScramClient client(HashAlgorithm::Sha256, "nobody", "");
    auto r = runExchange(server, client, std::nullopt, HashAlgorithm::Sha256);
    EXPECT_TRUE(isFail(r.last, Failure::NotAuthorized));
}

TEST(ScramExchange, ReplayedClientFinalFails) {
    const HashAlgorithm a = HashAlgorithm::Sha256;
    ScramClient client(a, "juliet", "r0m30");
    ScramServer server1(a, false, tlsOptions());
    auto first = runExchange(server1, client, "r0m30", a);
    ASSERT_TRUE(std::holds_alternative<Success>(first.last));

    // An eavesdropper replays both client messages; the server's fresh nonce defeats it.
    ScramServer server2(a, false, tlsOptions());
    ASSERT_TRUE(std::holds_alternative<NeedCredential>(server2.start(first.clientFirst)));
    const std::string serverFirst =
        as<Challenge>(server2.provideCredential(test::credentialFor(a, "r0m30"))).data;
    EXPECT_NE(serverFirst, first.serverFirst);
    EXPECT_TRUE(isFail(server2.respond(first.clientFinal), Failure::NotAuthorized));
}

struct Started {
    std::unique_ptr<ScramServer> server;
    std::string serverFirst;
    std::string clientFinal;
};

Started startExchange(HashAlgorithm a = HashAlgorithm::Sha256) {
    Started s;
    s.server = std::make_unique<ScramServer>(a, false, tlsOptions());
    ScramClient client(a, "juliet", "r0m30");
    s.server->start(client.clientFirst());
    s.serverFirst = as<Challenge>(s.server->provideCredential(test::credentialFor(a, "r0m30"))).data;
    s.clientFinal = *client.clientFinal(s.serverFirst);
    return s;
}

TEST(ScramExchange, TamperedNonceFails) {
    auto s = startExchange();
    const auto r = s.clientFinal.find(",r=") + 3;
    std::string tampered = s.clientFinal;
    tampered[r + 1] = tampered[r + 1] == 'x' ? 'y' : 'x';
    EXPECT_TRUE(isFail(s.server->respond(tampered), Failure::NotAuthorized));

    // Dropping the server's part of the nonce fails too.
    auto s2 = startExchange();
    const auto end = s2.clientFinal.find(",p=");
    std::string shortened = s2.clientFinal.substr(0, end - 3) + s2.clientFinal.substr(end);
    EXPECT_TRUE(isFail(s2.server->respond(shortened), Failure::NotAuthorized));
}

TEST(ScramExchange, TamperedProofFails) {
    auto s = startExchange();
    const auto p = s.clientFinal.find(",p=") + 3;
    auto proof = *base64Decode(s.clientFinal.substr(p));
    proof[0] = static_cast<char>(proof[0] ^ 1);
    EXPECT_TRUE(
        isFail(s.server->respond(s.clientFinal.substr(0, p) + base64Encode(proof)), Failure::NotAuthorized));
}

TEST(ScramExchange, ProofOfWrongLengthIsMalformed) {
    auto s = startExchange();
    const auto p = s.clientFinal.find(",p=") + 3;
    EXPECT_TRUE(isFail(s.server->respond(s.clientFinal.substr(0, p) + base64Encode(std::string(20, 'x'))),
                       Failure::MalformedRequest));
}

TEST(ScramExchange, ResponseAfterTheEndFails) {
    auto s = startExchange();
    EXPECT_TRUE(std::holds_alternative<Success>(s.server->respond(s.clientFinal)));
    EXPECT_TRUE(isFail(s.server->respond(s.clientFinal), Failure::MalformedRequest));
}

TEST(ScramExchange, ChannelBindingDataMismatchFails) {
    const ServerOptions options = tlsOptions();
    for (std::string type : {"tls-exporter", "tls-server-end-point"}) {
        // A man in the middle terminates TLS: the client sees other binding data than the server.
        ScramClient client(HashAlgorithm::Sha256, "juliet", "r0m30", ClientChannelBinding{type, "other data"},
                           true);
        auto server = makeServerMechanism(client.mechanismName(), options);
        auto r = runExchange(*server, client, "r0m30", HashAlgorithm::Sha256);
        ASSERT_TRUE(isFail(r.last, Failure::NotAuthorized));
        EXPECT_EQ(std::get<Fail>(r.last).text, "channel-bindings-dont-match");
    }
}

TEST(ScramExchange, UnsupportedChannelBindingTypeFails) {
    ServerOptions options = tlsOptions();
    options.channelBindings.tlsExporter.clear();  // e.g. TLS 1.2 without extended master secret
    for (std::string type : {"tls-unique", "tls-exporter", "no-such-type"}) {
        ScramClient client(HashAlgorithm::Sha256, "juliet", "r0m30", ClientChannelBinding{type, "data"},
                           true);
        auto server = makeServerMechanism(client.mechanismName(), options);
        ASSERT_NE(server, nullptr);
        auto r = runExchange(*server, client, "r0m30", HashAlgorithm::Sha256);
        EXPECT_TRUE(isFail(r.last, Failure::NotAuthorized)) << type;
    }
}

TEST(ScramExchange, FlagDowngradeDetected) {
    // The client can bind, but an attacker removed -PLUS from the list, so it sends 'y'.
    ServerOptions options = tlsOptions();
    ScramClient client(HashAlgorithm::Sha256, "juliet", "r0m30", ClientChannelBinding{"tls-exporter", "d"},
                       false);
    EXPECT_EQ(client.mechanismName(), "SCRAM-SHA-256");
    ScramServer server(HashAlgorithm::Sha256, false, options);
    const std::string first = client.clientFirst();
    EXPECT_TRUE(first.starts_with("y,,"));
    const Step step = server.start(first);
    ASSERT_TRUE(isFail(step, Failure::NotAuthorized));
    EXPECT_EQ(std::get<Fail>(step).text, "server-does-support-channel-binding");
}

TEST(ScramExchange, FlagYAcceptedWhenServerOffersNoPlus) {
    ServerOptions options;  // no TLS: no -PLUS offered
    ScramClient client(HashAlgorithm::Sha256, "juliet", "r0m30", ClientChannelBinding{"tls-exporter", "d"},
                       false);
    ScramServer server(HashAlgorithm::Sha256, false, options);
    auto r = runExchange(server, client, "r0m30", HashAlgorithm::Sha256);
    EXPECT_TRUE(std::holds_alternative<Success>(r.last));
    EXPECT_TRUE(r.clientVerified);
}

TEST(ScramExchange, PlusMechanismWithoutChannelBindingFails) {
    for (const char* first : {"n,,n=juliet,r=abcdef", "y,,n=juliet,r=abcdef"}) {
        ScramServer server(HashAlgorithm::Sha256, true, tlsOptions());
        EXPECT_TRUE(isFail(server.start(std::string_view(first)), Failure::MalformedRequest)) << first;
    }
}

TEST(ScramExchange, NonPlusMechanismWithChannelBindingFails) {
    ScramServer server(HashAlgorithm::Sha256, false, tlsOptions());
    EXPECT_TRUE(isFail(server.start(std::string_view("p=tls-exporter,,n=juliet,r=abcdef")),
                       Failure::MalformedRequest));
}

TEST(ScramExchange, ChannelBindingHeaderMustMatchGs2Header) {
    // The client says 'n' in client-first but sends c= for 'y': the gs2 header was altered.
    auto s = startExchange();
    std::string final = s.clientFinal;
    ASSERT_TRUE(final.starts_with("c=biws,"));
    final.replace(0, 6, "c=eSws");
    EXPECT_TRUE(isFail(s.server->respond(final), Failure::NotAuthorized));
    // c= that is not base64 is malformed.
    auto s2 = startExchange();
    EXPECT_TRUE(isFail(s2.server->respond("c=b!ws" + s2.clientFinal.substr(6)), Failure::MalformedRequest));
}

TEST(ScramExchange, AuthzidIsReturned) {
    ScramClient client(HashAlgorithm::Sha256, "juliet", "r0m30");
    client.setAuthzid("romeo@example.net,=x");
    ScramServer server(HashAlgorithm::Sha256, false, tlsOptions());
    auto r = runExchange(server, client, "r0m30", HashAlgorithm::Sha256);
    EXPECT_TRUE(r.clientFirst.starts_with("n,a=romeo@example.net=2C=3Dx,n=juliet,"));
    const Success& s = as<Success>(r.last);
    EXPECT_EQ(s.username, "juliet");
    EXPECT_EQ(s.authzid, "romeo@example.net,=x");
    EXPECT_TRUE(r.clientVerified);
}

TEST(ScramExchange, EscapedUsername) {
    ScramClient client(HashAlgorithm::Sha1, "a,b=c", "r0m30");
    ScramServer server(HashAlgorithm::Sha1, false, tlsOptions());
    const std::string first = client.clientFirst();
    EXPECT_EQ(first.substr(0, 13), "n,,n=a=2Cb=3D");
    EXPECT_EQ(as<NeedCredential>(server.start(first)).username, "a,b=c");
}

TEST(ScramExchange, DamagedCredentialIsTemporaryFailure) {
    auto attempt = [](ScramCredential credential) {
        ScramServer server(HashAlgorithm::Sha256, false, tlsOptions());
        server.start(std::string_view("n,,n=juliet,r=abcdef"));
        return server.provideCredential(std::move(credential));
    };
    ScramCredential good = test::credentialFor(HashAlgorithm::Sha256, "r0m30");
    ScramCredential wrongHash = test::credentialFor(HashAlgorithm::Sha1, "r0m30");
    EXPECT_TRUE(isFail(attempt(wrongHash), Failure::TemporaryAuthFailure));
    ScramCredential noSalt = good;
    noSalt.salt.clear();
    EXPECT_TRUE(isFail(attempt(noSalt), Failure::TemporaryAuthFailure));
    ScramCredential noIterations = good;
    noIterations.iterations = 0;
    EXPECT_TRUE(isFail(attempt(noIterations), Failure::TemporaryAuthFailure));
    ScramCredential shortKey = good;
    shortKey.serverKey.pop_back();
    EXPECT_TRUE(isFail(attempt(shortKey), Failure::TemporaryAuthFailure));
}

TEST(ScramExchange, IterationCountComesFromTheCredential) {
    ScramServer server(HashAlgorithm::Sha256, false, tlsOptions());
    server.start(std::string_view("n,,n=juliet,r=abcdef"));
    ScramCredential c = deriveScramCredential(HashAlgorithm::Sha256, "pw", "salt", 5000);
    EXPECT_TRUE(as<Challenge>(server.provideCredential(c)).data.ends_with(",s=c2FsdA==,i=5000"));
}

TEST(ScramExchange, ServerNonceIsFreshEachTime) {
    auto a = startExchange();
    auto b = startExchange();
    EXPECT_NE(a.serverFirst.substr(0, a.serverFirst.find(',')),
              b.serverFirst.substr(0, b.serverFirst.find(',')));
}

}  // namespace
}  // namespace parley::sasl
