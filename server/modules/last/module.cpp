// XEP-0012 Last Activity: the server's uptime, and for an account how long ago its last available
// resource went away, with the status it left with. Queries to a full JID are the client's to answer
// (the router delivers them).
//
// What is kept: one document per account (store "last", key "logout"): "<Unix seconds>\n<status>". It is
// written when the account's last available resource sends unavailable presence (the time and status
// of that presence, §3) or ends its session while still available (the status of its last presence).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <memory>

#include "parley/server/keyed_mutex.h"
#include "parley/server/module.h"
#include "parley/storage/storage.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kLastNs = "jabber:iq:last";
constexpr std::string_view kStore = "last";
constexpr std::string_view kKey = "logout";

using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;

struct Logout {
    Jid account;  // bare
    std::int64_t at = 0;
    std::string status;
};

std::string encode(const Logout& logout) {
    return std::to_string(logout.at) + "\n" + logout.status;
}

// The time and status of a stored document, or nullopt when it is not one we wrote.
std::optional<std::pair<std::int64_t, std::string>> decode(std::string_view text) {
    const auto newline = text.find('\n');
    if (newline == std::string_view::npos)
        return std::nullopt;
    std::int64_t at = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + newline, at);
    if (error != std::errc() || end != text.data() + newline)
        return std::nullopt;
    return std::make_pair(at, std::string(text.substr(newline + 1)));
}

class LastModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        startedAt_ = context.clock().now();
        registrations_.push_back(context.addDiscoFeature(std::string(kLastNs)));
        registrations_.push_back(context.onIq(xmpp::IqType::Get, scopes({IqScope::Host}),
                                              std::string(kLastNs), "query",
                                              [this](IqRequest) { return handleUptime(); }));
        registrations_.push_back(
            context.onIq(xmpp::IqType::Get, scopes({IqScope::Self, IqScope::Bare}), std::string(kLastNs),
                         "query", [this](IqRequest request) { return handleAccount(std::move(request)); }));
        // Before the roster module broadcasts the presence (its hook has the default priority, 0).
        registrations_.push_back(context.onStanza(
            StanzaHookPoint::Outbound, xmpp::StanzaKind::Presence, 50, [this](RoutedStanza& routed) {
                std::optional<Logout> logout = wentUnavailable(routed);
                return recordThenContinue(context_->storage(), locks_, context_->log(), std::move(logout));
            }));
        registrations_.push_back(
            context.onSessionEnded([this](Session& session) { onSessionEnded(session); }));
    }

  private:
    // XEP-0012 §5: to a server, the seconds since it started (here: since this module started).
    asio::awaitable<IqResult> handleUptime() {
        const auto uptime =
            std::chrono::duration_cast<std::chrono::seconds>(context_->clock().now() - startedAt_);
        xml::Element query("query", std::string(kLastNs));
        query.setAttr("seconds", std::to_string(std::max<std::int64_t>(uptime.count(), 0)));
        co_return query;
    }

    asio::awaitable<IqResult> handleAccount(IqRequest request) {
        const Jid requester = request.from().bare();
        const bool self = request.scope == IqScope::Self;
        const Jid account = self ? requester : request.stanza->to()->bare();
        const std::string host(account.domain());
        const std::string user(account.local());
        if (!self) {
            // §3 and §8: only an entity allowed to see the account's presence, i.e. one the account
            // has a subscription from (RFC 6121 §3: 'from' or 'both'), may learn its last activity;
            // others get forbidden. An account that does not exist has no roster, so the answer is
            // the same and tells nothing about it.
            auto item = co_await context_->storage().roster().findItem(host, user, requester.str());
            if (!item) {
                context_->log().error("cannot read the roster of " + account.str() + ": " +
                                      std::string(storage::toString(item.error())));
                co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                      "The roster could not be read");
            }
            const bool subscribed =
                item->has_value() && ((*item)->subscription == storage::Subscription::From ||
                                      (*item)->subscription == storage::Subscription::Both);
            if (!subscribed) {
                co_return StanzaError(StanzaErrorCondition::Forbidden,
                                      "You are not subscribed to the presence of " + account.str());
            }
        }
        xml::Element query("query", std::string(kLastNs));
        // §3: with at least one available resource the answer is seconds='0' and no status.
        if (hasAvailableResource(account)) {
            query.setAttr("seconds", "0");
            co_return query;
        }
        // Named first: no temporary that owns memory inside co_await (docs/STYLE.md rule 16).
        const std::string store(kStore);
        const std::string key(kKey);
        auto stored = co_await context_->storage().keyValue().get(host, user, store, key);
        if (!stored) {
            context_->log().error("cannot read the last activity of " + account.str() + ": " +
                                  std::string(storage::toString(stored.error())));
            co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                  "The last activity could not be read");
        }
        const auto logout = stored->has_value() ? decode(**stored) : std::nullopt;
        if (!logout) {
            // XEP-0012 names no error for an account that never logged out (since we started keeping
            // this); item-not-found says what is missing.
            co_return StanzaError(StanzaErrorCondition::ItemNotFound,
                                  "No last activity is known for " + account.str());
        }
        const std::int64_t seconds =
            std::max<std::int64_t>(context_->clock().unixSeconds() - logout->first, 0);
        query.setAttr("seconds", std::to_string(seconds));
        if (!logout->second.empty())
            query.appendText(logout->second);
        co_return query;
    }

    // Whether a session of the account other than `except` has sent available presence.
    bool hasAvailableResource(const Jid& account, std::uint64_t except = 0) const {
        const auto sessions = context_->sessionsOf(account);
        return std::any_of(sessions.begin(), sessions.end(), [except](const SessionPtr& session) {
            return session->id() != except && session->isAvailable();
        });
    }

    static std::string statusOf(const xmpp::Stanza& presence) {
        return presence.element().childText("status", presence.element().ns());
    }

    // The logout that a client's broadcast presence stands for: unavailable after available, from the
    // account's last available resource.
    std::optional<Logout> wentUnavailable(const RoutedStanza& routed) const {
        if (!routed.session || !routed.wasAvailable)
            return std::nullopt;
        const xmpp::Stanza& presence = *routed.stanza;
        if (presence.to() || presence.type() != "unavailable")
            return std::nullopt;
        Jid account = routed.session->jid().bare();
        if (hasAvailableResource(account, routed.session->id()))
            return std::nullopt;
        return Logout{std::move(account), context_->clock().unixSeconds(), statusOf(presence)};
    }

    void onSessionEnded(Session& session) {
        // A session that is no longer available either sent unavailable presence (recorded then) or
        // never was available: neither is a logout now.
        if (!session.isAvailable())
            return;
        Jid account = session.jid().bare();
        if (hasAvailableResource(account, session.id()))
            return;
        const xmpp::StanzaPtr last = session.lastPresence();
        Logout logout{std::move(account), context_->clock().unixSeconds(),
                      last ? statusOf(*last) : std::string()};
        // The hook cannot wait for storage; the write runs on this loop later. It holds no pointer to
        // the module, which may be stopped before it runs.
        context_->spawn([&backend = context_->storage(), locks = locks_, log = context_->log(),
                         logout = std::move(logout)]() mutable {
            return record(backend, std::move(locks), std::move(log), std::move(logout));
        });
    }

    static asio::awaitable<HookVerdict> recordThenContinue(storage::Storage& backend,
                                                           std::shared_ptr<KeyedMutex> locks, Logger log,
                                                           std::optional<Logout> logout) {
        if (logout)
            co_await record(backend, std::move(locks), std::move(log), std::move(*logout));
        co_return HookVerdict::Continue;
    }

    // Stores a logout unless a later one is already stored (writes from two loops may finish in
    // either order) or the account is gone.
    static asio::awaitable<void> record(storage::Storage& backend, std::shared_ptr<KeyedMutex> locks,
                                        Logger log, Logout logout) {
        const std::string host(logout.account.domain());
        const std::string user(logout.account.local());
        const KeyedMutex::Guard guard = co_await locks->lock(logout.account.str());
        // The sessions of a deleted account end after its rows were removed (XEP-0077 §3.2 closes
        // them last): a record written then would outlive the account and greet whoever registers
        // the name next.
        auto account = co_await backend.accounts().findAccount(host, user);
        if (!account || !account->has_value())
            co_return;
        const std::string store(kStore);
        const std::string key(kKey);
        auto stored = co_await backend.keyValue().get(host, user, store, key);
        if (stored && stored->has_value()) {
            const auto previous = decode(**stored);
            if (previous && previous->first > logout.at)
                co_return;
        }
        std::string value = encode(logout);
        auto written = co_await backend.keyValue().set(host, user, store, key, std::move(value));
        if (!written) {
            log.error("cannot store the last activity of " + logout.account.str() + ": " +
                      std::string(storage::toString(written.error())));
        }
    }

    ModuleContext* context_ = nullptr;
    Clock::TimePoint startedAt_{};
    std::shared_ptr<KeyedMutex> locks_ = std::make_shared<KeyedMutex>();
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo lastModule() {
    return {
        "last", "tells the server's uptime and how long ago an account was last online", {"XEP-0012"}, [] {
            return std::unique_ptr<Module>(std::make_unique<LastModule>());
        }};
}

}  // namespace parley::server::modules
