#pragma once
#include <string_view>

namespace parley::server {
// The release, reported by XEP-0092 and `parleyd --version`.
inline constexpr std::string_view kParleyVersion = "0.1.0";
}  // namespace parley::server
