// Localpart (RFC 7622 §3.3, PRECIS UsernameCaseMapped) and resourcepart (RFC 7622 §3.4, PRECIS
// OpaqueString) preparation, each with an ASCII fast path.
#include <array>
#include <cstdint>

#include "ascii.h"
#include "parts.h"
#include "precis.h"

namespace parley::detail {
namespace {

enum AsciiClass : std::uint8_t {
    kLocalOk = 1,     // PVALID in IdentifierClass and not forbidden by RFC 7622 §3.3.1
    kResourceOk = 2,  // valid in FreeformClass
};

// For ASCII the PRECIS rules reduce to a table: U+0021..U+007E are PVALID (RFC 8264 §9.7 ASCII7),
// U+0020 is a space (ID_DIS, FREE_PVAL), the rest are controls (DISALLOWED). Width mapping and NFC
// leave ASCII unchanged, toLowerCase maps A-Z to a-z, and ASCII has no right-to-left code points, so
// the Bidi Rule does not apply.
constexpr std::array<std::uint8_t, 256> kAsciiClass = [] {
    std::array<std::uint8_t, 256> table{};
    for (int c = 0x21; c <= 0x7E; ++c) {
        table[static_cast<std::size_t>(c)] = kLocalOk | kResourceOk;
    }
    table[' '] = kResourceOk;
    for (const unsigned char c : {'"', '&', '\'', '/', ':', '<', '>', '@'}) {
        table[c] = kResourceOk;
    }
    return table;
}();

enum class Fast : std::uint8_t { Done, NotAscii, Invalid };

// Writes the lower-cased localpart; NotAscii leaves `out` as it was.
Fast appendAsciiLocalpart(std::string_view in, std::string& out) {
    const std::size_t start = out.size();
    out.append(in);
    const auto begin = out.begin() + static_cast<std::ptrdiff_t>(start);
    for (auto it = begin; it != out.end(); ++it) {
        const auto c = static_cast<unsigned char>(*it);
        if ((kAsciiClass[c] & kLocalOk) == 0) {
            out.resize(start);
            return c >= 0x80 ? Fast::NotAscii : Fast::Invalid;
        }
        *it = asciiLower(c);
    }
    return Fast::Done;
}

Fast appendAsciiResource(std::string_view in, std::string& out) {
    for (const char ch : in) {
        const auto c = static_cast<unsigned char>(ch);
        if ((kAsciiClass[c] & kResourceOk) == 0) {
            return c >= 0x80 ? Fast::NotAscii : Fast::Invalid;
        }
    }
    out.append(in);
    return Fast::Done;
}

}  // namespace

std::optional<JidError> appendLocalpart(std::string_view localpart, std::string& out) {
    if (localpart.empty()) {
        return JidError::Empty;
    }
    if (localpart.size() > kMaxRawPartOctets) {
        return JidError::LocalpartTooLong;
    }
    switch (appendAsciiLocalpart(localpart, out)) {
        case Fast::Done:
            if (localpart.size() > kMaxPartOctets) {
                return JidError::LocalpartTooLong;
            }
            return std::nullopt;
        case Fast::Invalid:
            return JidError::LocalpartInvalid;
        case Fast::NotAscii:
            break;
    }
    const std::optional<std::u32string> decoded = precis::decodeUtf8(localpart);
    if (!decoded) {
        return JidError::LocalpartInvalid;
    }
    const std::optional<std::u32string> prepared =
        precis::enforceStable(*decoded, precis::enforceUsernameCaseMapped);
    if (!prepared) {
        return JidError::LocalpartInvalid;
    }
    const std::string encoded = precis::encodeUtf8(*prepared);
    if (encoded.size() > kMaxPartOctets) {
        return JidError::LocalpartTooLong;
    }
    out += encoded;
    return std::nullopt;
}

std::optional<JidError> appendResource(std::string_view resource, std::string& out) {
    if (resource.empty()) {
        return JidError::Empty;
    }
    if (resource.size() > kMaxRawPartOctets) {
        return JidError::ResourceTooLong;
    }
    switch (appendAsciiResource(resource, out)) {
        case Fast::Done:
            if (resource.size() > kMaxPartOctets) {
                return JidError::ResourceTooLong;
            }
            return std::nullopt;
        case Fast::Invalid:
            return JidError::ResourceInvalid;
        case Fast::NotAscii:
            break;
    }
    const std::optional<std::u32string> decoded = precis::decodeUtf8(resource);
    if (!decoded) {
        return JidError::ResourceInvalid;
    }
    const std::optional<std::u32string> prepared =
        precis::enforceStable(*decoded, precis::enforceOpaqueString);
    if (!prepared) {
        return JidError::ResourceInvalid;
    }
    const std::string encoded = precis::encodeUtf8(*prepared);
    if (encoded.size() > kMaxPartOctets) {
        return JidError::ResourceTooLong;
    }
    out += encoded;
    return std::nullopt;
}

}  // namespace parley::detail
