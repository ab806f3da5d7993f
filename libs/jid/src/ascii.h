#pragma once
// ASCII helpers shared by the fast paths of libs/jid.
#include <array>
#include <cstddef>

namespace parley::detail {

// A table rather than a comparison: the fast paths lower-case every octet of every routed address.
inline constexpr std::array<char, 256> kAsciiLower = [] {
    std::array<char, 256> table{};
    for (int c = 0; c < 256; ++c) {
        table[static_cast<std::size_t>(c)] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    return table;
}();

constexpr char asciiLower(unsigned char c) {
    return kAsciiLower[c];
}

}  // namespace parley::detail
