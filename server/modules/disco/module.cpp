// XEP-0030 Service Discovery for the server and for the user's own account, XEP-0115 entity
// capabilities of the server in stream features (with the matching disco#info node), XEP-0128/XEP-0157
// contact addresses as an extended info form.
#include <openssl/evp.h>

#include <algorithm>
#include <mutex>

#include "parley/base/base64.h"
#include "parley/server/module.h"
#include "parley/server/version.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";
constexpr std::string_view kCaps = "http://jabber.org/protocol/caps";
constexpr std::string_view kDataForms = "jabber:x:data";
constexpr std::string_view kCapsNode = "https://parley.im";

std::string sha1Base64(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
    return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

class DiscoModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        registrations_.push_back(context.addDiscoFeature(std::string(kDiscoInfo)));
        registrations_.push_back(context.addDiscoFeature(std::string(kDiscoItems)));
        registrations_.push_back(context.addDiscoIdentity({"server", "im", "Parley"}));
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Host}),
                                              std::string(kDiscoInfo), "query",
                                              [this](IqRequest r) { return serverInfo(std::move(r)); }));
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Host}),
                                              std::string(kDiscoItems), "query",
                                              [this](IqRequest r) { return serverItems(std::move(r)); }));
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Self}),
                                              std::string(kDiscoInfo), "query",
                                              [this](IqRequest r) { return accountInfo(std::move(r)); }));
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Self}),
                                              std::string(kDiscoItems), "query",
                                              [this](IqRequest r) { return accountItems(std::move(r)); }));
        // XEP-0115 §6.3: a server advertises its own capabilities in stream features.
        for (StreamStage stage : {StreamStage::PreAuth, StreamStage::PostAuth}) {
            registrations_.push_back(
                context.addStreamFeature(stage, [this](const StreamFeatureContext& feature) {
                    xml::Element c("c", std::string(kCaps));
                    c.setAttr("hash", "sha-1");
                    c.setAttr("node", std::string(kCapsNode));
                    c.setAttr("ver", capsVersion(feature.host));
                    return std::optional<xml::Element>(std::move(c));
                }));
        }
    }

  private:
    // The contact-address form for a host (XEP-0157), or nullopt when none is configured.
    std::optional<xml::Element> serverInfoForm(const std::string& host) const {
        const HostConfig* config = context_->config().findHost(host);
        if (!config || config->contactAddresses.empty())
            return std::nullopt;
        xml::Element form("x", std::string(kDataForms));
        form.setAttr("type", "result");
        xml::Element& formType = form.append("field", std::string(kDataForms));
        formType.setAttr("var", "FORM_TYPE");
        formType.setAttr("type", "hidden");
        formType.append("value", std::string(kDataForms)).appendText("http://jabber.org/network/serverinfo");
        for (const auto& [var, values] : config->contactAddresses) {
            xml::Element& field = form.append("field", std::string(kDataForms));
            field.setAttr("var", var);
            for (const std::string& value : values)
                field.append("value", std::string(kDataForms)).appendText(value);
        }
        return form;
    }

    xml::Element buildServerInfo(const std::string& host, std::string_view node) const {
        xml::Element query("query", std::string(kDiscoInfo));
        if (!node.empty())
            query.setAttr("node", std::string(node));
        for (const DiscoIdentity& identity : context_->discoIdentities()) {
            xml::Element& element = query.append("identity", std::string(kDiscoInfo));
            element.setAttr("category", identity.category);
            element.setAttr("type", identity.type);
            if (!identity.name.empty())
                element.setAttr("name", identity.name);
        }
        for (const std::string& feature : context_->discoFeatures()) {
            query.append("feature", std::string(kDiscoInfo)).setAttr("var", feature);
        }
        if (auto form = serverInfoForm(host))
            query.append(std::move(*form));
        return query;
    }

    // XEP-0115 §5.1 verification string over identities, features and extended forms.
    std::string capsVersion(const std::string& host) const {
        std::lock_guard lock(capsMutex_);
        auto cached = capsByHost_.find(host);
        if (cached != capsByHost_.end())
            return cached->second;
        std::vector<std::string> identities;
        for (const DiscoIdentity& identity : context_->discoIdentities()) {
            identities.push_back(identity.category + "/" + identity.type + "//" + identity.name);
        }
        std::sort(identities.begin(), identities.end());
        std::string s;
        for (const std::string& identity : identities)
            s += identity + "<";
        for (const std::string& feature : context_->discoFeatures())
            s += feature + "<";  // already sorted
        if (auto form = serverInfoForm(host)) {
            s += "http://jabber.org/network/serverinfo<";
            std::vector<const xml::Element*> fields = form->children("field", kDataForms);
            std::sort(fields.begin(), fields.end(), [](const xml::Element* a, const xml::Element* b) {
                return a->attr("var") < b->attr("var");
            });
            for (const xml::Element* field : fields) {
                if (field->attr("var") == "FORM_TYPE")
                    continue;
                s += std::string(field->attr("var")) + "<";
                std::vector<std::string> values;
                for (const xml::Element* value : field->children("value", kDataForms))
                    values.push_back(value->text());
                std::sort(values.begin(), values.end());
                for (const std::string& value : values)
                    s += value + "<";
            }
        }
        std::string ver = sha1Base64(s);
        capsByHost_[host] = ver;
        return ver;
    }

    asio::awaitable<IqResult> serverInfo(IqRequest request) {
        const std::string node(request.payload().attr("node"));
        if (!node.empty() && node != std::string(kCapsNode) + "#" + capsVersion(request.host)) {
            co_return xmpp::StanzaError(xmpp::StanzaErrorCondition::ItemNotFound);
        }
        co_return buildServerInfo(request.host, node);
    }

    asio::awaitable<IqResult> serverItems(IqRequest request) {
        if (request.payload().hasAttr("node"))
            co_return xmpp::StanzaError(xmpp::StanzaErrorCondition::ItemNotFound);
        co_return xml::Element("query", std::string(kDiscoItems));
    }

    // XEP-0030 §... and RFC 6121: the account answers for itself to its own resources.
    asio::awaitable<IqResult> accountInfo(IqRequest request) {
        if (request.payload().hasAttr("node"))
            co_return xmpp::StanzaError(xmpp::StanzaErrorCondition::ItemNotFound);
        xml::Element query("query", std::string(kDiscoInfo));
        xml::Element& identity = query.append("identity", std::string(kDiscoInfo));
        identity.setAttr("category", "account");
        identity.setAttr("type", "registered");
        query.append("feature", std::string(kDiscoInfo)).setAttr("var", std::string(kDiscoInfo));
        // What modules add for every account (ModuleContext::addAccountDiscoFeature), e.g. an archive.
        for (const std::string& feature : context_->accountDiscoFeatures()) {
            if (feature != kDiscoInfo)
                query.append("feature", std::string(kDiscoInfo)).setAttr("var", feature);
        }
        co_return query;
    }

    asio::awaitable<IqResult> accountItems(IqRequest) {
        co_return xml::Element("query", std::string(kDiscoItems));
    }

    ModuleContext* context_ = nullptr;
    mutable std::mutex capsMutex_;
    mutable std::map<std::string, std::string> capsByHost_;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo discoModule() {
    return {"disco",
            "service discovery, server capabilities and contact addresses",
            {"XEP-0030", "XEP-0115", "XEP-0128", "XEP-0157"},
            [] { return std::unique_ptr<Module>(std::make_unique<DiscoModule>()); }};
}

}  // namespace parley::server::modules
