// XEP-0198 stream management (server/modules/stream_management) where a transcript cannot show it: the
// bound on unacknowledged stanzas (an option), and a fault test that cuts a client's connection at
// seeded random points of a message exchange and checks that every message reached the client exactly
// once (after resumption) or is in offline storage (after the resumption timeout).
#include <gtest/gtest.h>

#include <random>

#include "module_test_util.h"

namespace parley::test {
namespace {

constexpr std::string_view kSm = "urn:xmpp:sm:3";

void setOption(server::ServerConfig& config, const std::string& module, const std::string& key,
               const std::string& value) {
    for (auto& entry : config.modules) {
        if (entry.name == module)
            entry.options[key] = value;
    }
}

std::string chat(const std::string& to, const std::string& body) {
    return "<message to='" + to + "' type='chat' id='" + body + "'><body>" + body + "</body></message>";
}

// The bodies of the messages `client` receives up to the answer of a ping (presence is skipped).
std::vector<std::string> bodiesUntilPing(TestClient& client) {
    client.send("<iq type='get' id='until' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    std::vector<std::string> bodies;
    for (;;) {
        auto received = client.receive();
        if (!received) {
            ADD_FAILURE() << "no answer to the ping";
            return bodies;
        }
        if (received->name() == "iq" && received->attr("id") == "until")
            return bodies;
        if (received->name() == "message")
            bodies.push_back(received->childText("body", "jabber:client"));
    }
}

// Enables stream management with resumption; returns the id.
std::string enableResumption(TestClient& client) {
    client.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    auto enabled = client.receive();
    EXPECT_TRUE(enabled && enabled->is("enabled", kSm)) << (enabled ? enabled->toString() : "nothing");
    return enabled ? std::string(enabled->attr("id")) : "";
}

// How many messages offline storage holds for user@localhost.
std::size_t stored(TestServer& server, const std::string& user) {
    auto count = runSync(server.server().core().storage().offline().count("localhost", user));
    return count ? *count : 0;
}

// Cuts the client's connection and waits until the server has detached (or ended) its session.
void drop(TestServer& server, std::unique_ptr<TestClient>& client, const std::string& fullJid) {
    client.reset();
    const Jid full = *Jid::parse(fullJid);
    EXPECT_TRUE(server.waitFor([&] {
        auto session = server.server().core().sessions().find(full);
        return !session || session->isDetached();
    })) << fullJid
        << " was not detached";
}

TEST(StreamManagementTest, AFullQueueEndsTheSessionAndLosesNothing) {
    TestServer server(
        [](server::ServerConfig& config) { setOption(config, "stream_management", "max_unacked", "3"); });
    server.addAccount("romeo", "localhost", "secret");
    server.addAccount("juliet", "localhost", "secret");
    auto juliet = loggedIn(server, "juliet", "secret", "balcony");
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");
    enableResumption(*romeo);

    std::string batch;
    for (int i = 1; i <= 5; ++i)
        batch += chat("romeo@localhost/orchard", "m" + std::to_string(i));
    juliet->send(batch);
    // Three are written; the fourth finds the queue full: the stream ends, nothing is dropped.
    std::vector<std::string> received;
    for (;;) {
        auto event = romeo->receive();
        if (!event)
            break;
        if (event->name() == "message")
            received.push_back(event->childText("body", "jabber:client"));
        if (event->name() == "error" && event->ns() == kStreamsNs) {
            EXPECT_TRUE(event->findChild("resource-constraint", "urn:ietf:params:xml:ns:xmpp-streams"))
                << event->toString();
            break;
        }
    }
    EXPECT_EQ(received, (std::vector<std::string>{"m1", "m2", "m3"}));
    romeo.reset();
    EXPECT_TRUE(server.waitFor([&] { return stored(server, "romeo") == 5; })) << stored(server, "romeo");

    // None was acknowledged: all five are in offline storage, once each, in order.
    romeo = loggedIn(server, "romeo", "secret", "orchard");
    romeo->send("<presence/>");
    EXPECT_EQ(bodiesUntilPing(*romeo), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m5"}));
}

// Reliability row 31: stream management before authentication is refused; an <a/> whose h is not an
// unsigned 32-bit number ends the stream with <undefined-condition/>.
TEST(StreamManagementTest, AbuseIsRefused) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto anonymous = tlsClient(server);
    auto failed = request(*anonymous, "<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>");
    ASSERT_TRUE(failed && failed->is("failed", kSm)) << (failed ? failed->toString() : "nothing");
    EXPECT_TRUE(failed->findChild("not-authorized", kStanzaErrorsNs));

    for (const std::string h : {"-1", "4294967296", "", "1e3"}) {
        SCOPED_TRACE("h='" + h + "'");
        auto romeo = loggedIn(server, "romeo", "secret", "orchard");
        romeo->send("<enable xmlns='urn:xmpp:sm:3'/>");
        auto enabled = romeo->receive();
        ASSERT_TRUE(enabled && enabled->is("enabled", kSm));
        romeo->send("<a xmlns='urn:xmpp:sm:3' h='" + h + "'/>");
        EXPECT_EQ(romeo->streamErrorCondition(), "undefined-condition");
        EXPECT_TRUE(romeo->waitForClose());
    }
}

// XEP-0198 §5 'max' and 'location', and resumption turned off by the configuration.
TEST(StreamManagementTest, OptionsShapeEnabled) {
    TestServer server([](server::ServerConfig& config) {
        setOption(config, "stream_management", "resume_timeout", "120");
        setOption(config, "stream_management", "location", "[2001:db8::1]:5222");
    });
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");
    auto enabled = request(*romeo, "<enable xmlns='urn:xmpp:sm:3' resume='true' max='600'/>");
    ASSERT_TRUE(enabled && enabled->is("enabled", kSm));
    EXPECT_EQ(enabled->attr("max"), "120");  // the client may ask for less, never for more
    EXPECT_EQ(enabled->attr("location"), "[2001:db8::1]:5222");
    EXPECT_EQ(enabled->attr("id").size(), 32u);

    TestServer noResume(
        [](server::ServerConfig& config) { setOption(config, "stream_management", "resume", "false"); });
    noResume.addAccount("romeo", "localhost", "secret");
    auto client = loggedIn(noResume, "romeo", "secret", "orchard");
    enabled = request(*client, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    ASSERT_TRUE(enabled && enabled->is("enabled", kSm));
    EXPECT_FALSE(enabled->hasAttr("id"));
    EXPECT_FALSE(enabled->hasAttr("resume"));
    // Without resumption a lost connection ends the session at once.
    client.reset();
    EXPECT_TRUE(noResume.waitFor(
        [&] { return !noResume.server().core().sessions().find(*Jid::parse("romeo@localhost/orchard")); }));
}

// XEP-0198 §5 on a mobile network: the client resumes on a new connection before the server noticed that
// the old one died. The old connection is cut, and the session goes on with nothing lost or repeated.
TEST(StreamManagementTest, ResumingWhileTheOldConnectionStillLooksAliveCutsIt) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    server.addAccount("juliet", "localhost", "secret");
    auto juliet = loggedIn(server, "juliet", "secret", "balcony");
    auto old = loggedIn(server, "romeo", "secret", "orchard");
    const std::string id = enableResumption(*old);
    juliet->send(chat("romeo@localhost/orchard", "one") + chat("romeo@localhost/orchard", "two"));
    auto first = old->receive();
    ASSERT_TRUE(first && first->name() == "message");

    auto client = tlsClient(server);
    ASSERT_EQ(client->authenticate("romeo", "secret"), "success");
    auto resumed = request(*client, "<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='1'/>");
    ASSERT_TRUE(resumed && resumed->is("resumed", kSm)) << (resumed ? resumed->toString() : "nothing");
    EXPECT_EQ(resumed->attr("h"), "0");
    EXPECT_EQ(bodiesUntilPing(*client), (std::vector<std::string>{"two"}));
    EXPECT_TRUE(old->waitForClose()) << "the old connection was not cut";

    juliet->send(chat("romeo@localhost/orchard", "three"));
    EXPECT_TRUE(bodiesUntilPing(*juliet).empty());  // routed (and queued for Romeo) before Romeo's ping
    EXPECT_EQ(bodiesUntilPing(*client), (std::vector<std::string>{"three"}));
    EXPECT_EQ(server.server().core().sessions().resourceCount(*Jid::parse("romeo@localhost")), 1u);
}

// The client is cut off after reading `read` of the `sentBefore` messages sent before the cut, having
// acknowledged `acked` of them; the rest of the `total` messages are sent while it is away. Then it
// either resumes (it reports h = read, XEP-0198 §5) or stays away past the timeout.
struct Cut {
    int total = 0;
    int sentBefore = 0;
    int read = 0;
    int acked = 0;
    bool resume = false;
};

TEST(StreamManagementTest, CutsAtRandomPointsLoseNothingAndDuplicateNothing) {
    TestServer server;
    std::mt19937 random(198);  // seeded: a failure names its iteration, and reruns the same cut
    for (int iteration = 0; iteration < 24; ++iteration) {
        Cut cut;
        cut.total = 6;
        cut.sentBefore = std::uniform_int_distribution<int>(0, cut.total)(random);
        cut.read = std::uniform_int_distribution<int>(0, cut.sentBefore)(random);
        cut.acked = std::uniform_int_distribution<int>(0, cut.read)(random);
        cut.resume = std::uniform_int_distribution<int>(0, 1)(random) == 1;
        SCOPED_TRACE("iteration " + std::to_string(iteration) + ": total " + std::to_string(cut.total) +
                     ", sent before the cut " + std::to_string(cut.sentBefore) + ", read " +
                     std::to_string(cut.read) + ", acknowledged " + std::to_string(cut.acked) +
                     (cut.resume ? ", resumes" : ", times out"));
        const std::string romeoName = "romeo" + std::to_string(iteration);
        const std::string julietName = "juliet" + std::to_string(iteration);
        const std::string romeoJid = romeoName + "@localhost/phone";
        server.addAccount(romeoName, "localhost", "secret");
        server.addAccount(julietName, "localhost", "secret");
        auto juliet = loggedIn(server, julietName, "secret", "balcony");
        auto romeo = loggedIn(server, romeoName, "secret", "phone");
        const std::string id = enableResumption(*romeo);

        auto body = [&](int n) { return "i" + std::to_string(iteration) + "-" + std::to_string(n); };
        std::string before;
        for (int n = 1; n <= cut.sentBefore; ++n)
            before += chat(romeoJid, body(n));
        juliet->send(before);
        for (int n = 1; n <= cut.read; ++n) {
            auto message = romeo->receive();
            ASSERT_TRUE(message && message->name() == "message");
            EXPECT_EQ(message->childText("body", "jabber:client"), body(n));
        }
        if (cut.acked > 0)
            romeo->send("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(cut.acked) + "'/>");
        // The server has routed Juliet's messages (it answers her ping after them); Romeo's <a/> is
        // read before the end of his connection.
        EXPECT_TRUE(bodiesUntilPing(*juliet).empty());
        drop(server, romeo, romeoJid);
        std::string after;
        for (int n = cut.sentBefore + 1; n <= cut.total; ++n)
            after += chat(romeoJid, body(n));
        juliet->send(after);
        EXPECT_TRUE(bodiesUntilPing(*juliet).empty()) << "Juliet got a bounce";

        std::vector<std::string> expected;
        if (cut.resume) {
            auto client = tlsClient(server);
            ASSERT_EQ(client->authenticate(romeoName, "secret"), "success");
            client->send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='" + std::to_string(cut.read) +
                         "'/>");
            auto resumed = client->receive();
            ASSERT_TRUE(resumed && resumed->is("resumed", kSm))
                << (resumed ? resumed->toString() : "nothing");
            for (int n = cut.read + 1; n <= cut.total; ++n)
                expected.push_back(body(n));
            EXPECT_EQ(bodiesUntilPing(*client), expected)
                << "after resumption, exactly what Romeo did not read";
        } else {
            server.advanceClock(std::chrono::seconds(301));
            // What Romeo acknowledged is never stored; the rest is, once each, in order.
            for (int n = cut.acked + 1; n <= cut.total; ++n)
                expected.push_back(body(n));
            EXPECT_TRUE(server.waitFor([&] { return stored(server, romeoName) == expected.size(); }))
                << stored(server, romeoName);
            auto client = loggedIn(server, romeoName, "secret", "phone");
            client->send("<presence/>");
            EXPECT_EQ(bodiesUntilPing(*client), expected) << "offline storage after the timeout";
        }
        EXPECT_TRUE(bodiesUntilPing(*juliet).empty()) << "Juliet got a bounce";
    }
}

}  // namespace
}  // namespace parley::test
