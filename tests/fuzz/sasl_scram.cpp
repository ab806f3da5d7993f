// Input format: one control byte, then up to three messages separated by 0xFF (never valid inside
// UTF-8, so nothing of interest is lost). Control bits:
//   0-1 hash (0 SHA-1, 1 SHA-256, 2/3 SHA-512)   2 -PLUS   3 initial response in <auth/>
//   4 unknown user   5 fuzz the client instead   6 PLAIN   7 the server advertised -PLUS
// Server mode: message 1 is the client-first (or PLAIN) message, message 2 the client-final, message 3
// one more response after the end. Client mode: message 1 is the server-first, message 2 the
// server-final. The server nonce is fixed so that the fuzzer can reach the proof check.
#include "parley/base/base64.h"
#include "parley/sasl/mechanism.h"
#include "parley/sasl/scram_client.h"
#include "parley/sasl/scram_server.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

using namespace parley::sasl;

const ScramCredential& credential(HashAlgorithm algorithm) {
    // Derived once: PBKDF2 must not dominate the fuzzing time.
    static const ScramCredential credentials[] = {
        deriveScramCredential(HashAlgorithm::Sha1, "pencil", "fuzz-salt", 4096),
        deriveScramCredential(HashAlgorithm::Sha256, "pencil", "fuzz-salt", 4096),
        deriveScramCredential(HashAlgorithm::Sha512, "pencil", "fuzz-salt", 4096),
    };
    return credentials[static_cast<std::size_t>(algorithm)];
}

std::vector<std::string_view> split(std::string_view data) {
    std::vector<std::string_view> parts;
    while (parts.size() < 2) {
        const std::size_t sep = data.find('\xff');
        if (sep == std::string_view::npos)
            break;
        parts.push_back(data.substr(0, sep));
        data.remove_prefix(sep + 1);
    }
    parts.push_back(data);
    return parts;
}

// Answers whatever the mechanism asks, as the XMPP layer would; returns the last step.
Step drive(ServerMechanism& mechanism, Step step, bool unknownUser, HashAlgorithm algorithm) {
    if (std::holds_alternative<NeedCredential>(step)) {
        if (std::get<NeedCredential>(step).algorithm != algorithm)
            std::abort();
        step = mechanism.provideCredential(unknownUser ? std::nullopt : std::optional(credential(algorithm)));
    } else if (std::holds_alternative<NeedPasswordCheck>(step)) {
        step = mechanism.providePasswordCheck(!unknownUser);
    }
    return step;
}

void fuzzServer(std::uint8_t control, const std::vector<std::string_view>& messages) {
    const auto algorithm = static_cast<HashAlgorithm>(std::min<int>(control & 3, 2));
    const bool plus = (control & 4) != 0;
    const bool initialResponse = (control & 8) != 0;
    const bool unknownUser = (control & 16) != 0;
    const bool usePlain = (control & 64) != 0;

    ServerOptions options;
    options.tls = true;
    options.channelBindings.tlsExporter = "exporter-data-32-bytes-long-----";
    options.channelBindings.tlsServerEndPoint = "end-point-data";
    options.plusAdvertised = (control & 128) != 0;
    options.fakeCredentialSecret = "fuzz";

    std::unique_ptr<ServerMechanism> mechanism;
    if (usePlain) {
        mechanism = makeServerMechanism("PLAIN", options);
    } else {
        auto scram = std::make_unique<ScramServer>(algorithm, plus, options);
        scram->setServerNonceForTest("SNONCE");
        mechanism = std::move(scram);
    }
    std::size_t next = 0;
    Step step = initialResponse ? mechanism->start(messages[next++]) : mechanism->start(std::nullopt);
    step = drive(*mechanism, step, unknownUser, algorithm);
    while (next < messages.size()) {
        if (std::holds_alternative<Success>(step)) {
            // Only the real password can get here, and never for an unknown user.
            if (unknownUser)
                std::abort();
        }
        step = drive(*mechanism, mechanism->respond(messages[next++]), unknownUser, algorithm);
    }
    if (auto* success = std::get_if<Success>(&step); success != nullptr && unknownUser)
        std::abort();
}

void fuzzClient(std::uint8_t control, const std::vector<std::string_view>& messages) {
    const auto algorithm = static_cast<HashAlgorithm>(std::min<int>(control & 3, 2));
    std::optional<ClientChannelBinding> cb;
    if ((control & 4) != 0)
        cb = ClientChannelBinding{"tls-exporter", "data"};
    ScramClient client(algorithm, "user", "pencil", cb, (control & 128) != 0);
    client.setClientNonceForTest("CNONCE");
    // Keep PBKDF2 cheap and bounded whatever i= the input names.
    client.setIterationLimits(1, 64);
    client.clientFirst();
    auto final = client.clientFinal(messages[0]);
    if (final && messages.size() > 1) {
        const bool ok = client.verifyServerFinal(messages[1]);
        (void)ok;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::uint8_t control = data[0];
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto messages = split(rest);
    if ((control & 32) != 0) {
        fuzzClient(control, messages);
    } else {
        fuzzServer(control, messages);
    }
    // Strict base64 must be the exact inverse of encoding.
    if (auto decoded = parley::base64Decode(messages[0])) {
        if (parley::base64Encode(*decoded) != messages[0])
            std::abort();
    }
    return 0;
}
