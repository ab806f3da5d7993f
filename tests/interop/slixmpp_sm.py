#!/usr/bin/python3
"""Interop (XEP-0198 stream management): python3-slixmpp's xep_0198 plugin resumes its session after its
TCP connection is cut, against a real parleyd.

  1. alice (with xep_0198) and bob register in-band and log in; alice's client enables stream management
     with resumption and gets an id;
  2. bob sends alice three messages, which she receives;
  3. alice sends bob a message (bob gets it; alice gets no acknowledgement), then her TCP connection is
     aborted (no closing tag) while bob's next two messages are on their way; bob sends three more while
     she is away;
  4. alice's client connects again, authenticates and resumes (<resume previd h/>): it gets <resumed/>,
     then the five messages it had not received, once each and in order, and none of the first three again;
  5. bob received alice's message exactly once (the server counted it in the h of <resumed/>, so a client
     does not send it again); the session goes on: a new message each way.

usage: slixmpp_sm.py PATH_TO_PARLEYD
"""
import asyncio
import sys

import slixmpp_im as im

ALICE_FULL = im.ALICE_FULL
BOB_FULL = im.BOB_FULL


async def connect(full_jid, port, stream_management):
    """Registers the account, logs in and sends presence; with `stream_management`, waits until the
    xep_0198 plugin has stream management enabled. Returns the client or None."""
    client = im.Client(full_jid, register=True)
    client.enabled = asyncio.get_event_loop().create_future()
    client.resumed = None
    if stream_management:
        client.register_plugin("xep_0198")
        client.add_event_handler("sm_enabled", lambda _: client.enabled.done() or client.enabled.set_result(True))
    client.connect(("127.0.0.1", port))
    try:
        started = await asyncio.wait_for(client.started, im.STEP)
    except asyncio.TimeoutError:
        started = False
    if not im.check(f"{client.label}: logged in as {full_jid}", started and str(client.boundjid) == full_jid,
                    f"session with bound JID {full_jid}", f"started={started} bound={client.boundjid}"):
        client.abort()
        return None
    client.send_presence()
    if stream_management:
        try:
            await asyncio.wait_for(client.enabled, im.STEP)
        except asyncio.TimeoutError:
            pass
        plugin = client["xep_0198"]
        if not im.check("alice: stream management enabled with a resumption id (XEP-0198 §3, §5)",
                        client.enabled.done() and plugin.sm_id, "<enabled id resume='true'/>",
                        f"enabled={client.enabled.done()} id={plugin.sm_id}"):
            return None
    return client


def bodies_from(client, sender, since=0):
    return [stanza["body"] for kind, stanza, _ in client.events[since:]
            if kind == "message" and str(stanza["from"]) == sender]


async def scenario(server):
    im.phase("1. login, alice enables stream management")
    alice = await connect(ALICE_FULL, server.port, True)
    bob = await connect(BOB_FULL, server.port, False)
    if not alice or not bob:
        return
    await bob.barrier()

    im.phase("2. messages while connected")
    for n in (1, 2, 3):
        bob.send_message(mto=ALICE_FULL, mbody=f"m{n}", mtype="chat")
    await alice.expect("alice: got m3", im.is_message(BOB_FULL, "m3"))

    im.phase("3. alice's connection is cut")
    # Handled by the server (bob has it) but never acknowledged to alice: her client still holds it.
    alice.send_message(mto=BOB_FULL, mbody="from alice before the cut", mtype="chat")
    await bob.expect("bob: alice's message from before the cut", im.is_message(ALICE_FULL, "from alice before the cut"))
    for n in (4, 5):
        bob.send_message(mto=ALICE_FULL, mbody=f"m{n}", mtype="chat")
    alice.resumed = asyncio.get_event_loop().create_future()
    alice.add_event_handler("session_resumed",
                            lambda _: alice.resumed.done() or alice.resumed.set_result(True))
    alice.add_event_handler("sm_failed", lambda _: alice.resumed.done() or alice.resumed.set_result(False))
    disconnected = alice.disconnected
    alice.abort()  # TCP closed, no </stream:stream>: the server keeps the session (XEP-0198 §5)
    try:
        await asyncio.wait_for(disconnected, im.STEP)
    except asyncio.TimeoutError:
        pass
    await bob.barrier()
    for n in (6, 7, 8):
        bob.send_message(mto=ALICE_FULL, mbody=f"m{n}", mtype="chat")
    await bob.barrier()
    im.check("bob: no error for the messages sent while alice was away",
             not bob.found(lambda kind, _: kind == "message_error"), "no <message type='error'/>",
             bob.transcript())

    im.phase("4. alice reconnects and resumes")
    alice["xep_0077"].create_account = False  # the account exists: log in, do not register again
    alice["xep_0077"].force_registration = False
    alice.connect(("127.0.0.1", server.port))
    try:
        resumed = await asyncio.wait_for(alice.resumed, im.STEP)
    except asyncio.TimeoutError:
        resumed = None
    if not im.check("alice: session resumed (<resumed/>, XEP-0198 §5)", resumed is True, "<resumed/>",
                    f"resumed={resumed}"):
        return
    im.check("alice: the same full JID after resumption", str(alice.boundjid) == ALICE_FULL, ALICE_FULL,
             str(alice.boundjid))
    await alice.expect("alice: got m8 after resuming", im.is_message(BOB_FULL, "m8"))
    await alice.barrier()
    got = bodies_from(alice, BOB_FULL)
    im.check("alice: every message exactly once, in order", got == [f"m{n}" for n in range(1, 9)],
             "m1 .. m8", got)

    im.phase("5. the session goes on")
    alice.send_message(mto=BOB_FULL, mbody="from alice after resuming", mtype="chat")
    await bob.expect("bob: alice's message after resuming", im.is_message(ALICE_FULL, "from alice after resuming"))
    bob.send_message(mto=ALICE_FULL, mbody="m9", mtype="chat")
    await alice.expect("alice: got m9", im.is_message(BOB_FULL, "m9"))
    await bob.barrier()
    from_alice = bodies_from(bob, ALICE_FULL)
    im.check("bob: alice's messages exactly once each",
             from_alice == ["from alice before the cut", "from alice after resuming"],
             "the two messages, once each", from_alice)
    await alice.leave()
    await bob.leave()


async def run(server):
    try:
        await asyncio.wait_for(scenario(server), im.SCENARIO)
    except asyncio.TimeoutError:
        im.check("scenario finished in time", False, f"within {im.SCENARIO} s", "timeout")


if __name__ == "__main__":
    sys.exit(im.main(run))
