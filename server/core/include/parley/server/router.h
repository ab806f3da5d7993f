#pragma once
// Router: delivers a stanza by its `to` address only (RFC 6120 §10). It classifies the destination
// once (a served domain, a local bare JID, a local full JID, or a remote domain), gives iq get/set to
// the module handler registered for (type, scope, namespace, element), applies the delivery rules for
// local accounts, and answers what nobody handles with <service-unavailable/>. It never decodes a
// payload and never names a XEP. The rules are written out in docs/routing.md.
#include "parley/xmpp/stanza.h"

namespace parley::server {

class ServerCore;

class Router {
  public:
    explicit Router(ServerCore& core) : core_(core) {}

    // Routes a stanza whose `from` is already stamped (RFC 6120 §8.1.2.1). Called on any loop thread.
    void route(xmpp::StanzaPtr stanza);
    // Sends the error reply for `request` back to its sender (unless it is itself an error).
    void bounce(const xmpp::Stanza& request, const xmpp::StanzaError& error);

  private:
    void routeToServer(const xmpp::StanzaPtr& stanza, const Jid& to);
    void routeToBare(const xmpp::StanzaPtr& stanza, const Jid& to, bool isSelf);
    void routeToFull(const xmpp::StanzaPtr& stanza, const Jid& to);
    bool dispatchIq(const xmpp::StanzaPtr& stanza, unsigned scope, std::string_view host);
    void deliverMessageToBare(const xmpp::StanzaPtr& stanza, const Jid& bare);

    ServerCore& core_;
};

}  // namespace parley::server
