// XEP-0280 message carbons (server/modules/carbons) where a transcript cannot show it: the disco features
// exist exactly when the module is loaded, and carbons belong to a session, not to a resource name.
#include <gtest/gtest.h>

#include <algorithm>

#include "module_test_util.h"

namespace parley::test {
namespace {

constexpr std::string_view kDiscoInfoNs = "http://jabber.org/protocol/disco#info";

void withoutCarbons(server::ServerConfig& config) {
    std::erase_if(config.modules,
                  [](const server::ModuleConfig& module) { return module.name == "carbons"; });
}

std::vector<std::string> serverFeatures(TestClient& client) {
    auto reply = request(client, "<iq type='get' id='info' to='localhost'><query xmlns='" +
                                     std::string(kDiscoInfoNs) + "'/></iq>");
    std::vector<std::string> features;
    EXPECT_TRUE(reply && reply->attr("type") == "result");
    if (!reply)
        return features;
    if (const xml::Element* query = reply->findChild("query", kDiscoInfoNs)) {
        for (const xml::Element* feature : query->children("feature", kDiscoInfoNs))
            features.emplace_back(feature->attr("var"));
    }
    return features;
}

bool has(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

std::string enable(const std::string& id) {
    return "<iq type='set' id='" + id + "'><enable xmlns='urn:xmpp:carbons:2'/></iq>";
}

TEST(Carbons, DiscoFeaturesExactlyWhenLoaded) {
    for (bool loaded : {true, false}) {
        SCOPED_TRACE(loaded ? "carbons loaded" : "carbons not loaded");
        TestServer server(loaded ? std::function<void(server::ServerConfig&)>() : withoutCarbons);
        server.addAccount("romeo", "localhost", "secret");
        auto romeo = loggedIn(server, "romeo", "secret", "garden");
        const auto features = serverFeatures(*romeo);
        EXPECT_EQ(has(features, "urn:xmpp:carbons:2"), loaded);
        EXPECT_EQ(has(features, "urn:xmpp:carbons:rules:0"), loaded);
        // Without the module nobody answers the request (RFC 6120 §8.3.3.19).
        auto reply = request(*romeo, enable("e1"));
        ASSERT_TRUE(reply);
        EXPECT_EQ(errorCondition(*reply), loaded ? "" : "service-unavailable");
    }
}

TEST(Carbons, EnabledPerSessionNotPerResource) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    server.addAccount("juliet", "localhost", "secret");
    auto juliet = loggedIn(server, "juliet", "secret", "balcony");
    auto home = loggedIn(server, "romeo", "secret", "home");
    auto garden = loggedIn(server, "romeo", "secret", "garden");
    auto enabled = request(*garden, enable("e1"));
    ASSERT_TRUE(enabled && enabled->attr("type") == "result");

    const std::string message =
        "<message to='romeo@localhost/home' type='chat' id='m1'><body>Romeo?</body></message>";
    juliet->send(message);
    auto copy = garden->receive();
    ASSERT_TRUE(copy);
    EXPECT_TRUE(copy->findChild("received", "urn:xmpp:carbons:2")) << copy->toString();

    // A new session of the same resource starts without carbons (XEP-0280 §4: the client enables them
    // for its session). The conflict closes the old session first (RFC 6120 §7.7.2.2).
    garden.reset();
    auto gone = [&] {
        return server.server().core().sessions().resourcesOf(*Jid::parse("romeo@localhost")).size() == 1;
    };
    ASSERT_TRUE(server.waitFor(gone));
    garden = loggedIn(server, "romeo", "secret", "garden");
    juliet->send(message);
    // Juliet's ping is answered after her message was routed (RFC 6120 §10.1), copies included.
    EXPECT_TRUE(drain(*juliet, "routed").empty());
    EXPECT_TRUE(drain(*garden, "after").empty());
    const auto originals = drain(*home, "home");
    ASSERT_EQ(originals.size(), 2u);
    EXPECT_EQ(originals[1].attr("id"), "m1");
}

}  // namespace
}  // namespace parley::test
