#pragma once
// net::Connection: one TCP connection, plain or with TLS, driven by the single coroutine that owns it
// (docs/STYLE.md rule 6). Reads and writes are non-blocking calls made after a readiness wait, so an
// idle connection holds no read buffer: the owner reads into a per-thread buffer and parses at once.
//
// TLS is OpenSSL directly on the socket (SSL_set_fd) with SSL_MODE_RELEASE_BUFFERS, not
// asio::ssl::stream, whose two 17 KiB record buffers per connection would exceed our memory budget
// (docs/benchmarks.md, reference: 13 KiB per idle TLS session with released buffers).
#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "parley/base/result.h"

namespace parley::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// RFC 5056 channel-binding data of an established TLS connection, for SCRAM-*-PLUS (RFC 5802 §6).
struct ChannelBindings {
    // RFC 9266: 32 bytes, label "EXPORTER-Channel-Binding", no context (TLS 1.3; also 1.2 with EMS).
    std::string tlsExporter;
    // RFC 5929 §4: hash of the server certificate (SHA-256 for SHA-1/MD5 signatures).
    std::string tlsServerEndPoint;
};

class Connection {
  public:
    explicit Connection(tcp::socket socket);  // makes the socket non-blocking and sets TCP_NODELAY
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Completes when readSome can make progress (data, end of stream or an error), or with
    // asio::error::operation_aborted after cancel(). With TLS, completes at once if OpenSSL already
    // holds decrypted bytes.
    asio::awaitable<error_code> waitReadable();
    // Completes when writeSome can make progress, or operation_aborted after cancel().
    asio::awaitable<error_code> waitWritable();

    // Reads available bytes without blocking. Returns the count (0 means "would block"), or an error:
    // asio::error::eof when the peer closed (for TLS: close_notify or TCP end).
    Result<std::size_t, error_code> readSome(std::span<char> buffer);
    // Writes as much as possible without blocking; returns the count (0 means "would block").
    // With TLS, the call after a would-block must start with the same bytes (OpenSSL's write retry
    // rule); a queue that is only appended to and trimmed by the count written does that.
    Result<std::size_t, error_code> writeSome(std::span<const char> data);
    // Gather write of `buffers` in order, so that a session can flush many queued stanzas with one
    // call: one sendmsg(2) for plain TCP; with TLS, SSL_write on each buffer in turn until one would
    // block. Same result convention and retry rule as writeSome.
    Result<std::size_t, error_code> writeSome(std::span<const asio::const_buffer> buffers);

    // Server-side TLS handshake (after <proceed/> for STARTTLS, or at once for direct TLS, XEP-0368).
    // `ctx` must outlive the connection. Completes with operation_aborted after cancel().
    asio::awaitable<error_code> acceptTls(SSL_CTX* ctx);
    // Client-side TLS handshake, sending `serverName` as SNI (tests, client library, benchmark).
    asio::awaitable<error_code> connectTls(SSL_CTX* ctx, std::string serverName);

    bool isTls() const noexcept { return ssl_ != nullptr; }
    SSL* ssl() const noexcept { return ssl_; }
    // The SNI host name the client sent ("" if none or no TLS).
    std::string serverNameIndication() const;
    std::string tlsVersion() const;  // "TLSv1.3", or "" without TLS
    ChannelBindings channelBindings() const;

    // Wakes a pending wait with operation_aborted. Safe to call only from the connection's executor.
    void cancel();
    // Best-effort TLS close_notify, then shuts down and closes the socket. Idempotent.
    void close();
    bool isOpen() const noexcept;

    const tcp::endpoint& remoteEndpoint() const noexcept { return remote_; }
    tcp::socket& socket() noexcept { return socket_; }

  private:
    // Which readiness the next wait must use: OpenSSL may need to write while reading (a TLS 1.3
    // KeyUpdate answer) or to read while writing.
    enum class Want : unsigned char { read, write };

    asio::awaitable<error_code> waitFor(tcp::socket::wait_type type);
    asio::awaitable<error_code> handshake(SSL_CTX* ctx, bool server, std::string serverName);
    Result<std::size_t, error_code> tlsWrite(const char* data, std::size_t size);
    error_code tlsError(int ret);
    friend class TlsServerContext;  // its SNI callback records serverName_

    tcp::socket socket_;
    tcp::endpoint remote_;
    SSL* ssl_ = nullptr;
    std::string serverName_;  // SNI: sent (client) or received (server)
    Want readWants_ = Want::read;
    Want writeWants_ = Want::write;
    bool readBlocked_ = false;  // the last SSL_read lacked a full record: only the socket can help
    bool tlsBroken_ = false;    // after a fatal TLS error OpenSSL forbids SSL_shutdown
    bool closed_ = false;
};

// An SSL_CTX for servers: TLS 1.2 or later, SSL_MODE_RELEASE_BUFFERS, no renegotiation
// (CVE-2021-32920), no compression, server cipher preference; one certificate per host chosen by SNI,
// with `defaultDomain`'s certificate for clients that send no SNI or an unknown one.
class TlsServerContext {
  public:
    struct HostCertificate {
        std::string domain;
        std::string certificateFile;  // PEM chain
        std::string privateKeyFile;   // PEM
    };
    // The error says which file failed and why ("cannot read certificate var/certs/x.crt: No such file").
    static Result<std::unique_ptr<TlsServerContext>, std::string> create(
        const std::vector<HostCertificate>& hosts, const std::string& defaultDomain);
    ~TlsServerContext();
    SSL_CTX* native() const noexcept { return defaultCtx_; }

  private:
    TlsServerContext() = default;
    static int onServerName(SSL* ssl, int* alert, void* arg);
    SSL_CTX* defaultCtx_ = nullptr;
    struct HostContext;
    std::vector<std::unique_ptr<HostContext>> hosts_;
};

// An SSL_CTX for clients. verifyPeer=false accepts any certificate (tests against self-signed servers).
std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> makeClientTlsContext(bool verifyPeer);

// Creates a self-signed ECDSA P-256 certificate for `domain` (CN and subjectAltName dNSName, valid one
// year, key file mode 0600) unless both files exist. Returns whether it created them.
Result<bool, std::string> ensureSelfSignedCertificate(const std::string& certificateFile,
                                                      const std::string& privateKeyFile,
                                                      const std::string& domain);

}  // namespace parley::net
