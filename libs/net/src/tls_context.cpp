// TlsServerContext (one SSL_CTX per host, chosen by SNI) and the client context.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "openssl_util.h"
#include "parley/net/connection.h"

namespace parley::net {

namespace detail {

std::string takeOpenSslError() {
    // The earliest error is the cause ("no start line"); later ones add context ("PEM lib").
    unsigned long err = ERR_peek_error();
    std::string out;
    if (err == 0) {
        out = "unknown OpenSSL error";
    } else if (const char* reason = ERR_reason_error_string(err)) {
        out = reason;
    } else {
        char text[256];
        ERR_error_string_n(err, text, sizeof text);
        out = text;
    }
    ERR_clear_error();
    return out;
}

bool configureCommon(SSL_CTX* ctx) {
    // ECDHE groups are chosen automatically since OpenSSL 1.1.0 (SSL_CTX_set_ecdh_auto is a no-op).
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(
        ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
           SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) == 1;
}

}  // namespace detail

namespace {

bool equalsIgnoringAsciiCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) {
                   return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return lower(x) == lower(y);
           });
}

// Checks that `file` can be opened, so that the message names the system's reason rather than
// OpenSSL's less helpful "system lib".
std::string unreadableReason(const std::string& file) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (f == nullptr) {
        return std::strerror(errno);
    }
    std::fclose(f);
    return {};
}

bool isKeyMismatch(unsigned long err) {
    return ERR_GET_LIB(err) == ERR_LIB_X509 && (ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH ||
                                                ERR_GET_REASON(err) == X509_R_KEY_TYPE_MISMATCH);
}

}  // namespace

struct TlsServerContext::HostContext {
    std::string domain;
    detail::SslCtxPtr ctx;
};

TlsServerContext::~TlsServerContext() = default;

Result<std::unique_ptr<TlsServerContext>, std::string> TlsServerContext::create(
    const std::vector<HostCertificate>& hosts, const std::string& defaultDomain) {
    if (hosts.empty()) {
        return std::string("no TLS certificate configured; configure at least one for " + defaultDomain);
    }
    // The constructor is private; make_unique cannot reach it.
    std::unique_ptr<TlsServerContext> result(new TlsServerContext());
    ERR_clear_error();
    for (const HostCertificate& host : hosts) {
        for (const auto& existing : result->hosts_) {
            if (equalsIgnoringAsciiCase(existing->domain, host.domain)) {
                return "TLS certificate for " + host.domain + " is configured twice; keep one of them";
            }
        }
        detail::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
        if (!ctx || !detail::configureCommon(ctx.get())) {
            return "cannot set up TLS for " + host.domain + ": " + detail::takeOpenSslError();
        }
        SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
        // No resumption: no session cache and no TLS 1.3 tickets, so a server context keeps no
        // per-client state and a session costs nothing once its connection is gone.
        SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx.get(), 0);
        SSL_CTX_set_dh_auto(ctx.get(), 1);

        if (std::string reason = unreadableReason(host.certificateFile); !reason.empty()) {
            return "cannot read certificate " + host.certificateFile + " for " + host.domain + ": " + reason +
                   "; check the path and the file's permissions, or remove the setting to use a self-signed "
                   "certificate";
        }
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), host.certificateFile.c_str()) != 1) {
            return "cannot load certificate " + host.certificateFile + " for " + host.domain + ": " +
                   detail::takeOpenSslError() +
                   "; the file must hold PEM certificates, the host's own first, then its intermediates";
        }
        if (std::string reason = unreadableReason(host.privateKeyFile); !reason.empty()) {
            return "cannot read private key " + host.privateKeyFile + " for " + host.domain + ": " + reason +
                   "; check the path and the file's permissions (the server's user must be able to read it)";
        }
        ERR_clear_error();
        // SSL_CTX_use_PrivateKey_file already refuses a key of the same type that does not match.
        if (SSL_CTX_use_PrivateKey_file(ctx.get(), host.privateKeyFile.c_str(), SSL_FILETYPE_PEM) != 1 &&
            !isKeyMismatch(ERR_peek_error())) {
            return "cannot load private key " + host.privateKeyFile + " for " + host.domain + ": " +
                   detail::takeOpenSslError() + "; the file must hold an unencrypted PEM private key";
        }
        if (ERR_peek_error() != 0 || SSL_CTX_check_private_key(ctx.get()) != 1) {
            return "private key " + host.privateKeyFile + " does not fit certificate " +
                   host.certificateFile + " for " + host.domain + ": " + detail::takeOpenSslError() +
                   "; configure the unencrypted PEM key that was made together with this certificate";
        }
        SSL_CTX_set_tlsext_servername_callback(ctx.get(), &TlsServerContext::onServerName);
        SSL_CTX_set_tlsext_servername_arg(ctx.get(), result.get());
        auto hostContext = std::make_unique<HostContext>();
        hostContext->domain = host.domain;
        hostContext->ctx = std::move(ctx);
        result->hosts_.push_back(std::move(hostContext));
    }
    for (const auto& host : result->hosts_) {
        if (equalsIgnoringAsciiCase(host->domain, defaultDomain)) {
            result->defaultCtx_ = host->ctx.get();
        }
    }
    if (result->defaultCtx_ == nullptr) {
        return "no TLS certificate for the default domain " + defaultDomain +
               "; add one for it, since clients that send no SNI get that one";
    }
    return result;
}

int TlsServerContext::onServerName(SSL* ssl, int* /*alert*/, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) {
        return SSL_TLSEXT_ERR_NOACK;  // no SNI: keep the default domain's certificate
    }
    if (auto* connection = static_cast<Connection*>(SSL_get_app_data(ssl))) {
        connection->serverName_ = name;
    }
    const auto* self = static_cast<const TlsServerContext*>(arg);
    for (const auto& host : self->hosts_) {
        if (equalsIgnoringAsciiCase(host->domain, name)) {
            if (SSL_get_SSL_CTX(ssl) != host->ctx.get()) {
                // Takes the host's certificate and key; the options stay those of the SSL, which all
                // our contexts share.
                SSL_set_SSL_CTX(ssl, host->ctx.get());
            }
            return SSL_TLSEXT_ERR_OK;
        }
    }
    // Unknown name: the default certificate; the stream then answers host-unknown (RFC 6120 §4.9.3.6).
    return SSL_TLSEXT_ERR_NOACK;
}

std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> makeClientTlsContext(bool verifyPeer) {
    std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    if (!ctx || !detail::configureCommon(ctx.get())) {
        return {nullptr, &SSL_CTX_free};
    }
    if (verifyPeer) {
        // The host name to check is set per connection (SSL_set1_host in connectTls).
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
            ERR_clear_error();  // no system store: every verification fails, which is the safe outcome
        }
    } else {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    }
    return ctx;
}

}  // namespace parley::net
