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

}  // namespace

void Router::route(StanzaPtr stanza) {
    // Stanzas reach the router with `from` stamped by the stream that received them (§8.1.2.1) or set
    // by the module that generated them.
    if (!stanza->from()) {
        routerLog().warn("dropping a stanza without from: " + stanza->element().toString());
        return;
    }
    const Jid& from = *stanza->from();
    if (!stanza->to()) {
        // §10.3: no `to` means the sender's own account.
        routeToBare(stanza, from.bare(), /*isSelf=*/true);
        return;
    }
    const Jid& to = *stanza->to();
    if (!core_.host(to.domain())) {
        // §10.4: a remote domain. Until federation exists, such stanzas bounce (§8.3.3.16).
        bounce(*stanza, StanzaError(StanzaErrorCondition::RemoteServerNotFound,
                                    "This server does not federate with other servers yet"));
        return;
    }
    if (!to.hasLocal()) {
        routeToServer(stanza, to);
    } else if (to.hasResource()) {
        routeToFull(stanza, to);
    } else {
        routeToBare(stanza, to, to.bareView() == from.bareView());
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

bool Router::dispatchIq(const StanzaPtr& stanza, unsigned scope, std::string_view host) {
    const xml::Element* payload = stanza->payload();
    if (!payload)
        return false;
    for (IqScope candidate : {IqScope::Self, IqScope::Bare, IqScope::Host}) {
        if (!(scope & static_cast<unsigned>(candidate)))
            continue;
        const IqHandler* handler =
            core_.modules().findIq(stanza->iqType(), candidate, payload->ns(), payload->name());
        if (!handler)
            continue;
        IqRequest request{stanza, std::string(host), candidate};
        // Handlers are coroutines (they may use storage); each runs on the loop that received the
        // request, and its reply is routed like any other stanza.
        auto run = [this, handler = *handler,
                    request = std::move(request)]() mutable -> asio::awaitable<void> {
            const StanzaPtr original = request.stanza;
            IqResult result = co_await handler(std::move(request));
            std::optional<Jid> serverFrom = original->to();
            if (!serverFrom)
                serverFrom = original->from()->bare();
            if (result) {
                auto reply = xmpp::makeIqResult(*original, std::move(*result), serverFrom);
                route(std::make_shared<const Stanza>(std::move(reply)));
            } else {
                auto reply = xmpp::makeErrorReply(*original, result.error());
                if (reply) {
                    if (!reply->from())
                        reply->setFrom(serverFrom);
                    route(std::make_shared<const Stanza>(std::move(*reply)));
                }
            }
        };
        asio::co_spawn(
            core_.loops().current(), [run = std::move(run)]() mutable { return run(); }, asio::detached);
        return true;
    }
    return false;
}

void Router::routeToServer(const StanzaPtr& stanza, const Jid& to) {
    switch (stanza->kind()) {
        case xmpp::StanzaKind::Iq:
            if (stanza->iqType() == xmpp::IqType::Result || stanza->iqType() == xmpp::IqType::Error) {
                return;  // answers to iqs the server sent; nothing waits for them yet
            }
            if (!dispatchIq(stanza, static_cast<unsigned>(IqScope::Host), to.domain())) {
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            }
            return;
        case xmpp::StanzaKind::Message:
            // RFC 6120 §10.3.1 leaves messages to the server to its discretion; nothing handles them.
            if (!stanza->isError())
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            return;
        case xmpp::StanzaKind::Presence:
            return;  // §10.3.2: presence to the server itself is handled by the server; we keep none yet
    }
}

void Router::routeToBare(const StanzaPtr& stanza, const Jid& bare, bool isSelf) {
    switch (stanza->kind()) {
        case xmpp::StanzaKind::Iq: {
            if (stanza->iqType() == xmpp::IqType::Result || stanza->iqType() == xmpp::IqType::Error)
                return;
            // §10.5.3.1/§10.3.3: the server answers an iq to a bare JID on the account's behalf.
            const unsigned scope =
                isSelf ? (static_cast<unsigned>(IqScope::Self) | static_cast<unsigned>(IqScope::Bare))
                       : static_cast<unsigned>(IqScope::Bare);
            if (!dispatchIq(stanza, scope, bare.domain())) {
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            }
            return;
        }
        case xmpp::StanzaKind::Message:
            deliverMessageToBare(stanza, bare);
            return;
        case xmpp::StanzaKind::Presence: {
            if (isSelf && !stanza->to())
                return;  // broadcast presence is the presence module's (RFC 6121)
            // Directed presence to a bare JID goes to every available resource (RFC 6121 §4.6);
            // to an unknown or offline user it is dropped silently (§10.5.3.1).
            for (const SessionPtr& session : core_.sessions().resourcesOf(bare)) {
                if (session->isAvailable())
                    session->deliver(stanza);
            }
            return;
        }
    }
}

void Router::deliverMessageToBare(const StanzaPtr& stanza, const Jid& bare) {
    const std::string_view type = stanza->type();
    if (type == "error") {
        // Errors go to the highest-priority resource if any; never bounced (§8.3.1).
    } else if (type == "groupchat") {
        bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
        return;
    }
    // RFC 6121 §8.5.2.1: only available resources with non-negative priority receive messages sent to
    // the bare JID; `normal` and `error` go to the highest priority, `chat` and `headline` to all of them.
    std::vector<SessionPtr> candidates;
    int best = -1;
    for (SessionPtr& session : core_.sessions().resourcesOf(bare)) {
        if (!session->isAvailable() || session->priority() < 0)
            continue;
        best = std::max(best, session->priority());
        candidates.push_back(std::move(session));
    }
    if (candidates.empty()) {
        // Nobody online (or no such account; the answer is the same, §10.5.3.1 and §13.11). Offline
        // storage (XEP-0160) will claim these messages once it exists.
        if (type != "error" && type != "headline") {
            bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
        }
        return;
    }
    const bool toAll = type == "chat" || type == "headline";
    for (const SessionPtr& session : candidates) {
        if (toAll || session->priority() == best) {
            session->deliver(stanza);
            if (!toAll)
                return;
        }
    }
}

void Router::routeToFull(const StanzaPtr& stanza, const Jid& to) {
    if (SessionPtr session = core_.sessions().find(to)) {
        session->deliver(stanza);
        return;
    }
    // RFC 6121 §8.5.3.2: no such resource.
    switch (stanza->kind()) {
        case xmpp::StanzaKind::Iq:
            if (stanza->iqType() == xmpp::IqType::Get || stanza->iqType() == xmpp::IqType::Set) {
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            }
            return;
        case xmpp::StanzaKind::Message: {
            const std::string_view type = stanza->type();
            if (type == "normal" || type == "chat" || type.empty()) {
                deliverMessageToBare(stanza, to.bare());  // §8.5.3.2.1: treat as sent to the bare JID
            } else if (type == "groupchat") {
                bounce(*stanza, StanzaError(StanzaErrorCondition::ServiceUnavailable));
            }
            return;  // headline and error: silently dropped
        }
        case xmpp::StanzaKind::Presence:
            return;  // §8.5.3.2.3: dropped
    }
}

}  // namespace parley::server
