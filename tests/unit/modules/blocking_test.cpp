// XEP-0191 blocking (server/modules/blocking) where a transcript cannot show it: the XEP-0016 §2.1
// matching rules one by one, a block list that cannot be read (blocking fails closed), and the
// max_items option.
#include <gtest/gtest.h>

#include <algorithm>

#include "faulty_storage.h"
#include "module_test_util.h"
#include "parley/modules/block_matching.h"

namespace parley::test {
namespace {

using server::modules::isBlockedBy;

bool blocked(std::vector<std::string> list, const std::string& address) {
    std::sort(list.begin(), list.end());
    auto jid = Jid::parse(address);
    EXPECT_TRUE(jid) << address;
    return isBlockedBy(list, *jid);
}

TEST(BlockMatching, FullJidMatchesOnlyThatResource) {
    const std::vector<std::string> list{"romeo@montague.lit/orchard"};
    EXPECT_TRUE(blocked(list, "romeo@montague.lit/orchard"));
    EXPECT_FALSE(blocked(list, "romeo@montague.lit/garden"));
    EXPECT_FALSE(blocked(list, "romeo@montague.lit"));
    EXPECT_FALSE(blocked(list, "montague.lit"));
    EXPECT_FALSE(blocked(list, "montague.lit/orchard"));
    EXPECT_FALSE(blocked(list, "benvolio@montague.lit/orchard"));
}

TEST(BlockMatching, BareJidMatchesEveryResource) {
    const std::vector<std::string> list{"romeo@montague.lit"};
    EXPECT_TRUE(blocked(list, "romeo@montague.lit"));
    EXPECT_TRUE(blocked(list, "romeo@montague.lit/orchard"));
    EXPECT_FALSE(blocked(list, "benvolio@montague.lit"));
    EXPECT_FALSE(blocked(list, "montague.lit"));
    EXPECT_FALSE(blocked(list, "romeo@capulet.lit"));
}

TEST(BlockMatching, DomainResourceMatchesThatResourceAtTheDomainWithAnyUser) {
    const std::vector<std::string> list{"conference.montague.lit/tybalt"};
    EXPECT_TRUE(blocked(list, "conference.montague.lit/tybalt"));
    EXPECT_TRUE(blocked(list, "room@conference.montague.lit/tybalt"));
    EXPECT_FALSE(blocked(list, "room@conference.montague.lit/mercutio"));
    EXPECT_FALSE(blocked(list, "room@conference.montague.lit"));
    EXPECT_FALSE(blocked(list, "conference.montague.lit"));
    EXPECT_FALSE(blocked(list, "room@montague.lit/tybalt"));
}

TEST(BlockMatching, DomainMatchesEveryAddressAtItButNotSubdomains) {
    const std::vector<std::string> list{"montague.lit"};
    EXPECT_TRUE(blocked(list, "montague.lit"));
    EXPECT_TRUE(blocked(list, "montague.lit/bot"));
    EXPECT_TRUE(blocked(list, "romeo@montague.lit"));
    EXPECT_TRUE(blocked(list, "romeo@montague.lit/orchard"));
    EXPECT_FALSE(blocked(list, "conference.montague.lit"));
    EXPECT_FALSE(blocked(list, "room@conference.montague.lit/romeo"));
    EXPECT_FALSE(blocked(list, "capulet.lit"));
    EXPECT_FALSE(blocked(list, "montague.lit@capulet.lit"));
}

TEST(BlockMatching, ListsAreMatchedPrepared) {
    // The module stores Jid::parse(...).str(); addresses on stanzas are prepared the same way.
    const std::vector<std::string> list{Jid::parse("Romeo@Montague.LIT")->str()};
    EXPECT_TRUE(blocked(list, "ROMEO@montague.lit/Orchard"));
}

TEST(BlockMatching, AnEmptyListBlocksNothingAndSeveralItemsAreEachChecked) {
    EXPECT_FALSE(blocked({}, "romeo@montague.lit/orchard"));
    const std::vector<std::string> list{"a@x.lit", "capulet.lit", "m.lit/r", "z@y.lit/q"};
    EXPECT_TRUE(blocked(list, "a@x.lit/1"));
    EXPECT_TRUE(blocked(list, "nurse@capulet.lit"));
    EXPECT_TRUE(blocked(list, "u@m.lit/r"));
    EXPECT_TRUE(blocked(list, "z@y.lit/q"));
    EXPECT_FALSE(blocked(list, "z@y.lit"));
    EXPECT_FALSE(blocked(list, "b@x.lit"));
}

// --- through the server ------------------------------------------------------------------------

std::string blockSet(const std::string& id, const std::vector<std::string>& jids) {
    std::string iq = "<iq type='set' id='" + id + "'><block xmlns='urn:xmpp:blocking'>";
    for (const std::string& jid : jids)
        iq += "<item jid='" + jid + "'/>";
    return iq + "</block></iq>";
}

class BlockingTest : public ::testing::Test {
  protected:
    explicit BlockingTest(std::function<void(server::ServerConfig&)> tweak = {})
        : server_(std::move(tweak), FaultyStorage::wrapper(&storage_)) {
        server_.addAccount("romeo", "localhost", "secret");
        server_.addAccount("juliet", "localhost", "secret");
    }

    FaultyStorage* storage_ = nullptr;
    TestServer server_;
};

TEST_F(BlockingTest, AnUnreadableBlockListFailsClosed) {
    auto romeo = loggedIn(server_, "romeo", "secret", "orchard");
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    romeo->send("<presence/>");
    juliet->send("<presence/>");
    drain(*romeo, "r0");  // the presence echo (RFC 6121 §4.2.2)
    drain(*juliet, "j0");
    storage_->failBlockListReadsOf("juliet");

    // Inbound: Juliet's list cannot be read, so Romeo's message might come from someone she blocked.
    auto reply =
        request(*romeo, "<message to='juliet@localhost' type='chat' id='m1'><body>hi</body></message>");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
    EXPECT_EQ(reply->attr("id"), "m1");
    reply = request(
        *romeo,
        "<iq to='juliet@localhost/balcony' type='get' id='i1'><query xmlns='jabber:iq:version'/></iq>");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
    // Presence is dropped silently.
    romeo->send("<presence to='juliet@localhost/balcony'/>");
    for (const xml::Element& stanza : drain(*romeo, "r1"))
        ADD_FAILURE() << "Romeo received " << stanza.toString();
    EXPECT_TRUE(answersPing(*juliet, "j1")) << "Juliet received something";

    // Outbound: Juliet's own message might go to someone she blocked.
    reply = request(*juliet, "<message to='romeo@localhost' type='chat' id='m2'><body>hi</body></message>");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
    EXPECT_EQ(reply->attr("from"), "romeo@localhost");
    EXPECT_TRUE(answersPing(*romeo, "r2")) << "Romeo received something";
    // The block list itself cannot be read either.
    reply = request(*juliet, "<iq type='get' id='b1'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();

    // Once the store answers again, so does everything else.
    storage_->failBlockListReadsOf("");
    romeo->send("<message to='juliet@localhost' type='chat' id='m3'><body>again</body></message>");
    EXPECT_TRUE(answersPing(*romeo, "r3")) << "Romeo received something";
    auto message = juliet->receive();
    ASSERT_TRUE(message);
    EXPECT_EQ(message->attr("id"), "m3");
    EXPECT_EQ(message->childText("body", "jabber:client"), "again") << message->toString();
}

class BlockingQuotaTest : public BlockingTest {
  protected:
    BlockingQuotaTest()
        : BlockingTest([](server::ServerConfig& config) {
              for (auto& module : config.modules) {
                  if (module.name == "blocking")
                      module.options["max_items"] = "3";
              }
          }) {}
};

TEST_F(BlockingQuotaTest, MaxItemsRefusesABlockThatWouldPassItAndKeepsTheList) {
    auto juliet = loggedIn(server_, "juliet", "secret", "balcony");
    auto reply = request(*juliet, blockSet("b1", {"a@x.lit", "b@x.lit"}));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    reply = request(*juliet, blockSet("b2", {"c@x.lit", "d@x.lit"}));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "resource-constraint") << reply->toString();
    // Already blocked addresses do not count again.
    reply = request(*juliet, blockSet("b3", {"a@x.lit", "c@x.lit"}));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    reply = request(*juliet, "<iq type='get' id='l1'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
    ASSERT_TRUE(reply);
    const xml::Element* list = reply->findChild("blocklist", "urn:xmpp:blocking");
    ASSERT_TRUE(list) << reply->toString();
    std::vector<std::string> items;
    for (const xml::Element* item : list->children("item", "urn:xmpp:blocking"))
        items.emplace_back(item->attr("jid"));
    EXPECT_EQ(items, (std::vector<std::string>{"a@x.lit", "b@x.lit", "c@x.lit"}));
}

}  // namespace
}  // namespace parley::test
