// RFC 6121 (server/modules/roster): what the transcripts cannot show: the roster size limit for roster
// sets and for subscription requests both ways, and presence floods that pause the session (nothing is
// dropped) until the server's clock has moved on.
#include <gtest/gtest.h>

#include "module_test_util.h"

namespace parley::test {
namespace {

void setModuleOption(server::ServerConfig& config, const std::string& module, const std::string& key,
                     const std::string& value) {
    for (auto& entry : config.modules) {
        if (entry.name == module)
            entry.options[key] = value;
    }
}

std::string rosterSet(const std::string& id, const std::string& jid) {
    return "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:roster'><item jid='" + jid +
           "'/></query></iq>";
}

TEST(Roster, SetBeyondMaxItemsIsResourceConstraintAndChangesNothing) {
    TestServer server(
        [](server::ServerConfig& config) { setModuleOption(config, "roster", "max_items", "2"); });
    server.addAccount("romeo", "localhost", "pw");
    auto romeo = loggedIn(server, "romeo", "pw", "orchard");
    for (const char* contact : {"a@localhost", "b@localhost"}) {
        auto reply = request(*romeo, rosterSet("s", contact));
        ASSERT_TRUE(reply);
        EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    }
    auto refused = request(*romeo, rosterSet("s3", "c@localhost"));
    ASSERT_TRUE(refused);
    EXPECT_EQ(errorCondition(*refused), "resource-constraint") << refused->toString();
    // Updating an existing item is still allowed.
    auto update = request(*romeo, rosterSet("s4", "a@localhost"));
    ASSERT_TRUE(update);
    EXPECT_EQ(update->attr("type"), "result") << update->toString();
    auto roster = request(*romeo, "<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>");
    ASSERT_TRUE(roster);
    const xml::Element* query = roster->findChild("query", "jabber:iq:roster");
    ASSERT_TRUE(query);
    EXPECT_EQ(query->children("item", "jabber:iq:roster").size(), 2u) << roster->toString();
}

TEST(Roster, SubscribeBeyondMaxItemsIsRefusedToTheSender) {
    TestServer server(
        [](server::ServerConfig& config) { setModuleOption(config, "roster", "max_items", "1"); });
    server.addAccount("romeo", "localhost", "pw");
    auto romeo = loggedIn(server, "romeo", "pw", "orchard");
    ASSERT_EQ(request(*romeo, rosterSet("s1", "a@localhost"))->attr("type"), "result");
    auto refused = request(*romeo, "<presence to='juliet@localhost' type='subscribe' id='p1'/>");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->name(), "presence");
    EXPECT_EQ(errorCondition(*refused), "resource-constraint") << refused->toString();
}

TEST(Roster, IncomingRequestToAFullRosterIsDroppedNotStored) {
    TestServer server(
        [](server::ServerConfig& config) { setModuleOption(config, "roster", "max_items", "1"); });
    server.addAccount("romeo", "localhost", "pw");
    server.addAccount("juliet", "localhost", "pw");
    server.addContact("juliet", "localhost", "nurse@localhost", "both");
    auto romeo = loggedIn(server, "romeo", "pw", "orchard");
    // Romeo's own roster has room: his item for Juliet is made.
    romeo->send("<presence to='juliet@localhost' type='subscribe'/>");
    EXPECT_TRUE(answersPing(*romeo, "p1"));
    // Juliet's roster is full: at her login there is no request waiting for her.
    auto juliet = loggedIn(server, "juliet", "pw", "balcony");
    auto echo = request(*juliet, "<presence/>");
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->attr("from"), "juliet@localhost/balcony") << echo->toString();
    EXPECT_TRUE(answersPing(*juliet, "p2"));
}

TEST(Roster, PresenceFloodPausesTheSessionAndDropsNothing) {
    TestServer server([](server::ServerConfig& config) { config.limits.presencePerSecond = 1; });
    server.addAccount("romeo", "localhost", "pw");
    auto romeo = loggedIn(server, "romeo", "pw", "orchard");
    // One per second with five seconds of burst: after the sixth presence the session waits for the
    // clock; after it moved, the five others fit in the burst again and the ping is answered.
    constexpr int kPresences = 11;
    std::string flood;
    for (int i = 0; i < kPresences; ++i)
        flood += "<presence><status>" + std::to_string(i) + "</status></presence>";
    romeo->send(flood);
    romeo->send("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    int echoes = 0;
    // Each echo is the presence itself: count those that come before the pause.
    while (echoes < 6) {
        auto echo = romeo->receive();
        ASSERT_TRUE(echo) << "only " << echoes << " presences came back before the pause";
        ASSERT_EQ(echo->name(), "presence") << echo->toString();
        EXPECT_EQ(echo->childText("status", "jabber:client"), std::to_string(echoes));
        ++echoes;
    }
    // The session stopped right after the sixth: its last presence is still that one (without the
    // pause the rest, read in the same batch, would long be handled by now).
    auto session = server.server().core().sessions().find(*Jid::parse("romeo@localhost/orchard"));
    ASSERT_TRUE(session);
    ASSERT_TRUE(session->lastPresence());
    EXPECT_EQ(session->lastPresence()->element().childText("status", "jabber:client"), "5");
    // The clock moves on: the session reads again and every presence is handled, in order.
    server.advanceClock(std::chrono::seconds(60));
    while (echoes < kPresences) {
        auto echo = romeo->receive();
        ASSERT_TRUE(echo) << "presence " << echoes << " was lost";
        ASSERT_EQ(echo->name(), "presence") << echo->toString();
        EXPECT_EQ(echo->childText("status", "jabber:client"), std::to_string(echoes));
        ++echoes;
    }
    auto pong = romeo->receive();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->attr("id"), "after");
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// Every roster path answers a storage failure with internal-server-error (never a silent loss), and
// presence still reaches the account's own resources.
TEST(Roster, StorageFailureIsInternalServerErrorEverywhere) {
    // Without the blocking module, whose own failure rule (fail closed: presence dropped) would answer
    // first for the subscription request.
    TestServer server([](server::ServerConfig& config) {
        std::erase_if(config.modules, [](const server::ModuleConfig& m) { return m.name == "blocking"; });
    });
    server.addAccount("romeo", "localhost", "pw");
    auto romeo = loggedIn(server, "romeo", "pw", "orchard");
    // The memory backend fails every call with Unavailable once closed, as a lost database would.
    server.server().core().storage().close();
    auto get = request(*romeo, "<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>");
    ASSERT_TRUE(get);
    EXPECT_EQ(errorCondition(*get), "internal-server-error") << get->toString();
    auto set = request(*romeo, rosterSet("s", "juliet@localhost"));
    ASSERT_TRUE(set);
    EXPECT_EQ(errorCondition(*set), "internal-server-error") << set->toString();
    auto remove =
        request(*romeo,
                "<iq type='set' id='r'><query xmlns='jabber:iq:roster'><item jid='juliet@localhost' "
                "subscription='remove'/></query></iq>");
    ASSERT_TRUE(remove);
    EXPECT_EQ(errorCondition(*remove), "internal-server-error") << remove->toString();
    auto subscribe = request(*romeo, "<presence to='juliet@localhost' type='subscribe' id='p'/>");
    ASSERT_TRUE(subscribe);
    EXPECT_EQ(subscribe->name(), "presence");
    EXPECT_EQ(errorCondition(*subscribe), "internal-server-error") << subscribe->toString();
    auto echo = request(*romeo, "<presence/>");
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->attr("from"), "romeo@localhost/orchard") << echo->toString();
    EXPECT_TRUE(answersPing(*romeo, "alive"));
}

}  // namespace
}  // namespace parley::test
