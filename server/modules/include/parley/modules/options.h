#pragma once
// Reading module options ([modules.<name>] in the configuration) that several modules share.
#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

#include "parley/server/config.h"
#include "parley/server/module.h"

namespace parley::server::modules {

// A size option such as `max_bytes = "64KiB"` (or a number of bytes). A value that is not a size is
// logged as an error naming the option, and the module runs with `fallback`: ModuleContext gives a
// module no way to refuse its options at start.
inline std::size_t sizeOption(const ModuleContext& context, std::string_view module, std::string_view key,
                              std::size_t fallback) {
    const std::string text = context.option(key, std::to_string(fallback));
    if (auto bytes = parseSizeOption(text))
        return *bytes;
    context.log().error(
        "modules." + std::string(module) + "." + std::string(key) + ": \"" + text +
        "\" is not a size; write a number of bytes or a number with KiB, MiB (e.g. \"64KiB\"). "
        "Using " +
        std::to_string(fallback) + " bytes");
    return fallback;
}

// A count option such as `max_items = 1000`: a non-negative integer. Anything else is logged as an
// error naming the option, and the module runs with `fallback`.
inline std::size_t countOption(const ModuleContext& context, std::string_view module, std::string_view key,
                               std::size_t fallback) {
    const std::string text = context.option(key, std::to_string(fallback));
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size())
        return value;
    context.log().error("modules." + std::string(module) + "." + std::string(key) + ": \"" + text +
                        "\" is not a whole number of 0 or more. Using " + std::to_string(fallback));
    return fallback;
}

}  // namespace parley::server::modules
