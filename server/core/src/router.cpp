#include "parley/server/router.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "parley/server/core.h"

namespace parley::server {

using xmpp::Stanza;
using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;
using xmpp::StanzaPtr;

namespace {

const Logger& routerLog() {
    static const Logger log("router");
    return log;
}

bool isRequest(const Stanza& stanza) {
    return stanza.iqType() == xmpp::IqType::Get || stanza.iqType() == xmpp::IqType::Set;
}

}  // namespace

void Router::route(StanzaPtr stanza) {
    asio::co_spawn(
        core_.loops().current(),
        [this, stanza = std::move(stanza)]() mutable { return routeAsync(std::move(stanza)); },
        asio::detached);
}

asio::awaitable<void> Router::routeAsync(StanzaPtr stanza) {
    // Stanzas reach the router with `from` stamped by the stream that received them (§8.1.2.1) or set
    // by the module that generated them.
    if (!stanza->from()) {
        routerLog().warn("dropping a stanza without from: " + stanza->element().toString());
        co_return;
    }
    RoutedStanza routed{std::move(stanza)};
    co_await routeStanza(routed);
}

asio::awaitable<void> Router::redeliverAsync(StanzaPtr stanza) {
    if (!stanza->from())
        co_return;
    RoutedStanza routed{std::move(stanza)};
    routed.redelivery = true;
    co_await routeStanza(routed);
}

asio::awaitable<void> Router::routeFromClient(Session& session, StanzaPtr stanza, bool wasAvailable) {
    RoutedStanza routed{std::move(stanza), &session, wasAvailable};
    co_await routeStanza(routed);
}

bool Router::hasHooks(StanzaHookPoint point, xmpp::StanzaKind kind) const {
    return !core_.modules().stanzaHooks(point, kind).empty();
}

asio::awaitable<HookVerdict> Router::runHooks(StanzaHookPoint point, RoutedStanza& routed) {
    for (const auto& entry : core_.modules().stanzaHooks(point, routed.stanza->kind())) {
        const HookVerdict verdict = co_await entry.hook(routed);
        if (verdict == HookVerdict::Handled)
            co_return HookVerdict::Handled;
    }
    co_return HookVerdict::Continue;
}

asio::awaitable<void> Router::routeStanza(RoutedStanza& routed) {
    const xmpp::StanzaKind kind = routed.stanza->kind();
    {
        const Jid& from = *routed.stanza->from();
        if (!routed.redelivery && from.hasLocal() && hasHooks(StanzaHookPoint::Outbound, kind) &&
            core_.host(from.domain())) {
            const HookVerdict verdict = co_await runHooks(StanzaHookPoint::Outbound, routed);
            if (verdict == HookVerdict::Handled)
                co_return;
        }
    }
    // Hooks may have replaced the stanza: read the addresses again. `stanza` keeps the addresses that
    // the calls below refer to alive, whatever later hooks do to `routed`.
    const StanzaPtr stanza = routed.stanza;
    const Jid& from = *stanza->from();
    if (!stanza->to()) {
        // §10.3: no `to` means the sender's own account.
        const Jid self = from.bare();
        co_await routeToBare(routed, self, /*isSelf=*/true);
        co_return;
    }
    const Jid& to = *stanza->to();
    if (!core_.host(to.domain())) {
        // §10.4: a remote domain. Until federation exists, such stanzas bounce (§8.3.3.16).
        bounce(*stanza, StanzaError(StanzaErrorCondition::RemoteServerNotFound,
                                    "This server does not federate with other servers yet"));
        co_return;
    }
    if (!to.hasLocal()) {
        co_await routeToServer(stanza);
        co_return;
    }
    if (!routed.redelivery && hasHooks(StanzaHookPoint::Inbound, kind)) {
        const HookVerdict verdict = co_await runHooks(StanzaHookPoint::Inbound, routed);
        if (verdict == HookVerdict::Handled)
            co_return;
    }
    const StanzaPtr target = routed.stanza;  // an Inbound hook may have replaced it
    const Jid& targetTo = *target->to();
    if (targetTo.hasResource()) {
        co_await routeToFull(routed);
    } else {
        co_await routeToBare(routed, targetTo, targetTo.bareView() == target->from()->bareView());
    }
}

void Router::bounce(const Stanza& request, const StanzaError& error) {
    auto reply = xmpp::makeErrorReply(request, error);
    if (!reply || !reply->to())
        return;
    if (!reply->from())
        reply->setFrom(request.from()->domainJid());
    route(std::make_shared<const Stanza>(std::move(*reply)));
}

asio::awaitable<bool> Router::dispatchIq(StanzaPtr stanza, unsigned scope, std::string host) {
    const xml::Element* payload = stanza->payload();
    if (!payload)
        co_return false;
    const IqHandler* handler = nullptr;
    IqScope chosen = IqScope::Host;
    for (IqScope candidate : {IqScope::Self, IqScope::Bare, IqScope::Host}) {
        if (!(scope & static_cast<unsigned>(candidate)))
            continue;
        handler = core_.modules().findIq(stanza->iqType(), candidate, payload->ns(), payload->name());
        if (handler) {
            chosen = candidate;
            break;
        }
    }
    if (!handler)
        co_return false;
    // The handler runs inline: the sender's next stanza waits for it (in-order processing, §10.1).
    // Copy the handler: modules register at start only, but the table must not be read after a
    // suspension point.
    const IqHandler run = *handler;
    // GCC 12: no temporaries inside the co_await expression (docs/STYLE.md rule 16).
    IqRequest request{stanza, std::move(host), chosen};
    IqResult result = co_await run(std::move(request));
    std::optional<Jid> serverFrom = stanza->to();
    if (!serverFrom)
        serverFrom = stanza->from()->bare();
    if (result) {
        auto reply = xmpp::makeIqResult(*stanza, std::move(*result), serverFrom);
        co_await routeAsync(std::make_shared<const Stanza>(std::move(reply)));
    } else {
        auto reply = xmpp::makeErrorReply(*stanza, result.error());
        if (reply) {
            if (!reply->from())
                reply->setFrom(serverFrom);
            co_await routeAsync(std::make_shared<const Stanza>(std::move(*reply)));
        }
    }
    co_return true;
}

asio::awaitable<void> Router::routeToServer(StanzaPtr stanza) {
    const Jid& to = *stanza->to();
    switch (stanza->kind()) {
        case xmpp::StanzaKind::Iq: {
            if (!isRequest(*stanza)) {
                core_.iqTracker().complete(stanza);  // an answer to an iq the server sent, or dropped
                co_return;
            }
            const bool handled =
                co_await dispatchIq(stanza, static_cast<unsigned>(IqScope::Host), std::string(to.domain()));
            if (!handled)
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            co_return;
        }
        case xmpp::StanzaKind::Message:
            // RFC 6120 §10.3.1 leaves messages to the server to its discretion; nothing handles them.
            if (!stanza->isError())
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            co_return;
        case xmpp::StanzaKind::Presence:
            co_return;  // §10.3.2: presence to the server itself is handled by the server; we keep none
    }
}

asio::awaitable<void> Router::routeToBare(RoutedStanza& routed, const Jid& bare, bool isSelf) {
    const StanzaPtr stanza = routed.stanza;
    switch (stanza->kind()) {
        case xmpp::StanzaKind::Iq: {
            if (!isRequest(*stanza)) {
                core_.iqTracker().complete(stanza);  // an answer to an iq sent for the account, or dropped
                co_return;
            }
            // §10.5.3.1/§10.3.3: the server answers an iq to a bare JID on the account's behalf.
            const unsigned scope =
                isSelf ? (static_cast<unsigned>(IqScope::Self) | static_cast<unsigned>(IqScope::Bare))
                       : static_cast<unsigned>(IqScope::Bare);
            const bool handled = co_await dispatchIq(stanza, scope, std::string(bare.domain()));
            if (!handled)
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            co_return;
        }
        case xmpp::StanzaKind::Message:
            co_await deliverMessageToBare(routed, bare);
            co_return;
        case xmpp::StanzaKind::Presence: {
            if (isSelf && !stanza->to())
                co_return;  // broadcast presence: the presence module's (RFC 6121 §4), if it runs
            // Directed presence to a bare JID goes to every available resource (RFC 6121 §4.6);
            // to an unknown or offline user it is dropped silently (§10.5.3.1).
            for (const SessionPtr& session : core_.sessions().resourcesOf(bare)) {
                if (session->isAvailable())
                    session->deliver(stanza);
            }
            co_return;
        }
    }
}

asio::awaitable<void> Router::deliverMessageToBare(RoutedStanza& routed, const Jid& bare) {
    const StanzaPtr stanza = routed.stanza;
    const std::string_view type = stanza->type();
    if (type == "groupchat") {
        bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
        co_return;
    }
    // RFC 6121 §8.5.2.1: only available resources with non-negative priority receive messages sent to
    // the bare JID; `normal` and `error` go to the highest priority, `chat` and `headline` to all of
    // them. Errors are never bounced (§8.3.1).
    // Filtered in place: the registry's snapshot is the only vector allocated.
    std::vector<SessionPtr> candidates = core_.sessions().resourcesOf(bare);
    std::erase_if(candidates, [](const SessionPtr& session) {
        return !session->isAvailable() || session->priority() < 0;
    });
    int best = -1;
    for (const SessionPtr& session : candidates)
        best = std::max(best, session->priority());
    if (candidates.empty()) {
        // §8.5.2.2: nobody online (or no such account; the answer is the same, §10.5.3.1 and §13.11).
        // Offline storage (XEP-0160) claims what it keeps through the Undeliverable hook.
        if (hasHooks(StanzaHookPoint::Undeliverable, xmpp::StanzaKind::Message)) {
            const HookVerdict verdict = co_await runHooks(StanzaHookPoint::Undeliverable, routed);
            if (verdict == HookVerdict::Handled)
                co_return;
        }
        if (type != "error" && type != "headline")
            bounce(*routed.stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
        co_return;
    }
    const bool toAll = type == "chat" || type == "headline";
    for (const SessionPtr& session : candidates) {
        if (toAll || session->priority() == best) {
            session->deliver(stanza);
            if (!toAll)
                co_return;
        }
    }
}

asio::awaitable<void> Router::routeToFull(RoutedStanza& routed) {
    const StanzaPtr stanza = routed.stanza;
    const Jid& to = *stanza->to();
    if (SessionPtr session = core_.sessions().find(to)) {
        session->deliver(stanza);
        co_return;
    }
    // RFC 6121 §8.5.3.2: no such resource.
    switch (stanza->kind()) {
        case xmpp::StanzaKind::Iq:
            if (isRequest(*stanza))
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            co_return;
        case xmpp::StanzaKind::Message: {
            const std::string_view type = stanza->type();
            if (type == "normal" || type == "chat" || type.empty()) {
                const Jid bare = to.bare();  // §8.5.3.2.1: as if sent to the bare JID
                co_await deliverMessageToBare(routed, bare);
            } else if (type == "groupchat") {
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            }
            co_return;  // headline and error: silently dropped
        }
        case xmpp::StanzaKind::Presence:
            co_return;  // §8.5.3.2.3: dropped
    }
}

}  // namespace parley::server
