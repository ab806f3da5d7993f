#pragma once
// Small helpers shared by the module tests: reading stanza errors, one request and its answer, and
// clients that are past TLS (and optionally logged in).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/base/base64.h"
#include "test_client.h"
#include "test_server.h"

namespace parley::test {

inline constexpr std::string_view kStanzaErrorsNs = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view kStreamsNs = "http://etherx.jabber.org/streams";

// Runs a storage coroutine to completion on a private io_context (storage calls resume where they
// were started).
template <class Awaitable>
auto runSync(Awaitable awaitable) {
    boost::asio::io_context context;
    auto future = boost::asio::co_spawn(context, std::move(awaitable), boost::asio::use_future);
    context.run();
    return future.get();
}

// The defined condition of an error stanza ("" when it is not an error stanza).
inline std::string errorCondition(const xml::Element& stanza) {
    if (stanza.attr("type") != "error")
        return "";
    const xml::Element* error = stanza.findChild("error", "jabber:client");
    if (!error)
        return "(no error element)";
    for (const xml::Element* child : error->children()) {
        if (child->ns() == kStanzaErrorsNs && child->name() != "text")
            return child->name();
    }
    return "(no condition)";
}

// Sends `bytes` and returns the next element (nullopt when nothing came before the deadline).
inline std::optional<xml::Element> request(TestClient& client, const std::string& bytes) {
    client.send(bytes);
    return client.receive();
}

// A client on the STARTTLS-required listener, past TLS; `features` gets the post-TLS features.
inline std::unique_ptr<TestClient> tlsClient(TestServer& server,
                                             std::optional<xml::Element>* features = nullptr,
                                             const std::string& domain = "localhost") {
    auto client = std::make_unique<TestClient>(server.requiredTlsPort());
    auto first = client->openStream(domain);
    EXPECT_TRUE(first);
    auto afterTls = client->startTls(domain);
    EXPECT_TRUE(afterTls);
    if (features)
        *features = std::move(afterTls);
    return client;
}

// A client logged in (STARTTLS, SCRAM-SHA-256, bind) as user@domain/resource.
inline std::unique_ptr<TestClient> loggedIn(TestServer& server, const std::string& user,
                                            const std::string& password, const std::string& resource,
                                            const std::string& domain = "localhost") {
    auto client = std::make_unique<TestClient>(server.requiredTlsPort());
    const std::string full = client->login(user, domain, password, resource);
    EXPECT_EQ(full, user + "@" + domain + "/" + resource) << "login failed: " << client->lastError();
    return client;
}

// SASL PLAIN (over TLS) by hand, returning the features of the restarted stream, which
// TestClient::authenticate keeps to itself. nullopt when the server did not answer <success/>.
inline std::optional<xml::Element> authenticatePlain(TestClient& client, const std::string& user,
                                                     const std::string& password,
                                                     const std::string& domain = "localhost") {
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
                base64Encode(std::string(1, '\0') + user + std::string(1, '\0') + password) + "</auth>");
    auto reply = client.receive();
    if (!reply || reply->name() != "success")
        return std::nullopt;
    return client.openStream(domain);
}

// A round trip that proves the session is still open and served.
inline bool answersPing(TestClient& client, const std::string& id) {
    auto reply =
        request(client, "<iq type='get' id='" + id + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    return reply && reply->name() == "iq" && reply->attr("id") == id && reply->attr("type") == "result";
}

// Everything that arrives up to the answer to a ping sent now, which the server queues after all that
// the client's earlier stanzas caused (RFC 6120 §10.1 in-order processing).
inline std::vector<xml::Element> drain(TestClient& client, const std::string& pingId) {
    client.send("<iq type='get' id='" + pingId + "' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    std::vector<xml::Element> received;
    for (;;) {
        auto element = client.receive();
        EXPECT_TRUE(element) << "no answer to ping " << pingId;
        if (!element || (element->name() == "iq" && element->attr("id") == pingId))
            return received;
        received.push_back(std::move(*element));
    }
}

}  // namespace parley::test
