#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <map>
#include <thread>

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

// --- the c-ares resolver against a DNS server on loopback ----------------------------------------

// Answers SRV queries for one name with fixed records (RFC 1035 §4.1, RFC 2782 RDATA) and every other
// name with NXDOMAIN, until `queries` queries were answered or nothing came for 10 s.
class TinyDnsServer {
  public:
    TinyDnsServer(std::string name, std::vector<SrvRecord> records, int queries)
        : name_(std::move(name)), records_(std::move(records)) {
        fd_ = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
        socklen_t length = sizeof address;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        timeval guard{10, 0};  // a bound on a broken test, not a wait for time to pass
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
        thread_ = std::thread([this, queries] {
            for (int i = 0; i < queries; ++i) {
                if (!answerOne())
                    break;
            }
        });
    }
    ~TinyDnsServer() {
        thread_.join();
        close(fd_);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  private:
    static void put16(std::string& out, std::uint16_t value) {
        out += static_cast<char>(value >> 8);
        out += static_cast<char>(value & 0xFF);
    }
    static std::string encodeName(const std::string& name) {
        std::string out;
        std::size_t start = 0;
        while (start < name.size()) {
            const std::size_t dot = std::min(name.find('.', start), name.size());
            out += static_cast<char>(dot - start);
            out += name.substr(start, dot - start);
            start = dot + 1;
        }
        return out + '\0';
    }
    bool answerOne() {
        char buffer[512];
        sockaddr_in peer{};
        socklen_t peerLength = sizeof peer;
        const ssize_t got =
            recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &peerLength);
        if (got < 12)
            return false;
        // The question: labels from offset 12 to the root label, then QTYPE and QCLASS.
        std::string qname;
        std::size_t pos = 12;
        while (pos < static_cast<std::size_t>(got) && buffer[pos] != 0) {
            const auto length = static_cast<unsigned char>(buffer[pos]);
            qname += (qname.empty() ? "" : ".") + std::string(buffer + pos + 1, length);
            pos += 1 + length;
        }
        const std::size_t questionEnd = pos + 5;
        const bool known = qname == name_;
        std::string reply(buffer, 2);               // the query's id
        put16(reply, known ? 0x8180 : 0x8183);      // response, recursion; NXDOMAIN when unknown
        put16(reply, 1);                            // one question
        put16(reply, known ? records_.size() : 0);  // answers
        put16(reply, 0);
        put16(reply, 0);
        reply.append(buffer + 12, questionEnd - 12);
        for (const SrvRecord& r : known ? records_ : std::vector<SrvRecord>{}) {
            put16(reply, 0xC00C);  // the name: a pointer to the question's
            put16(reply, 33);      // SRV
            put16(reply, 1);       // IN
            put16(reply, 0);
            put16(reply, 60);  // TTL
            const std::string target = encodeName(r.target);
            put16(reply, static_cast<std::uint16_t>(6 + target.size()));
            put16(reply, r.priority);
            put16(reply, r.weight);
            put16(reply, r.port);
            reply += target;
        }
        sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), peerLength);
        return true;
    }

    std::string name_;
    std::vector<SrvRecord> records_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

std::vector<SrvRecord> lookup(Resolver& resolver, std::string name) {
    boost::asio::io_context io;
    auto task = resolver.lookupSrv(std::move(name));
    auto result = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    io.run();
    return result.get();
}

TEST(SystemResolverTest, CaresReadsSrvRecordsAndAnUnknownNameGivesNone) {
    TinyDnsServer dns("_xmpp-client._tcp.example.test",
                      {{"xmpp1.example.test", 5222, 10, 60}, {"xmpp2.example.test", 5223, 20, 0}}, 2);
    auto resolver = makeSystemResolver(dns.address());
    auto records = lookup(*resolver, "_xmpp-client._tcp.example.test");
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].target, "xmpp1.example.test");  // without the root's trailing dot
    EXPECT_EQ(records[0].port, 5222);
    EXPECT_EQ(records[0].priority, 10);
    EXPECT_EQ(records[0].weight, 60);
    EXPECT_EQ(records[1].port, 5223);
    EXPECT_TRUE(lookup(*resolver, "_xmpps-client._tcp.example.test").empty());
}

}  // namespace
}  // namespace parley::client
