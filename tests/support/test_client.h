#pragma once
// TestClient: a deliberately simple, blocking XMPP client for tests. It speaks real XMPP over a real
// loopback socket (optionally TLS via STARTTLS or direct TLS, SCRAM via libs/sasl) and reads the
// server's stream with our own StreamParser. Every read has a deadline: a server that does not answer
// fails the test instead of hanging it (a guard, never a sleep).
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/xml/element.h"
#include "parley/xml/stream_parser.h"

namespace parley::test {

class TestClient {
  public:
    struct Options {
        // SO_RCVBUF set before connecting (0: the kernel's default). A small one makes a client that
        // does not read fill up quickly, e.g. to test the server's outbound queue bound.
        int receiveBufferBytes = 0;
    };
    explicit TestClient(std::uint16_t port, bool directTls = false);
    TestClient(std::uint16_t port, bool directTls, Options options);
    ~TestClient();
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    // --- raw I/O --------------------------------------------------------------------------------
    // Sends the bytes as they are (one write call, one TLS record per 16 KiB). False when the
    // connection failed or no byte could be written for 10 s (the server stopped reading).
    bool send(std::string_view bytes);
    // The next event from the server, or nullopt on timeout or when the connection closed.
    std::optional<xml::StreamEvent> nextEvent(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // The next element (skipping nothing); nullopt if something else or nothing came.
    std::optional<xml::Element> receive(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Reads until the server closes the TCP connection; true if it did before the deadline.
    bool waitForClose(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Reads events until a <stream:error/>; returns its condition ("" if the stream ended without one).
    std::string streamErrorCondition(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    bool closed() const noexcept { return closed_; }
    // The local TCP port: matches the port in the server's Session::describe() of this connection.
    std::uint16_t localPort() const;

    // --- negotiation steps ---------------------------------------------------------------------
    // Forgets the server's current stream: the next bytes read start a new one, as after a restart
    // (openStream does this itself; call it when the client restarts with something else).
    void resetStream();
    // Sends a stream header for `domain` and returns the <stream:features/> element (nullopt: none).
    std::optional<xml::Element> openStream(const std::string& domain,
                                           const std::string& extraAttributes = {});
    const std::optional<xml::StreamOpen>& serverHeader() const { return serverHeader_; }
    // <starttls/> -> <proceed/> -> handshake -> restart. Returns the new features.
    std::optional<xml::Element> startTls(const std::string& domain);
    // SASL with the named mechanism (SCRAM-SHA-1/256/512[-PLUS], PLAIN). Returns the SASL reply element
    // name ("success" or "failure") and, on success, restarts the stream. On failure the condition
    // (e.g. "not-authorized") is in lastError().
    std::string authenticate(const std::string& user, const std::string& password,
                             const std::string& mechanism = "SCRAM-SHA-256",
                             const std::string& domain = "localhost");
    // Binds a resource; returns the full JID, or "" with the error condition in lastError().
    // (lastError() holds the last SASL failure or bind error condition.)
    std::string bind(const std::string& resource);
    // All of the above: STARTTLS (unless direct TLS), SCRAM-SHA-256, bind. Returns the full JID.
    std::string login(const std::string& user, const std::string& domain, const std::string& password,
                      const std::string& resource = "test");
    const std::string& lastError() const { return lastError_; }
    bool isTls() const { return ssl_ != nullptr; }
    SSL* ssl() const { return ssl_; }

  private:
    bool readMore(std::chrono::steady_clock::time_point deadline);
    bool handshake(bool isDirect);
    void noteSaslFailure(const xml::Element& reply);

    int fd_ = -1;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    xml::StreamParser parser_;
    std::vector<xml::StreamEvent> pending_;
    std::optional<xml::StreamOpen> serverHeader_;
    std::string lastError_;
    std::string features_;
    bool closed_ = false;
    int idCounter_ = 0;
};

// Canonical comparison for transcripts: names, namespaces and expected attributes must match
// (received may carry more attributes), element children must match in order, and text must match
// when the expected element has non-whitespace text. "{any}" as an expected attribute value matches
// anything; so does "{=name}", which also records the received value as `name` in `captures` (when
// given). On mismatch returns a description of the first difference.
std::optional<std::string> differs(const xml::Element& expected, const xml::Element& received,
                                   std::map<std::string, std::string>* captures = nullptr);

}  // namespace parley::test
