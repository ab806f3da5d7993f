#pragma once
// Helpers shared by the SASL tests: credentials derived once per process (PBKDF2 is slow under
// the sanitizers) and a driver that runs a client against a server mechanism.
#include "parley/base/base64.h"
#include "parley/sasl/mechanism.h"
#include "parley/sasl/scram_client.h"
#include "parley/sasl/scram_credential.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>

namespace parley::sasl::test {

inline const ScramCredential& credentialFor(HashAlgorithm algorithm, const std::string& password) {
    static std::map<std::tuple<HashAlgorithm, std::string>, ScramCredential> cache;
    auto key = std::make_tuple(algorithm, password);
    auto it = cache.find(key);
    if (it == cache.end()) {
        it = cache.emplace(key, deriveScramCredential(algorithm, password, "fixed-test-salt!", 4096)).first;
    }
    return it->second;
}

inline std::string describe(const Step& step) {
    if (auto* f = std::get_if<Fail>(&step))
        return std::string("Fail ") + std::string(toString(f->failure)) + ": " + f->text;
    if (std::holds_alternative<Success>(step))
        return "Success";
    if (std::holds_alternative<Challenge>(step))
        return "Challenge";
    if (std::holds_alternative<NeedCredential>(step))
        return "NeedCredential";
    return "NeedPasswordCheck";
}

// A copy of the alternative (so that `const auto& x = as<T>(mechanism->start(...))` is safe).
template <class T>
T as(const Step& step) {
    if (!std::holds_alternative<T>(step)) {
        ADD_FAILURE() << "unexpected step: " << describe(step);
        return T{};
    }
    return std::get<T>(step);
}

inline ::testing::AssertionResult isFail(const Step& step, Failure failure) {
    auto* f = std::get_if<Fail>(&step);
    if (f != nullptr && f->failure == failure)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "expected Fail " << toString(failure) << ", got " << describe(step);
}

struct ExchangeResult {
    Step last;                    // the server's final step
    bool clientVerified = false;  // client accepted the server-final-message
    std::string clientFirst;
    std::string serverFirst;
    std::string clientFinal;
};

// Runs a complete exchange; `storedPassword` nullopt means the user does not exist.
inline ExchangeResult runExchange(ServerMechanism& server, ScramClient& client,
                                  std::optional<std::string> storedPassword, HashAlgorithm algorithm) {
    ExchangeResult r;
    r.clientFirst = client.clientFirst();
    Step step = server.start(r.clientFirst);
    if (!std::holds_alternative<NeedCredential>(step)) {
        r.last = step;
        return r;
    }
    step = server.provideCredential(storedPassword ? std::optional(credentialFor(algorithm, *storedPassword))
                                                   : std::nullopt);
    if (!std::holds_alternative<Challenge>(step)) {
        r.last = step;
        return r;
    }
    r.serverFirst = std::get<Challenge>(step).data;
    auto final = client.clientFinal(r.serverFirst);
    if (!final) {
        r.last = Fail{final.error(), "client refused server-first"};
        return r;
    }
    r.clientFinal = *final;
    r.last = server.respond(r.clientFinal);
    if (auto* s = std::get_if<Success>(&r.last))
        r.clientVerified = client.verifyServerFinal(s->additionalData);
    return r;
}

}  // namespace parley::sasl::test
