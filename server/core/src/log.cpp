#include "parley/server/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace parley::server {
namespace {

std::string_view levelName(LogLevel level) {
    switch (level) {
        case LogLevel::Trace:
            return "trace";
        case LogLevel::Debug:
            return "debug";
        case LogLevel::Info:
            return "info ";
        case LogLevel::Warn:
            return "warn ";
        case LogLevel::Error:
            return "error";
    }
    return "info ";
}

std::mutex& outputMutex() {
    static std::mutex mutex;
    return mutex;
}

}  // namespace

void Log::write(LogLevel level, std::string_view component, std::string_view text) {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm local{};
    localtime_r(&seconds, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
    std::string line;
    line.reserve(48 + component.size() + text.size());
    line.append(stamp).append(".");
    // millis is 0..999; the buffer also has room for any int, which keeps -Wformat-truncation quiet.
    char ms[12];
    std::snprintf(ms, sizeof ms, "%03d", static_cast<int>(millis));
    line.append(ms)
        .append(" ")
        .append(levelName(level))
        .append(" ")
        .append(component)
        .append(": ")
        .append(text);
    line.push_back('\n');
    std::lock_guard lock(outputMutex());
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace parley::server
