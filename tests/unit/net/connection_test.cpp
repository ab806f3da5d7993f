// Plain TCP Connection over real loopback sockets in one io_context.
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/post.hpp>
#include <string>
#include <vector>

#include "net_test_support.h"
#include "parley/net/connection.h"

namespace parley::net {
namespace {

using test::kMaxSteps;
using test::makePair;
using test::runBounded;
using test::spawn;

asio::awaitable<void> waitReadable(Connection* connection, std::optional<error_code>* result) {
    const error_code ec = co_await connection->waitReadable();
    *result = ec;
}

asio::awaitable<void> waitWritable(Connection* connection, std::optional<error_code>* result) {
    const error_code ec = co_await connection->waitWritable();
    *result = ec;
}

TEST(PlainConnection, IsNonBlockingWithoutNagleAndKnowsThePeer) {
    asio::io_context io;
    auto pair = makePair(io);
    EXPECT_TRUE(pair.server->socket().non_blocking());
    tcp::no_delay noDelay;
    pair.server->socket().get_option(noDelay);
    EXPECT_TRUE(noDelay.value());
    EXPECT_EQ(pair.server->remoteEndpoint(), pair.client->socket().local_endpoint());
    EXPECT_FALSE(pair.server->isTls());
    EXPECT_EQ(pair.server->tlsVersion(), "");
    EXPECT_EQ(pair.server->serverNameIndication(), "");
    EXPECT_TRUE(pair.server->channelBindings().tlsExporter.empty());
}

TEST(PlainConnection, ReadsWritesAndSeesEndOfStream) {
    asio::io_context io;
    auto pair = makePair(io);
    std::string hello = "<stream:stream to='example.org'>";
    test::WriteStats stats;
    std::optional<error_code> wrote;
    std::optional<error_code> read;
    std::string received;
    spawn(io, test::writeAll(pair.client.get(), hello, &stats, &wrote));
    spawn(io, test::readExactly(pair.server.get(), hello.size(), &received, &read));
    ASSERT_TRUE(runBounded(io));
    EXPECT_EQ(wrote, error_code{});
    EXPECT_EQ(read, error_code{});
    EXPECT_EQ(received, hello);

    pair.client->close();
    std::optional<error_code> end;
    std::string rest;
    spawn(io, test::readUntilError(pair.server.get(), &rest, &end));
    ASSERT_TRUE(runBounded(io));
    EXPECT_EQ(end, error_code(asio::error::eof));
    EXPECT_EQ(rest, "");
}

TEST(PlainConnection, ReadWithoutDataReturnsZero) {
    asio::io_context io;
    auto pair = makePair(io);
    std::array<char, 64> buffer{};
    auto got = pair.server->readSome(buffer);
    ASSERT_TRUE(got.has_value()) << got.error().message();
    EXPECT_EQ(*got, 0u);
}

TEST(PlainConnection, WriteReturnsZeroWhenFullAndWaitWritableResumesAfterDrain) {
    asio::io_context io;
    auto pair = makePair(io, 4096);
    std::string chunk = test::pattern(64 * 1024, 1);
    std::size_t filled = 0;
    bool sawWouldBlock = false;
    for (int step = 0; step < kMaxSteps && !sawWouldBlock; ++step) {
        auto written = pair.client->writeSome(chunk);
        ASSERT_TRUE(written.has_value()) << written.error().message();
        sawWouldBlock = *written == 0;
        filled += *written;
    }
    ASSERT_TRUE(sawWouldBlock);
    ASSERT_GT(filled, 0u);

    std::optional<error_code> writable;
    std::optional<error_code> drained;
    std::string received;
    spawn(io, waitWritable(pair.client.get(), &writable));
    spawn(io, test::readExactly(pair.server.get(), filled, &received, &drained));
    ASSERT_TRUE(runBounded(io));
    EXPECT_EQ(drained, error_code{});
    EXPECT_EQ(writable, error_code{});
    EXPECT_EQ(received.size(), filled);
    auto more = pair.client->writeSome(chunk);
    ASSERT_TRUE(more.has_value());
    EXPECT_GT(*more, 0u);
}

TEST(PlainConnection, CancelWakesAPendingWaitWithOperationAborted) {
    asio::io_context io;
    auto pair = makePair(io);
    std::optional<error_code> result;
    spawn(io, waitReadable(pair.server.get(), &result));
    // Runs after the coroutine has started and suspended in its wait (FIFO on one thread).
    asio::post(io, [&] { pair.server->cancel(); });
    ASSERT_TRUE(runBounded(io));
    EXPECT_EQ(result, error_code(asio::error::operation_aborted));
}

TEST(PlainConnection, GatherWriteSendsBuffersInOrder) {
    asio::io_context io;
    auto pair = makePair(io);
    std::string a = "<message/>";
    std::string b = "<presence/>";
    std::string c = "<iq type='get'/>";
    std::vector<asio::const_buffer> buffers{asio::buffer(a), asio::buffer(b), asio::const_buffer(),
                                            asio::buffer(c)};
    auto written = pair.client->writeSome(std::span<const asio::const_buffer>(buffers));
    ASSERT_TRUE(written.has_value()) << written.error().message();
    EXPECT_EQ(*written, a.size() + b.size() + c.size());
    std::optional<error_code> read;
    std::string received;
    spawn(io, test::readExactly(pair.server.get(), *written, &received, &read));
    ASSERT_TRUE(runBounded(io));
    EXPECT_EQ(received, a + b + c);
}

TEST(PlainConnection, MegabyteWithPartialWrites) {
    asio::io_context io;
    auto pair = makePair(io, 16 * 1024);
    std::string data = test::pattern(1 << 20, 2);
    test::WriteStats stats;
    std::optional<error_code> wrote;
    std::optional<error_code> read;
    std::string received;
    spawn(io, test::writeAll(pair.server.get(), data, &stats, &wrote));
    spawn(io, test::readExactly(pair.client.get(), data.size(), &received, &read));
    ASSERT_TRUE(runBounded(io));
    EXPECT_EQ(wrote, error_code{});
    EXPECT_EQ(read, error_code{});
    EXPECT_TRUE(received == data);
    EXPECT_GT(stats.wouldBlock + stats.partial, 0u);
}

TEST(PlainConnection, CloseIsIdempotentAndLaterCallsFail) {
    asio::io_context io;
    auto pair = makePair(io);
    EXPECT_TRUE(pair.client->isOpen());
    pair.client->close();
    pair.client->close();
    EXPECT_FALSE(pair.client->isOpen());
    std::array<char, 16> buffer{};
    EXPECT_FALSE(pair.client->readSome(buffer).has_value());
    EXPECT_FALSE(pair.client->writeSome(std::span<const char>("x", 1)).has_value());
}

}  // namespace
}  // namespace parley::net
