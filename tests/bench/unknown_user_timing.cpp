// Row 23 of ../shared/reference/reliability.md §5 (RFC 6120 §13.11, RFC 6121 §8.5.1): a stanza to an
// account that does not exist gets the same answer, in the same time, as one to an account that exists
// but cannot take it, so that nobody can list the accounts of a server. This is a measurement, not a test
// (timings never decide pass or fail): it checks that the answers are the same and prints round-trip
// percentiles for each pair, to be compared by eye.
//
//   cmake --preset release && cmake --build --preset release --target parley_unknown_user_timing
//   build/release/tests/bench/parley_unknown_user_timing [rounds]
//
// The server runs in this process on loopback with the in-memory store (TestServer), so the numbers are
// those of the code paths, not of a database.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "test_client.h"
#include "test_server.h"

namespace {

using parley::test::TestClient;
using parley::test::TestServer;
using Clock = std::chrono::steady_clock;

struct Case {
    const char* title;
    bool offlineModule;  // whether the offline module is loaded
    std::string (*stanza)(const std::string& to, int id);
};

std::string chatWithBody(const std::string& to, int id) {
    return "<message type='chat' id='m" + std::to_string(id) + "' to='" + to + "'><body>hi</body></message>";
}
std::string chatState(const std::string& to, int id) {
    return "<message type='chat' id='m" + std::to_string(id) + "' to='" + to +
           "'><active xmlns='http://jabber.org/protocol/chatstates'/></message>";
}
std::string vcardGet(const std::string& to, int id) {
    return "<iq type='get' id='v" + std::to_string(id) + "' to='" + to + "'><vCard xmlns='vcard-temp'/></iq>";
}

// The answer with the addressee's name blanked, to compare the two.
std::string normalized(const parley::xml::Element& answer, const std::string& to) {
    std::string text = answer.toString("jabber:client");
    for (std::size_t at = text.find(to); at != std::string::npos; at = text.find(to, at))
        text.replace(at, to.size(), "ADDRESSEE");
    for (std::size_t at = text.find(" id='"); at != std::string::npos; at = text.find(" id='", at + 1)) {
        const std::size_t end = text.find('\'', at + 5);
        text.replace(at + 5, end - at - 5, "ID");
    }
    return text;
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

int run(const Case& testCase, int rounds) {
    TestServer server([&](parley::server::ServerConfig& config) {
        if (!testCase.offlineModule) {
            std::erase_if(config.modules, [](const auto& module) { return module.name == "offline"; });
        }
    });
    server.addAccount("romeo", "localhost", "secret");
    server.addAccount("juliet", "localhost", "secret");  // exists, never online
    TestClient client(server.requiredTlsPort());
    if (client.login("romeo", "localhost", "secret", "bench").empty()) {
        std::fprintf(stderr, "login failed: %s\n", client.lastError().c_str());
        return 1;
    }
    const std::string targets[2] = {"juliet@localhost", "nobody@localhost"};
    std::vector<double> micros[2];
    std::string answers[2];
    bool same = true;
    for (int round = 0; round < rounds; ++round) {
        for (int which = 0; which < 2; ++which) {
            // Alternate the order so that neither side always runs on a warmer cache.
            const int t = (round % 2 == 0) ? which : 1 - which;
            const auto began = Clock::now();
            client.send(testCase.stanza(targets[t], round));
            auto answer = client.receive();
            const auto took = std::chrono::duration<double, std::micro>(Clock::now() - began).count();
            if (!answer) {
                std::fprintf(stderr, "%s: no answer for %s\n", testCase.title, targets[t].c_str());
                return 1;
            }
            micros[t].push_back(took);
            std::string text = normalized(*answer, targets[t]);
            if (answers[t].empty())
                answers[t] = text;
            else if (answers[t] != text)
                same = false;
        }
    }
    same = same && answers[0] == answers[1];
    std::printf("%s\n  answers %s\n", testCase.title, same ? "identical" : "DIFFER");
    if (!same)
        std::printf("    existing: %s\n    unknown:  %s\n", answers[0].c_str(), answers[1].c_str());
    for (int t = 0; t < 2; ++t) {
        std::printf("  %-18s p50 %7.1f us  p90 %7.1f us  p99 %7.1f us  (%d round trips)\n",
                    targets[t].c_str(), percentile(micros[t], 0.5), percentile(micros[t], 0.9),
                    percentile(micros[t], 0.99), rounds);
    }
    return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::max(10, std::atoi(argv[1])) : 2000;
    const Case cases[] = {
        {"chat message with a body, offline storage off (service-unavailable)", false, chatWithBody},
        {"chat state without a body, offline storage on (service-unavailable)", true, chatState},
        {"vcard-temp get, no vCard stored (service-unavailable)", true, vcardGet},
    };
    int failed = 0;
    for (const Case& testCase : cases)
        failed += run(testCase, rounds);
    return failed == 0 ? 0 : 1;
}
