#pragma once
// Errors of the client library are values (docs/STYLE.md rule 5): every call that can fail returns an
// Outcome<T>, which holds either the value or an Error. Nothing throws across the library's API.
#include <string>
#include <string_view>

#include "parley/base/result.h"

namespace parley::client {

/// Where a failure came from; `condition` names the exact reason inside that layer.
enum class ErrorKind {
    Dns,       ///< no address for the domain or host (condition: "host-not-found")
    Network,   ///< TCP connect failed ("connection-failed") or the connection broke ("connection-lost",
               ///< "connection-closed"); the text has the system's reason
    Tls,       ///< TLS handshake or certificate verification failed (condition: "certificate-untrusted",
               ///< "certificate-name-mismatch", "fingerprint-mismatch", "handshake-failed", "tls-required")
    Sasl,      ///< authentication failed: an RFC 6120 §6.5 condition, e.g. "not-authorized"
    Stream,    ///< the server closed the stream with an RFC 6120 §4.9.3 condition, e.g. "conflict"
    Stanza,    ///< an iq was answered with an RFC 6120 §8.3.3 error, e.g. "item-not-found"
    Timeout,   ///< no answer in time (condition: "timeout")
    Protocol,  ///< the server sent something this library cannot use (condition: "unexpected-reply" ...)
    Usage,     ///< the call cannot be made now (condition: "not-connected", "bad-jid", "bad-option")
};
std::string_view toString(ErrorKind kind) noexcept;

/// A failure: its layer, the machine-readable XMPP condition, and a sentence for people that says what
/// went wrong and, where the user can do something, how to fix it.
struct Error {
    ErrorKind kind = ErrorKind::Protocol;
    std::string condition;  ///< e.g. "not-authorized", "item-not-found", "certificate-untrusted"
    std::string text;       ///< the server's <text/> or our explanation; may be empty

    /// "sasl not-authorized: wrong user name or password" style one-liner for logs and CLIs.
    std::string describe() const;
};

template <class T>
using Outcome = Result<T, Error>;

/// Lets Outcome<T>::value() compile; calling it on an error is a programming error (check first).
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& location);

}  // namespace parley::client
