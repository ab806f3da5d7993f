#pragma once
// PRECIS (RFC 8264) string classes and the two profiles XMPP addresses use (RFC 8265), built on ICU
// character properties. Private to libs/jid: the public entry points are prepareLocalpart and
// prepareResource in parley/jid/jid.h. These functions are the slow path; jid.cpp handles pure ASCII
// input itself without calling any of them.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace parley::precis {

enum class StringClass : unsigned char { Identifier, Freeform };

// Decodes well-formed UTF-8 (no surrogates, no overlong forms); nullopt for anything else.
std::optional<std::u32string> decodeUtf8(std::string_view text);
std::string encodeUtf8(std::u32string_view text);

// RFC 8264 §8/§9 derived property value of every code point, plus the RFC 5892 Appendix A contextual
// rules for CONTEXTJ and CONTEXTO code points, evaluated in the context of the whole string.
bool conformsTo(std::u32string_view text, StringClass stringClass);

// RFC 5893 §1.4: a string "is RTL" if it contains a code point of bidi class R, AL or AN.
bool hasRightToLeft(std::u32string_view text);
// RFC 5893 §2: all six conditions of the Bidi Rule.
bool satisfiesBidiRule(std::u32string_view text);

// RFC 8265 §3.3 UsernameCaseMapped, enforcement: width mapping, case mapping, NFC, Bidi Rule, and
// IdentifierClass membership. Returns nullopt if the string is rejected (including an empty result).
std::optional<std::u32string> enforceUsernameCaseMapped(std::u32string_view text);
// RFC 8265 §4.2 OpaqueString, enforcement: non-ASCII spaces to U+0020, NFC, FreeformClass membership.
std::optional<std::u32string> enforceOpaqueString(std::u32string_view text);

// Case mapping and normalization are not idempotent for every input. RFC 8266 §2.3 (nicknames) says to
// reapply the rules until the output is stable and to reject a string still changing after three more
// applications; we do the same here so that a prepared part always prepares to itself. Wraps one of
// the two functions above.
template <class Enforce>
std::optional<std::u32string> enforceStable(std::u32string_view text, Enforce enforce) {
    std::optional<std::u32string> current = enforce(text);
    for (int again = 0; current && again < 3; ++again) {
        std::optional<std::u32string> next = enforce(*current);
        if (next && *next == *current) {
            return current;
        }
        current = std::move(next);
    }
    return std::nullopt;
}

}  // namespace parley::precis
