#include "test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <stdexcept>

#include "parley/base/base64.h"
#include "parley/sasl/scram_client.h"

namespace parley::test {

namespace {

constexpr std::string_view kStreams = "http://etherx.jabber.org/streams";
constexpr std::string_view kSasl = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kTls = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view kBind = "urn:ietf:params:xml:ns:xmpp-bind";

}  // namespace

TestClient::TestClient(std::uint16_t port, bool directTls) : TestClient(port, directTls, Options{}) {}

TestClient::TestClient(std::uint16_t port, bool directTls, Options options) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (options.receiveBufferBytes > 0) {
        // Before connect(): the window scale is fixed by the handshake.
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &options.receiveBufferBytes,
                     sizeof options.receiveBufferBytes);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        throw std::runtime_error("TestClient: cannot connect to port " + std::to_string(port));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Writes have a deadline too: a server that stops reading fails the test instead of hanging it.
    timeval sendTimeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // the test server's certificate is self-signed
    if (directTls && !handshake(true))
        throw std::runtime_error("TestClient: direct TLS handshake failed");
}

TestClient::~TestClient() {
    if (ssl_)
        SSL_free(ssl_);
    if (ctx_)
        SSL_CTX_free(ctx_);
    if (fd_ >= 0)
        ::close(fd_);
}

bool TestClient::handshake(bool) {
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    return SSL_connect(ssl_) == 1;
}

bool TestClient::send(std::string_view bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ssl_ ? SSL_write(ssl_, bytes.data() + sent, static_cast<int>(bytes.size() - sent))
                               : ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0)
            return false;  // the server closed (later reads report it) or the send timed out
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

std::uint16_t TestClient::localPort() const {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        return 0;
    return ntohs(address.sin_port);
}

bool TestClient::readMore(std::chrono::steady_clock::time_point deadline) {
    if (closed_)
        return false;
    char buffer[16384];
    if (!(ssl_ && SSL_pending(ssl_) > 0)) {
        const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (remaining.count() <= 0)
            return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(remaining.count())) <= 0)
            return false;
    }
    const ssize_t n = ssl_ ? SSL_read(ssl_, buffer, sizeof buffer) : ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
        if (ssl_ && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_WANT_READ)
            return true;
        closed_ = true;
        return false;
    }
    parser_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
    while (auto event = parser_.next()) {
        if (auto* open = std::get_if<xml::StreamOpen>(&*event))
            serverHeader_ = *open;
        pending_.push_back(std::move(*event));
    }
    return true;
}

std::optional<xml::StreamEvent> TestClient::nextEvent(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pending_.empty()) {
        if (!readMore(deadline))
            return std::nullopt;
    }
    xml::StreamEvent event = std::move(pending_.front());
    pending_.erase(pending_.begin());
    return event;
}

std::optional<xml::Element> TestClient::receive(std::chrono::milliseconds timeout) {
    auto event = nextEvent(timeout);
    while (event && std::holds_alternative<xml::StreamOpen>(*event))
        event = nextEvent(timeout);
    if (!event)
        return std::nullopt;
    if (auto* element = std::get_if<xml::Element>(&*event))
        return std::move(*element);
    return std::nullopt;
}

bool TestClient::waitForClose(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_) {
        if (!readMore(deadline) && !closed_)
            return false;
    }
    return true;
}

std::string TestClient::streamErrorCondition(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto event = nextEvent(std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()));
        if (!event)
            return "";
        if (auto* element = std::get_if<xml::Element>(&*event)) {
            if (element->name() == "error" && element->ns() == kStreams) {
                for (const xml::Element* child : element->children()) {
                    if (child->ns() == "urn:ietf:params:xml:ns:xmpp-streams" && child->name() != "text")
                        return child->name();
                }
                return "(no condition)";
            }
        }
        if (std::holds_alternative<xml::StreamClose>(*event))
            return "";
    }
}

void TestClient::resetStream() {
    parser_.reset();
    pending_.clear();
}

std::optional<xml::Element> TestClient::openStream(const std::string& domain,
                                                   const std::string& extraAttributes) {
    resetStream();
    send(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' to='" +
        domain + "' version='1.0'" + (extraAttributes.empty() ? "" : " " + extraAttributes) + ">");
    while (true) {
        auto event = nextEvent();
        if (!event)
            return std::nullopt;
        if (std::holds_alternative<xml::StreamOpen>(*event))
            continue;
        if (auto* element = std::get_if<xml::Element>(&*event)) {
            if (element->is("features", kStreams))
                return std::move(*element);
            pending_.insert(pending_.begin(), std::move(*event));
            return std::nullopt;
        }
        return std::nullopt;
    }
}

std::optional<xml::Element> TestClient::startTls(const std::string& domain) {
    send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    auto reply = receive();
    if (!reply || !reply->is("proceed", kTls))
        return std::nullopt;
    if (!handshake(false))
        return std::nullopt;
    return openStream(domain);
}

std::string TestClient::authenticate(const std::string& user, const std::string& password,
                                     const std::string& mechanism, const std::string& domain) {
    if (mechanism == "PLAIN") {
        send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
             base64Encode(std::string(1, '\0') + user + std::string(1, '\0') + password) + "</auth>");
        auto reply = receive();
        if (!reply)
            return "";
        if (reply->name() == "success")
            openStream(domain);
        noteSaslFailure(*reply);
        return reply->name();
    }
    sasl::HashAlgorithm algorithm = sasl::HashAlgorithm::Sha256;
    if (mechanism.starts_with("SCRAM-SHA-1"))
        algorithm = sasl::HashAlgorithm::Sha1;
    if (mechanism.starts_with("SCRAM-SHA-512"))
        algorithm = sasl::HashAlgorithm::Sha512;
    std::optional<sasl::ClientChannelBinding> binding;
    const bool plus = mechanism.ends_with("-PLUS");
    if (plus && ssl_) {
        // tls-exporter (RFC 9266) from our side of the connection.
        std::string data(32, '\0');
        SSL_export_keying_material(ssl_, reinterpret_cast<unsigned char*>(data.data()), data.size(),
                                   "EXPORTER-Channel-Binding", 24, nullptr, 0, 0);
        binding = sasl::ClientChannelBinding{"tls-exporter", data};
    }
    sasl::ScramClient client(algorithm, user, password, binding, plus);
    send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + mechanism + "'>" +
         base64Encode(client.clientFirst()) + "</auth>");
    auto challenge = receive();
    if (!challenge)
        return "";
    if (challenge->name() != "challenge") {
        noteSaslFailure(*challenge);
        return challenge->name();
    }
    auto serverFirst = base64Decode(challenge->text());
    auto final = client.clientFinal(serverFirst ? *serverFirst : std::string());
    if (!final)
        return "client-error";
    send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64Encode(*final) + "</response>");
    auto reply = receive();
    if (!reply)
        return "";
    if (reply->name() == "success") {
        auto serverFinal = base64Decode(reply->text());
        if (!serverFinal || !client.verifyServerFinal(*serverFinal))
            return "bad-server-signature";
        openStream(domain);
    }
    noteSaslFailure(*reply);
    return reply->name();
}

void TestClient::noteSaslFailure(const xml::Element& reply) {
    if (!reply.is("failure", kSasl))
        return;
    lastError_ = "(no condition)";
    for (const xml::Element* child : reply.children()) {
        if (child->name() != "text") {
            lastError_ = child->name();
            return;
        }
    }
}

std::string TestClient::bind(const std::string& resource) {
    const std::string id = "bind" + std::to_string(++idCounter_);
    send("<iq type='set' id='" + id + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>" +
         (resource.empty() ? std::string() : "<resource>" + resource + "</resource>") + "</bind></iq>");
    auto reply = receive();
    if (!reply)
        return "";
    if (reply->attr("type") == "result") {
        if (const xml::Element* bindElement = reply->findChild("bind", kBind))
            return bindElement->childText("jid", kBind);
    }
    if (const xml::Element* error = reply->findChild("error", "jabber:client")) {
        if (const xml::Element* condition = error->firstChild())
            lastError_ = condition->name();
    }
    return "";
}

std::string TestClient::login(const std::string& user, const std::string& domain, const std::string& password,
                              const std::string& resource) {
    auto features = openStream(domain);
    if (!features)
        return "";
    if (!ssl_ && features->findChild("starttls", kTls)) {
        features = startTls(domain);
        if (!features)
            return "";
    }
    if (authenticate(user, password, "SCRAM-SHA-256", domain) != "success")
        return "";
    return bind(resource);
}

namespace {
// "{=name}": matches anything and records it.
bool captured(const std::string& pattern, const std::string& value,
              std::map<std::string, std::string>* captures) {
    if (!pattern.starts_with("{=") || !pattern.ends_with("}"))
        return false;
    if (captures)
        (*captures)[pattern.substr(2, pattern.size() - 3)] = value;
    return true;
}
}  // namespace

std::optional<std::string> differs(const xml::Element& expected, const xml::Element& received,
                                   std::map<std::string, std::string>* captures) {
    const std::string where = "<" + expected.name() + ">";
    if (expected.name() != received.name() || expected.ns() != received.ns()) {
        return "expected " + where + " in " + expected.ns() + ", got <" + received.name() + "> in " +
               received.ns();
    }
    for (const xml::Attribute& attribute : expected.attributes()) {
        const std::string* value = received.findAttr(attribute.name, attribute.ns);
        if (!value)
            return where + " lacks attribute " + attribute.name;
        if (attribute.value != "{any}" && !captured(attribute.value, *value, captures) &&
            *value != attribute.value) {
            return where + " attribute " + attribute.name + "='" + *value + "', expected '" +
                   attribute.value + "'";
        }
    }
    const auto expectedChildren = expected.children();
    const auto receivedChildren = received.children();
    if (expectedChildren.size() != receivedChildren.size()) {
        return where + " has " + std::to_string(receivedChildren.size()) + " children, expected " +
               std::to_string(expectedChildren.size()) + ": " + received.toString();
    }
    for (std::size_t i = 0; i < expectedChildren.size(); ++i) {
        if (auto difference = differs(*expectedChildren[i], *receivedChildren[i], captures))
            return difference;
    }
    std::string text = expected.text();
    if (text.find_first_not_of(" \t\r\n") != std::string::npos && text != "{any}" &&
        !captured(text, received.text(), captures) && text != received.text()) {
        return where + " text '" + received.text() + "', expected '" + text + "'";
    }
    return std::nullopt;
}

}  // namespace parley::test
