#pragma once
// Logging: one readable line per event on stderr, "2026-11-21 17:30:00.123 info  c2s: text".
// Thread-safe; a line is written whole. Not for the per-stanza hot path above debug level.
#include <atomic>
#include <string>
#include <string_view>

#include "parley/server/config.h"

namespace parley::server {

class Log {
  public:
    static void setLevel(LogLevel level) noexcept { level_.store(level, std::memory_order_relaxed); }
    static LogLevel level() noexcept { return level_.load(std::memory_order_relaxed); }
    static bool enabled(LogLevel level) noexcept { return level >= Log::level(); }
    static void write(LogLevel level, std::string_view component, std::string_view text);

  private:
    static inline std::atomic<LogLevel> level_{LogLevel::Info};
};

// A logger for one component ("c2s", "router", "mod_register").
class Logger {
  public:
    explicit Logger(std::string component) : component_(std::move(component)) {}
    void trace(std::string_view text) const { emit(LogLevel::Trace, text); }
    void debug(std::string_view text) const { emit(LogLevel::Debug, text); }
    void info(std::string_view text) const { emit(LogLevel::Info, text); }
    void warn(std::string_view text) const { emit(LogLevel::Warn, text); }
    void error(std::string_view text) const { emit(LogLevel::Error, text); }
    bool enabled(LogLevel level) const noexcept { return Log::enabled(level); }

  private:
    void emit(LogLevel level, std::string_view text) const {
        if (Log::enabled(level))
            Log::write(level, component_, text);
    }
    std::string component_;
};

}  // namespace parley::server
