// Client: one XMPP session. Negotiation (connect, TLS, SASL, bind, stream management) runs as one
// sequential coroutine that reads the stream itself; once online, a read loop owns reading and
// dispatches replies to the waiting requests and everything else to the handlers. Writes go through
// one queue with one flushing coroutine (docs/STYLE.md rule 6).
#include "parley/client/client.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <charconv>
#include <deque>
#include <map>
#include <random>

#include "codecs.h"
#include "parley/base/base64.h"
#include "parley/base/random.h"
#include "parley/jid/jid.h"
#include "parley/net/connection.h"
#include "parley/sasl/scram_client.h"
#include "parley/xml/stream_parser.h"
#include "parley/xmpp/errors.h"
#include "parley/xmpp/namespaces.h"

namespace parley::client {

namespace asio = boost::asio;
using net::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

Error usage(std::string condition, std::string text) {
    return {ErrorKind::Usage, std::move(condition), std::move(text)};
}

Error protocol(std::string text) {
    return {ErrorKind::Protocol, "unexpected-reply", std::move(text)};
}

Error networkError(const error_code& ec, const std::string& where) {
    if (ec == asio::error::eof)
        return {ErrorKind::Network, "connection-closed", where + ": the server closed the connection"};
    return {ErrorKind::Network, "connection-lost", where + ": " + ec.message()};
}

// The <stream:error/> as an Error (RFC 6120 §4.9.3).
Error streamError(const xml::Element& error) {
    return codec::errorFromConditions(error, ns::kStreamErrors, ErrorKind::Stream, "undefined-condition");
}

xml::Element iqElement(std::string_view type, const std::string& to, xml::Element payload) {
    xml::Element iq("iq", std::string(ns::kClient));
    iq.setAttr("type", std::string(type));
    if (!to.empty())
        iq.setAttr("to", to);
    iq.append(std::move(payload));
    return iq;
}

xml::Element child(std::string_view name, std::string_view ns) {
    return xml::Element(std::string(name), std::string(ns));
}

// Stream errors after which reconnecting would only repeat the problem.
bool isFinal(const Error& error) {
    if (error.kind == ErrorKind::Sasl || error.kind == ErrorKind::Tls || error.kind == ErrorKind::Usage)
        return true;
    return error.kind == ErrorKind::Stream &&
           (error.condition == "conflict" || error.condition == "not-authorized" ||
            error.condition == "policy-violation" || error.condition == "host-unknown" ||
            error.condition == "host-gone" || error.condition == "unsupported-version");
}

// XEP-0198 h values; a malformed one counts as 0 rather than throwing.
std::uint32_t parseCount(std::string_view text) {
    std::uint32_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

double uniformRandom() {
    thread_local std::mt19937_64 engine(std::random_device{}());
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
    enum class State { Idle, Connecting, Online, Reconnecting, Closing };
    enum class Purpose { Login, Register };

    struct PendingIq {
        explicit PendingIq(Executor executor) : timer(std::move(executor)) {}
        asio::steady_timer timer;
        std::string to;  // whom we asked: the reply must come from there (RFC 6120 §8.2.3)
        std::optional<xml::Element> reply;
        std::optional<Error> failure;
    };

    Impl(Executor ex, ClientOptions opts)
        : executor(std::move(ex)),
          options(std::move(opts)),
          backoff(options.reconnect.backoff),
          negotiationTimer(executor),
          reconnectTimer(executor),
          closeTimer(executor) {}

    Executor executor;
    ClientOptions options;
    Handlers handlers;
    Backoff backoff;
    std::optional<Jid> account;
    std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> tlsContext{nullptr, &SSL_CTX_free};        // STARTTLS
    std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> directTlsContext{nullptr, &SSL_CTX_free};  // with ALPN
    std::shared_ptr<net::Connection> connection;
    std::uint64_t generation = 0;  // bumped per connection; coroutines of an older one stop
    xml::StreamParser parser;
    std::array<char, 16384> readBuffer{};
    std::string outQueue;
    bool writing = false;
    State state = State::Idle;
    std::string boundJid;
    std::vector<RosterItem> rosterCache;
    std::map<std::string, std::shared_ptr<PendingIq>> pending;
    std::map<std::string, std::shared_ptr<std::vector<ArchivedMessage>>> historyQueries;
    /// Whether a full JID's client supports XEP-0184 receipts, as its disco#info said; forgotten when
    /// that resource goes offline (the next one by that name may be another client).
    std::map<std::string, bool> receiptSupport;
    std::uint64_t nextId = 0;
    asio::steady_timer negotiationTimer;
    bool negotiationTimedOut = false;
    asio::steady_timer reconnectTimer;
    asio::steady_timer closeTimer;
    bool lastConnectResumed = false;
    ConnectionInfo info;

    // XEP-0198 state.
    bool smEnabled = false;
    std::string smId;
    bool smResumable = false;
    std::uint32_t smInbound = 0;      // stanzas received (our h)
    std::uint32_t smAcked = 0;        // the server's last h
    std::deque<std::string> unacked;  // serialized stanzas sent and not yet acknowledged
    bool ackRequested = false;

    std::string newId() { return "pc" + std::to_string(++nextId) + "-" + randomId(6); }

    // --- writing -----------------------------------------------------------------------------------

    void write(std::string_view bytes) {
        outQueue += bytes;
        if (!writing && connection) {
            writing = true;
            asio::co_spawn(executor, flush(shared_from_this(), connection, generation), asio::detached);
        }
    }

    static asio::awaitable<void> flush(std::shared_ptr<Impl> self, std::shared_ptr<net::Connection> conn,
                                       std::uint64_t gen) {
        while (gen == self->generation && !self->outQueue.empty()) {
            auto written =
                conn->writeSome(std::span<const char>(self->outQueue.data(), self->outQueue.size()));
            if (!written) {
                conn->cancel();  // the read loop sees the broken connection and handles it
                break;
            }
            if (*written == 0) {
                const error_code ec = co_await conn->waitWritable();
                if (ec)
                    break;
                continue;
            }
            self->outQueue.erase(0, *written);
        }
        if (gen == self->generation)
            self->writing = false;
    }

    // A stanza: counted and kept for resending while stream management is on (XEP-0198 §4).
    void writeStanza(const xml::Element& stanza) {
        std::string bytes = stanza.toString(ns::kClient);
        if (smEnabled) {
            unacked.push_back(bytes);
            write(bytes);
            requestAck();
        } else {
            write(bytes);
        }
    }

    void requestAck() {
        if (ackRequested)
            return;
        ackRequested = true;
        write("<r xmlns='urn:xmpp:sm:3'/>");
    }

    void handleAck(std::uint32_t h) {
        // XEP-0198 §4: h counts every stanza the server handled, modulo 2^32.
        std::uint32_t newlyAcked = h - smAcked;
        if (newlyAcked > unacked.size())
            newlyAcked = static_cast<std::uint32_t>(unacked.size());  // a confused server; never underflow
        for (std::uint32_t i = 0; i < newlyAcked; ++i)
            unacked.pop_front();
        smAcked = h;
        ackRequested = false;
    }

    // --- reading -------------------------------------------------------------------------------------

    asio::awaitable<Outcome<xml::StreamEvent>> nextEvent(std::shared_ptr<net::Connection> conn) {
        for (;;) {
            if (auto event = parser.next())
                co_return std::move(*event);
            const error_code waited = co_await conn->waitReadable();
            if (waited) {
                if (negotiationTimedOut)
                    co_return Error{ErrorKind::Timeout, "timeout",
                                    "the server did not answer within " +
                                        std::to_string(options.requestTimeout.count()) + " ms"};
                co_return networkError(waited, "reading from the server");
            }
            auto got = conn->readSome(std::span<char>(readBuffer.data(), readBuffer.size()));
            if (!got)
                co_return networkError(got.error(), "reading from the server");
            if (*got > 0)
                parser.feed(std::string_view(readBuffer.data(), *got));
        }
    }

    // The next top-level element during negotiation; stream errors and ends become Errors.
    asio::awaitable<Outcome<xml::Element>> nextElement(std::shared_ptr<net::Connection> conn) {
        auto event = co_await nextEvent(conn);
        if (!event)
            co_return event.error();
        if (auto* element = std::get_if<xml::Element>(&*event)) {
            if (element->is("error", ns::kStreams))
                co_return streamError(*element);
            co_return std::move(*element);
        }
        if (auto* failure = std::get_if<xml::StreamFailure>(&*event))
            co_return protocol("the server's XML is broken: " + failure->detail);
        if (std::holds_alternative<xml::StreamClose>(*event))
            co_return Error{ErrorKind::Stream, "closed", "the server closed the stream"};
        co_return protocol("a second stream header in one stream");
    }

    // Opens (or restarts) the stream and returns the <stream:features/> (RFC 6120 §4.2, §4.3.3).
    asio::awaitable<Outcome<xml::Element>> openStream(std::shared_ptr<net::Connection> conn) {
        parser.reset();
        std::string header =
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en' to='";
        xml::appendEscapedAttr(header, account->domain());
        header += "'";
        if (conn->isTls()) {
            // RFC 6120 §4.7.1: with TLS, a client should say who it is.
            header += " from='";
            xml::appendEscapedAttr(header, account->bareView());
            header += "'";
        }
        header += ">";
        write(header);
        auto event = co_await nextEvent(conn);
        if (!event)
            co_return event.error();
        if (!std::holds_alternative<xml::StreamOpen>(*event))
            co_return protocol("the server did not open a stream (is this an XMPP client port?)");
        auto features = co_await nextElement(conn);
        if (!features)
            co_return features.error();
        if (!features->is("features", ns::kStreams))
            co_return protocol("expected <stream:features/>, got <" + features->name() + "/>");
        co_return std::move(*features);
    }

    // --- connecting --------------------------------------------------------------------------------

    using TlsContext = std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)>;

    Outcome<TlsContext> makeTlsContext(bool alpn) {
        auto ctx = net::makeClientTlsContext(false);  // verification is ours, after the handshake
        if (!ctx)
            return Error{ErrorKind::Tls, "tls-setup-failed", "OpenSSL could not create a TLS context"};
        // The chain is still checked with SSL_VERIFY_NONE; we read the verdict afterwards, so that
        // the error can say what was wrong and print the fingerprint.
        if (!options.trust.certificateFile.empty()) {
            if (SSL_CTX_load_verify_locations(ctx.get(), options.trust.certificateFile.c_str(), nullptr) !=
                1) {
                ERR_clear_error();
                return usage("bad-option", "cannot read the certificate file '" +
                                               options.trust.certificateFile +
                                               "': it must be a PEM file holding the server's certificate");
            }
            // A pinned server certificate need not be a self-signed CA.
            X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx.get()), X509_V_FLAG_PARTIAL_CHAIN);
        } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
            ERR_clear_error();
        }
        if (alpn) {
            // XEP-0368 §4: direct TLS clients announce the protocol with ALPN "xmpp-client".
            static constexpr unsigned char kAlpn[] = "\x0bxmpp-client";
            SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn - 1);
        }
        return Outcome<TlsContext>(boost::system::in_place_value, std::move(ctx));
    }

    Outcome<void> prepare() {
        auto jid = Jid::parse(options.jid);
        if (!jid || !jid->hasLocal())
            return usage("bad-jid", "'" + options.jid + "' is not an account address like user@example.org");
        if (options.resource.empty() && jid->hasResource())
            options.resource = std::string(jid->resource());
        account = jid->bare();
        if (!tlsContext) {
            auto plain = makeTlsContext(false);
            if (!plain)
                return plain.error();
            auto direct = makeTlsContext(true);
            if (!direct)
                return direct.error();
            tlsContext = std::move(*plain);
            directTlsContext = std::move(*direct);
        }
        return {};
    }

    asio::awaitable<std::vector<ConnectTarget>> targets() {
        if (!options.host.empty()) {
            const bool direct = options.tls == TlsMode::DirectTls;
            const std::uint16_t port = options.port != 0 ? options.port : (direct ? 5223 : 5222);
            co_return std::vector<ConnectTarget>{{options.host, port, direct}};
        }
        auto ascii = domainToAscii(account->domain());
        const std::string domain = ascii ? *ascii : std::string(account->domain());
        if (!options.resolver)
            options.resolver = makeSystemResolver();
        // RFC 6120 §3.2.1, XEP-0368: both services, merged.
        std::vector<SrvRecord> direct;
        if (options.tls != TlsMode::StartTls && options.tls != TlsMode::AllowPlaintext) {
            std::string name = "_xmpps-client._tcp." + domain;
            direct = co_await options.resolver->lookupSrv(std::move(name));
        }
        std::vector<SrvRecord> startTls;
        if (options.tls != TlsMode::DirectTls) {
            std::string name = "_xmpp-client._tcp." + domain;
            startTls = co_await options.resolver->lookupSrv(std::move(name));
        }
        co_return connectTargets(domain, direct, startTls, &uniformRandom);
    }

    Outcome<void> verifyCertificate(const net::Connection& conn) {
        X509* certificate = SSL_get0_peer_certificate(conn.ssl());
        const std::string domain = std::string(account->domain());
        if (!certificate)
            return Error{ErrorKind::Tls, "certificate-missing", domain + " sent no certificate"};
        unsigned char* derBytes = nullptr;
        const int length = i2d_X509(certificate, &derBytes);
        const std::string der = length > 0 ? std::string(reinterpret_cast<char*>(derBytes), length) : "";
        OPENSSL_free(derBytes);
        const std::string fingerprint = der.empty() ? "" : codec::fingerprintHex(der);
        if (!options.trust.sha256Fingerprint.empty()) {
            // A pinned fingerprint replaces chain and name checks: the user vouched for this certificate.
            if (codec::normalizeFingerprint(options.trust.sha256Fingerprint) == fingerprint)
                return {};
            return Error{
                ErrorKind::Tls, "fingerprint-mismatch",
                "the certificate of " + domain + " has SHA-256 fingerprint " + fingerprint +
                    ", not the configured " + options.trust.sha256Fingerprint +
                    ". If the server really changed its certificate, check the new fingerprint with its "
                    "administrator and configure that one."};
        }
        const long verdict = SSL_get_verify_result(conn.ssl());
        const std::string howToFix =
            " If this is a server you run with a self-signed certificate, check that its SHA-256 fingerprint "
            "is " +
            fingerprint + " and trust it with TrustOptions::sha256Fingerprint (parley: --trust-fingerprint " +
            fingerprint +
            ") or with its certificate file (TrustOptions::certificateFile, --trust-cert FILE).";
        if (verdict != X509_V_OK)
            return Error{ErrorKind::Tls, "certificate-untrusted",
                         "the certificate of " + domain +
                             " is not trusted: " + X509_verify_cert_error_string(verdict) + "." + howToFix};
        // RFC 6125 §6.4: the certificate must name the XMPP domain (DNS-ID), not the host we reached.
        auto ascii = domainToAscii(domain);
        const std::string name = ascii ? *ascii : domain;
        // RFC 6120 §13.7.1.2: an SRV-ID or XmppAddr for the domain names it as well as a DNS-ID does.
        const bool dnsId = X509_check_host(certificate, name.c_str(), name.size(),
                                           X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
        if (!dnsId && !codec::certificateHasXmppName(der, domain, name))
            return Error{ErrorKind::Tls, "certificate-name-mismatch",
                         "the certificate the server sent is not valid for " + domain + "." + howToFix};
        return {};
    }

    asio::awaitable<Outcome<void>> startTls(std::shared_ptr<net::Connection> conn, bool direct) {
        auto ascii = domainToAscii(account->domain());
        std::string serverName = ascii ? *ascii : std::string(account->domain());
        SSL_CTX* ctx = direct ? directTlsContext.get() : tlsContext.get();
        const error_code ec = co_await conn->connectTls(ctx, std::move(serverName));
        if (ec)
            co_return Error{
                ErrorKind::Tls, "handshake-failed",
                "TLS handshake with " + std::string(account->domain()) + " failed: " + ec.message()};
        co_return verifyCertificate(*conn);
    }

    // A TCP connect with its own deadline (options.requestTimeout): an unreachable address that drops
    // packets would otherwise hold us for the system's minutes before the next SRV target is tried.
    struct ConnectAttempt {
        explicit ConnectAttempt(const Executor& ex) : socket(ex), timer(ex) {}
        tcp::socket socket;
        asio::steady_timer timer;
        bool timedOut = false;
    };

    static asio::awaitable<void> watchConnect(std::shared_ptr<ConnectAttempt> attempt) {
        auto [ec] = co_await attempt->timer.async_wait(kTuple);
        if (!ec) {
            attempt->timedOut = true;
            error_code ignored;
            attempt->socket.close(ignored);  // ends the pending connect with operation_aborted
        }
    }

    asio::awaitable<Outcome<std::shared_ptr<net::Connection>>> connectTcp(ConnectTarget target) {
        tcp::resolver resolver(executor);
        const std::string port = std::to_string(target.port);
        auto [resolveError, endpoints] = co_await resolver.async_resolve(target.host, port, kTuple);
        if (resolveError)
            co_return Error{ErrorKind::Dns, "host-not-found",
                            "cannot find the address of " + target.host + ": " + resolveError.message()};
        auto attempt = std::make_shared<ConnectAttempt>(executor);
        attempt->timer.expires_after(options.requestTimeout);
        asio::co_spawn(executor, watchConnect(attempt), asio::detached);
        auto [connectError, endpoint] = co_await asio::async_connect(attempt->socket, endpoints, kTuple);
        attempt->timer.cancel();
        if (connectError) {
            const std::string reason =
                attempt->timedOut
                    ? "no answer within " + std::to_string(options.requestTimeout.count()) + " ms"
                    : connectError.message();
            co_return Error{ErrorKind::Network, "connection-failed",
                            "cannot connect to " + target.host + " port " + port + ": " + reason};
        }
        co_return std::make_shared<net::Connection>(std::move(attempt->socket));
    }

    static asio::awaitable<void> watchNegotiation(std::shared_ptr<Impl> self,
                                                  std::shared_ptr<net::Connection> conn) {
        auto [ec] = co_await self->negotiationTimer.async_wait(kTuple);
        if (!ec) {
            self->negotiationTimedOut = true;
            conn->cancel();
        }
    }

    // Everything from TCP to a bound (or resumed) session. On success `connection` is the new one.
    asio::awaitable<Outcome<void>> establish(Purpose purpose) {
        auto self = shared_from_this();
        auto list = co_await targets();
        if (list.empty())
            co_return Error{
                ErrorKind::Dns, "service-unavailable",
                "the DNS of " + std::string(account->domain()) + " says it offers no XMPP client service"};
        Error last{ErrorKind::Network, "unreachable", "no server address worked"};
        for (const ConnectTarget& target : list) {
            auto conn = co_await connectTcp(target);
            if (!conn) {
                last = conn.error();
                continue;  // RFC 6120 §3.2.1: try the next record
            }
            ++generation;
            connection = *conn;
            info = ConnectionInfo{target.host, target.port, target.directTls, {}, {}, {}, false, false};
            outQueue.clear();
            writing = false;
            negotiationTimedOut = false;
            negotiationTimer.expires_after(options.requestTimeout);
            asio::co_spawn(executor, watchNegotiation(self, connection), asio::detached);
            auto done = co_await negotiate(connection, target, purpose);
            negotiationTimer.cancel();
            if (done)
                co_return done;
            connection->close();
            last = done.error();
            // A refused password or certificate is the same on every server of the domain.
            if (last.kind == ErrorKind::Sasl || last.kind == ErrorKind::Tls || last.kind == ErrorKind::Usage)
                break;
        }
        connection.reset();
        co_return last;
    }

    asio::awaitable<Outcome<void>> negotiate(std::shared_ptr<net::Connection> conn, ConnectTarget target,
                                             Purpose purpose) {
        if (target.directTls) {
            auto secured = co_await startTls(conn, true);
            if (!secured)
                co_return secured.error();
        }
        auto features = co_await openStream(conn);
        if (!features)
            co_return features.error();
        if (!conn->isTls()) {
            if (features->findChild("starttls", ns::kTls)) {
                write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
                auto answer = co_await nextElement(conn);
                if (!answer)
                    co_return answer.error();
                if (!answer->is("proceed", ns::kTls))
                    co_return Error{ErrorKind::Tls, "starttls-failed", "the server refused STARTTLS"};
                auto secured = co_await startTls(conn, false);
                if (!secured)
                    co_return secured.error();
                features = co_await openStream(conn);
                if (!features)
                    co_return features.error();
            } else if (options.tls != TlsMode::AllowPlaintext) {
                co_return Error{
                    ErrorKind::Tls, "tls-required",
                    "the server at " + target.host +
                        " does not offer TLS; refusing to send the "
                        "password in the clear (set TlsMode::AllowPlaintext only for a test server)"};
            }
        }
        if (purpose == Purpose::Register)
            co_return Outcome<void>{};
        auto authenticated = co_await authenticate(conn, *features);
        if (!authenticated)
            co_return authenticated.error();
        features = co_await openStream(conn);
        if (!features)
            co_return features.error();
        co_return co_await bindOrResume(conn, *features);
    }

    // --- SASL (RFC 6120 §6) ------------------------------------------------------------------------

    asio::awaitable<Outcome<void>> authenticate(std::shared_ptr<net::Connection> conn,
                                                xml::Element features) {
        std::vector<std::string> offered;
        if (const xml::Element* mechanisms = features.findChild("mechanisms", ns::kSasl)) {
            for (const xml::Element* m : mechanisms->children("mechanism", ns::kSasl))
                offered.push_back(m->text());
        }
        // XEP-0440: the channel-binding types the server supports; without the element, guess from TLS.
        std::optional<sasl::ClientChannelBinding> binding;
        if (conn->isTls()) {
            const net::ChannelBindings data = conn->channelBindings();
            std::vector<std::string> types;
            if (const xml::Element* cb =
                    features.findChild("sasl-channel-binding", ns::kSaslChannelBinding)) {
                for (const xml::Element* type : cb->children("channel-binding", ns::kSaslChannelBinding))
                    types.emplace_back(type->attr("type"));
            } else {
                types = {std::string(sasl::kTlsExporter), std::string(sasl::kTlsServerEndPoint)};
            }
            auto offers = [&types](std::string_view t) {
                return std::find(types.begin(), types.end(), t) != types.end();
            };
            if (offers(sasl::kTlsExporter) && !data.tlsExporter.empty())
                binding = sasl::ClientChannelBinding{std::string(sasl::kTlsExporter), data.tlsExporter};
            else if (offers(sasl::kTlsServerEndPoint) && !data.tlsServerEndPoint.empty())
                binding =
                    sasl::ClientChannelBinding{std::string(sasl::kTlsServerEndPoint), data.tlsServerEndPoint};
        }
        const std::string mechanism =
            codec::chooseMechanism(offered, binding.has_value(), conn->isTls(), options.allowPlain);
        info.tlsVersion = conn->tlsVersion();
        if (mechanism.empty()) {
            std::string list;
            for (const std::string& m : offered)
                list += (list.empty() ? "" : ", ") + m;
            co_return Error{ErrorKind::Sasl, "invalid-mechanism",
                            "the server offers no mechanism this client will use (offered: " +
                                (list.empty() ? std::string("none") : list) +
                                "; PLAIN is used only over TLS and when allowed)"};
        }
        auto password = prepareResource(options.password);  // RFC 8265 OpaqueString, as the server does
        if (!password)
            co_return usage("bad-password", "the password contains characters that XMPP does not allow");
        const std::string user(account->local());

        std::unique_ptr<sasl::ScramClient> scram;
        std::string initial;
        if (mechanism == "PLAIN") {
            initial = std::string(1, '\0') + user + std::string(1, '\0') + *password;
        } else {
            const auto algorithm = mechanism.starts_with("SCRAM-SHA-256") ? sasl::HashAlgorithm::Sha256
                                                                          : sasl::HashAlgorithm::Sha1;
            const bool plusOffered = std::any_of(offered.begin(), offered.end(),
                                                 [](const std::string& m) { return m.ends_with("-PLUS"); });
            scram = std::make_unique<sasl::ScramClient>(algorithm, user, *password, binding, plusOffered);
            initial = scram->clientFirst();
        }
        xml::Element auth("auth", std::string(ns::kSasl));
        info.mechanism = scram ? scram->mechanismName() : mechanism;
        if (info.mechanism.ends_with("-PLUS") && binding)
            info.channelBinding = binding->type;
        auth.setAttr("mechanism", info.mechanism);
        auth.appendText(initial.empty() ? std::string("=") : base64Encode(initial));
        write(auth.toString());
        for (;;) {
            auto reply = co_await nextElement(conn);
            if (!reply)
                co_return reply.error();
            if (reply->is("challenge", ns::kSasl) && scram) {
                auto decoded = base64Decode(reply->text());
                if (!decoded)
                    co_return Error{ErrorKind::Sasl, "incorrect-encoding",
                                    "the server's challenge is not base64"};
                auto clientFinal = scram->clientFinal(*decoded);
                if (!clientFinal)
                    co_return Error{ErrorKind::Sasl, std::string(sasl::toString(clientFinal.error())),
                                    "the server's SCRAM challenge is unacceptable"};
                xml::Element response("response", std::string(ns::kSasl));
                response.appendText(base64Encode(*clientFinal));
                write(response.toString());
            } else if (reply->is("success", ns::kSasl)) {
                if (scram) {
                    const std::string text = reply->text();
                    auto decoded = base64Decode(text);
                    // RFC 5802 §5: a server that cannot prove it knows our key is not the server.
                    if (!decoded || !scram->verifyServerFinal(*decoded))
                        co_return Error{
                            ErrorKind::Sasl, "server-not-verified",
                            "the server claimed success but could not prove that it knows the password "
                            "(someone may be in the middle of the connection)"};
                }
                co_return Outcome<void>{};
            } else if (reply->is("failure", ns::kSasl)) {
                // RFC 6120 §6.5: the condition and text are children in the SASL namespace.
                Error error =
                    codec::errorFromConditions(*reply, ns::kSasl, ErrorKind::Sasl, "not-authorized");
                if (error.condition == "not-authorized" && error.text.empty())
                    error.text = "wrong user name or password for " + std::string(account->bareView());
                co_return error;
            } else {
                co_return protocol("unexpected <" + reply->name() + "/> during authentication");
            }
        }
    }

    // --- bind, resume, enable ----------------------------------------------------------------------

    // A request/reply during negotiation, before the read loop runs.
    asio::awaitable<Outcome<xml::Element>> negotiationIq(std::shared_ptr<net::Connection> conn,
                                                         xml::Element iq) {
        const std::string id = newId();
        iq.setAttr("id", id);
        write(iq.toString(ns::kClient));
        for (;;) {
            auto reply = co_await nextElement(conn);
            if (!reply)
                co_return reply.error();
            if (reply->name() == "iq" && reply->attr("id") == id) {
                if (reply->attr("type") == "error")
                    co_return codec::stanzaError(*reply);
                co_return std::move(*reply);
            }
        }
    }

    asio::awaitable<Outcome<void>> bindOrResume(std::shared_ptr<net::Connection> conn,
                                                xml::Element features) {
        const bool smOffered = features.findChild("sm", codec::kSm) != nullptr;
        lastConnectResumed = false;
        if (smOffered && smResumable && !smId.empty()) {
            // XEP-0198 §5: resume instead of binding; h tells the server what we received.
            xml::Element resume("resume", std::string(codec::kSm));
            resume.setAttr("previd", smId);
            resume.setAttr("h", std::to_string(smInbound));
            write(resume.toString());
            auto answer = co_await nextElement(conn);
            if (!answer)
                co_return answer.error();
            if (answer->is("resumed", codec::kSm)) {
                handleAck(parseCount(answer->attr("h")));
                lastConnectResumed = true;
                ackRequested = false;
                std::deque<std::string> resend;
                resend.swap(unacked);
                for (std::string& stanza : resend) {
                    unacked.push_back(stanza);
                    write(stanza);
                }
                if (!unacked.empty())
                    requestAck();
                co_return Outcome<void>{};
            }
            // <failed/>: the session is gone; bind a new one and send again what was not acknowledged.
        }
        std::deque<std::string> lost;
        lost.swap(unacked);
        smEnabled = false;
        smResumable = false;
        smId.clear();

        xml::Element bind("bind", std::string(ns::kBind));
        if (!options.resource.empty())
            bind.append("resource", std::string(ns::kBind)).appendText(options.resource);
        auto iq = iqElement("set", {}, std::move(bind));
        auto bound = co_await negotiationIq(conn, std::move(iq));
        if (!bound)
            co_return bound.error();
        const xml::Element* result = bound->findChild("bind", ns::kBind);
        if (!result)
            co_return protocol("the bind result carries no JID");
        boundJid = result->childText("jid", ns::kBind);
        receiptSupport.clear();  // a new session has missed the presence that would have updated it
        // RFC 3921 §3 session: only if the server says it is not optional.
        if (const xml::Element* session = features.findChild("session", ns::kSession);
            session && !session->findChild("optional", ns::kSession)) {
            auto sessionIq = iqElement("set", {}, child("session", ns::kSession));
            auto established = co_await negotiationIq(conn, std::move(sessionIq));
            if (!established)
                co_return established.error();
        }
        if (smOffered && options.streamManagement.enable) {
            xml::Element enable("enable", std::string(codec::kSm));
            if (options.streamManagement.resume)
                enable.setAttr("resume", "true");
            write(enable.toString());
            auto answer = co_await nextElement(conn);
            if (!answer)
                co_return answer.error();
            if (answer->is("enabled", codec::kSm)) {
                smEnabled = true;
                smId = std::string(answer->attr("id"));
                smResumable = answer->attr("resume") == "true" || answer->attr("resume") == "1";
                smInbound = 0;
                smAcked = 0;
                ackRequested = false;
            }
        }
        for (const std::string& stanza : lost) {
            if (smEnabled)
                unacked.push_back(stanza);
            write(stanza);
        }
        if (smEnabled && !unacked.empty())
            requestAck();
        co_return Outcome<void>{};
    }

    // --- online --------------------------------------------------------------------------------------

    void startReading() {
        asio::co_spawn(executor, readLoop(shared_from_this(), connection, generation), asio::detached);
    }

    static asio::awaitable<void> readLoop(std::shared_ptr<Impl> self, std::shared_ptr<net::Connection> conn,
                                          std::uint64_t gen) {
        for (;;) {
            auto event = co_await self->nextEvent(conn);
            if (gen != self->generation)
                co_return;
            if (!event) {
                self->connectionLost(event.error());
                co_return;
            }
            if (auto* element = std::get_if<xml::Element>(&*event)) {
                if (element->is("error", ns::kStreams)) {
                    self->connectionLost(streamError(*element));
                    co_return;
                }
                self->dispatch(std::move(*element));
                continue;
            }
            if (std::holds_alternative<xml::StreamClose>(*event)) {
                self->connectionLost(Error{ErrorKind::Stream, "closed", "the server closed the stream"});
                co_return;
            }
            if (auto* failure = std::get_if<xml::StreamFailure>(&*event)) {
                self->connectionLost(protocol("the server's XML is broken: " + failure->detail));
                co_return;
            }
        }
    }

    void dispatch(xml::Element element) {
        if (element.ns() == codec::kSm) {
            if (element.name() == "r") {
                write("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(smInbound) + "'/>");
            } else if (element.name() == "a") {
                handleAck(parseCount(element.attr("h")));
                if (!unacked.empty())
                    requestAck();
            }
            return;
        }
        if (element.ns() != ns::kClient)
            return;
        if (smEnabled)
            ++smInbound;  // XEP-0198 §4: every message, presence and iq counts
        if (element.name() == "iq")
            handleIq(std::move(element));
        else if (element.name() == "message")
            handleMessage(std::move(element));
        else if (element.name() == "presence")
            handlePresence(element);
    }

    // Whether a reply's `from` may answer a request sent to `to` (RFC 6120 §8.1.2.1, §10.3.3).
    bool replyFromMatches(const std::string& to, std::string_view from) const {
        if (from.empty())
            return to.empty() || to == account->bareView() || to == account->domain();
        auto parsedFrom = Jid::parse(from);
        if (!parsedFrom)
            return false;
        if (to.empty())
            return parsedFrom->str() == account->bareView() || parsedFrom->str() == account->domain() ||
                   parsedFrom->str() == boundJid;
        auto parsedTo = Jid::parse(to);
        return parsedTo && *parsedTo == *parsedFrom;
    }

    void handleIq(xml::Element iq) {
        const std::string_view type = iq.attr("type");
        if (type == "result" || type == "error") {
            auto it = pending.find(std::string(iq.attr("id")));
            if (it == pending.end() || !replyFromMatches(it->second->to, iq.attr("from")))
                return;  // unsolicited or spoofed: ignore (RFC 6120 §8.2.3)
            it->second->reply = std::move(iq);
            it->second->timer.cancel();
            pending.erase(it);
            return;
        }
        const std::string from(iq.attr("from"));
        const xml::Element* payload = iq.firstChild();
        xml::Element reply("iq", std::string(ns::kClient));
        reply.setAttr("type", "result");
        reply.setAttr("id", std::string(iq.attr("id")));
        if (!from.empty())
            reply.setAttr("to", from);
        const bool fromServer = from.empty() || from == account->bareView();
        if (type == "set" && payload && payload->is("query", codec::kRoster) && fromServer) {
            // RFC 6121 §2.1.6: a roster push; acknowledge it and update the cache.
            writeStanza(reply);
            for (RosterItem& item : codec::decodeRoster(*payload)) {
                auto cached = std::find_if(rosterCache.begin(), rosterCache.end(),
                                           [&item](const RosterItem& c) { return c.jid == item.jid; });
                if (item.subscription == Subscription::Remove) {
                    if (cached != rosterCache.end())
                        rosterCache.erase(cached);
                } else if (cached != rosterCache.end()) {
                    *cached = item;
                } else {
                    rosterCache.push_back(item);
                }
                if (handlers.rosterChanged)
                    handlers.rosterChanged(item);
            }
            return;
        }
        if (type == "get" && payload && payload->is("ping", codec::kPing)) {
            writeStanza(reply);  // XEP-0199 §4
            return;
        }
        if (type == "get" && payload && payload->is("query", codec::kDiscoInfo) &&
            payload->attr("node").empty()) {
            // XEP-0030: what this client supports, so that peers know to ask for receipts.
            xml::Element& query = reply.append("query", std::string(codec::kDiscoInfo));
            xml::Element& identity = query.append("identity", std::string(codec::kDiscoInfo));
            identity.setAttr("category", "client");
            identity.setAttr("type", "bot");
            identity.setAttr("name", "Parley client library");
            std::vector<std::string_view> features{codec::kDiscoInfo, codec::kPing};
            if (options.receipts)
                features.push_back(codec::kReceipts);
            for (std::string_view feature : features)
                query.append("feature", std::string(codec::kDiscoInfo)).setAttr("var", std::string(feature));
            writeStanza(reply);
            return;
        }
        // RFC 6120 §8.4: an iq nobody here understands gets service-unavailable.
        if (type == "get" || type == "set") {
            reply.setAttr("type", "error");
            xmpp::StanzaError error(xmpp::StanzaErrorCondition::ServiceUnavailable);
            reply.append(error.toElement());
            writeStanza(reply);
        }
    }

    void handleMessage(xml::Element message) {
        const std::string_view from = message.attr("from");
        if (const xml::Element* result = message.findChild("result", codec::kMam)) {
            // XEP-0313 §4.2: archive results come from our own account; anything else is forged.
            auto query = historyQueries.find(std::string(result->attr("queryid")));
            if (query != historyQueries.end() && (from.empty() || from == account->bareView())) {
                if (auto archived = codec::decodeArchivedMessage(message, query->first))
                    query->second->push_back(std::move(*archived));
            }
            return;
        }
        if (const xml::Element* received = message.findChild("received", codec::kReceipts)) {
            if (handlers.receipt)
                handlers.receipt(Receipt{std::string(from), std::string(received->attr("id"))});
            if (!message.findChild("body", ns::kClient))
                return;
        }
        Message decoded = codec::decodeMessage(message);
        // XEP-0184 §5.2: acknowledge a request, but never for errors or groupchat, and only with an id.
        if (decoded.receiptRequested && options.receipts && !decoded.id.empty() && !from.empty() &&
            decoded.type != MessageType::Error && decoded.type != MessageType::Groupchat) {
            xml::Element ack("message", std::string(ns::kClient));
            ack.setAttr("to", std::string(from));
            ack.setAttr("id", newId());
            ack.append("received", std::string(codec::kReceipts)).setAttr("id", decoded.id);
            writeStanza(ack);
        }
        if (handlers.message)
            handlers.message(decoded);
    }

    void handlePresence(const xml::Element& presence) {
        const std::string_view type = presence.attr("type");
        if (type == "subscribe" || type == "subscribed" || type == "unsubscribe" || type == "unsubscribed") {
            auto from = Jid::parse(presence.attr("from"));
            if (!from || !handlers.subscription)
                return;
            const SubscriptionEvent event = type == "subscribe"     ? SubscriptionEvent::Request
                                            : type == "subscribed"  ? SubscriptionEvent::Approved
                                            : type == "unsubscribe" ? SubscriptionEvent::Unsubscribed
                                                                    : SubscriptionEvent::Denied;
            handlers.subscription(std::string(from->bareView()), event);
            return;
        }
        if (type == "unavailable")
            receiptSupport.erase(std::string(presence.attr("from")));
        if ((type.empty() || type == "unavailable") && handlers.presence)
            handlers.presence(codec::decodePresence(presence));
    }

    void failAllPending(const Error& error) {
        auto all = std::move(pending);
        pending.clear();
        for (auto& [id, request] : all) {
            request->failure = error;
            request->timer.cancel();
        }
    }

    void connectionLost(Error error) {
        closeTimer.cancel();
        if (connection)
            connection->close();
        if (state == State::Closing || state == State::Idle) {
            return;
        }
        const bool wasOnline = state == State::Online;
        if (wasOnline && options.reconnect.enable && !isFinal(error)) {
            state = State::Reconnecting;
            asio::co_spawn(executor, reconnectLoop(shared_from_this(), error), asio::detached);
            return;
        }
        state = State::Idle;
        failAllPending(error);
        if (handlers.disconnected)
            handlers.disconnected(error);
    }

    static asio::awaitable<void> reconnectLoop(std::shared_ptr<Impl> self, Error cause) {
        Error last = std::move(cause);
        for (std::uint32_t attempt = 1;; ++attempt) {
            if (self->options.reconnect.maxAttempts != 0 && attempt > self->options.reconnect.maxAttempts)
                break;
            self->reconnectTimer.expires_after(self->backoff.next());
            co_await self->reconnectTimer.async_wait(kTuple);
            if (self->state != State::Reconnecting)
                co_return;  // disconnect() was called
            auto done = co_await self->establish(Purpose::Login);
            if (self->state != State::Reconnecting)
                co_return;
            if (done) {
                self->state = State::Online;
                self->backoff.reset();
                self->startReading();
                if (self->handlers.reconnected)
                    self->handlers.reconnected(self->lastConnectResumed);
                co_return;
            }
            last = done.error();
            if (isFinal(last))
                break;
        }
        self->state = State::Idle;
        self->failAllPending(last);
        if (self->handlers.disconnected)
            self->handlers.disconnected(last);
    }

    // --- requests ----------------------------------------------------------------------------------

    Outcome<void> requireOnline() const {
        if (state == State::Online || state == State::Reconnecting || state == State::Connecting)
            return {};
        return usage("not-connected", "call connect() first (or the connection was closed)");
    }

    asio::awaitable<Outcome<xml::Element>> request(xml::Element iq) {
        auto self = shared_from_this();
        if (auto online = requireOnline(); !online)
            co_return online.error();
        if (iq.attr("id").empty())
            iq.setAttr("id", newId());
        auto waiting = std::make_shared<PendingIq>(executor);
        waiting->to = std::string(iq.attr("to"));
        const std::string id(iq.attr("id"));
        pending[id] = waiting;
        writeStanza(iq);
        waiting->timer.expires_after(options.requestTimeout);
        co_await waiting->timer.async_wait(kTuple);
        if (waiting->reply) {
            if (waiting->reply->attr("type") == "error")
                co_return codec::stanzaError(*waiting->reply);
            co_return std::move(*waiting->reply);
        }
        if (waiting->failure)
            co_return *waiting->failure;
        pending.erase(id);
        co_return Error{
            ErrorKind::Timeout, "timeout",
            "no answer to the request within " + std::to_string(options.requestTimeout.count()) + " ms"};
    }

    asio::awaitable<Outcome<void>> requestVoid(xml::Element iq) {
        auto reply = co_await request(std::move(iq));
        if (!reply)
            co_return reply.error();
        co_return Outcome<void>{};
    }

    Outcome<std::string> stanzaTo(const std::string& jid) const {
        auto parsed = Jid::parse(jid);
        if (!parsed)
            return usage("bad-jid",
                         "'" + jid + "' is not a valid address: " + std::string(toString(parsed.error())));
        return parsed->str();
    }

    asio::awaitable<Outcome<void>> sendPresenceType(std::string jid, std::string_view type) {
        if (auto online = requireOnline(); !online)
            co_return online.error();
        auto to = stanzaTo(jid);
        if (!to)
            co_return to.error();
        xml::Element presence("presence", std::string(ns::kClient));
        auto bare = Jid::parse(*to);
        presence.setAttr("to", std::string(bare->bareView()));  // RFC 6121 §3.1.1: to the bare JID
        presence.setAttr("type", std::string(type));
        writeStanza(presence);
        co_return Outcome<void>{};
    }

    // --- lifecycle ---------------------------------------------------------------------------------

    asio::awaitable<Outcome<void>> connect() {
        auto self = shared_from_this();
        if (state != State::Idle)
            co_return usage("already-connected", "connect() was already called on this client");
        if (auto ready = prepare(); !ready)
            co_return ready.error();
        state = State::Connecting;
        auto done = co_await establish(Purpose::Login);
        if (!done) {
            state = State::Idle;
            co_return done.error();
        }
        state = State::Online;
        backoff.reset();
        startReading();
        co_return Outcome<void>{};
    }

    asio::awaitable<void> disconnect() {
        auto self = shared_from_this();
        if (state == State::Idle)
            co_return;
        const State before = state;
        state = State::Closing;
        reconnectTimer.cancel();
        if (before == State::Online && connection) {
            // RFC 6120 §4.4: send our close tag and wait (bounded) for the server's before closing TCP.
            if (smEnabled)
                write("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(smInbound) + "'/>");
            write("</stream:stream>");
            closeTimer.expires_after(
                std::min<std::chrono::milliseconds>(options.requestTimeout, std::chrono::seconds(5)));
            co_await closeTimer.async_wait(kTuple);
        }
        if (connection)
            connection->close();
        ++generation;
        smEnabled = false;
        smResumable = false;
        smId.clear();
        unacked.clear();
        state = State::Idle;
        failAllPending(usage("disconnected", "the client was disconnected before the answer came"));
    }
};

// --- Client --------------------------------------------------------------------------------------------

Client::Client(Executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

Client::~Client() {
    // Coroutines still hold the Impl; closing the connection makes them end.
    impl_->state = Impl::State::Idle;
    impl_->reconnectTimer.cancel();
    impl_->negotiationTimer.cancel();
    impl_->closeTimer.cancel();
    ++impl_->generation;
    if (impl_->connection)
        impl_->connection->close();
    impl_->failAllPending(usage("disconnected", "the client was destroyed"));
    impl_->handlers = {};
}

Handlers& Client::handlers() noexcept {
    return impl_->handlers;
}

Task<void> Client::connect() {
    return impl_->connect();
}

asio::awaitable<void> Client::disconnect() {
    return impl_->disconnect();
}

bool Client::isConnected() const noexcept {
    return impl_->state == Impl::State::Online;
}

std::string Client::boundJid() const {
    return impl_->boundJid;
}

bool Client::canResume() const noexcept {
    return impl_->smResumable && !impl_->smId.empty();
}

ConnectionInfo Client::connectionInfo() const {
    ConnectionInfo out = impl_->info;
    out.streamManagement = impl_->smEnabled;
    out.resumable = canResume();
    return out;
}

void Client::dropConnectionForTest() {
    if (impl_->connection)
        ::shutdown(impl_->connection->socket().native_handle(), SHUT_RDWR);
}

namespace {

asio::awaitable<Outcome<void>> registerOn(std::shared_ptr<Client::Impl> impl) {
    if (auto ready = impl->prepare(); !ready)
        co_return ready.error();
    impl->state = Client::Impl::State::Connecting;
    auto done = co_await impl->establish(Client::Impl::Purpose::Register);
    if (!done) {
        impl->state = Client::Impl::State::Idle;
        co_return done.error();
    }
    impl->state = Client::Impl::State::Online;
    impl->startReading();
    // XEP-0077 §3.1: username and password, sent to the server before authentication.
    xml::Element query("query", std::string(codec::kRegister));
    query.append("username", std::string(codec::kRegister)).appendText(impl->account->local());
    query.append("password", std::string(codec::kRegister)).appendText(impl->options.password);
    auto iq = iqElement("set", {}, std::move(query));
    auto registered = co_await impl->requestVoid(std::move(iq));
    co_await impl->disconnect();
    co_return registered;
}

}  // namespace

Task<void> Client::registerAccount(Executor executor, ClientOptions options) {
    auto impl = std::make_shared<Impl>(std::move(executor), std::move(options));
    return registerOn(std::move(impl));
}

namespace {

asio::awaitable<Outcome<void>> changePasswordOn(std::shared_ptr<Client::Impl> impl, std::string newPassword) {
    xml::Element query("query", std::string(codec::kRegister));
    query.append("username", std::string(codec::kRegister))
        .appendText(impl->account ? impl->account->local() : "");
    query.append("password", std::string(codec::kRegister)).appendText(newPassword);
    auto iq = iqElement("set", impl->account ? std::string(impl->account->domain()) : std::string(),
                        std::move(query));
    auto changed = co_await impl->requestVoid(std::move(iq));
    if (changed)
        impl->options.password = std::move(newPassword);  // a reconnect uses the new one
    co_return changed;
}

asio::awaitable<Outcome<void>> deleteAccountOn(std::shared_ptr<Client::Impl> impl) {
    xml::Element query("query", std::string(codec::kRegister));
    query.append("remove", std::string(codec::kRegister));
    auto iq = iqElement("set", {}, std::move(query));
    // XEP-0077 §3.2: the server may close the stream right after its answer; that is no failure.
    impl->options.reconnect.enable = false;
    auto removed = co_await impl->requestVoid(std::move(iq));
    if (removed)
        co_await impl->disconnect();
    co_return removed;
}

}  // namespace

Task<void> Client::changePassword(std::string newPassword) {
    return changePasswordOn(impl_, std::move(newPassword));
}

Task<void> Client::deleteAccount() {
    return deleteAccountOn(impl_);
}

namespace {

asio::awaitable<Outcome<std::vector<RosterItem>>> rosterOn(std::shared_ptr<Client::Impl> impl) {
    auto iq = iqElement("get", {}, child("query", codec::kRoster));
    auto reply = co_await impl->request(std::move(iq));
    if (!reply)
        co_return reply.error();
    const xml::Element* query = reply->findChild("query", codec::kRoster);
    impl->rosterCache = query ? codec::decodeRoster(*query) : std::vector<RosterItem>{};
    co_return impl->rosterCache;
}

asio::awaitable<Outcome<void>> setRosterItemOn(std::shared_ptr<Client::Impl> impl, RosterItem item) {
    auto to = impl->stanzaTo(item.jid);
    if (!to)
        co_return to.error();
    item.jid = *to;
    xml::Element query("query", std::string(codec::kRoster));
    query.append(codec::encodeRosterItem(item));
    auto iq = iqElement("set", {}, std::move(query));
    co_return co_await impl->requestVoid(std::move(iq));
}

asio::awaitable<Outcome<void>> addContactOn(std::shared_ptr<Client::Impl> impl, std::string jid,
                                            std::string name, std::vector<std::string> groups) {
    RosterItem item{.jid = jid, .name = std::move(name), .groups = std::move(groups)};
    auto added = co_await setRosterItemOn(impl, std::move(item));
    if (!added)
        co_return added;
    co_return co_await impl->sendPresenceType(std::move(jid), "subscribe");
}

asio::awaitable<Outcome<void>> renameContactOn(std::shared_ptr<Client::Impl> impl, std::string jid,
                                               std::string name) {
    RosterItem item{.jid = jid, .name = std::move(name)};
    if (impl->rosterCache.empty()) {
        auto loaded = co_await rosterOn(impl);
        if (!loaded)
            co_return loaded.error();
    }
    for (const RosterItem& cached : impl->rosterCache) {
        if (cached.jid == jid)
            item.groups = cached.groups;  // keep its groups: a roster set replaces the whole item
    }
    co_return co_await setRosterItemOn(impl, std::move(item));
}

}  // namespace

Task<std::vector<RosterItem>> Client::roster() {
    return rosterOn(impl_);
}

const std::vector<RosterItem>& Client::rosterCache() const noexcept {
    return impl_->rosterCache;
}

Task<void> Client::setRosterItem(RosterItem item) {
    return setRosterItemOn(impl_, std::move(item));
}

Task<void> Client::addContact(std::string jid, std::string name, std::vector<std::string> groups) {
    return addContactOn(impl_, std::move(jid), std::move(name), std::move(groups));
}

Task<void> Client::renameContact(std::string jid, std::string name) {
    return renameContactOn(impl_, std::move(jid), std::move(name));
}

Task<void> Client::removeContact(std::string jid) {
    return setRosterItemOn(impl_, RosterItem{.jid = std::move(jid), .subscription = Subscription::Remove});
}

Task<void> Client::subscribe(std::string jid) {
    return impl_->sendPresenceType(std::move(jid), "subscribe");
}

Task<void> Client::approve(std::string jid) {
    return impl_->sendPresenceType(std::move(jid), "subscribed");
}

Task<void> Client::deny(std::string jid) {
    return impl_->sendPresenceType(std::move(jid), "unsubscribed");
}

Task<void> Client::unsubscribe(std::string jid) {
    return impl_->sendPresenceType(std::move(jid), "unsubscribe");
}

namespace {

asio::awaitable<Outcome<void>> setPresenceOn(std::shared_ptr<Client::Impl> impl, Availability availability,
                                             std::string status, int priority) {
    if (auto online = impl->requireOnline(); !online)
        co_return online.error();
    impl->writeStanza(codec::encodePresence(availability, status, priority));
    co_return Outcome<void>{};
}

asio::awaitable<Outcome<std::string>> sendStanzaOn(std::shared_ptr<Client::Impl> impl, xml::Element stanza) {
    if (auto online = impl->requireOnline(); !online)
        co_return online.error();
    if (stanza.attr("id").empty())
        stanza.setAttr("id", impl->newId());
    std::string id(stanza.attr("id"));
    impl->writeStanza(stanza);
    co_return id;
}

asio::awaitable<Outcome<DiscoInfo>> discoInfoOn(std::shared_ptr<Client::Impl> impl, std::string jid,
                                                std::string node);

/// Whether to ask `fullJid` for a receipt. XEP-0184 §5.1: to a bare JID the sender cannot know the
/// recipient's clients and may always ask (the library does not come here for one). §5.2: to a full JID
/// it should first learn through disco#info (XEP-0030) whether that client supports receipts, and not
/// ask if it does not. The answer is cached per full JID until that resource goes offline; a failed
/// query counts as no support.
asio::awaitable<bool> supportsReceipts(std::shared_ptr<Client::Impl> impl, std::string fullJid) {
    if (auto known = impl->receiptSupport.find(fullJid); known != impl->receiptSupport.end())
        co_return known->second;
    std::string noNode;  // docs/STYLE.md rule 16: no temporaries inside co_await
    auto info = co_await discoInfoOn(impl, fullJid, std::move(noNode));
    const bool supported = info && info->hasFeature(std::string(codec::kReceipts));
    impl->receiptSupport[fullJid] = supported;
    co_return supported;
}

asio::awaitable<Outcome<std::string>> sendMessageOn(std::shared_ptr<Client::Impl> impl, std::string to,
                                                    std::string body) {
    auto address = impl->stanzaTo(to);
    if (!address)
        co_return address.error();
    xml::Element message("message", std::string(ns::kClient));
    message.setAttr("to", *address);
    message.setAttr("type", "chat");
    message.setAttr("id", impl->newId());
    message.append("body", std::string(ns::kClient)).appendText(body);
    bool request = impl->options.receipts;
    if (request) {
        const bool fullJid = address->find('/') != std::string::npos;
        if (fullJid) {
            const bool supported = co_await supportsReceipts(impl, *address);
            request = supported;
        }
    }
    if (request)
        message.append("request", std::string(codec::kReceipts));
    co_return co_await sendStanzaOn(impl, std::move(message));
}

asio::awaitable<Outcome<HistoryPage>> historyOn(std::shared_ptr<Client::Impl> impl, HistoryQuery query) {
    if (!query.with.empty()) {
        auto with = impl->stanzaTo(query.with);
        if (!with)
            co_return with.error();
        query.with = *with;
    }
    const std::string queryId = randomId(12);
    auto collected = std::make_shared<std::vector<ArchivedMessage>>();
    impl->historyQueries[queryId] = collected;
    auto iq = iqElement("set", {}, codec::encodeHistoryQuery(query, queryId));
    auto reply = co_await impl->request(std::move(iq));
    impl->historyQueries.erase(queryId);
    if (!reply)
        co_return reply.error();
    const xml::Element* fin = reply->findChild("fin", codec::kMam);
    if (!fin)
        co_return protocol("the archive answered without <fin/>");
    HistoryPage page;
    page.messages = std::move(*collected);
    codec::decodeHistoryFin(*fin, page);
    co_return page;
}

asio::awaitable<Outcome<xml::Element>> queryOn(std::shared_ptr<Client::Impl> impl, std::string_view type,
                                               std::string jid, xml::Element payload) {
    std::string to;
    if (!jid.empty()) {
        auto address = impl->stanzaTo(jid);
        if (!address)
            co_return address.error();
        to = *address;
    }
    auto iq = iqElement(type, to, std::move(payload));
    co_return co_await impl->request(std::move(iq));
}

xml::Element discoQuery(std::string_view ns, const std::string& node) {
    xml::Element query = child("query", ns);
    if (!node.empty())
        query.setAttr("node", node);
    return query;
}

asio::awaitable<Outcome<DiscoInfo>> discoInfoOn(std::shared_ptr<Client::Impl> impl, std::string jid,
                                                std::string node) {
    if (jid.empty() && impl->account)
        jid = std::string(impl->account->domain());
    auto query = discoQuery(codec::kDiscoInfo, node);
    auto reply = co_await queryOn(impl, "get", std::move(jid), std::move(query));
    if (!reply)
        co_return reply.error();
    const xml::Element* result = reply->findChild("query", codec::kDiscoInfo);
    if (!result)
        co_return protocol("disco#info result without <query/>");
    co_return codec::decodeDiscoInfo(*result);
}

asio::awaitable<Outcome<std::vector<DiscoItem>>> discoItemsOn(std::shared_ptr<Client::Impl> impl,
                                                              std::string jid, std::string node) {
    if (jid.empty() && impl->account)
        jid = std::string(impl->account->domain());
    auto query = discoQuery(codec::kDiscoItems, node);
    auto reply = co_await queryOn(impl, "get", std::move(jid), std::move(query));
    if (!reply)
        co_return reply.error();
    const xml::Element* result = reply->findChild("query", codec::kDiscoItems);
    if (!result)
        co_return protocol("disco#items result without <query/>");
    co_return codec::decodeDiscoItems(*result);
}

asio::awaitable<Outcome<VCard>> vcardOn(std::shared_ptr<Client::Impl> impl, std::string jid) {
    auto query = child("vCard", codec::kVCard);
    auto reply = co_await queryOn(impl, "get", std::move(jid), std::move(query));
    if (!reply)
        co_return reply.error();
    const xml::Element* card = reply->findChild("vCard", codec::kVCard);
    // XEP-0054 §3.1: an empty result means "no vCard".
    if (!card)
        co_return Error{ErrorKind::Stanza, "item-not-found", "no vCard stored"};
    co_return codec::decodeVCard(*card);
}

asio::awaitable<Outcome<std::chrono::milliseconds>> pingOn(std::shared_ptr<Client::Impl> impl,
                                                           std::string jid) {
    if (jid.empty() && impl->account)
        jid = std::string(impl->account->domain());
    const auto started = std::chrono::steady_clock::now();
    auto query = child("ping", codec::kPing);
    auto reply = co_await queryOn(impl, "get", std::move(jid), std::move(query));
    if (!reply)
        co_return reply.error();
    co_return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                    started);
}

}  // namespace

Task<void> Client::setPresence(Availability availability, std::string status, int priority) {
    return setPresenceOn(impl_, availability, std::move(status), priority);
}

Task<std::string> Client::sendMessage(std::string to, std::string body) {
    return sendMessageOn(impl_, std::move(to), std::move(body));
}

Task<std::string> Client::sendStanza(xml::Element stanza) {
    return sendStanzaOn(impl_, std::move(stanza));
}

Task<HistoryPage> Client::history(HistoryQuery query) {
    return historyOn(impl_, std::move(query));
}

Task<DiscoInfo> Client::discoInfo(std::string jid, std::string node) {
    return discoInfoOn(impl_, std::move(jid), std::move(node));
}

Task<std::vector<DiscoItem>> Client::discoItems(std::string jid, std::string node) {
    return discoItemsOn(impl_, std::move(jid), std::move(node));
}

Task<VCard> Client::vcard(std::string jid) {
    return vcardOn(impl_, std::move(jid));
}

Task<void> Client::setVCard(VCard card) {
    auto iq = iqElement("set", {}, codec::encodeVCard(card));
    return impl_->requestVoid(std::move(iq));
}

Task<std::chrono::milliseconds> Client::ping(std::string jid) {
    return pingOn(impl_, std::move(jid));
}

Task<xml::Element> Client::sendIq(xml::Element iq) {
    return impl_->request(std::move(iq));
}

}  // namespace parley::client
