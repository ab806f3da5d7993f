#pragma once
// Preparation of the three parts of an address (RFC 7622 §3.2-§3.4), appending the canonical form to
// a string so that Jid::parse builds its one string without temporaries. Each function tries an ASCII
// fast path first and makes no ICU or libidn2 call when the part is ASCII. On error `out` may hold a
// partial result; callers discard it.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "parley/jid/jid.h"

namespace parley::detail {

// RFC 7622 §3.3-§3.4: at most 1023 octets after preparation.
inline constexpr std::size_t kMaxPartOctets = 1023;
// No preparation step shrinks its input by more than a factor of three (fullwidth or halfwidth forms
// to ASCII, Hangul jamo composing under NFC, KELVIN SIGN to "k"), so anything longer than this cannot
// become short enough; rejecting it early bounds the work an attacker can ask of ICU and libidn2.
inline constexpr std::size_t kMaxRawPartOctets = 4 * kMaxPartOctets;

std::optional<JidError> appendLocalpart(std::string_view localpart, std::string& out);
std::optional<JidError> appendDomain(std::string_view domain, std::string& out);
std::optional<JidError> appendResource(std::string_view resource, std::string& out);
std::optional<JidError> appendDomainAscii(std::string_view domain, std::string& out);

}  // namespace parley::detail
