#pragma once
// C2sSession: one client-to-server stream (RFC 6120), owned by one coroutine from accept to close.
// Negotiation is an explicit state machine (docs/ARCHITECTURE.md "Stream negotiation"):
//
//   ExpectHeader -> Negotiating -(starttls)-> TLS handshake -> ExpectHeader
//                   Negotiating -(SASL success)-> ExpectHeader (restart, same host) -> Negotiating
//                   Negotiating -(bind)-> Bound -> ... -> Closing -> Closed
//
// Everyone else talks to it through Session::deliver/close, which enqueue and wake the coroutine.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/net/connection.h"
#include "parley/sasl/mechanism.h"
#include "parley/sasl/verified_password_cache.h"
#include "parley/server/core.h"
#include "parley/server/session.h"
#include "parley/storage/storage.h"
#include "parley/streams/inbound_rate_limiter.h"
#include "parley/xml/stream_parser.h"

namespace parley::server {

class ConnectionLimits;
class TimeoutSweeper;

// What a listener gives each of its sessions.
struct C2sListenerContext {
    ServerCore* core = nullptr;
    ListenerConfig listener;
    const net::TlsServerContext* tls = nullptr;  // null: no TLS available on this listener
    // Shared with the service: a session may outlive it during shutdown.
    std::shared_ptr<ConnectionLimits> limits;
    std::shared_ptr<std::atomic<std::size_t>> liveConnections;
    // PLAIN passwords already checked against the stored credential (plain_login_cache), shared by
    // all listeners.
    std::shared_ptr<sasl::VerifiedPasswordCache> plainCache;
};

class C2sSession final : public Session {
  public:
    // `socket` must belong to `loop`, the event loop this session is pinned to.
    C2sSession(std::shared_ptr<const C2sListenerContext> context, net::tcp::socket socket,
               asio::io_context& loop);
    ~C2sSession() override;

    // Spawns the session's coroutine on the socket's executor.
    static void start(std::shared_ptr<C2sSession> session);

    void deliver(xmpp::StanzaPtr stanza) override;
    void close(xmpp::StreamError error) override;
    void whenWritten(std::function<void(bool written)> done) override;
    std::string describe() const override;
    void sendNonza(const xml::Element& element) override;
    void writeHeld(std::vector<xmpp::StanzaPtr> stanzas, int filterPriority) override;
    asio::awaitable<bool> takeOver(SessionPtr previous, std::function<void(Session&)> onTakenOver) override;

    // Called by the loop's TimeoutSweeper (on the session's loop) with the current time.
    void checkTimeouts(Clock::TimePoint now);

  private:
    // Closed and after: the coroutine stops. Detached: the connection was lost but the session stays
    // bound (Session::setDetachTimeout); TakenOver: another stream took it over (Session::takeOver)
    // and this object only forwards what still reaches it.
    enum class State : std::uint8_t {
        ExpectHeader,
        Negotiating,
        Bound,
        Closing,
        Closed,
        Detached,
        TakenOver
    };
    enum class Parked : std::uint8_t { None, Reading, Writing };

    asio::awaitable<void> run();
    asio::awaitable<bool> readAvailable();
    asio::awaitable<bool> acceptDirectTls();
    asio::awaitable<void> handleParsedEvents();
    asio::awaitable<void> pauseReadingIfOverLimit();
    asio::awaitable<void> handleEvent(xml::StreamEvent event);
    void handleHeader(const xml::StreamOpen& open);
    asio::awaitable<void> handleElement(xml::Element element);
    asio::awaitable<void> handleStartTls();
    asio::awaitable<void> handleAuth(const xml::Element& auth);
    asio::awaitable<void> handleSaslResponse(const xml::Element& response);
    asio::awaitable<void> driveSasl();
    // The stored credential of `username` on this host for `algorithm`; nullopt for an unknown user.
    asio::awaitable<Result<std::optional<sasl::ScramCredential>, storage::StorageError>> findCredential(
        std::string username, sasl::HashAlgorithm algorithm);
    asio::awaitable<void> handlePreAuthIq(xml::Element element);
    asio::awaitable<void> handleBind(xmpp::Stanza stanza);
    asio::awaitable<void> handleStanza(xml::Element element);
    void replyError(const xml::Element& request, xmpp::StanzaErrorCondition condition, std::string text);

    void sendHeader();
    void sendFeatures();
    void sendRaw(std::string_view xml) { out_.append(xml); }
    void sendElement(const xml::Element& element) { element.serializeTo(out_, "jabber:client"); }
    void sendSaslFailure(std::string_view condition, std::string_view text = {});
    bool ended() const noexcept { return state_ >= State::Closed; }
    void streamError(xmpp::StreamError error);
    void handleClose(xmpp::StreamError error);
    void enqueue(xmpp::StanzaPtr stanza);
    // A stanza for the client (a reply the stream makes itself): queued like routed ones once bound,
    // so that the outbound filters see it.
    void sendStanza(xml::Element element);
    // Runs the outbound filters (ModuleContext::onStanzaOut), only those of priority below `below` if
    // given; true if the stanza is to be written.
    bool filterOut(const xmpp::StanzaPtr& stanza, std::optional<int> below = std::nullopt);
    // Serializes the queued stanzas that the filters let through into the output buffer.
    void writeQueued();
    // The connection is gone; the session stays bound for its detach timeout.
    void detach();
    void endDetached();
    // On `previous`'s loop: hands `previous` over to `heir` (see Session::takeOver).
    static bool handOver(C2sSession& previous, const std::shared_ptr<C2sSession>& heir);
    void wake();
    // Moves queued stanzas into the output buffer and writes what the socket takes. False on error.
    bool flush();
    // Runs the whenWritten callbacks whose bytes are all written (or all of them, with false, at the end).
    void notifyWriteWaiters(bool ended);
    asio::awaitable<bool> flushFully();
    void finish();

    std::shared_ptr<const C2sListenerContext> context_;
    ServerCore& core_;
    net::Connection connection_;
    asio::io_context::executor_type executor_;
    xml::StreamParser parser_;
    InboundRateLimiter readLimiter_;
    static constexpr double kPresenceBurstSeconds = 5;  // e.g. joining many rooms at login
    static constexpr std::chrono::milliseconds kPresencePauseStep{100};
    InboundRateLimiter presenceLimiter_;
    State state_ = State::ExpectHeader;
    Parked parked_ = Parked::None;
    bool headerSent_ = false;
    bool tls_ = false;
    bool authenticated_ = false;
    bool closeTagSent_ = false;
    bool closeWhenFlushed_ = false;
    bool preauthCounted_ = false;
    bool writeStalled_ = false;               // the peer stopped taking our output: the connection is lost
    bool exchangeCheckedCredential_ = false;  // this SASL exchange consulted a stored credential
    std::uint8_t saslFailures_ = 0;
    std::string host_;      // the served domain of this stream, fixed by the first header
    std::string username_;  // prepared localpart after SASL
    std::string streamId_;
    std::unique_ptr<sasl::ServerMechanism> mechanism_;
    sasl::Step pendingStep_;
    std::vector<xmpp::StanzaPtr> queue_;  // stanzas waiting to be serialized
    std::vector<xmpp::StanzaPtr> batch_;  // writeQueued's storage, kept between batches (no allocation)
    std::string out_;                     // serialized bytes not yet written
    std::uint64_t bytesWritten_ = 0;      // since the stream started (for whenWritten)
    // whenWritten callbacks, each with the byte count (bytesWritten_ + pending) it waits for, in order.
    std::vector<std::pair<std::uint64_t, std::function<void(bool)>>> writeWaiters_;
    Clock::TimePoint connectedAt_;
    Clock::TimePoint lastRead_;
    Clock::TimePoint lastWriteProgress_;
    Clock::TimePoint closingSince_;
    Clock::TimePoint detachedAt_;
    std::weak_ptr<C2sSession> successor_;  // State::TakenOver: the session that goes on
};

}  // namespace parley::server
