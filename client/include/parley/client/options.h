#pragma once
// How a Client connects and logs in.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "parley/client/backoff.h"
#include "parley/client/resolver.h"

namespace parley::client {

/// Transport security. The default, RequireTls, never sends the password without TLS.
enum class TlsMode {
    RequireTls,      ///< direct TLS or STARTTLS, whichever the server (or its SRV records) offers
    DirectTls,       ///< TLS from the first byte (XEP-0368), e.g. port 5223
    StartTls,        ///< plain TCP, then STARTTLS (RFC 6120 §5); fail if the server does not offer it
    AllowPlaintext,  ///< STARTTLS when offered, otherwise plaintext. Only for tests on loopback.
};

/// Which certificates to accept. By default: a chain to the system's CAs whose names include the
/// XMPP domain (RFC 6125 DNS-ID). The two alternatives pin one server instead; they are for
/// self-signed servers, where the user has checked the certificate by other means.
struct TrustOptions {
    /// A PEM file holding the server's certificate (or its CA): trust exactly that, and still check
    /// that the certificate names the domain.
    std::string certificateFile;
    /// SHA-256 of the server certificate (DER), as hex, with or without colons ("AB:CD:..."). When
    /// set, a certificate with this fingerprint is accepted whatever its chain and names.
    std::string sha256Fingerprint;
};

struct StreamManagementOptions {
    bool enable = true;  ///< use XEP-0198 when the server offers it
    bool resume = true;  ///< ask for resumption, so that a reconnect keeps the session and its stanzas
};

struct ReconnectOptions {
    /// After a connection that was up breaks, connect again (and resume the session when possible).
    bool enable = false;
    BackoffPolicy backoff;
    std::uint32_t maxAttempts = 0;  ///< 0: keep trying until disconnect() is called
};

struct ClientOptions {
    /// The account: "user@domain" (a resource here is used as the resource to bind).
    std::string jid;
    /// The password. It is never logged and never sent without TLS unless AllowPlaintext.
    std::string password;
    /// The resource to ask for; empty lets the server choose one (RFC 6120 §7.6).
    std::string resource;

    /// Connect here instead of looking the domain up (tests, scripts, servers without SRV records).
    std::string host;
    std::uint16_t port = 0;  ///< with `host`; 0 means 5222 (or 5223 with DirectTls)

    TlsMode tls = TlsMode::RequireTls;
    TrustOptions trust;
    /// Allow SASL PLAIN (only ever over TLS, RFC 4616 §4) when no SCRAM mechanism is offered.
    bool allowPlain = true;
    StreamManagementOptions streamManagement;
    ReconnectOptions reconnect;
    /// Ask for XEP-0184 delivery receipts on sent chat messages, and answer requests for them.
    bool receipts = true;

    /// How long to wait for a TCP connect, for each negotiation step, and for the answer to an iq.
    std::chrono::milliseconds requestTimeout{30000};

    /// SRV lookups; null means the system resolver. Tests inject a fake one.
    std::shared_ptr<Resolver> resolver;
};

}  // namespace parley::client
