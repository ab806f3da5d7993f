#pragma once
// Payload codecs of the client library: building requests and decoding replies, with no I/O, so that
// tests/unit/client can check them directly.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/client/disco.h"
#include "parley/client/error.h"
#include "parley/client/history.h"
#include "parley/client/message.h"
#include "parley/client/roster.h"
#include "parley/client/vcard.h"
#include "parley/xml/element.h"

namespace parley::client::codec {

inline constexpr std::string_view kRoster = "jabber:iq:roster";
inline constexpr std::string_view kRegister = "jabber:iq:register";
inline constexpr std::string_view kMam = "urn:xmpp:mam:2";
inline constexpr std::string_view kRsm = "http://jabber.org/protocol/rsm";
inline constexpr std::string_view kDataForms = "jabber:x:data";
inline constexpr std::string_view kForward = "urn:xmpp:forward:0";
inline constexpr std::string_view kDelay = "urn:xmpp:delay";
inline constexpr std::string_view kReceipts = "urn:xmpp:receipts";
inline constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";
inline constexpr std::string_view kVCard = "vcard-temp";
inline constexpr std::string_view kPing = "urn:xmpp:ping";
inline constexpr std::string_view kSm = "urn:xmpp:sm:3";

/// XEP-0082 DateTime: "2026-11-21T10:00:00Z", fractions and numeric offsets accepted.
std::optional<std::chrono::system_clock::time_point> parseTimestamp(std::string_view text);
std::string formatTimestamp(std::chrono::system_clock::time_point time);

/// The condition and <text/> among the children of `element` in namespace `conditionNs` (the shape
/// of stanza errors, stream errors and SASL failures); `fallback` when it names no condition.
Error errorFromConditions(const xml::Element& element, std::string_view conditionNs, ErrorKind kind,
                          std::string fallback);
/// The Error of an iq/message/presence of type 'error' (RFC 6120 §8.3).
Error stanzaError(const xml::Element& stanza);

RosterItem decodeRosterItem(const xml::Element& item);
xml::Element encodeRosterItem(const RosterItem& item);
/// The items of a roster <query/>.
std::vector<RosterItem> decodeRoster(const xml::Element& query);

Message decodeMessage(const xml::Element& message);
Presence decodePresence(const xml::Element& presence);
xml::Element encodePresence(Availability availability, const std::string& status, int priority);

/// The <query/> of a XEP-0313 request.
xml::Element encodeHistoryQuery(const HistoryQuery& query, const std::string& queryId);
/// A <result/> message of a query with `queryId`; nullopt if it is not one (or of another query).
std::optional<ArchivedMessage> decodeArchivedMessage(const xml::Element& message, std::string_view queryId);
/// Fills first/last/complete/count from the <fin/> of the iq result.
void decodeHistoryFin(const xml::Element& fin, HistoryPage& page);

DiscoInfo decodeDiscoInfo(const xml::Element& query);
std::vector<DiscoItem> decodeDiscoItems(const xml::Element& query);

VCard decodeVCard(const xml::Element& vcard);
/// `card.raw` with the known fields replaced by the values of `card`.
xml::Element encodeVCard(const VCard& card);

/// SHA-256 hex of DER bytes, upper case with colons ("AB:CD:..."), as the fingerprint option takes.
std::string fingerprintHex(std::string_view der);
/// Normalizes a fingerprint as a user may write it (case, colons, spaces, "SHA256:" prefix).
std::string normalizeFingerprint(std::string_view text);
/// Whether the DER certificate names the XMPP domain in an XMPP-specific subjectAltName: an XmppAddr
/// (id-on-xmppAddr, RFC 6120 §13.7.1.4) equal to the domain, or an SRV-ID (id-on-dnsSRV, RFC 6125
/// §6.4.1, RFC 4985) "_xmpp-client.<domain>" or "_xmpps-client.<domain>" (XEP-0368). `asciiDomain` is
/// the domain in A-labels; `domain` as the user wrote it (an XmppAddr holds the UTF-8 form). Compared
/// without regard to ASCII case. DNS-IDs are checked elsewhere (X509_check_host).
bool certificateHasXmppName(std::string_view der, std::string_view domain, std::string_view asciiDomain);

/// The SASL mechanism to use among those offered, strongest first: SCRAM-SHA-256-PLUS,
/// SCRAM-SHA-1-PLUS (only with channel binding), SCRAM-SHA-256, SCRAM-SHA-1, then PLAIN (only over
/// TLS and when allowed). "" if none fits.
std::string chooseMechanism(const std::vector<std::string>& offered, bool channelBinding, bool tls,
                            bool allowPlain);

}  // namespace parley::client::codec
