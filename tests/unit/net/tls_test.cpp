// TLS over real loopback sockets: handshakes, SNI, versions, channel bindings, shutdown.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <string>
#include <vector>

#include "net_test_support.h"
#include "parley/net/connection.h"

namespace parley::net {
namespace {

using test::handshake;
using test::makePair;
using test::runBounded;
using test::spawn;

using ClientContext = std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)>;

std::string peerCommonName(const Connection& connection) {
    X509* certificate = SSL_get0_peer_certificate(connection.ssl());
    if (certificate == nullptr) {
        return "(no certificate)";
    }
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, name, sizeof name);
    return name;
}

std::string sha256OfCertificate(X509* certificate) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    X509_digest(certificate, EVP_sha256(), digest, &length);
    return std::string(reinterpret_cast<const char*>(digest), length);
}

class Tls : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<test::TempDir>();
        std::vector<TlsServerContext::HostCertificate> hosts;
        for (std::string domain : {"a.example", "b.example", "localhost"}) {
            std::string certificate = dir_->file(domain + ".crt");
            std::string key = dir_->file(domain + ".key");
            auto made = ensureSelfSignedCertificate(certificate, key, domain);
            ASSERT_TRUE(made.has_value()) << made.error();
            hosts.push_back({domain, certificate, key});
        }
        auto server = TlsServerContext::create(hosts, "a.example");
        ASSERT_TRUE(server.has_value()) << server.error();
        server_ = std::move(*server);
    }
    static void TearDownTestSuite() {
        server_.reset();
        dir_.reset();
    }

    void SetUp() override { ASSERT_NE(client_.get(), nullptr); }

    // Handshakes `pair` and fails the test unless both sides succeed.
    void establish(test::Pair& pair, SSL_CTX* clientCtx, const std::string& sni,
                   SSL_CTX* serverCtx = nullptr) {
        std::optional<error_code> serverResult;
        std::optional<error_code> clientResult;
        ASSERT_TRUE(handshake(io_, pair, serverCtx != nullptr ? serverCtx : server_->native(), clientCtx, sni,
                              &serverResult, &clientResult));
        ASSERT_EQ(serverResult, error_code{}) << serverResult->message();
        ASSERT_EQ(clientResult, error_code{}) << clientResult->message();
    }

    // Sends `data` from `from` to `to` and checks it arrives intact.
    void transfer(Connection& from, Connection& to, const std::string& data, test::WriteStats* stats) {
        std::optional<error_code> wrote;
        std::optional<error_code> read;
        std::string received;
        spawn(io_, test::writeAll(&from, data, stats, &wrote));
        spawn(io_, test::readExactly(&to, data.size(), &received, &read));
        ASSERT_TRUE(runBounded(io_));
        ASSERT_EQ(wrote, error_code{}) << wrote->message();
        ASSERT_EQ(read, error_code{}) << read->message();
        ASSERT_EQ(received.size(), data.size());
        EXPECT_TRUE(received == data);
    }

    static std::unique_ptr<test::TempDir> dir_;
    static std::unique_ptr<TlsServerContext> server_;
    asio::io_context io_;
    ClientContext client_ = makeClientTlsContext(false);
};

std::unique_ptr<test::TempDir> Tls::dir_;
std::unique_ptr<TlsServerContext> Tls::server_;

TEST_F(Tls, HandshakesTls13AndCarriesDataBothWays) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "a.example");
    EXPECT_TRUE(pair.server->isTls());
    EXPECT_EQ(pair.server->tlsVersion(), "TLSv1.3");
    EXPECT_EQ(pair.client->tlsVersion(), "TLSv1.3");
    test::WriteStats stats;
    transfer(*pair.client, *pair.server, "<stream:stream to='a.example'>", &stats);
    transfer(*pair.server, *pair.client, "<stream:stream from='a.example'>", &stats);
}

asio::awaitable<void> waitReadable(Connection* connection, std::optional<error_code>* result) {
    const error_code ec = co_await connection->waitReadable();
    *result = ec;
}

TEST_F(Tls, ReadWithoutDataReturnsZeroAndWaitCompletesAtOnceForBufferedBytes) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "a.example");
    std::array<char, 10> small{};
    auto nothing = pair.client->readSome(small);
    ASSERT_TRUE(nothing.has_value()) << nothing.error().message();
    EXPECT_EQ(*nothing, 0u);

    test::WriteStats stats;
    std::string record(100, 'r');  // one record; the client takes it 10 bytes at a time
    std::optional<error_code> firstTen;
    std::string received;
    spawn(io_, test::writeAll(pair.server.get(), record, &stats, &firstTen));
    ASSERT_TRUE(runBounded(io_));
    std::optional<error_code> read;
    spawn(io_, test::readExactly(pair.client.get(), 10, &received, &read));
    ASSERT_TRUE(runBounded(io_));
    ASSERT_EQ(received.size(), 10u);
    // The socket is drained, but OpenSSL holds 90 decrypted bytes: the wait must not suspend.
    std::optional<error_code> ready;
    spawn(io_, waitReadable(pair.client.get(), &ready));
    io_.restart();
    io_.poll();
    EXPECT_EQ(ready, error_code{});
    auto rest = pair.client->readSome(std::span<char>(small));
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(*rest, 10u);
}

TEST_F(Tls, MegabyteBothWaysWithPartialWrites) {
    auto pair = makePair(io_, 16 * 1024);
    establish(pair, client_.get(), "a.example");
    test::WriteStats toClient;
    transfer(*pair.server, *pair.client, test::pattern(1 << 20, 3), &toClient);
    EXPECT_GT(toClient.wouldBlock + toClient.partial, 0u);
    test::WriteStats toServer;
    transfer(*pair.client, *pair.server, test::pattern(1 << 20, 4), &toServer);
    EXPECT_GT(toServer.wouldBlock + toServer.partial, 0u);
}

TEST_F(Tls, GatherWriteSendsBuffersInOrder) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "a.example");
    std::string a = "<message/>";
    std::string b(40000, 'b');  // more than one record
    std::string c = "<iq/>";
    std::vector<asio::const_buffer> buffers{asio::buffer(a), asio::const_buffer(), asio::buffer(b),
                                            asio::buffer(c)};
    std::size_t total = a.size() + b.size() + c.size();
    auto written = pair.server->writeSome(std::span<const asio::const_buffer>(buffers));
    ASSERT_TRUE(written.has_value()) << written.error().message();
    EXPECT_EQ(*written, total);  // the default loopback buffers hold it all
    std::optional<error_code> read;
    std::string received;
    spawn(io_, test::readExactly(pair.client.get(), total, &received, &read));
    ASSERT_TRUE(runBounded(io_));
    EXPECT_TRUE(received == a + b + c);
}

TEST_F(Tls, SniSelectsTheHostCertificate) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "b.example");
    EXPECT_EQ(peerCommonName(*pair.client), "b.example");
    EXPECT_EQ(pair.server->serverNameIndication(), "b.example");
    EXPECT_EQ(pair.client->serverNameIndication(), "b.example");
}

TEST_F(Tls, SniIsCaseInsensitive) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "B.Example");
    EXPECT_EQ(peerCommonName(*pair.client), "b.example");
}

TEST_F(Tls, NoSniGetsTheDefaultHost) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "");
    EXPECT_EQ(peerCommonName(*pair.client), "a.example");
    EXPECT_EQ(pair.server->serverNameIndication(), "");
}

TEST_F(Tls, UnknownSniGetsTheDefaultHostAndIsRecorded) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "unknown.example");
    EXPECT_EQ(peerCommonName(*pair.client), "a.example");
    EXPECT_EQ(pair.server->serverNameIndication(), "unknown.example");
}

TEST_F(Tls, RefusesATls11OnlyClient) {
    ClientContext old = makeClientTlsContext(false);
    // Lower the client's own security level so that it really offers TLS 1.1.
    SSL_CTX_set_security_level(old.get(), 0);
    ASSERT_EQ(SSL_CTX_set_cipher_list(old.get(), "DEFAULT:@SECLEVEL=0"), 1);
    ASSERT_EQ(SSL_CTX_set_min_proto_version(old.get(), TLS1_1_VERSION), 1);
    ASSERT_EQ(SSL_CTX_set_max_proto_version(old.get(), TLS1_1_VERSION), 1);
    auto pair = makePair(io_);
    std::optional<error_code> serverResult;
    std::optional<error_code> clientResult;
    ASSERT_TRUE(
        handshake(io_, pair, server_->native(), old.get(), "a.example", &serverResult, &clientResult));
    ASSERT_TRUE(serverResult.has_value() && *serverResult);
    EXPECT_EQ(serverResult->category(), asio::error::get_ssl_category()) << serverResult->message();
    EXPECT_TRUE(*clientResult);
    // A failed handshake leaves no way to send data.
    EXPECT_FALSE(pair.server->writeSome(std::span<const char>("x", 1)).has_value());
}

TEST_F(Tls, ChannelBindingsMatchOnBothSidesWithTls13) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "b.example");
    ChannelBindings server = pair.server->channelBindings();
    ChannelBindings client = pair.client->channelBindings();
    EXPECT_EQ(server.tlsExporter.size(), 32u);
    EXPECT_EQ(server.tlsExporter, client.tlsExporter);
    // ECDSA with SHA-256: the hash is SHA-256 of the certificate's DER.
    EXPECT_EQ(server.tlsServerEndPoint, sha256OfCertificate(SSL_get0_peer_certificate(pair.client->ssl())));
    EXPECT_EQ(server.tlsServerEndPoint, client.tlsServerEndPoint);

    auto other = makePair(io_);
    establish(other, client_.get(), "b.example");
    EXPECT_NE(other.client->channelBindings().tlsExporter, client.tlsExporter);  // unique per connection
}

TEST_F(Tls, ChannelBindingsMatchOnBothSidesWithTls12) {
    ClientContext tls12 = makeClientTlsContext(false);
    ASSERT_EQ(SSL_CTX_set_max_proto_version(tls12.get(), TLS1_2_VERSION), 1);
    auto pair = makePair(io_);
    establish(pair, tls12.get(), "a.example");
    EXPECT_EQ(pair.server->tlsVersion(), "TLSv1.2");
    ChannelBindings server = pair.server->channelBindings();
    ChannelBindings client = pair.client->channelBindings();
    EXPECT_EQ(server.tlsExporter.size(), 32u);  // extended master secret is on by default
    EXPECT_EQ(server.tlsExporter, client.tlsExporter);
    EXPECT_EQ(server.tlsServerEndPoint.size(), 32u);
    EXPECT_EQ(server.tlsServerEndPoint, client.tlsServerEndPoint);
}

TEST_F(Tls, NoExporterBindingForTls12WithoutExtendedMasterSecret) {
    ClientContext tls12 = makeClientTlsContext(false);
    ASSERT_EQ(SSL_CTX_set_max_proto_version(tls12.get(), TLS1_2_VERSION), 1);
    SSL_CTX_set_options(tls12.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
    auto pair = makePair(io_);
    establish(pair, tls12.get(), "a.example");
    EXPECT_EQ(pair.server->channelBindings().tlsExporter, "");
    EXPECT_EQ(pair.client->channelBindings().tlsExporter, "");
    EXPECT_EQ(pair.server->channelBindings().tlsServerEndPoint.size(), 32u);
}

TEST_F(Tls, CloseNotifyIsEndOfStream) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "a.example");
    // close_notify alone, with the TCP connection still open.
    ASSERT_GE(SSL_shutdown(pair.server->ssl()), 0);
    std::optional<error_code> end;
    std::string received;
    spawn(io_, test::readUntilError(pair.client.get(), &received, &end));
    ASSERT_TRUE(runBounded(io_));
    EXPECT_EQ(end, error_code(asio::error::eof));
    EXPECT_EQ(received, "");
}

TEST_F(Tls, CloseSendsCloseNotifyAndTcpEndWithoutItIsAlsoEndOfStream) {
    auto pair = makePair(io_);
    establish(pair, client_.get(), "a.example");
    pair.server->close();
    std::optional<error_code> end;
    std::string received;
    spawn(io_, test::readUntilError(pair.client.get(), &received, &end));
    ASSERT_TRUE(runBounded(io_));
    EXPECT_EQ(end, error_code(asio::error::eof));
    EXPECT_NE(SSL_get_shutdown(pair.client->ssl()) & SSL_RECEIVED_SHUTDOWN, 0);

    auto abrupt = makePair(io_);
    establish(abrupt, client_.get(), "a.example");
    abrupt.server->socket().shutdown(tcp::socket::shutdown_send);
    std::optional<error_code> cut;
    spawn(io_, test::readUntilError(abrupt.client.get(), &received, &cut));
    ASSERT_TRUE(runBounded(io_));
    EXPECT_EQ(cut, error_code(asio::error::eof));
}

TEST_F(Tls, CancelAbortsTheHandshake) {
    auto pair = makePair(io_);
    std::optional<error_code> result;
    spawn(io_, test::acceptTls(pair.server.get(), server_->native(), &result));  // the client never speaks
    asio::post(io_, [&] { pair.server->cancel(); });
    ASSERT_TRUE(runBounded(io_));
    EXPECT_EQ(result, error_code(asio::error::operation_aborted));
}

TEST_F(Tls, SurvivesKeyUpdatesInBothDirections) {
    auto pair = makePair(io_, 16 * 1024);
    establish(pair, client_.get(), "a.example");
    test::WriteStats stats;
    ASSERT_EQ(SSL_key_update(pair.server->ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    transfer(*pair.server, *pair.client, test::pattern(200000, 5), &stats);
    transfer(*pair.client, *pair.server, test::pattern(200000, 6), &stats);
    ASSERT_EQ(SSL_key_update(pair.client->ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    transfer(*pair.client, *pair.server, test::pattern(200000, 7), &stats);
    transfer(*pair.server, *pair.client, test::pattern(200000, 8), &stats);
}

TEST_F(Tls, VerifyingClientChecksTheHostName) {
    auto localhostOnly = TlsServerContext::create(
        {{"localhost", dir_->file("localhost.crt"), dir_->file("localhost.key")}}, "localhost");
    ASSERT_TRUE(localhostOnly.has_value()) << localhostOnly.error();
    ClientContext verifying = makeClientTlsContext(true);
    ASSERT_EQ(SSL_CTX_load_verify_locations(verifying.get(), dir_->file("localhost.crt").c_str(), nullptr),
              1);
    for (std::string name : {"localhost", "127.0.0.1", "::1"}) {
        auto pair = makePair(io_);
        establish(pair, verifying.get(), name, (*localhostOnly)->native());
        EXPECT_EQ(SSL_get_verify_result(pair.client->ssl()), X509_V_OK) << name;
    }
    // A trusted certificate, but for another name.
    auto pair = makePair(io_);
    std::optional<error_code> serverResult;
    std::optional<error_code> clientResult;
    ASSERT_TRUE(handshake(io_, pair, (*localhostOnly)->native(), verifying.get(), "wrong.example",
                          &serverResult, &clientResult));
    EXPECT_TRUE(*clientResult);
    EXPECT_EQ(SSL_get_verify_result(pair.client->ssl()), X509_V_ERR_HOSTNAME_MISMATCH);
    EXPECT_TRUE(*serverResult);
}

}  // namespace
}  // namespace parley::net
