#include "net_test_support.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/socket_base.hpp>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <vector>

namespace parley::net::test {

Pair makePair(asio::io_context& io, int bufferSize) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket client(io);
    client.open(tcp::v4());
    if (bufferSize > 0) {
        client.set_option(asio::socket_base::send_buffer_size(bufferSize));
        client.set_option(asio::socket_base::receive_buffer_size(bufferSize));
        acceptor.set_option(asio::socket_base::send_buffer_size(bufferSize));
        acceptor.set_option(asio::socket_base::receive_buffer_size(bufferSize));
    }
    // A blocking connect to a listening loopback socket completes without accept().
    client.connect(acceptor.local_endpoint());
    tcp::socket server = acceptor.accept();
    return Pair{std::make_unique<Connection>(std::move(server)),
                std::make_unique<Connection>(std::move(client))};
}

void spawn(asio::io_context& io, asio::awaitable<void> task) {
    asio::co_spawn(io, std::move(task), [](std::exception_ptr e) {
        if (e) {
            std::rethrow_exception(e);
        }
    });
}

bool runBounded(asio::io_context& io, std::chrono::seconds limit) {
    io.restart();
    io.run_for(limit);
    return io.stopped();
}

asio::awaitable<void> writeAll(Connection* connection, std::string data, WriteStats* stats,
                               std::optional<error_code>* result) {
    std::size_t done = 0;
    for (int step = 0; step < kMaxSteps && done < data.size(); ++step) {
        auto written = connection->writeSome(std::span<const char>(data).subspan(done));
        ++stats->calls;
        if (!written) {
            *result = written.error();
            co_return;
        }
        if (*written == 0) {
            ++stats->wouldBlock;
            const error_code ec = co_await connection->waitWritable();  // not in a condition: GCC 12
            if (ec) {
                *result = ec;
                co_return;
            }
            continue;
        }
        if (*written < data.size() - done) {
            ++stats->partial;
        }
        done += *written;
    }
    *result = done == data.size() ? error_code{} : error_code(asio::error::timed_out);
}

asio::awaitable<void> readExactly(Connection* connection, std::size_t count, std::string* out,
                                  std::optional<error_code>* result) {
    std::vector<char> buffer(8192);
    for (int step = 0; step < kMaxSteps && out->size() < count; ++step) {
        std::size_t want = std::min(buffer.size(), count - out->size());
        auto got = connection->readSome(std::span<char>(buffer.data(), want));
        if (!got) {
            *result = got.error();
            co_return;
        }
        if (*got == 0) {
            const error_code ec = co_await connection->waitReadable();  // not in a condition: GCC 12
            if (ec) {
                *result = ec;
                co_return;
            }
            continue;
        }
        out->append(buffer.data(), *got);
    }
    *result = out->size() == count ? error_code{} : error_code(asio::error::timed_out);
}

asio::awaitable<void> readUntilError(Connection* connection, std::string* out,
                                     std::optional<error_code>* result) {
    std::vector<char> buffer(8192);
    for (int step = 0; step < kMaxSteps; ++step) {
        auto got = connection->readSome(buffer);
        if (!got) {
            *result = got.error();
            co_return;
        }
        if (*got == 0) {
            const error_code ec = co_await connection->waitReadable();  // not in a condition: GCC 12
            if (ec) {
                *result = ec;
                co_return;
            }
            continue;
        }
        out->append(buffer.data(), *got);
    }
    *result = error_code(asio::error::timed_out);
}

asio::awaitable<void> acceptTls(Connection* connection, SSL_CTX* ctx, std::optional<error_code>* result) {
    const error_code ec = co_await connection->acceptTls(ctx);
    *result = ec;
}

asio::awaitable<void> connectTls(Connection* connection, SSL_CTX* ctx, std::string serverName,
                                 std::optional<error_code>* result) {
    const error_code ec = co_await connection->connectTls(ctx, std::move(serverName));
    *result = ec;
}

bool handshake(asio::io_context& io, Pair& pair, SSL_CTX* serverCtx, SSL_CTX* clientCtx,
               const std::string& sni, std::optional<error_code>* serverResult,
               std::optional<error_code>* clientResult) {
    spawn(io, acceptTls(pair.server.get(), serverCtx, serverResult));
    spawn(io, connectTls(pair.client.get(), clientCtx, sni, clientResult));
    return runBounded(io) && serverResult->has_value() && clientResult->has_value();
}

std::string pattern(std::size_t size, unsigned seed) {
    std::string out(size, '\0');
    unsigned x = seed * 2654435761u + 1;
    for (char& c : out) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 16);
    }
    return out;
}

TempDir::TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "parley-net-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
        throw std::runtime_error("cannot create a temporary folder " + templ);
    }
    path_ = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace parley::net::test
