#pragma once
// C2sService: the client listeners (RFC 6120 port 5222 with STARTTLS, XEP-0368 port 5223 with direct
// TLS), the per-address connection limits, and the per-loop timeout sweep of all client sessions.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "parley/net/connection.h"
#include "parley/sasl/verified_password_cache.h"
#include "parley/server/core.h"
#include "parley/xmpp/errors.h"

namespace parley::server {

class C2sSession;

// Concurrent connections per remote address (XEP-0205 §4.1, §4.3). Touched at accept and close only.
class ConnectionLimits {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;

    // `maxAuthFailures` failed logins from one address within `authBan` ban that address for `authBan`
    // (as ejabberd's mod_fail2ban); 0 disables the ban. Loopback addresses are never limited.
    ConnectionLimits(std::size_t perAddress, std::size_t preauthPerAddress, std::size_t maxAuthFailures = 0,
                     std::chrono::seconds authBan = std::chrono::seconds(0))
        : perAddress_(perAddress),
          preauthPerAddress_(preauthPerAddress),
          maxAuthFailures_(maxAuthFailures),
          authBan_(authBan) {}
    // Counts a new unauthenticated connection; false if the address is over a limit or banned.
    bool admit(const boost::asio::ip::address& address, TimePoint now = {});
    void authenticated(const boost::asio::ip::address& address);
    void closed(const boost::asio::ip::address& address, bool wasPreauth);
    // A SASL attempt from this address was checked against a credential and failed (RFC 6120 §13.12,
    // reliability row 25: guessing across many streams).
    void authenticationFailed(const boost::asio::ip::address& address, TimePoint now);
    bool isBanned(const boost::asio::ip::address& address, TimePoint now);

  private:
    struct Counts {
        std::size_t total = 0;
        std::size_t preauth = 0;
    };
    struct Failures {
        std::size_t count = 0;
        TimePoint windowStart;
        TimePoint bannedUntil;
    };
    bool isBannedLocked(const std::string& address, TimePoint now);

    std::mutex mutex_;
    std::unordered_map<std::string, Counts> byAddress_;
    std::unordered_map<std::string, Failures> failures_;
    std::size_t perAddress_;
    std::size_t preauthPerAddress_;
    std::size_t maxAuthFailures_;
    std::chrono::seconds authBan_;
};

class C2sService {
  public:
    C2sService(ServerCore& core, const net::TlsServerContext* tls);
    ~C2sService();

    // Binds a listener (port 0 picks a free port) and starts accepting. The error names the address.
    Result<net::tcp::endpoint, std::string> listen(const ListenerConfig& listener);
    // Stops accepting and closes every client stream with `error` (RFC 6120 §4.9.3.20 system-shutdown).
    void shutdown(xmpp::StreamError error);
    // Client connections alive now (negotiating or bound).
    std::size_t liveConnections() const noexcept { return live_->load(); }
    // PLAIN passwords already verified (plain_login_cache).
    const sasl::VerifiedPasswordCache& plainLoginCache() const noexcept { return *plainCache_; }
    // Runs the timeout check of every session now, on each session's loop (tests advance a FakeClock).
    void sweepTimeoutsForTest();

    struct LoopSessions;

  private:
    struct Listener;
    asio::awaitable<void> acceptLoop(std::shared_ptr<Listener> listener);

    ServerCore& core_;
    const net::TlsServerContext* tls_;
    std::shared_ptr<ConnectionLimits> limits_;
    std::shared_ptr<sasl::VerifiedPasswordCache> plainCache_;
    std::vector<std::shared_ptr<Listener>> listeners_;
    std::vector<std::unique_ptr<LoopSessions>> loopSessions_;  // indexed like core_.loops()
    std::shared_ptr<std::atomic<std::size_t>> live_ = std::make_shared<std::atomic<std::size_t>>(0);
    friend class C2sSession;
};

}  // namespace parley::server
