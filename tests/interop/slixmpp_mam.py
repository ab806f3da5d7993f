#!/usr/bin/python3
"""Interop (XEP-0313 message archive, XEP-0059 paging, XEP-0359 stanza ids): python3-slixmpp's own
xep_0313 and xep_0059 plugins against a real parleyd with SQLite storage.

  1. alice and bob register in-band and log in;
  2. alice sends bob 25 chat messages; bob's copies carry <stanza-id by='bob@localhost'/>;
  3. bob pages through his archive with slixmpp's RSM iterator, 10 at a time, forward: the 25 messages
     in order, each forwarded with its <delay/>; the last one's archive id is its live stanza-id;
  4. bob pages backwards (slixmpp's reverse iteration: <before/>), 7 at a time: newest first;
  5. alice's archive (with=bob) holds the same 25 as sent; one query of 5 says count 25, not complete;
  6. a query filtered on another JID is empty.

The client, login and check helpers, and the process handling (watchdog, SIGTERM, log dump on failure)
are slixmpp_im.py's: this file supplies the scenario that its main() runs.

usage: slixmpp_mam.py PATH_TO_PARLEYD
"""
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

import slixmpp_im
from slixmpp_im import ALICE, ALICE_FULL, BOB, BOB_FULL, STEP, check, is_message, login, phase

SID_NS = "urn:xmpp:sid:0"
COUNT = 25


def stanza_id(message, by):
    for element in message.xml.findall(f"{{{SID_NS}}}stanza-id"):
        if element.get("by") == by:
            return element.get("id")
    return None


def forwarded(result_message):
    """The archived message and the archive id of one MAM result."""
    result = result_message["mam_result"]
    return result["forwarded"]["stanza"], result["id"]


async def collect(client, **kwargs):
    """Every message of a paged MAM query, with the pages' sizes."""
    messages, pages = [], []
    async for page in client["xep_0313"].retrieve(iterator=True, **kwargs):
        results = page["mam"]["results"]
        pages.append(len(results))
        messages.extend(forwarded(result) for result in results)
    return messages, pages


async def scenario(server):
    phase("alice and bob register and log in")
    alice = await login(ALICE_FULL, server.port, register=True)
    bob = await login(BOB_FULL, server.port, register=True)
    clients = [client for client in (alice, bob) if client]
    if len(clients) < 2:
        return clients
    for client in clients:
        client.register_plugin("xep_0059")
        client.register_plugin("xep_0313")

    phase(f"alice sends bob {COUNT} messages; bob's copies carry XEP-0359 stanza ids")
    mark = bob.mark()
    sent = [f"mam {i:02d}" for i in range(COUNT)]
    for body in sent:
        alice.send_message(mto=BOB, mbody=body, mtype="chat")
    last = await bob.expect(f"bob: message {COUNT}", is_message(ALICE_FULL, sent[-1]), mark)
    live = bob.found(lambda kind, stanza: kind == "message" and stanza["body"].startswith("mam "), mark)
    ids = [stanza_id(message, BOB) for message in live]
    check("bob: every live copy has a stanza-id by bob@localhost, all different",
          len(ids) == COUNT and all(ids) and len(set(ids)) == COUNT, f"{COUNT} distinct ids", ids)

    phase("bob pages forward through his archive, 10 at a time (XEP-0059 after)")
    try:
        messages, pages = await collect(bob, with_jid=slixmpp.JID(ALICE), rsm={"max": 10})
    except (IqError, IqTimeout) as e:
        messages, pages = [], [repr(e)]
    bodies = [message["body"] for message, _ in messages]
    check("bob: the 25 messages in order", bodies == sent, sent, bodies)
    check("bob: pages of 10, 10 and 5 (then an empty page ends the iteration)", pages[:3] == [10, 10, 5],
          "[10, 10, 5, ...]", pages)
    check("bob: each result forwards alice's message (XEP-0297)",
          messages and all(str(message["from"]) == ALICE_FULL for message, _ in messages),
          f"from {ALICE_FULL}", [str(message["from"]) for message, _ in messages][:3])
    archive_ids = [archive_id for _, archive_id in messages]
    check("bob: the archive ids are the live stanza-ids", archive_ids == ids, ids, archive_ids)

    phase("bob pages backwards, 7 at a time (XEP-0059 before)")
    try:
        messages, pages = await collect(bob, reverse=True, rsm={"max": 7})
    except (IqError, IqTimeout) as e:
        messages, pages = [], [repr(e)]
    bodies = [message["body"] for message, _ in messages]
    # slixmpp's reverse iterator yields the pages newest first, each page in archive order.
    expected = sent[-7:] + sent[-14:-7] + sent[-21:-14] + sent[:-21]
    check("bob: the pages newest first, each in archive order", bodies == expected, expected, bodies)

    phase("alice's archive holds what she sent")
    try:
        result = await alice["xep_0313"].retrieve(with_jid=slixmpp.JID(BOB), rsm={"max": 5}, timeout=STEP)
        fin = result["mam_fin"]
        bodies = [forwarded(message)[0]["body"] for message in result["mam"]["results"]]
        count, complete = fin["rsm"]["count"], fin.xml.get("complete")
    except (IqError, IqTimeout) as e:
        bodies, count, complete = [], repr(e), None
    check("alice: the first page of 5", bodies == sent[:5], sent[:5], bodies)
    check("alice: count 25, not complete", str(count) == str(COUNT) and complete == "false",
          f"count {COUNT}, complete='false'", f"count {count}, complete={complete}")
    try:
        result = await alice["xep_0313"].retrieve(with_jid=slixmpp.JID("nobody@localhost"), timeout=STEP)
        empty = len(result["mam"]["results"]) == 0 and result["mam_fin"].xml.get("complete") == "true"
    except (IqError, IqTimeout) as e:
        empty = repr(e)
    check("alice: nothing with another JID, complete", empty is True, "no results, complete='true'", empty)
    return clients


if __name__ == "__main__":
    # slixmpp_im.main() runs `scenario` from its own module globals: give it this one.
    slixmpp_im.scenario = scenario
    sys.exit(slixmpp_im.main())
