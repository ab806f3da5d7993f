#pragma once
// Reading module options ([modules.<name>] in the configuration) that several modules share. A value
// the module cannot use stops the server at start (ModuleContext::refuseStart) with a message that
// names the option and says what to write instead; the fallback is only what start() goes on with
// until it returns.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "parley/server/config.h"
#include "parley/server/module.h"

namespace parley::server::modules {

// "modules.<module>.<key> = \"<text>\"": how the error messages name an option.
inline std::string describeOption(std::string_view module, std::string_view key, std::string_view text) {
    return "[modules." + std::string(module) + "] " + std::string(key) + " = \"" + std::string(text) + "\"";
}

// A size option such as `max_bytes = "64KiB"` (or a number of bytes).
inline std::size_t sizeOption(ModuleContext& context, std::string_view module, std::string_view key,
                              std::size_t fallback) {
    const std::string text = context.option(key, std::to_string(fallback));
    if (auto bytes = parseSizeOption(text))
        return *bytes;
    context.refuseStart(
        describeOption(module, key, text) +
        " is not a size; write a number of bytes or a number with KiB or MiB (e.g. \"64KiB\")");
    return fallback;
}

// A count option such as `max_items = 1000`: a non-negative integer, at least `minimum`.
inline std::size_t countOption(ModuleContext& context, std::string_view module, std::string_view key,
                               std::size_t fallback, std::size_t minimum = 0) {
    const std::string text = context.option(key, std::to_string(fallback));
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && value >= minimum)
        return value;
    context.refuseStart(describeOption(module, key, text) + " is not a whole number of " +
                        std::to_string(minimum) + " or more (the default is " + std::to_string(fallback) +
                        ")");
    return fallback;
}

// A duration: a whole number of seconds, or one with the unit s, m, h, d or w ("365d").
inline std::optional<std::int64_t> parseDuration(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 0)
        return std::nullopt;
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    static constexpr std::pair<std::string_view, std::int64_t> kUnits[] = {
        {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400}};
    for (const auto& [name, seconds] : kUnits) {
        if (unit == name)
            return value <= INT64_MAX / seconds ? std::optional<std::int64_t>(value * seconds) : std::nullopt;
    }
    return std::nullopt;
}

// A duration option in seconds, at least `minimum` (see parseDuration).
inline std::int64_t durationOption(ModuleContext& context, std::string_view module, std::string_view key,
                                   std::int64_t fallback, std::int64_t minimum = 0) {
    const std::string text = context.option(key, std::to_string(fallback));
    if (auto seconds = parseDuration(text); seconds && *seconds >= minimum)
        return *seconds;
    context.refuseStart(describeOption(module, key, text) + " is not a duration of " +
                        std::to_string(minimum) +
                        " seconds or more; write a number of seconds or a number with s, m, h, d or w "
                        "(e.g. \"365d\")");
    return fallback;
}

// A boolean option: true or false.
inline bool boolOption(ModuleContext& context, std::string_view module, std::string_view key, bool fallback) {
    const std::string text = context.option(key, fallback ? "true" : "false");
    if (text == "true" || text == "false")
        return text == "true";
    context.refuseStart(describeOption(module, key, text) + " is neither true nor false");
    return fallback;
}

// An option that must be one of `choices`.
inline std::string choiceOption(ModuleContext& context, std::string_view module, std::string_view key,
                                std::string_view fallback, std::initializer_list<std::string_view> choices) {
    const std::string text = context.option(key, fallback);
    std::string list;
    for (std::string_view choice : choices) {
        if (text == choice)
            return text;
        list += (list.empty() ? "\"" : ", \"") + std::string(choice) + "\"";
    }
    context.refuseStart(describeOption(module, key, text) + " is not one of " + list);
    return std::string(fallback);
}

}  // namespace parley::server::modules
