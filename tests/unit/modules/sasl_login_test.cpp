// SASL (RFC 6120 §6, libs/sasl) and resource binding (RFC 6120 §7) as C2sSession negotiates them:
// every mechanism on both TLS listeners, what is offered with and without TLS, XEP-0440 channel-binding
// types, XEP-0478 limits, client-chosen and generated resources, legacy <session/> and a second <bind/>.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "module_test_util.h"
#include "parley/base/base64.h"
#include "parley/jid/jid.h"

namespace parley::test {
namespace {

constexpr std::string_view kSaslNs = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kBindNs = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr std::string_view kSessionNs = "urn:ietf:params:xml:ns:xmpp-session";
constexpr std::string_view kLimitsNs = "urn:xmpp:stream-limits:0";
constexpr std::string_view kChannelBindingNs = "urn:xmpp:sasl-cb:0";

std::set<std::string> mechanismsOf(const xml::Element& features) {
    std::set<std::string> names;
    if (const xml::Element* mechanisms = features.findChild("mechanisms", kSaslNs)) {
        for (const xml::Element* mechanism : mechanisms->children("mechanism", kSaslNs))
            names.insert(mechanism->text());
    }
    return names;
}

// The SASL <failure/> condition for an <auth/> with `mechanism` and an initial response.
std::string authFailure(TestClient& client, const std::string& mechanism,
                        const std::string& initialResponse) {
    auto reply = request(client, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + mechanism +
                                     "'>" + initialResponse + "</auth>");
    if (!reply)
        return "(nothing)";
    if (!reply->is("failure", kSaslNs))
        return "(" + reply->name() + ")";
    const xml::Element* condition = reply->firstChild();
    return condition ? condition->name() : "(no condition)";
}

// --- every mechanism on both TLS listeners -------------------------------------------------------

enum class Listener { StartTls, DirectTls };

class SaslLogin : public ::testing::TestWithParam<std::tuple<std::string, Listener>> {};

TEST_P(SaslLogin, SucceedsAndBinds) {
    const auto& [mechanism, listener] = GetParam();
    TestServer server;
    server.addAccount("romeo", "localhost", "pass word");
    const bool direct = listener == Listener::DirectTls;
    TestClient client(direct ? server.directTlsPort() : server.requiredTlsPort(), direct);
    auto features = client.openStream("localhost");
    ASSERT_TRUE(features);
    if (!direct) {
        features = client.startTls("localhost");
        ASSERT_TRUE(features);
    }
    ASSERT_TRUE(client.isTls());
    EXPECT_TRUE(mechanismsOf(*features).contains(mechanism)) << features->toString();
    ASSERT_EQ(client.authenticate("romeo", "pass word", mechanism), "success");
    EXPECT_EQ(client.bind("garden"), "romeo@localhost/garden");
    EXPECT_TRUE(answersPing(client, "p1"));
}

TEST_P(SaslLogin, WrongPasswordFails) {
    const auto& [mechanism, listener] = GetParam();
    TestServer server;
    server.addAccount("romeo", "localhost", "pass word");
    const bool direct = listener == Listener::DirectTls;
    TestClient client(direct ? server.directTlsPort() : server.requiredTlsPort(), direct);
    ASSERT_TRUE(client.openStream("localhost"));
    if (!direct) {
        ASSERT_TRUE(client.startTls("localhost"));
    }
    EXPECT_EQ(client.authenticate("romeo", "wrong", mechanism), "failure");
    // An unknown user looks the same as a wrong password (RFC 6120 §13.11).
    EXPECT_EQ(client.authenticate("nobody", "pass word", mechanism), "failure");
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, SaslLogin,
                         ::testing::Combine(::testing::Values("SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512",
                                                              "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS",
                                                              "SCRAM-SHA-512-PLUS", "PLAIN"),
                                            ::testing::Values(Listener::StartTls, Listener::DirectTls)),
                         [](const auto& param) {
                             std::string name =
                                 std::get<0>(param.param) +
                                 (std::get<1>(param.param) == Listener::DirectTls ? "_direct" : "_starttls");
                             for (char& c : name) {
                                 if (c == '-')
                                     c = '_';
                             }
                             return name;
                         });

// --- what is offered -----------------------------------------------------------------------------

TEST(SaslFeatures, AfterTlsListMechanismsAndChannelBindingTypes) {
    TestServer server;
    std::optional<xml::Element> features;
    auto client = tlsClient(server, &features);
    ASSERT_TRUE(features);
    EXPECT_EQ(mechanismsOf(*features),
              (std::set<std::string>{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "SCRAM-SHA-1-PLUS",
                                     "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS", "PLAIN"}))
        << features->toString();
    EXPECT_FALSE(features->findChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls"));
    // XEP-0440 §3: the channel-binding types the server supports.
    const xml::Element* bindings = features->findChild("sasl-channel-binding", kChannelBindingNs);
    ASSERT_TRUE(bindings) << features->toString();
    std::set<std::string> types;
    for (const xml::Element* binding : bindings->children("channel-binding", kChannelBindingNs)) {
        types.insert(std::string(binding->attr("type")));
    }
    EXPECT_TRUE(types.contains("tls-exporter")) << bindings->toString();
    // RFC 9266 §3: tls-unique is undefined for TLS 1.3, which the server negotiates.
    EXPECT_FALSE(types.contains("tls-unique")) << bindings->toString();
}

TEST(SaslFeatures, DirectTlsOffersTheSameAsStartTls) {
    TestServer server;
    std::optional<xml::Element> starttls;
    auto first = tlsClient(server, &starttls);
    TestClient direct(server.directTlsPort(), true);
    auto features = direct.openStream("localhost");
    ASSERT_TRUE(features && starttls);
    EXPECT_EQ(mechanismsOf(*features), mechanismsOf(*starttls));
    EXPECT_TRUE(features->findChild("sasl-channel-binding", kChannelBindingNs));
    EXPECT_FALSE(features->findChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls"));
}

TEST(SaslFeatures, WithoutTlsNeitherPlusNorPlain) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    TestClient client(server.optionalTlsPort());
    auto features = client.openStream("localhost");
    ASSERT_TRUE(features);
    // STARTTLS is offered but not required on this listener.
    const xml::Element* starttls = features->findChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls");
    ASSERT_TRUE(starttls);
    EXPECT_FALSE(starttls->findChild("required", "urn:ietf:params:xml:ns:xmpp-tls"));
    EXPECT_EQ(mechanismsOf(*features),
              (std::set<std::string>{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"}))
        << features->toString();
    EXPECT_FALSE(features->findChild("sasl-channel-binding", kChannelBindingNs)) << features->toString();

    // Asking for them anyway: PLAIN needs encryption (RFC 6120 §6.4.5), -PLUS has nothing to bind to.
    EXPECT_EQ(authFailure(client, "PLAIN", base64Encode(std::string("\0romeo\0secret", 13))),
              "encryption-required");
    EXPECT_EQ(authFailure(client, "SCRAM-SHA-256-PLUS", "="), "invalid-mechanism");
    // SCRAM without channel binding works on the plaintext stream.
    ASSERT_EQ(client.authenticate("romeo", "secret", "SCRAM-SHA-256"), "success");
    EXPECT_EQ(client.bind("plain"), "romeo@localhost/plain");
}

TEST(SaslFeatures, RequiredTlsListenerOffersOnlyStartTls) {
    TestServer server;
    TestClient client(server.requiredTlsPort());
    auto features = client.openStream("localhost");
    ASSERT_TRUE(features);
    const xml::Element* starttls = features->findChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls");
    ASSERT_TRUE(starttls);
    EXPECT_TRUE(starttls->findChild("required", "urn:ietf:params:xml:ns:xmpp-tls"));
    EXPECT_TRUE(mechanismsOf(*features).empty()) << features->toString();
    EXPECT_EQ(authFailure(client, "SCRAM-SHA-256", "="), "encryption-required");
}

TEST(SaslFeatures, LimitsAdvertiseTheConfiguredValues) {
    TestServer server([](server::ServerConfig& config) {
        config.limits.maxStanzaBytes = 54321;
        config.timeouts.idle = std::chrono::seconds(777);
    });
    server.addAccount("romeo", "localhost", "secret");
    // XEP-0478 §2: in the features of every stream, before and after authentication.
    TestClient client(server.requiredTlsPort());
    std::vector<xml::Element> allFeatures;
    auto features = client.openStream("localhost");
    ASSERT_TRUE(features);
    allFeatures.push_back(*features);
    features = client.startTls("localhost");
    ASSERT_TRUE(features);
    allFeatures.push_back(*features);
    features = authenticatePlain(client, "romeo", "secret");
    ASSERT_TRUE(features);
    allFeatures.push_back(*features);
    for (const xml::Element& each : allFeatures) {
        const xml::Element* limits = each.findChild("limits", kLimitsNs);
        ASSERT_TRUE(limits) << each.toString();
        EXPECT_EQ(limits->childText("max-bytes", kLimitsNs), "54321");
        EXPECT_EQ(limits->childText("idle-seconds", kLimitsNs), "777");
    }
}

// --- resource binding ----------------------------------------------------------------------------

std::unique_ptr<TestClient> authenticated(TestServer& server, const std::string& user,
                                          const std::string& password,
                                          std::optional<xml::Element>* features = nullptr) {
    auto client = tlsClient(server);
    if (features) {
        *features = authenticatePlain(*client, user, password);
        EXPECT_TRUE(*features);
    } else {
        EXPECT_EQ(client->authenticate(user, password), "success");
    }
    return client;
}

TEST(Bind, PostAuthFeaturesOfferBindAndOptionalSession) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    std::optional<xml::Element> features;
    auto client = authenticated(server, "romeo", "secret", &features);
    ASSERT_TRUE(features);
    EXPECT_TRUE(features->findChild("bind", kBindNs)) << features->toString();
    const xml::Element* session = features->findChild("session", kSessionNs);
    ASSERT_TRUE(session) << features->toString();
    EXPECT_TRUE(session->findChild("optional", kSessionNs));
    EXPECT_TRUE(mechanismsOf(*features).empty());
}

TEST(Bind, ClientChosenResource) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto client = authenticated(server, "romeo", "secret");
    EXPECT_EQ(client->bind("Orchard Phone"), "romeo@localhost/Orchard Phone");
}

TEST(Bind, ServerGeneratedResources) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    std::set<std::string> resources;
    for (int i = 0; i < 3; ++i) {
        auto client = authenticated(server, "romeo", "secret");
        const std::string full = client->bind("");
        auto jid = Jid::parse(full);
        ASSERT_TRUE(jid) << "'" << full << "'";
        EXPECT_EQ(jid->bareView(), "romeo@localhost");
        EXPECT_FALSE(jid->resource().empty());
        resources.insert(std::string(jid->resource()));
    }
    EXPECT_EQ(resources.size(), 3u) << "generated resources repeat";
}

TEST(Bind, LegacySessionGetsAResult) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto client = loggedIn(server, "romeo", "secret", "r");
    auto reply = request(
        *client, "<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->name(), "iq");
    EXPECT_EQ(reply->attr("id"), "s1");
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    EXPECT_TRUE(answersPing(*client, "p1"));
}

TEST(Bind, SecondBindIsNotAllowed) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto client = loggedIn(server, "romeo", "secret", "first");
    auto reply = request(*client,
                         "<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                         "<resource>second</resource></bind></iq>");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("id"), "b2");
    EXPECT_EQ(errorCondition(*reply), "not-allowed") << reply->toString();
    // The session keeps its first resource.
    auto pong = request(*client, "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->attr("to"), "romeo@localhost/first") << pong->toString();
}

TEST(Bind, StanzasBeforeBindingCloseTheStream) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto client = authenticated(server, "romeo", "secret");
    client->send("<message to='romeo@localhost'><body>early</body></message>");
    // RFC 6120 §7.1: a client binds before it sends stanzas.
    EXPECT_EQ(client->streamErrorCondition(), "not-authorized");
    EXPECT_TRUE(client->waitForClose());
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// The SCRAM salt the server announces for `user` (RFC 5802 server-first-message, s=...).
std::string announcedSalt(TestServer& server, const std::string& user) {
    auto client = tlsClient(server);
    client->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" +
                 base64Encode("n,,n=" + user + ",r=abcdefghijklmnop") + "</auth>");
    auto challenge = client->receive();
    if (!challenge || challenge->name() != "challenge")
        return "";
    auto serverFirst = base64Decode(challenge->text());
    if (!serverFirst)
        return "";
    const auto start = serverFirst->find(",s=");
    return start == std::string::npos
               ? ""
               : serverFirst->substr(start + 3, serverFirst->find(',', start + 3) - start - 3);
}

TEST(SaslUnknownUser, SaltIsTheSameAcrossRestarts) {
    // RFC 6120 §13.11: an unknown user must look like a real one, whose salt never changes; the secret
    // behind the fabricated salt is kept in the data directory.
    const auto directory =
        std::filesystem::temp_directory_path() / ("parley-secret-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    auto useDirectory = [&](server::ServerConfig& config) { config.dataDir = directory; };
    std::string first;
    std::string other;
    {
        TestServer server(useDirectory);
        first = announcedSalt(server, "ghost");
        other = announcedSalt(server, "phantom");
    }
    std::string second;
    {
        TestServer server(useDirectory);
        second = announcedSalt(server, "ghost");
    }
    std::filesystem::remove_all(directory);
    ASSERT_FALSE(first.empty());
    EXPECT_EQ(first, second);
    EXPECT_NE(first, other) << "each unknown user has its own salt, like real users";
}

}  // namespace
}  // namespace parley::test
