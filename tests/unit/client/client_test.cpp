// The client library against a real in-process server over TCP and TLS: connection and certificate
// checks, SRV through an injected resolver, the seed flow (register, log in, add a friend, accept,
// roster, chat, history), account, profile and discovery calls, stream management and reconnection.
// Nothing sleeps: every wait is for an event, bounded by a timeout that only fails the test.
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdio>
#include <map>
#include <thread>

#include "codecs.h"
#include "parley/client/blocking_client.h"
#include "parley/client/client.h"
#include "test_server.h"

namespace parley::client {
namespace {

using namespace std::chrono_literals;

std::string fingerprintOfPemFile(const std::filesystem::path& path) {
    FILE* file = std::fopen(path.c_str(), "r");
    if (!file)
        return {};
    X509* certificate = PEM_read_X509(file, nullptr, nullptr, nullptr);
    std::fclose(file);
    if (!certificate)
        return {};
    unsigned char* der = nullptr;
    const int length = i2d_X509(certificate, &der);
    std::string out = codec::fingerprintHex(std::string_view(reinterpret_cast<char*>(der), length));
    OPENSSL_free(der);
    X509_free(certificate);
    return out;
}

// A DER certificate with the given subjectAltName (OpenSSL's config syntax) and a CN that names nothing
// useful; the names, not the signature, are what is checked here.
std::string certificateWithNames(const std::string& subjectAltName) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* certificate = X509_new();
    X509_set_version(certificate, 2);
    X509_gmtime_adj(X509_getm_notBefore(certificate), 0);
    X509_gmtime_adj(X509_getm_notAfter(certificate), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(certificate), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("not-the-domain"), -1, -1, 0);
    X509_set_issuer_name(certificate, X509_get_subject_name(certificate));
    X509_set_pubkey(certificate, key);
    X509_EXTENSION* names =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, subjectAltName.c_str());
    EXPECT_NE(names, nullptr) << subjectAltName;
    X509_add_ext(certificate, names, -1);
    X509_EXTENSION_free(names);
    X509_sign(certificate, key, EVP_sha256());
    unsigned char* der = nullptr;
    const int length = i2d_X509(certificate, &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    X509_free(certificate);
    EVP_PKEY_free(key);
    return out;
}

TEST(CertificateNamesTest, XmppAddrAndSrvIdNameTheDomain) {
    // RFC 6120 §13.7.1.4 XmppAddr (UTF8String), RFC 6125 §6.4.1 SRV-ID (IA5String).
    const std::string xmppAddr = certificateWithNames("otherName:1.3.6.1.5.5.7.8.5;UTF8:Example.ORG");
    EXPECT_TRUE(codec::certificateHasXmppName(xmppAddr, "example.org", "example.org"));
    EXPECT_FALSE(codec::certificateHasXmppName(xmppAddr, "example.net", "example.net"));
    const std::string srvId =
        certificateWithNames("otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-client.example.org");
    EXPECT_TRUE(codec::certificateHasXmppName(srvId, "example.org", "example.org"));
    EXPECT_FALSE(codec::certificateHasXmppName(srvId, "other.org", "other.org"));
    const std::string directSrvId =
        certificateWithNames("otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpps-client.example.org");
    EXPECT_TRUE(codec::certificateHasXmppName(directSrvId, "example.org", "example.org"));
    // An SRV-ID for another service (server-to-server) does not make a client certificate check pass.
    const std::string serverSrvId =
        certificateWithNames("otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-server.example.org");
    EXPECT_FALSE(codec::certificateHasXmppName(serverSrvId, "example.org", "example.org"));
    // Internationalized: the XmppAddr holds UTF-8, the SRV-ID A-labels.
    const std::string idn = certificateWithNames(
        "otherName:1.3.6.1.5.5.7.8.5;UTF8:b\xC3\xBC"
        "cher.example,otherName:1.3.6.1.5.5.7.8.7;IA5STRING:_xmpp-"
        "client.xn--bcher-kva.example");
    EXPECT_TRUE(codec::certificateHasXmppName(idn,
                                              "b\xC3\xBC"
                                              "cher.example",
                                              "xn--bcher-kva.example"));
    // DNS-IDs are not this function's business; no SAN at all is simply no.
    EXPECT_FALSE(
        codec::certificateHasXmppName(certificateWithNames("DNS:example.org"), "example.org", "example.org"));
    EXPECT_FALSE(codec::certificateHasXmppName("not a certificate", "example.org", "example.org"));
}

// What a BlockingClient received, kept so that waiting for one kind of event loses no other.
class Inbox {
  public:
    explicit Inbox(BlockingClient& client) : client_(client) {}

    // The first event of type T matching `accept`, already received or arriving within 10 s.
    template <class T>
    std::optional<T> waitFor(std::function<bool(const T&)> accept = {}) {
        for (std::size_t i = 0;; ++i) {
            if (i == seen_.size()) {
                auto event = client_.nextEvent(10s);
                if (!event)
                    return std::nullopt;
                seen_.push_back(std::move(*event));
            }
            if (auto* wanted = std::get_if<T>(&seen_[i]); wanted && (!accept || accept(*wanted))) {
                T found = *wanted;
                seen_.erase(seen_.begin() + static_cast<std::ptrdiff_t>(i));
                return found;
            }
        }
    }

    // Whether an event like this has arrived and not been taken yet (looks only at what is queued).
    template <class T>
    bool has(std::function<bool(const T&)> accept) {
        while (auto event = client_.nextEvent(0ms))
            seen_.push_back(std::move(*event));
        for (const Event& event : seen_) {
            if (auto* candidate = std::get_if<T>(&event); candidate && accept(*candidate))
                return true;
        }
        return false;
    }

  private:
    BlockingClient& client_;
    std::vector<Event> seen_;
};

template <class T>
std::optional<T> waitFor(Inbox& inbox, std::function<bool(const T&)> accept = {}) {
    return inbox.waitFor<T>(std::move(accept));
}

std::function<bool(const SubscriptionNotice&)> notice(std::string jid, SubscriptionEvent event) {
    return [jid, event](const SubscriptionNotice& n) { return n.jid == jid && n.event == event; };
}

std::function<bool(const Message&)> withBody(std::string body) {
    return [body](const Message& m) { return m.body == body; };
}

class FakeResolver final : public Resolver {
  public:
    boost::asio::awaitable<std::vector<SrvRecord>> lookupSrv(std::string name) override {
        asked.push_back(name);
        co_return records[name];
    }
    std::map<std::string, std::vector<SrvRecord>> records;
    std::vector<std::string> asked;
};

class ClientTest : public ::testing::Test {
  protected:
    ClientOptions options(const std::string& user, const std::string& password,
                          TlsMode mode = TlsMode::StartTls) {
        ClientOptions o;
        o.jid = user + "@localhost";
        o.password = password;
        o.host = "127.0.0.1";
        o.port = mode == TlsMode::DirectTls ? server_.directTlsPort() : server_.requiredTlsPort();
        o.tls = mode;
        o.trust.certificateFile = certificateFile().string();
        o.requestTimeout = 10s;
        return o;
    }
    std::filesystem::path certificateFile() const { return server_.directory() / "certs" / "localhost.crt"; }

    test::TestServer server_;
};

TEST_F(ClientTest, StartTlsLogsInAndBindsTheResource) {
    server_.addAccount("alice", "localhost", "secret");
    auto o = options("alice", "secret");
    o.resource = "laptop";
    BlockingClient alice(o);
    auto connected = alice.connect();
    ASSERT_TRUE(connected) << connected.error().describe();
    EXPECT_EQ(alice.boundJid(), "alice@localhost/laptop");
    EXPECT_TRUE(alice.isConnected());
    // Parley offers channel binding (XEP-0440), so the strongest mechanism is used, and XEP-0198.
    const ConnectionInfo info = alice.connectionInfo();
    EXPECT_EQ(info.mechanism, "SCRAM-SHA-256-PLUS");
    EXPECT_FALSE(info.channelBinding.empty());
    EXPECT_FALSE(info.tlsVersion.empty());
    EXPECT_FALSE(info.directTls);
    EXPECT_TRUE(info.streamManagement);
    EXPECT_TRUE(info.resumable);
    auto rtt = alice.ping();
    EXPECT_TRUE(rtt) << rtt.error().describe();
    alice.disconnect();
    EXPECT_FALSE(alice.isConnected());
    // After disconnect() calls fail as values, not exceptions.
    auto late = alice.sendMessage("bob@localhost", "too late");
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().condition, "not-connected");
}

TEST_F(ClientTest, DirectTlsWithAPinnedFingerprint) {
    server_.addAccount("alice", "localhost", "secret");
    auto o = options("alice", "secret", TlsMode::DirectTls);
    o.trust.certificateFile.clear();
    // As a user would paste it: lower case, with a prefix.
    std::string pasted = fingerprintOfPemFile(certificateFile());
    ASSERT_FALSE(pasted.empty());
    std::transform(pasted.begin(), pasted.end(), pasted.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    o.trust.sha256Fingerprint = "sha256:" + pasted;
    BlockingClient alice(o);
    auto connected = alice.connect();
    ASSERT_TRUE(connected) << connected.error().describe();
    EXPECT_TRUE(alice.boundJid().starts_with("alice@localhost/"));
    EXPECT_TRUE(alice.connectionInfo().directTls);
}

// XEP-0368 §4: a direct TLS client announces "xmpp-client" with ALPN. A bare TLS server on a thread
// records what the client offered, then closes (the client's failure after the handshake is expected).
TEST_F(ClientTest, DirectTlsOffersAlpnXmppClient) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::uint16_t port = acceptor.local_endpoint().port();
    std::string offered;
    std::thread server([&] {
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate_chain_file(ctx, certificateFile().c_str());
        SSL_CTX_use_PrivateKey_file(ctx, (server_.directory() / "certs" / "localhost.key").c_str(),
                                    SSL_FILETYPE_PEM);
        SSL_CTX_set_alpn_select_cb(
            ctx,
            [](SSL*, const unsigned char** out, unsigned char* outLength, const unsigned char* in,
               unsigned inLength, void* arg) {
                static_cast<std::string*>(arg)->assign(reinterpret_cast<const char*>(in), inLength);
                *out = in + 1;
                *outLength = in[0];
                return SSL_TLSEXT_ERR_OK;
            },
            &offered);
        boost::asio::ip::tcp::socket socket = acceptor.accept();
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, socket.native_handle());
        SSL_accept(ssl);
        SSL_shutdown(ssl);
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    });
    auto o = options("alice", "secret", TlsMode::DirectTls);
    o.port = port;
    BlockingClient alice(o);
    auto connected = alice.connect();
    server.join();
    EXPECT_FALSE(connected);
    EXPECT_EQ(offered, std::string("\x0bxmpp-client"));
}

TEST_F(ClientTest, AnUntrustedCertificateFailsAndSaysHowToTrustIt) {
    server_.addAccount("alice", "localhost", "secret");
    auto o = options("alice", "secret");
    o.trust.certificateFile.clear();  // system CAs only: the self-signed certificate is not among them
    BlockingClient alice(o);
    auto connected = alice.connect();
    ASSERT_FALSE(connected);
    EXPECT_EQ(connected.error().kind, ErrorKind::Tls);
    EXPECT_EQ(connected.error().condition, "certificate-untrusted");
    EXPECT_NE(connected.error().text.find(fingerprintOfPemFile(certificateFile())), std::string::npos)
        << connected.error().text;
    EXPECT_NE(connected.error().text.find("--trust-fingerprint"), std::string::npos);
}

TEST_F(ClientTest, AWrongFingerprintIsRefused) {
    server_.addAccount("alice", "localhost", "secret");
    auto o = options("alice", "secret", TlsMode::DirectTls);
    o.trust.certificateFile.clear();
    o.trust.sha256Fingerprint = std::string(31 * 3, 'A') + "AB";
    BlockingClient alice(o);
    auto connected = alice.connect();
    ASSERT_FALSE(connected);
    EXPECT_EQ(connected.error().condition, "fingerprint-mismatch");
}

TEST_F(ClientTest, AWrongPasswordIsNotAuthorized) {
    server_.addAccount("alice", "localhost", "secret");
    BlockingClient alice(options("alice", "wrong"));
    auto connected = alice.connect();
    ASSERT_FALSE(connected);
    EXPECT_EQ(connected.error().kind, ErrorKind::Sasl);
    EXPECT_EQ(connected.error().condition, "not-authorized");
}

TEST_F(ClientTest, AnUnreadableTrustFileIsAUsageErrorNamingTheFile) {
    auto o = options("alice", "secret");
    o.trust.certificateFile = "/nonexistent/server.pem";
    BlockingClient alice(o);
    auto connected = alice.connect();
    ASSERT_FALSE(connected);
    EXPECT_EQ(connected.error().kind, ErrorKind::Usage);
    EXPECT_NE(connected.error().text.find("/nonexistent/server.pem"), std::string::npos);
}

TEST_F(ClientTest, SrvRecordsAreTriedInOrderUntilOneWorks) {
    server_.addAccount("alice", "localhost", "secret");
    // A port nobody listens on: bind, remember, close.
    std::uint16_t deadPort = 0;
    {
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
        deadPort = acceptor.local_endpoint().port();
    }
    auto resolver = std::make_shared<FakeResolver>();
    resolver->records["_xmpps-client._tcp.localhost"] = {{"127.0.0.1", deadPort, 0, 0},
                                                         {"127.0.0.1", server_.directTlsPort(), 5, 0}};
    resolver->records["_xmpp-client._tcp.localhost"] = {{"127.0.0.1", server_.requiredTlsPort(), 10, 0}};
    auto o = options("alice", "secret", TlsMode::RequireTls);
    o.host.clear();
    o.port = 0;
    o.resolver = resolver;
    BlockingClient alice(o);
    auto connected = alice.connect();
    ASSERT_TRUE(connected) << connected.error().describe();
    // The dead first record was skipped; the direct TLS record (priority 5) came before STARTTLS (10).
    EXPECT_EQ(alice.connectionInfo().port, server_.directTlsPort());
    EXPECT_TRUE(alice.connectionInfo().directTls);
    EXPECT_EQ(resolver->asked,
              (std::vector<std::string>{"_xmpps-client._tcp.localhost", "_xmpp-client._tcp.localhost"}));
}

TEST_F(ClientTest, NoReachableSrvTargetGivesTheLastConnectError) {
    std::uint16_t deadPort = 0;
    {
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
        deadPort = acceptor.local_endpoint().port();
    }
    auto resolver = std::make_shared<FakeResolver>();
    resolver->records["_xmpp-client._tcp.localhost"] = {{"127.0.0.1", deadPort, 0, 0}};
    auto o = options("alice", "secret", TlsMode::StartTls);
    o.host.clear();
    o.resolver = resolver;
    BlockingClient alice(o);
    auto connected = alice.connect();
    ASSERT_FALSE(connected);
    EXPECT_EQ(connected.error().kind, ErrorKind::Network);
    EXPECT_NE(connected.error().text.find(std::to_string(deadPort)), std::string::npos);
}

// The seed documents' flow: register, log in, add a friend, accept, roster, chat, history.
TEST_F(ClientTest, RegisterAddAFriendAcceptChatAndReadHistory) {
    auto registered = BlockingClient::registerAccount(options("alice", "alice-pw"));
    ASSERT_TRUE(registered) << registered.error().describe();
    auto again = BlockingClient::registerAccount(options("alice", "other"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().condition, "conflict");
    ASSERT_TRUE(BlockingClient::registerAccount(options("bob", "bob-pw")));

    BlockingClient alice(options("alice", "alice-pw"));
    Inbox aliceIn(alice);
    BlockingClient bob(options("bob", "bob-pw"));
    Inbox bobIn(bob);
    ASSERT_TRUE(alice.connect());
    ASSERT_TRUE(bob.connect());
    ASSERT_TRUE(alice.setPresence());
    ASSERT_TRUE(bob.setPresence(Availability::Chat, "hello world"));

    // Alice adds Bob; Bob accepts and adds her back; she accepts.
    ASSERT_TRUE(alice.addContact("bob@localhost", "Bob", {"Friends"}));
    ASSERT_TRUE(waitFor<SubscriptionNotice>(bobIn, notice("alice@localhost", SubscriptionEvent::Request)));
    ASSERT_TRUE(bob.approve("alice@localhost"));
    ASSERT_TRUE(bob.addContact("alice@localhost", "Alice"));
    ASSERT_TRUE(waitFor<SubscriptionNotice>(aliceIn, notice("bob@localhost", SubscriptionEvent::Approved)));
    ASSERT_TRUE(waitFor<SubscriptionNotice>(aliceIn, notice("bob@localhost", SubscriptionEvent::Request)));
    ASSERT_TRUE(alice.approve("bob@localhost"));
    ASSERT_TRUE(waitFor<SubscriptionNotice>(bobIn, notice("alice@localhost", SubscriptionEvent::Approved)));

    auto aliceRoster = alice.roster();
    ASSERT_TRUE(aliceRoster) << aliceRoster.error().describe();
    ASSERT_EQ(aliceRoster->size(), 1u);
    EXPECT_EQ((*aliceRoster)[0],
              (RosterItem{"bob@localhost", "Bob", Subscription::Both, false, false, {"Friends"}}));
    auto bobRoster = bob.roster();
    ASSERT_TRUE(bobRoster);
    ASSERT_EQ(bobRoster->size(), 1u);
    EXPECT_EQ((*bobRoster)[0].subscription, Subscription::Both);
    // Bob's presence reached Alice once she could see it.
    ASSERT_TRUE(waitFor<Presence>(aliceIn, [](const Presence& p) {
        return p.from.starts_with("bob@localhost/") && p.availability == Availability::Chat;
    }));

    // Chat, with a delivery receipt (XEP-0184) that Bob's client library sends on its own.
    auto sent = alice.sendMessage("bob@localhost", "hello bob");
    ASSERT_TRUE(sent);
    auto received = waitFor<Message>(bobIn, withBody("hello bob"));
    ASSERT_TRUE(received);
    EXPECT_TRUE(received->from.starts_with("alice@localhost/"));
    EXPECT_TRUE(received->receiptRequested);
    auto receipt = waitFor<Receipt>(aliceIn);
    ASSERT_TRUE(receipt);
    EXPECT_EQ(receipt->id, *sent);
    ASSERT_TRUE(bob.sendMessage(received->from, "hi alice"));
    ASSERT_TRUE(waitFor<Message>(aliceIn, withBody("hi alice")));

    // History (XEP-0313), whole and paged.
    auto all = alice.history({.with = "bob@localhost"});
    ASSERT_TRUE(all) << all.error().describe();
    ASSERT_EQ(all->messages.size(), 2u);
    EXPECT_EQ(all->messages[0].message.body, "hello bob");
    EXPECT_EQ(all->messages[1].message.body, "hi alice");
    EXPECT_TRUE(all->complete);
    auto first = alice.history({.with = "bob@localhost", .pageSize = 1});
    ASSERT_TRUE(first);
    ASSERT_EQ(first->messages.size(), 1u);
    EXPECT_EQ(first->messages[0].message.body, "hello bob");
    EXPECT_FALSE(first->complete);
    auto second = alice.history({.with = "bob@localhost", .pageSize = 1, .after = first->last});
    ASSERT_TRUE(second);
    ASSERT_EQ(second->messages.size(), 1u);
    EXPECT_EQ(second->messages[0].message.body, "hi alice");
    auto latest = bob.history({.with = "alice@localhost", .pageSize = 1, .latest = true});
    ASSERT_TRUE(latest);
    ASSERT_EQ(latest->messages.size(), 1u);
    EXPECT_EQ(latest->messages[0].message.body, "hi alice");
    auto unknown = alice.history({.pageSize = 1, .after = "no-such-id"});
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().kind, ErrorKind::Stanza);
}

TEST_F(ClientTest, RenameAndRemoveAContactWithRosterPushes) {
    server_.addAccount("alice", "localhost", "secret");
    BlockingClient alice(options("alice", "secret"));
    Inbox aliceIn(alice);
    ASSERT_TRUE(alice.connect());
    // RFC 6121 §2.1.6: pushes go to "interested" resources, those that asked for the roster.
    ASSERT_TRUE(alice.roster());
    ASSERT_TRUE(alice.addContact("carol@localhost", "Carol", {"Work"}));
    ASSERT_TRUE(waitFor<RosterItem>(aliceIn, [](const RosterItem& i) { return i.name == "Carol"; }));
    ASSERT_TRUE(alice.renameContact("carol@localhost", "Caroline"));
    auto renamed = waitFor<RosterItem>(aliceIn, [](const RosterItem& i) { return i.name == "Caroline"; });
    ASSERT_TRUE(renamed);
    EXPECT_EQ(renamed->groups, std::vector<std::string>{"Work"});
    ASSERT_TRUE(alice.removeContact("carol@localhost"));
    ASSERT_TRUE(waitFor<RosterItem>(
        aliceIn, [](const RosterItem& i) { return i.subscription == Subscription::Remove; }));
    auto roster = alice.roster();
    ASSERT_TRUE(roster);
    EXPECT_TRUE(roster->empty());
    auto bad = alice.addContact("not a jid@@", "x");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().condition, "bad-jid");
}

TEST_F(ClientTest, DeniedSubscriptionReachesTheRequester) {
    server_.addAccount("alice", "localhost", "a");
    server_.addAccount("bob", "localhost", "b");
    BlockingClient alice(options("alice", "a"));
    Inbox aliceIn(alice);
    BlockingClient bob(options("bob", "b"));
    Inbox bobIn(bob);
    ASSERT_TRUE(alice.connect());
    ASSERT_TRUE(bob.connect());
    ASSERT_TRUE(bob.setPresence());
    ASSERT_TRUE(alice.setPresence());  // RFC 6121 §3.2.3: the answer goes to available resources
    ASSERT_TRUE(alice.addContact("bob@localhost"));
    ASSERT_TRUE(waitFor<SubscriptionNotice>(bobIn, notice("alice@localhost", SubscriptionEvent::Request)));
    ASSERT_TRUE(bob.deny("alice@localhost"));
    ASSERT_TRUE(waitFor<SubscriptionNotice>(aliceIn, notice("bob@localhost", SubscriptionEvent::Denied)));
}

TEST_F(ClientTest, VCardDiscoAndPing) {
    server_.addAccount("alice", "localhost", "secret");
    server_.addAccount("bob", "localhost", "b");
    BlockingClient alice(options("alice", "secret"));
    ASSERT_TRUE(alice.connect());
    auto none = alice.vcard("bob@localhost");
    ASSERT_FALSE(none);
    VCard card;
    card.fullName = "Alice Liddell";
    card.email = "alice@example.org";
    auto stored = alice.setVCard(card);
    ASSERT_TRUE(stored) << stored.error().describe();
    auto mine = alice.vcard();
    ASSERT_TRUE(mine) << mine.error().describe();
    EXPECT_EQ(mine->fullName, "Alice Liddell");
    EXPECT_EQ(mine->email, "alice@example.org");

    auto info = alice.discoInfo();
    ASSERT_TRUE(info) << info.error().describe();
    EXPECT_TRUE(info->hasFeature("urn:xmpp:ping"));
    auto account = alice.discoInfo("alice@localhost");
    ASSERT_TRUE(account) << account.error().describe();
    EXPECT_TRUE(account->hasFeature("urn:xmpp:mam:2"));
    EXPECT_TRUE(alice.discoItems());

    // Our own client answers disco#info and ping like any XMPP client (XEP-0030, XEP-0199).
    BlockingClient bob(options("bob", "b"));
    ASSERT_TRUE(bob.connect());
    auto bobInfo = alice.discoInfo(bob.boundJid());
    ASSERT_TRUE(bobInfo) << bobInfo.error().describe();
    EXPECT_TRUE(bobInfo->hasFeature("urn:xmpp:receipts"));
    EXPECT_TRUE(alice.ping(bob.boundJid()));
    auto nobody = alice.ping("bob@localhost/not-there");
    ASSERT_FALSE(nobody);
    EXPECT_EQ(nobody.error().kind, ErrorKind::Stanza);
}

TEST_F(ClientTest, ReceiptsAreAskedOfFullJidsOnlyWhenTheirClientSupportsThem) {
    server_.addAccount("alice", "localhost", "a");
    server_.addAccount("bob", "localhost", "b");
    server_.addAccount("carol", "localhost", "c");
    BlockingClient alice(options("alice", "a"));
    ClientOptions carolOptions = options("carol", "c");
    carolOptions.receipts = false;  // a client without XEP-0184: its disco#info does not list it
    BlockingClient bob(options("bob", "b")), carol(carolOptions);
    ASSERT_TRUE(alice.connect());
    ASSERT_TRUE(bob.connect());
    ASSERT_TRUE(carol.connect());
    ASSERT_TRUE(alice.setPresence());
    ASSERT_TRUE(bob.setPresence());
    ASSERT_TRUE(carol.setPresence());
    Inbox aliceIn(alice), bobIn(bob), carolIn(carol);
    // Alice sees Carol's presence, so she learns when Carol's resource goes offline.
    ASSERT_TRUE(alice.addContact("carol@localhost"));
    ASSERT_TRUE(waitFor<SubscriptionNotice>(carolIn, notice("alice@localhost", SubscriptionEvent::Request)));
    ASSERT_TRUE(carol.approve("alice@localhost"));
    ASSERT_TRUE(waitFor<SubscriptionNotice>(aliceIn, notice("carol@localhost", SubscriptionEvent::Approved)));

    // XEP-0184 §5.2: to a full JID, only after disco#info said the client supports receipts.
    auto toBob = alice.sendMessage(bob.boundJid(), "to bob's client");
    ASSERT_TRUE(toBob) << toBob.error().describe();
    auto atBob = waitFor<Message>(bobIn, withBody("to bob's client"));
    ASSERT_TRUE(atBob);
    EXPECT_TRUE(atBob->receiptRequested);
    auto receipt = waitFor<Receipt>(aliceIn);
    ASSERT_TRUE(receipt);
    EXPECT_EQ(receipt->id, *toBob);
    ASSERT_TRUE(alice.sendMessage(carol.boundJid(), "to carol's client"));
    auto atCarol = waitFor<Message>(carolIn, withBody("to carol's client"));
    ASSERT_TRUE(atCarol);
    EXPECT_FALSE(atCarol->receiptRequested);
    // §5.1: to a bare JID the sender cannot know which client gets it, and may always ask.
    ASSERT_TRUE(alice.sendMessage("carol@localhost", "to carol"));
    auto bare = waitFor<Message>(carolIn, withBody("to carol"));
    ASSERT_TRUE(bare);
    EXPECT_TRUE(bare->receiptRequested);

    // Carol's resource goes away and comes back as a client with receipts: the old answer is not reused.
    const std::string resource = carol.boundJid().substr(carol.boundJid().find('/') + 1);
    carol.disconnect();
    ASSERT_TRUE(waitFor<Presence>(aliceIn, [&resource](const Presence& p) {
        return p.from == "carol@localhost/" + resource && p.availability == Availability::Unavailable;
    }));
    ClientOptions carolAgain = options("carol", "c");
    carolAgain.resource = resource;
    BlockingClient carol2(carolAgain);
    ASSERT_TRUE(carol2.connect());
    ASSERT_EQ(carol2.boundJid(), "carol@localhost/" + resource);
    ASSERT_TRUE(carol2.setPresence());
    Inbox carol2In(carol2);
    ASSERT_TRUE(alice.sendMessage(carol2.boundJid(), "again"));
    auto again = waitFor<Message>(carol2In, withBody("again"));
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->receiptRequested);
}

TEST_F(ClientTest, ChangePasswordThenOnlyTheNewOneWorks) {
    server_.addAccount("alice", "localhost", "old-password");
    {
        BlockingClient alice(options("alice", "old-password"));
        ASSERT_TRUE(alice.connect());
        auto changed = alice.changePassword("new-password");
        ASSERT_TRUE(changed) << changed.error().describe();
    }
    BlockingClient withOld(options("alice", "old-password"));
    auto refused = withOld.connect();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().condition, "not-authorized");
    BlockingClient withNew(options("alice", "new-password"));
    EXPECT_TRUE(withNew.connect());
}

TEST_F(ClientTest, DeleteAccountRemovesIt) {
    server_.addAccount("alice", "localhost", "secret");
    BlockingClient alice(options("alice", "secret"));
    ASSERT_TRUE(alice.connect());
    auto removed = alice.deleteAccount();
    ASSERT_TRUE(removed) << removed.error().describe();
    EXPECT_FALSE(server_.accountExists("alice", "localhost"));
}

TEST_F(ClientTest, AStreamErrorEndsTheSessionAsAnEvent) {
    server_.addAccount("alice", "localhost", "secret");
    auto o = options("alice", "secret");
    o.resource = "desk";
    BlockingClient first(o);
    Inbox firstIn(first);
    ASSERT_TRUE(first.connect());
    BlockingClient second(o);  // same resource: the server ends the older session (RFC 6120 §7.7.2.2)
    ASSERT_TRUE(second.connect());
    auto ended = waitFor<Disconnected>(firstIn);
    ASSERT_TRUE(ended);
    EXPECT_EQ(ended->error.kind, ErrorKind::Stream);
    EXPECT_EQ(ended->error.condition, "conflict");
    EXPECT_FALSE(first.isConnected());
}

TEST_F(ClientTest, StreamManagementResumesAfterTheConnectionBreaks) {
    server_.addAccount("alice", "localhost", "a");
    server_.addAccount("bob", "localhost", "b");
    auto o = options("alice", "a");
    o.reconnect.enable = true;
    o.reconnect.backoff = {.initial = 0ms, .maximum = 0ms, .jitter = 0.0};
    BlockingClient alice(o);
    Inbox aliceIn(alice);
    ASSERT_TRUE(alice.connect());
    const std::string before = alice.boundJid();
    BlockingClient bob(options("bob", "b"));
    ASSERT_TRUE(bob.connect());

    alice.dropConnectionForTest();
    // Sent while Alice's connection is down or coming back: the server keeps it in its unacknowledged
    // queue (or delivers it to the resumed stream), and it must arrive exactly once.
    ASSERT_TRUE(bob.sendMessage(before, "during the break"));
    auto back = waitFor<Reconnected>(aliceIn);
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->resumed);  // XEP-0198 §5: the same session, not a new one
    EXPECT_EQ(alice.boundJid(), before);
    EXPECT_TRUE(waitFor<Message>(aliceIn, withBody("during the break")));
    ASSERT_TRUE(bob.sendMessage(before, "still there?"));
    EXPECT_TRUE(waitFor<Message>(aliceIn, withBody("still there?")));
    // The resumed stream still answers requests; after the answer, nothing was delivered twice.
    EXPECT_TRUE(alice.ping());
    ASSERT_TRUE(bob.ping());
    EXPECT_TRUE(alice.ping());
    EXPECT_FALSE(aliceIn.has<Message>([](const Message& m) { return m.body == "during the break"; }));
}

TEST_F(ClientTest, WithoutResumptionReconnectingBindsAFreshSession) {
    server_.addAccount("alice", "localhost", "a");
    auto o = options("alice", "a");
    o.reconnect.enable = true;
    o.reconnect.backoff = {.initial = 0ms, .maximum = 0ms, .jitter = 0.0};
    o.streamManagement.resume = false;
    BlockingClient alice(o);
    Inbox aliceIn(alice);
    ASSERT_TRUE(alice.connect());
    alice.dropConnectionForTest();
    auto back = waitFor<Reconnected>(aliceIn);
    ASSERT_TRUE(back);
    EXPECT_FALSE(back->resumed);
    EXPECT_TRUE(alice.ping());
}

// The asynchronous API directly, on the test's own io_context.
boost::asio::awaitable<void> pingTwice(Client& client, std::vector<std::string>& log) {
    auto connected = co_await client.connect();
    log.push_back(connected ? "connected" : connected.error().describe());
    auto first = co_await client.ping();
    log.push_back(first ? "pong" : first.error().describe());
    auto server = co_await client.discoInfo();
    log.push_back(server && server->hasFeature("urn:xmpp:ping") ? "disco" : "no disco");
    co_await client.disconnect();
    log.push_back(client.isConnected() ? "still connected" : "disconnected");
}

TEST_F(ClientTest, AsyncClientOnTheCallersIoContext) {
    server_.addAccount("alice", "localhost", "secret");
    boost::asio::io_context io;
    Client client(io.get_executor(), options("alice", "secret"));
    std::vector<std::string> log;
    boost::asio::co_spawn(io, pingTwice(client, log), boost::asio::detached);
    io.run();
    EXPECT_EQ(log, (std::vector<std::string>{"connected", "pong", "disco", "disconnected"}));
}

}  // namespace
}  // namespace parley::client
