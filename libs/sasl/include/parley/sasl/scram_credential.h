#pragma once
// What the server stores for a password: for each SCRAM hash, the salt, the iteration count, and
// StoredKey and ServerKey (RFC 5802 §3). The password itself, or SaltedPassword, is never stored, so a
// database leak does not reveal passwords, and a login costs the server no PBKDF2.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::sasl {

enum class HashAlgorithm : std::uint8_t { Sha1, Sha256, Sha512 };
std::string_view toString(HashAlgorithm algorithm) noexcept;  // "SHA-1", "SHA-256", "SHA-512"
std::optional<HashAlgorithm> hashAlgorithmFromString(std::string_view name) noexcept;
std::size_t digestSize(HashAlgorithm algorithm) noexcept;

struct ScramCredential {
    HashAlgorithm algorithm = HashAlgorithm::Sha256;
    std::string salt;  // raw bytes
    std::uint32_t iterations = 0;
    std::string storedKey;  // raw bytes, digestSize(algorithm) long
    std::string serverKey;  // raw bytes, digestSize(algorithm) long

    friend bool operator==(const ScramCredential&, const ScramCredential&) = default;
};

/// Minimum PBKDF2 iteration count for new credentials (RFC 7677 §4, RFC 5802 §5.1).
inline constexpr std::uint32_t kMinScramIterations = 4096;
/// Salt length used by deriveAllScramCredentials.
inline constexpr std::size_t kScramSaltSize = 16;

// Derives a credential from a password: SaltedPassword = PBKDF2(password, salt, iterations), then the
// keys. `password` must already be prepared (OpaqueString, RFC 8265); this runs PBKDF2 and is meant
// for registration and password change only. Minimum iterations: 4096 (RFC 7677 §4); fewer, or an
// empty salt, is a programming error and aborts (docs/STYLE.md rule 5).
ScramCredential deriveScramCredential(HashAlgorithm algorithm, std::string_view password,
                                      std::string_view salt, std::uint32_t iterations);

// Credentials for every supported hash, each with a fresh 16-byte random salt.
std::vector<ScramCredential> deriveAllScramCredentials(std::string_view password,
                                                       std::uint32_t iterations = 4096);

// Checks a plaintext password against a stored credential (SASL PLAIN, XEP-0077 password checks).
// Runs PBKDF2; compares StoredKey in constant time. A damaged credential (no salt, zero iterations,
// wrong key length) never verifies.
bool verifyPassword(const ScramCredential& credential, std::string_view password);

}  // namespace parley::sasl
