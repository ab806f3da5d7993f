// XEP-0030 Service Discovery for the server and for the user's own account, XEP-0115 entity
// capabilities of the server in stream features (with the matching disco#info node), XEP-0128/XEP-0157
// contact addresses as an extended info form.
#include <algorithm>
#include <mutex>

#include "parley/modules/caps.h"
#include "parley/server/module.h"
#include "parley/server/version.h"
#include "parley/storage/storage.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";
constexpr std::string_view kDataForms = "jabber:x:data";
constexpr std::string_view kCapsNode = "https://parley.im";

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
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Self, IqScope::Bare}),
                                              std::string(kDiscoInfo), "query",
                                              [this](IqRequest r) { return accountInfo(std::move(r)); }));
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Self, IqScope::Bare}),
                                              std::string(kDiscoItems), "query",
                                              [this](IqRequest r) { return accountItems(std::move(r)); }));
        // XEP-0115 §6.3: a server advertises its own capabilities in stream features.
        for (StreamStage stage : {StreamStage::PreAuth, StreamStage::PostAuth}) {
            registrations_.push_back(
                context.addStreamFeature(stage, [this](const StreamFeatureContext& feature) {
                    xml::Element c("c", std::string(kCapsNs));
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

    // XEP-0115 §5.1: the hash of what disco#info answers (computed once per host).
    std::string capsVersion(const std::string& host) const {
        std::lock_guard lock(capsMutex_);
        auto cached = capsByHost_.find(host);
        if (cached != capsByHost_.end())
            return cached->second;
        std::string ver = capsSha1Ver(buildServerInfo(host, ""));
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

    // RFC 6120 §10.5.3.1: an iq to another account's bare JID is answered by the server on its behalf;
    // for a name with no account the answer is the same as for any unhandled iq (§13.11: nothing tells
    // the two apart).
    asio::awaitable<std::optional<xmpp::StanzaError>> accountRefusal(IqRequest request) {
        if (request.scope == IqScope::Self)
            co_return std::nullopt;
        const Jid& to = *request.stanza->to();
        const std::string host(to.domain());
        const std::string user(to.local());
        auto found = co_await context_->storage().accounts().findAccount(host, user);
        if (found && found->has_value())
            co_return std::nullopt;
        co_return xmpp::StanzaError(xmpp::StanzaErrorCondition::ServiceUnavailable);
    }

    // XEP-0030 §3.1: the account answers for itself (account/registered), with what modules run for
    // every account (XEP-0163 §1: pubsub/pep).
    asio::awaitable<IqResult> accountInfo(IqRequest request) {
        IqRequest lookup = request;  // named: no temporary inside co_await (docs/STYLE.md rule 16)
        auto refusal = co_await accountRefusal(std::move(lookup));
        if (refusal)
            co_return *refusal;
        if (request.payload().hasAttr("node")) {
            IqResult answer = co_await accountNode(std::move(request), /*items=*/false);
            co_return answer;
        }
        xml::Element query("query", std::string(kDiscoInfo));
        std::vector<DiscoIdentity> identities = context_->accountDiscoIdentities();
        identities.insert(identities.begin(), DiscoIdentity{"account", "registered", ""});
        for (const DiscoIdentity& identity : identities) {
            xml::Element& element = query.append("identity", std::string(kDiscoInfo));
            element.setAttr("category", identity.category);
            element.setAttr("type", identity.type);
            if (!identity.name.empty())
                element.setAttr("name", identity.name);
        }
        std::vector<std::string> features = context_->accountDiscoFeatures();
        features.push_back(std::string(kDiscoInfo));
        std::sort(features.begin(), features.end());
        for (const std::string& feature : features)
            query.append("feature", std::string(kDiscoInfo)).setAttr("var", feature);
        co_return query;
    }

    asio::awaitable<IqResult> accountItems(IqRequest request) {
        IqRequest lookup = request;  // named: no temporary inside co_await (docs/STYLE.md rule 16)
        auto refusal = co_await accountRefusal(std::move(lookup));
        if (refusal)
            co_return *refusal;
        if (request.payload().hasAttr("node")) {
            IqResult answer = co_await accountNode(std::move(request), /*items=*/true);
            co_return answer;
        }
        xml::Element query("query", std::string(kDiscoItems));
        const Jid account = request.stanza->to() ? request.stanza->to()->bare() : request.from().bare();
        const Jid requester = request.from();
        for (const AccountItemsProvider& provider : context_->accountDiscoItems()) {
            // GCC 12: the awaitable is named, not a temporary of the co_await (docs/STYLE.md rule 16).
            asio::awaitable<std::vector<xml::Element>> listing = provider(account, requester);
            std::vector<xml::Element> items = co_await std::move(listing);
            for (xml::Element& item : items)
                query.append(std::move(item));
        }
        co_return query;
    }

    // XEP-0030 §3.2 / §4.2: a node of the account, answered by the module it belongs to (XEP-0060 §5.3,
    // §5.5 for personal eventing nodes); item-not-found when no module knows it.
    asio::awaitable<IqResult> accountNode(IqRequest request, bool items) {
        const std::string node(request.payload().attr("node"));
        AccountNodeQuery query{request.stanza->to() ? request.stanza->to()->bare() : request.from().bare(),
                               request.from(), node, items};
        for (const AccountNodeProvider& provider : context_->accountDiscoNodes()) {
            // GCC 12: the awaitable is named, not a temporary of the co_await (docs/STYLE.md rule 16).
            asio::awaitable<std::optional<IqResult>> asking = provider(query);
            std::optional<IqResult> answer = co_await std::move(asking);
            if (!answer)
                continue;
            IqResult& result = *answer;
            if (result && *result)
                (*result)->setAttr("node", node);
            co_return std::move(result);
        }
        // Without a text, like the server's own unknown nodes (tests/transcripts/modules/disco_node).
        co_return xmpp::StanzaError(xmpp::StanzaErrorCondition::ItemNotFound);
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
