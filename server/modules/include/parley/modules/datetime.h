#pragma once
// XEP-0082 date and time profiles, as modules write them (XEP-0203 delay stamps) and read them
// (XEP-0313 query fields).
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace parley::server::modules {

// XEP-0082 §3.3 DateTime in UTC, whole seconds: "2023-11-14T22:13:21Z".
inline std::string utcStamp(std::int64_t unixSeconds) {
    const auto time = static_cast<std::time_t>(unixSeconds);
    std::tm utc{};
    gmtime_r(&time, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return stamp;
}

// Parses an XEP-0082 §3.3 DateTime (CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD = Z or +hh:mm / -hh:mm) into
// Unix milliseconds; nullopt when it is not one.
inline std::optional<std::int64_t> parseDateTime(std::string_view text) {
    std::size_t at = 0;
    auto digits = [&](std::size_t count) -> std::optional<int> {
        if (at + count > text.size())
            return std::nullopt;
        int value = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const char c = text[at + i];
            if (c < '0' || c > '9')
                return std::nullopt;
            value = value * 10 + (c - '0');
        }
        at += count;
        return value;
    };
    auto expect = [&](char c) {
        if (at < text.size() && text[at] == c) {
            ++at;
            return true;
        }
        return false;
    };
    const auto year = digits(4);
    if (!year || !expect('-'))
        return std::nullopt;
    const auto month = digits(2);
    if (!month || !expect('-'))
        return std::nullopt;
    const auto day = digits(2);
    if (!day || !expect('T'))
        return std::nullopt;
    const auto hour = digits(2);
    if (!hour || !expect(':'))
        return std::nullopt;
    const auto minute = digits(2);
    if (!minute || !expect(':'))
        return std::nullopt;
    const auto second = digits(2);
    if (!second)
        return std::nullopt;
    if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60)
        return std::nullopt;
    std::int64_t millis = 0;
    if (expect('.')) {
        // Fractions of a second: the first three digits count, the rest are read and ignored.
        int scale = 100;
        const std::size_t first = at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            millis += (text[at] - '0') * scale;
            scale /= 10;
            ++at;
        }
        if (at == first)
            return std::nullopt;
    }
    std::int64_t offsetMinutes = 0;
    if (!expect('Z')) {
        const bool plus = expect('+');
        if (!plus && !expect('-'))
            return std::nullopt;
        const auto offsetHours = digits(2);
        if (!offsetHours || !expect(':'))
            return std::nullopt;
        const auto offsetMins = digits(2);
        if (!offsetMins || *offsetHours > 23 || *offsetMins > 59)
            return std::nullopt;
        offsetMinutes = (plus ? 1 : -1) * (*offsetHours * 60 + *offsetMins);
    }
    if (at != text.size())
        return std::nullopt;
    std::tm utc{};
    utc.tm_year = *year - 1900;
    utc.tm_mon = *month - 1;
    utc.tm_mday = *day;
    utc.tm_hour = *hour;
    utc.tm_min = *minute;
    utc.tm_sec = *second;
    const std::int64_t seconds = static_cast<std::int64_t>(timegm(&utc)) - offsetMinutes * 60;
    return seconds * 1000 + millis;
}

}  // namespace parley::server::modules
