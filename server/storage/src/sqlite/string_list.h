#pragma once
// A list of strings in one TEXT column (roster_items.groups, the lists of pep_nodes): each string
// escaped ('\' as "\\", a line feed as "\n") and followed by a line feed, so any list round-trips
// exactly, empty strings and strings with line feeds included.
#include <string>
#include <string_view>
#include <vector>

namespace parley::storage {

inline std::string encodeStringList(const std::vector<std::string>& strings) {
    std::string encoded;
    for (const auto& string : strings) {
        for (const char c : string) {
            if (c == '\\') {
                encoded += "\\\\";
            } else if (c == '\n') {
                encoded += "\\n";
            } else {
                encoded += c;
            }
        }
        encoded += '\n';
    }
    return encoded;
}

inline std::vector<std::string> decodeStringList(std::string_view encoded) {
    std::vector<std::string> strings;
    std::string current;
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        const char c = encoded[i];
        if (c == '\n') {
            strings.push_back(std::move(current));
            current.clear();
        } else if (c == '\\' && i + 1 < encoded.size()) {
            ++i;
            current += encoded[i] == 'n' ? '\n' : encoded[i];
        } else {
            current += c;
        }
    }
    return strings;  // an unterminated tail cannot be written by encodeStringList; it is dropped
}

}  // namespace parley::storage
