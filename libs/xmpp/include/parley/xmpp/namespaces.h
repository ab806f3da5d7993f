#pragma once
// XML namespaces of RFC 6120 and of the XEPs whose codecs live in libs/xmpp.
#include <string_view>

namespace parley::ns {

inline constexpr std::string_view kStreams = "http://etherx.jabber.org/streams";  // RFC 6120 §4.8.1
inline constexpr std::string_view kClient = "jabber:client";                      // RFC 6120 §4.8.3
inline constexpr std::string_view kServer = "jabber:server";
inline constexpr std::string_view kStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";  // §4.9.3
inline constexpr std::string_view kStanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas";  // §8.3.3
inline constexpr std::string_view kTls = "urn:ietf:params:xml:ns:xmpp-tls";               // §5.4
inline constexpr std::string_view kSasl = "urn:ietf:params:xml:ns:xmpp-sasl";             // §6.4
inline constexpr std::string_view kBind = "urn:ietf:params:xml:ns:xmpp-bind";             // §7
inline constexpr std::string_view kSession =
    "urn:ietf:params:xml:ns:xmpp-session";                          // RFC 3921 §3, now optional
inline constexpr std::string_view kXmppErrors = "urn:xmpp:errors";  // XEP-0205/0478 application errors
inline constexpr std::string_view kStreamLimits = "urn:xmpp:stream-limits:0";  // XEP-0478
inline constexpr std::string_view kSaslChannelBinding = "urn:xmpp:sasl-cb:0";  // XEP-0440

}  // namespace parley::ns
