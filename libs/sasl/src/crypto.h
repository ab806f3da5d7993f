#pragma once
// Hashing for SCRAM on OpenSSL 3. The EVP_MD objects are fetched once (an implicit fetch per call
// costs more than the hash itself on short inputs), and HMAC is built on EVP_Digest with the
// ipad/opad blocks of RFC 2104 rather than on EVP_MAC, whose per-call setup dominates at these sizes.
#include "parley/sasl/scram_credential.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::sasl::detail {

// H(data), digestSize(algorithm) bytes.
std::string hash(HashAlgorithm algorithm, std::string_view data);

// HMAC(key, data) per RFC 2104, digestSize(algorithm) bytes.
std::string hmac(HashAlgorithm algorithm, std::string_view key, std::string_view data);

// PBKDF2 with HMAC as PRF and one output block (RFC 5802 §2.2 Hi()). `iterations` must be >= 1.
std::string pbkdf2(HashAlgorithm algorithm, std::string_view password, std::string_view salt,
                   std::uint32_t iterations);

// Equal length and equal bytes, in time that depends only on the lengths (CRYPTO_memcmp).
bool constantTimeEqual(std::string_view a, std::string_view b) noexcept;

// Overwrites a secret before its memory is released (OPENSSL_cleanse cannot be optimised away).
void cleanse(std::string& secret) noexcept;

// a XOR b; both must have the same length.
std::string xorBytes(std::string_view a, std::string_view b);

// RFC 5802 §3 keys from SaltedPassword: StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key").
ScramCredential credentialFromSaltedPassword(HashAlgorithm algorithm, std::string_view saltedPassword,
                                             std::string_view salt, std::uint32_t iterations);

// A fresh SCRAM nonce: 18 CSPRNG bytes as 24 base64 characters, all in RFC 5802's "printable".
// RAND_bytes costs microseconds per call in OpenSSL 3.0, so each thread draws 1 KiB at a time and
// hands out slices. Nonces are public once sent; only their unpredictability matters. (A process
// that forks after making nonces would share the pool; the server does not fork.)
std::string makeNonce();

// For broken invariants (docs/STYLE.md rule 5): prints `what` and aborts.
[[noreturn]] void invariantViolated(const char* what) noexcept;

}  // namespace parley::sasl::detail
