#include <gtest/gtest.h>

#include <map>

#include "parley/client/resolver.h"

namespace parley::client {
namespace {

// A fixed sequence of "random" numbers, so that weighted orders are predictable.
std::function<double()> sequence(std::vector<double> values) {
    auto index = std::make_shared<std::size_t>(0);
    return [values = std::move(values), index] { return values[(*index)++ % values.size()]; };
}

std::vector<std::string> targetsOf(const std::vector<SrvRecord>& records) {
    std::vector<std::string> out;
    for (const SrvRecord& r : records)
        out.push_back(r.target);
    return out;
}

TEST(SrvOrderTest, LowerPriorityComesFirstWhateverTheWeight) {
    std::vector<SrvRecord> records{{"c", 5222, 20, 100}, {"a", 5222, 0, 0}, {"b", 5222, 10, 100}};
    EXPECT_EQ(targetsOf(orderSrvRecords(records, sequence({0.5}))),
              (std::vector<std::string>{"a", "b", "c"}));
}

TEST(SrvOrderTest, WithinOnePriorityTheWeightDecides) {
    // RFC 2782: running sums 0 (w0), 10 (w10), 100 (w90); a draw of 0.5 * 101 = 50 picks the w90 one.
    std::vector<SrvRecord> records{{"light", 5222, 1, 10}, {"zero", 5222, 1, 0}, {"heavy", 5222, 1, 90}};
    auto ordered = orderSrvRecords(records, sequence({0.5, 0.0, 0.0}));
    ASSERT_EQ(ordered.size(), 3u);
    EXPECT_EQ(ordered[0].target, "heavy");
    // A draw of 0 picks the first record of the running sum: the weight-0 one, which is listed first.
    EXPECT_EQ(ordered[1].target, "zero");
    EXPECT_EQ(ordered[2].target, "light");
}

TEST(SrvOrderTest, HeavierRecordsAreChosenFirstMoreOften) {
    std::map<std::string, int> firsts;
    std::vector<double> draws;
    for (int i = 0; i < 1000; ++i)
        draws.push_back(i / 1000.0);
    auto random = sequence(draws);
    for (int i = 0; i < 1000; ++i) {
        std::vector<SrvRecord> records{{"a", 1, 0, 1}, {"b", 1, 0, 3}};
        ++firsts[orderSrvRecords(records, random)[0].target];
    }
    // RFC 2782 draws from [0, total]: weights 1 and 3 give 2/5 and 3/5.
    EXPECT_GT(firsts["b"], firsts["a"] * 4 / 3);
    EXPECT_GT(firsts["a"], 0);
}

TEST(ConnectTargetsTest, WithoutRecordsTheDomainOnPort5222) {
    EXPECT_EQ(connectTargets("example.org", {}, {}, sequence({0.1})),
              (std::vector<ConnectTarget>{{"example.org", 5222, false}}));
}

TEST(ConnectTargetsTest, DirectTlsAndStartTlsRecordsAreMergedByPriority) {
    // XEP-0368 §3: one ordered list; the service of each record is kept.
    std::vector<SrvRecord> direct{{"tls.example.org", 5223, 5, 0}};
    std::vector<SrvRecord> startTls{{"xmpp.example.org", 5222, 1, 0}, {"backup.example.org", 5222, 10, 0}};
    EXPECT_EQ(connectTargets("example.org", direct, startTls, sequence({0.3})),
              (std::vector<ConnectTarget>{{"xmpp.example.org", 5222, false},
                                          {"tls.example.org", 5223, true},
                                          {"backup.example.org", 5222, false}}));
}

TEST(ConnectTargetsTest, ADotTargetMeansTheServiceIsNotOffered) {
    // RFC 2782: a lone "." record: decidedly not available; do not fall back to the domain either.
    std::vector<SrvRecord> none{{".", 0, 0, 0}};
    EXPECT_TRUE(connectTargets("example.org", none, none, sequence({0.3})).empty());
    std::vector<SrvRecord> direct{{"tls.example.org", 443, 0, 0}};
    EXPECT_EQ(connectTargets("example.org", direct, none, sequence({0.3})),
              (std::vector<ConnectTarget>{{"tls.example.org", 443, true}}));
}

}  // namespace
}  // namespace parley::client
