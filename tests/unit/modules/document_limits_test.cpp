// The size limits of the stored documents of XEP-0054 vCards and XEP-0049 private XML (option
// max_bytes of the vcard and private modules), the fallback for a malformed option, storage failures
// and damaged stored documents, which transcripts cannot reach.
#include <gtest/gtest.h>

#include "module_test_util.h"
#include "parley/server/core.h"
#include "parley/storage/storage.h"

namespace parley::test {
namespace {

void setOption(server::ServerConfig& config, const std::string& module, const std::string& key,
               const std::string& value) {
    for (auto& entry : config.modules) {
        if (entry.name == module)
            entry.options[key] = value;
    }
}

// A vCard whose serialized form (as the server writes it) is exactly `bytes` long.
std::string vcardOfSize(std::size_t bytes) {
    const std::string open = "<vCard xmlns='vcard-temp'><DESC>";
    const std::string close = "</DESC></vCard>";
    return open + std::string(bytes - open.size() - close.size(), 'x') + close;
}

// A private XML fragment whose serialized form is exactly `bytes` long.
std::string fragmentOfSize(std::size_t bytes) {
    const std::string open = "<prefs xmlns='urn:example:prefs'>";
    const std::string close = "</prefs>";
    return open + std::string(bytes - open.size() - close.size(), 'y') + close;
}

std::string errorType(const xml::Element& reply) {
    const xml::Element* error = reply.findChild("error", "jabber:client");
    return error ? std::string(error->attr("type")) : "";
}

std::optional<xml::Element> setVcard(TestClient& client, const std::string& id, const std::string& vcard) {
    return request(client, "<iq type='set' id='" + id + "'>" + vcard + "</iq>");
}

std::optional<xml::Element> getVcard(TestClient& client, const std::string& id) {
    return request(client, "<iq type='get' id='" + id + "'><vCard xmlns='vcard-temp'/></iq>");
}

std::optional<xml::Element> setPrivate(TestClient& client, const std::string& id,
                                       const std::string& fragment) {
    return request(client, "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:private'>" + fragment +
                               "</query></iq>");
}

std::optional<xml::Element> getPrivate(TestClient& client, const std::string& id) {
    return request(client,
                   "<iq type='get' id='" + id +
                       "'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>");
}

TEST(DocumentLimits, VcardUpToMaxBytesIsStoredOneByteMoreIsNotAcceptable) {
    TestServer server([](server::ServerConfig& config) { setOption(config, "vcard", "max_bytes", "200"); });
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");

    auto reply = setVcard(*romeo, "v1", vcardOfSize(200));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();

    reply = setVcard(*romeo, "v2", vcardOfSize(201));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "not-acceptable") << reply->toString();
    EXPECT_EQ(errorType(*reply), "modify");

    // The refused vCard did not replace the stored one.
    reply = getVcard(*romeo, "v3");
    ASSERT_TRUE(reply);
    const xml::Element* vcard = reply->findChild("vCard", "vcard-temp");
    ASSERT_TRUE(vcard) << reply->toString();
    EXPECT_EQ(vcard->toString(), vcardOfSize(200));
}

TEST(DocumentLimits, PrivateFragmentUpToMaxBytesIsStoredOneByteMoreIsNotAcceptable) {
    TestServer server(
        [](server::ServerConfig& config) { setOption(config, "private", "max_bytes", "1KiB"); });
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");

    auto reply = setPrivate(*romeo, "p1", fragmentOfSize(1024));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();

    reply = setPrivate(*romeo, "p2", fragmentOfSize(1025));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "not-acceptable") << reply->toString();
    EXPECT_EQ(errorType(*reply), "modify");

    reply = getPrivate(*romeo, "p3");
    ASSERT_TRUE(reply);
    const xml::Element* query = reply->findChild("query", "jabber:iq:private");
    ASSERT_TRUE(query && query->firstChild()) << reply->toString();
    EXPECT_EQ(query->firstChild()->toString(), fragmentOfSize(1024));
}

// A malformed option no longer falls back to the default: the server refuses to start
// (module_options_test.cpp).
TEST(DocumentLimits, TheDefaultIs64KiB) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");

    auto reply = setVcard(*romeo, "v1", vcardOfSize(65536));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString().substr(0, 200);

    reply = setVcard(*romeo, "v2", vcardOfSize(65537));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "not-acceptable");

    reply = setPrivate(*romeo, "p1", fragmentOfSize(65537));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "not-acceptable");
}

TEST(DocumentLimits, AStorageFailureIsAnInternalServerError) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");
    server.server().core().storage().close();

    auto reply = setVcard(*romeo, "v1", vcardOfSize(100));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
    reply = getVcard(*romeo, "v2");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
    reply = setPrivate(*romeo, "p1", fragmentOfSize(100));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
    reply = getPrivate(*romeo, "p2");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
}

TEST(DocumentLimits, ADamagedStoredDocumentIsAnInternalServerError) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto& values = server.server().core().storage().keyValue();
    ASSERT_TRUE(
        runSync(values.set("localhost", "romeo", "vcard", "vcard", "<vCard xmlns='vcard-temp'><FN>")));
    ASSERT_TRUE(runSync(values.set("localhost", "romeo", "private", "{urn:example:prefs}prefs", "not xml")));
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");

    auto reply = getVcard(*romeo, "v1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
    reply = getPrivate(*romeo, "p1");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "internal-server-error") << reply->toString();
}

}  // namespace
}  // namespace parley::test
