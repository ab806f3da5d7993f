#pragma once
// Router: delivers a stanza by its `to` address only (RFC 6120 §10). It classifies the destination
// once (a served domain, a local bare JID, a local full JID, or a remote domain), offers the stanza to
// the modules' hooks (Outbound when it leaves a local account, Inbound when it reaches one,
// Undeliverable when no resource takes a message), gives iq get/set to the module handler registered
// for (type, scope, namespace, element), applies the delivery rules for local accounts, and answers
// what nobody handles with <service-unavailable/>. It never decodes a payload and never names a XEP.
// The rules are written out in docs/routing.md.
#include <boost/asio/awaitable.hpp>

#include "parley/server/module.h"
#include "parley/xmpp/stanza.h"

namespace parley::server {

class ServerCore;

class Router {
  public:
    explicit Router(ServerCore& core) : core_(core) {}

    // Routes a stanza whose `from` is already stamped (RFC 6120 §8.1.2.1) and completes once it was
    // delivered, stored, handled or bounced. One coroutine's stanzas keep their order (§10.1).
    asio::awaitable<void> routeAsync(xmpp::StanzaPtr stanza);
    // The same for a stanza routed once already, without the Outbound and Inbound hooks
    // (ModuleContext::redeliver).
    asio::awaitable<void> redeliverAsync(xmpp::StanzaPtr stanza);
    // The same for a stanza a bound client sent; the client's session awaits it before it reads on.
    asio::awaitable<void> routeFromClient(Session& session, xmpp::StanzaPtr stanza, bool wasAvailable);
    // Fire and forget: routes later on the calling thread's loop (loop 0 off the loops). Any thread.
    void route(xmpp::StanzaPtr stanza);
    // Sends the error reply for `request` back to its sender (unless it is itself an error).
    void bounce(const xmpp::Stanza& request, const xmpp::StanzaError& error);

  private:
    asio::awaitable<void> routeStanza(RoutedStanza& routed);
    asio::awaitable<HookVerdict> runHooks(StanzaHookPoint point, RoutedStanza& routed);
    bool hasHooks(StanzaHookPoint point, xmpp::StanzaKind kind) const;
    // The Jid references point into a stanza (or a local) that the caller keeps alive while it awaits;
    // they are never temporaries (docs/STYLE.md rule 16), and routing copies no address per stanza.
    asio::awaitable<void> routeToServer(xmpp::StanzaPtr stanza);
    asio::awaitable<void> routeToBare(RoutedStanza& routed, const Jid& bare, bool isSelf);
    asio::awaitable<void> routeToFull(RoutedStanza& routed);
    // False when no handler is registered (the caller bounces).
    asio::awaitable<bool> dispatchIq(xmpp::StanzaPtr stanza, unsigned scope, std::string host);
    asio::awaitable<void> deliverMessageToBare(RoutedStanza& routed, const Jid& bare);

    ServerCore& core_;
};

}  // namespace parley::server
