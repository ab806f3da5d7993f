// XEP-0280: Message Carbons, with the copying rules of urn:xmpp:carbons:rules:0 (§6). A resource that
// enabled carbons (§4, a flag in this module's session slot) gets a copy of each eligible message that
// another resource of its account sends (<sent/>, §8) and of each eligible message to its account that
// the router gives to other resources (<received/>, §7). Copies are wrapped in a XEP-0297 <forwarded/>,
// come from the account's bare JID, and go straight to the resource's session: they are not routed
// again, so no hook (blocking, archiving) sees them as new messages.
//
// Security (§11): the account's bare JID is the only sender of a carbon a client can trust, and only
// this module sends from it. A message with <sent/> or <received/> that reaches an account from any
// other address (a contact, or one of the account's own clients) is never copied, and the forged
// wrapper is stripped before delivery: what else the message carries is delivered, and a message that
// was nothing but the forged copy is dropped.
//
// Which resources get the original is decided by the router's delivery rules (docs/routing.md, RFC 6121
// §8.5), which the Inbound hook applies to the sessions it sees: a chat message to the bare JID reaches
// every available resource with a non-negative priority, so only carbon-enabled resources outside that
// set (unavailable, or with a negative priority) get a <received/> copy.
#include <algorithm>
#include <atomic>

#include "parley/server/module.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kCarbons = "urn:xmpp:carbons:2";
constexpr std::string_view kCarbonsRules = "urn:xmpp:carbons:rules:0";  // §6: we follow these rules
constexpr std::string_view kForward = "urn:xmpp:forward:0";             // XEP-0297
constexpr std::string_view kHints = "urn:xmpp:hints";                   // XEP-0334
constexpr std::string_view kChatStates = "http://jabber.org/protocol/chatstates";  // XEP-0085
constexpr std::string_view kReceipts = "urn:xmpp:receipts";                        // XEP-0184
constexpr std::string_view kChatMarkers = "urn:xmpp:chat-markers:0";               // XEP-0333
constexpr std::string_view kConferenceInvite = "jabber:x:conference";              // XEP-0249
constexpr std::string_view kMucUser = "http://jabber.org/protocol/muc#user";       // XEP-0045
// Below blocking (1000: a blocked message is never copied) and archiving (500: a received copy carries
// the archive's XEP-0359 stanza-id), above the roster (0) and offline storage (-100).
constexpr int kHookPriority = 100;
// Forged carbons are removed before anything else acts on a message (archiving runs at 500).
constexpr int kForgeryPriority = 900;

using xmpp::Stanza;
using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;
using xmpp::StanzaPtr;

// Whether this resource enabled carbons. Written on the session's loop by the iq handler, read from
// any loop by the hooks of other accounts' messages, hence atomic.
struct CarbonsSessionData final : SessionData {
    std::atomic<bool> enabled{false};
};

enum class Direction : std::uint8_t { Sent, Received };

// A carbon copy (or something that claims to be one).
bool isCarbon(const xml::Element& message) {
    return message.findChild("sent", kCarbons) || message.findChild("received", kCarbons);
}

// §6: payloads "typically used in IM" make a message eligible whatever its body.
bool hasImPayload(const xml::Element& message) {
    for (const xml::Element* child : message.children()) {
        if (child->ns() == kChatStates || child->ns() == kChatMarkers)
            return true;
        if (child->ns() == kReceipts && (child->name() == "request" || child->name() == "received"))
            return true;
    }
    return false;
}

// §6 (urn:xmpp:carbons:rules:0) with §9 and XEP-0334: whether a message is copied at all.
bool isEligible(const Stanza& stanza, Direction direction) {
    const xml::Element& message = stanza.element();
    // §11: a copy is never copied again. §9: <private/> (with XEP-0334's <no-copy/>, which asks the
    // same of every copying service) keeps a message to its addressees.
    if (isCarbon(message) || message.findChild("private", kCarbons) || message.findChild("no-copy", kHints))
        return false;
    const std::string_view type = stanza.type();
    // §6: groupchat MUST NOT be copied (the room sends it to every joined resource). An error would be
    // copied only in answer to an eligible message, which needs tracking we do not do.
    if (type == "groupchat" || type == "error")
        return false;
    const xml::Element* mucUser = message.findChild("x", kMucUser);
    // §6: invitations, direct (XEP-0249) or mediated (XEP-0045 §7.8.2), are copied.
    if (message.findChild("x", kConferenceInvite) || (mucUser && mucUser->findChild("invite", kMucUser)))
        return true;
    // §6: a private message from a room occupant is already sent by the room to each joined resource;
    // one the user sends to an occupant is copied.
    if (mucUser && direction == Direction::Received)
        return false;
    if (type == "chat")
        return true;
    if ((type.empty() || type == "normal") && message.findChild("body", ns::kClient))
        return true;
    return hasImPayload(message);
}

// §7, §8: the wrapper keeps the original's type, comes from the account's bare JID, and holds the
// original message in a XEP-0297 <forwarded/>.
StanzaPtr wrap(std::string_view direction, const Stanza& original, const Jid& account, const Jid& to) {
    xml::Element message("message", std::string(ns::kClient));
    message.setAttr("from", account.str());
    message.setAttr("to", to.str());
    if (!original.type().empty())
        message.setAttr("type", std::string(original.type()));
    message.append(std::string(direction), std::string(kCarbons))
        .append("forwarded", std::string(kForward))
        .append(original.element());
    return std::make_shared<const Stanza>(xmpp::StanzaKind::Message, std::move(message), to, account);
}

// A copy of `stanza` without the carbons elements a client may not send to others: a forged <sent/>
// or <received/> (§11) and <private/> (§9: the receiving server SHOULD remove it).
Stanza withoutCarbonElements(const Stanza& stanza) {
    xml::Element element = stanza.element();
    for (std::string_view name : {"sent", "received", "private"})
        element.removeChildren(name, kCarbons);
    return Stanza(stanza.kind(), std::move(element), stanza.to(), stanza.from());
}

class CarbonsModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        slot_ = context.allocateSessionSlot();
        // §3: the feature, and §6: the copying rules we follow.
        add(context.addDiscoFeature(std::string(kCarbons)));
        add(context.addDiscoFeature(std::string(kCarbonsRules)));
        const auto own = scopes({IqScope::Self, IqScope::Bare});
        add(context.onIq(xmpp::IqType::Set, own, std::string(kCarbons), "enable",
                         [this](IqRequest request) { return handleToggle(std::move(request), true); }));
        add(context.onIq(xmpp::IqType::Set, own, std::string(kCarbons), "disable",
                         [this](IqRequest request) { return handleToggle(std::move(request), false); }));
        add(context.onSessionBound(
            [this](Session& session) { session.dataOrCreate<CarbonsSessionData>(slot_); }));
        add(context.onSessionEnded([this](Session& session) {
            auto* data = static_cast<CarbonsSessionData*>(session.data(slot_));
            if (data && data->enabled.exchange(false))
                enabledSessions_.fetch_sub(1);
        }));
        add(context.onStanza(StanzaHookPoint::Outbound, xmpp::StanzaKind::Message, kHookPriority,
                             [this](RoutedStanza& routed) { return outbound(routed); }));
        add(context.onStanza(StanzaHookPoint::Inbound, xmpp::StanzaKind::Message, kForgeryPriority,
                             [](RoutedStanza& routed) { return withoutForgedCarbons(routed); }));
        add(context.onStanza(StanzaHookPoint::Inbound, xmpp::StanzaKind::Message, kHookPriority,
                             [this](RoutedStanza& routed) { return inbound(routed); }));
    }

  private:
    void add(Registration registration) { registrations_.push_back(std::move(registration)); }

    bool enabled(const Session& session) const {
        const auto* data = static_cast<const CarbonsSessionData*>(session.data(slot_));
        return data && data->enabled.load();
    }

    // §4, §5; §10.1: enabling twice or disabling twice is not an error.
    asio::awaitable<IqResult> handleToggle(IqRequest request, bool enable) {
        // §5.1: a client cannot switch carbons for another account's resources.
        if (request.scope == IqScope::Bare)
            co_return StanzaError(StanzaErrorCondition::NotAllowed,
                                  "Carbons are enabled or disabled by each resource for itself; send the "
                                  "request without 'to'");
        for (const SessionPtr& session : context_->sessionsOf(request.from().bare())) {
            if (session->jid() != request.from())
                continue;
            auto* data = static_cast<CarbonsSessionData*>(session->data(slot_));
            if (data && data->enabled.exchange(enable) != enable)
                enabledSessions_.fetch_add(enable ? 1 : -1);
        }
        co_return std::nullopt;
    }

    // §8: a copy of what a client sends, to the account's other carbon-enabled resources.
    asio::awaitable<HookVerdict> outbound(RoutedStanza& routed) {
        const Stanza& message = *routed.stanza;
        // Only what a client sent: errors and other stanzas the server generates for the account are
        // not the user's messages. A message between resources of one account reaches them by the
        // delivery rules, and is not copied.
        if (!routed.session || !message.to() || isOwnAccount(message) ||
            !isEligible(message, Direction::Sent) || noneEnabled())
            co_return HookVerdict::Continue;
        const Jid& sender = routed.session->jid();
        const Jid account = sender.bare();
        for (const SessionPtr& session : context_->sessionsOf(account)) {
            // §8: not to the sending resource itself.
            if (session->jid() != sender && enabled(*session))
                session->deliver(wrap("sent", message, account, session->jid()));
        }
        co_return HookVerdict::Continue;
    }

    // §11: only this server speaks for the account's bare JID; a <sent/> or <received/> from anyone
    // else is forged. It is removed before the message is archived or delivered; a message that was
    // nothing but the forged copy is dropped.
    static asio::awaitable<HookVerdict> withoutForgedCarbons(RoutedStanza& routed) {
        const Stanza& original = *routed.stanza;
        if (!isCarbon(original.element()) || *original.from() == original.to()->bare())
            co_return HookVerdict::Continue;
        xml::Element element = original.element();
        element.removeChildren("sent", kCarbons);
        element.removeChildren("received", kCarbons);
        if (element.childCount() == 0)
            co_return HookVerdict::Handled;
        routed.stanza = std::make_shared<const Stanza>(original.kind(), std::move(element), original.to(),
                                                       original.from());
        co_return HookVerdict::Continue;
    }

    // §7: a copy of what reaches the account, to its carbon-enabled resources that the delivery rules
    // leave out; and the §9/§11 clean-up of what a client may not send.
    asio::awaitable<HookVerdict> inbound(RoutedStanza& routed) {
        const StanzaPtr original = routed.stanza;
        const xml::Element& element = original->element();
        // §11: only this server speaks for the account's bare JID; a carbon from anyone else is forged.
        const bool forged = isCarbon(element) && original->from()->str() != original->to()->bareView();
        if (forged || element.findChild("private", kCarbons)) {
            Stanza cleaned = withoutCarbonElements(*original);
            if (forged && cleaned.element().childCount() == 0)
                co_return HookVerdict::Handled;  // nothing but the forged copy: ignored (§11), not delivered
            routed.stanza = std::make_shared<const Stanza>(std::move(cleaned));
        }
        if (isOwnAccount(*original) || !isEligible(*original, Direction::Received) || noneEnabled())
            co_return HookVerdict::Continue;
        const Jid account = original->to()->bare();
        const std::vector<SessionPtr> sessions = context_->sessionsOf(account);
        const std::vector<const Session*> receivers = receiversOfOriginal(*original, sessions);
        for (const SessionPtr& session : sessions) {
            if (enabled(*session) &&
                std::find(receivers.begin(), receivers.end(), session.get()) == receivers.end()) {
                session->deliver(wrap("received", *routed.stanza, account, session->jid()));
            }
        }
        co_return HookVerdict::Continue;
    }

    static bool isOwnAccount(const Stanza& message) {
        return !message.to() || message.to()->bareView() == message.from()->bareView();
    }

    // The sessions the router gives the message to (docs/routing.md "Delivery rules"): a connected full
    // JID gets it; otherwise (RFC 6121 §8.5.3.2.1) a normal or chat message is handled as if sent to the
    // bare JID, where (§8.5.2.1) available resources of non-negative priority count: chat and headline
    // go to each of them, normal to the first one of the highest priority. Nobody, when the message
    // is stored offline or bounced.
    static std::vector<const Session*> receiversOfOriginal(const Stanza& message,
                                                           const std::vector<SessionPtr>& sessions) {
        const Jid& to = *message.to();
        const std::string_view type = message.type();
        if (to.hasResource()) {
            for (const SessionPtr& session : sessions) {
                if (session->jid() == to)
                    return {session.get()};
            }
            if (type != "normal" && type != "chat" && !type.empty())
                return {};
        }
        std::vector<const Session*> candidates;
        int best = -1;
        for (const SessionPtr& session : sessions) {
            if (!session->isAvailable() || session->priority() < 0)
                continue;
            best = std::max(best, session->priority());
            candidates.push_back(session.get());
        }
        if (type == "chat" || type == "headline")
            return candidates;
        for (const Session* session : candidates) {
            if (session->priority() == best)
                return {session};
        }
        return {};
    }

    // No session on the server has carbons enabled: nothing to copy, and no look-up of the account's
    // sessions per message (the routing hot path; docs/benchmarks-findings/routing.md).
    bool noneEnabled() const { return enabledSessions_.load(std::memory_order_relaxed) == 0; }

    ModuleContext* context_ = nullptr;
    std::size_t slot_ = 0;
    std::atomic<std::int64_t> enabledSessions_{0};  // sessions whose `enabled` flag is set
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo carbonsModule() {
    return {
        "carbons", "copies each user's messages to all of their resources that ask for it", {"XEP-0280"}, [] {
            return std::unique_ptr<Module>(std::make_unique<CarbonsModule>());
        }};
}

}  // namespace parley::server::modules
