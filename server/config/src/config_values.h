#pragma once
// Value parsers and checks of the configuration loader that do not need TOML (internal to
// parley_config; config_loader.cpp is their only user besides the unit tests).
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::server::config_detail {

// "256KiB", "1 MiB", "10000", "64KB" -> bytes. Binary units (KiB, MiB, GiB) are powers of 1024,
// decimal ones (KB, MB, GB) powers of 1000; units are case-insensitive. nullopt when malformed or
// when the value does not fit in size_t.
std::optional<std::size_t> parseSize(std::string_view text);

// "90s", "10m", "1h", "1d", "600" -> seconds. nullopt when malformed or out of range.
std::optional<std::chrono::seconds> parseDuration(std::string_view text);

// Lower-cases ASCII and strips one trailing dot ("Example.ORG." -> "example.org").
std::string prepareDomain(std::string_view domain);

// Why a prepared domain is not acceptable as a virtual host, or nullopt if it is: a DNS name of
// labels [a-z0-9-] (1..63 octets each, no leading or trailing hyphen, at most 253 octets in all), an
// IPv4 literal, or an IPv6 literal in brackets (RFC 7622 §3.2).
std::optional<std::string> checkDomain(std::string_view domain);

// True for an IPv4 or IPv6 literal as inet_pton reads it (IPv6 without brackets).
bool isIpLiteral(std::string_view address);

// Levenshtein distance between two strings.
std::size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` after normalising both (lower case, camelCase and dashes to
// snake_case), if it is close enough to be a likely typo; nullopt otherwise.
std::optional<std::string> closestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace parley::server::config_detail
