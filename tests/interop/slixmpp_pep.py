#!/usr/bin/python3
"""Interop (XEP-0163 personal eventing): python3-slixmpp clients, whose XEP-0115 capabilities are
computed by slixmpp itself, against a real parleyd.

  1. alice, bob and carol register in-band and log in with the nickname plugin (XEP-0172), which
     announces http://jabber.org/protocol/nick+notify in their capabilities; alice and bob subscribe
     to each other, carol stays a stranger;
  2. alice publishes her nickname: bob, a contact, gets the notification (the server learnt his
     capabilities by asking his client and checked slixmpp's hash); carol, a stranger, gets none, and
     reading the node is refused to her (presence access model);
  3. alice publishes to a node with publish-options access_model=open (XEP-0060 §7.1.5, as OMEMO
     clients do): carol reads it, and alice reads the configuration back (§8.2.1).

usage: slixmpp_pep.py PATH_TO_PARLEYD
"""
import asyncio
import sys

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET

import slixmpp_im as im
from slixmpp_im import ALICE, ALICE_FULL, BOB, BOB_FULL, CAROL_FULL, check, is_push, login, phase

NICK_NS = "http://jabber.org/protocol/nick"
OPEN_NODE = "urn:example:parley:open"
PLUGINS = ("xep_0004", "xep_0030", "xep_0115", "xep_0060", "xep_0163", "xep_0172")


def is_nick(sender, nick):
    """A XEP-0172 notification of `nick` from the account `sender`."""

    def match(kind, stanza):
        if kind != "nick":
            return False
        item = stanza.xml.find(".//{http://jabber.org/protocol/pubsub#event}item")
        return str(stanza["from"]) == sender and item is not None and item.findtext(f"{{{NICK_NS}}}nick") == nick

    return match


async def iq_error(name, awaitable, condition):
    """Awaits a request that must fail with this stanza error condition; records a check."""
    try:
        result = await awaitable
        check(name, False, f"an error {condition}", str(result))
    except IqError as e:
        check(name, e.iq["error"]["condition"] == condition, condition, str(e.iq))
    except IqTimeout:
        check(name, False, f"an error {condition}", "a timeout")


async def scenario(server):
    port = server.port
    phase("1. registration, login with XEP-0115 capabilities, alice and bob subscribe to each other")
    alice = await login(ALICE_FULL, port, register=True, plugins=PLUGINS)
    bob = await login(BOB_FULL, port, register=True, plugins=PLUGINS)
    carol = await login(CAROL_FULL, port, register=True, plugins=PLUGINS)
    clients = [c for c in (alice, bob, carol) if c]
    if len(clients) != 3:
        return clients
    for client in clients:
        client.add_event_handler("user_nick_publish", lambda m, c=client: c.record("nick", m))
    a, b = alice.mark(), bob.mark()
    bob.approve.add(ALICE)
    alice.approve.add(BOB)
    alice.send_presence_subscription(pto=BOB)
    await alice.expect("alice: bob approved her subscription", is_push(BOB, "to"), a)
    bob.send_presence_subscription(pto=ALICE)
    await bob.expect("bob: alice approved his subscription", is_push(ALICE, "both"), b)
    # Capabilities as slixmpp computes them, announced again now that everything is registered.
    for client in clients:
        await client["xep_0115"].update_caps()
        await client.barrier()

    phase("2. a nickname reaches the contact whose client wants it, not the stranger")
    b, c = bob.mark(), carol.mark()
    try:
        await alice["xep_0172"].publish_nick("Alice in Wonderland", timeout=im.STEP)
        check("alice: nickname published (XEP-0172)", True)
    except (IqError, IqTimeout) as e:
        check("alice: nickname published (XEP-0172)", False, "an iq result", repr(e))
    await bob.expect("bob: alice's nickname notification (XEP-0163 §4.3)", is_nick(ALICE, "Alice in Wonderland"),
                     b)
    await carol.barrier()
    check("carol: no notification for a stranger", not carol.found(lambda k, s: k == "nick", c), "nothing",
          carol.transcript(c))
    await iq_error("carol: reading alice's nickname node is not-authorized (XEP-0060 §6.5.9.2)",
                   carol["xep_0060"].get_items(ALICE, NICK_NS, timeout=im.STEP), "not-authorized")

    phase("3. publish-options access_model=open, read by the stranger and read back by the owner")
    form = alice["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    form.add_field(var="pubsub#access_model", value="open")
    payload = ET.Element("{urn:example:parley}keys")
    payload.set("count", "3")
    try:
        await alice["xep_0060"].publish(None, OPEN_NODE, id="current", payload=payload, options=form,
                                        timeout=im.STEP)
        check("alice: published with publish-options", True)
    except (IqError, IqTimeout) as e:
        check("alice: published with publish-options", False, "an iq result", repr(e))
    try:
        items = await carol["xep_0060"].get_items(ALICE, OPEN_NODE, timeout=im.STEP)
        keys = items.xml.find(".//{urn:example:parley}keys")
        check("carol: reads the open node", keys is not None and keys.get("count") == "3",
              "<keys count='3'/>", str(items))
    except (IqError, IqTimeout) as e:
        check("carol: reads the open node", False, "an iq result", repr(e))
    try:
        config = await alice["xep_0060"].get_node_config(None, OPEN_NODE, timeout=im.STEP)
        values = config["pubsub_owner"]["configure"]["form"].get_values()
        check("alice: the configuration says access_model open", values.get("pubsub#access_model") == "open",
              "open", str(values))
    except (IqError, IqTimeout) as e:
        check("alice: the configuration says access_model open", False, "an iq result", repr(e))
    return clients


if __name__ == "__main__":
    sys.exit(im.main(scenario))
