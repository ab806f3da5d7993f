#include "parley/streams/c2s_service.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "parley/streams/c2s_session.h"

namespace parley::server {

namespace {

const Logger& listenerLog() {
    static const Logger log("c2s");
    return log;
}

constexpr auto kAwaitTuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

// --- per-address limits ------------------------------------------------------------------------

bool ConnectionLimits::admit(const boost::asio::ip::address& address, TimePoint now) {
    if (address.is_loopback())
        return true;  // local tools and benchmarks are never limited
    std::lock_guard lock(mutex_);
    const std::string key = address.to_string();
    if (isBannedLocked(key, now))
        return false;
    Counts& counts = byAddress_[key];
    if ((perAddress_ && counts.total >= perAddress_) ||
        (preauthPerAddress_ && counts.preauth >= preauthPerAddress_)) {
        if (counts.total == 0)
            byAddress_.erase(key);
        return false;
    }
    ++counts.total;
    ++counts.preauth;
    return true;
}

bool ConnectionLimits::isBannedLocked(const std::string& address, TimePoint now) {
    auto it = failures_.find(address);
    if (it == failures_.end())
        return false;
    if (it->second.bannedUntil != TimePoint{} && now < it->second.bannedUntil)
        return true;
    if (now - it->second.windowStart >= authBan_)
        failures_.erase(it);  // the window passed: forget
    return false;
}

bool ConnectionLimits::isBanned(const boost::asio::ip::address& address, TimePoint now) {
    if (address.is_loopback())
        return false;
    std::lock_guard lock(mutex_);
    return isBannedLocked(address.to_string(), now);
}

void ConnectionLimits::authenticationFailed(const boost::asio::ip::address& address, TimePoint now) {
    if (maxAuthFailures_ == 0 || address.is_loopback())
        return;
    std::lock_guard lock(mutex_);
    if (failures_.size() > 100'000) {
        // Bounded memory under a distributed attack: drop entries whose window has passed.
        std::erase_if(failures_, [&](const auto& entry) {
            return now - entry.second.windowStart >= authBan_ && now >= entry.second.bannedUntil;
        });
    }
    Failures& failures = failures_[address.to_string()];
    if (failures.count == 0 || now - failures.windowStart >= authBan_) {
        failures.count = 0;
        failures.windowStart = now;
    }
    if (++failures.count >= maxAuthFailures_)
        failures.bannedUntil = now + authBan_;
}

void ConnectionLimits::authenticated(const boost::asio::ip::address& address) {
    if (address.is_loopback())
        return;
    std::lock_guard lock(mutex_);
    auto it = byAddress_.find(address.to_string());
    if (it != byAddress_.end() && it->second.preauth > 0)
        --it->second.preauth;
}

void ConnectionLimits::closed(const boost::asio::ip::address& address, bool wasPreauth) {
    if (address.is_loopback())
        return;
    std::lock_guard lock(mutex_);
    auto it = byAddress_.find(address.to_string());
    if (it == byAddress_.end())
        return;
    if (it->second.total > 0)
        --it->second.total;
    if (wasPreauth && it->second.preauth > 0)
        --it->second.preauth;
    if (it->second.total == 0)
        byAddress_.erase(it);
}

// --- sessions per loop and the timeout sweep ---------------------------------------------------

// All client sessions of one event loop; touched only on that loop's thread.
struct C2sService::LoopSessions {
    std::vector<std::weak_ptr<C2sSession>> sessions;
    std::unique_ptr<asio::steady_timer> timer;
};
using LoopSessions = C2sService::LoopSessions;

struct C2sService::Listener {
    ListenerConfig config;
    std::unique_ptr<net::tcp::acceptor> acceptor;
    std::shared_ptr<C2sListenerContext> context;
};

namespace {

void sweep(LoopSessions& loop, Clock::TimePoint now) {
    std::erase_if(loop.sessions, [](const std::weak_ptr<C2sSession>& s) { return s.expired(); });
    // Copy: a timeout may close a session, which must not disturb the iteration.
    auto sessions = loop.sessions;
    for (const auto& weak : sessions) {
        if (auto session = weak.lock())
            session->checkTimeouts(now);
    }
}

void armSweep(LoopSessions& loop, ServerCore& core) {
    loop.timer->expires_after(std::chrono::seconds(1));
    loop.timer->async_wait([&loop, &core](const boost::system::error_code& ec) {
        if (ec)
            return;
        sweep(loop, core.clock().now());
        armSweep(loop, core);
    });
}

}  // namespace

C2sService::C2sService(ServerCore& core, const net::TlsServerContext* tls)
    : core_(core),
      tls_(tls),
      limits_(std::make_shared<ConnectionLimits>(
          core.config().limits.maxConnectionsPerIp, core.config().limits.maxPreauthConnectionsPerIp,
          core.config().limits.maxAuthFailuresPerIp, core.config().limits.authFailureBan)),
      plainCache_(std::make_shared<sasl::VerifiedPasswordCache>(core.config().plainLoginCache)) {
    for (std::size_t i = 0; i < core_.loops().size(); ++i) {
        asio::io_context& loop = core_.loops().loop(i);
        auto sessions = std::make_unique<LoopSessions>();
        sessions->timer = std::make_unique<asio::steady_timer>(loop);
        asio::post(loop, [&sessions = *sessions, &core] { armSweep(sessions, core); });
        loopSessions_.push_back(std::move(sessions));
    }
}

// The loops are stopped before the service is destroyed (Server::stop), so no handler still runs.
C2sService::~C2sService() = default;

Result<net::tcp::endpoint, std::string> C2sService::listen(const ListenerConfig& config) {
    auto listener = std::make_shared<Listener>();
    listener->config = config;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(config.address == "*" ? "::" : config.address, ec);
    if (ec)
        return std::string("listener address '" + config.address + "' is not an IP address");
    const net::tcp::endpoint endpoint(address, config.port);
    auto acceptor = std::make_unique<net::tcp::acceptor>(core_.loops().loop(0));
    acceptor->open(endpoint.protocol(), ec);
    if (!ec)
        acceptor->set_option(net::tcp::acceptor::reuse_address(true), ec);
    if (!ec && address.is_v6())
        acceptor->set_option(asio::ip::v6_only(address.is_unspecified() ? false : true), ec);
    if (!ec)
        acceptor->bind(endpoint, ec);
    if (!ec)
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return std::string("cannot listen on [" + endpoint.address().to_string() +
                           "]:" + std::to_string(config.port) + ": " + ec.message() +
                           (ec == asio::error::address_in_use
                                ? " (is another XMPP server running? change listener.port)"
                            : ec == asio::error::access_denied ? " (ports below 1024 need privileges)"
                                                               : ""));
    }
    const auto bound = acceptor->local_endpoint();
    listener->acceptor = std::move(acceptor);
    listener->context = std::make_shared<C2sListenerContext>();
    listener->context->core = &core_;
    listener->context->listener = config;
    listener->context->tls = tls_;
    listener->context->limits = limits_;
    listener->context->liveConnections = live_;
    listener->context->plainCache = plainCache_;
    listeners_.push_back(listener);
    asio::co_spawn(
        core_.loops().loop(0), [this, listener] { return acceptLoop(listener); }, asio::detached);
    return bound;
}

asio::awaitable<void> C2sService::acceptLoop(std::shared_ptr<Listener> listener) {
    auto& acceptor = *listener->acceptor;
    while (acceptor.is_open()) {
        // Each connection goes to the next event loop and stays there for its whole life.
        const std::size_t index = core_.loops().nextIndex();
        asio::io_context& loop = core_.loops().loop(index);
        auto [ec, socket] = co_await acceptor.async_accept(loop, kAwaitTuple);
        if (ec == asio::error::operation_aborted || !acceptor.is_open())
            break;
        if (ec) {
            // Out of descriptors (EMFILE) or similar: back off instead of spinning (reliability row 35).
            listenerLog().warn("accept failed: " + ec.message() + "; pausing new connections for 100 ms");
            asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
            co_await pause.async_wait(kAwaitTuple);
            continue;
        }
        boost::system::error_code peerError;
        const auto remote = socket.remote_endpoint(peerError);
        if (peerError)
            continue;
        if (!limits_->admit(remote.address(), core_.clock().now())) {
            listenerLog().info("refusing a connection from " + remote.address().to_string() +
                               ": too many connections from this address");
            socket.close(peerError);
            continue;
        }
        auto session = std::make_shared<C2sSession>(listener->context, std::move(socket), loop);
        asio::post(loop, [session, &sessions = *loopSessions_[index]]() mutable {
            sessions.sessions.push_back(session);
            C2sSession::start(std::move(session));
        });
    }
}

void C2sService::shutdown(xmpp::StreamError error) {
    for (auto& listener : listeners_) {
        asio::post(listener->acceptor->get_executor(), [listener] {
            boost::system::error_code ignored;
            listener->acceptor->close(ignored);
        });
    }
    for (std::size_t i = 0; i < core_.loops().size(); ++i) {
        asio::io_context& loop = core_.loops().loop(i);
        asio::post(loop, [&sessions = *loopSessions_[i], error] {
            for (const auto& weak : sessions.sessions) {
                if (auto session = weak.lock())
                    session->close(error);
            }
        });
    }
}

void C2sService::sweepTimeoutsForTest() {
    for (std::size_t i = 0; i < core_.loops().size(); ++i) {
        asio::io_context& loop = core_.loops().loop(i);
        asio::post(loop, [&sessions = *loopSessions_[i], this] { sweep(sessions, core_.clock().now()); });
    }
}

}  // namespace parley::server
