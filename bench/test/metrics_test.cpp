// The generator's own logic: histogram buckets and percentiles, the JSON line, the command line, and the
// server-side socket memory reader.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "metrics.h"
#include "options.h"

namespace parley::bench {
namespace {

TEST(Histogram, BucketsAreMonotonicAndBoundTheirValuesWithinOnePointSixPercent) {
    std::uint64_t previousIndex = 0;
    for (std::uint64_t v = 1; v < (1ull << 40); v = v * 3 / 2 + 1) {
        const std::size_t index = Histogram::indexOf(v);
        EXPECT_GE(index, previousIndex) << v;
        previousIndex = index;
        const std::uint64_t upper = Histogram::upperBound(index);
        EXPECT_GE(upper, v) << v;  // a percentile is never reported lower than the value
        EXPECT_LE(static_cast<double>(upper - v), static_cast<double>(v) / 64.0 + 1) << v;
    }
}

TEST(Histogram, PercentilesOfAKnownDistribution) {
    Histogram h;
    for (std::uint64_t v = 1; v <= 1000; ++v) {
        h.record(v * 1000);  // 1 us .. 1 ms
    }
    Histogram::Counts counts{};
    h.addTo(counts);
    EXPECT_EQ(totalCount(counts), 1000u);
    const auto near = [](std::uint64_t got, std::uint64_t want) {
        return got >= want && static_cast<double>(got - want) <= static_cast<double>(want) / 64.0 + 1;
    };
    EXPECT_TRUE(near(percentile(counts, 50), 500'000)) << percentile(counts, 50);
    EXPECT_TRUE(near(percentile(counts, 99), 990'000)) << percentile(counts, 99);
    EXPECT_TRUE(near(maxValue(counts), 1'000'000)) << maxValue(counts);
    Histogram::Counts empty{};
    EXPECT_EQ(percentile(empty, 99), 0u);
}

TEST(JsonLine, KeepsOrderAndEscapes) {
    JsonLine json;
    json.add("scenario", "chat")
        .add("label", "a\"b\\c\n")
        .add("lost", std::uint64_t{0})
        .add("pipeline", true);
    EXPECT_EQ(json.str(), R"({"scenario": "chat", "label": "a\"b\\c\n", "lost": 0, "pipeline": true})");
}

Result<Options, OptionError> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "parley-bench");
    return parseOptions(static_cast<int>(args.size()), const_cast<char**>(args.data()));
}

TEST(Options, ScenariosSayWhatTheyNeed) {
    auto chat = parse({"chat", "--users", "10", "--rate", "100", "--pipeline", "--tls", "direct"});
    ASSERT_TRUE(chat) << chat.error().message;
    EXPECT_EQ(chat->users, 10u);
    EXPECT_TRUE(chat->pipeline);
    EXPECT_EQ(chat->tls, TlsMode::Direct);
    auto both = parse({"chat", "--users", "10", "--rate", "100", "--inflight", "4"});
    ASSERT_FALSE(both);
    EXPECT_NE(both.error().message.find("exactly one of --rate"), std::string::npos);
    auto odd = parse({"roster", "--users", "10", "--contacts", "3"});
    ASSERT_FALSE(odd);
    EXPECT_NE(odd.error().message.find("K even"), std::string::npos);
    EXPECT_FALSE(parse({"chat", "--users", "10", "--rate", "fast"}));
    EXPECT_FALSE(parse({"dance"}));
}

// The socket memory figure counts the sockets on the given local port, and what the kernel holds for them:
// data a "server" has not read yet sits in its receive queue. The client's side (another local port) and
// the listener are not counted.
TEST(SocketMemory, CountsTheServerSideSocketsOfAPortAndTheirQueuedData) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    const std::uint16_t port = ntohs(address.sin_port);

    const auto idle = tcpSocketMemoryOnPort(port);
    ASSERT_TRUE(idle.has_value()) << "no NETLINK_SOCK_DIAG answer";
    EXPECT_EQ(idle->sockets, 0u);  // the listener is not a session

    const int client = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    const int server = ::accept(listener, nullptr, nullptr);
    ASSERT_GE(server, 0);
    const std::string data(20000, 'x');
    ASSERT_EQ(::send(client, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));

    // Loopback delivers at send(); the bytes wait in the server socket's receive queue until read.
    const auto loaded = tcpSocketMemoryOnPort(port);
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->sockets, 1u);
    EXPECT_GE(loaded->bytes, data.size());
    ::close(server);
    ::close(client);
    ::close(listener);
}

}  // namespace
}  // namespace parley::bench
