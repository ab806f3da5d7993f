#pragma once
// SCRAM-SHA-1, SCRAM-SHA-256 and SCRAM-SHA-512, with and without -PLUS (RFC 5802, RFC 7677), server
// side. Usually made by makeServerMechanism; the class is public for tests (setServerNonceForTest).
#include "parley/sasl/mechanism.h"
#include "parley/sasl/scram_credential.h"

#include <optional>
#include <string>
#include <string_view>

namespace parley::sasl {

/// The exchange (RFC 5802 §5):
///   start/respond(client-first-message) -> NeedCredential{username}
///   provideCredential(credential)       -> Challenge{server-first-message}
///   respond(client-final-message)       -> Success{server-final-message} or Fail
/// Only HMACs and hashes run here; PBKDF2 ran when the credential was derived.
///
/// Unknown users (RFC 6120 §13.11): provideCredential(nullopt) fabricates a credential from
/// HMAC(fakeCredentialSecret, algorithm, username): a stable salt, defaultIterations, and keys that
/// never verify. The challenge looks like a real user's, the final step does the same work, and the
/// answer is the same Fail{NotAuthorized} as for a wrong password.
class ScramServer final : public ServerMechanism {
  public:
    /// `plus` selects the -PLUS variant, which requires channel binding.
    ScramServer(HashAlgorithm algorithm, bool plus, ServerOptions options);
    ~ScramServer() override;

    std::string_view name() const noexcept override;
    Step start(std::optional<std::string_view> initialResponse) override;
    Step respond(std::string_view response) override;
    Step provideCredential(std::optional<ScramCredential> credential) override;
    Step providePasswordCheck(bool passwordOk) override;

    /// Replaces the random server nonce part (for the RFC test vectors). Call before the challenge.
    void setServerNonceForTest(std::string nonce);

  private:
    enum class State : std::uint8_t { Initial, AwaitClientFirst, AwaitCredential, AwaitClientFinal, Done };

    Step handleClientFirst(std::string_view message);
    Step handleClientFinal(std::string_view message);
    Step fail(Failure failure, std::string_view text);

    HashAlgorithm algorithm_;
    bool plus_;
    ServerOptions options_;
    State state_ = State::Initial;
    std::string serverNonce_;
    std::string gs2Header_;        // as sent, e.g. "p=tls-exporter,,"
    std::string channelBinding_;   // cbind-data for the type the client named; empty for 'n' and 'y'
    std::string clientFirstBare_;  // as sent
    std::string nonce_;            // c-nonce + s-nonce
    std::string username_;         // unescaped
    std::string authzid_;          // unescaped, empty if absent
    std::string serverFirst_;
    ScramCredential credential_;
    bool fakeCredential_ = false;
};

}  // namespace parley::sasl
