#pragma once
// Server side of SASL (RFC 4422) as used by XMPP (RFC 6120 §6): mechanisms are state machines that
// never do I/O. The XMPP layer base64-decodes <auth/> and <response/>, feeds the raw bytes in, and
// acts on the returned Step: send a challenge, succeed, fail, or look something up in storage and
// come back with the answer.
#include "parley/sasl/scram_credential.h"

#include <boost/assert/source_location.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::sasl {

/// The SASL failure conditions of RFC 6120 §6.5.
enum class Failure : std::uint8_t {
    Aborted,
    AccountDisabled,
    CredentialsExpired,
    EncryptionRequired,
    IncorrectEncoding,
    InvalidAuthzid,
    InvalidMechanism,
    MalformedRequest,
    MechanismTooWeak,
    NotAuthorized,
    TemporaryAuthFailure,
};

/// The RFC 6120 §6.5 element name, e.g. "not-authorized".
std::string_view toString(Failure failure) noexcept;

/// Lets Result<T, Failure>::value() compile; calling value() on a failure is a programming error
/// and throws std::runtime_error naming the condition. Check the result first.
[[noreturn]] void throw_exception_from_error(Failure failure, const boost::source_location& location);

/// Channel-binding type names (RFC 5056 registry) this library implements.
inline constexpr std::string_view kTlsExporter = "tls-exporter";                // RFC 9266
inline constexpr std::string_view kTlsServerEndPoint = "tls-server-end-point";  // RFC 5929 §4

/// Channel-binding data of the current TLS connection, from the TLS layer; empty means unavailable.
/// tls-exporter: 32 bytes exported with label "EXPORTER-Channel-Binding" and no context (RFC 9266 §2);
/// the TLS layer leaves it empty on TLS 1.2 without extended master secret (RFC 9266 §3).
/// tls-server-end-point: hash of the server certificate (RFC 5929 §4.1).
struct ChannelBindingData {
    std::string tlsExporter;
    std::string tlsServerEndPoint;
};

struct ServerOptions {
    bool tls = false;                    ///< the stream is encrypted
    ChannelBindingData channelBindings;  ///< from the TLS layer
    /// The server offered -PLUS mechanisms. A client that sends gs2 flag 'y' ("I support channel
    /// binding but think you do not") then fails: someone stripped -PLUS from the list (RFC 5802 §6).
    bool plusAdvertised = false;
    /// Key for fabricating credentials of unknown users (see ScramServer). If empty, a random key is
    /// made once per process: fake salts then change across restarts, so set it in production.
    std::string fakeCredentialSecret;
    /// Iteration count shown for unknown users; set it to what registration uses so that unknown
    /// users look like real ones.
    std::uint32_t defaultIterations = kMinScramIterations;
};

/// Send this challenge (raw bytes; the XMPP layer base64-encodes, "=" for empty).
struct Challenge {
    std::string data;
};
/// Authentication succeeded. `additionalData` goes into <success/> (SCRAM's server-final-message).
/// `username` is the authentication identity as sent, after saslname unescaping; the server still
/// has to prepare it (PRECIS UsernameCaseMapped). `authzid` is empty if the client sent none; the
/// XMPP layer checks it (RFC 6120 §6.4.6, <invalid-authzid/>).
struct Success {
    std::string additionalData;
    std::string username;
    std::string authzid;
};
/// Authentication failed. `text` is a hint for people and logs (for SCRAM it starts with the RFC 5802
/// server-error-value where one fits, e.g. "channel-bindings-dont-match"). It never tells an unknown
/// user from a wrong password: both are NotAuthorized "invalid-proof".
struct Fail {
    Failure failure;
    std::string text;
};
/// Look up the SCRAM credential of `username` for `algorithm` and call provideCredential.
struct NeedCredential {
    std::string username;
    HashAlgorithm algorithm;
};
/// Check `password` for `username` (e.g. with verifyPassword) and call providePasswordCheck.
struct NeedPasswordCheck {
    std::string username;
    std::string password;
};
using Step = std::variant<Challenge, Success, Fail, NeedCredential, NeedPasswordCheck>;

/// One authentication exchange. After Success or Fail the exchange is over, and further
/// responses fail with MalformedRequest. Calling provideCredential or providePasswordCheck when
/// the mechanism did not ask for it is a programming error and aborts.
class ServerMechanism {
  public:
    virtual ~ServerMechanism() = default;
    /// The IANA mechanism name, e.g. "SCRAM-SHA-256-PLUS".
    virtual std::string_view name() const noexcept = 0;
    /// The <auth/> element: nullopt if it carried no initial response, an empty view for "=".
    virtual Step start(std::optional<std::string_view> initialResponse) = 0;
    /// A <response/> element, decoded.
    virtual Step respond(std::string_view response) = 0;
    /// Answer to NeedCredential; nullopt: no such user (the exchange goes on with a fake credential).
    virtual Step provideCredential(std::optional<ScramCredential> credential) = 0;
    /// Answer to NeedPasswordCheck.
    virtual Step providePasswordCheck(bool passwordOk) = 0;
};

/// Mechanisms the server offers, strongest first: SCRAM-SHA-512-PLUS, SCRAM-SHA-256-PLUS,
/// SCRAM-SHA-1-PLUS (only with TLS and some channel-binding data), SCRAM-SHA-512, SCRAM-SHA-256,
/// SCRAM-SHA-1, PLAIN (only if allowPlain; RFC 4616 §4 says only over TLS).
std::vector<std::string> serverMechanisms(const ServerOptions& options, bool allowPlain);

/// A fresh exchange for `name`; nullptr if unknown or unavailable with these options (a -PLUS
/// mechanism without TLS or channel-binding data). PLAIN is always available here: the caller must
/// reject a name it did not offer (RFC 6120 §6.4.1, <invalid-mechanism/>).
std::unique_ptr<ServerMechanism> makeServerMechanism(std::string_view name, const ServerOptions& options);

/// Channel-binding types for the XEP-0440 <sasl-channel-binding/> feature, preferred first; empty
/// without TLS. tls-unique is never offered: it is unsafe with TLS 1.2 resumption and undefined for
/// TLS 1.3 (RFC 9266 §1).
std::vector<std::string> channelBindingTypes(const ServerOptions& options);

}  // namespace parley::sasl
