// RFC 6121: rosters (§2), presence subscriptions (§3) and presence (§4), in one module because the three
// share one state: the roster item of each contact, with its subscription.
//
// - Roster get/set/remove with pushes to interested resources (§2.1.6), versioning (§2.6) with pushes
//   of only what changed, a per-account size limit.
// - The subscription state machine for outbound (§3.1.2, §3.2.2, §3.3.2) and inbound (§3.1.3, §3.1.6,
//   §3.2.3, §3.3.3) subscription presence, pre-approval (§3.4), requests kept until the next login.
// - Presence: initial presence broadcast and probes (§4.2, §4.3), updates (§4.4), unavailable (§4.5,
//   also when a connection drops), directed presence (§4.6), answering probes (§4.3.2).
//
// Read-modify-write of an account's roster runs under a per-account KeyedMutex, and no stanza is routed
// while the lock is held (routing to a local contact takes the contact's lock: two accounts subscribing to
// each other at once would otherwise deadlock). docs/modules.md describes the behaviour.
#include <algorithm>
#include <charconv>
#include <set>

#include "parley/base/random.h"
#include "parley/modules/options.h"
#include "parley/server/keyed_mutex.h"
#include "parley/server/module.h"
#include "parley/storage/storage.h"
#include "parley/xml/stream_parser.h"

namespace parley::server::modules {
namespace {

using storage::RosterItem;
using storage::StorageError;
using storage::Subscription;
using xmpp::Stanza;
using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;
using xmpp::StanzaPtr;

constexpr std::string_view kRosterNs = "jabber:iq:roster";
constexpr std::string_view kClientNs = "jabber:client";
constexpr std::size_t kMaxNameBytes = 1023;  // our limit for names and group names (§2.3.3 not-acceptable)

// Per-session state (a session slot).
struct RosterSessionState final : SessionData {
    // §2.1.6: a resource that asked for the roster gets roster pushes. Read from any loop.
    std::atomic<bool> interested{false};
    // §4.6: who got directed available presence from this resource; only on the session's loop.
    std::vector<Jid> directed;
};

bool hasTo(Subscription s) {
    return s == Subscription::To || s == Subscription::Both;
}
bool hasFrom(Subscription s) {
    return s == Subscription::From || s == Subscription::Both;
}
Subscription withTo(Subscription s, bool to) {
    const bool from = hasFrom(s);
    return to ? (from ? Subscription::Both : Subscription::To)
              : (from ? Subscription::From : Subscription::None);
}
Subscription withFrom(Subscription s, bool from) {
    const bool to = hasTo(s);
    return from ? (to ? Subscription::Both : Subscription::From)
                : (to ? Subscription::To : Subscription::None);
}

bool isSubscriptionType(std::string_view type) {
    return type == "subscribe" || type == "subscribed" || type == "unsubscribe" || type == "unsubscribed";
}

xml::Element itemElement(const RosterItem& item) {
    xml::Element element("item", std::string(kRosterNs));
    element.setAttr("jid", item.jid);
    if (!item.name.empty())
        element.setAttr("name", item.name);
    element.setAttr("subscription", std::string(storage::toString(item.subscription)));
    if (item.askOut)
        element.setAttr("ask", "subscribe");  // §2.1.2.2
    if (item.preApproved)
        element.setAttr("approved", "true");  // §2.1.2.1
    for (const std::string& group : item.groups)
        element.append("group", std::string(kRosterNs)).appendText(group);
    return element;
}

StanzaError storageError() {
    return StanzaError(StanzaErrorCondition::InternalServerError,
                       "The roster storage failed; try again later");
}

StanzaPtr makePresence(std::string_view type, const Jid& from, const Jid& to) {
    xml::Element element("presence", std::string(kClientNs));
    if (!type.empty())
        element.setAttr("type", std::string(type));
    element.setAttr("from", from.str());
    element.setAttr("to", to.str());
    return std::make_shared<const Stanza>(xmpp::StanzaKind::Presence, std::move(element), to, from);
}

// A copy of `presence` addressed from `from` to `to`.
StanzaPtr readdressed(const Stanza& presence, const Jid& from, const Jid& to) {
    Stanza copy = presence;
    copy.setFrom(from);
    copy.setTo(to);
    return std::make_shared<const Stanza>(std::move(copy));
}

// RFC 6121 §2.1.3 lets a server limit the roster; `max_items` says how far.
constexpr std::size_t kDefaultMaxItems = 1000;

class RosterModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        ctx_ = &context;
        slot_ = context.allocateSessionSlot();
        maxItems_ = countOption(context, "roster", "max_items", kDefaultMaxItems);
        const auto self = scopes({IqScope::Self, IqScope::Bare});
        add(context.onIq(xmpp::IqType::Get, self, std::string(kRosterNs), "query",
                         [this](IqRequest request) { return handleGet(std::move(request)); }));
        add(context.onIq(xmpp::IqType::Set, self, std::string(kRosterNs), "query",
                         [this](IqRequest request) { return handleSet(std::move(request)); }));
        // §2.6.1 roster versioning and §3.4 pre-approval are stream features.
        add(context.addStreamFeature(StreamStage::PostAuth, [](const StreamFeatureContext&) {
            return std::optional<xml::Element>(xml::Element("ver", "urn:xmpp:features:rosterver"));
        }));
        add(context.addStreamFeature(StreamStage::PostAuth, [](const StreamFeatureContext&) {
            return std::optional<xml::Element>(xml::Element("sub", "urn:xmpp:features:pre-approval"));
        }));
        add(context.onStanza(StanzaHookPoint::Outbound, xmpp::StanzaKind::Presence, 0,
                             [this](RoutedStanza& routed) { return outbound(routed); }));
        add(context.onStanza(StanzaHookPoint::Inbound, xmpp::StanzaKind::Presence, 0,
                             [this](RoutedStanza& routed) { return inbound(routed); }));
        add(context.onSessionBound(
            [this](Session& session) { session.dataOrCreate<RosterSessionState>(slot_); }));
        add(context.onSessionEnded([this](Session& session) { sessionEnded(session); }));
    }

  private:
    void add(Registration registration) { registrations_.push_back(std::move(registration)); }

    storage::RosterStore& store() { return ctx_->storage().roster(); }

    RosterSessionState* stateOf(const Session& session) const {
        return static_cast<RosterSessionState*>(session.data(slot_));
    }

    // --- roster pushes (§2.1.6) ---------------------------------------------------------------------

    void push(const Jid& account, xml::Element item, std::uint64_t version) {
        for (const SessionPtr& session : ctx_->sessionsOf(account)) {
            const RosterSessionState* state = stateOf(*session);
            if (!state || !state->interested.load(std::memory_order_relaxed))
                continue;
            session->deliver(pushStanza(account, session->jid(), item, version));
        }
    }

    static StanzaPtr pushStanza(const Jid& account, const Jid& to, const xml::Element& item,
                                std::uint64_t version) {
        xml::Element iq("iq", std::string(kClientNs));
        iq.setAttr("type", "set");
        iq.setAttr("id", "push-" + randomId(10));
        // §2.1.6: a push comes from the account's bare JID (clients must ignore pushes from others).
        iq.setAttr("from", account.str());
        iq.setAttr("to", to.str());
        auto& query = iq.append("query", std::string(kRosterNs));
        query.setAttr("ver", std::to_string(version));
        query.append(item);
        return std::make_shared<const Stanza>(xmpp::StanzaKind::Iq, std::move(iq), to, account);
    }

    static xml::Element removalElement(const std::string& jid) {
        xml::Element element("item", std::string(kRosterNs));
        element.setAttr("jid", jid);
        element.setAttr("subscription", "remove");
        return element;
    }

    // --- roster get and set (§2.2, §2.3, §2.5) --------------------------------------------------------

    asio::awaitable<IqResult> handleGet(IqRequest request) {
        if (request.scope == IqScope::Bare)
            co_return StanzaError(StanzaErrorCondition::Forbidden, "A roster is only its owner's");
        const Jid account = request.from().bare();
        auto roster = co_await loadRosterOf(account);
        if (!roster)
            co_return storageError();
        for (const SessionPtr& session : ctx_->sessionsOf(account)) {
            if (session->jid() == request.from()) {
                if (RosterSessionState* state = stateOf(*session))
                    state->interested.store(true, std::memory_order_relaxed);
            }
        }
        const std::string* requested = request.payload().findAttr("ver");
        if (requested) {
            // §2.6.3: an empty result when nothing changed; pushes of the changes when we still know
            // them (tombstones since removedSince); the whole roster otherwise.
            std::uint64_t known = 0;
            auto [ptr, ec] = std::from_chars(requested->data(), requested->data() + requested->size(), known);
            const bool parsed =
                !requested->empty() && ec == std::errc() && ptr == requested->data() + requested->size();
            if (parsed && known == roster->version)
                co_return std::nullopt;
            if (parsed && known < roster->version && known + 1 >= roster->removedSince && known > 0) {
                std::vector<std::pair<std::uint64_t, xml::Element>> changes;
                for (const RosterItem& item : roster->items) {
                    if (item.version > known && item.listed)
                        changes.emplace_back(item.version, itemElement(item));
                }
                for (const auto& [jid, version] : roster->removed) {
                    if (version > known)
                        changes.emplace_back(version, removalElement(jid));
                }
                std::sort(changes.begin(), changes.end(),
                          [](const auto& a, const auto& b) { return a.first < b.first; });
                // The pushes follow the empty result (§2.6.3): defer them past its routing.
                ctx_->defer([this, to = request.from(), account, changes = std::move(changes)] {
                    SessionPtr target;
                    for (const SessionPtr& session : ctx_->sessionsOf(account)) {
                        if (session->jid() == to)
                            target = session;
                    }
                    if (!target)
                        return;
                    for (const auto& [version, item] : changes)
                        target->deliver(pushStanza(account, to, item, version));
                });
                co_return std::nullopt;
            }
        }
        xml::Element query("query", std::string(kRosterNs));
        if (requested)
            query.setAttr("ver", std::to_string(roster->version));
        for (const RosterItem& item : roster->items) {
            if (item.listed)
                query.append(itemElement(item));
        }
        co_return query;
    }

    asio::awaitable<IqResult> handleSet(IqRequest request) {
        if (request.scope == IqScope::Bare)
            co_return StanzaError(StanzaErrorCondition::Forbidden, "A roster is only its owner's");
        const Jid account = request.from().bare();
        const auto items = request.payload().children("item", kRosterNs);
        if (items.size() != 1)  // §2.3.3
            co_return StanzaError(StanzaErrorCondition::BadRequest, "A roster set carries exactly one item");
        const xml::Element& requested = *items.front();
        auto contact = Jid::parse(requested.attr("jid"));
        if (!contact)
            co_return StanzaError(StanzaErrorCondition::JidMalformed, "The item's jid is not a valid JID");
        if (contact->hasResource())
            co_return StanzaError(StanzaErrorCondition::BadRequest, "Roster items are bare JIDs");
        const std::string host(account.domain());
        const std::string user(account.local());
        const std::string contactJid = contact->str();

        if (requested.attr("subscription") == "remove") {
            std::vector<StanzaPtr> outgoing;
            {
                auto guard = co_await locks_.lock(account.str());
                auto existing = co_await store().findItem(host, user, contactJid);
                if (!existing)
                    co_return storageError();
                if (!*existing || !(*existing)->listed)  // §2.5.3
                    co_return StanzaError(StanzaErrorCondition::ItemNotFound, "No such roster item");
                const RosterItem item = **existing;
                auto version = co_await store().removeItem(host, user, contactJid);
                if (!version)
                    co_return storageError();
                // §2.5.2: removing the item cancels the subscriptions both ways.
                if (hasTo(item.subscription) || item.askOut)
                    outgoing.push_back(makePresence("unsubscribe", account, *contact));
                if (hasFrom(item.subscription) || item.pendingIn)
                    outgoing.push_back(makePresence("unsubscribed", account, *contact));
                if (hasFrom(item.subscription))
                    appendUnavailableFromResources(account, *contact, outgoing);
                push(account, removalElement(contactJid), *version);
            }
            for (StanzaPtr& stanza : outgoing)
                co_await ctx_->route(std::move(stanza));
            co_return std::nullopt;
        }

        // Add or update (§2.3, §2.4): only the name and groups come from the client; the subscription
        // state is the server's (§2.1.2.5).
        RosterItem update;
        update.jid = contactJid;
        update.name = std::string(requested.attr("name"));
        if (update.name.size() > kMaxNameBytes)
            co_return StanzaError(StanzaErrorCondition::NotAcceptable, "The name is too long");
        for (const xml::Element* group : requested.children("group", kRosterNs)) {
            std::string name = group->text();
            if (name.empty())
                co_return StanzaError(StanzaErrorCondition::NotAcceptable, "A group name is empty");
            if (name.size() > kMaxNameBytes)
                co_return StanzaError(StanzaErrorCondition::NotAcceptable, "A group name is too long");
            if (std::find(update.groups.begin(), update.groups.end(), name) != update.groups.end())
                co_return StanzaError(StanzaErrorCondition::BadRequest, "A group is listed twice");
            update.groups.push_back(std::move(name));
        }
        auto guard = co_await locks_.lock(account.str());
        auto existing = co_await store().findItem(host, user, contactJid);
        if (!existing)
            co_return storageError();
        RosterItem item = existing->value_or(RosterItem{});
        item.jid = contactJid;
        item.name = std::move(update.name);
        item.groups = std::move(update.groups);
        item.listed = true;
        auto version = co_await store().putItem(host, user, item, maxItems_);
        if (!version) {
            if (version.error() == StorageError::QuotaExceeded) {
                co_return StanzaError(StanzaErrorCondition::ResourceConstraint,
                                      "The roster is full (" + std::to_string(maxItems_) + " contacts)");
            }
            co_return storageError();
        }
        push(account, itemElement(item), *version);
        co_return std::nullopt;
    }

    // --- presence sent by the account (outbound) ------------------------------------------------------

    asio::awaitable<HookVerdict> outbound(RoutedStanza& routed) {
        const Stanza& stanza = *routed.stanza;
        const std::string_view type = stanza.type();
        if (!stanza.to()) {
            if (!routed.session)
                co_return HookVerdict::Continue;
            if (type.empty()) {
                co_await broadcastAvailable(routed);
            } else if (type == "unavailable" && routed.wasAvailable) {
                co_await broadcastUnavailable(routed.session->jid(), routed.stanza, stateOf(*routed.session));
            }
            // Other types without a `to` mean nothing to anyone (§4.5: unavailable before any
            // available presence is not broadcast either). Continue: later hooks (offline delivery at
            // initial presence) need it too, and the router does nothing with broadcast presence.
            co_return HookVerdict::Continue;
        }
        if (!routed.session)
            co_return HookVerdict::Continue;  // generated by the server: addressed already
        if (isSubscriptionType(type)) {
            co_await outboundSubscription(routed);
            co_return HookVerdict::Handled;
        }
        if (type.empty() || type == "unavailable") {
            // §4.6: remember who got directed available presence, to tell them when we leave.
            if (RosterSessionState* state = stateOf(*routed.session)) {
                auto& directed = state->directed;
                const Jid& to = *stanza.to();
                auto it = std::find(directed.begin(), directed.end(), to);
                if (type.empty() && routed.session->isAvailable() && it == directed.end())
                    directed.push_back(to);
                else if (type == "unavailable" && it != directed.end())
                    directed.erase(it);
            }
        }
        co_return HookVerdict::Continue;
    }

    asio::awaitable<void> broadcastAvailable(RoutedStanza& routed) {
        Session& session = *routed.session;
        const Jid full = session.jid();
        const Jid account = full.bare();
        const StanzaPtr presence = routed.stanza;
        auto roster = co_await loadRosterOf(account);
        if (!roster)
            ctx_->log().warn("could not load the roster of " + account.str() + " to broadcast presence");
        // §4.2.2 / §4.4.2: to each contact subscribed to the account's presence ...
        std::vector<StanzaPtr> outgoing;
        if (roster) {
            for (const RosterItem& item : roster->items) {
                if (!hasFrom(item.subscription))
                    continue;
                if (auto contact = Jid::parse(item.jid))
                    outgoing.push_back(readdressed(*presence, full, *contact));
            }
        }
        // ... and to all the account's available resources, the sender included.
        for (const SessionPtr& resource : ctx_->sessionsOf(account)) {
            if (resource->isAvailable())
                resource->deliver(readdressed(*presence, full, resource->jid()));
        }
        if (!routed.wasAvailable) {
            // §4.2.2: an account is implicitly subscribed to its own presence, so initial presence
            // (the first, or the first after unavailable) probes the account itself too (§4.3.2): the
            // new resource gets the current presence of each of the account's other available
            // resources, as those resources just got its own.
            for (const SessionPtr& resource : ctx_->sessionsOf(account)) {
                if (resource->jid() == full || !resource->isAvailable())
                    continue;
                if (StanzaPtr last = resource->lastPresence())
                    session.deliver(readdressed(*last, resource->jid(), full));
            }
        }
        if (!routed.wasAvailable && roster) {
            // §4.2.1 / §4.3.1: initial presence: probe the contacts whose presence the account gets.
            // Local contacts are probed from this resource's full JID, so that the answers reach
            // this resource only (the other resources already have them).
            for (const RosterItem& item : roster->items) {
                if (!hasTo(item.subscription))
                    continue;
                if (auto contact = Jid::parse(item.jid))
                    outgoing.push_back(makePresence("probe", full, *contact));
            }
            // §3.1.3: subscription requests that arrived while the account was offline.
            for (const RosterItem& item : roster->items) {
                if (!item.pendingIn || item.pendingInStanza.empty())
                    continue;
                auto parsed = xml::parseElement(item.pendingInStanza);
                if (!parsed.element)
                    continue;
                auto request = Stanza::fromElement(std::move(*parsed.element));
                if (request)
                    session.deliver(std::make_shared<const Stanza>(std::move(*request)));
            }
        }
        for (StanzaPtr& stanza : outgoing)
            co_await ctx_->route(std::move(stanza));
    }

    // §4.5.2: unavailable presence goes to the subscribed contacts, to everyone who got directed
    // presence, and to the account's other available resources.
    asio::awaitable<void> broadcastUnavailable(Jid full, StanzaPtr presence, RosterSessionState* state) {
        const Jid account = full.bare();
        auto roster = co_await loadRosterOf(account);
        if (!roster)
            ctx_->log().warn("could not load the roster of " + account.str() + " to broadcast unavailable");
        std::vector<StanzaPtr> outgoing;
        std::set<std::string> sent;
        if (roster) {
            for (const RosterItem& item : roster->items) {
                if (!hasFrom(item.subscription))
                    continue;
                if (auto contact = Jid::parse(item.jid)) {
                    sent.insert(contact->str());
                    outgoing.push_back(readdressed(*presence, full, *contact));
                }
            }
        }
        if (state) {
            for (const Jid& to : state->directed) {
                if (sent.insert(to.str()).second)
                    outgoing.push_back(readdressed(*presence, full, to));
            }
            state->directed.clear();
        }
        for (const SessionPtr& resource : ctx_->sessionsOf(account)) {
            if (resource->isAvailable() && resource->jid() != full)
                resource->deliver(readdressed(*presence, full, resource->jid()));
        }
        for (StanzaPtr& stanza : outgoing)
            co_await ctx_->route(std::move(stanza));
    }

    void sessionEnded(Session& session) {
        // A resource that ends without unavailable presence (a dropped connection, a stream error)
        // is announced as unavailable all the same (§4.5.1).
        if (!session.isAvailable())
            return;
        SessionPtr keep = session.shared_from_this();
        const Jid full = session.jid();
        auto run = [this, keep = std::move(keep), full]() -> asio::awaitable<void> {
            xml::Element element("presence", std::string(kClientNs));
            element.setAttr("type", "unavailable");
            element.setAttr("from", full.str());
            auto presence = std::make_shared<const Stanza>(xmpp::StanzaKind::Presence, std::move(element),
                                                           std::nullopt, full);
            co_await broadcastUnavailable(full, presence, stateOf(*keep));
        };
        ctx_->spawn(std::move(run));
    }

    // Unavailable presence from each available resource of `account` to `contact` (§3.2.2, §3.3.3).
    void appendUnavailableFromResources(const Jid& account, const Jid& contact, std::vector<StanzaPtr>& out) {
        for (const SessionPtr& resource : ctx_->sessionsOf(account)) {
            if (resource->isAvailable())
                out.push_back(makePresence("unavailable", resource->jid(), contact));
        }
    }

    // The current presence of each available resource of `account`, to `contact` (§3.1.5).
    void appendPresenceOfResources(const Jid& account, const Jid& contact, std::vector<StanzaPtr>& out) {
        for (const SessionPtr& resource : ctx_->sessionsOf(account)) {
            if (!resource->isAvailable())
                continue;
            if (StanzaPtr last = resource->lastPresence())
                out.push_back(readdressed(*last, resource->jid(), contact));
        }
    }

    // §3.1.2, §3.1.5, §3.2.2, §3.3.2, §3.4: a subscription stanza the account's client sent.
    asio::awaitable<void> outboundSubscription(RoutedStanza& routed) {
        const Jid account = routed.session->jid().bare();
        const Jid contact = routed.stanza->to()->bare();  // §3.1.2: stamped with bare JIDs
        const std::string type(routed.stanza->type());
        const std::string host(account.domain());
        const std::string user(account.local());
        const std::string contactJid = contact.str();
        std::vector<StanzaPtr> outgoing;
        auto forward = readdressed(*routed.stanza, account, contact);
        std::optional<StanzaError> failure;
        {
            auto guard = co_await locks_.lock(account.str());
            auto found = co_await store().findItem(host, user, contactJid);
            if (!found) {
                failure = storageError();
            } else {
                const std::optional<RosterItem> existing = *found;
                RosterItem item = existing.value_or(RosterItem{});
                item.jid = contactJid;
                bool changed = false;
                bool route = true;
                if (type == "subscribe") {
                    if (!existing || !existing->listed) {
                        item.listed = true;  // §3.1.2: the contact enters the roster
                        changed = true;
                    }
                    if (!hasTo(item.subscription) && !item.askOut) {
                        item.askOut = true;
                        changed = true;
                    }
                } else if (type == "subscribed") {
                    if (item.pendingIn) {
                        // §3.1.5: approval of the contact's request.
                        item.subscription = withFrom(item.subscription, true);
                        item.pendingIn = false;
                        item.pendingInStanza.clear();
                        item.preApproved = false;
                        item.listed = true;
                        changed = true;
                    } else if (hasFrom(item.subscription)) {
                        route = false;  // already approved
                    } else {
                        // §3.4.1: pre-approval; nothing is sent to the contact.
                        route = false;
                        if (!item.preApproved || !item.listed) {
                            item.preApproved = true;
                            item.listed = true;
                            changed = true;
                        }
                    }
                } else if (type == "unsubscribe") {
                    // §3.3.2: the account no longer wants the contact's presence.
                    if (existing && (hasTo(item.subscription) || item.askOut)) {
                        item.subscription = withTo(item.subscription, false);
                        item.askOut = false;
                        changed = true;
                    }
                } else if (type == "unsubscribed") {
                    // §3.2.2: cancel (or refuse) the contact's subscription to the account.
                    const bool hadFrom = hasFrom(item.subscription);
                    if (existing && (hadFrom || item.pendingIn || item.preApproved)) {
                        route = hadFrom || item.pendingIn;
                        item.subscription = withFrom(item.subscription, false);
                        item.pendingIn = false;
                        item.pendingInStanza.clear();
                        item.preApproved = false;
                        changed = true;
                    }
                    if (hadFrom)
                        appendUnavailableFromResources(account, contact, outgoing);
                }
                if (changed) {
                    if (!item.listed && item.subscription == Subscription::None && !item.pendingIn &&
                        !item.preApproved && !item.askOut) {
                        // An unlisted item with nothing left to remember disappears.
                        auto removed = co_await store().removeItem(host, user, contactJid);
                        if (!removed)
                            failure = storageError();
                    } else {
                        auto version = co_await store().putItem(host, user, item, maxItems_);
                        if (!version) {
                            failure = version.error() == StorageError::QuotaExceeded
                                          ? StanzaError(StanzaErrorCondition::ResourceConstraint,
                                                        "The roster is full")
                                          : storageError();
                        } else if (item.listed) {
                            push(account, itemElement(item), *version);
                        }
                    }
                }
                if (!failure && route) {
                    outgoing.insert(outgoing.begin(), forward);
                    if (type == "subscribed")
                        appendPresenceOfResources(account, contact, outgoing);  // §3.1.5
                }
            }
        }
        if (failure) {
            ctx_->send(*xmpp::makeErrorReply(*routed.stanza, *failure));
            co_return;
        }
        for (StanzaPtr& stanza : outgoing)
            co_await ctx_->route(std::move(stanza));
    }

    // --- presence addressed to the account (inbound) --------------------------------------------------

    asio::awaitable<HookVerdict> inbound(RoutedStanza& routed) {
        const std::string_view type = routed.stanza->type();
        if (type == "probe") {
            co_await answerProbe(routed.stanza);
            co_return HookVerdict::Handled;
        }
        if (isSubscriptionType(type)) {
            co_await inboundSubscription(routed.stanza);
            co_return HookVerdict::Handled;
        }
        co_return HookVerdict::Continue;
    }

    // The account's roster. The strings are named before co_await (docs/STYLE.md rule 16), and the
    // parameters of these coroutines are values (rule 7).
    asio::awaitable<Result<storage::Roster, storage::StorageError>> loadRosterOf(Jid account) {
        const std::string host(account.domain());
        const std::string user(account.local());
        auto roster = co_await store().loadRoster(host, user);
        co_return roster;
    }

    asio::awaitable<bool> accountExists(Jid account) {
        const std::string host(account.domain());
        const std::string user(account.local());
        auto found = co_await ctx_->storage().accounts().findAccount(host, user);
        co_return found && found->has_value();
    }

    // For a stanza to an account that does not exist: the `gone` error to answer with when the account
    // was deleted (its name has a tombstone, reliability row 45, cf. Prosody's mod_tombstones), or
    // nothing for a name that never existed (§8.5.1: dropped, not revealed).
    asio::awaitable<StanzaPtr> goneReply(StanzaPtr stanza) {
        const Jid account = stanza->to()->bare();
        const std::string host(account.domain());
        const std::string user(account.local());
        auto tombstone = co_await ctx_->storage().accounts().findTombstone(host, user);
        if (!tombstone || !tombstone->has_value())
            co_return nullptr;
        // RFC 6120 §8.3.3.5: the recipient "can no longer be contacted at this address".
        auto reply = xmpp::makeErrorReply(
            *stanza, StanzaError(StanzaErrorCondition::Gone, "This account was deleted"));
        if (!reply)
            co_return nullptr;
        co_return std::make_shared<const Stanza>(std::move(*reply));
    }

    // §4.3.2: a probe from `prober` for the account's presence.
    asio::awaitable<void> answerProbe(StanzaPtr probe) {
        const Jid account = probe->to()->bare();
        const Jid prober = *probe->from();
        const std::string host(account.domain());
        const std::string user(account.local());
        const std::string contact = prober.bare().str();
        auto item = co_await store().findItem(host, user, contact);
        if (!item) {
            ctx_->log().warn("could not read the roster of " + account.str() + " to answer a probe");
            co_return;
        }
        std::vector<StanzaPtr> outgoing;
        if (*item && hasFrom((*item)->subscription)) {
            // With no available resource nothing is sent: a contact is offline until it says
            // otherwise, and a login with many offline contacts would otherwise cost one stanza each
            // (§4.3.2 #2 is a SHOULD; Prosody does the same for local contacts).
            appendPresenceOfResources(account, prober, outgoing);
        } else {
            // Not subscribed: say so (this also tells a server that thinks otherwise, §4.3.2 #1); an
            // unknown account is not revealed (§8.5.1: dropped), a deleted one is (tombstone).
            const bool exists = co_await accountExists(account);
            StanzaPtr gone;  // a deleted account also says `gone` (as Prosody's mod_tombstones)
            if (!exists) {
                gone = co_await goneReply(probe);
                if (!gone)
                    co_return;
            }
            outgoing.push_back(makePresence("unsubscribed", account, prober.bare()));
            if (gone)
                outgoing.push_back(std::move(gone));
        }
        for (StanzaPtr& stanza : outgoing)
            co_await ctx_->route(std::move(stanza));
    }

    // §3.1.3, §3.1.6, §3.2.3, §3.3.3: a subscription stanza from `contact` to the account.
    asio::awaitable<void> inboundSubscription(StanzaPtr stanza) {
        const Jid account = stanza->to()->bare();
        const Jid contact = stanza->from()->bare();
        const std::string type(stanza->type());
        const std::string host(account.domain());
        const std::string user(account.local());
        const std::string contactJid = contact.str();
        // What the account's resources see: bare JIDs both ways (§3.1.3).
        const StanzaPtr delivered = readdressed(*stanza, contact, account);
        std::vector<StanzaPtr> outgoing;
        bool deliver = false;
        {
            auto guard = co_await locks_.lock(account.str());
            auto found = co_await store().findItem(host, user, contactJid);
            if (!found) {
                ctx_->log().warn("could not read the roster of " + account.str() + "; a " + type + " from " +
                                 contactJid + " was not processed");
                co_return;
            }
            const std::optional<RosterItem> existing = *found;
            RosterItem item = existing.value_or(RosterItem{});
            item.jid = contactJid;
            bool changed = false;
            bool pushChange = true;
            if (type == "subscribe") {
                if (existing && hasFrom(item.subscription)) {
                    // Already subscribed: answer for the account (§3.1.3 #2).
                    outgoing.push_back(makePresence("subscribed", account, contact));
                } else if (existing && item.preApproved) {
                    // §3.4.2: pre-approved: the subscription is made without asking.
                    item.subscription = withFrom(item.subscription, true);
                    item.preApproved = false;
                    changed = true;
                    outgoing.push_back(makePresence("subscribed", account, contact));
                    appendPresenceOfResources(account, contact, outgoing);
                } else {
                    bool exists = existing.has_value();
                    if (!exists)
                        exists = co_await accountExists(account);
                    if (!exists) {
                        // §8.5.1: no such user: ignored, unless it was deleted (answered after the lock).
                        StanzaPtr gone = co_await goneReply(stanza);
                        if (!gone)
                            co_return;
                        outgoing.push_back(std::move(gone));
                    } else if (!item.pendingIn || item.pendingInStanza.empty()) {
                        item.pendingIn = true;
                        item.pendingInStanza = delivered->element().toString();
                        if (!existing)
                            item.listed = false;
                        changed = true;
                        pushChange = false;  // "Pending In" shows in no attribute (§2.1.2): no push
                    }
                    deliver = exists;  // and kept for the next login (pendingIn)
                }
            } else if (type == "subscribed") {
                // §3.1.6: only an answer to a pending request counts.
                if (existing && item.askOut && !hasTo(item.subscription)) {
                    item.subscription = withTo(item.subscription, true);
                    item.askOut = false;
                    changed = true;
                    deliver = true;
                }
            } else if (type == "unsubscribe") {
                // §3.3.3: the contact no longer wants the account's presence.
                if (existing && hasFrom(item.subscription)) {
                    item.subscription = withFrom(item.subscription, false);
                    changed = true;
                    deliver = true;
                    appendUnavailableFromResources(account, contact, outgoing);
                } else if (existing && item.pendingIn) {
                    item.pendingIn = false;  // the request is withdrawn
                    item.pendingInStanza.clear();
                    changed = true;
                }
            } else if (type == "unsubscribed") {
                // §3.2.3: the contact cancelled or refused the account's subscription.
                if (existing && (hasTo(item.subscription) || item.askOut)) {
                    item.subscription = withTo(item.subscription, false);
                    item.askOut = false;
                    changed = true;
                    deliver = true;
                }
            }
            if (changed) {
                if (!item.listed && item.subscription == Subscription::None && !item.pendingIn &&
                    !item.preApproved) {
                    auto removed = co_await store().removeItem(host, user, contactJid);
                    if (!removed)
                        ctx_->log().warn("could not update the roster of " + account.str());
                } else {
                    auto version = co_await store().putItem(host, user, item, maxItems_);
                    if (!version) {
                        // A full roster (or a failing store) cannot take the request: drop it.
                        ctx_->log().warn("could not update the roster of " + account.str() + " for a " +
                                         type + " from " + contactJid + ": " +
                                         std::string(storage::toString(version.error())));
                        co_return;
                    }
                    if (item.listed && pushChange)
                        push(account, itemElement(item), *version);
                }
            }
            if (deliver) {
                for (const SessionPtr& resource : ctx_->sessionsOf(account)) {
                    if (resource->isAvailable())
                        resource->deliver(delivered);
                }
            }
        }
        for (StanzaPtr& out : outgoing)
            co_await ctx_->route(std::move(out));
    }

    ModuleContext* ctx_ = nullptr;
    std::size_t slot_ = 0;
    std::size_t maxItems_ = kDefaultMaxItems;
    KeyedMutex locks_;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo rosterModule() {
    return {"roster", "rosters, presence subscriptions and presence broadcast (RFC 6121)", {"RFC 6121"}, [] {
                return std::unique_ptr<Module>(std::make_unique<RosterModule>());
            }};
}

}  // namespace parley::server::modules
