#include "parley/sasl/scram_credential.h"

#include "crypto.h"
#include "parley/base/random.h"

namespace parley::sasl {

std::string_view toString(HashAlgorithm algorithm) noexcept {
    switch (algorithm) {
        case HashAlgorithm::Sha1:
            return "SHA-1";
        case HashAlgorithm::Sha256:
            return "SHA-256";
        case HashAlgorithm::Sha512:
            return "SHA-512";
    }
    return "SHA-256";  // unreachable for valid enumerators
}

std::optional<HashAlgorithm> hashAlgorithmFromString(std::string_view name) noexcept {
    for (HashAlgorithm a : {HashAlgorithm::Sha1, HashAlgorithm::Sha256, HashAlgorithm::Sha512}) {
        if (toString(a) == name)
            return a;
    }
    return std::nullopt;
}

std::size_t digestSize(HashAlgorithm algorithm) noexcept {
    switch (algorithm) {
        case HashAlgorithm::Sha1:
            return 20;
        case HashAlgorithm::Sha256:
            return 32;
        case HashAlgorithm::Sha512:
            return 64;
    }
    return 32;
}

namespace detail {

// RFC 5802 §3: ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
// ServerKey = HMAC(SaltedPassword, "Server Key").
ScramCredential credentialFromSaltedPassword(HashAlgorithm algorithm, std::string_view saltedPassword,
                                             std::string_view salt, std::uint32_t iterations) {
    ScramCredential credential;
    credential.algorithm = algorithm;
    credential.salt = std::string(salt);
    credential.iterations = iterations;
    std::string clientKey = hmac(algorithm, saltedPassword, "Client Key");
    credential.storedKey = hash(algorithm, clientKey);
    credential.serverKey = hmac(algorithm, saltedPassword, "Server Key");
    cleanse(clientKey);
    return credential;
}

}  // namespace detail

ScramCredential deriveScramCredential(HashAlgorithm algorithm, std::string_view password,
                                      std::string_view salt, std::uint32_t iterations) {
    // Preconditions, not peer input: the caller chooses salt and iteration count.
    if (iterations < kMinScramIterations) {
        detail::invariantViolated("deriveScramCredential: fewer than 4096 iterations (RFC 7677 §4)");
    }
    if (salt.empty())
        detail::invariantViolated("deriveScramCredential: empty salt");
    std::string saltedPassword = detail::pbkdf2(algorithm, password, salt, iterations);
    ScramCredential credential =
        detail::credentialFromSaltedPassword(algorithm, saltedPassword, salt, iterations);
    detail::cleanse(saltedPassword);
    return credential;
}

std::vector<ScramCredential> deriveAllScramCredentials(std::string_view password, std::uint32_t iterations) {
    std::vector<ScramCredential> out;
    out.reserve(3);
    for (HashAlgorithm a : {HashAlgorithm::Sha1, HashAlgorithm::Sha256, HashAlgorithm::Sha512}) {
        out.push_back(deriveScramCredential(a, password, randomBytes(kScramSaltSize), iterations));
    }
    return out;
}

bool verifyPassword(const ScramCredential& credential, std::string_view password) {
    // A credential read from storage may be damaged; that is a failed check, not a crash.
    if (credential.iterations == 0 || credential.salt.empty() ||
        credential.storedKey.size() != digestSize(credential.algorithm)) {
        return false;
    }
    std::string saltedPassword =
        detail::pbkdf2(credential.algorithm, password, credential.salt, credential.iterations);
    std::string clientKey = detail::hmac(credential.algorithm, saltedPassword, "Client Key");
    const bool ok =
        detail::constantTimeEqual(detail::hash(credential.algorithm, clientKey), credential.storedKey);
    detail::cleanse(saltedPassword);
    detail::cleanse(clientKey);
    return ok;
}

}  // namespace parley::sasl
