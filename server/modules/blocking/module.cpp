// XEP-0191: Blocking Command. A user keeps a list of blocked addresses (full, bare, domain/resource or
// domain JIDs, matched as XEP-0016 §2.1 says: parley/modules/block_matching.h). Nothing from a blocked
// address reaches the user, nothing the user sends reaches it, and presence stops flowing both ways, so
// that a blocked contact sees the user as offline.
//
// Block lists are read for every stanza from or to a local account, so they are cached: per account
// (bare JID), in shards each with its own mutex, holding empty lists too. Only accounts with a bound
// session are cached, and an account's entry goes when its last session ends; stanzas to offline or
// unknown accounts read the store each time, so they cannot grow the cache (availability presence to
// them, which the router drops anyway, is not checked at all). Changes go to the store
// first and then replace the cached list, under the account's KeyedMutex; a list read from the store
// enters the cache only if nothing changed the shard while it was read, so a slow read never puts back
// a list older than a change.
//
// When the store cannot be read, blocking fails closed: a stanza that might come from or go to a
// blocked address is not delivered. Messages and iq requests are answered with internal-server-error
// (the sender may retry), presence and iq answers are dropped. Letting them through would deliver what
// the user asked never to receive for as long as the store is down.
#include <array>
#include <mutex>
#include <unordered_map>

#include "parley/base/random.h"
#include "parley/modules/block_matching.h"
#include "parley/modules/options.h"
#include "parley/server/keyed_mutex.h"
#include "parley/server/module.h"
#include "parley/storage/storage.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kBlocking = "urn:xmpp:blocking";
constexpr std::string_view kBlockingErrors = "urn:xmpp:blocking:errors";
constexpr std::size_t kDefaultMaxItems = 1000;
// Above the other modules' hooks: a blocked stanza must not reach the roster module's subscription
// handling, offline storage or anything else.
constexpr int kHookPriority = 1000;

using storage::StorageError;
using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;

using BlockList = std::vector<std::string>;  // prepared JIDs, sorted
using BlockListPtr = std::shared_ptr<const BlockList>;

// Set on the session's loop when the resource asked for its block list (XEP-0191 §3.2); read from any
// loop when a change is pushed (§3.3, §3.4).
struct BlockingSessionData final : SessionData {
    std::atomic<bool> wantsPushes{false};
};

class BlockListCache {
  public:
    // By the account's bare JID as a view: the routing of each stanza looks up without allocating.
    BlockListPtr find(std::string_view account) {
        Shard& shard = shardOf(account);
        std::lock_guard lock(shard.mutex);
        auto it = shard.lists.find(account);
        return it == shard.lists.end() ? nullptr : it->second;
    }
    // Taken before reading the store; insertIfUnchanged() keeps the list only if the shard has not
    // changed since.
    std::uint64_t generation(const std::string& account) {
        Shard& shard = shardOf(account);
        std::lock_guard lock(shard.mutex);
        return shard.generation;
    }
    void insertIfUnchanged(const std::string& account, BlockListPtr list, std::uint64_t generation) {
        Shard& shard = shardOf(account);
        std::lock_guard lock(shard.mutex);
        if (shard.generation == generation)
            shard.lists.try_emplace(account, std::move(list));
    }
    void assign(const std::string& account, BlockListPtr list) {
        Shard& shard = shardOf(account);
        std::lock_guard lock(shard.mutex);
        ++shard.generation;
        shard.lists[account] = std::move(list);
    }
    void evict(const std::string& account) {
        Shard& shard = shardOf(account);
        std::lock_guard lock(shard.mutex);
        ++shard.generation;
        shard.lists.erase(account);
    }

  private:
    static constexpr std::size_t kShards = 32;
    struct ViewHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept {
            return std::hash<std::string_view>{}(text);
        }
    };
    struct Shard {
        std::mutex mutex;
        std::unordered_map<std::string, BlockListPtr, ViewHash, std::equal_to<>> lists;
        std::uint64_t generation = 0;
    };
    Shard& shardOf(std::string_view account) { return shards_[ViewHash{}(account) % kShards]; }
    std::array<Shard, kShards> shards_;
};

bool isRequest(const xmpp::Stanza& stanza) {
    return stanza.isIq() && (stanza.iqType() == xmpp::IqType::Get || stanza.iqType() == xmpp::IqType::Set);
}

// The stanzas that a block answers with an error rather than dropping: messages and iq get/set
// (XEP-0191 §3.3); presence and iq results and errors are dropped silently.
bool isAnswerable(const xmpp::Stanza& stanza) {
    return stanza.isMessage() || isRequest(stanza);
}

bool receivesPresence(storage::Subscription subscription) {
    return subscription == storage::Subscription::From || subscription == storage::Subscription::Both;
}

// The items of a <block/> or <unblock/>, prepared and without duplicates.
Result<std::vector<Jid>, StanzaError> readItems(const xml::Element& command) {
    std::vector<Jid> jids;
    for (const xml::Element* item : command.children("item", kBlocking)) {
        const std::string* text = item->findAttr("jid");
        if (!text)
            return StanzaError(StanzaErrorCondition::BadRequest, "Every item needs a jid attribute");
        auto jid = Jid::parse(*text);
        if (!jid)
            return StanzaError(StanzaErrorCondition::JidMalformed, "An item's jid is not a valid JID");
        if (std::find(jids.begin(), jids.end(), *jid) == jids.end())
            jids.push_back(std::move(*jid));
    }
    return jids;
}

xml::Element command(std::string_view name, const std::vector<Jid>& jids) {
    xml::Element element{std::string(name), std::string(kBlocking)};
    for (const Jid& jid : jids)
        element.append("item", std::string(kBlocking)).setAttr("jid", jid.str());
    return element;
}

class BlockingModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        maxItems_ = countOption(context, "blocking", "max_items", kDefaultMaxItems);
        slot_ = context.allocateSessionSlot();
        add(context.addDiscoFeature(std::string(kBlocking)));
        // §3.2-§3.4: requests with no `to` (or the account's own bare JID), handled for the account.
        add(context.onIq(xmpp::IqType::Get, scopes({IqScope::Self}), std::string(kBlocking), "blocklist",
                         [this](IqRequest request) { return handleBlocklist(std::move(request)); }));
        add(context.onIq(xmpp::IqType::Set, scopes({IqScope::Self}), std::string(kBlocking), "block",
                         [this](IqRequest request) { return handleBlock(std::move(request)); }));
        add(context.onIq(xmpp::IqType::Set, scopes({IqScope::Self}), std::string(kBlocking), "unblock",
                         [this](IqRequest request) { return handleUnblock(std::move(request)); }));
        for (auto kind : {xmpp::StanzaKind::Message, xmpp::StanzaKind::Presence, xmpp::StanzaKind::Iq}) {
            add(context.onStanza(StanzaHookPoint::Inbound, kind, kHookPriority,
                                 [this](RoutedStanza& routed) { return inbound(routed.stanza); }));
            add(context.onStanza(
                StanzaHookPoint::Outbound, kind, kHookPriority, [this](RoutedStanza& routed) {
                    SessionPtr session = routed.session ? routed.session->shared_from_this() : nullptr;
                    return outbound(routed.stanza, std::move(session));
                }));
        }
        add(context.onSessionEnded([this](Session& session) {
            const Jid account = session.jid().bare();
            if (context_->sessionsOf(account).empty())
                cache_.evict(account.str());
        }));
        add(context.onAccountDeleted([this](const AccountDeletedEvent& event) {
            // The store deleted the list with the account; a new account of that name starts empty.
            if (auto account = Jid::make(event.username, event.host))
                cache_.evict(account->str());
        }));
    }

  private:
    void add(Registration registration) { registrations_.push_back(std::move(registration)); }

    // --- the cache -------------------------------------------------------------------------------

    asio::awaitable<Result<BlockListPtr, StorageError>> listOf(Jid account) {
        const std::string key = account.str();
        if (BlockListPtr cached = cache_.find(key))
            co_return cached;
        const std::uint64_t generation = cache_.generation(key);
        // Named first: no temporary that owns memory inside co_await (docs/STYLE.md rule 16).
        const std::string host(account.domain());
        const std::string user(account.local());
        auto loaded = co_await context_->storage().blockList().list(host, user);
        if (!loaded) {
            context_->log().warn("cannot read the block list of " + key + ": " +
                                 std::string(storage::toString(loaded.error())));
            co_return loaded.error();
        }
        std::sort(loaded->begin(), loaded->end());
        auto list = std::make_shared<const BlockList>(std::move(*loaded));
        if (!context_->sessionsOf(account).empty())
            cache_.insertIfUnchanged(key, list, generation);
        co_return list;
    }

    // --- enforcement (§3.3) ----------------------------------------------------------------------

    void bounce(const xmpp::Stanza& stanza, StanzaError error) {
        if (auto reply = xmpp::makeErrorReply(stanza, error))
            context_->send(std::move(*reply));
    }

    asio::awaitable<HookVerdict> inbound(xmpp::StanzaPtr stanza) {
        const Jid& from = *stanza->from();
        const Jid& to = *stanza->to();
        // The account's own resources and its own server are never blocked.
        if (from.bareView() == to.bareView() || from.str() == to.domain())
            co_return HookVerdict::Continue;
        // The list of an account with sessions is cached: looked up without building its bare JID.
        BlockListPtr list = cache_.find(to.bareView());
        if (!list) {
            const Jid account = to.bare();
            if (stanza->isPresence() && (stanza->type().empty() || stanza->type() == "unavailable") &&
                context_->sessionsOf(account).empty()) {
                // Presence for an account without sessions is dropped by the router anyway (RFC 6121
                // §8.5.1): the broadcasts of contacts to their offline subscribers cost no storage read.
                co_return HookVerdict::Continue;
            }
            auto loaded = co_await listOf(account);
            if (!loaded) {
                if (isAnswerable(*stanza)) {
                    bounce(*stanza,
                           StanzaError(StanzaErrorCondition::InternalServerError,
                                       "The recipient's settings could not be read; try again later"));
                }
                co_return HookVerdict::Handled;
            }
            list = std::move(*loaded);
        }
        if (!isBlockedBy(*list, from))
            co_return HookVerdict::Continue;
        // §3.3: the user appears offline to the contact: service-unavailable for messages and iq
        // requests, silence for presence (notifications, subscriptions, probes) and iq answers.
        if (isAnswerable(*stanza))
            bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
        co_return HookVerdict::Handled;
    }

    asio::awaitable<HookVerdict> outbound(xmpp::StanzaPtr stanza, SessionPtr session) {
        if (!stanza->to())
            co_return HookVerdict::Continue;  // to the account itself (broadcast presence, own iq)
        const Jid& from = *stanza->from();
        const Jid& to = *stanza->to();
        if (to.bareView() == from.bareView() || to.str() == from.domain())
            co_return HookVerdict::Continue;
        if (!session && (stanza->isError() || isPassing(stanza.get()))) {
            // The server's error answers on the account's behalf (e.g. service-unavailable to a blocked
            // contact, which is what it should see) and the unavailable presence sent when blocking.
            co_return HookVerdict::Continue;
        }
        BlockListPtr list = cache_.find(from.bareView());
        if (!list) {
            auto loaded = co_await listOf(from.bare());
            if (!loaded) {
                if (session && isAnswerable(*stanza)) {
                    if (auto reply = xmpp::makeErrorReply(
                            *stanza, StanzaError(StanzaErrorCondition::InternalServerError,
                                                 "Your block list could not be read; try again later"))) {
                        session->deliver(std::make_shared<const xmpp::Stanza>(std::move(*reply)));
                    }
                }
                co_return HookVerdict::Handled;
            }
            list = std::move(*loaded);
        }
        if (!isBlockedBy(*list, to))
            co_return HookVerdict::Continue;
        // §3.3: not routed. The client is told why (not-acceptable with <blocked/>, of type cancel as in
        // the XEP's example: resending will not help), directly: routed from the blocked address, the
        // error would itself be blocked. Presence the server sends on the account's behalf (broadcasts,
        // probe answers) is dropped, so the contact sees it offline.
        if (session && isAnswerable(*stanza)) {
            StanzaError error(StanzaErrorCondition::NotAcceptable, xmpp::StanzaErrorType::Cancel,
                              "You have blocked this address");
            error.applicationCondition = xml::Element("blocked", std::string(kBlockingErrors));
            if (auto reply = xmpp::makeErrorReply(*stanza, error))
                session->deliver(std::make_shared<const xmpp::Stanza>(std::move(*reply)));
        }
        co_return HookVerdict::Handled;
    }

    // Stanzas the module routes on the account's behalf past its own Outbound check.
    bool isPassing(const xmpp::Stanza* stanza) {
        if (!stanza->isPresence())
            return false;
        std::lock_guard lock(passingMutex_);
        return std::find(passing_.begin(), passing_.end(), stanza) != passing_.end();
    }

    asio::awaitable<void> routePassing(xmpp::StanzaPtr stanza) {
        {
            std::lock_guard lock(passingMutex_);
            passing_.push_back(stanza.get());
        }
        co_await context_->route(stanza);
        std::lock_guard lock(passingMutex_);
        passing_.erase(std::find(passing_.begin(), passing_.end(), stanza.get()));
    }

    // --- the protocol (§3.2-§3.5) ----------------------------------------------------------------

    SessionPtr sessionOf(const Jid& full) const {
        for (SessionPtr& session : context_->sessionsOf(full.bare())) {
            if (session->jid() == full)
                return std::move(session);
        }
        return nullptr;
    }

    // §3.3, §3.4: the same command, as an iq set from the account, to every resource that asked for
    // the block list.
    void push(const Jid& account, const xml::Element& change) {
        for (const SessionPtr& session : context_->sessionsOf(account)) {
            const auto* data = static_cast<const BlockingSessionData*>(session->data(slot_));
            if (!data || !data->wantsPushes.load())
                continue;
            xml::Element iq("iq", std::string(ns::kClient));
            iq.setAttr("type", "set");
            iq.setAttr("id", "block-push-" + randomId(10));
            iq.append(change);
            session->deliver(std::make_shared<const xmpp::Stanza>(xmpp::StanzaKind::Iq, std::move(iq),
                                                                  session->jid(), account));
        }
    }

    asio::awaitable<IqResult> handleBlocklist(IqRequest request) {
        const Jid account = request.from().bare();
        // Marked before reading, so that a change made meanwhile is pushed rather than missed.
        if (SessionPtr session = sessionOf(request.from()))
            session->dataOrCreate<BlockingSessionData>(slot_).wantsPushes.store(true);
        auto list = co_await listOf(account);
        if (!list)
            co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                  "The block list could not be read");
        xml::Element blocklist("blocklist", std::string(kBlocking));
        for (const std::string& jid : **list)
            blocklist.append("item", std::string(kBlocking)).setAttr("jid", jid);
        co_return blocklist;
    }

    asio::awaitable<IqResult> handleBlock(IqRequest request) {
        auto items = readItems(request.payload());
        if (!items)
            co_return items.error();
        if (items->empty())
            co_return StanzaError(StanzaErrorCondition::BadRequest,
                                  "Say which addresses to block in <item/>s");
        const Jid account = request.from().bare();
        const std::string host(account.domain());
        const std::string user(account.local());

        auto guard = co_await locks_.lock(account.str());
        auto current = co_await listOf(account);
        if (!current)
            co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                  "The block list could not be read");
        std::vector<Jid> added;
        std::vector<std::string> addedText;
        for (const Jid& jid : *items) {
            if (!std::binary_search((*current)->begin(), (*current)->end(), jid.str())) {
                added.push_back(jid);
                addedText.push_back(jid.str());
            }
        }
        if (!added.empty()) {
            auto stored = co_await context_->storage().blockList().add(host, user, addedText, maxItems_);
            if (!stored) {
                if (stored.error() == StorageError::QuotaExceeded) {
                    co_return StanzaError(StanzaErrorCondition::ResourceConstraint,
                                          "The block list is full (" + std::to_string(maxItems_) + " items)");
                }
                context_->log().warn("cannot store the block list of " + account.str() + ": " +
                                     std::string(storage::toString(stored.error())));
                co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                      "The block list could not be stored");
            }
            BlockList updated = **current;
            updated.insert(updated.end(), addedText.begin(), addedText.end());
            std::sort(updated.begin(), updated.end());
            cache_.assign(account.str(), std::make_shared<const BlockList>(std::move(updated)));
        }
        push(account, command("block", *items));
        // Routing may wait for other accounts' locks (docs/HACKING.md): not while holding this one.
        guard.release();
        // §3.3: the newly blocked contacts that receive the account's presence now see it go offline.
        // These pass this module's own check, which would drop them now.
        const std::vector<Jid> targets = co_await presenceTargets(account, added);
        for (const SessionPtr& session : context_->sessionsOf(account)) {
            if (!session->isAvailable())
                continue;
            for (const Jid& target : targets) {
                xml::Element presence("presence", std::string(ns::kClient));
                presence.setAttr("type", "unavailable");
                auto unavailable = std::make_shared<const xmpp::Stanza>(
                    xmpp::StanzaKind::Presence, std::move(presence), target, session->jid());
                co_await routePassing(std::move(unavailable));
            }
        }
        co_return std::nullopt;
    }

    asio::awaitable<IqResult> handleUnblock(IqRequest request) {
        auto items = readItems(request.payload());
        if (!items)
            co_return items.error();
        const Jid account = request.from().bare();
        const std::string host(account.domain());
        const std::string user(account.local());

        auto guard = co_await locks_.lock(account.str());
        auto current = co_await listOf(account);
        if (!current)
            co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                  "The block list could not be read");
        // §3.5: an empty <unblock/> unblocks everyone.
        const bool all = items->empty();
        std::vector<Jid> removed;
        std::vector<std::string> removedText;
        for (const std::string& text : **current) {
            auto jid = Jid::parse(text);
            if (!jid)
                continue;
            if (all || std::find(items->begin(), items->end(), *jid) != items->end()) {
                removed.push_back(std::move(*jid));
                removedText.push_back(text);
            }
        }
        std::vector<std::string> requested;
        for (const Jid& jid : *items)
            requested.push_back(jid.str());
        auto stored = co_await context_->storage().blockList().remove(host, user, std::move(requested));
        if (!stored) {
            context_->log().warn("cannot store the block list of " + account.str() + ": " +
                                 std::string(storage::toString(stored.error())));
            co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                  "The block list could not be stored");
        }
        BlockList updated;
        if (!all) {
            for (const std::string& text : **current) {
                if (std::find(removedText.begin(), removedText.end(), text) == removedText.end())
                    updated.push_back(text);
            }
        }
        cache_.assign(account.str(), std::make_shared<const BlockList>(std::move(updated)));
        push(account, command("unblock", *items));
        guard.release();
        // §3.4: the unblocked contacts that receive the account's presence get its current presence.
        const std::vector<Jid> targets = co_await presenceTargets(account, removed);
        for (const SessionPtr& session : context_->sessionsOf(account)) {
            const xmpp::StanzaPtr last = session->lastPresence();
            if (!session->isAvailable() || !last)
                continue;
            for (const Jid& target : targets) {
                xmpp::Stanza presence = *last;
                presence.setFrom(session->jid());
                presence.setTo(target);
                auto readdressed = std::make_shared<const xmpp::Stanza>(std::move(presence));
                co_await context_->route(std::move(readdressed));
            }
        }
        co_return std::nullopt;
    }

    // The addresses, among the contacts that receive the account's presence (RFC 6121 §3: subscription
    // from or both), that the items cover: the contact's bare JID, or the one resource of it that a
    // full (or domain/resource) item names.
    asio::awaitable<std::vector<Jid>> presenceTargets(Jid account, std::vector<Jid> items) {
        std::vector<Jid> targets;
        if (items.empty())
            co_return targets;
        const std::string host(account.domain());
        const std::string user(account.local());
        auto roster = co_await context_->storage().roster().loadRoster(host, user);
        if (!roster) {
            context_->log().warn(
                "cannot read the roster of " + account.str() +
                " to update presence for a block: " + std::string(storage::toString(roster.error())));
            co_return targets;
        }
        for (const storage::RosterItem& item : roster->items) {
            if (!receivesPresence(item.subscription))
                continue;
            auto contact = Jid::parse(item.jid);
            if (!contact)
                continue;
            for (const Jid& blocked : items) {
                std::optional<Jid> target;
                if (blocked.hasResource()) {
                    const bool covers = blocked.hasLocal() ? blocked.bareView() == contact->bareView()
                                                           : blocked.domain() == contact->domain();
                    if (covers) {
                        auto full = contact->withResource(blocked.resource());
                        if (full)
                            target = std::move(*full);
                    }
                } else if (isBlockedBy({blocked.str()}, *contact)) {
                    target = *contact;
                }
                if (target && std::find(targets.begin(), targets.end(), *target) == targets.end())
                    targets.push_back(std::move(*target));
            }
        }
        co_return targets;
    }

    ModuleContext* context_ = nullptr;
    std::size_t maxItems_ = kDefaultMaxItems;
    std::size_t slot_ = 0;
    BlockListCache cache_;
    KeyedMutex locks_;
    std::mutex passingMutex_;
    std::vector<const xmpp::Stanza*> passing_;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo blockingModule() {
    return {"blocking", "lets users block communication with other addresses", {"XEP-0191"}, [] {
                return std::unique_ptr<Module>(std::make_unique<BlockingModule>());
            }};
}

}  // namespace parley::server::modules
