// XEP-0115 entity capabilities of the server (server/modules/disco): the <c/> in stream features must
// carry the verification string of what disco#info actually answers (XEP-0115 §5.1), computed here
// independently from the disco#info result; the caps node answers with that same information.
// XEP-0092 (server/modules/version): <os/> only with show_os.
#include <openssl/evp.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "module_test_util.h"
#include "parley/base/base64.h"

namespace parley::test {
namespace {

constexpr std::string_view kCapsNs = "http://jabber.org/protocol/caps";
constexpr std::string_view kDiscoInfoNs = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kDataFormsNs = "jabber:x:data";
constexpr std::string_view kVersionNs = "jabber:iq:version";

std::string sha1Base64(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EXPECT_EQ(EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr), 1);
    return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

// XEP-0115 §5.1, steps 1-8, over a disco#info <query/> as received.
std::string capsVerificationString(const xml::Element& query) {
    std::string s;
    // Steps 2-3: identities sorted by category, type, xml:lang; "category/type/lang/name<".
    std::vector<std::tuple<std::string, std::string, std::string, std::string>> identities;
    for (const xml::Element* identity : query.children("identity", kDiscoInfoNs)) {
        const std::string* lang = identity->findAttr("lang", "http://www.w3.org/XML/1998/namespace");
        identities.emplace_back(identity->attr("category"), identity->attr("type"), lang ? *lang : "",
                                identity->attr("name"));
    }
    std::sort(identities.begin(), identities.end());
    for (const auto& [category, type, lang, name] : identities)
        s += category + "/" + type + "/" + lang + "/" + name + "<";
    // Steps 4-5: features sorted by var.
    std::vector<std::string> features;
    for (const xml::Element* feature : query.children("feature", kDiscoInfoNs)) {
        features.emplace_back(feature->attr("var"));
    }
    std::sort(features.begin(), features.end());
    for (const std::string& feature : features)
        s += feature + "<";
    // Step 6: extended forms sorted by FORM_TYPE; in each, FORM_TYPE, then fields by var with sorted values.
    std::vector<std::pair<std::string, const xml::Element*>> forms;
    for (const xml::Element* form : query.children("x", kDataFormsNs)) {
        std::string formType;
        for (const xml::Element* field : form->children("field", kDataFormsNs)) {
            if (field->attr("var") == "FORM_TYPE")
                formType = field->childText("value", kDataFormsNs);
        }
        forms.emplace_back(formType, form);
    }
    std::sort(forms.begin(), forms.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [formType, form] : forms) {
        s += formType + "<";
        std::vector<std::pair<std::string, std::vector<std::string>>> fields;
        for (const xml::Element* field : form->children("field", kDataFormsNs)) {
            if (field->attr("var") == "FORM_TYPE")
                continue;
            std::vector<std::string> values;
            for (const xml::Element* value : field->children("value", kDataFormsNs))
                values.push_back(value->text());
            std::sort(values.begin(), values.end());
            fields.emplace_back(std::string(field->attr("var")), std::move(values));
        }
        std::sort(fields.begin(), fields.end());
        for (const auto& [var, values] : fields) {
            s += var + "<";
            for (const std::string& value : values)
                s += value + "<";
        }
    }
    return s;
}

void withContactAddresses(server::ServerConfig& config) {
    for (auto& host : config.hosts) {
        if (host.domain != "localhost")
            continue;
        // Out of order on purpose: the hash sorts fields and values.
        host.contactAddresses["admin-addresses"] = {"xmpp:admin@localhost", "mailto:admin@localhost"};
        host.contactAddresses["abuse-addresses"] = {"mailto:abuse@localhost"};
    }
}

std::optional<xml::Element> discoInfo(TestClient& client, const std::string& id, const std::string& to,
                                      const std::string& node = {}) {
    return request(client, "<iq type='get' id='" + id + "' to='" + to +
                               "'><query xmlns='http://jabber.org/protocol/disco#info'" +
                               (node.empty() ? std::string() : " node='" + node + "'") + "/></iq>");
}

class Caps : public ::testing::TestWithParam<bool> {};

TEST_P(Caps, StreamFeatureVerMatchesDiscoInfo) {
    const bool contacts = GetParam();
    TestServer server(contacts ? withContactAddresses : std::function<void(server::ServerConfig&)>());
    server.addAccount("romeo", "localhost", "secret");

    std::optional<xml::Element> preAuth;
    auto client = tlsClient(server, &preAuth);
    ASSERT_TRUE(preAuth);
    const xml::Element* c = preAuth->findChild("c", kCapsNs);
    ASSERT_TRUE(c) << preAuth->toString();
    EXPECT_EQ(c->attr("hash"), "sha-1");
    EXPECT_EQ(c->attr("node"), "https://parley.im");
    const std::string ver(c->attr("ver"));
    ASSERT_FALSE(ver.empty());

    auto postAuth = authenticatePlain(*client, "romeo", "secret");
    ASSERT_TRUE(postAuth);
    const xml::Element* postAuthCaps = postAuth->findChild("c", kCapsNs);
    ASSERT_TRUE(postAuthCaps) << postAuth->toString();
    EXPECT_EQ(postAuthCaps->attr("ver"), ver);
    ASSERT_EQ(client->bind("r"), "romeo@localhost/r");

    auto info = discoInfo(*client, "d1", "localhost");
    ASSERT_TRUE(info);
    ASSERT_EQ(info->attr("type"), "result") << info->toString();
    const xml::Element* query = info->findChild("query", kDiscoInfoNs);
    ASSERT_TRUE(query) << info->toString();
    EXPECT_EQ(query->children("x", kDataFormsNs).size(), contacts ? 1u : 0u) << info->toString();
    EXPECT_EQ(sha1Base64(capsVerificationString(*query)), ver) << "S = " << capsVerificationString(*query);

    // XEP-0115 §6.2: the node#ver query answers the same identities and features, naming the node.
    const std::string node = "https://parley.im#" + ver;
    auto nodeInfo = discoInfo(*client, "d2", "localhost", node);
    ASSERT_TRUE(nodeInfo);
    ASSERT_EQ(nodeInfo->attr("type"), "result") << nodeInfo->toString();
    const xml::Element* nodeQuery = nodeInfo->findChild("query", kDiscoInfoNs);
    ASSERT_TRUE(nodeQuery);
    EXPECT_EQ(nodeQuery->attr("node"), node);
    EXPECT_EQ(capsVerificationString(*nodeQuery), capsVerificationString(*query));

    // Another version of the node, or another node, is not known.
    auto stale = discoInfo(*client, "d3", "localhost", "https://parley.im#AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    ASSERT_TRUE(stale);
    EXPECT_EQ(errorCondition(*stale), "item-not-found") << stale->toString();
}

INSTANTIATE_TEST_SUITE_P(ContactAddresses, Caps, ::testing::Bool(),
                         [](const auto& param) { return param.param ? "WithForm" : "WithoutForm"; });

TEST(Caps, EachHostHasItsOwnVer) {
    TestServer server(withContactAddresses);
    std::optional<xml::Element> localhost;
    std::optional<xml::Element> example;
    auto first = tlsClient(server, &localhost, "localhost");
    auto second = tlsClient(server, &example, "example.org");
    ASSERT_TRUE(localhost && example);
    const xml::Element* a = localhost->findChild("c", kCapsNs);
    const xml::Element* b = example->findChild("c", kCapsNs);
    ASSERT_TRUE(a && b);
    // Only localhost publishes contact addresses, which are part of the hash (XEP-0115 §5.1 step 6).
    EXPECT_NE(a->attr("ver"), b->attr("ver"));
}

TEST(Version, OsOnlyWhenConfigured) {
    for (const bool showOs : {false, true}) {
        SCOPED_TRACE(showOs ? "show_os = true" : "default");
        TestServer server([showOs](server::ServerConfig& config) {
            for (auto& module : config.modules) {
                if (module.name == "version" && showOs)
                    module.options["show_os"] = "true";
            }
        });
        server.addAccount("romeo", "localhost", "secret");
        auto client = loggedIn(server, "romeo", "secret", "r");
        auto reply =
            request(*client, "<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>");
        ASSERT_TRUE(reply);
        ASSERT_EQ(reply->attr("type"), "result") << reply->toString();
        const xml::Element* query = reply->findChild("query", kVersionNs);
        ASSERT_TRUE(query);
        EXPECT_EQ(query->childText("name", kVersionNs), "Parley");
        EXPECT_FALSE(query->childText("version", kVersionNs).empty());
        EXPECT_EQ(query->findChild("os", kVersionNs) != nullptr, showOs) << reply->toString();
    }
}

}  // namespace
}  // namespace parley::test
