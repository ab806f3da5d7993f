#!/usr/bin/python3
"""Interop (RFC 6121 instant messaging and presence): three python3-slixmpp clients against a real parleyd.

  1. alice, bob and carol register in-band (XEP-0077) and log in;
  2. alice and bob subscribe to each other, each approving the other's request explicitly; both rosters
     end with subscription 'both', seen in roster pushes and in a roster get;
  3. they see each other online from full JIDs with status text, and a presence update;
  4. they chat both ways;
  5. bob goes offline (alice sees it); alice's 3 messages to bob's bare JID are stored and reach bob at
     his next login in order with a XEP-0203 <delay/> from the server; the login after that gets none;
  6. carol (no subscription) probes alice and sees none of her presence; carol's message reaches alice;
  7. durability: 3 messages for offline bob, an iq ping round trip (stanzas are handled in order, so the
     messages are stored when the answer arrives), SIGKILL, a new parleyd on the same SQLite data: bob
     gets the 3 messages, and the subscriptions survived.

Every wait is for an event, bounded by STEP seconds; the scenario is bounded by SCENARIO seconds and a
watchdog thread ends the process (and parleyd) if even that does not return. A failed check prints what
was expected and what arrived.

usage: slixmpp_im.py PATH_TO_PARLEYD
"""
import asyncio
import datetime
import faulthandler
import logging
import os
import ssl
import sys
import threading
import time

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from parleyd_process import Parleyd

DOMAIN = "localhost"
STEP = 15  # the longest any one expected event may take
SCENARIO = 150  # the whole scenario
WATCHDOG = SCENARIO + 30  # the process, should asyncio itself be stuck

ROSTER_NS = "jabber:iq:roster"
DELAY_NS = "urn:xmpp:delay"
PING_NS = "urn:xmpp:ping"

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"
ALICE_FULL = f"{ALICE}/laptop"
BOB_FULL = f"{BOB}/phone"
CAROL_FULL = f"{CAROL}/tablet"
PASSWORDS = {ALICE: "correct horse battery", BOB: "staple", CAROL: "tr0ub4dor&3"}

results = []


def check(name, condition, expected="", arrived=""):
    results.append((name, bool(condition)))
    print(("ok    " if condition else "FAIL  ") + name)
    if not condition:
        if expected:
            print(f"        expected: {expected}")
        print(f"        arrived:  {arrived if arrived != '' else '(nothing)'}")
    return bool(condition)


def phase(title):
    print(f"\n== {title}")


def insecure(client):
    # The test server's certificate is self-signed.
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_mode = ssl.CERT_NONE


# --- what a stanza is ---------------------------------------------------------------------------------

def attr(stanza, name):
    return stanza.xml.get(name)


def roster_items(iq):
    """jid -> (attributes, groups) of the <item/>s of a roster query."""
    query = iq.xml.find(f"{{{ROSTER_NS}}}query")
    if query is None:
        return None
    return {item.get("jid"): dict(item.attrib) for item in query.findall(f"{{{ROSTER_NS}}}item")}


def is_presence(sender, ptype=None, status=None, show=None):
    """A presence from exactly `sender` with this type attribute (None: available), status and show."""

    def match(kind, stanza):
        return (kind == "presence" and str(stanza["from"]) == sender and attr(stanza, "type") == ptype
                and (status is None or stanza["status"] == status)
                and (show is None or stanza.xml.findtext("{jabber:client}show") == show))

    return match


def is_presence_of(account):
    """Any available or unavailable presence from the account or one of its resources."""

    def match(kind, stanza):
        return (kind == "presence" and stanza["from"].bare == account
                and attr(stanza, "type") in (None, "unavailable"))

    return match


def is_push(contact, subscription, ask=None):
    """A roster push with exactly one item: `contact` with this subscription and ask (None: no ask)."""

    def match(kind, stanza):
        if kind != "push":
            return False
        items = roster_items(stanza) or {}
        item = items.get(contact)
        return len(items) == 1 and item is not None and item.get("subscription") == subscription \
            and item.get("ask") == ask

    return match


def is_message(sender, body):
    def match(kind, stanza):
        return kind == "message" and str(stanza["from"]) == sender and stanza["body"] == body

    return match


def is_body_prefix(prefix):
    def match(kind, stanza):
        return kind == "message" and stanza["body"].startswith(prefix)

    return match


# --- a client that records everything it receives -----------------------------------------------------

class Client(slixmpp.ClientXMPP):
    """A slixmpp client that records every presence, message, message error and roster push it receives
    (in arrival order), and lets the scenario wait for one that matches. Subscription requests from the
    bare JIDs in `approve` are approved by a handler; others are left unanswered."""

    def __init__(self, full_jid, register=False):
        jid = slixmpp.JID(full_jid)
        super().__init__(full_jid, PASSWORDS[jid.bare])
        insecure(self)
        self.label = jid.user
        self.events = []  # (kind, stanza, text)
        self.waiters = []  # (predicate, future)
        self.approve = set()
        self.registered = None  # None: not attempted; then True or the error condition
        loop = asyncio.get_event_loop()
        self.started = loop.create_future()
        # slixmpp 1.8.3: auto_authorize False means "refuse every request" (it sends unsubscribed);
        # None leaves requests to the application, which is what this test wants.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        if register:
            self.register_plugin("xep_0077")
            self["xep_0077"].force_registration = True
            # COMPAT: slixmpp 1.8.3 holds back every stanza sent before its session starts, including the
            # XEP-0077 iqs its own plugin sends before authentication; this lets them through.
            self._always_send_everything = True
            self.registered = False
            self.add_event_handler("register", self.on_register)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_all_auth", self.on_auth_failed)
        self.add_event_handler("presence", self.on_presence)
        self.add_event_handler("message", lambda m: self.record("message" if m["type"] != "error" else
                                                                "message_error", m))
        self.add_event_handler("message_error", lambda m: self.record("message_error", m))
        self.add_event_handler("disconnected", lambda _: self.record("disconnected", None))
        # Every roster push, whatever its 'from' (slixmpp's own handler also answers it).
        self.register_handler(Callback(f"record pushes {self.label}", StanzaPath("iq@type=set/roster"),
                                       lambda iq: self.record("push", iq)))

    async def on_register(self, _):
        iq = self.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = self.boundjid.user
        iq["register"]["password"] = self.password
        try:
            await iq.send(timeout=STEP)
            self.registered = True
        except (IqError, IqTimeout) as e:
            self.registered = e.iq["error"]["condition"] if isinstance(e, IqError) else "timeout"
            self.disconnect()
            if not self.started.done():
                self.started.set_result(False)

    def on_start(self, _):
        if not self.started.done():
            self.started.set_result(True)

    def on_auth_failed(self, *_):
        if not self.started.done():
            self.started.set_result(False)

    def on_presence(self, presence):
        self.record("presence", presence)
        if attr(presence, "type") == "subscribe" and presence["from"].bare in self.approve:
            # The explicit approval (RFC 6121 §3.1.4): subscribed to the requester's bare JID.
            self.send_presence(pto=presence["from"].bare, ptype="subscribed")

    def record(self, kind, stanza):
        self.events.append((kind, stanza, "" if stanza is None else str(stanza)))
        for predicate, future in self.waiters:
            if not future.done() and predicate(kind, stanza):
                future.set_result(stanza)

    def mark(self):
        return len(self.events)

    def found(self, predicate, since=0):
        return [stanza for kind, stanza, _ in self.events[since:] if predicate(kind, stanza)]

    async def expect(self, name, predicate, since=0, expected="", timeout=STEP):
        """Waits for a recorded stanza (at index `since` or later) that matches; records a check."""
        already = self.found(predicate, since)
        if already:
            check(name, True)
            return already[0]
        future = asyncio.get_event_loop().create_future()
        entry = (predicate, future)
        self.waiters.append(entry)
        try:
            stanza = await asyncio.wait_for(future, timeout)
            check(name, True)
            return stanza
        except asyncio.TimeoutError:
            check(name, False, expected or name, self.transcript(since) + f"\n        (waited {timeout} s)")
            return None
        finally:
            self.waiters.remove(entry)

    def transcript(self, since=0):
        lines = [f"[{self.label} got {kind}] {text}" for kind, _, text in self.events[since:]]
        return "\n        ".join(lines) if lines else "(nothing)"

    async def barrier(self):
        """An iq ping to the server, answered after everything this client sent before it (RFC 6120
        §10.1: in-order processing); True when the answer arrived."""
        iq = self.Iq()
        iq["type"] = "get"
        iq["to"] = DOMAIN
        iq.append(ET.Element(f"{{{PING_NS}}}ping"))
        try:
            await iq.send(timeout=STEP)
            return True
        except (IqError, IqTimeout) as e:
            check(f"{self.label}: ping to {DOMAIN} answered", False, "an iq result", repr(e))
            return False

    async def roster_get(self):
        iq = self.Iq()
        iq["type"] = "get"
        iq.enable("roster")
        try:
            result = await iq.send(timeout=STEP)
        except (IqError, IqTimeout) as e:
            return None, repr(e)
        return roster_items(result), str(result)

    async def leave(self):
        """Closes the stream and waits until the connection is gone."""
        try:
            await asyncio.wait_for(self.disconnect(), STEP)
        except asyncio.TimeoutError:
            self.abort()


async def login(full_jid, port, status=None, register=False, show=None):
    """Connects (registering first if asked), asks for the roster (which makes the resource interested
    in pushes, RFC 6121 §2.1.6) and sends initial presence; returns the client or None."""
    client = Client(full_jid, register)
    client.connect(("127.0.0.1", port))
    try:
        started = await asyncio.wait_for(client.started, STEP)
    except asyncio.TimeoutError:
        started = False
    if register:
        check(f"{client.label}: in-band registration (XEP-0077)", client.registered is True,
              "an iq result to the registration set", client.registered)
    if not check(f"{client.label}: logged in as {full_jid}", started and str(client.boundjid) == full_jid,
                 f"session with bound JID {full_jid}", f"started={started} bound={client.boundjid}"):
        client.abort()
        return None
    items, text = await client.roster_get()
    client.initial_roster = items
    if not check(f"{client.label}: roster get answered", items is not None, "an iq result with <query/>", text):
        client.abort()
        return None
    client.send_presence(pstatus=status, pshow=show)
    return client


def stamp_of(message):
    """(from, datetime or None, raw stamp) of a message's XEP-0203 <delay/>, or None without one."""
    delay = message.xml.find(f"{{{DELAY_NS}}}delay")
    if delay is None:
        return None
    raw = delay.get("stamp")
    try:
        parsed = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = None  # XEP-0082 requires a zone (XEP-0203 §3: UTC)
    except (TypeError, ValueError, AttributeError):
        parsed = None
    return delay.get("from"), parsed, raw


def check_offline_batch(bob, since, label, bodies, sent_after, sender):
    """The messages with these bodies arrived once each, in order, each with a valid <delay/>."""
    prefix = bodies[0].rsplit(" ", 1)[0]
    got = bob.found(is_body_prefix(prefix), since)
    check(f"bob: the {len(bodies)} {label} messages arrived once each, in order",
          [m["body"] for m in got] == bodies, bodies, [m["body"] for m in got])
    now = datetime.datetime.now(datetime.timezone.utc)
    for message in got:
        body = message["body"]
        check(f"bob: '{body}' is from alice's full JID", str(message["from"]) == sender, sender,
              str(message["from"]))
        delay = stamp_of(message)
        if not check(f"bob: '{body}' has a <delay xmlns='{DELAY_NS}'/> (XEP-0160, XEP-0203)", delay is not None,
                     "a delay element", str(message)):
            continue
        delay_from, stamp, raw = delay
        check(f"bob: '{body}' delay from is the server domain", delay_from == DOMAIN, DOMAIN, delay_from)
        # The stamp has a one-second resolution: allow a second either way.
        ok = stamp is not None and sent_after - datetime.timedelta(seconds=1) <= stamp <= now + datetime.timedelta(
            seconds=1)
        check(f"bob: '{body}' delay stamp parses and is when it was stored", ok,
              f"a UTC XEP-0082 DateTime between {sent_after.isoformat()} and {now.isoformat()}", raw)


async def wait_count(client, predicate, count, since, name, expected):
    """Waits until `count` recorded stanzas match (each arrival wakes it)."""
    deadline = time.monotonic() + STEP
    while len(client.found(predicate, since)) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return check(name, False, expected, client.transcript(since))
        future = asyncio.get_event_loop().create_future()
        entry = (predicate, future)
        client.waiters.append(entry)
        try:
            await asyncio.wait_for(future, remaining)
        except asyncio.TimeoutError:
            pass
        finally:
            client.waiters.remove(entry)
        # A future is set by the first of possibly several matches in one batch: recount.
    return check(name, True)


async def scenario(server):
    port = server.port
    clients = []

    # ------------------------------------------------------------------------------------------------
    phase("1. in-band registration (XEP-0077) and login")
    alice = await login(ALICE_FULL, port, status="alice: writing tests", register=True)
    bob = await login(BOB_FULL, port, status="bob: on the phone", register=True)
    carol = await login(CAROL_FULL, port, status="carol: lurking", register=True)
    clients += [c for c in (alice, bob, carol) if c]
    if not (alice and bob and carol):
        return clients
    for client in (alice, bob, carol):
        check(f"{client.label}: a new account has an empty roster", client.initial_roster == {}, "{}",
              client.initial_roster)

    # ------------------------------------------------------------------------------------------------
    phase("2. alice and bob subscribe to each other (RFC 6121 §3.1)")
    a, b = alice.mark(), bob.mark()
    bob.approve.add(ALICE)
    alice.send_presence_subscription(pto=BOB)
    await alice.expect("alice: push of bob, subscription none, ask subscribe (§3.1.2)",
                       is_push(BOB, "none", "subscribe"), a,
                       f"<iq type='set'><query xmlns='{ROSTER_NS}'><item jid='{BOB}' subscription='none' "
                       f"ask='subscribe'/></query></iq>")
    await bob.expect("bob: subscribe from alice's bare JID (§3.1.3)", is_presence(ALICE, "subscribe"), b,
                     f"<presence type='subscribe' from='{ALICE}'/>")
    # bob's handler approves.
    await bob.expect("bob: push of alice, subscription from (§3.1.5)", is_push(ALICE, "from"), b)
    await alice.expect("alice: subscribed from bob's bare JID (§3.1.6)", is_presence(BOB, "subscribed"), a,
                       f"<presence type='subscribed' from='{BOB}'/>")
    await alice.expect("alice: push of bob, subscription to (§3.1.6)", is_push(BOB, "to"), a)
    # §3.1.5: the contact's server sends the contact's current presence to the new subscriber.
    await alice.expect("alice: bob's presence from his full JID with his status (§3.1.5)",
                       is_presence(BOB_FULL, None, "bob: on the phone"), a,
                       f"<presence from='{BOB_FULL}'><status>bob: on the phone</status></presence>")

    a, b = alice.mark(), bob.mark()
    alice.approve.add(BOB)
    bob.send_presence_subscription(pto=ALICE)
    await bob.expect("bob: push of alice, subscription from, ask subscribe (§3.1.2)",
                     is_push(ALICE, "from", "subscribe"), b)
    await alice.expect("alice: subscribe from bob's bare JID (§3.1.3)", is_presence(BOB, "subscribe"), a)
    await alice.expect("alice: push of bob, subscription both (§3.1.5)", is_push(BOB, "both"), a)
    await bob.expect("bob: subscribed from alice's bare JID (§3.1.6)", is_presence(ALICE, "subscribed"), b)
    await bob.expect("bob: push of alice, subscription both (§3.1.6)", is_push(ALICE, "both"), b)

    for client, contact in ((alice, BOB), (bob, ALICE)):
        items, text = await client.roster_get()
        check(f"{client.label}: roster get has {contact} with subscription both, no ask (§2.1.4)",
              items == {contact: {"jid": contact, "subscription": "both"}},
              f"<item jid='{contact}' subscription='both'/> only", text)
    pushes = [p for p in alice.found(lambda k, s: k == "push") + bob.found(lambda k, s: k == "push")]
    bad_from = [str(p) for p in pushes if p["from"] and str(p["from"]) not in (ALICE, BOB)]
    check("roster pushes have no 'from' or the account's bare JID (§2.1.6)", not bad_from,
          "from absent or the bare JID", bad_from)
    unexpected = [s for k, s, _ in bob.events[b:] if k == "presence" and attr(s, "type") == "subscribe"]
    check("bob: no subscribe came back to bob (alice approved, nothing more)", not unexpected, "none",
          [str(s) for s in unexpected])

    # ------------------------------------------------------------------------------------------------
    phase("3. presence (RFC 6121 §4)")
    await bob.expect("bob: alice's presence from her full JID with her status (§3.1.5)",
                     is_presence(ALICE_FULL, None, "alice: writing tests"), b,
                     f"<presence from='{ALICE_FULL}'><status>alice: writing tests</status></presence>")
    a = alice.mark()
    bob.send_presence(pshow="away", pstatus="bob: in a meeting")
    await alice.expect("alice: bob's presence update (show away, new status) (§4.4.2)",
                       is_presence(BOB_FULL, None, "bob: in a meeting", "away"), a,
                       f"<presence from='{BOB_FULL}'><show>away</show><status>bob: in a meeting</status></presence>")

    # ------------------------------------------------------------------------------------------------
    phase("4. chat both ways (RFC 6121 §5)")
    a, b = alice.mark(), bob.mark()
    alice.send_message(mto=BOB_FULL, mbody="hi bob, are you there?", mtype="chat")
    got = await bob.expect("bob: alice's message to his full JID, from her full JID",
                           is_message(ALICE_FULL, "hi bob, are you there?"), b,
                           f"<message type='chat' from='{ALICE_FULL}'><body>hi bob, are you there?</body>")
    if got is not None:
        check("bob: the message is of type chat", got["type"] == "chat", "chat", got["type"])
    bob.send_message(mto=ALICE, mbody="yes alice, here", mtype="chat")
    await alice.expect("alice: bob's message to her bare JID, from his full JID (§8.5.2.1.1)",
                       is_message(BOB_FULL, "yes alice, here"), a,
                       f"<message type='chat' from='{BOB_FULL}'><body>yes alice, here</body>")

    # ------------------------------------------------------------------------------------------------
    phase("5. offline messages (XEP-0160, XEP-0203)")
    a = alice.mark()
    await bob.leave()
    await alice.expect("alice: bob's unavailable presence from his full JID (§4.5.2)",
                       is_presence(BOB_FULL, "unavailable"), a,
                       f"<presence type='unavailable' from='{BOB_FULL}'/>")
    offline_bodies = [f"while you were out {i}" for i in (1, 2, 3)]
    sent_after = datetime.datetime.now(datetime.timezone.utc)
    for body in offline_bodies:
        alice.send_message(mto=BOB, mbody=body, mtype="chat")
    await alice.barrier()
    errors = alice.found(lambda k, s: k in ("message_error",), a)
    check("alice: no error for the messages to offline bob", not errors, "none", [str(e) for e in errors])

    a = alice.mark()
    bob = await login(BOB_FULL, port, status="bob: back")
    clients.append(bob)
    if not bob:
        return clients
    await wait_count(bob, is_body_prefix("while you were out"), 3, 0,
                     "bob: the 3 stored messages arrive at the next login",
                     "3 <message/>s: " + ", ".join(offline_bodies))
    await bob.barrier()  # duplicates, had there been any, would have arrived before the answer
    check_offline_batch(bob, 0, "stored", offline_bodies, sent_after, ALICE_FULL)
    await alice.expect("alice: bob's available presence again (§4.2.2)", is_presence(BOB_FULL, None, "bob: back"), a)
    await bob.expect("bob: alice's presence, answering his server's probe (§4.3)",
                     is_presence(ALICE_FULL, None, "alice: writing tests"), 0)

    a = alice.mark()
    await bob.leave()
    await alice.expect("alice: bob's unavailable presence again", is_presence(BOB_FULL, "unavailable"), a)
    bob = await login(BOB_FULL, port, status="bob: back again")
    clients.append(bob)
    if not bob:
        return clients
    # The stored messages come with the presence (in order, before the ping's answer); nothing came.
    await alice.expect("alice: bob's available presence once more", is_presence(BOB_FULL, None, "bob: back again"),
                       a)
    await bob.barrier()
    again = bob.found(lambda k, s: k == "message")
    check("bob: the login after that gets none of them again", not again, "no message",
          [str(m) for m in again])

    # ------------------------------------------------------------------------------------------------
    phase("6. carol is not subscribed (RFC 6121 §4.3.2)")
    c, a, b = carol.mark(), alice.mark(), bob.mark()
    check("carol: no presence of alice so far", not carol.found(is_presence_of(ALICE)), "none",
          carol.transcript())
    probe = carol.Presence()
    probe["to"] = ALICE
    probe["type"] = "probe"
    probe.send()
    carol.send_message(mto=ALICE, mbody="hi alice, it's carol", mtype="chat")
    await alice.expect("alice: carol's message (no subscription, nothing blocked)",
                       is_message(CAROL_FULL, "hi alice, it's carol"), a)
    alice.send_presence(pstatus="alice: back from lunch")
    await bob.expect("bob: alice's update (the broadcast happened)",
                     is_presence(ALICE_FULL, None, "alice: back from lunch"), b)
    await carol.barrier()
    leaked = carol.found(is_presence_of(ALICE), c)
    check("carol: none of alice's presence, neither for the probe nor in the broadcast (§4.3.2, §4.4.2)",
          not leaked, "no available/unavailable presence from alice", "\n        ".join(str(p) for p in leaked))
    print(f"        (carol got {carol.transcript(c)})")

    # ------------------------------------------------------------------------------------------------
    phase("7. durability: SIGKILL while messages wait for offline bob, then a new parleyd on the same data")
    a = alice.mark()
    await bob.leave()
    await alice.expect("alice: bob's unavailable presence", is_presence(BOB_FULL, "unavailable"), a)
    durable_bodies = [f"kept across a crash {i}" for i in (1, 2, 3)]
    sent_after = datetime.datetime.now(datetime.timezone.utc)
    for body in durable_bodies:
        alice.send_message(mto=BOB, mbody=body, mtype="chat")
    if not await alice.barrier():
        return clients
    status = server.kill()
    check("parleyd killed with SIGKILL", status == -9, "exit status -9", status)
    for client in (alice, carol):
        client.abort()
    await asyncio.get_event_loop().run_in_executor(None, server.start)
    check("a new parleyd started on the same data directory", server.process.poll() is None, "running",
          server.process.returncode)
    bob = await login(BOB_FULL, port, status="bob: after the crash")
    clients.append(bob)
    if not bob:
        return clients
    await wait_count(bob, is_body_prefix("kept across a crash"), 3, 0,
                     "bob: the 3 messages stored before the SIGKILL arrive",
                     "3 <message/>s: " + ", ".join(durable_bodies))
    await bob.barrier()
    check_offline_batch(bob, 0, "crash-surviving", durable_bodies, sent_after, ALICE_FULL)
    check("bob: the earlier stored messages did not come back",
          not bob.found(is_body_prefix("while you were out")), "none",
          [str(m) for m in bob.found(is_body_prefix("while you were out"))])
    check("bob: the subscription with alice survived", bob.initial_roster == {ALICE: {"jid": ALICE,
                                                                                        "subscription": "both"}},
          f"<item jid='{ALICE}' subscription='both'/>", bob.initial_roster)
    b = bob.mark()
    alice = await login(ALICE_FULL, port, status="alice: after the crash")
    clients.append(alice)
    if not alice:
        return clients
    await alice.expect("alice: bob's presence, answering her probe after the restart",
                       is_presence(BOB_FULL, None, "bob: after the crash"), 0)
    await bob.expect("bob: alice's presence after the restart", is_presence(ALICE_FULL, None, "alice: after the crash"),
                     b)
    return clients


async def run(server):
    clients = []
    try:
        clients = await asyncio.wait_for(scenario(server), SCENARIO)
    except asyncio.TimeoutError:
        check("scenario completed", False, f"within {SCENARIO} s", "the overall timeout")
    except Exception as e:  # report, never hang
        import traceback
        traceback.print_exc()
        check("scenario completed", False, "no exception", repr(e))
    for client in clients or []:
        if client.transport:
            await client.leave()


def main(run_scenario=None):
    """Runs `run_scenario(server)` (this file's scenario by default) against a fresh parleyd, with the
    watchdog; prints the checks and returns the exit code. Other interop scripts reuse it."""
    run_scenario = run_scenario or run
    logging.basicConfig(level=logging.DEBUG if os.environ.get("PARLEY_INTEROP_DEBUG") else logging.ERROR)
    began = time.monotonic()
    server = Parleyd(sys.argv[1]).start()

    def watchdog():
        print(f"FAIL  watchdog: the test did not end within {WATCHDOG} s; stacks follow", flush=True)
        faulthandler.dump_traceback(all_threads=True)
        if server.process and server.process.poll() is None:
            server.process.kill()
        server.dump_log()
        sys.stdout.flush()
        os._exit(3)

    timer = threading.Timer(WATCHDOG, watchdog)
    timer.daemon = True
    timer.start()
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(run_scenario(server))
        # slixmpp leaves a filter task per client behind; end them quietly.
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    finally:
        code = server.stop()
        timer.cancel()
    check("parleyd exits cleanly on SIGTERM", code == 0, "exit code 0", f"exit code {code}")
    if not all(ok for _, ok in results):
        server.dump_log()
    failed = sum(1 for _, ok in results if not ok)
    print(f"\n{len(results) - failed} passed, {failed} failed in {time.monotonic() - began:.1f} s")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
