// XEP-0163 personal eventing (server/modules/pep) where a transcript cannot show it: the limits, a
// client that never answers the capabilities query (the IqTracker timeout, on the FakeClock), a wrong
// capabilities hash, and the disco features that exist only while the module runs.
#include <gtest/gtest.h>

#include <algorithm>

#include "module_test_util.h"

namespace parley::test {
namespace {

constexpr const char* kVer = "Zs6o+EkB1eRwTITRUOCEoYjHjLs=";  // of kDiscoInfo below (XEP-0115 §5.1)
constexpr const char* kCapsPresence =
    "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.org/client' "
    "ver='Zs6o+EkB1eRwTITRUOCEoYjHjLs='/></presence>";

std::string discoInfoResult(const std::string& id, const std::string& extraFeature = "") {
    return "<iq type='result' id='" + id +
           "' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'>"
           "<identity category='client' type='pc' name='Romeo'/>"
           "<feature var='http://jabber.org/protocol/caps'/>"
           "<feature var='http://jabber.org/protocol/disco#info'/>"
           "<feature var='http://jabber.org/protocol/nick+notify'/>"
           "<feature var='urn:xmpp:avatar:metadata+notify'/>"
           "<feature var='eu.siacs.conversations.axolotl.devicelist+notify'/>"
           "<feature var='urn:xmpp:bookmarks:1+notify'/>" +
           extraFeature + "</query></iq>";
}

std::string publishNick(const std::string& id, const std::string& nick) {
    return "<iq type='set' id='" + id +
           "'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish "
           "node='http://jabber.org/protocol/nick'>"
           "<item id='current'><nick xmlns='http://jabber.org/protocol/nick'>" +
           nick + "</nick></item></publish></pubsub></iq>";
}

void setOption(server::ServerConfig& config, const std::string& key, const std::string& value) {
    for (auto& entry : config.modules) {
        if (entry.name == "pep")
            entry.options[key] = value;
    }
}

std::size_t countEvents(const std::vector<xml::Element>& stanzas) {
    return static_cast<std::size_t>(std::count_if(stanzas.begin(), stanzas.end(), [](const xml::Element& s) {
        return s.name() == "message" && s.findChild("event", "http://jabber.org/protocol/pubsub#event");
    }));
}

class PepTest : public ::testing::Test {
  protected:
    explicit PepTest(std::function<void(server::ServerConfig&)> tweak = {}) : server_(std::move(tweak)) {
        server_.addAccount("romeo", "localhost", "secret");
        server_.addAccount("juliet", "localhost", "secret");
        server_.addContact("romeo", "localhost", "juliet@localhost", "both");
        server_.addContact("juliet", "localhost", "romeo@localhost", "both");
        romeo_ = loggedIn(server_, "romeo", "secret", "orchard");
        romeo_->send("<presence/>");
        drain(*romeo_, "romeo-ready");
    }

    // Juliet logs in with capabilities and returns the server's disco#info query (nullopt: none came).
    std::optional<xml::Element> julietAnnouncesCaps() {
        juliet_ = loggedIn(server_, "juliet", "secret", "balcony");
        juliet_->send(kCapsPresence);
        return nextQuery(*juliet_);
    }

    // The query is sent after the presence is routed, not in order with what the client sends next:
    // read until it comes (the presence echo and contacts' presence come first).
    static std::optional<xml::Element> nextQuery(TestClient& client) {
        for (int i = 0; i < 5; ++i) {
            auto stanza = client.receive();
            if (!stanza)
                break;
            if (stanza->name() == "iq" && stanza->attr("type") == "get")
                return stanza;
        }
        return std::nullopt;
    }

    TestServer server_;
    std::unique_ptr<TestClient> romeo_;
    std::unique_ptr<TestClient> juliet_;
};

TEST_F(PepTest, AnsweredCapabilitiesBringNotifications) {
    auto query = julietAnnouncesCaps();
    ASSERT_TRUE(query);
    const xml::Element* payload = query->findChild("query", "http://jabber.org/protocol/disco#info");
    ASSERT_TRUE(payload);
    EXPECT_EQ(payload->attr("node"), std::string("https://example.org/client#") + kVer);
    juliet_->send(discoInfoResult(std::string(query->attr("id"))));
    drain(*juliet_, "answered");
    romeo_->send(publishNick("p1", "Romeo"));
    drain(*romeo_, "published");
    EXPECT_EQ(countEvents(drain(*juliet_, "after")), 1u);
}

TEST_F(PepTest, UnansweredCapabilitiesQueryTimesOutOnTheClock) {
    auto query = julietAnnouncesCaps();
    ASSERT_TRUE(query);
    EXPECT_EQ(server_.server().core().iqTracker().pendingForTest(), 1u);
    server_.advanceClock(std::chrono::seconds(29));
    EXPECT_EQ(server_.server().core().iqTracker().pendingForTest(), 1u);
    server_.advanceClock(std::chrono::seconds(1));
    EXPECT_TRUE(server_.waitFor([&] { return server_.server().core().iqTracker().pendingForTest() == 0; }));
    // The late answer is dropped: the capabilities stay unknown, so no notification.
    juliet_->send(discoInfoResult(std::string(query->attr("id"))));
    drain(*juliet_, "late");
    romeo_->send(publishNick("p1", "Romeo"));
    drain(*romeo_, "published");
    EXPECT_EQ(countEvents(drain(*juliet_, "after")), 0u);
    // The next presence with the same capabilities asks again; answered, it brings the last item.
    juliet_->send(kCapsPresence);
    auto again = nextQuery(*juliet_);
    ASSERT_TRUE(again);
    EXPECT_NE(again->attr("id"), query->attr("id"));
    juliet_->send(discoInfoResult(std::string(again->attr("id"))));
    EXPECT_EQ(countEvents(drain(*juliet_, "answered")), 1u);
}

TEST_F(PepTest, ACapabilitiesAnswerThatDoesNotMatchTheHashIsNotBelieved) {
    auto query = julietAnnouncesCaps();
    ASSERT_TRUE(query);
    // One feature more than the hash covers (XEP-0115 §5.4 step 3.6).
    juliet_->send(discoInfoResult(std::string(query->attr("id")), "<feature var='urn:example:extra'/>"));
    drain(*juliet_, "answered");
    romeo_->send(publishNick("p1", "Romeo"));
    drain(*romeo_, "published");
    EXPECT_EQ(countEvents(drain(*juliet_, "after")), 0u);
}

TEST_F(PepTest, AnAnswerFromSomeoneElseDoesNotCompleteTheQuery) {
    auto query = julietAnnouncesCaps();
    ASSERT_TRUE(query);
    romeo_->send(discoInfoResult(std::string(query->attr("id"))));
    drain(*romeo_, "spoof");
    EXPECT_EQ(server_.server().core().iqTracker().pendingForTest(), 1u);
}

class PepLimitsTest : public PepTest {
  protected:
    PepLimitsTest()
        : PepTest([](server::ServerConfig& config) {
              setOption(config, "max_item_bytes", "100");
              setOption(config, "max_nodes", "1");
              setOption(config, "max_items", "5");
          }) {}
};

TEST_F(PepLimitsTest, LimitsAreEnforcedWithTheirErrors) {
    auto big = request(*romeo_, publishNick("p1", std::string(200, 'x')));
    ASSERT_TRUE(big);
    EXPECT_EQ(errorCondition(*big), "not-acceptable");
    EXPECT_TRUE(big->findChild("error", "jabber:client")
                    ->findChild("payload-too-big", "http://jabber.org/protocol/pubsub#errors"));
    auto first = request(*romeo_, publishNick("p2", "Romeo"));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->attr("type"), "result");
    auto second =
        request(*romeo_,
                "<iq type='set' id='p3'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                "<publish node='urn:xmpp:avatar:metadata'><item><metadata xmlns='urn:xmpp:avatar:metadata'/>"
                "</item></publish></pubsub></iq>");
    ASSERT_TRUE(second);
    EXPECT_EQ(errorCondition(*second), "not-allowed");
    auto tooMany =
        request(*romeo_,
                "<iq type='set' id='c1'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>"
                "<configure node='http://jabber.org/protocol/nick'><x xmlns='jabber:x:data' type='submit'>"
                "<field var='pubsub#max_items'><value>6</value></field></x></configure></pubsub></iq>");
    ASSERT_TRUE(tooMany);
    EXPECT_EQ(errorCondition(*tooMany), "not-acceptable");
}

TEST(PepDisco, FeaturesExistOnlyWhileTheModuleRuns) {
    for (bool enabled : {true, false}) {
        SCOPED_TRACE(enabled ? "pep enabled" : "pep disabled");
        TestServer server([enabled](server::ServerConfig& config) {
            if (!enabled)
                std::erase_if(config.modules, [](const server::ModuleConfig& m) { return m.name == "pep"; });
        });
        server.addAccount("romeo", "localhost", "secret");
        auto romeo = loggedIn(server, "romeo", "secret", "orchard");
        auto info = request(
            *romeo, "<iq type='get' id='i1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
        ASSERT_TRUE(info);
        const xml::Element* query = info->findChild("query", "http://jabber.org/protocol/disco#info");
        ASSERT_TRUE(query);
        bool pepIdentity = false;
        for (const xml::Element* identity :
             query->children("identity", "http://jabber.org/protocol/disco#info"))
            pepIdentity =
                pepIdentity || (identity->attr("category") == "pubsub" && identity->attr("type") == "pep");
        std::size_t pubsubFeatures = 0;
        for (const xml::Element* feature :
             query->children("feature", "http://jabber.org/protocol/disco#info")) {
            const std::string_view var = feature->attr("var");
            if (var.starts_with("http://jabber.org/protocol/pubsub") || var.starts_with("urn:xmpp:bookmarks"))
                ++pubsubFeatures;
        }
        EXPECT_EQ(pepIdentity, enabled);
        EXPECT_EQ(pubsubFeatures > 0, enabled);
        auto publish = request(*romeo, publishNick("p1", "Romeo"));
        ASSERT_TRUE(publish);
        EXPECT_EQ(errorCondition(*publish), enabled ? "" : "service-unavailable");
    }
}

}  // namespace
}  // namespace parley::test
