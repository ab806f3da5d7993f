// XEP-0160: Best Practices for Handling Offline Messages. A message that no resource takes (the router's
// Undeliverable hook, RFC 6121 §8.5.2.2) is stored with a XEP-0203 <delay/> when a user would miss it,
// and delivered to the first resource that sends available presence with a non-negative priority
// (XEP-0160 §2 step 5), oldest first, then removed.
//
// No message is lost or delivered twice when a resource comes online while messages arrive, or when
// two resources come online at once: storing and delivering hold the account's KeyedMutex, and each
// session records (under that mutex) whether it has been given the stored messages. A message to an
// account whose available resources have all been served is delivered at once instead of stored; while
// one of them still waits for the stored messages, it is stored and reaches it in order.
#include <algorithm>

#include "parley/modules/delay.h"
#include "parley/modules/options.h"
#include "parley/modules/stored_xml.h"
#include "parley/server/keyed_mutex.h"
#include "parley/server/module.h"
#include "parley/storage/storage.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kMsgOffline = "msgoffline";  // XEP-0160 §4 disco feature
constexpr std::string_view kHints = "urn:xmpp:hints";   // XEP-0334
constexpr std::string_view kOmemo = "eu.siacs.conversations.axolotl";
constexpr std::string_view kConferenceInvite = "jabber:x:conference";  // XEP-0249
constexpr std::string_view kMucUser = "http://jabber.org/protocol/muc#user";
constexpr std::size_t kDefaultMaxMessages = 1000;

using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;

// What this module keeps per session: whether the session has been given the stored messages since it
// last became available with a non-negative priority. Written on the session's loop under the
// account's mutex; read from other loops (by the Undeliverable hook), hence atomic.
struct OfflineSessionData final : SessionData {
    std::atomic<bool> served{false};
};

// Whether a message carries something its recipient would miss: a body, an end-to-end encrypted
// payload without a body (OMEMO), or a groupchat invitation (XEP-0249, XEP-0045 §7.8.2). Chat states
// alone (XEP-0085) and receipts are not worth storing (XEP-0160 §3).
bool isWorthStoring(const xml::Element& message) {
    if (message.findChild("store", kHints))
        return true;  // XEP-0334 §4.4
    if (message.findChild("body", ns::kClient) || message.findChild("encrypted", kOmemo) ||
        message.findChild("x", kConferenceInvite)) {
        return true;
    }
    const xml::Element* mucUser = message.findChild("x", kMucUser);
    return mucUser && mucUser->findChild("invite", kMucUser);
}

class OfflineModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        maxMessages_ = countOption(context, "offline", "max_messages", kDefaultMaxMessages);
        slot_ = context.allocateSessionSlot();
        registrations_.push_back(context.addDiscoFeature(std::string(kMsgOffline)));
        registrations_.push_back(
            context.onStanza(StanzaHookPoint::Undeliverable, xmpp::StanzaKind::Message, 0,
                             [this](RoutedStanza& routed) { return handleUndeliverable(routed.stanza); }));
        // Below the presence broadcast (roster module), which must see the presence first: contacts
        // learn that the user is online before the stored messages flow (and a failure here cannot
        // hold the broadcast back).
        registrations_.push_back(context.onStanza(
            StanzaHookPoint::Outbound, xmpp::StanzaKind::Presence, -100, [this](RoutedStanza& routed) {
                SessionPtr session = routed.session ? routed.session->shared_from_this() : nullptr;
                return handlePresence(routed.stanza, std::move(session));
            }));
    }

  private:
    // RFC 6121 §8.5.2.1 candidates: available resources with a non-negative priority.
    std::vector<SessionPtr> candidates(const Jid& bare) const {
        std::vector<SessionPtr> found;
        for (SessionPtr& session : context_->sessionsOf(bare)) {
            if (session->isAvailable() && session->priority() >= 0)
                found.push_back(std::move(session));
        }
        return found;
    }

    bool served(const Session& session) const {
        const auto* data = static_cast<const OfflineSessionData*>(session.data(slot_));
        return data && data->served.load();
    }

    // Answers the sender with an error from the recipient's address (RFC 6120 §8.3.1).
    void bounce(const xmpp::Stanza& message, StanzaError error) {
        if (auto reply = xmpp::makeErrorReply(message, error))
            context_->send(std::move(*reply));
    }

    // A message for an account that does not exist: one that was deleted (its name has a tombstone,
    // reliability row 45) answers `gone` (RFC 6120 §8.3.3.5); for a name that never existed the
    // router's service-unavailable applies.
    asio::awaitable<HookVerdict> bounceIfDeleted(xmpp::StanzaPtr stanza, std::string host, std::string user) {
        auto tombstone =
            co_await context_->storage().accounts().findTombstone(std::move(host), std::move(user));
        if (!tombstone || !tombstone->has_value())
            co_return HookVerdict::Continue;
        bounce(*stanza, StanzaError(StanzaErrorCondition::Gone, "This account was deleted"));
        co_return HookVerdict::Handled;
    }

    asio::awaitable<HookVerdict> handleUndeliverable(xmpp::StanzaPtr stanza) {
        // XEP-0160 §3: normal (or no type) and chat are stored; headline, groupchat and error are not,
        // and the router's rules apply to them.
        const std::string_view type = stanza->type();
        if (type != "chat" && type != "normal" && !type.empty())
            co_return HookVerdict::Continue;
        const xml::Element& message = stanza->element();
        // XEP-0334 §4.3: <no-store/> forbids keeping it even for later delivery.
        if (message.findChild("no-store", kHints) || !isWorthStoring(message))
            co_return HookVerdict::Continue;
        // No `to` means the sender's own account (RFC 6120 §10.3).
        const Jid bare = stanza->to() ? stanza->to()->bare() : stanza->from()->bare();
        const std::string host(bare.domain());
        const std::string user(bare.local());

        // An unknown user gets the same service-unavailable as an offline one without storage (RFC 6120
        // §13.11); both paths ask the store the same question first.
        auto account = co_await context_->storage().accounts().findAccount(host, user);
        if (!account) {
            context_->log().warn("cannot look up " + bare.str() + " for an offline message: " +
                                 std::string(storage::toString(account.error())));
            bounce(*stanza, StanzaError(StanzaErrorCondition::InternalServerError,
                                        "The message could not be stored; try again later"));
            co_return HookVerdict::Handled;
        }
        if (!account->has_value())
            co_return co_await bounceIfDeleted(stanza, host, user);

        auto guard = co_await mutex_.lock(bare.str());
        // A resource may have come online since the router looked. One that has been given the stored
        // messages takes this one now (after them, so in order); one that still waits for the lock to
        // take them gets it from the store, in order too.
        if (deliverNow(stanza, candidates(bare)))
            co_return HookVerdict::Handled;

        xml::Element stored = message;
        // XEP-0203 §3 (XEP-0160 §2): who delayed it and since when.
        appendDelay(stored, host, context_->clock().unixSeconds(), "Offline Storage");
        storage::OfflineMessage offline;
        offline.storedAt = context_->clock().unixSeconds() * 1000;
        offline.xml = stored.toString();
        auto pushed =
            co_await context_->storage().offline().push(host, user, std::move(offline), maxMessages_);
        guard.release();
        if (!pushed) {
            if (pushed.error() == storage::StorageError::QuotaExceeded) {
                // The queue is full (XEP-0160 §2 step 3): the sender may retry later.
                bounce(*stanza,
                       StanzaError(StanzaErrorCondition::ResourceConstraint, xmpp::StanzaErrorType::Wait,
                                   "The recipient's offline message queue is full"));
            } else {
                context_->log().warn("cannot store an offline message for " + bare.str() + ": " +
                                     std::string(storage::toString(pushed.error())));
                bounce(*stanza, StanzaError(StanzaErrorCondition::InternalServerError,
                                            "The message could not be stored; try again later"));
            }
        }
        co_return HookVerdict::Handled;
    }

    // The router's rules for a message to the bare JID (RFC 6121 §8.5.2.1.1) among the resources that
    // came online since it looked: chat to every one, normal to the one with the highest priority.
    // Those already given the stored messages get it here; false when the message must (also) be
    // stored for one that has not been yet.
    bool deliverNow(const xmpp::StanzaPtr& stanza, const std::vector<SessionPtr>& online) const {
        if (online.empty())
            return false;
        if (stanza->type() == "chat") {
            bool allServed = true;
            for (const SessionPtr& session : online) {
                if (served(*session))
                    session->deliver(stanza);
                else
                    allServed = false;
            }
            return allServed;
        }
        auto best = std::max_element(
            online.begin(), online.end(),
            [](const SessionPtr& a, const SessionPtr& b) { return a->priority() < b->priority(); });
        if (!served(**best))
            return false;
        (*best)->deliver(stanza);
        return true;
    }

    asio::awaitable<HookVerdict> handlePresence(xmpp::StanzaPtr presence, SessionPtr session) {
        // Only a client's own broadcast presence (RFC 6121 §4.2, §4.4) concerns us.
        if (!session || presence->to())
            co_return HookVerdict::Continue;
        const std::string_view type = presence->type();
        if (!type.empty() && type != "unavailable")
            co_return HookVerdict::Continue;
        auto& data = session->dataOrCreate<OfflineSessionData>(slot_);
        const bool eligible = session->isAvailable() && session->priority() >= 0;
        if (!eligible) {
            // Unavailable or a negative priority (XEP-0160 §2 note 2): no messages until that changes.
            data.served.store(false);
            co_return HookVerdict::Continue;
        }
        if (data.served.load())
            co_return HookVerdict::Continue;  // a presence update of a resource that has its messages

        // XEP-0160 §2 step 5: the resource that sent non-negative available presence gets them.
        const Jid bare = session->jid().bare();
        const std::string host(bare.domain());
        const std::string user(bare.local());
        auto guard = co_await mutex_.lock(bare.str());
        auto listed = co_await context_->storage().offline().list(host, user, 0);
        if (!listed) {
            // They stay stored; the next available presence tries again.
            context_->log().warn("cannot read the offline messages of " + bare.str() + ": " +
                                 std::string(storage::toString(listed.error())));
            co_return HookVerdict::Continue;
        }
        std::vector<std::uint64_t> done;
        done.reserve(listed->size());
        for (storage::OfflineMessage& message : *listed) {
            done.push_back(message.id);
            // A stanza as large as the stream allowed, plus its <delay/>, still parses.
            auto parsed =
                parseStoredXml(message.xml, context_->log(),
                               "offline message " + std::to_string(message.id) + " of " + bare.str());
            if (!parsed)
                continue;  // a damaged row: logged, and removed with the others
            auto stanza = xmpp::Stanza::fromElement(std::move(*parsed));
            if (!stanza || !stanza->isMessage()) {
                context_->log().error("dropping offline message " + std::to_string(message.id) + " of " +
                                      bare.str() + ": not a message stanza");
                continue;
            }
            session->deliver(std::make_shared<const xmpp::Stanza>(std::move(*stanza)));
        }
        data.served.store(true);
        if (!done.empty()) {
            auto removed = co_await context_->storage().offline().remove(host, user, std::move(done));
            if (!removed) {
                // Delivered but still stored: the next login gets them again (duplicates, never loss).
                context_->log().warn("cannot remove delivered offline messages of " + bare.str() + ": " +
                                     std::string(storage::toString(removed.error())));
            }
        }
        co_return HookVerdict::Continue;
    }

    ModuleContext* context_ = nullptr;
    std::size_t maxMessages_ = kDefaultMaxMessages;
    std::size_t slot_ = 0;
    KeyedMutex mutex_;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo offlineModule() {
    return {"offline",
            "stores messages for users who are offline and delivers them when they come online",
            {"XEP-0160", "XEP-0203", "XEP-0334"},
            [] { return std::unique_ptr<Module>(std::make_unique<OfflineModule>()); }};
}

}  // namespace parley::server::modules
