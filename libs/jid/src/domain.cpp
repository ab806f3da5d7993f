// Domainpart preparation (RFC 7622 §3.2): IP literals as they are, ASCII host names by an LDH check
// and lower-casing, everything else label by label through IDNA2008 (libidn2), stored as U-labels.
#include <arpa/inet.h>
#include <idn2.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "ascii.h"
#include "parts.h"
#include "precis.h"

namespace parley::detail {
namespace {

// RFC 1034 §3.1 (and RFC 5890 §2.3.2.1 for A-labels): 63 octets at most per label.
constexpr std::size_t kMaxLabelOctets = 63;

enum DomainChar : std::uint8_t {
    kLabelChar = 1,  // letter, digit, hyphen or underscore
    kDigit = 2,
    kIpv6Char = 4,  // hex digit, ':' or '.'
};

// COMPAT: host names with underscores (docker-compose service names, some Windows and internal hosts)
// are common as XMPP domains on private networks, and Prosody and ejabberd accept them because
// nameprep never enforced the LDH rule. IDNA2008 does not allow '_', so we accept it in ASCII labels
// only; a label that needs IDNA (non-ASCII or "xn--") gets the full IDNA2008 rules.
constexpr std::array<std::uint8_t, 256> kDomainChar = [] {
    std::array<std::uint8_t, 256> table{};
    for (int c = 'a'; c <= 'z'; ++c) {
        table[static_cast<std::size_t>(c)] = kLabelChar;
        table[static_cast<std::size_t>(c - 'a' + 'A')] = kLabelChar;
    }
    for (int c = 'a'; c <= 'f'; ++c) {
        table[static_cast<std::size_t>(c)] |= kIpv6Char;
        table[static_cast<std::size_t>(c - 'a' + 'A')] |= kIpv6Char;
    }
    for (int c = '0'; c <= '9'; ++c) {
        table[static_cast<std::size_t>(c)] = kLabelChar | kDigit | kIpv6Char;
    }
    table['-'] = kLabelChar;
    table['_'] = kLabelChar;
    table[':'] = kIpv6Char;
    table['.'] = kIpv6Char;
    return table;
}();

bool isAscii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// "xn--" in any case (RFC 5890 §2.3.1); the hyphens are tested first, as they are rare.
bool startsWithAcePrefix(std::string_view label) {
    return label.size() >= 4 && label[2] == '-' && label[3] == '-' &&
           asciiLower(static_cast<unsigned char>(label[0])) == 'x' &&
           asciiLower(static_cast<unsigned char>(label[1])) == 'n';
}

// For the fast path: the lower-cased octet for label characters, '.' for the dot, 0 for the rest.
constexpr std::array<char, 256> kHostNameLower = [] {
    std::array<char, 256> table{};
    for (std::size_t c = 0; c < 256; ++c) {
        if ((kDomainChar[c] & kLabelChar) != 0) {
            table[c] = kAsciiLower[c];
        }
    }
    table['.'] = '.';
    return table;
}();

enum class Label : std::uint8_t { Ok, Invalid, TooLong, NeedsIdna };

// The checks on a whole ASCII label (already lower-cased, every character a label character).
Label checkAsciiLabel(std::string_view label) {
    if (label.empty()) {
        return Label::Invalid;
    }
    if (startsWithAcePrefix(label)) {
        return Label::NeedsIdna;
    }
    if (label.size() > kMaxLabelOctets) {
        return Label::TooLong;
    }
    // RFC 952 / RFC 1123 §2.1: a label neither starts nor ends with a hyphen.
    if (label.front() == '-' || label.back() == '-') {
        return Label::Invalid;
    }
    return Label::Ok;
}

// An ASCII label that is not an A-label: LDH (plus '_', see above), no hyphen at either end. Appends
// it lower-cased; NeedsIdna (non-ASCII, or the "xn--" prefix) leaves `out` as it was.
Label appendAsciiLabel(std::string_view label, std::string& out) {
    const std::size_t start = out.size();
    for (const char ch : label) {
        const auto c = static_cast<unsigned char>(ch);
        if ((kDomainChar[c] & kLabelChar) == 0) {
            out.resize(start);
            return c >= 0x80 ? Label::NeedsIdna : Label::Invalid;
        }
        out.push_back(asciiLower(c));
    }
    const Label result = checkAsciiLabel(std::string_view(out).substr(start));
    if (result == Label::NeedsIdna) {
        out.resize(start);
    }
    return result;
}

// The fast path: a whole ASCII host name without A-labels, in one pass that lower-cases as it goes.
// NeedsIdna leaves `out` as it was.
Label appendAsciiHostName(std::string_view name, std::string& out) {
    const std::size_t start = out.size();
    out.append(name);
    char* const lowered = out.data() + start;
    std::size_t labelStart = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = kHostNameLower[static_cast<unsigned char>(name[i])];
        if (c == 0) {
            out.resize(start);
            return static_cast<unsigned char>(name[i]) >= 0x80 ? Label::NeedsIdna : Label::Invalid;
        }
        lowered[i] = c;
        if (c == '.') {
            const Label label = checkAsciiLabel(std::string_view(lowered + labelStart, i - labelStart));
            if (label != Label::Ok) {
                out.resize(start);
                return label;
            }
            labelStart = i + 1;
        }
    }
    const Label last = checkAsciiLabel(std::string_view(lowered + labelStart, name.size() - labelStart));
    if (last != Label::Ok) {
        out.resize(start);
    }
    return last;
}

// RFC 7622 §3.2: IP-literal as in RFC 3986 §3.2.2 (IPv6 only; IPvFuture and zone identifiers are not
// accepted). Hex digits are lower-cased so that equal addresses compare equal more often.
std::optional<JidError> appendIpv6Literal(std::string_view literal, std::string& out) {
    if (literal.size() < 3 || literal.back() != ']' || literal.size() > INET6_ADDRSTRLEN + 2) {
        return JidError::DomainInvalid;
    }
    const std::string_view inner = literal.substr(1, literal.size() - 2);
    std::string address;
    for (const char ch : inner) {
        const auto c = static_cast<unsigned char>(ch);
        if ((kDomainChar[c] & kIpv6Char) == 0) {
            return JidError::DomainInvalid;
        }
        address.push_back(asciiLower(c));
    }
    in6_addr parsed{};
    if (inet_pton(AF_INET6, address.c_str(), &parsed) != 1) {
        return JidError::DomainInvalid;
    }
    out += '[';
    out += address;
    out += ']';
    return std::nullopt;
}

bool isDigitsAndDots(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
        return c == '.' || (kDomainChar[static_cast<unsigned char>(c)] & kDigit) != 0;
    });
}

// RFC 7622 §3.2: an IPv4address (RFC 3986 §3.2.2 dotted decimal). A name made only of digits and dots
// that is not a valid address is rejected rather than taken as a host name: no top-level domain is
// numeric (RFC 3696 §2), and "256.1.1.1" is far more likely a mistyped address.
bool isIpv4Address(std::string_view text) {
    if (text.size() > 15) {
        return false;
    }
    const std::string address(text);
    in_addr parsed{};
    return inet_pton(AF_INET, address.c_str(), &parsed) == 1;
}

struct Idn2Free {
    void operator()(void* pointer) const noexcept { idn2_free(pointer); }
};
using Idn2String = std::unique_ptr<char, Idn2Free>;

JidError fromIdn2(int rc) {
    // libidn2 reports an A-label over 63 octets as PUNYCODE_BIG_OUTPUT when encoding a U-label.
    return rc == IDN2_TOO_BIG_LABEL || rc == IDN2_TOO_BIG_DOMAIN || rc == IDN2_PUNYCODE_BIG_OUTPUT
               ? JidError::DomainTooLong
               : JidError::DomainInvalid;
}

// RFC 5891 §5 lookup processing of one label; TR46 non-transitional mapping covers the width mapping,
// case mapping and NFC that RFC 7622 §3.2 asks for. Gives an A-label, or an ASCII label when the
// mapping made the label ASCII.
Result<std::string, JidError> lookupLabel(const std::string& label) {
    std::uint8_t* raw = nullptr;
    const int rc = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(label.c_str()), &raw,
                                  IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    Idn2String owned(reinterpret_cast<char*>(raw));
    if (rc != IDN2_OK || !owned) {
        return fromIdn2(rc);
    }
    return std::string(owned.get());
}

Result<std::string, JidError> decodeALabel(const std::string& aLabel) {
    char* raw = nullptr;
    const int rc = idn2_to_unicode_8z8z(aLabel.c_str(), &raw, 0);
    Idn2String owned(raw);
    if (rc != IDN2_OK || !owned) {
        return fromIdn2(rc);
    }
    return std::string(owned.get());
}

// A label that needs IDNA2008: a U-label (or something that maps to one) or an A-label. Appends the
// canonical form: the U-label, or the ASCII label if mapping made it ASCII.
std::optional<JidError> appendIdnaLabel(std::string_view label, std::string& out) {
    if (label.find('\0') != std::string_view::npos) {
        return JidError::DomainInvalid;
    }
    if (isAscii(label)) {
        // An A-label (RFC 5891 §5.4): it must decode, and encoding the result again must give the same
        // A-label, otherwise it is not the A-label of any valid U-label.
        std::string aLabel;
        std::transform(label.begin(), label.end(), std::back_inserter(aLabel),
                       [](char c) { return asciiLower(static_cast<unsigned char>(c)); });
        if (aLabel.size() > kMaxLabelOctets) {
            return JidError::DomainTooLong;
        }
        Result<std::string, JidError> uLabel = decodeALabel(aLabel);
        if (!uLabel || isAscii(*uLabel)) {
            return JidError::DomainInvalid;
        }
        Result<std::string, JidError> again = lookupLabel(*uLabel);
        if (!again || *again != aLabel) {
            return JidError::DomainInvalid;
        }
        out += *uLabel;
        return std::nullopt;
    }
    Result<std::string, JidError> mapped = lookupLabel(std::string(label));
    if (!mapped) {
        return mapped.error();
    }
    // TR46 mapping can turn one label into several (U+2488 DIGIT ONE FULL STOP becomes "1.") or into
    // nothing (U+00AD SOFT HYPHEN); neither is one label any more.
    if (mapped->empty() || mapped->find('.') != std::string::npos) {
        return JidError::DomainInvalid;
    }
    if (!startsWithAcePrefix(*mapped)) {
        // Mapping produced plain ASCII (fullwidth letters, say): it must pass the ASCII label rules.
        switch (appendAsciiLabel(*mapped, out)) {
            case Label::Ok:
                return std::nullopt;
            case Label::TooLong:
                return JidError::DomainTooLong;
            case Label::Invalid:
            case Label::NeedsIdna:
                return JidError::DomainInvalid;
        }
    }
    Result<std::string, JidError> uLabel = decodeALabel(*mapped);
    if (!uLabel) {
        return JidError::DomainInvalid;
    }
    out += *uLabel;
    return std::nullopt;
}

// RFC 7622 §3.2 refers to the RFC 5895 §2 mapping, which treats these as label separators.
std::string mapFullStops(std::string_view domain) {
    constexpr std::array<std::string_view, 3> kFullStops = {
        "\xE3\x80\x82",  // U+3002 IDEOGRAPHIC FULL STOP
        "\xEF\xBC\x8E",  // U+FF0E FULLWIDTH FULL STOP
        "\xEF\xBD\xA1",  // U+FF61 HALFWIDTH IDEOGRAPHIC FULL STOP
    };
    std::string out;
    out.reserve(domain.size());
    for (std::size_t i = 0; i < domain.size();) {
        const auto stop = std::find_if(kFullStops.begin(), kFullStops.end(),
                                       [&](std::string_view s) { return domain.substr(i, s.size()) == s; });
        if (stop != kFullStops.end()) {
            out.push_back('.');
            i += stop->size();
        } else {
            out.push_back(domain[i]);
            ++i;
        }
    }
    return out;
}

// RFC 7622 §3.2: "If the domainpart includes a final character considered to be a label separator
// (dot) by [RFC1034], this character MUST be stripped from the domainpart before ... any other
// canonicalization steps are taken." Only one: "d.." keeps an empty label and is invalid.
std::string_view stripTrailingDot(std::string_view domain) {
    if (!domain.empty() && domain.back() == '.') {
        domain.remove_suffix(1);
    }
    return domain;
}

// RFC 5893 §1.4 and §2: in a domain name with at least one right-to-left label, every label has to
// satisfy the Bidi Rule. libidn2 checks each label on its own, so the cross-label part is done here.
bool satisfiesDomainBidiRule(std::string_view domain) {
    std::vector<std::u32string> labels;
    bool anyRightToLeft = false;
    for (std::size_t start = 0; start <= domain.size();) {
        std::size_t end = domain.find('.', start);
        if (end == std::string_view::npos) {
            end = domain.size();
        }
        std::optional<std::u32string> label = precis::decodeUtf8(domain.substr(start, end - start));
        if (!label) {
            return false;
        }
        anyRightToLeft = anyRightToLeft || precis::hasRightToLeft(*label);
        labels.push_back(std::move(*label));
        start = end + 1;
    }
    return !anyRightToLeft || std::all_of(labels.begin(), labels.end(), [](const std::u32string& label) {
        return precis::satisfiesBidiRule(label);
    });
}

// The slow path, label by label: ASCII labels as on the fast path, the others through IDNA2008.
std::optional<JidError> appendLabels(std::string_view domain, std::string& out) {
    for (std::size_t start = 0;;) {
        std::size_t end = domain.find('.', start);
        if (end == std::string_view::npos) {
            end = domain.size();
        }
        const std::string_view label = domain.substr(start, end - start);
        switch (appendAsciiLabel(label, out)) {
            case Label::Ok:
                break;
            case Label::Invalid:
                return JidError::DomainInvalid;
            case Label::TooLong:
                return JidError::DomainTooLong;
            case Label::NeedsIdna:
                if (const std::optional<JidError> error = appendIdnaLabel(label, out)) {
                    return error;
                }
                break;
        }
        if (end == domain.size()) {
            return std::nullopt;
        }
        out.push_back('.');
        start = end + 1;
    }
}

}  // namespace

std::optional<JidError> appendDomain(std::string_view domain, std::string& out) {
    if (domain.empty()) {
        return JidError::Empty;
    }
    if (domain.size() > kMaxRawPartOctets) {
        return JidError::DomainTooLong;
    }
    const std::size_t start = out.size();
    const std::string_view name = stripTrailingDot(domain);
    if (name.empty()) {
        return JidError::DomainInvalid;
    }
    if (name.front() == '[') {
        return appendIpv6Literal(name, out);
    }
    switch (appendAsciiHostName(name, out)) {
        case Label::Ok:
            break;
        case Label::Invalid:
            return JidError::DomainInvalid;
        case Label::TooLong:
            return JidError::DomainTooLong;
        case Label::NeedsIdna: {
            if (!precis::decodeUtf8(domain)) {
                return JidError::DomainInvalid;
            }
            const std::string mapped = mapFullStops(domain);
            const std::string_view mappedName = stripTrailingDot(mapped);
            if (mappedName.empty()) {
                return JidError::DomainInvalid;
            }
            if (const std::optional<JidError> error = appendLabels(mappedName, out)) {
                return error;
            }
            if (!satisfiesDomainBidiRule(std::string_view(out).substr(start))) {
                return JidError::DomainInvalid;
            }
            break;
        }
    }
    const std::string_view prepared = std::string_view(out).substr(start);
    if (prepared.size() > kMaxPartOctets) {
        return JidError::DomainTooLong;
    }
    // Checked on the result, so that "１２７．０．０．１" and "127.0.0.1" are treated alike.
    if ((kDomainChar[static_cast<unsigned char>(prepared.back())] & kDigit) != 0 &&
        isDigitsAndDots(prepared) && !isIpv4Address(prepared)) {
        return JidError::DomainInvalid;
    }
    return std::nullopt;
}

std::optional<JidError> appendDomainAscii(std::string_view domain, std::string& out) {
    std::string prepared;
    if (const std::optional<JidError> error = appendDomain(domain, prepared)) {
        return error;
    }
    if (isAscii(prepared)) {
        out += prepared;
        return std::nullopt;
    }
    // Every label of a prepared domain is LDH or a valid U-label, so lookup only converts.
    for (std::size_t start = 0;;) {
        std::size_t end = prepared.find('.', start);
        if (end == std::string::npos) {
            end = prepared.size();
        }
        const std::string label = prepared.substr(start, end - start);
        if (isAscii(label)) {
            out += label;
        } else {
            Result<std::string, JidError> aLabel = lookupLabel(label);
            if (!aLabel) {
                return aLabel.error();
            }
            out += *aLabel;
        }
        if (end == prepared.size()) {
            return std::nullopt;
        }
        out.push_back('.');
        start = end + 1;
    }
}

}  // namespace parley::detail
