#include "options.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

namespace parley::bench {

const char* usageText() {
    return "usage: parley-bench SCENARIO [options]\n"
           "scenarios:\n"
           "  register --users N [--concurrency C]        in-band registration (XEP-0077) of accounts 1..N\n"
           "  roster --users N --contacts K                mutual subscriptions with the K nearest accounts\n"
           "  idle --sessions N --rate R --hold S          ramp N logged-in sessions at R/s, hold S seconds\n"
           "  login --users N --duration S [--concurrency C]   full logins per second, then close\n"
           "  chat --users M --duration S (--rate R | --inflight W) [--body-bytes B] [--pipeline]\n"
           "  presence --users M --contacts K --duration S [--rate R]   presence changes and fan-out\n"
           "  offline --users M --messages K [--concurrency C]   store K messages each, then deliver\n"
           "common options (defaults in brackets):\n"
           "  --host [127.0.0.1] --port [5222] --domain [localhost] --tls none|starttls|direct [none]\n"
           "  --mech SCRAM-SHA-256|SCRAM-SHA-1|PLAIN [SCRAM-SHA-256] --user-prefix [bench] --password "
           "[bench]\n"
           "  --threads N [hardware threads] --csv FILE --server-pid PID --label NAME\n"
           "  --source-addresses N [1] (127.0.0.1..N; more are taken when one runs out of ports)\n"
           "  --timeout SECONDS [30] (each login step or request) --drain SECONDS [10]\n"
           "  --no-scram-cache (run PBKDF2 at every login, as a client without a stored key)\n"
           "stdout: one line of JSON at the end; stderr: a progress line each second.\n";
}

std::string_view toString(TlsMode mode) noexcept {
    switch (mode) {
        case TlsMode::None:
            return "none";
        case TlsMode::StartTls:
            return "starttls";
        case TlsMode::Direct:
            return "direct";
    }
    return "none";
}

namespace {

template <class T>
bool parseNumber(std::string_view text, T& out) {
    if constexpr (std::is_floating_point_v<T>) {
        try {
            std::size_t used = 0;
            out = static_cast<T>(std::stod(std::string(text), &used));
            return used == text.size() && out >= 0;
        } catch (...) {
            return false;
        }
    } else {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        return ec == std::errc() && end == text.data() + text.size();
    }
}

}  // namespace

Result<Options, OptionError> parseOptions(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    Options o;
    if (args.empty()) {
        return OptionError{"no scenario given"};
    }
    o.scenario = std::string(args[0]);
    static const std::vector<std::string_view> kScenarios = {"register", "roster",   "idle",   "login",
                                                             "chat",     "presence", "offline"};
    if (std::find(kScenarios.begin(), kScenarios.end(), o.scenario) == kScenarios.end()) {
        return OptionError{"unknown scenario '" + o.scenario +
                           "' (register, roster, idle, login, chat, presence or offline)"};
    }
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view name = args[i];
        if (name == "--pipeline") {
            o.pipeline = true;
            continue;
        }
        if (name == "--no-scram-cache") {
            o.scramCache = false;
            continue;
        }
        if (i + 1 >= args.size()) {
            return OptionError{"option " + std::string(name) + " needs a value (or is unknown)"};
        }
        const std::string_view value = args[++i];
        bool ok = true;
        if (name == "--host") {
            o.host = value;
        } else if (name == "--port") {
            ok = parseNumber(value, o.port) && o.port != 0;
        } else if (name == "--domain") {
            o.domain = value;
        } else if (name == "--tls") {
            if (value == "none") {
                o.tls = TlsMode::None;
            } else if (value == "starttls") {
                o.tls = TlsMode::StartTls;
            } else if (value == "direct") {
                o.tls = TlsMode::Direct;
            } else {
                ok = false;
            }
        } else if (name == "--mech") {
            o.mech = value;
            ok = value == "SCRAM-SHA-256" || value == "SCRAM-SHA-1" || value == "SCRAM-SHA-512" ||
                 value == "PLAIN";
        } else if (name == "--user-prefix") {
            o.userPrefix = value;
        } else if (name == "--password") {
            o.password = value;
        } else if (name == "--threads") {
            ok = parseNumber(value, o.threads);
        } else if (name == "--csv") {
            o.csv = value;
        } else if (name == "--server-pid") {
            ok = parseNumber(value, o.serverPid);
        } else if (name == "--label") {
            o.label = value;
        } else if (name == "--source-addresses") {
            ok = parseNumber(value, o.sourceAddresses) && o.sourceAddresses >= 1 && o.sourceAddresses <= 254;
        } else if (name == "--timeout") {
            ok = parseNumber(value, o.timeout) && o.timeout > 0;
        } else if (name == "--drain") {
            ok = parseNumber(value, o.drain);
        } else if (name == "--resource-prefix") {
            o.resourcePrefix = value;
        } else if (name == "--users") {
            ok = parseNumber(value, o.users);
        } else if (name == "--contacts") {
            ok = parseNumber(value, o.contacts);
        } else if (name == "--sessions") {
            ok = parseNumber(value, o.sessions);
        } else if (name == "--messages") {
            ok = parseNumber(value, o.messages);
        } else if (name == "--rate") {
            ok = parseNumber(value, o.rate);
        } else if (name == "--inflight") {
            ok = parseNumber(value, o.inflight);
        } else if (name == "--duration") {
            ok = parseNumber(value, o.duration);
        } else if (name == "--hold") {
            ok = parseNumber(value, o.hold);
        } else if (name == "--concurrency") {
            ok = parseNumber(value, o.concurrency);
        } else if (name == "--body-bytes") {
            ok = parseNumber(value, o.bodyBytes);
        } else {
            return OptionError{"unknown option " + std::string(name)};
        }
        if (!ok) {
            return OptionError{"bad value '" + std::string(value) + "' for " + std::string(name)};
        }
    }
    if (o.threads == 0) {
        o.threads = std::max(1u, std::thread::hardware_concurrency());
    }
    // What each scenario needs, said the way a user can fix it.
    auto need = [&](bool condition, const char* message) -> std::optional<OptionError> {
        if (!condition) {
            return OptionError{o.scenario + ": " + message};
        }
        return std::nullopt;
    };
    std::optional<OptionError> missing;
    if (o.scenario == "idle") {
        missing = need(o.sessions > 0 && o.rate > 0, "give --sessions N and --rate R (sessions per second)");
    } else if (o.scenario == "chat") {
        missing =
            need(o.users >= 2 && o.users % 2 == 0, "give --users M, an even number (users chat in pairs)");
        if (!missing) {
            missing = need((o.rate > 0) != (o.inflight > 0), "give exactly one of --rate R or --inflight W");
        }
    } else if (o.scenario == "roster" || o.scenario == "presence") {
        missing = need(o.users > 0 && o.contacts > 0 && o.contacts % 2 == 0 && o.contacts < o.users,
                       "give --users N and --contacts K, K even and smaller than N (each user's contacts are "
                       "the K/2 accounts before and after it, in a ring)");
    } else if (o.scenario == "offline") {
        missing = need(o.users > 0 && o.messages > 0, "give --users M and --messages K");
    } else {
        missing = need(o.users > 0, "give --users N");
    }
    if (missing) {
        return *missing;
    }
    return o;
}

}  // namespace parley::bench
