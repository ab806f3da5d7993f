#!/usr/bin/python3
"""Interop (issue 3): one battery of RFC 6121 cases against Parley, Prosody and ejabberd, side by side.

Each server runs privately on loopback ports with its own configuration and data in a temporary folder,
in the foreground; the same slixmpp clients (alice on two resources, bob, carol) run the same cases
against each, and each case checks what RFC 6121 requires (its section is in the case's name):
rosters (get, set, remove, pushes), the subscription state machine (subscribe, subscribed, unsubscribe,
unsubscribed, pre-approval), initial presence, probes, updates, unavailable presence when a connection
drops, message delivery to bare and full JIDs by type and priority, and offline messages with a XEP-0203
<delay/>. A table (case, Parley, Prosody, ejabberd) is printed at the end (side_by_side.py).

A case that Parley fails fails the test. The peers' results are reported, never failed on: a case where a
peer differs from the RFC (or chose differently where the RFC allows a choice) shows up in the table, as
"differs" with the reason when KNOWN explains it. Without a peer (scripts/install-deps.sh installs
Debian's prosody and ejabberd; peer_servers.py starts them), or if it does not start, its column says why
and the test still runs Parley's side.

usage: rfc6121_side_by_side.py PATH_TO_PARLEYD
"""
import asyncio
import sys

from slixmpp.exceptions import IqError, IqTimeout

import slixmpp_im
from side_by_side import compare
from slixmpp_im import DOMAIN, ROSTER_NS, attr, is_message, is_presence, is_push, login, roster_items, stamp_of

WAIT = 5  # the longest one expected stanza may take; a missing one costs this much
WATCHDOG = 220  # the whole test (three servers), should anything hang

ALICE, BOB, CAROL, DAVE = (f"{name}@{DOMAIN}" for name in ("alice", "bob", "carol", "dave"))
ALICE_DESK, ALICE_PHONE = f"{ALICE}/desk", f"{ALICE}/phone"
BOB_PC, CAROL_TAB, DAVE_CAR = f"{BOB}/pc", f"{CAROL}/tab", f"{DAVE}/car"
slixmpp_im.PASSWORDS.update({ALICE: "alice-6121", BOB: "bob-6121", CAROL: "carol-6121", DAVE: "dave-6121"})


# --- the battery --------------------------------------------------------------------------------------

async def first(client, predicate, since, timeout=WAIT):
    """The first stanza recorded at `since` or later that matches, waiting up to `timeout`; or None."""
    found = client.found(predicate, since)
    if found:
        return found[0]
    future = asyncio.get_event_loop().create_future()
    entry = (predicate, future)
    client.waiters.append(entry)
    try:
        return await asyncio.wait_for(future, timeout)
    except asyncio.TimeoutError:
        return None
    finally:
        client.waiters.remove(entry)


async def settle(*clients):
    """Each client in turn pings the server: what the first sent has been routed before its answer
    (RFC 6120 §10.1), and the later ones have received what was queued for them before theirs."""
    for client in clients:
        await client.barrier()


async def roster_set(client, item):
    iq = client.Iq()
    iq["type"] = "set"
    query = iq.xml.makeelement(f"{{{ROSTER_NS}}}query", {})
    iq.xml.append(query)
    element = query.makeelement(f"{{{ROSTER_NS}}}item", {k: v for k, v in item.items() if k != "group"})
    query.append(element)
    if "group" in item:
        group = element.makeelement(f"{{{ROSTER_NS}}}group", {})
        group.text = item["group"]
        element.append(group)
    try:
        await iq.send(timeout=WAIT)
        return True
    except (IqError, IqTimeout):
        return False


def presence(client, to=None, ptype=None, priority=None, status=None):
    stanza = client.Presence()
    if to:
        stanza["to"] = to
    if ptype:
        stanza["type"] = ptype
    if priority is not None:
        stanza["priority"] = priority
    if status:
        stanza["status"] = status
    stanza.send()


def is_error(condition):
    def match(kind, stanza):
        return kind == "message_error" and stanza["error"]["condition"] == condition

    return match


class Battery:
    """The cases, in order (each builds on the state the previous ones left). A case returns (ok, what
    happened); `outcomes` keeps them in order."""

    def __init__(self, port):
        self.port = port
        self.outcomes = []
        self.clients = []

    async def case(self, name, body):
        try:
            ok, detail = await body()
        except Exception as e:  # a broken case is a failed case, and the others still run
            ok, detail = False, f"exception: {e!r}"
        self.outcomes.append((name, ok, detail))
        print(("ok    " if ok else "FAIL  ") + name + ("" if ok else f"\n        {detail}"), flush=True)

    async def connect(self, full_jid, register=False, status=None):
        client = await login(full_jid, self.port, status=status, register=register)
        if client:
            self.clients.append(client)
        return client

    async def run(self):
        a = await self.connect(ALICE_DESK, register=True, status="alice at her desk")
        b = await self.connect(BOB_PC, register=True, status="bob at his pc")
        c = await self.connect(CAROL_TAB, register=True)
        d = await self.connect(DAVE_CAR, register=True)
        if not (a and b and c and d):
            self.outcomes.append(("login (XEP-0077 registration, RFC 6120 SASL and bind)", False, "no session"))
            return
        self.a, self.b, self.c, self.d = a, b, c, d
        for name, body in self.cases():
            await self.case(name, body)

    def cases(self):
        return [
            ("§2.3 roster set: result and a push to the resource", self.roster_set),
            ("§2.2 roster get: the item with subscription none", self.roster_get),
            ("§2.5 roster remove: push with subscription remove, gone from get", self.roster_remove),
            ("§3.1.2 subscribe: push with ask='subscribe'", self.subscribe_push),
            ("§3.1.3 subscribe: the contact gets it from the user's bare JID", self.subscribe_delivered),
            ("§3.1.5 subscribed: pushes 'to' and 'from'; subscribed from the bare JID", self.subscribed),
            ("§3.1.5 subscribed: the contact's current presence follows", self.presence_after_subscribed),
            ("§4.2.3/§4.3 initial presence: a probe brings contacts' presence", self.probe_at_login),
            ("§4.4.2 presence update reaches every resource of a subscriber", self.presence_update),
            ("§4.6 directed presence to a non-subscriber", self.directed_presence),
            ("§4.5.2 unavailable presence when a connection drops", self.unavailable_on_drop),
            ("§4.2.2 initial presence reaches subscribers", self.initial_broadcast),
            ("§8.5.3.1 chat to a connected full JID", self.message_full),
            ("§8.5.2.1.1 chat to the bare JID: a non-negative resource, never a negative one",
             self.message_bare_chat),
            ("§8.5.2.1.1 normal to the bare JID: not to a negative-priority resource", self.message_bare_normal),
            ("§8.5.2.1.1 headline to the bare JID: every non-negative resource", self.message_bare_headline),
            ("§8.5.2.1.1 groupchat to the bare JID: service-unavailable", self.message_bare_groupchat),
            ("§8.5.3.2.1 chat to an unconnected full JID: as to the bare JID", self.message_unconnected_full),
            ("§3.4 pre-approval: a later subscribe is approved without the contact", self.preapproval),
            ("§3.3 unsubscribe: pushes 'none' on both sides, the contact is told", self.unsubscribe),
            ("§3.2 unsubscribed: the subscriber is told, gets unavailable, pushes 'none'", self.unsubscribed),
            ("§8.5.2.2 + XEP-0160/0203: offline message with <delay/> at the next login", self.offline_message),
        ]

    # --- rosters (§2) ---

    async def roster_set(self):
        m = self.a.mark()
        ok = await roster_set(self.a, {"jid": DAVE, "name": "Dave", "group": "Friends"})
        push = await first(self.a, is_push(DAVE, "none"), m)
        item = (roster_items(push) or {}).get(DAVE, {}) if push is not None else {}
        return ok and item.get("name") == "Dave", f"result={ok} push={push}"

    async def roster_get(self):
        items, text = await self.a.roster_get()
        item = (items or {}).get(DAVE)
        return item is not None and item.get("subscription") == "none", text

    async def roster_remove(self):
        m = self.a.mark()
        ok = await roster_set(self.a, {"jid": DAVE, "subscription": "remove"})
        push = await first(self.a, is_push(DAVE, "remove"), m)
        items, text = await self.a.roster_get()
        return ok and push is not None and DAVE not in (items or {}), f"result={ok} push={push} get={text}"

    # --- subscriptions (§3) and presence (§4) ---

    async def subscribe_push(self):
        self.marks = (self.a.mark(), self.b.mark())
        presence(self.a, to=BOB, ptype="subscribe")
        push = await first(self.a, is_push(BOB, "none", "subscribe"), self.marks[0])
        return push is not None, self.a.transcript(self.marks[0])

    async def subscribe_delivered(self):
        got = await first(self.b, is_presence(ALICE, "subscribe"), self.marks[1])
        return got is not None, self.b.transcript(self.marks[1])

    async def subscribed(self):
        a, b = self.a.mark(), self.b.mark()
        presence(self.b, to=ALICE, ptype="subscribed")
        pushed_b = await first(self.b, is_push(ALICE, "from"), b)
        pushed_a = await first(self.a, is_push(BOB, "to"), a)
        told = await first(self.a, is_presence(BOB, "subscribed"), a)
        self.after_subscribed = a
        return None not in (pushed_a, pushed_b, told), f"alice: {self.a.transcript(a)} bob: {self.b.transcript(b)}"

    async def presence_after_subscribed(self):
        got = await first(self.a, is_presence(BOB_PC, None, "bob at his pc"), self.after_subscribed)
        return got is not None, self.a.transcript(self.after_subscribed)

    async def probe_at_login(self):
        self.a2 = await self.connect(ALICE_PHONE)
        if not self.a2:
            return False, "alice/phone could not log in"
        got = await first(self.a2, is_presence(BOB_PC, None, "bob at his pc"), 0)
        return got is not None, self.a2.transcript()

    async def presence_update(self):
        a, a2 = self.a.mark(), self.a2.mark()
        presence(self.b, status="bob is busy")
        one = await first(self.a, is_presence(BOB_PC, None, "bob is busy"), a)
        two = await first(self.a2, is_presence(BOB_PC, None, "bob is busy"), a2)
        return None not in (one, two), f"desk: {self.a.transcript(a)} phone: {self.a2.transcript(a2)}"

    async def directed_presence(self):
        c = self.c.mark()
        presence(self.b, to=CAROL, status="bob to carol")
        got = await first(self.c, is_presence(BOB_PC, None, "bob to carol"), c)
        return got is not None, self.c.transcript(c)

    async def unavailable_on_drop(self):
        a = self.a.mark()
        self.b.abort()  # the TCP connection is cut, no unavailable presence sent
        got = await first(self.a, is_presence(BOB_PC, "unavailable"), a)
        return got is not None, self.a.transcript(a)

    async def initial_broadcast(self):
        a = self.a.mark()
        self.b = await self.connect(BOB_PC, status="bob is back")
        if not self.b:
            return False, "bob could not log in again"
        got = await first(self.a, is_presence(BOB_PC, None, "bob is back"), a)
        return got is not None, self.a.transcript(a)

    # --- messages (§8.5) ---

    async def message_full(self):
        a = self.a.mark()
        self.b.send_message(mto=ALICE_DESK, mbody="to your desk", mtype="chat")
        got = await first(self.a, is_message(BOB_PC, "to your desk"), a)
        return got is not None, self.a.transcript(a)

    async def to_bare(self, mtype, body, negative_phone=True):
        """Sends from bob to alice's bare JID with alice/phone at priority -1; what each resource got."""
        if negative_phone and not getattr(self, "phone_negative", False):
            presence(self.a2, priority=-1)
            self.phone_negative = True
            await settle(self.a2, self.a)
        a, a2, b = self.a.mark(), self.a2.mark(), self.b.mark()
        self.b.send_message(mto=ALICE, mbody=body, mtype=mtype)
        await settle(self.b, self.a, self.a2)
        desk = self.a.found(lambda k, s: k == "message" and s["body"] == body, a)
        phone = self.a2.found(lambda k, s: k == "message" and s["body"] == body, a2)
        return desk, phone, b

    async def message_bare_chat(self):
        desk, phone, _ = await self.to_bare("chat", "chat to the bare JID")
        return len(desk) == 1 and not phone, f"desk got {len(desk)}, phone (priority -1) got {len(phone)}"

    async def message_bare_normal(self):
        desk, phone, _ = await self.to_bare("normal", "normal to the bare JID")
        return len(desk) == 1 and not phone, f"desk got {len(desk)}, phone (priority -1) got {len(phone)}"

    async def message_bare_headline(self):
        desk, phone, _ = await self.to_bare("headline", "headline to the bare JID")
        return len(desk) == 1 and not phone, f"desk got {len(desk)}, phone (priority -1) got {len(phone)}"

    async def message_bare_groupchat(self):
        desk, phone, b = await self.to_bare("groupchat", "groupchat to the bare JID")
        error = await first(self.b, is_error("service-unavailable"), b)
        return error is not None and not desk and not phone, \
            f"delivered desk={len(desk)} phone={len(phone)}; bob got {self.b.transcript(b)}"

    async def message_unconnected_full(self):
        a = self.a.mark()
        self.b.send_message(mto=f"{ALICE}/gone", mbody="to a resource that is not there", mtype="chat")
        got = await first(self.a, lambda k, s: k == "message" and s["body"] == "to a resource that is not there", a)
        return got is not None, self.a.transcript(a)

    # --- pre-approval, unsubscribe, unsubscribed (§3.2-§3.4) ---

    async def preapproval(self):
        c = self.c.mark()
        presence(self.c, to=ALICE, ptype="subscribed")  # §3.4.2: carol pre-approves alice
        await settle(self.c)
        a, c2 = self.a.mark(), self.c.mark()
        presence(self.a, to=CAROL, ptype="subscribe")
        told = await first(self.a, is_presence(CAROL, "subscribed"), a)
        pushed = await first(self.a, is_push(CAROL, "to"), a)
        await settle(self.a, self.c)
        asked = self.c.found(is_presence(ALICE, "subscribe"), c2)
        return told is not None and pushed is not None and not asked, \
            f"alice: {self.a.transcript(a)} carol: {self.c.transcript(c)}"

    async def unsubscribe(self):
        a, c = self.a.mark(), self.c.mark()
        presence(self.a, to=CAROL, ptype="unsubscribe")
        mine = await first(self.a, is_push(CAROL, "none"), a)
        theirs = await first(self.c, is_push(ALICE, "none"), c)
        told = await first(self.c, is_presence(ALICE, "unsubscribe"), c)
        return None not in (mine, theirs, told), f"alice: {self.a.transcript(a)} carol: {self.c.transcript(c)}"

    async def unsubscribed(self):
        a, b = self.a.mark(), self.b.mark()
        presence(self.b, to=ALICE, ptype="unsubscribed")
        told = await first(self.a, is_presence(BOB, "unsubscribed"), a)
        gone = await first(self.a, is_presence(BOB_PC, "unavailable"), a)
        mine = await first(self.a, is_push(BOB, "none"), a)
        theirs = await first(self.b, is_push(ALICE, "none"), b)
        return None not in (told, gone, mine, theirs), f"alice: {self.a.transcript(a)} bob: {self.b.transcript(b)}"

    async def offline_message(self):
        await self.d.leave()
        self.clients.remove(self.d)
        self.a.send_message(mto=DAVE, mbody="while you were away", mtype="chat")
        await settle(self.a)
        self.d = await self.connect(DAVE_CAR)
        if not self.d:
            return False, "dave could not log in again"
        got = await first(self.d, is_message(ALICE_DESK, "while you were away"), 0)
        delay = stamp_of(got) if got is not None else None
        return delay is not None and delay[1] is not None, self.d.transcript()

    async def close(self):
        for client in self.clients:
            if client.transport:
                await client.leave()


async def run_battery(server):
    battery = Battery(server.port)
    try:
        await battery.run()
    finally:
        await battery.close()
    return battery.outcomes


# Where a peer differs from this battery for a reason we know: (peer, case) -> why.
KNOWN = {
    ("ejabberd", "§3.4 pre-approval: a later subscribe is approved without the contact"):
        "RFC 6121 §3.4 makes pre-approval optional (advertised by the stream feature "
        "urn:xmpp:features:pre-approval); ejabberd 23.01 does not support it and forwards the subscribe",
    ("ejabberd", "§3.3 unsubscribe: pushes 'none' on both sides, the contact is told"):
        "follows from the pre-approval case: alice never got a subscription to carol, so there is nothing "
        "to cancel on carol's side",
}


def main():
    return compare(sys.argv[1], run_battery, KNOWN, WATCHDOG, "the RFC 6121 battery")


if __name__ == "__main__":
    sys.exit(main())
