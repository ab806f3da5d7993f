#!/usr/bin/python3
"""Interop (XEP-0280 message carbons): slixmpp's xep_0280 plugin with two resources of one account and a
contact, against a real parleyd.

  1. romeo (two resources: garden with slixmpp's xep_0280, home without) and juliet register and log in;
     the server's disco#info lists urn:xmpp:carbons:2; garden enables carbons;
  2. juliet's message to romeo/home reaches home, and garden as a 'received' carbon (§7);
  3. home's message to juliet reaches her, and garden as a 'sent' carbon (§8);
  4. a <private/> message is not copied, and juliet gets it without <private/> (§9);
  5. a carbon forged by juliet never reaches garden as a carbon (§11);
  6. garden disables carbons and gets no more copies (§5).

The harness (clients, checks, bounded waits, watchdog) is slixmpp_im.py's.

usage: slixmpp_carbons.py PATH_TO_PARLEYD
"""
import sys

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET

import slixmpp_im
from slixmpp_im import DOMAIN, STEP, check, is_message, login, phase

CARBONS_NS = "urn:xmpp:carbons:2"
FORWARD_NS = "urn:xmpp:forward:0"
ROMEO = f"romeo@{DOMAIN}"
JULIET = f"juliet@{DOMAIN}"
GARDEN = f"{ROMEO}/garden"
HOME = f"{ROMEO}/home"
BALCONY = f"{JULIET}/balcony"
slixmpp_im.PASSWORDS.update({ROMEO: "wherefore art thou", JULIET: "a rose by any other name"})


def is_carbon(kind, body):
    """A carbon ('carbon_received' or 'carbon_sent', which slixmpp raises only for carbons from the
    account's bare JID) whose forwarded message has this body."""

    def match(event, stanza):
        return event == kind and stanza[kind]["body"] == body

    return match


def carbons_of(client, since):
    return [s for k, s, _ in client.events[since:] if k in ("carbon_received", "carbon_sent")]


async def toggle(client, action):
    try:
        await getattr(client["xep_0280"], action)(timeout=STEP)
        return check(f"{client.label}: carbons {action}d (§4, §5)", True)
    except (IqError, IqTimeout) as e:
        return check(f"{client.label}: carbons {action}d (§4, §5)", False, "an iq result", repr(e))


async def settle(*clients):
    """Pings from each client in turn: the first one's stanzas were routed (copies included) before
    its answer, the later ones have received everything queued for them before theirs."""
    for client in clients:
        await client.barrier()


async def play(_server):
    port = _server.port
    phase("1. login, disco, enable (XEP-0280 §3, §4)")
    juliet = await login(BALCONY, port, register=True)
    garden = await login(GARDEN, port, register=True, plugins=("xep_0030", "xep_0280"))
    home = await login(HOME, port)
    clients = [c for c in (juliet, garden, home) if c]
    if len(clients) < 3:
        return clients
    garden.label = "romeo/garden"
    home.label = "romeo/home"
    for kind in ("carbon_received", "carbon_sent"):
        garden.add_event_handler(kind, lambda m, kind=kind: garden.record(kind, m))
    try:
        info = await garden["xep_0030"].get_info(jid=DOMAIN, timeout=STEP)
        features = info["disco_info"]["features"]
    except (IqError, IqTimeout) as e:
        features = repr(e)
    check("the server advertises urn:xmpp:carbons:2 (§3)", CARBONS_NS in features, CARBONS_NS, features)
    if not await toggle(garden, "enable"):
        return clients

    phase("2. received carbon (§7)")
    g, h = garden.mark(), home.mark()
    juliet.send_message(mto=HOME, mbody="What man art thou?", mtype="chat")
    await home.expect("romeo/home: juliet's message", is_message(BALCONY, "What man art thou?"), h)
    copy = await garden.expect("romeo/garden: a received carbon of it from romeo's bare JID",
                               is_carbon("carbon_received", "What man art thou?"), g)
    if copy is not None:
        forwarded = copy["carbon_received"]
        check("romeo/garden: the carbon is from romeo's bare JID", str(copy["from"]) == ROMEO, ROMEO,
              str(copy["from"]))
        check("romeo/garden: the forwarded message is juliet's, to romeo/home",
              (str(forwarded["from"]), str(forwarded["to"])) == (BALCONY, HOME), (BALCONY, HOME),
              (str(forwarded["from"]), str(forwarded["to"])))

    phase("3. sent carbon (§8)")
    g = garden.mark()
    home.send_message(mto=BALCONY, mbody="Neither, fair saint", mtype="chat")
    await juliet.expect("juliet: romeo/home's answer", is_message(HOME, "Neither, fair saint"))
    copy = await garden.expect("romeo/garden: a sent carbon of it", is_carbon("carbon_sent", "Neither, fair saint"),
                               g)
    if copy is not None:
        check("romeo/garden: the sent carbon's message is to juliet", str(copy["carbon_sent"]["to"]) == BALCONY,
              BALCONY, str(copy["carbon_sent"]["to"]))

    phase("4. <private/> (§9)")
    g, j = garden.mark(), juliet.mark()
    private = home.make_message(mto=BALCONY, mbody="for juliet only", mtype="chat")
    private.append(ET.Element(f"{{{CARBONS_NS}}}private"))
    private.send()
    got = await juliet.expect("juliet: the private message", is_message(HOME, "for juliet only"), j)
    if got is not None:
        check("juliet: <private/> was removed (§9)", got.xml.find(f"{{{CARBONS_NS}}}private") is None,
              "no <private/>", str(got))
    await settle(home, garden)
    check("romeo/garden: no carbon of the private message", not carbons_of(garden, g), "none",
          garden.transcript(g))

    phase("5. a forged carbon (§11)")
    g = garden.mark()
    forged = juliet.make_message(mto=GARDEN, mtype="chat")
    received = ET.SubElement(forged.xml, f"{{{CARBONS_NS}}}received")
    inner = ET.SubElement(ET.SubElement(received, f"{{{FORWARD_NS}}}forwarded"), "{jabber:client}message",
                          {"from": f"rosaline@{DOMAIN}/house", "to": GARDEN, "type": "chat"})
    ET.SubElement(inner, "{jabber:client}body").text = "forged love"
    forged.send()
    await settle(juliet, garden)
    leaked = [s for k, s, text in garden.events[g:] if "forged love" in text]
    check("romeo/garden: nothing of juliet's forged carbon arrives", not leaked, "nothing",
          garden.transcript(g))

    phase("6. disable (§5)")
    if not await toggle(garden, "disable"):
        return clients
    g, h = garden.mark(), home.mark()
    juliet.send_message(mto=HOME, mbody="Good night", mtype="chat")
    await home.expect("romeo/home: juliet's message", is_message(BALCONY, "Good night"), h)
    await settle(juliet, garden)
    check("romeo/garden: no carbon after disabling", not carbons_of(garden, g), "none", garden.transcript(g))
    return clients


if __name__ == "__main__":
    sys.exit(slixmpp_im.main(play))
