#include "codecs.h"

#include <gtest/gtest.h>

#include "parley/xml/stream_parser.h"

namespace parley::client::codec {
namespace {

xml::Element parse(std::string_view text) {
    auto parsed = xml::parseElement(text, {}, "jabber:client");
    EXPECT_TRUE(parsed.element.has_value()) << text;
    return parsed.element ? *parsed.element : xml::Element();
}

TEST(TimestampTest, ParsesXep0082FormsAndFormatsUtc) {
    auto plain = parseTimestamp("2026-11-21T10:00:00Z");
    ASSERT_TRUE(plain);
    EXPECT_EQ(formatTimestamp(*plain), "2026-11-21T10:00:00Z");
    auto fraction = parseTimestamp("2026-11-21T10:00:00.250Z");
    ASSERT_TRUE(fraction);
    EXPECT_EQ(*fraction - *plain, std::chrono::milliseconds(250));
    auto offset = parseTimestamp("2026-11-21T12:30:00+02:30");
    ASSERT_TRUE(offset);
    EXPECT_EQ(formatTimestamp(*offset), "2026-11-21T10:00:00Z");
    EXPECT_FALSE(parseTimestamp("2026-11-21 10:00:00Z"));
    EXPECT_FALSE(parseTimestamp("2026-02-30T10:00:00Z"));
    EXPECT_FALSE(parseTimestamp("2026-11-21T10:00:00"));
}

TEST(RosterCodecTest, DecodesItemsAndEncodesOnlyWhatAClientMaySet) {
    auto query = parse(
        "<query xmlns='jabber:iq:roster'>"
        "<item jid='bob@example.org' name='Bob' subscription='both'><group>Friends</group></item>"
        "<item jid='carol@example.org' subscription='none' ask='subscribe'/></query>");
    auto items = decodeRoster(query);
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0],
              (RosterItem{"bob@example.org", "Bob", Subscription::Both, false, false, {"Friends"}}));
    EXPECT_TRUE(items[1].pendingOut);
    EXPECT_EQ(items[1].subscription, Subscription::None);

    // RFC 6121 §2.1.5: 'both' is the server's to say; a client's item carries no subscription...
    auto encoded = encodeRosterItem(items[0]);
    EXPECT_EQ(
        encoded.toString(),
        "<item xmlns='jabber:iq:roster' jid='bob@example.org' name='Bob'><group>Friends</group></item>");
    // ...except 'remove'.
    EXPECT_EQ(encodeRosterItem({.jid = "bob@example.org", .subscription = Subscription::Remove}).toString(),
              "<item xmlns='jabber:iq:roster' jid='bob@example.org' subscription='remove'/>");
}

TEST(MessageCodecTest, DecodesBodyDelayAndReceiptRequest) {
    auto message = decodeMessage(
        parse("<message xmlns='jabber:client' from='bob@example.org/phone' to='alice@example.org' "
              "type='chat' id='m1'>"
              "<body>hi &amp; bye</body><delay xmlns='urn:xmpp:delay' stamp='2026-11-21T10:00:00Z'/>"
              "<request xmlns='urn:xmpp:receipts'/></message>"));
    EXPECT_EQ(message.from, "bob@example.org/phone");
    EXPECT_EQ(message.body, "hi & bye");
    EXPECT_EQ(message.type, MessageType::Chat);
    EXPECT_TRUE(message.receiptRequested);
    ASSERT_TRUE(message.delayedAt);
    EXPECT_EQ(formatTimestamp(*message.delayedAt), "2026-11-21T10:00:00Z");
}

TEST(PresenceCodecTest, RoundTripsShowStatusAndPriority) {
    auto element = encodePresence(Availability::Away, "lunch", 5);
    EXPECT_EQ(element.toString("jabber:client"),
              "<presence><show>away</show><status>lunch</status><priority>5</priority></presence>");
    element.setAttr("from", "bob@example.org/phone");
    auto decoded = decodePresence(element);
    EXPECT_EQ(decoded.availability, Availability::Away);
    EXPECT_EQ(decoded.status, "lunch");
    EXPECT_EQ(decoded.priority, 5);
    EXPECT_EQ(decodePresence(parse("<presence xmlns='jabber:client' type='unavailable'/>")).availability,
              Availability::Unavailable);
}

TEST(HistoryCodecTest, QueryCarriesTheFormAndPaging) {
    HistoryQuery latest{.with = "bob@example.org", .pageSize = 20, .latest = true};
    EXPECT_EQ(encodeHistoryQuery(latest, "q1").toString(),
              "<query xmlns='urn:xmpp:mam:2' queryid='q1'><x xmlns='jabber:x:data' type='submit'>"
              "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>"
              "<field var='with'><value>bob@example.org</value></field></x>"
              "<set xmlns='http://jabber.org/protocol/rsm'><max>20</max><before/></set></query>");
    HistoryQuery forward{.pageSize = 5, .after = "A7"};
    EXPECT_NE(encodeHistoryQuery(forward, "q2").toString().find("<after>A7</after>"), std::string::npos);
}

TEST(HistoryCodecTest, DecodesResultsOfItsOwnQueryOnlyAndTheFin) {
    auto result = parse(
        "<message xmlns='jabber:client' to='alice@example.org/x'>"
        "<result xmlns='urn:xmpp:mam:2' queryid='q1' id='A1'>"
        "<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' "
        "stamp='2026-11-21T09:00:00Z'/><message xmlns='jabber:client' from='bob@example.org/p' "
        "to='alice@example.org' type='chat'><body>old</body></message></forwarded></result></message>");
    auto archived = decodeArchivedMessage(result, "q1");
    ASSERT_TRUE(archived);
    EXPECT_EQ(archived->archiveId, "A1");
    EXPECT_EQ(archived->message.body, "old");
    EXPECT_EQ(formatTimestamp(archived->timestamp), "2026-11-21T09:00:00Z");
    EXPECT_FALSE(decodeArchivedMessage(result, "other-query"));

    HistoryPage page;
    decodeHistoryFin(
        parse("<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'>"
              "<first index='0'>A1</first><last>A9</last><count>9</count></set></fin>"),
        page);
    EXPECT_TRUE(page.complete);
    EXPECT_EQ(page.first, "A1");
    EXPECT_EQ(page.last, "A9");
    EXPECT_EQ(page.count, 9u);
}

TEST(ErrorCodecTest, TakesConditionAndTextOfAStanzaError) {
    auto error = stanzaError(
        parse("<iq xmlns='jabber:client' type='error' id='1'><error type='cancel'>"
              "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
              "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>name taken</text></error></iq>"));
    EXPECT_EQ(error.kind, ErrorKind::Stanza);
    EXPECT_EQ(error.condition, "conflict");
    EXPECT_EQ(error.text, "name taken");
    EXPECT_EQ(error.describe(), "stanza conflict: name taken");
}

TEST(DiscoCodecTest, DecodesIdentitiesFeaturesAndItems) {
    auto info =
        decodeDiscoInfo(parse("<query xmlns='http://jabber.org/protocol/disco#info'>"
                              "<identity category='server' type='im' name='Parley'/>"
                              "<feature var='urn:xmpp:ping'/></query>"));
    ASSERT_EQ(info.identities.size(), 1u);
    EXPECT_EQ(info.identities[0].category, "server");
    EXPECT_TRUE(info.hasFeature("urn:xmpp:ping"));
    EXPECT_FALSE(info.hasFeature("urn:xmpp:mam:2"));
    auto items =
        decodeDiscoItems(parse("<query xmlns='http://jabber.org/protocol/disco#items'>"
                               "<item jid='upload.example.org' name='Upload'/></query>"));
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].jid, "upload.example.org");
}

TEST(VCardCodecTest, EditingKeepsFieldsTheLibraryDoesNotKnow) {
    auto card =
        decodeVCard(parse("<vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE></PHOTO>"
                          "<EMAIL><INTERNET/><USERID>a@example.org</USERID></EMAIL></vCard>"));
    EXPECT_EQ(card.fullName, "Alice");
    EXPECT_EQ(card.email, "a@example.org");
    card.fullName = "Alice Liddell";
    card.nickname = "al";
    auto encoded = encodeVCard(card);
    EXPECT_EQ(encoded.childText("FN", "vcard-temp"), "Alice Liddell");
    EXPECT_EQ(encoded.childText("NICKNAME", "vcard-temp"), "al");
    EXPECT_NE(encoded.findChild("PHOTO", "vcard-temp"), nullptr);
    EXPECT_EQ(encoded.children("EMAIL", "vcard-temp").size(), 1u);
}

TEST(FingerprintTest, NormalizesWhatUsersPaste) {
    EXPECT_EQ(normalizeFingerprint("sha256:ab:cd:01"), "AB:CD:01");
    EXPECT_EQ(normalizeFingerprint("abcd 01"), "AB:CD:01");
    // SHA-256 of "abc" (FIPS 180-2 example).
    EXPECT_EQ(fingerprintHex("abc").substr(0, 11), "BA:78:16:BF");
}

TEST(MechanismTest, PrefersChannelBindingThenScramAndPlainOnlyOverTls) {
    const std::vector<std::string> all{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS",
                                       "SCRAM-SHA-256-PLUS"};
    EXPECT_EQ(chooseMechanism(all, true, true, true), "SCRAM-SHA-256-PLUS");
    EXPECT_EQ(chooseMechanism(all, false, true, true), "SCRAM-SHA-256");
    EXPECT_EQ(chooseMechanism({"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"}, true, true, true), "SCRAM-SHA-1-PLUS");
    EXPECT_EQ(chooseMechanism({"PLAIN"}, false, true, true), "PLAIN");
    // RFC 4616 §4: never PLAIN without TLS, and not when the caller said no.
    EXPECT_EQ(chooseMechanism({"PLAIN"}, false, false, true), "");
    EXPECT_EQ(chooseMechanism({"PLAIN"}, false, true, false), "");
}

}  // namespace
}  // namespace parley::client::codec
