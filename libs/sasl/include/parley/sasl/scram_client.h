#pragma once
// SCRAM client (RFC 5802, RFC 7677) for tests, the client library and the benchmark. Pure logic:
// the caller sends clientFirst() with <auth/>, passes the decoded challenge to clientFinal(), and
// the decoded <success/> data to verifyServerFinal().
#include "parley/base/result.h"
#include "parley/sasl/mechanism.h"
#include "parley/sasl/scram_credential.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::sasl {

/// Channel binding the client can do on its connection.
struct ClientChannelBinding {
    std::string type;  ///< e.g. kTlsExporter or kTlsServerEndPoint
    std::string data;  ///< cbind-data of that type for this connection
};

/// SaltedPassword of one (algorithm, salt, iterations), so a client logging in again need not run
/// PBKDF2. Secret: it logs in as the user. Cache it per account and drop it when the password changes.
struct ScramSaltedPassword {
    HashAlgorithm algorithm = HashAlgorithm::Sha256;
    std::string salt;  ///< raw bytes
    std::uint32_t iterations = 0;
    std::string saltedPassword;  ///< raw bytes, digestSize(algorithm) long
};

class ScramClient {
  public:
    /// `username` and `password` must already be prepared (RFC 8265). With `channelBinding` and
    /// `serverAdvertisedPlus` the client uses the -PLUS mechanism (gs2 flag "p=<type>"); with
    /// channel binding but no -PLUS offered it sends 'y' so that a server which did offer -PLUS
    /// detects the downgrade; without channel binding it sends 'n'.
    ScramClient(HashAlgorithm algorithm, std::string username, std::string password,
                std::optional<ClientChannelBinding> channelBinding = std::nullopt,
                bool serverAdvertisedPlus = false);
    ~ScramClient();
    ScramClient(const ScramClient&) = delete;
    ScramClient& operator=(const ScramClient&) = delete;

    /// The mechanism to name in <auth/>, e.g. "SCRAM-SHA-256-PLUS".
    std::string mechanismName() const;

    /// Authorization identity to request (gs2 "a="); empty for none. Call before clientFirst().
    void setAuthzid(std::string authzid);
    /// Server-first iteration counts outside [minimum, maximum] fail clientFinal with
    /// MechanismTooWeak (too few) or MalformedRequest (too many: a hostile server could make the
    /// client spin). Defaults: [4096, 1000000].
    void setIterationLimits(std::uint32_t minimum, std::uint32_t maximum);
    /// Offers a cached SaltedPassword; clientFinal uses it if algorithm, salt and iterations match
    /// the server-first-message, and runs PBKDF2 otherwise.
    void useCachedSaltedPassword(ScramSaltedPassword cached);

    /// client-first-message (the initial response).
    std::string clientFirst();
    /// client-final-message for the server-first-message. Fails with MalformedRequest on a syntax
    /// error, a nonce that does not extend ours, or a mandatory extension (m=).
    Result<std::string, Failure> clientFinal(std::string_view serverFirst);
    /// True only if the server-final-message carries the expected ServerSignature (v=); false for
    /// an error (e=), anything malformed, or when called out of turn. Mutual authentication: a
    /// client must not trust a <success/> that fails this.
    bool verifyServerFinal(std::string_view serverFinal);

    /// After clientFinal: the SaltedPassword used, for the cache.
    const std::optional<ScramSaltedPassword>& saltedPassword() const noexcept { return salted_; }
    /// After clientFinal: whether the cached SaltedPassword was used instead of PBKDF2.
    bool usedCache() const noexcept { return usedCache_; }
    /// After verifyServerFinal: the e= value the server sent, if any.
    const std::string& serverError() const noexcept { return serverError_; }

    /// Replaces the random client nonce (for the RFC test vectors). Call before clientFirst().
    void setClientNonceForTest(std::string nonce);

  private:
    enum class State : std::uint8_t { Initial, SentFirst, SentFinal, Done };

    HashAlgorithm algorithm_;
    std::string username_;
    std::string password_;
    std::optional<ClientChannelBinding> channelBinding_;
    bool plus_;
    std::string authzid_;
    std::uint32_t minIterations_ = kMinScramIterations;
    std::uint32_t maxIterations_ = 1'000'000;
    std::optional<ScramSaltedPassword> cached_;
    std::optional<ScramSaltedPassword> salted_;
    bool usedCache_ = false;
    State state_ = State::Initial;
    std::string clientNonce_;
    std::string gs2Header_;
    std::string clientFirstBare_;
    std::string expectedServerSignature_;
    std::string serverError_;
};

}  // namespace parley::sasl
