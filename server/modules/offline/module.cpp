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
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "parley/modules/delay.h"
#include "parley/modules/options.h"
#include "parley/modules/stored_xml.h"
#include "parley/modules/worth_keeping.h"
#include "parley/server/keyed_mutex.h"
#include "parley/server/module.h"
#include "parley/storage/storage.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kMsgOffline = "msgoffline";  // XEP-0160 §4 disco feature
constexpr std::size_t kDefaultMaxMessages = 1000;
constexpr std::size_t kRemovalBatch = 32;  // stored messages removed per confirmed write

using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;

// What this module keeps per session: whether the session has been given the stored messages since it
// last became available with a non-negative priority. Written on the session's loop under the
// account's mutex; read from other loops (by the Undeliverable hook), hence atomic.
struct OfflineSessionData final : SessionData {
    std::atomic<bool> served{false};
};

// The session with the highest priority (the first of equals), or end().
std::vector<SessionPtr>::const_iterator highestPriority(const std::vector<SessionPtr>& sessions) {
    return std::max_element(sessions.begin(), sessions.end(), [](const SessionPtr& a, const SessionPtr& b) {
        return a->priority() < b->priority();
    });
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
        // XEP-0334 §4.2: <no-store/> forbids keeping it even for later delivery.
        if (message.findChild("no-store", kHintsNamespace) || !isWorthKeeping(message))
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
        auto best = highestPriority(online);
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
        auto guard = co_await mutex_.lock(bare.str());
        co_await deliverStored(session, bare);
        co_return HookVerdict::Continue;
    }

    // Hands the stored messages (but those already handed to another connection) to `session`, and
    // marks it served. Called under the account's mutex.
    asio::awaitable<void> deliverStored(SessionPtr session, Jid bare) {
        const std::string host(bare.domain());
        const std::string user(bare.local());
        auto listed = co_await context_->storage().offline().list(host, user, 0);
        if (!listed) {
            // They stay stored; the next available presence tries again.
            context_->log().warn("cannot read the offline messages of " + bare.str() + ": " +
                                 std::string(storage::toString(listed.error())));
            co_return;
        }
        const std::unordered_set<std::uint64_t> inFlight = inFlightOf(bare.str());
        std::vector<std::uint64_t> handed;
        std::vector<std::uint64_t> damaged;
        for (storage::OfflineMessage& message : *listed) {
            if (inFlight.contains(message.id))
                continue;
            // A stanza as large as the stream allowed, plus its <delay/>, still parses.
            auto parsed =
                parseStoredXml(message.xml, context_->log(),
                               "offline message " + std::to_string(message.id) + " of " + bare.str());
            if (!parsed) {
                damaged.push_back(message.id);  // logged; removed now, nobody can ever read it
                continue;
            }
            auto stanza = xmpp::Stanza::fromElement(std::move(*parsed));
            if (!stanza || !stanza->isMessage()) {
                context_->log().error("dropping offline message " + std::to_string(message.id) + " of " +
                                      bare.str() + ": not a message stanza");
                damaged.push_back(message.id);
                continue;
            }
            session->deliver(std::make_shared<const xmpp::Stanza>(std::move(*stanza)));
            handed.push_back(message.id);
            if (handed.size() == kRemovalBatch)
                removeOnceWritten(*session, bare, std::exchange(handed, {}));
        }
        session->dataOrCreate<OfflineSessionData>(slot_).served.store(true);
        if (!damaged.empty())
            co_await removeStored(bare, std::move(damaged));
        if (!handed.empty())
            removeOnceWritten(*session, bare, std::move(handed));
    }

    // XEP-0160 §2: stored messages are removed once handed to the client, i.e. written to its
    // connection, in batches (fewer come twice when a connection breaks in the middle of a long
    // delivery). If the connection is lost first they stay stored, and the server dying meanwhile
    // loses nothing: duplicates are possible, loss is not.
    void removeOnceWritten(Session& session, const Jid& bare, std::vector<std::uint64_t> handed) {
        markInFlight(bare.str(), handed, true);
        session.whenWritten([this, bare, handed = std::move(handed)](bool written) mutable {
            context_->spawn([this, bare, handed = std::move(handed), written]() mutable {
                return finishDelivery(bare, std::move(handed), written);
            });
        });
    }

    asio::awaitable<void> finishDelivery(Jid bare, std::vector<std::uint64_t> handed, bool written) {
        auto guard = co_await mutex_.lock(bare.str());
        if (written)
            co_await removeStored(bare, handed);
        markInFlight(bare.str(), handed, false);
        if (written)
            co_return;
        // The connection was lost before they were written. A resource that came online meanwhile
        // skipped them (they were in flight) and will not ask again: it gets them now.
        std::vector<SessionPtr> online = candidates(bare);
        std::erase_if(online, [this](const SessionPtr& session) { return !served(*session); });
        auto best = highestPriority(online);
        if (best != online.end()) {
            SessionPtr target = *best;
            co_await deliverStored(std::move(target), bare);
        }
    }

    std::unordered_set<std::uint64_t> inFlightOf(const std::string& bare) const {
        std::lock_guard lock(inFlightMutex_);
        auto found = inFlight_.find(bare);
        return found == inFlight_.end() ? std::unordered_set<std::uint64_t>{} : found->second;
    }

    void markInFlight(const std::string& bare, const std::vector<std::uint64_t>& ids, bool inFlight) {
        std::lock_guard lock(inFlightMutex_);
        if (inFlight) {
            inFlight_[bare].insert(ids.begin(), ids.end());
            return;
        }
        auto found = inFlight_.find(bare);
        if (found == inFlight_.end())
            return;
        for (std::uint64_t id : ids)
            found->second.erase(id);
        if (found->second.empty())
            inFlight_.erase(found);
    }

    // Called under the account's mutex.
    asio::awaitable<void> removeStored(Jid bare, std::vector<std::uint64_t> ids) {
        const std::string host(bare.domain());
        const std::string user(bare.local());
        auto removed = co_await context_->storage().offline().remove(host, user, std::move(ids));
        if (!removed) {
            // Delivered but still stored: the next login gets them again (duplicates, never loss).
            context_->log().warn("cannot remove delivered offline messages of " + bare.str() + ": " +
                                 std::string(storage::toString(removed.error())));
        }
    }

    ModuleContext* context_ = nullptr;
    std::size_t maxMessages_ = kDefaultMaxMessages;
    std::size_t slot_ = 0;
    KeyedMutex mutex_;
    // Per account (bare JID): ids of stored messages handed to a connection and not yet written.
    // Changed only under that account's KeyedMutex; the map itself is shared by all loops.
    mutable std::mutex inFlightMutex_;
    std::unordered_map<std::string, std::unordered_set<std::uint64_t>> inFlight_;
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
