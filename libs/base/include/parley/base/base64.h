#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace parley {

// RFC 4648 §4 base64 with padding.
std::string base64Encode(std::string_view bytes);

// Strict RFC 4648 decoding, as RFC 6120 §6.4.2 asks of SASL data: no whitespace, correct padding,
// no characters outside the alphabet. Returns nullopt on any violation (SASL <incorrect-encoding/>).
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace parley
