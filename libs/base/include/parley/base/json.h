#pragma once
// JSON output helpers shared by the command-line tools (parley --json, parley-bench's result line).
#include <string>
#include <string_view>

namespace parley {

// `text` as one JSON string literal, quotes included (RFC 8259 §7: `"` and `\` escaped, control
// characters as \n, \r, \t or \u00XX). Bytes >= 0x80 pass through, so UTF-8 stays UTF-8.
std::string jsonString(std::string_view text);

}  // namespace parley
