#pragma once
// SASL PLAIN (RFC 4616) client message. The server side is makeServerMechanism("PLAIN", ...).
#include "parley/base/result.h"
#include "parley/sasl/mechanism.h"

#include <string>
#include <string_view>

namespace parley::sasl {

/// Longest authzid, authcid or password accepted, in octets (RFC 4616 §2 "MUST accept up to 255").
inline constexpr std::size_t kPlainMaxFieldSize = 255;

/// `[authzid] NUL authcid NUL passwd` (RFC 4616 §2). authcid and password must be non-empty; all three
/// valid UTF-8 without NUL and at most kPlainMaxFieldSize octets; otherwise MalformedRequest.
Result<std::string, Failure> plainMessage(std::string_view authcid, std::string_view password,
                                          std::string_view authzid = {});

}  // namespace parley::sasl
