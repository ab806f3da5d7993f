// XEP-0160 offline messages (server/modules/offline) where a transcript cannot show it: the quota
// option, a store that fails, negative priority, two resources of one account coming online at once,
// and messages that arrive while a resource comes online.
//
// The roster module is left out of these servers: what a client receives after its initial presence
// is then only what the offline module sends (no presence echo, RFC 6121 §4.2.2). So is mam.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "faulty_storage.h"
#include "module_test_util.h"

namespace parley::test {
namespace {

void withoutRoster(server::ServerConfig& config) {
    // Nor the message archive: the stanza-id it adds (tests/transcripts/mam) would change the sizes the
    // stanza-limit case computes.
    std::erase_if(config.modules, [](const server::ModuleConfig& module) {
        return module.name == "roster" || module.name == "mam";
    });
}

void setOption(server::ServerConfig& config, const std::string& module, const std::string& key,
               const std::string& value) {
    for (auto& entry : config.modules) {
        if (entry.name == module)
            entry.options[key] = value;
    }
}

std::string chat(const std::string& to, const std::string& id, const std::string& body) {
    return "<message to='" + to + "' type='chat' id='" + id + "'><body>" + body + "</body></message>";
}

// The XEP-0203 stamps of each message, in order (one string per message, stamps joined by spaces).
std::vector<std::string> delayStamps(const std::vector<xml::Element>& stanzas) {
    std::vector<std::string> found;
    for (const xml::Element& stanza : stanzas) {
        if (stanza.name() != "message")
            continue;
        std::string stamps;
        for (const xml::Element* delay : stanza.children("delay", "urn:xmpp:delay"))
            stamps += (stamps.empty() ? "" : " ") + std::string(delay->attr("stamp"));
        found.push_back(stamps);
    }
    return found;
}

std::vector<std::string> bodies(const std::vector<xml::Element>& stanzas) {
    std::vector<std::string> found;
    for (const xml::Element& stanza : stanzas) {
        if (stanza.name() == "message" && stanza.attr("type") != "error")
            found.push_back(stanza.childText("body", "jabber:client"));
    }
    return found;
}

// Closes a client and waits until the server has unbound its session, so that messages stop going to it.
void logOut(TestServer& server, std::unique_ptr<TestClient>& client, const std::string& fullJid) {
    client.reset();
    const Jid full = *Jid::parse(fullJid);
    auto gone = [&] {
        auto sessions = server.server().core().sessions().resourcesOf(full.bare());
        return std::none_of(sessions.begin(), sessions.end(),
                            [&](const auto& s) { return s->jid() == full; });
    };
    EXPECT_TRUE(server.waitFor(gone)) << fullJid << " is still online";
}

class OfflineTest : public ::testing::Test {
  protected:
    explicit OfflineTest(std::function<void(server::ServerConfig&)> tweak = {})
        : server_(
              [tweak](server::ServerConfig& config) {
                  withoutRoster(config);
                  if (tweak)
                      tweak(config);
              },
              FaultyStorage::wrapper(&storage_)) {
        server_.addAccount("romeo", "localhost", "secret");
        server_.addAccount("juliet", "localhost", "secret");
        romeo_ = loggedIn(server_, "romeo", "secret", "orchard");
        romeo_->send("<presence/>");
    }

    // How many messages the store keeps for a user of localhost.
    // Juliet logged in as juliet@localhost/balcony with stream management (XEP-0198) enabled, no
    // resumption; null if the server did not answer <enabled/>.
    std::unique_ptr<TestClient> julietWithStreamManagement() {
        auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
        juliet->send("<enable xmlns='urn:xmpp:sm:3'/>");
        auto enabled = juliet->receive();
        EXPECT_TRUE(enabled && enabled->name() == "enabled");
        return enabled && enabled->name() == "enabled" ? std::move(juliet) : nullptr;
    }

    std::size_t stored(const std::string& user) {
        auto count = runSync(storage_->offline().count("localhost", user));
        EXPECT_TRUE(count);
        return count ? *count : 0;
    }

    // Romeo's messages, stored once the ping after them is answered (his stanzas are routed in order).
    void romeoSends(const std::vector<std::string>& stanzas, const std::string& pingId) {
        for (const std::string& stanza : stanzas)
            romeo_->send(stanza);
        romeoReceived_ = drain(*romeo_, pingId);
    }

    FaultyStorage* storage_ = nullptr;
    TestServer server_;
    std::unique_ptr<TestClient> romeo_;
    std::vector<xml::Element> romeoReceived_;
};

TEST_F(OfflineTest, StoredMessagesComeWithDelayInOrderOnceAtInitialPresence) {
    romeoSends({chat("juliet@localhost", "m1", "one"), chat("juliet@localhost/balcony", "m2", "two"),
                "<message to='juliet@localhost' id='m3'><body>three</body></message>"},
               "p1");
    EXPECT_TRUE(romeoReceived_.empty()) << romeoReceived_.front().toString();

    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    EXPECT_TRUE(drain(*juliet, "p2").empty()) << "messages before any presence";
    juliet->send("<presence/>");
    const auto received = drain(*juliet, "p3");
    ASSERT_EQ(bodies(received), (std::vector<std::string>{"one", "two", "three"}));
    for (const xml::Element& message : received) {
        EXPECT_EQ(message.attr("from"), "romeo@localhost/orchard");
        const xml::Element* delay = message.findChild("delay", "urn:xmpp:delay");
        ASSERT_TRUE(delay) << message.toString();
        EXPECT_EQ(delay->attr("from"), "localhost");
        // The FakeClock starts at 1700000001 (XEP-0082 DateTime, UTC).
        EXPECT_EQ(delay->attr("stamp"), "2023-11-14T22:13:21Z");
    }
    // A presence update is not an initial presence, and the messages are gone from the store.
    juliet->send("<presence><show>away</show></presence>");
    EXPECT_TRUE(drain(*juliet, "p4").empty());
    EXPECT_TRUE(server_.waitFor([&] { return stored("juliet") == 0; }))
        << "delivered messages were not removed";
    logOut(server_, juliet, "juliet@localhost/balcony");
    auto again = loggedIn(server_, "juliet", "secret", "chamber");
    again->send("<presence/>");
    EXPECT_TRUE(drain(*again, "p5").empty()) << "delivered messages came again";
}

TEST_F(OfflineTest, StoredMessagesAreRemovedOnlyOnceWrittenToTheClient) {
    // XEP-0160 §2: removed once handed to the client. 40 messages of 200 KB (8 MB) are more than a
    // client's 4 KiB receive buffer and the kernel's send buffer hold, so the write cannot finish
    // while Juliet does not read.
    const std::string body(200000, 'x');
    std::vector<std::string> sent;
    for (int i = 0; i < 40; ++i)
        sent.push_back(chat("juliet@localhost", "m" + std::to_string(i), std::to_string(i) + body));
    romeoSends(sent, "p1");
    ASSERT_TRUE(romeoReceived_.empty()) << romeoReceived_.front().toString().substr(0, 300);
    ASSERT_EQ(stored("juliet"), 40u);

    auto slow = std::make_unique<TestClient>(server_.requiredTlsPort(), false,
                                             TestClient::Options{.receiveBufferBytes = 4096});
    ASSERT_EQ(slow->login("juliet", "localhost", "secret", "slow"), "juliet@localhost/slow");
    slow->send("<presence/>");
    // The first message proves the server handed them over; then Juliet's connection is cut.
    auto first = slow->receive();
    ASSERT_TRUE(first && first->name() == "message");
    logOut(server_, slow, "juliet@localhost/slow");
    EXPECT_EQ(stored("juliet"), 40u) << "messages were removed before the client had them";

    // The next login gets all of them (the first one again), and then they are gone.
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    juliet->send("<presence/>");
    for (int i = 0; i < 40; ++i) {
        auto message = juliet->receive();
        ASSERT_TRUE(message && message->name() == "message") << "message " << i;
        EXPECT_EQ(message->childText("body", "jabber:client"), std::to_string(i) + body);
    }
    EXPECT_TRUE(server_.waitFor([&] { return stored("juliet") == 0; }));
}

TEST_F(OfflineTest, WithStreamManagementStoredMessagesAreRemovedOnlyOnceAcknowledged) {
    // XEP-0160 §2 with XEP-0198: "handed to the client" means acknowledged by it.
    romeoSends({chat("juliet@localhost", "m1", "one"), chat("juliet@localhost", "m2", "two"),
                chat("juliet@localhost", "m3", "three")},
               "p1");
    ASSERT_EQ(stored("juliet"), 3u);
    auto juliet = julietWithStreamManagement();
    ASSERT_TRUE(juliet);
    juliet->send("<presence/>");
    const auto first = drain(*juliet, "p2");
    EXPECT_EQ(bodies(first), (std::vector<std::string>{"one", "two", "three"}));
    // Written and read, but not acknowledged: two more round trips later, nothing was removed.
    const auto second = drain(*juliet, "p3");
    EXPECT_EQ(stored("juliet"), 3u);
    EXPECT_EQ(storage_->offlineRemoves.load(), 0) << "removed before the client acknowledged them";
    // §4: h counts every stanza received since <enabled/>, the two ping answers included.
    const std::size_t h = first.size() + 1 + second.size() + 1;
    juliet->send("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(h) + "'/>");
    EXPECT_TRUE(server_.waitFor([&] { return stored("juliet") == 0; }));
}

TEST_F(OfflineTest, WithStreamManagementUnacknowledgedMessagesAreStoredAgainOnce) {
    romeoSends({chat("juliet@localhost", "m1", "one"), chat("juliet@localhost", "m2", "two")}, "p1");
    auto juliet = julietWithStreamManagement();
    ASSERT_TRUE(juliet);
    juliet->send("<presence/>");
    const auto first = delayStamps(drain(*juliet, "p2"));
    ASSERT_EQ(first.size(), 2u);
    // Cut before acknowledging (no resumption asked): stream management stores them again (XEP-0198
    // §5), and only then are the first copies removed; each is stored once.
    logOut(server_, juliet, "juliet@localhost/balcony");
    EXPECT_TRUE(server_.waitFor([&] { return storage_->offlineRemoves.load() > 0; }));
    EXPECT_EQ(stored("juliet"), 2u);
    auto again = loggedIn(server_, "juliet", "secret", "chamber");
    again->send("<presence/>");
    const auto received = drain(*again, "p3");
    EXPECT_EQ(bodies(received), (std::vector<std::string>{"one", "two"}));
    // XEP-0203: stored twice by the same server, each still has one <delay/>, the original.
    EXPECT_EQ(delayStamps(received), (std::vector<std::string>{first[0], first[1]}));
}

TEST_F(OfflineTest, StoredMessagesRoutedAgainToAnotherResourceKeepTheirOneDelay) {
    romeoSends({chat("juliet@localhost", "m1", "one")}, "p1");
    auto juliet = julietWithStreamManagement();
    ASSERT_TRUE(juliet);
    juliet->send("<presence/>");
    const auto first = drain(*juliet, "p2");
    ASSERT_EQ(delayStamps(first).size(), 1u);
    auto other = loggedIn(server_, "juliet", "secret", "chamber");
    other->send("<presence/>");
    drain(*other, "p3");
    // Cut unacknowledged while another resource is available: stream management routes it there
    // (XEP-0198 §5); offline storage already said since when it was delayed, so no second stamp.
    logOut(server_, juliet, "juliet@localhost/balcony");
    auto message = other->receive();
    ASSERT_TRUE(message);
    const std::vector<xml::Element> received{*message};
    EXPECT_EQ(bodies(received), (std::vector<std::string>{"one"}));
    EXPECT_EQ(delayStamps(received), delayStamps(first));
}

TEST_F(OfflineTest, AMessageNearTheStanzaLimitIsDeliveredWithItsDelay) {
    // Stored, with its from, <delay/> (130 bytes) and xmlns='jabber:client' (22 more), it is larger
    // than the stanza limit; delivered, without the xmlns the stream declares, it is under it (so that
    // the test client, with the same limit, reads it).
    const std::string head = "<message to='juliet@localhost' type='chat' id='big'><body>";
    const std::string tail = "</body></message>";
    const std::size_t limit = server_.server().core().config().limits.maxStanzaBytes;
    const std::string body(limit - 140 - head.size() - tail.size(), 'x');
    romeoSends({head + body + tail}, "p1");
    EXPECT_TRUE(romeoReceived_.empty()) << romeoReceived_.front().toString().substr(0, 300);
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    juliet->send("<presence/>");
    const auto received = drain(*juliet, "p2");
    ASSERT_EQ(received.size(), 1u);
    EXPECT_GT(received[0].toString("jabber:client").size() + 22, limit);
    EXPECT_EQ(received[0].childText("body", "jabber:client").size(), body.size());
    EXPECT_TRUE(received[0].findChild("delay", "urn:xmpp:delay"));
}

TEST_F(OfflineTest, NegativePriorityGetsNothingUntilItTurnsNonNegative) {
    romeoSends({chat("juliet@localhost", "m1", "one")}, "p1");
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    // XEP-0160 §2 note 2: a resource with a negative priority never receives messages to the bare JID.
    juliet->send("<presence><priority>-1</priority></presence>");
    EXPECT_TRUE(drain(*juliet, "p2").empty());
    romeoSends({chat("juliet@localhost", "m2", "two")}, "p3");
    EXPECT_TRUE(romeoReceived_.empty()) << "stored, not bounced: " << romeoReceived_.front().toString();
    juliet->send("<presence><priority>1</priority></presence>");
    EXPECT_EQ(bodies(drain(*juliet, "p4")), (std::vector<std::string>{"one", "two"}));
}

TEST_F(OfflineTest, AStoreFailureBouncesInternalServerErrorRatherThanLosingTheMessage) {
    storage_->failOfflinePush = true;
    romeoSends({chat("juliet@localhost", "m1", "lost?")}, "p1");
    ASSERT_EQ(romeoReceived_.size(), 1u);
    EXPECT_EQ(errorCondition(romeoReceived_[0]), "internal-server-error") << romeoReceived_[0].toString();
    EXPECT_EQ(romeoReceived_[0].attr("id"), "m1");
    EXPECT_EQ(romeoReceived_[0].attr("from"), "juliet@localhost");

    storage_->failOfflinePush = false;
    romeoSends({chat("juliet@localhost", "m2", "kept")}, "p2");
    EXPECT_TRUE(romeoReceived_.empty());
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    juliet->send("<presence/>");
    EXPECT_EQ(bodies(drain(*juliet, "p3")), (std::vector<std::string>{"kept"}));
}

TEST_F(OfflineTest, TwoResourcesComingOnlineAtOnceGetEachMessageExactlyOnce) {
    storage_->slowOfflineLists = true;
    for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const std::string r = std::to_string(round);
        std::vector<std::string> sent;
        std::vector<std::string> expected;
        for (int i = 0; i < 5; ++i) {
            sent.push_back(
                chat("juliet@localhost", "m" + r + std::to_string(i), r + "-" + std::to_string(i)));
            expected.push_back(r + "-" + std::to_string(i));
        }
        romeoSends(sent, "p" + r);
        ASSERT_TRUE(romeoReceived_.empty()) << romeoReceived_.front().toString();

        auto balcony = loggedIn(server_, "juliet", "secret", "balcony" + r);
        auto chamber = loggedIn(server_, "juliet", "secret", "chamber" + r);
        balcony->send("<presence/>");
        chamber->send("<presence/>");
        auto first = bodies(drain(*balcony, "b" + r));
        auto second = bodies(drain(*chamber, "c" + r));
        // All to one of them, in order; none twice.
        EXPECT_TRUE((first == expected && second.empty()) || (second == expected && first.empty()))
            << "balcony got " << testing::PrintToString(first) << ", chamber got "
            << testing::PrintToString(second);
        logOut(server_, balcony, "juliet@localhost/balcony" + r);
        logOut(server_, chamber, "juliet@localhost/chamber" + r);
    }
    EXPECT_EQ(storage_->maxOverlappingLists.load(), 1) << "two deliveries read the store at once";
}

TEST_F(OfflineTest, MessagesArrivingWhileAResourceComesOnlineAreNeitherLostNorDuplicated) {
    storage_->slowOfflineLists = true;
    romeoSends({chat("juliet@localhost", "m0", "stored")}, "p0");
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    // Romeo keeps sending while Juliet's initial presence is being handled on the other loop.
    juliet->send("<presence/>");
    std::vector<std::string> sent;
    std::multiset<std::string> expected{"stored"};
    for (int i = 0; i < 30; ++i) {
        sent.push_back(chat("juliet@localhost", "m" + std::to_string(i + 1), std::to_string(i)));
        expected.insert(std::to_string(i));
    }
    romeoSends(sent, "p1");
    for (const xml::Element& stanza : romeoReceived_)
        ADD_FAILURE() << "Romeo got " << stanza.toString();
    // By the time Romeo's ping came back every message had been delivered or stored; by the time
    // Juliet's comes back her initial presence has been handled, which delivered what was stored
    // before it read the store, and what came after went straight to her.
    auto received = bodies(drain(*juliet, "p2"));
    EXPECT_EQ(std::multiset<std::string>(received.begin(), received.end()), expected);
    // Nothing was left behind in the store either.
    EXPECT_TRUE(server_.waitFor([&] { return stored("juliet") == 0; }));
    logOut(server_, juliet, "juliet@localhost/balcony");
    auto again = loggedIn(server_, "juliet", "secret", "chamber");
    again->send("<presence/>");
    EXPECT_TRUE(bodies(drain(*again, "p3")).empty());
}

class OfflineQuotaTest : public OfflineTest {
  protected:
    OfflineQuotaTest()
        : OfflineTest(
              [](server::ServerConfig& config) { setOption(config, "offline", "max_messages", "2"); }) {}
};

TEST_F(OfflineQuotaTest, AFullQueueBouncesResourceConstraintOfTypeWait) {
    romeoSends({chat("juliet@localhost", "m1", "one"), chat("juliet@localhost", "m2", "two"),
                chat("juliet@localhost", "m3", "three")},
               "p1");
    ASSERT_EQ(romeoReceived_.size(), 1u);
    EXPECT_EQ(romeoReceived_[0].attr("id"), "m3");
    EXPECT_EQ(errorCondition(romeoReceived_[0]), "resource-constraint") << romeoReceived_[0].toString();
    const xml::Element* error = romeoReceived_[0].findChild("error", "jabber:client");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->attr("type"), "wait");

    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    juliet->send("<presence/>");
    EXPECT_EQ(bodies(drain(*juliet, "p2")), (std::vector<std::string>{"one", "two"}));
    logOut(server_, juliet, "juliet@localhost/balcony");
    // Delivered messages free the queue.
    romeoSends({chat("juliet@localhost", "m4", "four")}, "p3");
    EXPECT_TRUE(romeoReceived_.empty());
}

}  // namespace
}  // namespace parley::test
