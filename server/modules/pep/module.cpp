// XEP-0163 Personal Eventing Protocol: every account is a publish-subscribe service (XEP-0060) at its
// bare JID, with the subset of XEP-0060 that PEP needs: publish (with auto-create and XEP-0060 §7.1.5
// publish-options, which XEP-0223 private storage relies on), retract, items, create, configure,
// delete, purge and affiliations (for the whitelist). Subscriptions are implicit (XEP-0163 §4): a
// resource gets notifications of a node when its XEP-0115 capabilities contain `node+notify` and the
// node's access model lets its account see the node. The module learns capabilities from the
// broadcast presence of local clients, asks a client for a `ver` it has not seen (disco#info through
// ModuleContext::sendIq), checks the hash, and sends the last item of each visible node when a
// resource appears or changes its capabilities (XEP-0163 §4.3.4 / XEP-0060 on_sub_and_presence).
#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "parley/base/random.h"
#include "parley/modules/caps.h"
#include "parley/modules/delay.h"
#include "parley/modules/options.h"
#include "parley/modules/stored_xml.h"
#include "parley/server/module.h"
#include "parley/storage/storage.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kClientNs = "jabber:client";
constexpr std::string_view kPubsub = "http://jabber.org/protocol/pubsub";
constexpr std::string_view kPubsubOwner = "http://jabber.org/protocol/pubsub#owner";
constexpr std::string_view kPubsubEvent = "http://jabber.org/protocol/pubsub#event";
constexpr std::string_view kPubsubErrors = "http://jabber.org/protocol/pubsub#errors";
constexpr std::string_view kDataForms = "jabber:x:data";
constexpr std::string_view kNodeConfig = "http://jabber.org/protocol/pubsub#node_config";
constexpr std::string_view kPublishOptions = "http://jabber.org/protocol/pubsub#publish-options";
constexpr std::string_view kPrivateNs = "jabber:iq:private";
constexpr std::string_view kLegacyBookmarksNs = "storage:bookmarks";
constexpr std::string_view kBookmarksNode = "urn:xmpp:bookmarks:1";
constexpr std::string_view kBookmarksCompat = "urn:xmpp:bookmarks:1#compat";
constexpr std::string_view kBookmarksCompatPep = "urn:xmpp:bookmarks:1#compat-pep";
// XEP-0048 §3 over PEP (XEP-0223): the legacy bookmarks node, named after its payload's namespace.
constexpr std::string_view kLegacyBookmarksNode = "storage:bookmarks";

constexpr std::size_t kDefaultMaxItems = 256;
constexpr std::size_t kDefaultMaxItemBytes = 256 * 1024;
constexpr std::size_t kDefaultMaxNodes = 256;
constexpr std::size_t kDefaultCapsTimeout = 30;
// Distinct capability hashes remembered; past it the cache starts again (clients re-announce theirs
// with every presence, so nothing is lost but a disco#info round trip).
constexpr std::size_t kMaxCachedVers = 4096;

// XEP-0060 §10 and §7.1: the pubsub# features this service implements, advertised on every account.
constexpr std::string_view kFeatures[] = {
    "access-open",        "access-presence",     "access-roster",          "access-whitelist",
    "auto-create",        "config-node",         "create-and-configure",   "create-nodes",
    "delete-items",       "delete-nodes",        "filtered-notifications", "last-published",
    "member-affiliation", "modify-affiliations", "persistent-items",       "publish",
    "publish-options",    "purge-nodes",         "retract-items",          "retrieve-affiliations",
    "retrieve-default",   "retrieve-items",
};

using storage::PepItem;
using storage::PepNodeConfig;
using storage::StorageError;
using storage::Subscription;
using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;
using xmpp::StanzaErrorType;

// A stanza error with a XEP-0060 application condition (§7.1.3, §6.5.9 ...).
StanzaError pubsubError(StanzaErrorCondition condition, std::string_view appCondition,
                        std::string text = {}) {
    StanzaError error(condition, std::move(text));
    if (!appCondition.empty())
        error.applicationCondition = xml::Element(std::string(appCondition), std::string(kPubsubErrors));
    return error;
}

StanzaError storageFailure(std::string_view what) {
    return StanzaError(StanzaErrorCondition::InternalServerError,
                       std::string("The personal eventing data could not be ") + std::string(what));
}

bool receivesPresence(Subscription subscription) {
    return subscription == Subscription::From || subscription == Subscription::Both;
}

bool parseBoolean(std::string_view value, bool& out) {
    // XEP-0004 §3.3: boolean values are "0", "1", "false", "true".
    if (value == "1" || value == "true") {
        out = true;
        return true;
    }
    if (value == "0" || value == "false") {
        out = false;
        return true;
    }
    return false;
}

// The fields of a data form (XEP-0004) by var, each with its values.
std::map<std::string, std::vector<std::string>> formFields(const xml::Element& form) {
    std::map<std::string, std::vector<std::string>> fields;
    for (const xml::Element* field : form.children("field", kDataForms)) {
        auto& values = fields[std::string(field->attr("var"))];
        for (const xml::Element* value : field->children("value", kDataForms))
            values.push_back(value->text());
    }
    return fields;
}

// Why someone may not see a node (XEP-0060 §6.5.9 error cases), or Allowed.
enum class Access : std::uint8_t { Allowed, NeedsPresence, NeedsRosterGroup, NotWhitelisted };

// XEP-0060 §4.5 access models. `item` is the requester in the owner's roster (nullptr: not there).
Access accessFor(const PepNodeConfig& config, const Jid& owner, const Jid& requester,
                 const storage::RosterItem* item) {
    if (requester.bareView() == owner.bareView())
        return Access::Allowed;  // the owner sees everything
    const std::string bare(requester.bareView());
    if (config.accessModel == "open")
        return Access::Allowed;
    if (config.accessModel == "presence")
        return item && receivesPresence(item->subscription) ? Access::Allowed : Access::NeedsPresence;
    if (config.accessModel == "roster") {
        if (item && item->listed) {
            for (const std::string& group : item->groups) {
                if (std::find(config.rosterGroups.begin(), config.rosterGroups.end(), group) !=
                    config.rosterGroups.end())
                    return Access::Allowed;
            }
        }
        return Access::NeedsRosterGroup;
    }
    // whitelist (and anything unknown, which is refused rather than opened)
    return std::find(config.whitelist.begin(), config.whitelist.end(), bare) != config.whitelist.end()
               ? Access::Allowed
               : Access::NotWhitelisted;
}

StanzaError accessError(Access access) {
    switch (access) {
        case Access::NeedsPresence:
            return pubsubError(StanzaErrorCondition::NotAuthorized, "presence-subscription-required",
                               "Only contacts subscribed to the owner's presence may see this node");
        case Access::NeedsRosterGroup:
            return pubsubError(StanzaErrorCondition::NotAuthorized, "not-in-roster-group",
                               "Only contacts in the owner's allowed roster groups may see this node");
        case Access::NotWhitelisted:
        case Access::Allowed:
            break;
    }
    return pubsubError(StanzaErrorCondition::NotAllowed, "closed-node",
                       "Only the owner and whom the owner allows may see this node");
}

// What the server knows of the capabilities (XEP-0115) of the online resources of local accounts.
class CapsRegistry {
  public:
    using Features = std::shared_ptr<const std::set<std::string>>;

    // Records the ver a resource announced; false when it is the one already recorded.
    bool setVer(const std::string& fullJid, const std::string& ver) {
        std::lock_guard lock(mutex_);
        auto [it, inserted] = verByJid_.try_emplace(fullJid, ver);
        if (inserted)
            return true;
        if (it->second == ver)
            return false;
        it->second = ver;
        return true;
    }
    void forget(const std::string& fullJid) {
        std::lock_guard lock(mutex_);
        verByJid_.erase(fullJid);
    }
    // Forgets the resource's ver only if it is still `ver` (a newer presence may have changed it).
    void forget(const std::string& fullJid, const std::string& ver) {
        std::lock_guard lock(mutex_);
        auto it = verByJid_.find(fullJid);
        if (it != verByJid_.end() && it->second == ver)
            verByJid_.erase(it);
    }
    std::optional<std::string> verOf(const std::string& fullJid) const {
        std::lock_guard lock(mutex_);
        auto it = verByJid_.find(fullJid);
        return it == verByJid_.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    bool knows(const std::string& ver) const {
        std::lock_guard lock(mutex_);
        return featuresByVer_.contains(ver);
    }
    void learn(const std::string& ver, std::set<std::string> features) {
        std::lock_guard lock(mutex_);
        if (featuresByVer_.size() >= kMaxCachedVers)
            featuresByVer_.clear();
        featuresByVer_[ver] = std::make_shared<const std::set<std::string>>(std::move(features));
    }
    // The features of a resource, or null when its capabilities are not known (yet).
    Features featuresOf(const std::string& fullJid) const {
        std::lock_guard lock(mutex_);
        auto ver = verByJid_.find(fullJid);
        if (ver == verByJid_.end())
            return nullptr;
        auto features = featuresByVer_.find(ver->second);
        return features == featuresByVer_.end() ? nullptr : features->second;
    }
    // XEP-0163 §4.3.1 / XEP-0060 §9.2: a resource wants a node's notifications when it has node+notify.
    bool wantsNotify(const std::string& fullJid, std::string_view node) const {
        Features features = featuresOf(fullJid);
        return features && features->contains(std::string(node) + "+notify");
    }

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::string> verByJid_;
    std::map<std::string, Features> featuresByVer_;
};

class PepModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        maxItems_ = std::max<std::size_t>(1, countOption(context, "pep", "max_items", kDefaultMaxItems));
        maxItemBytes_ = sizeOption(context, "pep", "max_item_bytes", kDefaultMaxItemBytes);
        maxNodes_ = countOption(context, "pep", "max_nodes", kDefaultMaxNodes);
        capsTimeout_ = std::chrono::seconds(countOption(context, "pep", "caps_timeout", kDefaultCapsTimeout));

        // XEP-0163 §1, §6.1: the account advertises identity pubsub/pep and the XEP-0060 features.
        registrations_.push_back(context.addAccountDiscoIdentity({"pubsub", "pep", ""}));
        registrations_.push_back(context.addAccountDiscoFeature(std::string(kPubsub)));
        for (std::string_view feature : kFeatures)
            registrations_.push_back(
                context.addAccountDiscoFeature(std::string(kPubsub) + "#" + std::string(feature)));
        // XEP-0402 §3 (XEP-0411): XEP-0049 bookmarks and the bookmarks node are the same data.
        registrations_.push_back(context.addAccountDiscoFeature(std::string(kBookmarksCompat)));
        // XEP-0402 §5.3: the legacy storage:bookmarks PEP node and the bookmarks node are the same data.
        registrations_.push_back(context.addAccountDiscoFeature(std::string(kBookmarksCompatPep)));
        registrations_.push_back(context.addAccountDiscoItems([this](Jid account, Jid requester) {
            return listVisibleNodes(std::move(account), std::move(requester));
        }));
        registrations_.push_back(context.addAccountDiscoNodes(
            [this](AccountNodeQuery query) { return describeNode(std::move(query)); }));

        registrations_.push_back(
            context.onIq(xmpp::IqType::Set, scopes({IqScope::Self}), std::string(kPubsub), "pubsub",
                         [this](IqRequest request) { return handleSet(std::move(request)); }));
        registrations_.push_back(
            context.onIq(xmpp::IqType::Get, scopes({IqScope::Self, IqScope::Bare}), std::string(kPubsub),
                         "pubsub", [this](IqRequest request) { return handleGet(std::move(request)); }));
        registrations_.push_back(
            context.onIq(xmpp::IqType::Set, scopes({IqScope::Bare}), std::string(kPubsub), "pubsub",
                         [](IqRequest request) { return refuseForeignSet(std::move(request)); }));
        for (xmpp::IqType type : {xmpp::IqType::Get, xmpp::IqType::Set}) {
            registrations_.push_back(
                context.onIq(type, scopes({IqScope::Self}), std::string(kPubsubOwner), "pubsub",
                             [this](IqRequest request) { return handleOwner(std::move(request)); }));
            // XEP-0060 §8: only the owner administers its nodes.
            registrations_.push_back(context.onIq(type, scopes({IqScope::Bare}), std::string(kPubsubOwner),
                                                  "pubsub", [](IqRequest) { return refuseOwnerOfOthers(); }));
        }

        // Capabilities of local resources come with their broadcast presence (XEP-0115 §4). Below
        // the roster module (0), so that the presence is broadcast before anything is sent for it.
        registrations_.push_back(
            context.onStanza(StanzaHookPoint::Outbound, xmpp::StanzaKind::Presence, -50,
                             [this](RoutedStanza& routed) { return onOutboundPresence(routed); }));
        // A contact's subscription approved: the last items, above the roster module's handling (0).
        registrations_.push_back(
            context.onStanza(StanzaHookPoint::Inbound, xmpp::StanzaKind::Presence, 10,
                             [this](RoutedStanza& routed) { return onInboundPresence(routed); }));
        registrations_.push_back(
            context.onSessionEnded([this](Session& session) { caps_.forget(session.jid().str()); }));
        // Above the private module's handler (an iq handler runs after every hook): XEP-0049 requests
        // for storage:bookmarks are answered from the bookmarks node.
        registrations_.push_back(
            context.onStanza(StanzaHookPoint::Outbound, xmpp::StanzaKind::Iq, 0,
                             [this](RoutedStanza& routed) { return onOutboundIq(routed); }));
    }

  private:
    // --- requests ----------------------------------------------------------------------------------

    static asio::awaitable<IqResult> refuseForeignSet(IqRequest request) {
        const xml::Element* action = request.payload().firstChild();
        if (action && (action->name() == "subscribe" || action->name() == "unsubscribe")) {
            // XEP-0163 §4: contacts are subscribed through their capabilities, not explicitly.
            StanzaError error =
                pubsubError(StanzaErrorCondition::FeatureNotImplemented, "unsupported",
                            "Subscriptions to personal eventing nodes follow presence and capabilities");
            // XEP-0060 §6.1.3.8 (and §6.2.3.x): the feature that is not supported.
            error.applicationCondition->setAttr("feature", "subscribe");
            co_return error;
        }
        co_return StanzaError(StanzaErrorCondition::Forbidden,
                              "Only the account itself publishes to its nodes");
    }

    static asio::awaitable<IqResult> refuseOwnerOfOthers() {
        co_return StanzaError(StanzaErrorCondition::Forbidden, "Only the account itself manages its nodes");
    }

    static asio::awaitable<IqResult> unsupported(std::string feature) {
        StanzaError error = pubsubError(StanzaErrorCondition::FeatureNotImplemented, "unsupported",
                                        "This personal eventing service does not do " + feature);
        error.applicationCondition->setAttr("feature", feature);
        co_return error;
    }

    asio::awaitable<IqResult> handleSet(IqRequest request) {
        const xml::Element& pubsub = request.payload();
        if (pubsub.findChild("publish", kPubsub)) {
            IqResult result = co_await publish(std::move(request));
            co_return result;
        }
        if (pubsub.findChild("retract", kPubsub)) {
            IqResult result = co_await retract(std::move(request));
            co_return result;
        }
        if (pubsub.findChild("create", kPubsub)) {
            IqResult result = co_await createNode(std::move(request));
            co_return result;
        }
        const xml::Element* action = pubsub.firstChild();
        std::string feature = action ? action->name() : std::string("an empty request");
        IqResult result = co_await unsupported(std::move(feature));
        co_return result;
    }

    asio::awaitable<IqResult> handleGet(IqRequest request) {
        const xml::Element* items = request.payload().findChild("items", kPubsub);
        if (!items) {
            const xml::Element* action = request.payload().firstChild();
            std::string feature = action ? action->name() : std::string("an empty request");
            IqResult result = co_await unsupported(std::move(feature));
            co_return result;
        }
        IqResult result = co_await retrieveItems(std::move(request));
        co_return result;
    }

    asio::awaitable<IqResult> handleOwner(IqRequest request) {
        const bool isSet = request.stanza->iqType() == xmpp::IqType::Set;
        const xml::Element* action = request.payload().firstChild();
        if (!action) {
            std::string feature = "an empty request";
            IqResult result = co_await unsupported(std::move(feature));
            co_return result;
        }
        const std::string name = action->name();
        IqResult result = StanzaError(StanzaErrorCondition::BadRequest);
        // One co_await per statement, outside conditions (docs/STYLE.md rule 16).
        if (name == "configure" && isSet) {
            result = co_await configure(std::move(request));
        } else if (name == "configure") {
            result = co_await configuration(std::move(request));
        } else if (name == "default" && !isSet) {
            // XEP-0060 §8.3: the configuration a new node gets.
            xml::Element pubsub("pubsub", std::string(kPubsubOwner));
            pubsub.append("default", std::string(kPubsubOwner)).append(configForm(defaultConfig()));
            result = pubsub;
        } else if (name == "delete" && isSet) {
            result = co_await deleteNode(std::move(request));
        } else if (name == "purge" && isSet) {
            result = co_await purgeNode(std::move(request));
        } else if (name == "affiliations" && isSet) {
            result = co_await setAffiliations(std::move(request));
        } else if (name == "affiliations") {
            result = co_await affiliations(std::move(request));
        } else {
            result = co_await unsupported(name);
        }
        co_return result;
    }

    // --- configuration -----------------------------------------------------------------------------

    // A new node's configuration: XEP-0163 §... (presence access, one item) unless the request says more.
    static PepNodeConfig defaultConfig() { return PepNodeConfig{}; }

    // Applies one node_config or publish-options field; unknown fields are left alone.
    std::optional<StanzaError> applyField(PepNodeConfig& config, const std::string& var,
                                          const std::vector<std::string>& values) const {
        const std::string value = values.empty() ? std::string() : values.front();
        auto invalid = [&] {
            return StanzaError(StanzaErrorCondition::NotAcceptable,
                               "'" + value + "' is not a valid value for " + var);
        };
        if (var == "pubsub#access_model") {
            if (value != "open" && value != "presence" && value != "roster" && value != "whitelist")
                return invalid();
            config.accessModel = value;
        } else if (var == "pubsub#max_items") {
            if (value == "max") {  // XEP-0060 §16.4.3 (XEP-0402 §5 asks for it): the most the service allows
                config.maxItems = maxItems_;
                config.maxItemsIsMax = true;
                return std::nullopt;
            }
            std::size_t count = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
            if (ec != std::errc() || end != value.data() + value.size() || count == 0)
                return invalid();
            if (count > maxItems_) {
                return pubsubError(
                    StanzaErrorCondition::NotAcceptable, "",
                    "A node keeps at most " + std::to_string(maxItems_) + " items on this server");
            }
            config.maxItems = count;
            config.maxItemsIsMax = false;
        } else if (var == "pubsub#title") {
            // XEP-0060 §16.4.3: descriptive fields, kept as given and shown in the configuration and
            // in the node's meta-data (§5.4); Movim, Gajim and Converse send them.
            config.title = value;
        } else if (var == "pubsub#description") {
            config.description = value;
        } else if (var == "pubsub#type") {
            config.payloadType = value;
        } else if (var == "pubsub#persist_items") {
            if (!parseBoolean(value, config.persistItems))
                return invalid();
        } else if (var == "pubsub#notify_retract") {
            if (!parseBoolean(value, config.notifyRetract))
                return invalid();
        } else if (var == "pubsub#send_last_published_item") {
            if (value != "never" && value != "on_sub" && value != "on_sub_and_presence")
                return invalid();
            config.sendLastPublishedItem = value;
        } else if (var == "pubsub#roster_groups_allowed") {
            config.rosterGroups = values;
        } else if (const FixedField* fixed = fixedField(var)) {
            // Behaviour this service does not let change: only its own value is accepted.
            bool wanted = false;
            const bool boolean = fixed->type == "boolean";
            if (boolean && !parseBoolean(value, wanted))
                return invalid();
            if (boolean ? (wanted ? "1" : "0") != fixed->value : value != fixed->value) {
                return StanzaError(StanzaErrorCondition::NotAcceptable,
                                   var + " is always " + std::string(fixed->value) + " on this server");
            }
        } else {
            // XEP-0060 §8.2.5.3 / §7.1.5: a field this service does not know is refused rather than
            // ignored, so that a client never believes in a setting that has no effect.
            return StanzaError(StanzaErrorCondition::NotAcceptable,
                               var + " is not a node configuration field this server supports");
        }
        return std::nullopt;
    }

    // The node_config fields (XEP-0060 §16.4.3) whose value is fixed here, listed in the configuration
    // form so that clients may send them: payloads and notifications are always delivered (XEP-0163
    // §4.3), as headline messages, to available resources only (§4.3.2); a deleted node is notified
    // (§8.4.2) and a configuration change is not; items do not expire and stay when the owner goes
    // offline; every node is a leaf to which only its owner publishes (XEP-0163 §3).
    struct FixedField {
        std::string_view var;
        std::string_view type;
        std::string_view value;
    };
    static constexpr FixedField kFixedFields[] = {
        {"pubsub#deliver_payloads", "boolean", "1"},
        {"pubsub#deliver_notifications", "boolean", "1"},
        {"pubsub#notify_delete", "boolean", "1"},
        {"pubsub#notify_config", "boolean", "0"},
        {"pubsub#node_type", "list-single", "leaf"},
        {"pubsub#publish_model", "list-single", "publishers"},
        {"pubsub#notification_type", "list-single", "headline"},
        {"pubsub#presence_based_delivery", "boolean", "1"},
        {"pubsub#purge_offline", "boolean", "0"},
        {"pubsub#item_expire", "text-single", "max"},
    };
    static const FixedField* fixedField(std::string_view var) {
        for (const FixedField& field : kFixedFields) {
            if (field.var == var)
                return &field;
        }
        return nullptr;
    }

    // Applies a submitted form (XEP-0004 type submit) of the given FORM_TYPE.
    std::optional<StanzaError> applyForm(PepNodeConfig& config, const xml::Element& form,
                                         std::string_view formType) const {
        if (form.attr("type") == "cancel")
            return std::nullopt;
        const auto fields = formFields(form);
        auto type = fields.find("FORM_TYPE");
        if (type != fields.end() && (type->second.empty() || type->second.front() != formType)) {
            return StanzaError(StanzaErrorCondition::BadRequest,
                               "The form's FORM_TYPE must be " + std::string(formType));
        }
        for (const auto& [var, values] : fields) {
            if (var == "FORM_TYPE")
                continue;
            if (auto error = applyField(config, var, values))
                return error;
        }
        return std::nullopt;
    }

    xml::Element configForm(const PepNodeConfig& config) const {
        xml::Element form("x", std::string(kDataForms));
        form.setAttr("type", "form");
        auto addField = [&form](std::string var, std::string type) -> xml::Element& {
            xml::Element& element = form.append("field", std::string(kDataForms));
            element.setAttr("var", std::move(var));
            element.setAttr("type", std::move(type));
            return element;
        };
        auto value = [](xml::Element& target, const std::string& text) {
            if (!text.empty())  // XEP-0004 §3.2: a field without a value has no <value/>
                target.append("value", std::string(kDataForms)).appendText(text);
        };
        auto options = [](xml::Element& target, std::initializer_list<std::string_view> list) {
            for (std::string_view option : list)
                target.append("option", std::string(kDataForms))
                    .append("value", std::string(kDataForms))
                    .appendText(option);
        };
        value(addField("FORM_TYPE", "hidden"), std::string(kNodeConfig));
        xml::Element& access = addField("pubsub#access_model", "list-single");
        options(access, {"open", "presence", "roster", "whitelist"});
        value(access, config.accessModel);
        value(addField("pubsub#title", "text-single"), config.title);
        value(addField("pubsub#description", "text-single"), config.description);
        value(addField("pubsub#type", "text-single"), config.payloadType);
        value(addField("pubsub#max_items", "text-single"), maxItemsText(config));
        value(addField("pubsub#persist_items", "boolean"), config.persistItems ? "1" : "0");
        value(addField("pubsub#notify_retract", "boolean"), config.notifyRetract ? "1" : "0");
        xml::Element& sendLast = addField("pubsub#send_last_published_item", "list-single");
        options(sendLast, {"never", "on_sub", "on_sub_and_presence"});
        value(sendLast, config.sendLastPublishedItem);
        xml::Element& groups = addField("pubsub#roster_groups_allowed", "list-multi");
        for (const std::string& group : config.rosterGroups)
            value(groups, group);
        for (const FixedField& fixed : kFixedFields)
            value(addField(std::string(fixed.var), std::string(fixed.type)), std::string(fixed.value));
        return form;
    }

    // XEP-0060 §16.4.3: `max` when the owner asked for the most the service allows.
    static std::string maxItemsText(const PepNodeConfig& config) {
        return config.maxItemsIsMax ? std::string("max") : std::to_string(config.maxItems);
    }

    // The node an owner's request names (the `node` of its <name xmlns=ns/>), with its configuration:
    // nodeid-required without a name, item-not-found when there is no such node.
    struct OwnNode {
        xmpp::StanzaPtr stanza;  // keeps `action` alive
        const xml::Element* action = nullptr;
        Jid owner;
        std::string host;
        std::string user;
        std::string node;
        PepNodeConfig config;
    };
    asio::awaitable<Result<OwnNode, StanzaError>> ownNode(IqRequest request, std::string_view name,
                                                          std::string_view ns) {
        // The handler chose by this element: it is there.
        const xml::Element* action = request.payload().findChild(name, ns);
        const Jid owner = request.from().bare();
        OwnNode target{request.stanza,
                       action,
                       owner,
                       std::string(owner.domain()),
                       std::string(owner.local()),
                       std::string(action->attr("node")),
                       {}};
        if (target.node.empty())
            co_return pubsubError(StanzaErrorCondition::BadRequest, "nodeid-required", "Name the node");
        auto found = co_await findNode(owner, target.node);
        if (!found)
            co_return found.error();
        target.config = std::move(*found);
        co_return target;
    }

    // XEP-0060 §8.2.1: the configuration form of a node.
    asio::awaitable<IqResult> configuration(IqRequest request) {
        auto target = co_await ownNode(std::move(request), "configure", kPubsubOwner);
        if (!target)
            co_return target.error();
        xml::Element pubsub("pubsub", std::string(kPubsubOwner));
        xml::Element& element = pubsub.append("configure", std::string(kPubsubOwner));
        element.setAttr("node", target->node);
        element.append(configForm(target->config));
        co_return pubsub;
    }

    // Stores a node's changed configuration.
    asio::awaitable<IqResult> storeConfig(OwnNode target) {
        auto stored = co_await context_->storage().pep().configureNode(target.host, target.user, target.node,
                                                                       target.config);
        if (!stored) {
            logFailure("configure node " + target.node, target.owner, stored.error());
            co_return storageFailure("configured");
        }
        co_return std::nullopt;
    }

    // XEP-0060 §8.2.4: a submitted configuration.
    asio::awaitable<IqResult> configure(IqRequest request) {
        auto target = co_await ownNode(std::move(request), "configure", kPubsubOwner);
        if (!target)
            co_return target.error();
        const xml::Element* form = target->action->findChild("x", kDataForms);
        if (!form)
            co_return StanzaError(StanzaErrorCondition::BadRequest, "Send the configuration as a data form");
        if (auto error = applyForm(target->config, *form, kNodeConfig))
            co_return *error;
        const Jid owner = target->owner;
        const std::string node = target->node;
        const PepNodeConfig config = target->config;
        IqResult stored = co_await storeConfig(std::move(*target));
        if (!stored || config.persistItems)
            co_return stored;
        auto kept = co_await keepTransientItems(owner, node, config, /*newest=*/"");
        if (!kept)
            co_return kept.error();
        co_return stored;
    }

    // XEP-0060 §4.3 / §16.4.3 pubsub#persist_items=0: a transient node does not keep what is published.
    // It keeps only the newest item, when its send_last_published_item needs it (XEP-0163 §4.3.4), and
    // nothing otherwise. `newest` names the item being published ("": keep the newest stored one).
    asio::awaitable<Result<void, StanzaError>> keepTransientItems(Jid owner, std::string node,
                                                                  PepNodeConfig config, std::string newest) {
        auto& store = context_->storage().pep();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        auto items = co_await store.items(host, user, node, {}, 0);
        if (!items) {
            logFailure("read the items of node " + node, owner, items.error());
            co_return storageFailure("read");
        }
        const bool keepLast = config.sendLastPublishedItem != "never";
        for (std::size_t i = 0; i < items->size(); ++i) {
            const std::string& id = (*items)[i].id;
            const bool isNewest = newest.empty() ? i == 0 : id == newest;
            if (keepLast && isNewest)
                continue;
            auto retracted = co_await store.retractItem(host, user, node, id);
            if (!retracted) {
                logFailure("drop an item of transient node " + node, owner, retracted.error());
                co_return storageFailure("changed");
            }
        }
        co_return Result<void, StanzaError>{};
    }

    // The node's configuration, item-not-found when there is no such node.
    asio::awaitable<Result<PepNodeConfig, StanzaError>> findNode(Jid owner, std::string node) {
        const std::string ownerHost(owner.domain());
        const std::string ownerUser(owner.local());
        auto found = co_await context_->storage().pep().findNode(ownerHost, ownerUser, node);
        if (!found) {
            logFailure("read node " + node, owner, found.error());
            co_return storageFailure("read");
        }
        if (!found->has_value())
            co_return StanzaError(StanzaErrorCondition::ItemNotFound, "There is no node '" + node + "'");
        co_return std::move(**found);
    }

    void logFailure(const std::string& what, const Jid& owner, StorageError error) const {
        context_->log().error("cannot " + what + " of " + owner.str() + ": " +
                              std::string(storage::toString(error)));
    }

    // --- create, publish, retract ------------------------------------------------------------------

    // Creates a node: conflict when it exists, not-allowed past max_nodes.
    asio::awaitable<std::optional<StanzaError>> storeNewNode(Jid owner, std::string node,
                                                             PepNodeConfig config) {
        const std::string ownerHost(owner.domain());
        const std::string ownerUser(owner.local());
        auto created = co_await context_->storage().pep().createNode(ownerHost, ownerUser, node,
                                                                     std::move(config), maxNodes_);
        if (created)
            co_return std::nullopt;
        if (created.error() == StorageError::AlreadyExists)
            co_return StanzaError(StanzaErrorCondition::Conflict, "The node '" + node + "' exists already");
        if (created.error() == StorageError::QuotaExceeded) {
            co_return StanzaError(StanzaErrorCondition::NotAllowed,
                                  "An account has at most " + std::to_string(maxNodes_) +
                                      " nodes on this server; delete one first");
        }
        logFailure("create node " + node, owner, created.error());
        co_return storageFailure("stored");
    }

    // XEP-0060 §8.1: create a node, with an optional configuration. PEP has no instant nodes.
    asio::awaitable<IqResult> createNode(IqRequest request) {
        // The handler found it: the element lives in the request's stanza, which this frame owns.
        const xml::Element& create = *request.payload().findChild("create", kPubsub);
        const Jid owner = request.from().bare();
        const std::string ownerHost(owner.domain());
        const std::string ownerUser(owner.local());
        const std::string node(create.attr("node"));
        if (node.empty())
            co_return pubsubError(StanzaErrorCondition::NotAcceptable, "nodeid-required",
                                  "Personal eventing nodes need a name");
        PepNodeConfig config = defaultConfig();
        const xml::Element* configure = request.payload().findChild("configure", kPubsub);
        const xml::Element* form = configure ? configure->findChild("x", kDataForms) : nullptr;
        if (form) {
            if (auto error = applyForm(config, *form, kNodeConfig))
                co_return *error;
        }
        auto error = co_await storeNewNode(owner, node, std::move(config));
        if (error)
            co_return *error;
        co_return std::nullopt;
    }

    // XEP-0060 §7.1.5: every publish option must match the node's configuration.
    std::optional<StanzaError> checkPreconditions(const PepNodeConfig& config,
                                                  const xml::Element* options) const {
        if (!options)
            return std::nullopt;
        PepNodeConfig wanted = config;
        if (auto unsupported = applyForm(wanted, *options, kPublishOptions))
            return pubsubError(StanzaErrorCondition::Conflict, "precondition-not-met", unsupported->text);
        // `max` is met by a node that keeps as many items as the service allows, however it was set
        // (nodes stored before `max` was remembered, and the ones this module creates).
        if (wanted.maxItems == config.maxItems)
            wanted.maxItemsIsMax = config.maxItemsIsMax;
        if (wanted != config) {
            return pubsubError(StanzaErrorCondition::Conflict, "precondition-not-met",
                               "The node's configuration differs from the publish options; "
                               "configure the node first");
        }
        return std::nullopt;
    }

    // XEP-0060 §7.1: publish one item, creating the node if needed (§7.1.4, XEP-0163 §3).
    asio::awaitable<IqResult> publish(IqRequest request) {
        // The handler found it: the element lives in the request's stanza, which this frame owns.
        const xml::Element& publish = *request.payload().findChild("publish", kPubsub);
        const Jid owner = request.from().bare();
        const std::string node(publish.attr("node"));
        if (node.empty())
            co_return pubsubError(StanzaErrorCondition::BadRequest, "nodeid-required", "Name the node");
        const std::vector<const xml::Element*> items = publish.children("item", kPubsub);
        if (items.size() != 1) {
            co_return pubsubError(StanzaErrorCondition::BadRequest,
                                  items.empty() ? "item-required" : "invalid-payload",
                                  "Publish exactly one item");
        }
        const xml::Element& item = *items.front();
        if (item.childCount() != 1) {
            // §7.1.3.6 (no payload, persistent node) and §7.1.3.5 (more than one payload).
            co_return pubsubError(StanzaErrorCondition::BadRequest,
                                  item.childCount() == 0 ? "payload-required" : "invalid-payload",
                                  "An item carries exactly one payload element");
        }
        std::string payload = item.firstChild()->toString();
        if (payload.size() > maxItemBytes_) {
            co_return pubsubError(StanzaErrorCondition::NotAcceptable, "payload-too-big",
                                  "The payload is " + std::to_string(payload.size()) +
                                      " bytes; this server keeps at most " + std::to_string(maxItemBytes_));
        }
        const xml::Element* publishOptions = request.payload().findChild("publish-options", kPubsub);
        const xml::Element* options = publishOptions ? publishOptions->findChild("x", kDataForms) : nullptr;

        auto& store = context_->storage().pep();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        auto existing = co_await store.findNode(host, user, node);
        if (!existing) {
            logFailure("read node " + node, owner, existing.error());
            co_return storageFailure("read");
        }
        PepNodeConfig config = existing->value_or(defaultConfig());
        if (existing->has_value()) {
            if (auto error = checkPreconditions(config, options))
                co_return *error;
        } else {
            // §7.1.4 auto-create, configured by the publish options (XEP-0223 §3).
            if (options) {
                if (auto error = applyForm(config, *options, kPublishOptions))
                    co_return pubsubError(StanzaErrorCondition::Conflict, "precondition-not-met",
                                          error->text);
            }
            auto error = co_await storeNewNode(owner, node, config);
            if (error && error->condition != StanzaErrorCondition::Conflict)
                co_return *error;
            if (error) {  // created meanwhile by another resource: its configuration counts
                auto found = co_await findNode(owner, node);
                if (!found)
                    co_return found.error();
                config = *found;
                if (auto failed = checkPreconditions(config, options))
                    co_return *failed;
            }
        }
        std::string id(item.attr("id"));
        if (id.empty())
            id = randomId(16);  // §7.1.2: the service chooses the id
        PepItem stored{id, std::move(payload), request.from().str(), 0, context_->clock().unixSeconds()};
        auto published = co_await store.publishItem(host, user, node, std::move(stored));
        if (!published) {
            logFailure("publish to node " + node, owner, published.error());
            co_return storageFailure("stored");
        }
        if (!config.persistItems) {
            auto kept = co_await keepTransientItems(owner, node, config, id);
            if (!kept)
                co_return kept.error();
        }
        co_await notifyPublication(owner, node, config, id, *item.firstChild());
        co_await syncBookmarks(owner, request.from(), node, item.firstChild());

        xml::Element result("pubsub", std::string(kPubsub));
        xml::Element& done = result.append("publish", std::string(kPubsub));
        done.setAttr("node", node);
        done.append("item", std::string(kPubsub)).setAttr("id", id);
        co_return result;
    }

    // XEP-0060 §7.2: retract one item.
    asio::awaitable<IqResult> retract(IqRequest request) {
        const xml::Element* item =
            request.payload().findChild("retract", kPubsub)->findChild("item", kPubsub);
        if (!item || item->attr("id").empty())
            co_return pubsubError(StanzaErrorCondition::BadRequest, "item-required",
                                  "Name the item to retract");
        const std::string id(item->attr("id"));
        auto target = co_await ownNode(std::move(request), "retract", kPubsub);
        if (!target)
            co_return target.error();
        auto retracted =
            co_await context_->storage().pep().retractItem(target->host, target->user, target->node, id);
        if (!retracted) {
            logFailure("retract from node " + target->node, target->owner, retracted.error());
            co_return storageFailure("changed");
        }
        if (!*retracted)
            co_return StanzaError(StanzaErrorCondition::ItemNotFound, "The node has no item '" + id + "'");
        // §7.2.2.1: notify when asked to, or when the node is configured to.
        bool notifyRetract = target->config.notifyRetract;
        if (target->action->hasAttr("notify"))
            parseBoolean(target->action->attr("notify"), notifyRetract);
        if (notifyRetract)
            co_await notifyRetraction(target->owner, target->node, target->config, id);
        const Jid publisher = target->stanza->from() ? *target->stanza->from() : target->owner;
        co_await syncBookmarks(target->owner, publisher, target->node, nullptr);
        co_return std::nullopt;
    }

    // §7.1.2.1: the notification carries the payload (PEP nodes deliver payloads).
    asio::awaitable<void> notifyPublication(Jid owner, std::string node, PepNodeConfig config, std::string id,
                                            xml::Element payload) {
        xml::Element items("items", std::string(kPubsubEvent));
        items.setAttr("node", node);
        xml::Element& event = items.append("item", std::string(kPubsubEvent));
        event.setAttr("id", id);
        event.append(std::move(payload));
        co_await notify(owner, node, config, std::move(items));
    }

    asio::awaitable<void> notifyRetraction(Jid owner, std::string node, PepNodeConfig config,
                                           std::string id) {
        xml::Element items("items", std::string(kPubsubEvent));
        items.setAttr("node", node);
        items.append("retract", std::string(kPubsubEvent)).setAttr("id", id);
        co_await notify(owner, node, config, std::move(items));
    }

    // --- items -------------------------------------------------------------------------------------

    // The owner's roster item for `requester` when the access model needs it.
    asio::awaitable<Result<Access, StanzaError>> accessOf(Jid owner, Jid requester, PepNodeConfig config) {
        const std::string ownerHost(owner.domain());
        const std::string ownerUser(owner.local());
        if (requester.bareView() == owner.bareView() || config.accessModel == "open" ||
            config.accessModel == "whitelist") {
            co_return accessFor(config, owner, requester, nullptr);
        }
        const std::string contact(requester.bareView());
        auto item = co_await context_->storage().roster().findItem(ownerHost, ownerUser, contact);
        if (!item) {
            logFailure("read the roster", owner, item.error());
            co_return storageFailure("read");
        }
        co_return accessFor(config, owner, requester, item->has_value() ? &**item : nullptr);
    }

    // XEP-0060 §6.5: retrieve items (all, the latest max_items, or by id).
    asio::awaitable<IqResult> retrieveItems(IqRequest request) {
        // The handler found it: the element lives in the request's stanza, which this frame owns.
        const xml::Element& items = *request.payload().findChild("items", kPubsub);
        const Jid owner = request.stanza->to() ? request.stanza->to()->bare() : request.from().bare();
        const std::string ownerHost(owner.domain());
        const std::string ownerUser(owner.local());
        const std::string node(items.attr("node"));
        if (node.empty())
            co_return pubsubError(StanzaErrorCondition::BadRequest, "nodeid-required", "Name the node");
        auto config = co_await findNode(owner, node);
        if (!config)
            co_return config.error();
        auto access = co_await accessOf(owner, request.from(), *config);
        if (!access)
            co_return access.error();
        if (*access != Access::Allowed)
            co_return accessError(*access);
        std::vector<std::string> ids;
        for (const xml::Element* item : items.children("item", kPubsub)) {
            if (!item->attr("id").empty())
                ids.emplace_back(item->attr("id"));
        }
        std::size_t limit = 0;
        if (items.hasAttr("max_items")) {
            const std::string_view text = items.attr("max_items");
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
            if (ec != std::errc() || end != text.data() + text.size() || limit == 0)
                co_return StanzaError(StanzaErrorCondition::BadRequest,
                                      "max_items must be a positive number");
        }
        auto stored =
            co_await context_->storage().pep().items(ownerHost, ownerUser, node, std::move(ids), limit);
        if (!stored) {
            logFailure("read the items of node " + node, owner, stored.error());
            co_return storageFailure("read");
        }
        xml::Element pubsub("pubsub", std::string(kPubsub));
        xml::Element& list = pubsub.append("items", std::string(kPubsub));
        list.setAttr("node", node);
        // Oldest first, as they were published.
        for (auto it = stored->rbegin(); it != stored->rend(); ++it) {
            auto payload = parseStoredXml(it->xml, context_->log(), "item " + it->id + " of node " + node);
            if (!payload)
                continue;
            xml::Element& element = list.append("item", std::string(kPubsub));
            element.setAttr("id", it->id);
            element.append(std::move(*payload));
        }
        co_return pubsub;
    }

    // --- owner actions -----------------------------------------------------------------------------

    // Notifies a node's delete (§8.4.2) or purge (§8.5.2): <delete node=.../> or <purge node=.../>. The
    // node has no items now: XEP-0402 §5.3, the legacy bookmarks node follows the bookmarks node.
    asio::awaitable<void> notifyEmptied(OwnNode target, std::string_view name) {
        xml::Element event{std::string(name), std::string(kPubsubEvent)};
        event.setAttr("node", target.node);
        co_await notify(target.owner, target.node, target.config, std::move(event));
        const Jid publisher = target.stanza->from() ? *target.stanza->from() : target.owner;
        co_await syncBookmarks(target.owner, publisher, target.node, nullptr);
    }

    // XEP-0060 §8.4: delete a node; those who got its notifications learn of it.
    asio::awaitable<IqResult> deleteNode(IqRequest request) {
        auto target = co_await ownNode(std::move(request), "delete", kPubsubOwner);
        if (!target)
            co_return target.error();
        auto deleted =
            co_await context_->storage().pep().deleteNode(target->host, target->user, target->node);
        if (!deleted && deleted.error() != StorageError::NotFound) {
            logFailure("delete node " + target->node, target->owner, deleted.error());
            co_return storageFailure("deleted");
        }
        co_await notifyEmptied(std::move(*target), "delete");
        co_return std::nullopt;
    }

    // XEP-0060 §8.5: remove every item of a node.
    asio::awaitable<IqResult> purgeNode(IqRequest request) {
        auto target = co_await ownNode(std::move(request), "purge", kPubsubOwner);
        if (!target)
            co_return target.error();
        auto purged = co_await context_->storage().pep().purgeNode(target->host, target->user, target->node);
        if (!purged) {
            logFailure("purge node " + target->node, target->owner, purged.error());
            co_return storageFailure("changed");
        }
        co_await notifyEmptied(std::move(*target), "purge");
        co_return std::nullopt;
    }

    // XEP-0060 §8.9.1: the affiliations: the owner, and the whitelist as members.
    asio::awaitable<IqResult> affiliations(IqRequest request) {
        auto target = co_await ownNode(std::move(request), "affiliations", kPubsubOwner);
        if (!target)
            co_return target.error();
        xml::Element pubsub("pubsub", std::string(kPubsubOwner));
        xml::Element& list = pubsub.append("affiliations", std::string(kPubsubOwner));
        list.setAttr("node", target->node);
        auto add = [&list](std::string jid, std::string affiliation) {
            xml::Element& element = list.append("affiliation", std::string(kPubsubOwner));
            element.setAttr("jid", std::move(jid));
            element.setAttr("affiliation", std::move(affiliation));
        };
        add(target->owner.str(), "owner");
        for (const std::string& jid : target->config.whitelist)
            add(jid, "member");
        co_return pubsub;
    }

    // XEP-0060 §8.9.2: member (or publisher, read as member) adds to the whitelist, none removes.
    asio::awaitable<IqResult> setAffiliations(IqRequest request) {
        auto target = co_await ownNode(std::move(request), "affiliations", kPubsubOwner);
        if (!target)
            co_return target.error();
        std::vector<std::string>& whitelist = target->config.whitelist;
        for (const xml::Element* affiliation : target->action->children("affiliation", kPubsubOwner)) {
            auto jid = Jid::parse(affiliation->attr("jid"));
            if (!jid)
                co_return StanzaError(StanzaErrorCondition::JidMalformed,
                                      "An affiliation names an invalid JID");
            const std::string bare(jid->bareView());
            if (bare == target->owner.str())
                co_return StanzaError(StanzaErrorCondition::NotAcceptable,
                                      "The owner's affiliation cannot change");
            const std::string_view kind = affiliation->attr("affiliation");
            std::erase(whitelist, bare);
            if (kind == "member" || kind == "publisher") {
                whitelist.push_back(bare);
            } else if (kind != "none" && kind != "outcast") {
                co_return StanzaError(
                    StanzaErrorCondition::NotAcceptable,
                    "Affiliation '" + std::string(kind) + "' is not one this service keeps");
            }
        }
        std::sort(whitelist.begin(), whitelist.end());
        IqResult stored = co_await storeConfig(std::move(*target));
        co_return stored;
    }

    // --- XEP-0402 bookmarks, with the XEP-0049 compatibility of XEP-0411 ---------------------------

    // XEP-0402 §5: the bookmarks node is private, keeps every conference, and sends no last item.
    PepNodeConfig bookmarksConfig() const {
        PepNodeConfig config;
        config.accessModel = "whitelist";
        config.maxItems = maxItems_;
        config.maxItemsIsMax = true;
        config.sendLastPublishedItem = "never";
        return config;
    }

    asio::awaitable<HookVerdict> onOutboundIq(RoutedStanza& routed) {
        const xmpp::StanzaPtr stanza = routed.stanza;
        if (!routed.session ||
            (stanza->iqType() != xmpp::IqType::Get && stanza->iqType() != xmpp::IqType::Set))
            co_return HookVerdict::Continue;
        if (stanza->to() && stanza->to()->str() != stanza->from()->bareView())
            co_return HookVerdict::Continue;  // only the account's own private storage
        const xml::Element* query = stanza->payload();
        if (!query || !query->is("query", kPrivateNs) || query->childCount() != 1 ||
            !query->firstChild()->is("storage", kLegacyBookmarksNs))
            co_return HookVerdict::Continue;
        const Jid owner = stanza->from()->bare();
        IqResult result = std::nullopt;
        if (stanza->iqType() == xmpp::IqType::Get) {
            result = co_await legacyBookmarks(owner);
        } else {
            result = co_await storeLegacyBookmarks(owner, *stanza->from(), *query->firstChild());
            if (result)
                co_await mirrorToLegacyNode(owner, *stanza->from());
        }
        std::optional<xmpp::Stanza> reply;
        if (result)
            reply = xmpp::makeIqResult(*stanza, std::move(*result), owner);
        else
            reply = xmpp::makeErrorReply(*stanza, result.error());
        if (reply) {
            if (!reply->from())
                reply->setFrom(owner);
            auto answer = std::make_shared<const xmpp::Stanza>(std::move(*reply));
            co_await context_->route(std::move(answer));
        }
        co_return HookVerdict::Handled;
    }

    // XEP-0402 §5.3 (urn:xmpp:bookmarks:1#compat-pep): after a change of one of the two bookmark nodes,
    // the other follows. `payload` is what was published (null: items were retracted or purged).
    asio::awaitable<void> syncBookmarks(Jid owner, Jid publisher, std::string node,
                                        const xml::Element* payload) {
        if (node == kBookmarksNode) {
            co_await mirrorToLegacyNode(owner, publisher);
        } else if (node == kLegacyBookmarksNode && payload && payload->is("storage", kLegacyBookmarksNs)) {
            // Not mirrored back: the legacy node already holds what its client published.
            auto stored = co_await storeLegacyBookmarks(owner, publisher, *payload);
            if (!stored)
                context_->log().warn("the legacy bookmarks of " + owner.str() +
                                     " could not be copied to the bookmarks node: " + stored.error().text);
        }
    }

    // Writes the bookmarks node's conferences, in the XEP-0048 format, as item `current` of the legacy
    // storage:bookmarks node (created private, XEP-0048 §3 / XEP-0223), notified to the account's
    // resources that want it. Nothing when the legacy node holds them already.
    asio::awaitable<void> mirrorToLegacyNode(Jid owner, Jid publisher) {
        IqResult legacy = co_await legacyBookmarks(owner);
        if (!legacy || !*legacy)
            co_return;
        const xml::Element* storage = (*legacy)->firstChild();
        const std::string node(kLegacyBookmarksNode);
        PepNodeConfig legacyConfig = bookmarksConfig();
        legacyConfig.maxItems = 1;
        legacyConfig.maxItemsIsMax = false;
        legacyConfig.sendLastPublishedItem = "on_sub_and_presence";  // XEP-0048 over PEP clients expect it
        auto config = co_await findNode(owner, node);
        if (!config && config.error().condition != StanzaErrorCondition::ItemNotFound)
            co_return;
        if (!config) {
            auto error = co_await storeNewNode(owner, node, legacyConfig);
            if (error && error->condition != StanzaErrorCondition::Conflict)
                co_return;
            config = co_await findNode(owner, node);
            if (!config)
                co_return;
        }
        auto& store = context_->storage().pep();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        std::string xml = storage->toString();
        const std::string id = "current";  // XEP-0048 §3 over PEP: the one item
        std::vector<std::string> ids{id};
        auto existing = co_await store.items(host, user, node, std::move(ids), 1);
        if (existing && !existing->empty() && existing->front().xml == xml)
            co_return;
        PepItem item{id, std::move(xml), publisher.str(), 0, context_->clock().unixSeconds()};
        auto published = co_await store.publishItem(host, user, node, std::move(item));
        if (!published) {
            logFailure("mirror the bookmarks to node " + node, owner, published.error());
            co_return;
        }
        co_await notifyPublication(owner, node, *config, id, *storage);
    }

    // XEP-0411 §... : the XEP-0048 <storage/> made from the bookmarks node's items.
    asio::awaitable<IqResult> legacyBookmarks(Jid owner) {
        const std::string ownerHost(owner.domain());
        const std::string ownerUser(owner.local());
        xml::Element query("query", std::string(kPrivateNs));
        xml::Element& storage = query.append("storage", std::string(kLegacyBookmarksNs));
        const std::string node(kBookmarksNode);
        auto items = co_await context_->storage().pep().items(ownerHost, ownerUser, node, {}, 0);
        if (!items && items.error() != StorageError::NotFound) {
            logFailure("read the bookmarks", owner, items.error());
            co_return storageFailure("read");
        }
        if (!items)
            co_return query;  // no bookmarks node: no bookmarks
        for (auto it = items->rbegin(); it != items->rend(); ++it) {
            auto conference = parseStoredXml(it->xml, context_->log(), "bookmark " + it->id);
            if (!conference || !conference->is("conference", kBookmarksNode))
                continue;
            xml::Element& legacy = storage.append("conference", std::string(kLegacyBookmarksNs));
            legacy.setAttr("jid", it->id);
            if (conference->hasAttr("name"))
                legacy.setAttr("name", std::string(conference->attr("name")));
            if (conference->hasAttr("autojoin"))
                legacy.setAttr("autojoin", std::string(conference->attr("autojoin")));
            for (std::string_view child : {"nick", "password"}) {
                if (const xml::Element* element = conference->findChild(child, kBookmarksNode))
                    legacy.append(std::string(child), std::string(kLegacyBookmarksNs))
                        .appendText(element->text());
            }
        }
        co_return query;
    }

    // XEP-0411: a XEP-0049 write of the bookmarks replaces the node's items, one per conference JID,
    // notified as if the client had published and retracted them.
    asio::awaitable<IqResult> storeLegacyBookmarks(Jid owner, Jid publisher, xml::Element storage) {
        std::map<std::string, xml::Element> wanted;
        for (const xml::Element* legacy : storage.children("conference", kLegacyBookmarksNs)) {
            auto room = Jid::parse(legacy->attr("jid"));
            if (!room)
                co_return StanzaError(StanzaErrorCondition::BadRequest,
                                      "A bookmark has an invalid conference JID");
            xml::Element conference("conference", std::string(kBookmarksNode));
            if (legacy->hasAttr("name"))
                conference.setAttr("name", std::string(legacy->attr("name")));
            const std::string_view autojoin = legacy->attr("autojoin");
            if (autojoin == "true" || autojoin == "1")
                conference.setAttr("autojoin", "true");
            for (std::string_view child : {"nick", "password"}) {
                if (const xml::Element* element = legacy->findChild(child, kLegacyBookmarksNs))
                    conference.append(std::string(child), std::string(kBookmarksNode))
                        .appendText(element->text());
            }
            wanted.insert_or_assign(room->str(), std::move(conference));
        }
        const std::string node(kBookmarksNode);
        auto config = co_await findNode(owner, node);
        if (!config && config.error().condition != StanzaErrorCondition::ItemNotFound)
            co_return config.error();
        if (!config) {
            auto error = co_await storeNewNode(owner, node, bookmarksConfig());
            if (error && error->condition != StanzaErrorCondition::Conflict)
                co_return *error;
            config = co_await findNode(owner, node);
            if (!config)
                co_return config.error();
        }
        auto& store = context_->storage().pep();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        auto existing = co_await store.items(host, user, node, {}, 0);
        if (!existing) {
            logFailure("read the bookmarks", owner, existing.error());
            co_return storageFailure("read");
        }
        for (const PepItem& item : *existing) {
            if (wanted.contains(item.id))
                continue;
            auto retracted = co_await store.retractItem(host, user, node, item.id);
            if (!retracted) {
                logFailure("retract a bookmark", owner, retracted.error());
                co_return storageFailure("changed");
            }
            if (config->notifyRetract)
                co_await notifyRetraction(owner, node, *config, item.id);
        }
        for (const auto& entry : wanted) {
            // Named, not a structured binding: clang 14 cannot capture those in the lambda below.
            const std::string& id = entry.first;
            const xml::Element& conference = entry.second;
            std::string xml = conference.toString();
            auto same = std::find_if(existing->begin(), existing->end(),
                                     [&](const PepItem& item) { return item.id == id && item.xml == xml; });
            if (same != existing->end())
                continue;  // unchanged: no new notification
            PepItem stored{id, std::move(xml), publisher.str(), 0, context_->clock().unixSeconds()};
            auto published = co_await store.publishItem(host, user, node, std::move(stored));
            if (!published) {
                logFailure("store a bookmark", owner, published.error());
                co_return storageFailure("stored");
            }
            co_await notifyPublication(owner, node, *config, id, conference);
        }
        co_return std::nullopt;
    }

    // --- notifications -----------------------------------------------------------------------------

    // `publishedAt` (Unix seconds, 0: none) stamps an item sent after the fact (a last item).
    xmpp::StanzaPtr eventMessage(const Jid& owner, const Jid& to, const xml::Element& content,
                                 std::int64_t publishedAt = 0) const {
        // XEP-0163 §4.3.1 examples: a headline message from the account's bare JID.
        xml::Element message("message", std::string(kClientNs));
        message.setAttr("from", owner.str());
        message.setAttr("to", to.str());
        message.setAttr("type", "headline");
        message.setAttr("id", randomId(12));
        message.append("event", std::string(kPubsubEvent)).append(content);
        // XEP-0060 §6.1.7 (and §12.16 on_sub_and_presence): the last published item carries a
        // XEP-0203 delay with the time it was published, so that clients see that it is not news.
        if (publishedAt > 0)
            appendDelay(message, owner.str(), publishedAt, "");
        return std::make_shared<const xmpp::Stanza>(xmpp::StanzaKind::Message, std::move(message), to, owner);
    }

    // Sends `content` (in <event/>) to every available resource that wants the node's notifications and
    // whose account may see the node: the owner's own, and its contacts' (XEP-0163 §4.3).
    asio::awaitable<void> notify(Jid owner, std::string node, PepNodeConfig config, xml::Element content) {
        const std::string ownerHost(owner.domain());
        const std::string ownerUser(owner.local());
        std::vector<Jid> accounts{owner};
        auto roster = co_await context_->storage().roster().loadRoster(ownerHost, ownerUser);
        if (!roster) {
            logFailure("read the roster", owner, roster.error());
        } else {
            for (const storage::RosterItem& item : roster->items) {
                // Notifications follow presence (XEP-0163 §4.3.2): only contacts who receive it.
                if (!receivesPresence(item.subscription))
                    continue;
                auto contact = Jid::parse(item.jid);
                if (!contact || !contact->hasLocal() || !context_->config().findHost(contact->domain()))
                    continue;  // TODO(federation): remote contacts
                if (accessFor(config, owner, *contact, &item) == Access::Allowed)
                    accounts.push_back(std::move(*contact));
            }
        }
        for (const Jid& account : accounts) {
            for (const SessionPtr& session : context_->sessionsOf(account)) {
                if (!session->isAvailable() || !caps_.wantsNotify(session->jid().str(), node))
                    continue;
                xmpp::StanzaPtr message = eventMessage(owner, session->jid(), content);
                co_await context_->route(std::move(message));
            }
        }
    }

    // --- capabilities and the last items -----------------------------------------------------------

    asio::awaitable<HookVerdict> onOutboundPresence(RoutedStanza& routed) {
        // Only a client's own broadcast presence (RFC 6121 §4.2, §4.4) says what the resource supports.
        if (!routed.session || routed.stanza->to())
            co_return HookVerdict::Continue;
        const std::string full = routed.session->jid().str();
        const std::string_view type = routed.stanza->type();
        if (type == "unavailable") {
            caps_.forget(full);
            co_return HookVerdict::Continue;
        }
        const xml::Element* c = routed.stanza->element().findChild("c", kCapsNs);
        // XEP-0115 §5.2: only hashed capabilities can be verified; we check sha-1.
        if (!type.empty() || !c || c->attr("hash") != "sha-1" || c->attr("ver").empty())
            co_return HookVerdict::Continue;
        const std::string ver(c->attr("ver"));
        if (!caps_.setVer(full, ver))
            co_return HookVerdict::Continue;  // the same capabilities as before: nothing new to send
        const Jid jid = routed.session->jid();
        std::string capsNode(c->attr("node"));
        // Not awaited: the answer to our disco#info is a later stanza of this same client, which
        // waits until this presence is routed.
        context_->spawn(
            [this, jid, capsNode = std::move(capsNode), ver] { return learnCaps(jid, capsNode, ver); });
        co_return HookVerdict::Continue;
    }

    // XEP-0115 §6.2: ask the resource what a ver means unless known, check the hash (§5.4), then send it
    // the last items it may see.
    asio::awaitable<void> learnCaps(Jid jid, std::string capsNode, std::string ver) {
        if (!caps_.knows(ver)) {
            const bool learned = co_await queryCaps(jid, capsNode, ver);
            if (!learned) {
                // Unknown capabilities: the next presence with this ver asks again.
                caps_.forget(jid.str(), ver);
                co_return;
            }
        }
        if (caps_.verOf(jid.str()) != ver)
            co_return;  // gone offline or changed meanwhile
        co_await sendLastItems(jid);
    }

    // Asks the resource what `ver` means and remembers it if the answer matches the hash.
    asio::awaitable<bool> queryCaps(Jid jid, std::string capsNode, std::string ver) {
        xml::Element iq("iq", std::string(kClientNs));
        iq.setAttr("type", "get");
        iq.setAttr("from", std::string(jid.domain()));
        iq.setAttr("to", jid.str());
        iq.append("query", std::string(kDiscoInfoNs)).setAttr("node", capsNode + "#" + ver);
        xmpp::Stanza request(xmpp::StanzaKind::Iq, std::move(iq), jid, jid.domainJid());
        IqAnswer answer = co_await context_->sendIq(std::move(request), capsTimeout_);
        if (!answer) {
            context_->log().info("no answer from " + jid.str() + " to the capabilities query for " + ver);
            co_return false;
        }
        const xmpp::Stanza& reply = **answer;
        const xml::Element* query = reply.element().findChild("query", kDiscoInfoNs);
        if (reply.type() != "result" || !query)
            co_return false;
        if (capsSha1Ver(*query) != ver) {
            // §5.4 step 3.6: a mismatch is not cached (and not believed).
            context_->log().warn(jid.str() + " announced capabilities " + ver +
                                 " that do not match its disco#info");
            co_return false;
        }
        std::set<std::string> features;
        for (const xml::Element* feature : query->children("feature", kDiscoInfoNs))
            features.emplace(feature->attr("var"));
        caps_.learn(ver, std::move(features));
        co_return true;
    }

    // XEP-0163 §4.3.4 (XEP-0060 send_last_published_item=on_sub_and_presence): the newest item of each
    // node that the resource wants and may see, of its own account and of each contact whose presence
    // it receives.
    asio::awaitable<void> sendLastItems(Jid jid) {
        const Jid self = jid.bare();
        const std::string selfHost(self.domain());
        const std::string selfUser(self.local());
        std::vector<Jid> owners{self};
        auto roster = co_await context_->storage().roster().loadRoster(selfHost, selfUser);
        if (roster) {
            for (const storage::RosterItem& item : roster->items) {
                if (item.subscription != Subscription::To && item.subscription != Subscription::Both)
                    continue;
                auto contact = Jid::parse(item.jid);
                if (contact && contact->hasLocal() && context_->config().findHost(contact->domain()))
                    owners.push_back(std::move(*contact));
            }
        }
        for (const Jid& owner : owners)
            co_await sendLastItemsOf(owner, jid, /*onSubscription=*/false);
    }

    // XEP-0060 send_last_published_item on_sub (XEP-0163 §4.3.4): an account's approval reaches the
    // contact. The owner's side of the roster already says `from` (the roster module records it before
    // it routes the approval on), so the access check lets the contact's online resources have the last
    // items they want; they get them before the roster module (priority 0) handles the approval.
    asio::awaitable<HookVerdict> onInboundPresence(RoutedStanza& routed) {
        const xmpp::Stanza& presence = *routed.stanza;
        if (presence.type() != "subscribed" || !presence.to())
            co_return HookVerdict::Continue;
        const Jid owner = presence.from()->bare();
        const Jid contact = presence.to()->bare();
        if (owner.hasLocal() && context_->config().findHost(owner.domain()))
            co_await sendLastItemsToContact(owner, contact);
        co_return HookVerdict::Continue;
    }

    // After a new subscription: the last items of `owner` to each online resource of `contact`.
    asio::awaitable<void> sendLastItemsToContact(Jid owner, Jid contact) {
        for (const SessionPtr& session : context_->sessionsOf(contact)) {
            if (session->isAvailable()) {
                const Jid resource = session->jid();
                co_await sendLastItemsOf(owner, resource, /*onSubscription=*/true);
            }
        }
    }

    // The newest item of each node of `owner` that the resource `jid` wants (+notify) and may see, for
    // the nodes that send it at this moment (pubsub#send_last_published_item: on_sub, or
    // on_sub_and_presence).
    asio::awaitable<void> sendLastItemsOf(Jid owner, Jid jid, bool onSubscription) {
        const Jid self = jid.bare();
        const std::string ownerHost(owner.domain());
        const std::string ownerUser(owner.local());
        auto nodes = co_await context_->storage().pep().listNodes(ownerHost, ownerUser);
        if (!nodes) {
            logFailure("list the nodes", owner, nodes.error());
            co_return;
        }
        for (const storage::PepNode& node : *nodes) {
            const std::string& when = node.config.sendLastPublishedItem;
            const bool now = when == "on_sub_and_presence" || (onSubscription && when == "on_sub");
            if (!now || !caps_.wantsNotify(jid.str(), node.name))
                continue;
            auto access = co_await accessOf(owner, self, node.config);
            if (!access || *access != Access::Allowed)
                continue;
            auto items = co_await context_->storage().pep().items(ownerHost, ownerUser, node.name, {}, 1);
            if (!items || items->empty())
                continue;
            const PepItem& last = items->front();
            auto payload =
                parseStoredXml(last.xml, context_->log(), "item " + last.id + " of node " + node.name);
            if (!payload)
                continue;
            xml::Element content("items", std::string(kPubsubEvent));
            content.setAttr("node", node.name);
            xml::Element& element = content.append("item", std::string(kPubsubEvent));
            element.setAttr("id", last.id);
            element.append(std::move(*payload));
            xmpp::StanzaPtr message = eventMessage(owner, jid, content, last.publishedAt);
            co_await context_->route(std::move(message));
        }
    }

    // XEP-0030 disco#items of an account (XEP-0060 §5.2): the nodes the requester may see.
    asio::awaitable<std::vector<xml::Element>> listVisibleNodes(Jid account, Jid requester) {
        const std::string accountHost(account.domain());
        const std::string accountUser(account.local());
        std::vector<xml::Element> items;
        auto nodes = co_await context_->storage().pep().listNodes(accountHost, accountUser);
        if (!nodes) {
            logFailure("list the nodes", account, nodes.error());
            co_return items;
        }
        for (const storage::PepNode& node : *nodes) {
            auto access = co_await accessOf(account, requester, node.config);
            if (!access || *access != Access::Allowed)
                continue;
            xml::Element item("item", "http://jabber.org/protocol/disco#items");
            item.setAttr("jid", account.str());
            item.setAttr("node", node.name);
            items.push_back(std::move(item));
        }
        co_return items;
    }

    // XEP-0060 §5.3 (disco#info of a node: pubsub/leaf and its meta-data form) and §5.5 (disco#items of
    // a node: its items by id), for those the access model lets see the node. Not ours (nullopt) when
    // the account has no such node.
    asio::awaitable<std::optional<IqResult>> describeNode(AccountNodeQuery query) {
        const std::string host(query.account.domain());
        const std::string user(query.account.local());
        auto found = co_await context_->storage().pep().findNode(host, user, query.node);
        if (!found) {
            logFailure("read node " + query.node, query.account, found.error());
            co_return IqResult(storageFailure("read"));
        }
        if (!found->has_value())
            co_return std::nullopt;
        const PepNodeConfig& config = **found;
        auto access = co_await accessOf(query.account, query.requester, config);
        if (!access)
            co_return IqResult(access.error());
        if (*access != Access::Allowed)
            co_return IqResult(accessError(*access));
        // Newest first; all of them for the items, the newest for the payload type.
        const std::size_t limit = query.items ? 0 : 1;
        auto items = co_await context_->storage().pep().items(host, user, query.node, {}, limit);
        if (!items) {
            logFailure("read the items of node " + query.node, query.account, items.error());
            co_return IqResult(storageFailure("read"));
        }
        if (query.items) {
            xml::Element list("query", "http://jabber.org/protocol/disco#items");
            for (auto it = items->rbegin(); it != items->rend(); ++it) {
                xml::Element& item = list.append("item", "http://jabber.org/protocol/disco#items");
                item.setAttr("jid", query.account.str());
                item.setAttr("name", it->id);
            }
            co_return IqResult(std::move(list));
        }
        std::string payloadType = config.payloadType;  // configured, else the newest payload's
        if (payloadType.empty() && !items->empty()) {
            const PepItem& last = items->front();
            if (auto payload = parseStoredXml(last.xml, context_->log(), "item " + last.id))
                payloadType = payload->ns();
        }
        co_return IqResult(nodeInfo(query.account, config, payloadType));
    }

    // The disco#info of a node (XEP-0060 §5.3, Example 10): identity pubsub/leaf and the
    // pubsub#meta-data form (§16.4.4) with what this service knows of the node.
    static xml::Element nodeInfo(const Jid& owner, const PepNodeConfig& config,
                                 const std::string& payloadType) {
        xml::Element query("query", std::string(kDiscoInfoNs));
        xml::Element& identity = query.append("identity", std::string(kDiscoInfoNs));
        identity.setAttr("category", "pubsub");
        identity.setAttr("type", "leaf");
        query.append("feature", std::string(kDiscoInfoNs)).setAttr("var", std::string(kPubsub));
        xml::Element& form = query.append("x", std::string(kDataForms));
        form.setAttr("type", "result");
        auto field = [&form](std::string var, std::string type, const std::string& value) {
            xml::Element& element = form.append("field", std::string(kDataForms));
            element.setAttr("var", std::move(var));
            element.setAttr("type", std::move(type));
            if (!value.empty())
                element.append("value", std::string(kDataForms)).appendText(value);
        };
        field("FORM_TYPE", "hidden", std::string(kPubsub) + "#meta-data");
        if (!config.title.empty())
            field("pubsub#title", "text-single", config.title);
        if (!config.description.empty())
            field("pubsub#description", "text-single", config.description);
        field("pubsub#type", "text-single", payloadType);
        field("pubsub#owner", "jid-multi", owner.str());
        field("pubsub#publisher", "jid-multi", owner.str());
        field("pubsub#access_model", "list-single", config.accessModel);
        field("pubsub#max_items", "text-single", maxItemsText(config));
        field("pubsub#persist_items", "boolean", config.persistItems ? "1" : "0");
        return query;
    }

    ModuleContext* context_ = nullptr;
    std::size_t maxItems_ = kDefaultMaxItems;
    std::size_t maxItemBytes_ = kDefaultMaxItemBytes;
    std::size_t maxNodes_ = kDefaultMaxNodes;
    std::chrono::seconds capsTimeout_{kDefaultCapsTimeout};
    CapsRegistry caps_;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo pepModule() {
    return {"pep",
            "personal eventing: avatars, nicknames, bookmarks and OMEMO keys published to contacts",
            {"XEP-0163", "XEP-0060", "XEP-0223"},
            [] { return std::unique_ptr<Module>(std::make_unique<PepModule>()); }};
}

}  // namespace parley::server::modules
