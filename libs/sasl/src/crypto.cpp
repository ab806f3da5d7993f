#include "crypto.h"

#include "parley/base/base64.h"
#include "parley/base/random.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

namespace parley::sasl::detail {
namespace {

constexpr std::size_t kMaxBlockSize = 128;  // SHA-512

struct MdDeleter {
    void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};
struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

EVP_MD* fetch(const char* name) noexcept {
    EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
    if (md == nullptr) {
        std::fprintf(stderr, "parley: OpenSSL has no %s digest; check the OpenSSL providers configuration\n",
                     name);
        std::abort();
    }
    return md;
}

// Fetched once per process and kept: RFC 5802 needs only these three digests.
const EVP_MD* evpMd(HashAlgorithm algorithm) noexcept {
    static const std::array<std::unique_ptr<EVP_MD, MdDeleter>, 3> mds = {
        std::unique_ptr<EVP_MD, MdDeleter>(fetch("SHA1")),
        std::unique_ptr<EVP_MD, MdDeleter>(fetch("SHA256")),
        std::unique_ptr<EVP_MD, MdDeleter>(fetch("SHA512")),
    };
    return mds[static_cast<std::size_t>(algorithm)].get();
}

// One reusable context per thread, so that a hash allocates nothing inside OpenSSL.
EVP_MD_CTX* threadContext() noexcept {
    thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    if (!ctx)
        invariantViolated("EVP_MD_CTX_new failed (out of memory)");
    return ctx.get();
}

void check(int ok, const char* what) noexcept {
    if (ok != 1)
        invariantViolated(what);
}

// Digest of the concatenation of up to two parts into `out` (EVP_MAX_MD_SIZE bytes).
unsigned digestInto(const EVP_MD* md, const void* a, std::size_t aSize, const void* b, std::size_t bSize,
                    unsigned char* out) noexcept {
    EVP_MD_CTX* ctx = threadContext();
    unsigned size = 0;
    check(EVP_DigestInit_ex2(ctx, md, nullptr), "EVP_DigestInit_ex2 failed");
    check(EVP_DigestUpdate(ctx, a, aSize), "EVP_DigestUpdate failed");
    if (bSize > 0)
        check(EVP_DigestUpdate(ctx, b, bSize), "EVP_DigestUpdate failed");
    check(EVP_DigestFinal_ex(ctx, out, &size), "EVP_DigestFinal_ex failed");
    return size;
}

}  // namespace

void invariantViolated(const char* what) noexcept {
    std::fprintf(stderr, "parley::sasl: broken invariant: %s\n", what);
    std::abort();
}

std::string hash(HashAlgorithm algorithm, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    const unsigned size = digestInto(evpMd(algorithm), data.data(), data.size(), nullptr, 0, out);
    return std::string(reinterpret_cast<const char*>(out), size);
}

std::string hmac(HashAlgorithm algorithm, std::string_view key, std::string_view data) {
    // RFC 2104 §2: H((K ^ opad) || H((K ^ ipad) || text)), K zero-padded to the block size and
    // hashed first if longer than a block.
    const EVP_MD* md = evpMd(algorithm);
    const auto blockSize = static_cast<std::size_t>(EVP_MD_get_block_size(md));
    unsigned char k[kMaxBlockSize] = {};
    if (key.size() > blockSize) {
        digestInto(md, key.data(), key.size(), nullptr, 0, k);
    } else {
        std::memcpy(k, key.data(), key.size());
    }
    unsigned char pad[kMaxBlockSize];
    for (std::size_t i = 0; i < blockSize; ++i)
        pad[i] = k[i] ^ 0x36;
    unsigned char inner[EVP_MAX_MD_SIZE];
    const unsigned innerSize = digestInto(md, pad, blockSize, data.data(), data.size(), inner);
    for (std::size_t i = 0; i < blockSize; ++i)
        pad[i] = k[i] ^ 0x5c;
    unsigned char out[EVP_MAX_MD_SIZE];
    const unsigned size = digestInto(md, pad, blockSize, inner, innerSize, out);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    return std::string(reinterpret_cast<const char*>(out), size);
}

std::string pbkdf2(HashAlgorithm algorithm, std::string_view password, std::string_view salt,
                   std::uint32_t iterations) {
    constexpr auto kIntMax = static_cast<std::size_t>(std::numeric_limits<int>::max());
    if (iterations == 0 || iterations > kIntMax || password.size() > kIntMax || salt.size() > kIntMax) {
        invariantViolated("pbkdf2: iteration count or input size out of range");
    }
    std::string out(digestSize(algorithm), '\0');
    check(PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                            reinterpret_cast<const unsigned char*>(salt.data()),
                            static_cast<int>(salt.size()), static_cast<int>(iterations), evpMd(algorithm),
                            static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data())),
          "PKCS5_PBKDF2_HMAC failed");
    return out;
}

bool constantTimeEqual(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void cleanse(std::string& secret) noexcept {
    if (!secret.empty())
        OPENSSL_cleanse(secret.data(), secret.size());
}

std::string makeNonce() {
    constexpr std::size_t kNonceBytes = 18;
    constexpr std::size_t kPoolSize = kNonceBytes * 57;  // about 1 KiB
    thread_local std::string pool;
    thread_local std::size_t used = kPoolSize;
    if (used == kPoolSize) {
        pool = randomBytes(kPoolSize);
        used = 0;
    }
    std::string nonce = base64Encode(std::string_view(pool).substr(used, kNonceBytes));
    OPENSSL_cleanse(pool.data() + used, kNonceBytes);  // never hand out the same bytes twice
    used += kNonceBytes;
    return nonce;
}

std::string xorBytes(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        invariantViolated("xorBytes: lengths differ");
    std::string out(a.size(), '\0');
    for (std::size_t i = 0; i < a.size(); ++i)
        out[i] = static_cast<char>(a[i] ^ b[i]);
    return out;
}

}  // namespace parley::sasl::detail
