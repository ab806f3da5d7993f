#include "parley/net/connection.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <mutex>

#include "openssl_util.h"

namespace parley::net {

namespace {

// OpenSSL's socket BIO (SSL_set_fd) writes with write(2), not send(MSG_NOSIGNAL), so a write to a peer
// that has gone would raise SIGPIPE and kill the server. Ignore it once, unless the program installed
// its own handler.
void ignoreSigpipeOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
            struct sigaction ignore {};
            ignore.sa_handler = SIG_IGN;
            sigemptyset(&ignore.sa_mask);
            ::sigaction(SIGPIPE, &ignore, nullptr);
        }
    });
}

error_code sslCategoryError(unsigned long err) {
    // asio's "asio.ssl" category renders the OpenSSL reason ("unsupported protocol").
    return error_code(static_cast<int>(err), asio::error::get_ssl_category());
}

bool isIpLiteral(const std::string& name) {
    error_code ec;
    asio::ip::make_address(name, ec);
    return !ec;
}

constexpr long kConnectionModes =
    SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;

}  // namespace

Connection::Connection(tcp::socket socket) : socket_(std::move(socket)) {
    error_code ec;
    socket_.non_blocking(true, ec);
    // XMPP is many small stanzas; Nagle would add up to 40 ms to each answer.
    socket_.set_option(tcp::no_delay(true), ec);
    remote_ = socket_.remote_endpoint(ec);
}

Connection::~Connection() {
    // No close_notify here: the destructor must not do I/O; close() is the orderly way out.
    SSL_free(ssl_);
}

namespace {

// An awaitable that is ready at once (its frame ends before the caller resumes).
asio::awaitable<error_code> readyNow() {
    co_return error_code{};
}

}  // namespace

asio::awaitable<error_code> Connection::waitFor(tcp::socket::wait_type type) {
    // Not a coroutine: an idle connection's session is parked here, and a coroutine per level of
    // this chain (waitReadable, waitFor) kept a suspended frame of up to 900 bytes per connection.
    // The (exception_ptr, error_code) signature makes use_awaitable hand the error_code back instead
    // of throwing it. asio re-arms the descriptor (EPOLL_CTL_MOD) for every wait, so a wait on a
    // socket that is already readable or writable completes at once even after a partial read.
    auto initiation = [this, type](auto handler) {
        auto executor = asio::get_associated_executor(handler);
        socket_.async_wait(
            type, asio::bind_executor(executor, [handler = std::move(handler)](const error_code& ec) mutable {
                std::move(handler)(std::exception_ptr(), ec);
            }));
    };
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, error_code)>(
        std::move(initiation), asio::use_awaitable);
}

asio::awaitable<error_code> Connection::waitReadable() {
    tcp::socket::wait_type type = tcp::socket::wait_read;
    if (ssl_ != nullptr && !tlsBroken_) {
        // Decrypted bytes are waiting in OpenSSL, so the socket may never become readable again.
        // SSL_has_pending() also counts a partial record; after SSL_read said WANT_READ only the
        // socket can complete it, and completing at once then would spin.
        if (SSL_pending(ssl_) > 0 || (SSL_has_pending(ssl_) == 1 && !readBlocked_)) {
            return readyNow();
        }
        if (readWants_ == Want::write) {
            type = tcp::socket::wait_write;
        }
    }
    return waitFor(type);
}

asio::awaitable<error_code> Connection::waitWritable() {
    return waitFor(ssl_ != nullptr && writeWants_ == Want::read ? tcp::socket::wait_read
                                                                : tcp::socket::wait_write);
}

error_code Connection::tlsError(int sslError) {
    switch (sslError) {
        case SSL_ERROR_ZERO_RETURN:
            // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) TCP end without one.
            return asio::error::eof;
        case SSL_ERROR_SYSCALL: {
            tlsBroken_ = true;
            int savedErrno = errno;
            unsigned long err = ERR_get_error();
            ERR_clear_error();
            if (err != 0) {
                return sslCategoryError(err);
            }
            if (savedErrno != 0) {
                return error_code(savedErrno, boost::system::system_category());
            }
            return asio::error::eof;
        }
        default: {
            tlsBroken_ = true;
            unsigned long err = ERR_peek_last_error();
            ERR_clear_error();
            return err != 0 ? sslCategoryError(err) : error_code(asio::error::fault);
        }
    }
}

Result<std::size_t, error_code> Connection::readSome(std::span<char> buffer) {
    if (!socket_.is_open()) {
        return error_code(asio::error::bad_descriptor);
    }
    if (ssl_ == nullptr) {
        error_code ec;
        std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            return std::size_t{0};
        }
        if (ec) {
            return ec;
        }
        return n;
    }
    if (tlsBroken_) {
        return error_code(asio::error::broken_pipe);
    }
    if (buffer.empty()) {
        return std::size_t{0};
    }
    ERR_clear_error();
    std::size_t n = 0;
    int ret = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
    if (ret == 1) {
        readWants_ = Want::read;
        readBlocked_ = false;
        return n;
    }
    int sslError = SSL_get_error(ssl_, ret);
    switch (sslError) {
        case SSL_ERROR_WANT_READ:
            readWants_ = Want::read;
            readBlocked_ = true;
            return std::size_t{0};
        case SSL_ERROR_WANT_WRITE:
            // TLS 1.3 KeyUpdate: OpenSSL must send its answer before it can read on.
            readWants_ = Want::write;
            readBlocked_ = false;
            return std::size_t{0};
        default:
            return tlsError(sslError);
    }
}

Result<std::size_t, error_code> Connection::tlsWrite(const char* data, std::size_t size) {
    // With SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_write_ex returns after each record; loop until everything
    // is written or the socket is full. After a would-block, OpenSSL requires the next call to start
    // with the same bytes (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets them live at another address);
    // a queue that is only appended to satisfies this.
    std::size_t total = 0;
    while (total < size) {
        ERR_clear_error();
        std::size_t n = 0;
        int ret = SSL_write_ex(ssl_, data + total, size - total, &n);
        if (ret == 1) {
            writeWants_ = Want::write;
            total += n;
            continue;
        }
        int sslError = SSL_get_error(ssl_, ret);
        if (sslError == SSL_ERROR_WANT_WRITE || sslError == SSL_ERROR_WANT_READ) {
            writeWants_ = sslError == SSL_ERROR_WANT_READ ? Want::read : Want::write;
            return total;
        }
        error_code ec = tlsError(sslError);
        if (total > 0) {
            return total;  // report the progress; the next call reports the broken connection
        }
        return ec;
    }
    return total;
}

Result<std::size_t, error_code> Connection::writeSome(std::span<const char> data) {
    if (!socket_.is_open()) {
        return error_code(asio::error::bad_descriptor);
    }
    if (ssl_ != nullptr) {
        if (tlsBroken_) {
            return error_code(asio::error::broken_pipe);
        }
        return tlsWrite(data.data(), data.size());
    }
    error_code ec;
    std::size_t n = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        return std::size_t{0};
    }
    if (ec) {
        return ec;
    }
    return n;
}

Result<std::size_t, error_code> Connection::writeSome(std::span<const asio::const_buffer> buffers) {
    if (!socket_.is_open()) {
        return error_code(asio::error::bad_descriptor);
    }
    if (ssl_ == nullptr) {
        // One sendmsg(2) with an iovec per buffer (asio passes at most 64 per call).
        error_code ec;
        std::size_t n = socket_.write_some(buffers, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            return std::size_t{0};
        }
        if (ec) {
            return ec;
        }
        return n;
    }
    if (tlsBroken_) {
        return error_code(asio::error::broken_pipe);
    }
    // OpenSSL has no gather write: write the buffers in order until one would block. Each SSL_write
    // still makes its own records, so many tiny buffers cost one record each; the session batches
    // stanzas into buffers of a useful size.
    std::size_t total = 0;
    for (const asio::const_buffer& buffer : buffers) {
        if (buffer.size() == 0) {
            continue;
        }
        auto written = tlsWrite(static_cast<const char*>(buffer.data()), buffer.size());
        if (!written) {
            if (total > 0) {
                return total;
            }
            return written.error();
        }
        total += *written;
        if (*written < buffer.size()) {
            break;  // would block
        }
    }
    return total;
}

asio::awaitable<error_code> Connection::acceptTls(SSL_CTX* ctx) {
    const error_code ec = co_await handshake(ctx, true, std::string());
    co_return ec;
}

asio::awaitable<error_code> Connection::connectTls(SSL_CTX* ctx, std::string serverName) {
    const error_code ec = co_await handshake(ctx, false, std::move(serverName));
    co_return ec;
}

asio::awaitable<error_code> Connection::handshake(SSL_CTX* ctx, bool server, std::string serverName) {
    if (ssl_ != nullptr) {
        co_return error_code(asio::error::already_started);
    }
    if (!socket_.is_open()) {
        co_return error_code(asio::error::bad_descriptor);
    }
    ignoreSigpipeOnce();
    ERR_clear_error();
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr) {
        co_return sslCategoryError(ERR_get_error());
    }
    SSL_set_mode(ssl_, kConnectionModes);
    SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_set_app_data(ssl_, this);  // for TlsServerContext's SNI callback
    if (SSL_set_fd(ssl_, socket_.native_handle()) != 1) {
        tlsBroken_ = true;
        co_return sslCategoryError(ERR_get_error());
    }
    if (server) {
        SSL_set_accept_state(ssl_);
    } else {
        SSL_set_connect_state(ssl_);
        if (!serverName.empty()) {
            // RFC 6066 §3: SNI carries host names only, never address literals.
            if (!isIpLiteral(serverName)) {
                SSL_set_tlsext_host_name(ssl_, serverName.c_str());
                serverName_ = serverName;
            }
            if ((SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) != 0) {
                // RFC 6125 host name check (SSL_set1_host also accepts an IP address literal).
                SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                SSL_set1_host(ssl_, serverName.c_str());
            }
        }
    }
    for (;;) {
        ERR_clear_error();
        int ret = SSL_do_handshake(ssl_);
        if (ret == 1) {
            break;
        }
        int sslError = SSL_get_error(ssl_, ret);
        tcp::socket::wait_type type;
        if (sslError == SSL_ERROR_WANT_READ) {
            type = tcp::socket::wait_read;
        } else if (sslError == SSL_ERROR_WANT_WRITE) {
            type = tcp::socket::wait_write;
        } else {
            error_code ec = tlsError(sslError);
            tlsBroken_ = true;  // a failed handshake cannot be resumed or shut down cleanly
            co_return ec;
        }
        // GCC 12 miscompiles co_await inside an if condition (the frame's `this` is lost); keep it a
        // plain statement.
        const error_code waitError = co_await waitFor(type);
        if (waitError) {
            tlsBroken_ = true;
            co_return waitError;
        }
    }
    if (server && serverName_.empty()) {
        // Only when the context is not a TlsServerContext, whose callback has recorded it already.
        if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
            serverName_ = name;
        }
    }
    co_return error_code{};
}

std::string Connection::serverNameIndication() const {
    return ssl_ != nullptr ? serverName_ : std::string();
}

std::string Connection::tlsVersion() const {
    if (ssl_ == nullptr) {
        return {};
    }
    return SSL_get_version(ssl_);
}

ChannelBindings Connection::channelBindings() const {
    ChannelBindings out;
    if (ssl_ == nullptr || SSL_is_init_finished(ssl_) != 1) {
        return out;
    }
    // RFC 9266 §3: tls-exporter is defined for TLS 1.3, and for TLS 1.2 only with the extended master
    // secret (RFC 7627), without which the exporter is not unique to the connection.
    int version = SSL_version(ssl_);
    if (version == TLS1_3_VERSION || (version == TLS1_2_VERSION && SSL_get_extms_support(ssl_) == 1)) {
        static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
        unsigned char exported[32];
        if (SSL_export_keying_material(ssl_, exported, sizeof exported, kLabel, sizeof kLabel - 1, nullptr, 0,
                                       0) == 1) {
            out.tlsExporter.assign(reinterpret_cast<const char*>(exported), sizeof exported);
        }
    }
    // RFC 5929 §4.1: hash of the server's certificate, with the hash of its signature algorithm, but
    // SHA-256 in place of MD5 and SHA-1. Undefined (left empty) for algorithms without a single hash,
    // such as Ed25519.
    X509* certificate =
        SSL_is_server(ssl_) == 1 ? SSL_get_certificate(ssl_) : SSL_get0_peer_certificate(ssl_);
    int mdNid = NID_undef;
    if (certificate != nullptr &&
        X509_get_signature_info(certificate, &mdNid, nullptr, nullptr, nullptr) == 1 && mdNid != NID_undef) {
        if (mdNid == NID_md5 || mdNid == NID_sha1) {
            mdNid = NID_sha256;
        }
        const EVP_MD* md = EVP_get_digestbynid(mdNid);
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        if (md != nullptr && X509_digest(certificate, md, digest, &length) == 1) {
            out.tlsServerEndPoint.assign(reinterpret_cast<const char*>(digest), length);
        }
    }
    ERR_clear_error();
    return out;
}

void Connection::cancel() {
    error_code ec;
    socket_.cancel(ec);
}

void Connection::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    if (ssl_ != nullptr && !tlsBroken_ && SSL_is_init_finished(ssl_) == 1 && socket_.is_open()) {
        // Best effort, non-blocking: if the socket is full the peer sees a TCP end instead.
        ERR_clear_error();
        SSL_shutdown(ssl_);
        ERR_clear_error();
    }
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
}

bool Connection::isOpen() const noexcept {
    return socket_.is_open() && !closed_;
}

}  // namespace parley::net
