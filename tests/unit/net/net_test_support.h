#pragma once
// Helpers for the net tests: loopback pairs in one io_context, bounded runs, read/write loops.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "parley/net/connection.h"

namespace parley::net::test {

struct Pair {
    std::unique_ptr<Connection> server;
    std::unique_ptr<Connection> client;
};

// A connected pair over 127.0.0.1 (acceptor on port 0). bufferSize > 0 shrinks both kernel buffers so
// that writes block after a few KiB.
Pair makePair(asio::io_context& io, int bufferSize = 0);

// Starts `task` on `io`; an exception escapes from io.run_for and fails the test.
void spawn(asio::io_context& io, asio::awaitable<void> task);

// Runs `io` until it runs out of work; false if it still had work after `limit` (a hung test).
bool runBounded(asio::io_context& io, std::chrono::seconds limit = std::chrono::seconds(30));

struct WriteStats {
    std::size_t calls = 0;
    std::size_t wouldBlock = 0;  // writeSome returned 0
    std::size_t partial = 0;     // wrote less than offered, but not 0
};

// Every loop below is bounded by kMaxSteps iterations.
inline constexpr int kMaxSteps = 200000;

asio::awaitable<void> writeAll(Connection* connection, std::string data, WriteStats* stats,
                               std::optional<error_code>* result);
asio::awaitable<void> readExactly(Connection* connection, std::size_t count, std::string* out,
                                  std::optional<error_code>* result);
// Reads until an error (eof included), which goes to *result.
asio::awaitable<void> readUntilError(Connection* connection, std::string* out,
                                     std::optional<error_code>* result);
asio::awaitable<void> acceptTls(Connection* connection, SSL_CTX* ctx, std::optional<error_code>* result);
asio::awaitable<void> connectTls(Connection* connection, SSL_CTX* ctx, std::string serverName,
                                 std::optional<error_code>* result);

// Handshakes a fresh pair: results in *serverResult, *clientResult; false if the run hung.
bool handshake(asio::io_context& io, Pair& pair, SSL_CTX* serverCtx, SSL_CTX* clientCtx,
               const std::string& sni, std::optional<error_code>* serverResult,
               std::optional<error_code>* clientResult);

// A pattern that shows misplaced or repeated bytes.
std::string pattern(std::size_t size, unsigned seed);

class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

}  // namespace parley::net::test
