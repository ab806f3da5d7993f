#pragma once
// The command line of parley-bench (bench/README.md): one scenario and its options.
#include <cstdint>
#include <string>

#include "parley/base/result.h"

namespace parley::bench {

enum class TlsMode : std::uint8_t { None, StartTls, Direct };

struct OptionError {
    std::string message;
};

struct Options {
    std::string scenario;
    // common
    std::string host = "127.0.0.1";
    std::uint16_t port = 5222;
    std::string domain = "localhost";
    TlsMode tls = TlsMode::None;
    std::string mech = "SCRAM-SHA-256";
    std::string userPrefix = "bench";
    std::string password = "bench";
    unsigned threads = 0;  // 0: hardware concurrency
    std::string csv;
    int serverPid = 0;
    std::string label;
    unsigned sourceAddresses = 1;  // 127.0.0.1 .. 127.0.0.N used round-robin from the start
    double timeout = 30;           // seconds for any one step of a login or request
    bool scramCache = true;        // reuse SaltedPassword per user (RFC 5802 §5.1 lets clients cache)
    std::string resourcePrefix = "b";
    // scenarios
    std::uint64_t users = 0;
    std::uint64_t contacts = 0;
    std::uint64_t sessions = 0;
    std::uint64_t messages = 0;
    double rate = 0;  // per second, in all
    std::uint64_t inflight = 0;
    double duration = 10;
    double hold = 10;
    unsigned concurrency = 0;  // 0: the scenario's default
    unsigned bodyBytes = 100;
    bool pipeline = false;
    double drain = 10;  // seconds to wait for stanzas still in flight at the end
};

Result<Options, OptionError> parseOptions(int argc, char** argv);
const char* usageText();
std::string_view toString(TlsMode mode) noexcept;

}  // namespace parley::bench
