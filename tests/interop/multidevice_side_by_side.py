#!/usr/bin/python3
"""Interop (issue 4): a battery of multi-device and mobile cases against Parley, Prosody and ejabberd.

The same raw clients (raw_xmpp.py: direct TLS, every element seen) run the same cases against each
server: alice on a desk and a phone, bob, carol (a stranger). Each case checks what its XEP requires:

  - what a compliance tester checks (Conversations' ComplianceTester: the server's and the account's
    disco#info and the stream features): XEP-0115 caps in the stream features, XEP-0163 PEP identity,
    XEP-0384's need for pubsub#publish-options, XEP-0198 and XEP-0352 stream features, XEP-0280,
    XEP-0191 and XEP-0313 features, XEP-0402/0411 bookmarks compat; XEP-0357 push and XEP-0398 avatar
    conversion are reported only (issue 4 does not ask for them);
  - XEP-0198: enable with resumption, <r/>/<a h/> counting, resumption after a cut with nothing lost or
    duplicated, and another account resuming alice's session refused;
  - XEP-0280: enable, received and sent copies to the other resource, <private/> not copied, disable;
  - XEP-0313: the archive, a query by `with`, XEP-0059 paging (max, after, before), flip-page, count,
    preferences; XEP-0359 stanza-id on a live message;
  - XEP-0352: presence held back from an inactive client and delivered when it is active again;
  - XEP-0163/0060: publish with publish-options access_model=open and read the node configuration back
    (as the compliance tester does for OMEMO), a stranger reads the open node, +notify delivery to a
    contact, avatar metadata (XEP-0084), the last item to a contact's new resource, a retraction,
    bookmarks2 (XEP-0402) and its XEP-0411 #compat view.

A case that Parley fails fails the test, except the PARLEY_GAPS below (known, reported, shown as "gap"
in the table; one that passes again is reported so that it is removed). The peers' results are reported,
never failed on (side_by_side.py).

usage: multidevice_side_by_side.py PATH_TO_PARLEYD
"""
import sys
import xml.etree.ElementTree as ET

import side_by_side
from raw_xmpp import CAPS_NS, DISCO_INFO, DOMAIN, SM_NS, RawClient, StreamClosed, tag, text

WATCHDOG = 280  # three servers; ejabberd alone may take 60 s to start on a loaded machine

ALICE, BOB, CAROL = (f"{name}@{DOMAIN}" for name in ("alice", "bob", "carol"))
PASSWORDS = {"alice": "alice-multi", "bob": "bob-multi", "carol": "carol-multi"}

PUBSUB = "http://jabber.org/protocol/pubsub"
PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner"
PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"
DATA = "jabber:x:data"
MAM = "urn:xmpp:mam:2"
RSM = "http://jabber.org/protocol/rsm"
CARBONS = "urn:xmpp:carbons:2"
OMEMO_NODE = "eu.siacs.conversations.axolotl.devicelist"
AVATAR_DATA, AVATAR_META = "urn:xmpp:avatar:data", "urn:xmpp:avatar:metadata"
BOOKMARKS = "urn:xmpp:bookmarks:1"
NICK = "http://jabber.org/protocol/nick"

# Cases the issue does not ask for: reported in the table, never failed on, for any server.
INFORMATIONAL = {
    "compliance: XEP-0357 push (account feature urn:xmpp:push:0)",
    "compliance: XEP-0398 avatar conversion (account feature urn:xmpp:pep-vcard-conversion:0)",
}

# Parley cases known to fail today, reported to the lead (PEP gaps are worked on in branch `pep`):
# case -> what is missing. They show as "gap" and do not fail the test; one that passes is reported.
PARLEY_GAPS = {}

# Where a peer differs for a reason we know: (peer, case) -> why.
KNOWN = {
    ("ejabberd", "compliance: XEP-0411 account feature urn:xmpp:bookmarks:1#compat"):
        "ejabberd 23.01 implements XEP-0411 0.2 (feature urn:xmpp:bookmarks-conversion:0), older than the "
        "#compat that XEP-0402 1.1 defines",
    ("ejabberd", "XEP-0402 §3: bookmarks2 published with its publish-options, read back"):
        "ejabberd 23.01 refuses pubsub#max_items='max' (the value XEP-0060 1.20 added, which XEP-0402 asks "
        "for) with resource-constraint 'Unknown field'",
    ("ejabberd", "XEP-0411 §3: the bookmark is seen through XEP-0049 private storage"):
        "follows from the refused bookmarks2 publish (case above): there is no bookmark to see",
}


def form(fields, form_type):
    """A XEP-0004 submit form with FORM_TYPE."""
    body = f"<field var='FORM_TYPE' type='hidden'><value>{form_type}</value></field>" + "".join(
        f"<field var='{var}'><value>{value}</value></field>" for var, value in fields.items())
    return f"<x xmlns='{DATA}' type='submit'>{body}</x>"


def field_value(element, var):
    for field in element.iter(f"{{{DATA}}}field"):
        if field.get("var") == var:
            value = field.find(f"{{{DATA}}}value")
            return value.text if value is not None else None
    return None


def is_ok(answer):
    return answer is not None and answer.get("type") == "result"


def describe(answer):
    return text(answer) if answer is not None else "(no answer)"


def body_of(element):
    return element.findtext("{jabber:client}body")


def is_message_with(body):
    return lambda e: tag(e) == "message" and body_of(e) == body


def carbon(kind, body):
    """A XEP-0280 carbon of this kind ('received' or 'sent') wrapping a message with this body."""

    def match(e):
        wrapper = e.find(f"{{{CARBONS}}}{kind}") if tag(e) == "message" else None
        inner = wrapper.find(".//{jabber:client}message") if wrapper is not None else None
        return inner is not None and body_of(inner) == body and e.get("from") == ALICE

    return match


class Battery:
    def __init__(self, port):
        self.port = port
        self.outcomes = []
        self.clients = []

    def client(self, label, features=()):
        client = RawClient(self.port, label, features)
        self.clients.append(client)
        return client

    def case(self, name, body):
        try:
            ok, detail = body()
        except (OSError, StreamClosed, AttributeError, TypeError, ValueError, ET.ParseError) as e:
            ok, detail = False, f"exception: {e!r}"
        self.outcomes.append((name, bool(ok), detail))
        print(("ok    " if ok else "FAIL  ") + name + ("" if ok else f"\n        {detail}"), flush=True)

    def run(self):
        for user, password in PASSWORDS.items():
            if not RawClient(self.port, user).register(user, password):
                self.outcomes.append(("setup: in-band registration (XEP-0077)", False, f"{user} not registered"))
                return self.outcomes
        interests = [f"{NICK}+notify", f"{AVATAR_META}+notify", f"{OMEMO_NODE}+notify", CAPS_NS]
        self.desk = self.client("alice/desk")
        self.phone = self.client("alice/phone")
        self.bob = self.client("bob/pc", interests)
        self.carol = self.client("carol/tab")
        for client, user in ((self.desk, "alice"), (self.phone, "alice"), (self.bob, "bob"), (self.carol, "carol")):
            if not client.login(user, PASSWORDS[user], client.label.split("/")[1]):
                self.outcomes.append(("setup: login (SASL PLAIN, bind)", False, client.transcript()))
                return self.outcomes
        for name, body in self.cases():
            self.case(name, body)
        return self.outcomes

    def close(self):
        for client in self.clients:
            client.close()

    def cases(self):
        return [
            ("compliance: XEP-0030 server identity server/im", self.server_identity),
            ("compliance: XEP-0115 caps <c/> in the stream features", self.caps_feature),
            ("compliance: XEP-0198 stream feature urn:xmpp:sm:3", self.sm_feature),
            ("compliance: XEP-0352 stream feature urn:xmpp:csi:0", self.csi_feature),
            ("compliance: XEP-0280 server feature urn:xmpp:carbons:2", self.carbons_feature),
            ("compliance: XEP-0191 server feature urn:xmpp:blocking", self.blocking_feature),
            ("compliance: XEP-0163 account identity pubsub/pep", self.pep_identity),
            ("compliance: XEP-0384 needs account feature pubsub#publish-options", self.publish_options_feature),
            ("compliance: XEP-0313 account feature urn:xmpp:mam:2", self.mam_feature),
            ("compliance: XEP-0411 account feature urn:xmpp:bookmarks:1#compat", self.bookmarks_compat_feature),
            ("compliance: XEP-0357 push (account feature urn:xmpp:push:0)", self.push_feature),
            ("compliance: XEP-0398 avatar conversion (account feature urn:xmpp:pep-vcard-conversion:0)",
             self.avatar_conversion_feature),
            ("setup: mutual subscription alice <-> bob (RFC 6121 §3)", self.subscribe),
            ("XEP-0280 §4: enable carbons on both of alice's resources", self.carbons_enable),
            ("XEP-0280 §5: a received copy to the other resource", self.carbons_received),
            ("XEP-0280 §6: a sent copy to the other resource", self.carbons_sent),
            ("XEP-0280 §7: <private/> is not copied", self.carbons_private),
            ("XEP-0280 §4: after <disable/> the resource gets no copies", self.carbons_disable),
            ("XEP-0359 §3: a live message carries the archive's stanza-id", self.live_stanza_id),
            ("XEP-0313 §4: the archive holds the conversation, in order", self.mam_archive),
            ("XEP-0313 §4.1.1: a query by 'with' returns that contact's messages only", self.mam_with),
            ("XEP-0313 §4.2 + XEP-0059 §2.1: max=2 gives the first page, first/last, count", self.mam_page),
            ("XEP-0059 §2.2: <after/> pages forward to the rest", self.mam_after),
            ("XEP-0059 §2.5: <before/> (empty) gives the last page", self.mam_before),
            ("XEP-0313 §4.3: <flip-page/> returns the page in reverse order", self.mam_flip),
            ("XEP-0059 §2.6: max=0 gives the count only", self.mam_count),
            ("XEP-0313 §6: preferences read and set (default roster), then back to always", self.mam_prefs),
            ("XEP-0352 §4: presence is held back from an inactive client", self.csi_inactive),
            ("XEP-0352 §4: and delivered when it is active again", self.csi_active),
            ("XEP-0198 §3: <enable resume='true'/> -> <enabled id resume/>", self.sm_enable),
            ("XEP-0198 §4: <r/> -> <a h/> counts the stanzas received", self.sm_ack),
            ("XEP-0198 §5: another account cannot resume alice's session", self.sm_resume_other),
            ("XEP-0198 §5: resumption after a cut: nothing lost, nothing twice", self.sm_resume),
            ("XEP-0163/XEP-0223: publish with publish-options access_model=open", self.pep_publish_open),
            ("XEP-0060 §8.2: the node configuration reads back access_model=open", self.pep_config_open),
            ("XEP-0060 §6.5: a stranger reads the open node's items", self.pep_stranger_reads),
            ("XEP-0163 §4.3: +notify delivers a contact's nick to a contact", self.pep_notify),
            ("XEP-0084: avatar data and metadata; metadata notified to +notify", self.pep_avatar),
            ("XEP-0163 §4.3.2: a contact's new resource gets the last item on presence", self.pep_last_on_presence),
            ("XEP-0060 §7.2.2.1: a retraction with notify='true' reaches the contact", self.pep_retract),
            ("XEP-0402 §3: bookmarks2 published with its publish-options, read back", self.bookmarks2),
            ("XEP-0411 §3: the bookmark is seen through XEP-0049 private storage", self.bookmarks_compat),
        ]

    # --- compliance: features and identities ---

    def disco(self, client, target):
        answer = client.iq("get", f"<query xmlns='{DISCO_INFO}'/>", to=target)
        query = answer.find(f"{{{DISCO_INFO}}}query") if is_ok(answer) else None
        if query is None:
            return set(), set(), describe(answer)
        features = {f.get("var") for f in query.findall(f"{{{DISCO_INFO}}}feature")}
        identities = {(i.get("category"), i.get("type")) for i in query.findall(f"{{{DISCO_INFO}}}identity")}
        return features, identities, describe(answer)

    def has_feature(self, target, feature):
        features, _, answer = self.disco(self.desk, target)
        return feature in features, answer

    def server_identity(self):
        _, identities, answer = self.disco(self.desk, DOMAIN)
        return ("server", "im") in identities, answer

    def stream_feature(self, namespace, name):
        return self.desk.feature(namespace, name) is not None, text(self.desk.stream_features)

    def caps_feature(self):
        return self.stream_feature(CAPS_NS, "c")

    def sm_feature(self):
        return self.stream_feature(SM_NS, "sm")

    def csi_feature(self):
        return self.stream_feature("urn:xmpp:csi:0", "csi")

    def carbons_feature(self):
        return self.has_feature(DOMAIN, CARBONS)

    def blocking_feature(self):
        return self.has_feature(DOMAIN, "urn:xmpp:blocking")

    def pep_identity(self):
        _, identities, answer = self.disco(self.desk, ALICE)
        return ("pubsub", "pep") in identities, answer

    def publish_options_feature(self):
        return self.has_feature(ALICE, f"{PUBSUB}#publish-options")

    def mam_feature(self):
        return self.has_feature(ALICE, MAM)

    def bookmarks_compat_feature(self):
        return self.has_feature(ALICE, f"{BOOKMARKS}#compat")

    def push_feature(self):
        return self.has_feature(ALICE, "urn:xmpp:push:0")

    def avatar_conversion_feature(self):
        return self.has_feature(ALICE, "urn:xmpp:pep-vcard-conversion:0")

    # --- setup: a mutual subscription (PEP notifications and CSI need one) ---

    def subscribe(self):
        for a, b, b_jid, a_jid in ((self.desk, self.bob, BOB, ALICE), (self.bob, self.desk, ALICE, BOB)):
            since = b.mark()
            a.presence(to=b_jid, type_="subscribe")
            asked = b.wait(lambda e: tag(e) == "presence" and e.get("type") == "subscribe", since)
            if asked is None:
                return False, f"no subscribe: {b.transcript(since)}"
            b.presence(to=a_jid, type_="subscribed")
        for client in (self.desk, self.phone, self.bob):
            client.barrier()
        # Fresh presence with caps, now that the contacts see it (the servers query bob's caps).
        self.bob.presence()
        self.desk.presence()
        ok = self.desk.barrier() and self.bob.barrier()
        roster = self.desk.iq("get", "<query xmlns='jabber:iq:roster'/>")
        items = [i for i in roster.iter("{jabber:iq:roster}item") if i.get("jid") == BOB] if is_ok(roster) else []
        both = bool(items) and items[0].get("subscription") == "both"
        return ok and both, describe(roster)

    # --- XEP-0280 ---

    def carbons_enable(self):
        one = self.desk.iq("set", f"<enable xmlns='{CARBONS}'/>")
        two = self.phone.iq("set", f"<enable xmlns='{CARBONS}'/>")
        return is_ok(one) and is_ok(two), f"{describe(one)} {describe(two)}"

    def carbons_received(self):
        since = self.phone.mark()
        self.bob.message(f"{ALICE}/desk", "to the desk")
        got = self.phone.wait(carbon("received", "to the desk"), since)
        return got is not None, self.phone.transcript(since)

    def carbons_sent(self):
        since = self.phone.mark()
        self.desk.message(BOB, "from the desk")
        got = self.phone.wait(carbon("sent", "from the desk"), since)
        return got is not None, self.phone.transcript(since)

    def carbons_private(self):
        since, bob = self.phone.mark(), self.bob.mark()
        self.desk.message(BOB, "private from the desk",
                          extra=f"<private xmlns='{CARBONS}'/><no-copy xmlns='urn:xmpp:hints'/>")
        delivered = self.bob.wait(is_message_with("private from the desk"), bob)
        self.desk.barrier()
        self.phone.barrier()
        copied = self.phone.found(carbon("sent", "private from the desk"), since)
        return delivered is not None and not copied, self.phone.transcript(since)

    def carbons_disable(self):
        answer = self.phone.iq("set", f"<disable xmlns='{CARBONS}'/>")
        since, desk = self.phone.mark(), self.desk.mark()
        self.bob.message(f"{ALICE}/desk", "after the phone disabled carbons")
        delivered = self.desk.wait(is_message_with("after the phone disabled carbons"), desk)
        self.phone.barrier()
        copied = self.phone.found(carbon("received", "after the phone disabled carbons"), since)
        return is_ok(answer) and delivered is not None and not copied, \
            f"{describe(answer)} {self.phone.transcript(since)}"

    # --- XEP-0313 and XEP-0359 ---

    def live_stanza_id(self):
        since = self.desk.mark()
        self.bob.message(f"{ALICE}/desk", "stanza-id please")
        got = self.desk.wait(is_message_with("stanza-id please"), since)
        ids = [s for s in got.findall("{urn:xmpp:sid:0}stanza-id") if s.get("by") == ALICE] if got is not None else []
        return bool(ids) and bool(ids[0].get("id")), self.desk.transcript(since)

    def mam_query(self, client, fields=None, rsm="", flip=False):
        """Runs a MAM query; (forwarded bodies in order, the <fin/>, the answer)."""
        query_id = f"f{len(client.received)}"
        payload = form(fields, MAM) if fields else ""
        flip_page = "<flip-page/>" if flip else ""
        since = client.mark()
        answer = client.iq("set", f"<query xmlns='{MAM}' queryid='{query_id}'>{payload}{rsm}{flip_page}</query>")
        results = [e for e in client.found(lambda e: tag(e) == "message", since)
                   if (r := e.find(f"{{{MAM}}}result")) is not None and r.get("queryid") == query_id]
        bodies = [r.findtext(f".//{{{MAM}}}result//{{jabber:client}}body") or
                  next((b.text for b in r.iter("{jabber:client}body")), None) for r in results]
        fin = answer.find(f"{{{MAM}}}fin") if is_ok(answer) else None
        return bodies, fin, answer

    def conversation(self):
        """Ten numbered messages between alice and carol, one at a time (each sender waits for the server
        to have routed it, so the archive order is known), and two from bob in between."""
        if getattr(self, "talked", False):
            return
        self.talked = True
        for n in range(1, 11):
            sender, to = (self.carol, f"{ALICE}/desk") if n % 2 else (self.desk, CAROL)
            sender.message(to, f"mam {n}")
            sender.barrier()
            if n in (3, 7):
                self.bob.message(f"{ALICE}/desk", f"bob {n}")
                self.bob.barrier()
        self.desk.wait(is_message_with("mam 9"))
        self.desk.barrier()

    def numbered(self, bodies):
        return [b for b in bodies if b and b.startswith(("mam ", "bob "))]

    def mam_archive(self):
        self.conversation()
        bodies, fin, answer = self.mam_query(self.desk)
        expected = [f"mam {n}" for n in range(1, 4)] + ["bob 3"] + [f"mam {n}" for n in range(4, 8)] + ["bob 7"] + \
            [f"mam {n}" for n in range(8, 11)]
        got = self.numbered(bodies)
        return got == expected and fin is not None, f"got {got} fin={describe(answer)}"

    def mam_with(self):
        bodies, fin, answer = self.mam_query(self.desk, {"with": CAROL})
        return fin is not None and bodies == [f"mam {n}" for n in range(1, 11)], f"got {bodies}"

    def rsm(self, fin, name):
        found = fin.find(f"{{{RSM}}}set/{{{RSM}}}{name}") if fin is not None else None
        return found.text if found is not None else None

    def with_page(self, rsm):
        """Paging inside the alice-carol conversation only."""
        return self.mam_query(self.desk, {"with": CAROL}, rsm)

    def mam_page(self):
        bodies, fin, answer = self.with_page(f"<set xmlns='{RSM}'><max>2</max></set>")
        self.page_last = self.rsm(fin, "last")
        count = self.rsm(fin, "count")
        ok = self.numbered(bodies) == ["mam 1", "mam 2"] and self.page_last and self.rsm(fin, "first")
        ok = ok and (count is None or count.isdigit() and int(count) >= 10)  # count is optional (§2.1)
        return ok, f"got {bodies} fin={describe(answer)}"

    def mam_after(self):
        bodies, fin, answer = self.with_page(f"<set xmlns='{RSM}'><max>20</max><after>{self.page_last}</after></set>")
        return self.numbered(bodies) == [f"mam {n}" for n in range(3, 11)], f"got {bodies} fin={describe(answer)}"

    def mam_before(self):
        bodies, fin, answer = self.with_page(f"<set xmlns='{RSM}'><max>3</max><before/></set>")
        return self.numbered(bodies) == ["mam 8", "mam 9", "mam 10"], f"got {bodies} fin={describe(answer)}"

    def mam_flip(self):
        bodies, fin, answer = self.mam_query(self.desk, {"with": CAROL}, f"<set xmlns='{RSM}'><max>3</max></set>",
                                             flip=True)
        return self.numbered(bodies) == ["mam 3", "mam 2", "mam 1"], f"got {bodies} fin={describe(answer)}"

    def mam_count(self):
        bodies, fin, answer = self.with_page(f"<set xmlns='{RSM}'><max>0</max></set>")
        count = self.rsm(fin, "count")
        return not bodies and count is not None and count.isdigit() and int(count) >= 10, \
            f"got {bodies} fin={describe(answer)}"

    def mam_prefs(self):
        read = self.desk.iq("get", f"<prefs xmlns='{MAM}'/>")
        prefs = read.find(f"{{{MAM}}}prefs") if is_ok(read) else None
        roster = self.desk.iq("set", f"<prefs xmlns='{MAM}' default='roster'><always/><never/></prefs>")
        echoed = roster.find(f"{{{MAM}}}prefs") if is_ok(roster) else None
        back = self.desk.iq("set", f"<prefs xmlns='{MAM}' default='always'><always/><never/></prefs>")
        return prefs is not None and prefs.get("default") in ("always", "roster", "never") and \
            echoed is not None and echoed.get("default") == "roster" and is_ok(back), \
            f"get={describe(read)} set={describe(roster)} back={describe(back)}"

    # --- XEP-0352 ---

    def csi_inactive(self):
        self.phone.send("<inactive xmlns='urn:xmpp:csi:0'/>")
        # The server handles the phone's elements in order (RFC 6120 §10.1): once the ping is answered it
        # has taken <inactive/>, before bob's presence exists (the answer, urgent, flushes nothing yet).
        self.phone.barrier()
        self.csi_mark = self.phone.mark()
        # No iq to the phone from here on: an iq is urgent and would end the holding back (§6 leaves the
        # rules to the server; all three flush on one).
        self.bob.presence(status="bob while alice's phone sleeps")
        self.bob.barrier()
        to_desk = self.desk.wait(self.is_sleep_presence)
        # The desk (active) has it; the same fan-out reached the phone's session by now. A second of
        # reading shows whether the phone got it: a bounded wait for what must not come.
        on_phone = self.phone.wait(self.is_sleep_presence, self.csi_mark, timeout=1)
        return to_desk is not None and on_phone is None, self.phone.transcript(self.csi_mark)

    def is_sleep_presence(self, e):
        return tag(e) == "presence" and e.findtext("{jabber:client}status") == "bob while alice's phone sleeps"

    def csi_active(self):
        self.phone.send("<active xmlns='urn:xmpp:csi:0'/>")
        got = self.phone.wait(self.is_sleep_presence, self.csi_mark)
        return got is not None, self.phone.transcript(self.csi_mark)

    # --- XEP-0198 ---

    def sm_enable(self):
        self.mobile = self.client("alice/mobile")
        if not self.mobile.login("alice", PASSWORDS["alice"], "mobile"):
            return False, self.mobile.transcript()
        enabled = self.mobile.enable_sm()
        return enabled is not None and enabled.get("id") and enabled.get("resume") in ("true", "1"), \
            self.mobile.transcript()

    def sm_ack(self):
        for n in (1, 2, 3):
            self.bob.message(f"{ALICE}/mobile", f"sm {n}")
            self.mobile.message(BOB, f"from the mobile {n}")
        self.mobile.wait(is_message_with("sm 3"))
        h = self.mobile.request_ack()
        # §4: h is the number of stanzas the server handled from the client since <enable/>: its three.
        return h == self.mobile.outbound == 3, f"server h={h}; the client sent {self.mobile.outbound}"

    def cut_mobile(self):
        if getattr(self, "was_cut", False):
            return
        self.was_cut = True
        # The server has handled the message when the ping is answered (a cut with a reset may discard
        # what it has not read yet: then neither the server's h nor bob would have it).
        self.mobile.message(BOB, "from the mobile before the cut")
        self.mobile.barrier()
        self.sm_h = self.mobile.inbound
        self.sm_sent = self.mobile.outbound
        self.mobile.cut()
        for n in (4, 5):
            self.bob.message(f"{ALICE}/mobile", f"sm {n}")
        self.bob.barrier()

    def sm_resume_other(self):
        self.cut_mobile()
        thief = self.client("bob/thief")
        answer = thief.resume("bob", PASSWORDS["bob"], self.mobile.sm_id, 0)
        leaked = thief.found(lambda e: tag(e) == "message" and (body_of(e) or "").startswith("sm "))
        thief.close()
        return answer is not None and tag(answer) == "failed" and not leaked, thief.transcript()

    def sm_resume(self):
        self.cut_mobile()
        back = self.client("alice/mobile again")
        back.inbound = self.sm_h
        answer = back.resume("alice", PASSWORDS["alice"], self.mobile.sm_id, self.sm_h)
        if answer is None or tag(answer) != "resumed":
            return False, back.transcript()
        back.barrier()
        bodies = [body_of(e) for e in back.found(lambda e: tag(e) == "message" and body_of(e))]
        bob_got = self.bob.found(is_message_with("from the mobile before the cut"))
        again = [b for b in bodies if b in ("sm 1", "sm 2", "sm 3")]
        new = [b for b in bodies if b in ("sm 4", "sm 5")]
        self.mobile = back
        # §5: <resumed h/> counts what the server handled, the last message before the cut included, so
        # that the client does not send it again.
        counted = answer.get("h") == str(self.sm_sent)
        return not again and new == ["sm 4", "sm 5"] and len(bob_got) == 1 and counted, \
            f"after <resumed/>: {bodies}; bob got the mobile's message {len(bob_got)} time(s); " \
            f"{describe(answer)} (sent {self.sm_sent})"

    # --- XEP-0163 / XEP-0060 ---

    def publish(self, client, node, item_id, payload, options=None):
        opts = f"<publish-options>{form(options, PUBSUB + '#publish-options')}</publish-options>" if options else ""
        return client.iq("set", f"<pubsub xmlns='{PUBSUB}'><publish node='{node}'><item id='{item_id}'>{payload}"
                                f"</item></publish>{opts}</pubsub>")

    def pep_publish_open(self):
        answer = self.publish(self.desk, OMEMO_NODE, "current", "<list xmlns='eu.siacs.conversations.axolotl'>"
                              "<device id='12345'/></list>", {"pubsub#access_model": "open"})
        return is_ok(answer), describe(answer)

    def pep_config_open(self):
        answer = self.desk.iq("get", f"<pubsub xmlns='{PUBSUB_OWNER}'><configure node='{OMEMO_NODE}'/></pubsub>")
        model = field_value(answer, "pubsub#access_model") if is_ok(answer) else None
        return model == "open", describe(answer)

    def pep_stranger_reads(self):
        answer = self.carol.iq("get", f"<pubsub xmlns='{PUBSUB}'><items node='{OMEMO_NODE}'/></pubsub>", to=ALICE)
        devices = list(answer.iter("{eu.siacs.conversations.axolotl}device")) if is_ok(answer) else []
        return bool(devices), describe(answer)

    def pep_notify(self):
        since = self.bob.mark()
        answer = self.publish(self.desk, NICK, "current", f"<nick xmlns='{NICK}'>Alice</nick>")
        got = self.bob.wait(lambda e: tag(e) == "message" and any(
            i.get("node") == NICK for i in e.iter(f"{{{PUBSUB_EVENT}}}items")), since)
        return is_ok(answer) and got is not None, f"{describe(answer)} {self.bob.transcript(since)}"

    def pep_avatar(self):
        since = self.bob.mark()
        data = self.publish(self.desk, AVATAR_DATA, "a1b2", f"<data xmlns='{AVATAR_DATA}'>iVBORw0KGgo=</data>")
        meta = self.publish(self.desk, AVATAR_META, "a1b2", f"<metadata xmlns='{AVATAR_META}'><info id='a1b2' "
                            "bytes='8' type='image/png' height='1' width='1'/></metadata>")
        got = self.bob.wait(lambda e: tag(e) == "message" and any(
            i.get("node") == AVATAR_META for i in e.iter(f"{{{PUBSUB_EVENT}}}items")), since)
        read = self.bob.iq("get", f"<pubsub xmlns='{PUBSUB}'><items node='{AVATAR_DATA}'/></pubsub>", to=ALICE)
        has_data = is_ok(read) and read.find(f".//{{{AVATAR_DATA}}}data") is not None
        return is_ok(data) and is_ok(meta) and got is not None and has_data, \
            f"data={describe(data)} meta={describe(meta)} read={describe(read)} {self.bob.transcript(since)}"

    def pep_last_on_presence(self):
        tablet = self.client("bob/tablet", self.bob.features)
        if not tablet.login("bob", PASSWORDS["bob"], "tablet"):
            return False, tablet.transcript()
        got = tablet.wait(lambda e: tag(e) == "message" and any(
            i.get("node") == NICK for i in e.iter(f"{{{PUBSUB_EVENT}}}items")), since=0)
        tablet.close()
        return got is not None, tablet.transcript()

    def pep_retract(self):
        since = self.bob.mark()
        answer = self.desk.iq("set", f"<pubsub xmlns='{PUBSUB}'><retract node='{NICK}' notify='true'>"
                                     "<item id='current'/></retract></pubsub>")
        got = self.bob.wait(lambda e: tag(e) == "message" and any(
            r.get("id") == "current" for r in e.iter(f"{{{PUBSUB_EVENT}}}retract")), since)
        return is_ok(answer) and got is not None, f"{describe(answer)} {self.bob.transcript(since)}"

    def bookmarks2(self):
        options = {"pubsub#persist_items": "true", "pubsub#max_items": "max",
                   "pubsub#send_last_published_item": "never", "pubsub#access_model": "whitelist"}
        answer = self.publish(self.desk, BOOKMARKS, "room@conference.example",
                              f"<conference xmlns='{BOOKMARKS}' name='The room' autojoin='true'>"
                              "<nick>alice</nick></conference>", options)
        read = self.desk.iq("get", f"<pubsub xmlns='{PUBSUB}'><items node='{BOOKMARKS}'/></pubsub>")
        items = [i for i in read.iter(f"{{{PUBSUB}}}item") if i.get("id") == "room@conference.example"] \
            if is_ok(read) else []
        return is_ok(answer) and bool(items), f"publish={describe(answer)} read={describe(read)}"

    def bookmarks_compat(self):
        answer = self.desk.iq("get", "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>")
        rooms = [c.get("jid") for c in answer.iter("{storage:bookmarks}conference")] if is_ok(answer) else []
        return "room@conference.example" in rooms, describe(answer)


async def run_battery(server):
    battery = Battery(server.direct_port)
    try:
        return battery.run()
    finally:
        battery.close()


def main():
    known = dict(KNOWN)
    for name in INFORMATIONAL:
        for peer in ("Prosody", "ejabberd"):
            known.setdefault((peer, name), "not asked for by issue 4 (reported only)")
    return side_by_side.compare(sys.argv[1], run_battery, known, WATCHDOG, "the multi-device battery",
                                INFORMATIONAL, PARLEY_GAPS)


if __name__ == "__main__":
    sys.exit(main())
