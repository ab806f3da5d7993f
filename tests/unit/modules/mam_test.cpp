// XEP-0313 message archive (server/modules/mam) where a transcript cannot show it: a store that fails,
// retention by age on the server's clock, the per-user quota and the page-size options.
#include <gtest/gtest.h>

#include "faulty_storage.h"
#include "module_test_util.h"

namespace parley::test {
namespace {

void setOption(server::ServerConfig& config, const std::string& key, const std::string& value) {
    for (auto& entry : config.modules) {
        if (entry.name == "mam")
            entry.options[key] = value;
    }
}

std::string chat(const std::string& id, const std::string& body) {
    return "<message to='juliet@localhost' type='chat' id='" + id + "'><body>" + body + "</body></message>";
}

std::string query(const std::string& id, const std::string& rsm = "") {
    return "<iq type='set' id='" + id + "'><query xmlns='urn:xmpp:mam:2'>" + rsm + "</query></iq>";
}

// The bodies of the archived messages in a query's results, and the final iq.
struct QueryAnswer {
    std::vector<std::string> bodies;
    std::optional<xml::Element> iq;
};

QueryAnswer ask(TestClient& client, const std::string& stanza) {
    client.send(stanza);
    QueryAnswer answer;
    for (;;) {
        auto element = client.receive();
        if (!element || element->name() == "iq") {
            answer.iq = std::move(element);
            return answer;
        }
        const xml::Element* result = element->findChild("result", "urn:xmpp:mam:2");
        const xml::Element* forwarded =
            result ? result->findChild("forwarded", "urn:xmpp:forward:0") : nullptr;
        const xml::Element* message = forwarded ? forwarded->findChild("message", "jabber:client") : nullptr;
        answer.bodies.push_back(message ? message->childText("body", "jabber:client") : "(not a result)");
    }
}

std::string finCount(const QueryAnswer& answer) {
    const xml::Element* fin = answer.iq ? answer.iq->findChild("fin", "urn:xmpp:mam:2") : nullptr;
    const xml::Element* set = fin ? fin->findChild("set", "http://jabber.org/protocol/rsm") : nullptr;
    return set ? set->childText("count", "http://jabber.org/protocol/rsm") : "(no count)";
}

class MamTest : public ::testing::Test {
  protected:
    explicit MamTest(std::function<void(server::ServerConfig&)> tweak = {})
        : server_(tweak, FaultyStorage::wrapper(&storage_)) {
        server_.addAccount("romeo", "localhost", "secret");
        server_.addAccount("juliet", "localhost", "secret");
        logIn();
    }

    void logIn() {
        romeo_ = loggedIn(server_, "romeo", "secret", "orchard");
        juliet_ = loggedIn(server_, "juliet", "secret", "balcony");
        juliet_->send("<presence/>");
        drain(*juliet_, "login");
    }

    // Romeo's messages to Juliet; returns what Juliet received, once they were all routed.
    std::vector<xml::Element> romeoSends(const std::vector<std::string>& stanzas, const std::string& pingId) {
        for (const std::string& stanza : stanzas)
            romeo_->send(stanza);
        EXPECT_TRUE(drain(*romeo_, pingId).empty());
        return drain(*juliet_, pingId);
    }

    // How many messages Juliet's archive holds, read from the store.
    std::size_t archived() {
        auto page =
            runSync(storage_->archive().query("localhost", "juliet", storage::ArchiveQuery{.max = 0}));
        EXPECT_TRUE(page);
        return page ? page->count : 0;
    }

    FaultyStorage* storage_ = nullptr;
    TestServer server_;
    std::unique_ptr<TestClient> romeo_;
    std::unique_ptr<TestClient> juliet_;
};

TEST_F(MamTest, AFailingArchiveNeverCostsTheMessageAndQueriesAnswerInternalServerError) {
    storage_->failArchive = true;
    auto received = romeoSends({chat("m1", "still delivered")}, "p1");
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0].childText("body", "jabber:client"), "still delivered");
    // Not archived, so no archive id to announce (XEP-0359 §4).
    EXPECT_FALSE(received[0].findChild("stanza-id", "urn:xmpp:sid:0")) << received[0].toString();

    auto answer = ask(*juliet_, query("q1"));
    EXPECT_TRUE(answer.bodies.empty());
    ASSERT_TRUE(answer.iq);
    EXPECT_EQ(errorCondition(*answer.iq), "internal-server-error") << answer.iq->toString();
    answer = ask(*juliet_, "<iq type='get' id='md'><metadata xmlns='urn:xmpp:mam:2'/></iq>");
    ASSERT_TRUE(answer.iq);
    EXPECT_EQ(errorCondition(*answer.iq), "internal-server-error");

    storage_->failArchive = false;
    received = romeoSends({chat("m2", "archived")}, "p2");
    ASSERT_EQ(received.size(), 1u);
    EXPECT_TRUE(received[0].findChild("stanza-id", "urn:xmpp:sid:0")) << received[0].toString();
    answer = ask(*juliet_, query("q2"));
    EXPECT_EQ(answer.bodies, (std::vector<std::string>{"archived"}));
}

class MamRetentionTest : public MamTest {
  protected:
    MamRetentionTest()
        : MamTest([](server::ServerConfig& config) {
              setOption(config, "max_age", "2d");
              setOption(config, "cleanup_interval", "1h");
          }) {}
};

TEST_F(MamRetentionTest, MessagesOlderThanMaxAgeGoAtTheNextCleanupWithoutNewMessages) {
    romeoSends({chat("m1", "old")}, "p1");
    EXPECT_EQ(archived(), 1u);
    server_.advanceClock(std::chrono::hours(24));
    logIn();  // the day's silence ended the sessions (timeouts.idle)
    romeoSends({chat("m2", "a day later")}, "p2");
    // The cleanups of the day found nothing older than 2 days.
    EXPECT_EQ(archived(), 2u);
    // 30 more hours of silence: the cleanup runs on the clock (cleanup_interval), not on the next
    // archived message. advanceClock returns once the timer's work is done.
    server_.advanceClock(std::chrono::hours(30));
    EXPECT_EQ(archived(), 1u);
    logIn();
    auto answer = ask(*juliet_, query("q1"));
    EXPECT_EQ(answer.bodies, (std::vector<std::string>{"a day later"}));
}

class MamLimitsTest : public MamTest {
  protected:
    MamLimitsTest()
        : MamTest([](server::ServerConfig& config) {
              setOption(config, "max_messages_per_user", "3");
              setOption(config, "max_page_size", "2");
              setOption(config, "default_page_size", "1");
          }) {}
};

TEST_F(MamLimitsTest, TheQuotaKeepsTheNewestAndPagesAreCapped) {
    romeoSends({chat("m1", "one"), chat("m2", "two"), chat("m3", "three"), chat("m4", "four")}, "p1");
    EXPECT_EQ(archived(), 3u);
    // No <max/>: the default page size.
    auto answer = ask(*juliet_, query("q1"));
    EXPECT_EQ(answer.bodies, (std::vector<std::string>{"two"}));
    EXPECT_EQ(finCount(answer), "3");
    // A larger <max/> is capped by max_page_size (XEP-0313 §4.3.1).
    answer = ask(*juliet_, query("q2", "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max></set>"));
    EXPECT_EQ(answer.bodies, (std::vector<std::string>{"two", "three"}));
    ASSERT_TRUE(answer.iq);
    const xml::Element* fin = answer.iq->findChild("fin", "urn:xmpp:mam:2");
    ASSERT_TRUE(fin) << answer.iq->toString();
    EXPECT_EQ(fin->attr("complete"), "false");
    // Romeo's own archive has its quota too.
    answer = ask(*romeo_, query("q3", "<set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set>"));
    EXPECT_EQ(finCount(answer), "3");
}

}  // namespace
}  // namespace parley::test
