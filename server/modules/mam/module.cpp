// XEP-0313 Message Archive Management (urn:xmpp:mam:2, and urn:xmpp:mam:1 which differs only in its
// namespace), with XEP-0359 stanza ids, XEP-0059 paging and XEP-0297 forwarding of the results.
//
// Archiving: the Outbound hook archives a chat or normal message a client sends in the sender's
// archive; the Inbound hook archives one a local account receives in the recipient's archive (before
// delivery, so also before offline storage) and adds <stanza-id by='user@host'/> to the copy that is
// delivered. Both hooks remove <stanza-id/> elements that claim to be by one of our hosts or accounts
// (XEP-0359 §5: only we may say what our archive ids are). A failed archive write is logged and the
// message is delivered anyway: an archive hole is better than a lost message.
//
// Queries run against the storage's ArchiveStore (docs/storage.md "Message archive"); the result
// messages go straight to the querying session, in order, before the router sends the iq result.
#include <algorithm>
#include <charconv>
#include <mutex>
#include <set>
#include <unordered_map>

#include "parley/base/random.h"
#include "parley/modules/datetime.h"
#include "parley/modules/options.h"
#include "parley/modules/stored_xml.h"
#include "parley/modules/worth_keeping.h"
#include "parley/server/module.h"
#include "parley/storage/storage.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kMam2 = "urn:xmpp:mam:2";
constexpr std::string_view kMam1 = "urn:xmpp:mam:1";
constexpr std::string_view kMamExtended = "urn:xmpp:mam:2#extended";                     // XEP-0313 §6
constexpr std::string_view kStanzaIds = "urn:xmpp:sid:0";                                // XEP-0359
constexpr std::string_view kForward = "urn:xmpp:forward:0";                              // XEP-0297
constexpr std::string_view kDelay = "urn:xmpp:delay";                                    // XEP-0203
constexpr std::string_view kRsm = "http://jabber.org/protocol/rsm";                      // XEP-0059
constexpr std::string_view kDataForms = "jabber:x:data";                                 // XEP-0004
constexpr std::string_view kFormValidate = "http://jabber.org/protocol/xdata-validate";  // XEP-0122
// XEP-0431 full-text search field.
constexpr std::string_view kFullTextField = "{urn:xmpp:fulltext:0}fulltext";
constexpr std::string_view kPrefsStore = "mam";
constexpr std::string_view kPrefsKey = "prefs";

constexpr std::size_t kDefaultPageSize = 50;
constexpr std::size_t kDefaultMaxPageSize = 250;
constexpr std::size_t kDefaultMaxMessages = 100000;
constexpr std::int64_t kDefaultMaxAgeSeconds = 365 * 24 * 3600;
constexpr std::int64_t kDefaultCleanupSeconds = 3600;
constexpr std::size_t kPrefsCacheSize = 10000;

using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;

// XEP-0313 §7 (XEP-0441): the default policy and the JIDs always or never archived, bare.
struct Prefs {
    std::string defaultPolicy;  // always, never, roster
    std::set<std::string> always;
    std::set<std::string> never;

    // Stored in the key-value store as lines: the default, then "+jid" and "-jid".
    std::string serialize() const {
        std::string text = defaultPolicy + "\n";
        for (const auto& jid : always)
            text += "+" + jid + "\n";
        for (const auto& jid : never)
            text += "-" + jid + "\n";
        return text;
    }
    static Prefs parse(std::string_view text, const std::string& fallbackPolicy) {
        Prefs prefs;
        prefs.defaultPolicy = fallbackPolicy;
        bool first = true;
        while (!text.empty()) {
            const auto newline = text.find('\n');
            const std::string_view line = text.substr(0, newline);
            text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
            if (first && (line == "always" || line == "never" || line == "roster"))
                prefs.defaultPolicy = line;
            else if (line.starts_with('+'))
                prefs.always.emplace(line.substr(1));
            else if (line.starts_with('-'))
                prefs.never.emplace(line.substr(1));
            first = false;
        }
        return prefs;
    }
};

// What a query asks for, read from its form and RSM set.
struct ParsedQuery {
    storage::ArchiveQuery query;
    std::string queryId;
    bool flipPage = false;
};

class MamModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        maxPageSize_ = countOption(context, "mam", "max_page_size", kDefaultMaxPageSize, 1);
        // A default above the cap is capped, as a client's <max/> is.
        defaultPageSize_ =
            std::min(countOption(context, "mam", "default_page_size", kDefaultPageSize, 1), maxPageSize_);
        maxMessages_ = countOption(context, "mam", "max_messages_per_user", kDefaultMaxMessages);
        maxAgeSeconds_ = durationOption(context, "mam", "max_age", kDefaultMaxAgeSeconds);
        cleanupInterval_ = std::chrono::seconds(
            durationOption(context, "mam", "cleanup_interval", kDefaultCleanupSeconds, 1));
        defaultPolicy_ = choiceOption(context, "mam", "default", "always", {"always", "never", "roster"});
        // Retention runs on the server's clock, whether or not anyone sends messages.
        if (maxAgeSeconds_ > 0) {
            registrations_.push_back(context.every(cleanupInterval_, [this] {
                const std::int64_t before = (context_->clock().unixSeconds() - maxAgeSeconds_) * 1000;
                return removeOlderThan(before);
            }));
        }

        // XEP-0313 §6, XEP-0359 §3: the archive (and the ids it adds) is the account's, so the features
        // are listed by disco#info of the account's bare JID, not of the server.
        for (std::string_view feature : {kMam2, kMam1, kMamExtended, kStanzaIds})
            registrations_.push_back(context.addAccountDiscoFeature(std::string(feature)));
        for (std::string_view ns : {kMam2, kMam1}) {
            const std::string space(ns);
            registrations_.push_back(
                context.onIq(xmpp::IqType::Set, scopes({IqScope::Self}), space, "query",
                             [this, space](IqRequest r) { return handleQuery(std::move(r), space); }));
            registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Self}), space, "query",
                                                  [space](IqRequest) { return queryForm(space); }));
            registrations_.push_back(
                context.onIq(xmpp::IqType::Get, scopes({IqScope::Self}), space, "prefs",
                             [this, space](IqRequest r) { return getPrefs(std::move(r), space); }));
            registrations_.push_back(
                context.onIq(xmpp::IqType::Set, scopes({IqScope::Self}), space, "prefs",
                             [this, space](IqRequest r) { return setPrefs(std::move(r), space); }));
        }
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Self}), std::string(kMam2),
                                              "metadata",
                                              [this](IqRequest r) { return metadata(std::move(r)); }));
        // Below blocking (1000: a blocked message is never archived, XEP-0313 §5.1), above carbons (100)
        // and roster (0); the Inbound hook runs before the delivery rules, so before offline storage.
        registrations_.push_back(context.onStanza(StanzaHookPoint::Outbound, xmpp::StanzaKind::Message, 500,
                                                  [this](RoutedStanza& routed) { return outbound(routed); }));
        registrations_.push_back(context.onStanza(StanzaHookPoint::Inbound, xmpp::StanzaKind::Message, 500,
                                                  [this](RoutedStanza& routed) { return inbound(routed); }));
        registrations_.push_back(context.onAccountDeleted([this](const AccountDeletedEvent& event) {
            // The storage removed the archive with the account; this catches appends that were in flight.
            cachePrefs(event.username + "@" + event.host, std::nullopt);
            context_->spawn(
                [this, host = event.host, user = event.username]() { return removeArchive(host, user); });
        }));
    }

  private:
    // --- archiving ---------------------------------------------------------------------------------

    bool isOurs(std::string_view by) const {
        auto jid = Jid::parse(by);
        if (!jid)
            return false;
        const auto& hosts = context_->config().hosts;
        return std::any_of(hosts.begin(), hosts.end(),
                           [&](const HostConfig& host) { return host.domain == jid->domain(); });
    }

    // XEP-0359 §5: a <stanza-id/> by one of our hosts or accounts that did not come from us is a forgery
    // (a client or a remote peer cannot tell our archive ids); it is removed. nullopt: there was none.
    std::optional<xml::Element> withoutForgedIds(const xml::Element& message) const {
        bool forged = false;
        for (const xml::Element* id : message.children("stanza-id", kStanzaIds))
            forged = forged || isOurs(id->attr("by"));
        if (!forged)
            return std::nullopt;
        xml::Element cleaned = message;
        auto& nodes = cleaned.nodes();
        nodes.erase(std::remove_if(nodes.begin(), nodes.end(),
                                   [&](const xml::Node& node) {
                                       return node.isElement() &&
                                              node.element().is("stanza-id", kStanzaIds) &&
                                              isOurs(node.element().attr("by"));
                                   }),
                    nodes.end());
        return cleaned;
    }

    static xmpp::StanzaPtr replaced(const xmpp::Stanza& stanza, xml::Element element) {
        return std::make_shared<const xmpp::Stanza>(stanza.kind(), std::move(element), stanza.to(),
                                                    stanza.from());
    }

    // XEP-0313 §5.1.1: chat and normal messages with a body (or something else worth keeping), unless
    // a XEP-0334 hint forbids keeping them (§4.2 no-permanent-store, §4.3 no-store).
    static bool isArchivable(const xmpp::Stanza& stanza) {
        const std::string_view type = stanza.type();
        if (!type.empty() && type != "chat" && type != "normal")
            return false;
        const xml::Element& message = stanza.element();
        if (message.findChild("no-store", kHintsNamespace) ||
            message.findChild("no-permanent-store", kHintsNamespace))
            return false;
        return isWorthKeeping(message);
    }

    asio::awaitable<HookVerdict> outbound(RoutedStanza& routed) {
        if (!routed.session)
            co_return HookVerdict::Continue;  // generated by the server: nothing a client could forge
        if (auto cleaned = withoutForgedIds(routed.stanza->element()))
            routed.stanza = replaced(*routed.stanza, std::move(*cleaned));
        const xmpp::StanzaPtr stanza = routed.stanza;
        // A message to one's own account is archived once, as received (the Inbound hook).
        if (!stanza->to() || !isArchivable(*stanza) || stanza->to()->bareView() == stanza->from()->bareView())
            co_return HookVerdict::Continue;
        const Jid owner = stanza->from()->bare();
        const Jid with = *stanza->to();
        co_await archive(owner, with, stanza);
        co_return HookVerdict::Continue;
    }

    asio::awaitable<HookVerdict> inbound(RoutedStanza& routed) {
        if (auto cleaned = withoutForgedIds(routed.stanza->element()))
            routed.stanza = replaced(*routed.stanza, std::move(*cleaned));
        const xmpp::StanzaPtr stanza = routed.stanza;
        if (!stanza->to() || !stanza->from() || !isArchivable(*stanza))
            co_return HookVerdict::Continue;
        const Jid owner = stanza->to()->bare();
        const Jid with = *stanza->from();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        // No archive for a name that has no account (RFC 6120 §13.11: it looks the same to the sender).
        // An account with a session exists; only for one without is the store asked.
        if (context_->sessionsOf(owner).empty()) {
            auto account = co_await context_->storage().accounts().findAccount(host, user);
            if (!account || !account->has_value())
                co_return HookVerdict::Continue;
        }
        auto id = co_await archive(owner, with, stanza);
        if (!id)
            co_return HookVerdict::Continue;
        // XEP-0359 §4: the recipient learns the message's archive id.
        xml::Element element = stanza->element();
        xml::Element& stanzaId = element.append("stanza-id", std::string(kStanzaIds));
        stanzaId.setAttr("by", owner.str());
        stanzaId.setAttr("id", *id);
        routed.stanza = replaced(*stanza, std::move(element));
        co_return HookVerdict::Continue;
    }

    // Whether the owner's preferences let messages with `with` be archived (XEP-0313 §7): never wins
    // over always, which wins over the default.
    asio::awaitable<bool> allowedByPrefs(Jid owner, std::string with) {
        auto prefs = co_await loadPrefs(owner);
        if (!prefs) {
            // Unreadable preferences: archiving what the user may have said never to keep is worse
            // than a hole in the archive.
            co_return false;
        }
        if (prefs->never.contains(with))
            co_return false;
        if (prefs->always.contains(with) || prefs->defaultPolicy == "always")
            co_return true;
        if (prefs->defaultPolicy == "never")
            co_return false;
        const std::string host(owner.domain());
        const std::string user(owner.local());
        auto item = co_await context_->storage().roster().findItem(host, user, with);
        co_return item && item->has_value() && (*item)->listed;
    }

    // Archives `stanza` in `owner`'s archive, `with` being the other party; the archive id, or nullopt
    // when it was not archived (preferences, or a storage failure, which is logged).
    asio::awaitable<std::optional<std::string>> archive(Jid owner, Jid with, xmpp::StanzaPtr stanza) {
        const std::string withBare(with.bareView());
        const bool allowed = co_await allowedByPrefs(owner, withBare);
        if (!allowed)
            co_return std::nullopt;
        storage::ArchivedMessage message;
        // XEP-0313 §3.1 (XEP-0359 §4): unique within the archive and unpredictable.
        message.id = randomId(18);
        message.stamp = context_->clock().unixSeconds() * 1000;
        message.with = withBare;
        message.withResource = std::string(with.resource());
        // With its xmlns, so that it is a jabber:client <message/> inside <forwarded/> (XEP-0297 §4).
        message.xml = stanza->element().toString();
        message.text = stanza->element().childText("body", ns::kClient);
        std::string id = message.id;
        const std::string host(owner.domain());
        const std::string user(owner.local());
        auto appended =
            co_await context_->storage().archive().append(host, user, std::move(message), maxMessages_);
        if (!appended) {
            context_->log().warn("cannot archive a message for " + owner.str() + ": " +
                                 std::string(storage::toString(appended.error())) +
                                 "; it is delivered without being archived");
            co_return std::nullopt;
        }
        co_return id;
    }

    // Retention (max_age): every cleanup_interval, the messages older than max_age go, for every user.
    asio::awaitable<void> removeOlderThan(std::int64_t before) {
        auto removed = co_await context_->storage().archive().removeOlderThan(before);
        if (!removed) {
            context_->log().warn("cannot remove archived messages older than max_age: " +
                                 std::string(storage::toString(removed.error())) +
                                 "; trying again at the next cleanup_interval");
        } else if (*removed > 0) {
            context_->log().info("removed " + std::to_string(*removed) +
                                 " archived messages older than max_age");
        }
    }

    asio::awaitable<void> removeArchive(std::string host, std::string user) {
        auto removed = co_await context_->storage().archive().removeAll(host, user);
        if (!removed) {
            context_->log().warn("cannot remove the archive of deleted account " + user + "@" + host + ": " +
                                 std::string(storage::toString(removed.error())));
        }
    }

    // --- preferences (XEP-0313 §7) -----------------------------------------------------------------

    // Preferences are read for every message archived, so the last ones read or set are kept here
    // (bounded: the cache starts over when full); setPrefs and account deletion update it.
    std::optional<Prefs> cachedPrefs(const std::string& owner) const {
        std::lock_guard lock(prefsMutex_);
        auto found = prefsCache_.find(owner);
        return found == prefsCache_.end() ? std::nullopt : std::optional<Prefs>(found->second);
    }
    void cachePrefs(const std::string& owner, std::optional<Prefs> prefs) {
        std::lock_guard lock(prefsMutex_);
        if (!prefs) {
            prefsCache_.erase(owner);
            return;
        }
        if (prefsCache_.size() >= kPrefsCacheSize)
            prefsCache_.clear();
        prefsCache_.insert_or_assign(owner, std::move(*prefs));
    }

    asio::awaitable<std::optional<Prefs>> loadPrefs(Jid owner) {
        if (auto cached = cachedPrefs(owner.str()))
            co_return cached;
        const std::string host(owner.domain());
        const std::string user(owner.local());
        const std::string store(kPrefsStore);
        const std::string key(kPrefsKey);
        auto stored = co_await context_->storage().keyValue().get(host, user, store, key);
        if (!stored) {
            context_->log().warn("cannot read the archiving preferences of " + owner.str() + ": " +
                                 std::string(storage::toString(stored.error())));
            co_return std::nullopt;
        }
        Prefs prefs = Prefs::parse(stored->value_or(""), defaultPolicy_);
        cachePrefs(owner.str(), prefs);
        co_return prefs;
    }

    static xml::Element prefsElement(const Prefs& prefs, const std::string& ns) {
        xml::Element element("prefs", ns);
        element.setAttr("default", prefs.defaultPolicy);
        for (const auto& [name, jids] :
             {std::pair{"always", &prefs.always}, std::pair{"never", &prefs.never}}) {
            xml::Element& list = element.append(name, ns);
            for (const std::string& jid : *jids)
                list.append("jid", ns).appendText(jid);
        }
        return element;
    }

    asio::awaitable<IqResult> getPrefs(IqRequest request, std::string ns) {
        const Jid owner = request.from().bare();
        auto prefs = co_await loadPrefs(owner);
        if (!prefs)
            co_return internalError();
        co_return prefsElement(*prefs, ns);
    }

    asio::awaitable<IqResult> setPrefs(IqRequest request, std::string ns) {
        const xml::Element& payload = request.payload();
        Prefs prefs;
        prefs.defaultPolicy = std::string(payload.attr("default"));
        if (prefs.defaultPolicy != "always" && prefs.defaultPolicy != "never" &&
            prefs.defaultPolicy != "roster") {
            co_return StanzaError(StanzaErrorCondition::BadRequest,
                                  "default must be 'always', 'never' or 'roster' (XEP-0313 §7)");
        }
        for (const auto& [name, jids] :
             {std::pair{"always", &prefs.always}, std::pair{"never", &prefs.never}}) {
            const xml::Element* list = payload.findChild(name, ns);
            if (!list)
                continue;
            for (const xml::Element* item : list->children("jid", ns)) {
                auto jid = Jid::parse(item->text());
                if (!jid) {
                    co_return StanzaError(StanzaErrorCondition::JidMalformed,
                                          "'" + item->text() + "' in <" + name + "/> is not a JID");
                }
                jids->insert(std::string(jid->bareView()));
            }
        }
        const Jid owner = request.from().bare();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        const std::string store(kPrefsStore);
        const std::string key(kPrefsKey);
        std::string document = prefs.serialize();
        auto stored =
            co_await context_->storage().keyValue().set(host, user, store, key, std::move(document));
        if (!stored) {
            context_->log().warn("cannot store the archiving preferences of " + owner.str() + ": " +
                                 std::string(storage::toString(stored.error())));
            co_return internalError();
        }
        cachePrefs(owner.str(), prefs);
        co_return prefsElement(prefs, ns);
    }

    // --- queries (XEP-0313 §4) ---------------------------------------------------------------------

    static StanzaError internalError() {
        return StanzaError(StanzaErrorCondition::InternalServerError,
                           "The message archive is not available; try again later");
    }

    // XEP-0313 §4.1.5: the fields a query form may hold.
    static asio::awaitable<IqResult> queryForm(std::string ns) {
        xml::Element query("query", ns);
        xml::Element& form = query.append("x", std::string(kDataForms));
        form.setAttr("type", "form");
        auto field = [&](std::string_view type, std::string_view var) -> xml::Element& {
            xml::Element& element = form.append("field", std::string(kDataForms));
            element.setAttr("type", std::string(type));
            element.setAttr("var", std::string(var));
            return element;
        };
        field("hidden", "FORM_TYPE").append("value", std::string(kDataForms)).appendText(ns);
        field("jid-single", "with");
        field("text-single", "start");
        field("text-single", "end");
        field("text-single", "before-id");
        field("text-single", "after-id");
        xml::Element& validate = field("list-multi", "ids").append("validate", std::string(kFormValidate));
        validate.setAttr("datatype", "xs:string");
        validate.append("open", std::string(kFormValidate));
        field("text-single", kFullTextField);
        co_return query;
    }

    // Reads the form and the RSM set; an error for what the XEP says to refuse.
    Result<ParsedQuery, StanzaError> parseQuery(const xml::Element& payload, const std::string& ns) const {
        ParsedQuery parsed;
        parsed.queryId = std::string(payload.attr("queryid"));
        // XEP-0313 §4.3.4 flipped pages.
        parsed.flipPage = payload.findChild("flip-page", ns) != nullptr;
        storage::ArchiveQuery& query = parsed.query;
        if (const xml::Element* form = payload.findChild("x", kDataForms)) {
            for (const xml::Element* field : form->children("field", kDataForms)) {
                const std::string var(field->attr("var"));
                std::vector<std::string> values;
                for (const xml::Element* value : field->children("value", kDataForms))
                    values.push_back(value->text());
                const std::string value = values.empty() ? std::string() : values.front();
                auto bad = [&](std::string why) {
                    return StanzaError(StanzaErrorCondition::BadRequest, "field '" + var + "': " + why);
                };
                if (var == "FORM_TYPE") {
                    if (value != ns)
                        return bad("must be " + ns);
                } else if (var == "with") {
                    if (value.empty())
                        continue;
                    auto jid = Jid::parse(value);
                    if (!jid)
                        return bad("'" + value + "' is not a JID");
                    query.with = std::string(jid->bareView());
                    // XEP-0313 §4.1.1: a full JID matches only that resource.
                    if (jid->hasResource())
                        query.withResource = std::string(jid->resource());
                } else if (var == "start" || var == "end") {
                    if (value.empty())
                        continue;
                    auto stamp = parseDateTime(value);
                    if (!stamp)
                        return bad("'" + value +
                                   "' is not an XEP-0082 DateTime such as 2010-06-07T00:00:00Z");
                    (var == "start" ? query.start : query.end) = *stamp;
                } else if (var == "after-id" || var == "before-id") {
                    if (!value.empty())
                        (var == "after-id" ? query.afterId : query.beforeId) = value;
                } else if (var == "ids") {
                    if (values.size() > maxPageSize_)
                        return bad("at most " + std::to_string(maxPageSize_) + " ids in one query");
                    query.ids = std::move(values);
                } else if (var == kFullTextField) {
                    query.text = value;
                } else {
                    // XEP-0313 §4.1.5: a field the server does not know.
                    return StanzaError(StanzaErrorCondition::FeatureNotImplemented,
                                       "the query field '" + var + "' is not supported");
                }
            }
        }
        query.max = defaultPageSize_;
        if (const xml::Element* set = payload.findChild("set", kRsm)) {
            if (set->findChild("index", kRsm)) {
                // XEP-0059 §2.6: paging by index is optional; we page by id only.
                return StanzaError(StanzaErrorCondition::FeatureNotImplemented,
                                   "paging by <index/> is not supported; page with <after/> and <before/>");
            }
            if (const xml::Element* max = set->findChild("max", kRsm)) {
                const std::string text = max->text();
                std::size_t value = 0;
                auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
                if (ec != std::errc() || end != text.data() + text.size()) {
                    return StanzaError(StanzaErrorCondition::BadRequest,
                                       "<max/> must be a whole number of 0 or more (XEP-0059 §2.1)");
                }
                // The server's cap bounds what one query may cost (XEP-0313 §4.3.1).
                query.max = std::min(value, maxPageSize_);
            }
            if (const xml::Element* after = set->findChild("after", kRsm))
                query.after = after->text();
            if (const xml::Element* before = set->findChild("before", kRsm))
                query.before = before->text();
        }
        return parsed;
    }

    // The session the query came from: the results go to it alone.
    SessionPtr querier(const Jid& from) const {
        for (SessionPtr& session : context_->sessionsOf(from.bare())) {
            if (session->jid() == from)
                return std::move(session);
        }
        return nullptr;
    }

    // XEP-0313 §4.2: one result message, the archived message forwarded (XEP-0297) with its delay.
    std::optional<xmpp::StanzaPtr> resultMessage(const storage::ArchivedMessage& archived, const Jid& owner,
                                                 const Jid& to, const ParsedQuery& parsed,
                                                 const std::string& ns) const {
        auto original = parseStoredXml(archived.xml, context_->log(),
                                       "archived message " + archived.id + " of " + owner.str());
        if (!original)
            return std::nullopt;  // a damaged row: logged and left out
        xml::Element message("message", std::string(ns::kClient));
        message.setAttr("id", randomId(12));
        message.setAttr("to", to.str());
        message.setAttr("from", owner.str());
        xml::Element& result = message.append("result", ns);
        if (!parsed.queryId.empty())
            result.setAttr("queryid", parsed.queryId);
        result.setAttr("id", archived.id);
        xml::Element& forwarded = result.append("forwarded", std::string(kForward));
        forwarded.append("delay", std::string(kDelay)).setAttr("stamp", utcStamp(archived.stamp / 1000));
        forwarded.append(std::move(*original));
        return std::make_shared<const xmpp::Stanza>(xmpp::StanzaKind::Message, std::move(message), to, owner);
    }

    asio::awaitable<IqResult> handleQuery(IqRequest request, std::string ns) {
        auto parsed = parseQuery(request.payload(), ns);
        if (!parsed)
            co_return parsed.error();
        const Jid owner = request.from().bare();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        auto page = co_await context_->storage().archive().query(host, user, parsed->query);
        if (!page) {
            if (page.error() == storage::StorageError::NotFound) {
                // XEP-0313 §4.1.3, §4.3.2.
                co_return StanzaError(StanzaErrorCondition::ItemNotFound,
                                      "a message id in the query is not in the archive");
            }
            context_->log().warn("cannot query the archive of " + owner.str() + ": " +
                                 std::string(storage::toString(page.error())));
            co_return internalError();
        }
        // The results go to the querying session before the router sends it the iq result, which it
        // does once this handler returns, on this same loop: both are queued in that order. They go
        // directly, not routed: they are for that session alone, and no hook (carbons, archiving,
        // blocking) may act on them.
        if (SessionPtr session = querier(request.from())) {
            std::vector<xmpp::StanzaPtr> results;
            for (const storage::ArchivedMessage& archived : page->messages) {
                if (auto result = resultMessage(archived, owner, request.from(), *parsed, ns))
                    results.push_back(std::move(*result));
            }
            if (parsed->flipPage)
                std::reverse(results.begin(), results.end());
            for (xmpp::StanzaPtr& result : results)
                session->deliver(std::move(result));
        }
        xml::Element fin("fin", ns);
        // XEP-0313 §4.3.2: true on the last page (the first when paging backwards); false (allowed in
        // place of no attribute) says so explicitly otherwise.
        fin.setAttr("complete", page->complete ? "true" : "false");
        xml::Element& set = fin.append("set", std::string(kRsm));
        if (!page->messages.empty()) {
            // In archive order, whether the page was flipped or not (XEP-0313 §4.3.4: flipping changes
            // only the order the results are sent in).
            xml::Element& first = set.append("first", std::string(kRsm));
            // XEP-0059 §2.4: where the page starts among all the results, so that a client can show
            // "messages 51-100 of 730" and jump (the store counts it over an index, as the count).
            first.setAttr("index", std::to_string(page->firstIndex));
            first.appendText(page->messages.front().id);
            set.append("last", std::string(kRsm)).appendText(page->messages.back().id);
        }
        set.append("count", std::string(kRsm)).appendText(std::to_string(page->count));
        co_return fin;
    }

    // XEP-0313 §5: the first and last messages of the archive.
    asio::awaitable<IqResult> metadata(IqRequest request) {
        const Jid owner = request.from().bare();
        const std::string host(owner.domain());
        const std::string user(owner.local());
        xml::Element metadata("metadata", std::string(kMam2));
        for (const bool last : {false, true}) {
            storage::ArchiveQuery query;
            query.max = 1;
            if (last)
                query.before = "";
            auto page = co_await context_->storage().archive().query(host, user, std::move(query));
            if (!page) {
                context_->log().warn("cannot read the archive metadata of " + owner.str() + ": " +
                                     std::string(storage::toString(page.error())));
                co_return internalError();
            }
            if (page->messages.empty())
                break;  // an empty archive: an empty <metadata/>
            xml::Element& end = metadata.append(last ? "end" : "start", std::string(kMam2));
            end.setAttr("id", page->messages.front().id);
            end.setAttr("timestamp", utcStamp(page->messages.front().stamp / 1000));
        }
        co_return metadata;
    }

    ModuleContext* context_ = nullptr;
    std::size_t defaultPageSize_ = kDefaultPageSize;
    std::size_t maxPageSize_ = kDefaultMaxPageSize;
    std::size_t maxMessages_ = kDefaultMaxMessages;
    std::int64_t maxAgeSeconds_ = kDefaultMaxAgeSeconds;
    std::chrono::seconds cleanupInterval_{kDefaultCleanupSeconds};
    std::string defaultPolicy_ = "always";
    mutable std::mutex prefsMutex_;                      // guards prefsCache_ (hooks run on every loop)
    std::unordered_map<std::string, Prefs> prefsCache_;  // by bare JID
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo mamModule() {
    return {"mam",
            "archives users' messages and answers archive queries (message history on every device)",
            {"XEP-0313", "XEP-0359", "XEP-0059", "XEP-0297", "XEP-0334"},
            [] { return std::unique_ptr<Module>(std::make_unique<MamModule>()); }};
}

}  // namespace parley::server::modules
