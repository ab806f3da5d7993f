#pragma once
// Which messages are worth keeping for their recipient: what offline storage (XEP-0160) stores and
// what the message archive (XEP-0313) archives.
#include <string_view>

#include "parley/xml/element.h"
#include "parley/xmpp/namespaces.h"

namespace parley::server::modules {

inline constexpr std::string_view kHintsNamespace = "urn:xmpp:hints";  // XEP-0334

// Whether a message carries something its recipient would miss: a body, an end-to-end encrypted
// payload without a body (OMEMO), a groupchat invitation (XEP-0249, XEP-0045 §7.8.2), or a <store/>
// hint (XEP-0334 §4.4). Chat states alone (XEP-0085) and receipts are not worth keeping (XEP-0160 §3,
// XEP-0313 §5.1.1: a user archive holds the messages with a body).
inline bool isWorthKeeping(const xml::Element& message) {
    constexpr std::string_view kOmemo = "eu.siacs.conversations.axolotl";
    constexpr std::string_view kConferenceInvite = "jabber:x:conference";
    constexpr std::string_view kMucUser = "http://jabber.org/protocol/muc#user";
    if (message.findChild("store", kHintsNamespace))
        return true;
    if (message.findChild("body", ns::kClient) || message.findChild("encrypted", kOmemo) ||
        message.findChild("x", kConferenceInvite)) {
        return true;
    }
    const xml::Element* mucUser = message.findChild("x", kMucUser);
    return mucUser && mucUser->findChild("invite", kMucUser);
}

}  // namespace parley::server::modules
