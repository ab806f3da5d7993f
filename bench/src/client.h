#pragma once
// One simulated XMPP client (RFC 6120 c2s) on one event loop: connect (from a spread of loopback
// source addresses), optional direct TLS or STARTTLS, SASL (SCRAM with a cached SaltedPassword, or
// PLAIN), bind, roster get, initial presence; then one reader coroutine that dispatches what arrives,
// while scenario code writes. Everything runs on the client's loop thread; nothing here locks.
#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "parley/base/result.h"
#include "parley/net/connection.h"
#include "parley/sasl/scram_client.h"
#include "parley/xml/element.h"
#include "parley/xml/stream_parser.h"
#include "runtime.h"

namespace parley::bench {

struct BenchError {
    std::string message;
};
using Status = Result<void, BenchError>;

// Shared by all clients of a run (read-only after start, except the SCRAM cache and address cursor).
struct ClientShared {
    const Options* options = nullptr;
    asio::ip::tcp::endpoint server;
    SSL_CTX* tls = nullptr;
    bool loopbackServer = false;
    std::atomic<unsigned> sourceCursor{0};  // next 127.0.0.x to use, 0-based
    std::atomic<std::uint64_t> resourceCounter{0};
    // SaltedPassword per user (RFC 5802 §5.1: a client MAY cache it), so that a login costs the
    // generator no PBKDF2. Guarded by cacheMutex.
    std::mutex cacheMutex;
    std::unordered_map<std::uint64_t, sasl::ScramSaltedPassword> scramCache;
};

class Client final : public Watched {
  public:
    Client(Loop& loop, ClientShared& shared, std::uint64_t user);
    ~Client() override;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    std::uint64_t user() const noexcept { return user_; }
    const std::string& username() const noexcept { return username_; }
    std::string bareJid() const { return username_ + "@" + shared_.options->domain; }
    Loop& loop() noexcept { return loop_; }

    // TCP connect, then TLS for --tls direct.
    asio::awaitable<Status> connect();
    // Stream header, the server's features (STARTTLS done first when --tls starttls).
    asio::awaitable<Status> openStream();
    const xml::Element& features() const noexcept { return features_; }
    // SASL, stream restart, bind. What a client does to go online before roster and presence.
    asio::awaitable<Status> authenticateAndBind();
    // connect + openStream + authenticateAndBind + roster get (+ available presence when `available`).
    // The roster result is kept in roster().
    asio::awaitable<Status> login(bool available);
    const xml::Element& roster() const noexcept { return roster_; }

    // The next element of the stream. timeout 0: wait as long as it takes.
    asio::awaitable<Result<xml::Element, BenchError>> next(double timeoutSeconds);
    // Sends an iq and waits for its result (before run() only). The reply of type error is a failure.
    asio::awaitable<Result<xml::Element, BenchError>> request(std::string iqWithoutId, std::string_view what);

    // Appends bytes to the output and writes them (one write for all that is queued).
    asio::awaitable<Status> send(std::string_view bytes);
    void queue(std::string_view bytes) { out_.append(bytes); }
    asio::awaitable<Status> flush();

    // After login: reads until the stream ends, giving each element to `handler`. Answers iq get/set
    // from the server (roster pushes get a result, anything else service-unavailable), and completes
    // the iq requests made with requestWhileRunning. Returns when stop() is called (quietly) or the
    // stream fails (the error).
    using Handler = std::function<void(const xml::Element&)>;
    asio::awaitable<Status> run(Handler handler);
    // While run() reads: sends an iq and waits for its answer (timeout 0: --timeout).
    asio::awaitable<Result<xml::Element, BenchError>> requestWhileRunning(std::string iqWithoutId,
                                                                          std::string_view what,
                                                                          double timeoutSeconds = 0);

    // Closes the stream politely: </stream:stream>, waits (bounded) for the server to close its side,
    // then closes the socket, so that the server's side is the one in TIME_WAIT.
    asio::awaitable<void> logout();
    // Ends run() and any wait at once; closes the socket.
    void stop();
    bool stopping() const noexcept { return stopping_; }

    // Watched
    Clock::time_point deadline() const noexcept override { return deadline_; }
    void onDeadline() override;

  private:
    void arm(double seconds);
    void disarm() { deadline_ = Clock::time_point::max(); }
    BenchError failure(std::string_view what, const boost::system::error_code& ec) const;
    asio::awaitable<Status> readMore();
    asio::awaitable<Status> startTls();
    asio::awaitable<Status> authenticate();
    std::string nextId();

    Loop& loop_;
    ClientShared& shared_;
    std::uint64_t user_;
    std::string username_;
    std::unique_ptr<net::Connection> conn_;
    asio::ip::tcp::socket* connecting_ = nullptr;
    xml::StreamParser parser_;
    xml::Element features_;
    xml::Element roster_;
    std::deque<xml::Element> backlog_;  // read while waiting for an iq answer before run()
    std::string out_;
    std::size_t outPos_ = 0;
    bool writing_ = false;
    bool stopping_ = false;
    bool timedOut_ = false;
    bool closeSeen_ = false;
    Clock::time_point deadline_ = Clock::time_point::max();
    std::uint64_t idCounter_ = 0;
    struct Waiter {
        asio::steady_timer* timer;
        std::optional<xml::Element> reply;
    };
    std::unordered_map<std::string, Waiter*> waiters_;
};

// The user name of account n (1-based): <prefix><n>.
std::string userName(const Options& options, std::uint64_t n);

}  // namespace parley::bench
