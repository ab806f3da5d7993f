// XEP-0012 Last Activity (server/modules/last): the seconds since an account's last available resource
// went away and the status it left with, for contacts the account shares its presence with; the
// server's uptime. Roster items are put straight into storage (the roster module is not needed for
// the subscription check); the fake clock makes the seconds exact.
#include <gtest/gtest.h>

#include "module_test_util.h"
#include "parley/server/core.h"
#include "parley/storage/storage.h"

namespace parley::test {
namespace {

constexpr std::string_view kLastNs = "jabber:iq:last";

class LastActivity : public ::testing::Test {
  protected:
    void SetUp() override {
        server_.addAccount("romeo", "localhost", "secret");
        server_.addAccount("juliet", "localhost", "secret");
    }

    storage::Storage& storage() { return server_.server().core().storage(); }

    // Juliet's roster gets Romeo with this subscription state.
    void julietHasRomeo(storage::Subscription subscription) {
        storage::RosterItem item;
        item.jid = "romeo@localhost";
        item.subscription = subscription;
        auto put = runSync(storage().roster().putItem("localhost", "juliet", item, 0));
        ASSERT_TRUE(put.has_value());
    }

    // The stored logout document of Juliet, if any.
    std::optional<std::string> julietsRecord() {
        auto stored = runSync(storage().keyValue().get("localhost", "juliet", "last", "logout"));
        return stored.has_value() ? *stored : std::nullopt;
    }

    // Sends a stanza, then a ping, and drops everything up to the ping's answer: whatever the stanza
    // caused for this client is done once the answer comes (stanzas of one client are handled in order).
    static void sendAndSettle(TestClient& client, const std::string& stanza, const std::string& id) {
        client.send(stanza);
        client.send("<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        for (;;) {
            auto received = client.receive();
            ASSERT_TRUE(received) << "no answer to the ping " << id;
            if (received->name() == "iq" && received->attr("id") == id)
                return;
        }
    }

    // Sends a last activity query and returns the iq answering it (presence that arrives meanwhile is
    // skipped).
    static std::optional<xml::Element> query(TestClient& client, const std::string& to,
                                             const std::string& id) {
        client.send("<iq type='get' id='" + id + "'" + (to.empty() ? "" : " to='" + to + "'") +
                    "><query xmlns='jabber:iq:last'/></iq>");
        for (;;) {
            auto received = client.receive();
            if (!received || (received->name() == "iq" && received->attr("id") == id))
                return received;
        }
    }

    static std::string seconds(const xml::Element& reply) {
        const xml::Element* result = reply.findChild("query", kLastNs);
        return result ? std::string(result->attr("seconds")) : "(no query)";
    }

    static std::string status(const xml::Element& reply) {
        const xml::Element* result = reply.findChild("query", kLastNs);
        return result ? result->text() : "(no query)";
    }

    TestServer server_;
};

TEST_F(LastActivity, ContactWithSubscriptionGetsTheTimeAndStatusOfTheUnavailablePresence) {
    julietHasRomeo(storage::Subscription::From);
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    sendAndSettle(*juliet, "<presence><status>On the balcony</status></presence>", "j1");
    sendAndSettle(*juliet, "<presence type='unavailable'><status>Heading Home</status></presence>", "j2");
    // The record was written before the ping was answered.
    ASSERT_TRUE(julietsRecord());
    // Leaving the stream after the unavailable presence is no second logout (it would lose the status).
    juliet->send("</stream:stream>");
    EXPECT_TRUE(juliet->waitForClose());
    server_.advanceClock(std::chrono::seconds(903));
    auto romeo = loggedIn(server_, "romeo", "secret", "orchard");
    auto reply = query(*romeo, "juliet@localhost", "q1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    EXPECT_EQ(reply->attr("from"), "juliet@localhost");
    EXPECT_EQ(seconds(*reply), "903") << reply->toString();
    EXPECT_EQ(status(*reply), "Heading Home");
    server_.advanceClock(std::chrono::seconds(7));
    reply = query(*romeo, "juliet@localhost", "q2");
    ASSERT_TRUE(reply);
    EXPECT_EQ(seconds(*reply), "910") << reply->toString();
}

TEST_F(LastActivity, BothIsASubscriptionToo) {
    julietHasRomeo(storage::Subscription::Both);
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    sendAndSettle(*juliet, "<presence/>", "j1");
    sendAndSettle(*juliet, "<presence type='unavailable'/>", "j2");
    server_.advanceClock(std::chrono::seconds(5));
    auto romeo = loggedIn(server_, "romeo", "secret", "orchard");
    auto reply = query(*romeo, "juliet@localhost", "q1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(seconds(*reply), "5") << reply->toString();
    EXPECT_EQ(status(*reply), "");
}

TEST_F(LastActivity, ASessionThatEndsWhileAvailableIsALogoutWithItsLastStatus) {
    julietHasRomeo(storage::Subscription::From);
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    sendAndSettle(*juliet, "<presence><show>dnd</show><status>Busy</status></presence>", "j1");
    juliet->send("</stream:stream>");
    EXPECT_TRUE(juliet->waitForClose());
    // The session-ended hook stores the record in the background: wait for it (bounded).
    ASSERT_TRUE(server_.waitFor([&] { return julietsRecord().has_value(); }));
    server_.advanceClock(std::chrono::seconds(42));
    auto romeo = loggedIn(server_, "romeo", "secret", "orchard");
    auto reply = query(*romeo, "juliet@localhost", "q1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(seconds(*reply), "42") << reply->toString();
    EXPECT_EQ(status(*reply), "Busy");
}

TEST_F(LastActivity, OnlyTheLastAvailableResourceLogsOut) {
    julietHasRomeo(storage::Subscription::From);
    auto balcony = loggedIn(server_, "juliet", "secret", "balcony");
    auto chamber = loggedIn(server_, "juliet", "secret", "chamber");
    sendAndSettle(*balcony, "<presence><status>balcony</status></presence>", "b1");
    sendAndSettle(*chamber, "<presence><status>chamber</status></presence>", "c1");
    sendAndSettle(*balcony, "<presence type='unavailable'><status>left the balcony</status></presence>",
                  "b2");
    EXPECT_FALSE(julietsRecord()) << "the chamber is still available";

    auto romeo = loggedIn(server_, "romeo", "secret", "orchard");
    // §3: while a resource is available the answer is seconds='0' without a status.
    auto reply = query(*romeo, "juliet@localhost", "q1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    EXPECT_EQ(seconds(*reply), "0");
    EXPECT_EQ(status(*reply), "");

    server_.advanceClock(std::chrono::seconds(10));
    chamber->send("</stream:stream>");
    EXPECT_TRUE(chamber->waitForClose());
    ASSERT_TRUE(server_.waitFor([&] { return julietsRecord().has_value(); }));
    server_.advanceClock(std::chrono::seconds(3));
    reply = query(*romeo, "juliet@localhost", "q2");
    ASSERT_TRUE(reply);
    EXPECT_EQ(seconds(*reply), "3") << reply->toString();
    EXPECT_EQ(status(*reply), "chamber");
}

TEST_F(LastActivity, ASessionThatNeverWasAvailableIsNoLogout) {
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    sendAndSettle(*juliet, "<presence type='unavailable'/>", "j1");
    juliet->send("</stream:stream>");
    EXPECT_TRUE(juliet->waitForClose());
    // A record would be written at once when the session ends; logging in again takes far longer.
    auto again = loggedIn(server_, "juliet", "secret", "chamber");
    auto reply = query(*again, "", "q1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "item-not-found") << reply->toString();
    EXPECT_FALSE(julietsRecord());
}

TEST_F(LastActivity, AnAccountRemovedWhileOnlineLeavesNoRecord) {
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    sendAndSettle(*juliet, "<presence><status>leaving for good</status></presence>", "j1");
    // XEP-0077 §3.2: the account goes, then its streams are closed (the session ends while available).
    juliet->send("<iq type='set' id='r1'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    EXPECT_TRUE(juliet->waitForClose());
    // The session-ended hook ran before the stream closed; its write, if any, was queued on the loop
    // before the markers of advanceClock, which returns once they ran.
    server_.advanceClock(std::chrono::seconds(0));
    EXPECT_FALSE(julietsRecord());
}

TEST_F(LastActivity, WithoutASubscriptionFromTheAccountItIsForbidden) {
    auto romeo = loggedIn(server_, "romeo", "secret", "orchard");
    for (auto subscription : {storage::Subscription::None, storage::Subscription::To}) {
        julietHasRomeo(subscription);
        auto reply = query(*romeo, "juliet@localhost", "q1");
        ASSERT_TRUE(reply);
        EXPECT_EQ(errorCondition(*reply), "forbidden") << reply->toString();
        const xml::Element* error = reply->findChild("error", "jabber:client");
        ASSERT_TRUE(error);
        EXPECT_EQ(error->attr("type"), "auth");
    }
}

TEST_F(LastActivity, TheAccountItselfNeedsNoSubscription) {
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    sendAndSettle(*juliet, "<presence/>", "j1");
    sendAndSettle(*juliet, "<presence type='unavailable'><status>bye</status></presence>", "j2");
    server_.advanceClock(std::chrono::seconds(12));
    for (const std::string to : {"", "juliet@localhost"}) {
        auto reply = query(*juliet, to, "q1");
        ASSERT_TRUE(reply);
        EXPECT_EQ(seconds(*reply), "12") << reply->toString();
        EXPECT_EQ(status(*reply), "bye");
    }
}

TEST_F(LastActivity, TheServerTellsItsUptime) {
    auto romeo = loggedIn(server_, "romeo", "secret", "orchard");
    auto reply = query(*romeo, "localhost", "u1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("from"), "localhost");
    EXPECT_EQ(seconds(*reply), "0") << reply->toString();
    server_.advanceClock(std::chrono::seconds(600));
    reply = query(*romeo, "localhost", "u2");
    ASSERT_TRUE(reply);
    EXPECT_EQ(seconds(*reply), "600") << reply->toString();
    // §5: no character data for a server.
    EXPECT_EQ(status(*reply), "");
}

TEST(LastActivityStorage, AStorageFailureIsAnInternalServerError) {
    // Without the blocking module, whose own storage failure would answer first.
    TestServer server([](server::ServerConfig& config) {
        std::erase_if(config.modules,
                      [](const server::ModuleConfig& module) { return module.name == "blocking"; });
    });
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");
    server.server().core().storage().close();
    for (const std::string to : {"juliet@localhost", ""}) {
        auto reply = request(*romeo, "<iq type='get' id='q1' to='" + (to.empty() ? "romeo@localhost" : to) +
                                         "'><query xmlns='jabber:iq:last'/></iq>");
        ASSERT_TRUE(reply);
        EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
    }
}

}  // namespace
}  // namespace parley::test
