#pragma once
// Private helpers shared by the net sources: owning pointers for OpenSSL objects and error text.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace parley::net::detail {

template <auto FreeFunction>
struct OpenSslDeleter {
    template <class T>
    void operator()(T* p) const noexcept {
        FreeFunction(p);
    }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslDeleter<SSL_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;

// The reason of the most recent error on this thread's OpenSSL error queue ("key values mismatch"),
// then clears the queue so that it cannot leak into the next SSL_get_error.
std::string takeOpenSslError();

// Cipher suites for TLS 1.2: OpenSSL's defaults without the weak ones (no forward secrecy, SHA-1 MACs,
// 64-bit blocks, export or anonymous suites). TLS 1.3 suites are all AEAD and stay at the defaults.
inline constexpr const char* kTls12Ciphers =
    "DEFAULT:!aNULL:!eNULL:!EXPORT:!LOW:!MD5:!RC4:!DES:!3DES:!IDEA:!SEED:!kRSA:!PSK:!SRP:!SHA1";

// Applies what servers and clients share: TLS 1.2 minimum, no renegotiation (CVE-2021-32920), no
// compression (CRIME), TLS 1.2 ciphers above, and the buffer modes Connection relies on.
bool configureCommon(SSL_CTX* ctx);

}  // namespace parley::net::detail
