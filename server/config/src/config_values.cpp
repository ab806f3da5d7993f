#include "config_values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <utility>

namespace parley::server::config_detail {

namespace {

char lowerAscii(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowerAscii(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return lowerAscii(c); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// Splits "256 KiB" into 256 and "kib" (lower-cased, spaces between allowed).
std::optional<std::pair<std::uint64_t, std::string>> splitNumberAndUnit(std::string_view text) {
    text = trim(text);
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        ++digits;
    }
    if (digits == 0) {
        return std::nullopt;
    }
    std::uint64_t number = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        auto digit = static_cast<std::uint64_t>(text[i] - '0');
        if (number > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            return std::nullopt;
        }
        number = number * 10 + digit;
    }
    return std::pair{number, lowerAscii(trim(text.substr(digits)))};
}

std::optional<std::uint64_t> multiply(std::uint64_t value, std::uint64_t factor) {
    if (factor != 0 && value > std::numeric_limits<std::uint64_t>::max() / factor) {
        return std::nullopt;
    }
    return value * factor;
}

std::string normaliseKey(std::string_view key) {
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        char c = key[i];
        if (c >= 'A' && c <= 'Z') {
            if (i > 0 && key[i - 1] != '_' && key[i - 1] != '-') {
                out += '_';
            }
            out += lowerAscii(c);
        } else if (c == '-') {
            out += '_';
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::optional<std::size_t> parseSize(std::string_view text) {
    auto split = splitNumberAndUnit(text);
    if (!split) {
        return std::nullopt;
    }
    static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 8> kUnits{{
        {"", 1},
        {"b", 1},
        {"kib", 1024},
        {"mib", 1024ull * 1024},
        {"gib", 1024ull * 1024 * 1024},
        {"kb", 1000},
        {"mb", 1000ull * 1000},
        {"gb", 1000ull * 1000 * 1000},
    }};
    auto unit =
        std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& u) { return u.first == split->second; });
    if (unit == kUnits.end()) {
        return std::nullopt;
    }
    auto bytes = multiply(split->first, unit->second);
    if (!bytes || *bytes > std::numeric_limits<std::size_t>::max()) {
        return std::nullopt;
    }
    return static_cast<std::size_t>(*bytes);
}

std::optional<std::chrono::seconds> parseDuration(std::string_view text) {
    auto split = splitNumberAndUnit(text);
    if (!split) {
        return std::nullopt;
    }
    static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 5> kUnits{{
        {"", 1},
        {"s", 1},
        {"m", 60},
        {"h", 3600},
        {"d", 86400},
    }};
    auto unit =
        std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& u) { return u.first == split->second; });
    if (unit == kUnits.end()) {
        return std::nullopt;
    }
    auto seconds = multiply(split->first, unit->second);
    if (!seconds || *seconds > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
    }
    return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(*seconds));
}

std::string prepareDomain(std::string_view domain) {
    std::string out = lowerAscii(domain);
    if (!out.empty() && out.back() == '.') {
        out.pop_back();
    }
    return out;
}

bool isIpLiteral(std::string_view address) {
    std::string text(address);
    std::array<unsigned char, 16> buffer{};
    return inet_pton(AF_INET, text.c_str(), buffer.data()) == 1 ||
           inet_pton(AF_INET6, text.c_str(), buffer.data()) == 1;
}

std::optional<std::string> checkDomain(std::string_view domain) {
    if (domain.empty()) {
        return "must not be empty";
    }
    if (domain.front() == '[') {
        // RFC 7622 §3.2: an IPv6 domainpart is an IP-literal in brackets.
        std::array<unsigned char, 16> buffer{};
        std::string inner(domain.substr(1, domain.size() >= 2 ? domain.size() - 2 : 0));
        if (domain.back() == ']' && inet_pton(AF_INET6, inner.c_str(), buffer.data()) == 1) {
            return std::nullopt;
        }
        return "is not a valid IPv6 literal; write it as \"[2001:db8::1]\"";
    }
    if (domain.find(':') != std::string_view::npos) {
        return "looks like an IPv6 address or has a port; write IPv6 addresses in brackets "
               "(\"[2001:db8::1]\") "
               "and leave the port to [[listener]]";
    }
    if (std::any_of(domain.begin(), domain.end(),
                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
        return "contains non-ASCII characters; write an internationalised domain in its xn-- (punycode) form";
    }
    if (domain.size() > 253) {
        return "is longer than 253 characters, the limit for a DNS name";
    }
    std::string text(domain);
    std::array<unsigned char, 4> v4{};
    if (inet_pton(AF_INET, text.c_str(), v4.data()) == 1) {
        return std::nullopt;
    }
    std::size_t start = 0;
    while (start <= domain.size()) {
        std::size_t end = domain.find('.', start);
        if (end == std::string_view::npos) {
            end = domain.size();
        }
        std::string_view label = domain.substr(start, end - start);
        if (label.empty()) {
            return "has an empty label (two dots in a row, or a leading dot)";
        }
        if (label.size() > 63) {
            return "has a label longer than 63 characters (\"" + std::string(label) + "\")";
        }
        for (char c : label) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                return "contains '" + std::string(1, c) +
                       "'; a domain may only contain letters, digits, '-' and '.'";
            }
        }
        if (label.front() == '-' || label.back() == '-') {
            return "has a label that starts or ends with '-' (\"" + std::string(label) + "\")";
        }
        start = end + 1;
    }
    return std::nullopt;
}

std::size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> previous(b.size() + 1);
    std::vector<std::size_t> current(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        previous[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
        }
        std::swap(previous, current);
    }
    return previous[b.size()];
}

std::optional<std::string> closestMatch(std::string_view word, const std::vector<std::string>& candidates) {
    std::string normalised = normaliseKey(word);
    // A typo is a few edits; beyond a third of the word it is a different word.
    std::size_t allowed = std::max<std::size_t>(2, normalised.size() / 3);
    std::optional<std::string> best;
    std::size_t bestDistance = std::numeric_limits<std::size_t>::max();
    for (const std::string& candidate : candidates) {
        std::string other = normaliseKey(candidate);
        std::size_t distance = editDistance(normalised, other);
        // A shortened or lengthened spelling ("synchronous" for "synchronous_full", "warning" for
        // "warn") is as likely a slip as a typo.
        const std::string& shorter = normalised.size() < other.size() ? normalised : other;
        const std::string& longer = normalised.size() < other.size() ? other : normalised;
        bool prefix = shorter.size() >= 3 && longer.compare(0, shorter.size(), shorter) == 0;
        if ((distance <= allowed && distance < normalised.size()) || prefix) {
            if (distance < bestDistance) {
                bestDistance = distance;
                best = candidate;
            }
        }
    }
    return best;
}

}  // namespace parley::server::config_detail
