#!/usr/bin/python3
"""Interop: python3-slixmpp registers an account in-band (XEP-0077), logs in over STARTTLS with
SCRAM-SHA-256, binds, and gets the right answers to iqs (ping, version, disco#info, an unknown
namespace). A second client then logs in with the new account and exchanges a message with the first.

usage: slixmpp_basic.py PATH_TO_PARLEYD
"""
import asyncio
import os
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError

from parleyd_process import Parleyd

results = []


def check(name, condition, detail=""):
    results.append((name, bool(condition)))
    print(("ok    " if condition else "FAIL  ") + name + (f": {detail}" if detail and not condition else ""))


def insecure(client):
    # The test server's certificate is self-signed.
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_mode = ssl.CERT_NONE


class Registrar(slixmpp.ClientXMPP):
    """Registers user/password in-band, then logs in with them."""

    def __init__(self, jid, password):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-256")
        insecure(self)
        self.register_plugin("xep_0077")
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0092")
        self.register_plugin("xep_0199")
        self["xep_0077"].force_registration = True
        # COMPAT: slixmpp 1.8.3 holds back every stanza sent before its session starts, including the
        # XEP-0077 iqs its own plugin sends before authentication; this lets them through.
        self._always_send_everything = True
        self.add_event_handler("register", self.on_register)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_all_auth", lambda *_: self.done.done() or self.done.set_result("auth failed"))
        self.done = asyncio.get_event_loop().create_future()
        self.registered = False

    async def on_register(self, _):
        iq = self.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = self.boundjid.user
        iq["register"]["password"] = self.password
        try:
            await iq.send()
            self.registered = True
        except IqError as e:
            check("in-band registration", False, str(e.iq["error"]["condition"]))
            self.disconnect()

    async def on_start(self, _):
        try:
            check("in-band registration", self.registered)
            check("bound a full JID", self.boundjid.resource != "", str(self.boundjid))
            check("TLS is on", self.is_secure if hasattr(self, "is_secure") else True)
            rtt = await self["xep_0199"].ping(jid="localhost", timeout=10)
            check("XEP-0199 ping answered", rtt is not None)
            version = await self["xep_0092"].get_version("localhost", timeout=10)
            check("XEP-0092 version", version["software_version"]["name"] == "Parley", str(version))
            info = await self["xep_0030"].get_info(jid="localhost", timeout=10)
            features = info["disco_info"]["features"]
            check("XEP-0030 disco#info lists ping", "urn:xmpp:ping" in features, str(features))
            iq = self.Iq()
            iq["type"] = "get"
            iq["to"] = "localhost"
            iq.append(slixmpp.xmlstream.ET.Element("{urn:example:unknown}query"))
            try:
                await iq.send(timeout=10)
                check("unknown iq gets service-unavailable", False, "got a result")
            except IqError as e:
                check("unknown iq gets service-unavailable", e.iq["error"]["condition"] == "service-unavailable",
                      e.iq["error"]["condition"])
            self.send_presence()
            self.done.set_result("ok")
        except Exception as e:  # report, do not hang
            check("session", False, repr(e))
            self.done.set_result("error")


class Chatter(slixmpp.ClientXMPP):
    """Logs in with slixmpp's default mechanism choice (it tries -PLUS with tls-unique first)."""

    def __init__(self, jid, password):
        super().__init__(jid, password)
        insecure(self)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        # failed_auth fires for each mechanism slixmpp gives up on; failed_all_auth when none is left.
        self.add_event_handler("failed_all_auth", lambda *_: self.started.done() or self.started.set_result(False))
        self.started = asyncio.get_event_loop().create_future()
        self.received = asyncio.get_event_loop().create_future()

    async def on_start(self, _):
        # (No roster request: rosters come with the IM issue; the server answers service-unavailable.)
        self.send_presence()
        self.started.set_result(True)

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and not self.received.done():
            self.received.set_result(msg)


async def scenario(port):
    alice = Registrar("alice@localhost/laptop", "correct horse battery")
    alice.connect(("127.0.0.1", port))
    outcome = await asyncio.wait_for(alice.done, 60)
    check("first client finished", outcome == "ok", outcome)

    bob = Registrar("bob@localhost/phone", "staple")
    bob.connect(("127.0.0.1", port))
    await asyncio.wait_for(bob.done, 60)

    # Wrong password: the login fails.
    wrong = Chatter("alice@localhost/x", "wrong password")
    wrong.connect(("127.0.0.1", port))
    try:
        ok = await asyncio.wait_for(wrong.started, 30)
    except asyncio.TimeoutError:
        ok = False
    check("a wrong password is refused", ok is False)
    wrong.disconnect()

    alice2 = Chatter("alice@localhost/desktop", "correct horse battery")
    alice2.connect(("127.0.0.1", port))
    check("the registered account logs in again", await asyncio.wait_for(alice2.started, 30))
    bob.send_message(mto="alice@localhost/desktop", mbody="hello from bob", mtype="chat")
    msg = await asyncio.wait_for(alice2.received, 30)
    check("message delivered with the sender's full JID", str(msg["from"]) == "bob@localhost/phone", str(msg["from"]))
    check("message body intact", msg["body"] == "hello from bob", msg["body"])
    for client in (alice, bob, alice2):
        client.disconnect()
    await asyncio.sleep(0)


def main():
    logging.basicConfig(level=logging.DEBUG if os.environ.get("PARLEY_INTEROP_DEBUG") else logging.WARNING)
    server = Parleyd(sys.argv[1]).start()
    try:
        asyncio.get_event_loop().run_until_complete(asyncio.wait_for(scenario(server.port), 180))
    except Exception as e:
        check("scenario completed", False, repr(e))
    finally:
        code = server.stop()
        check("parleyd exits cleanly on SIGTERM", code == 0, f"exit code {code}")
        if not all(ok for _, ok in results):
            server.dump_log()
    failed = sum(1 for _, ok in results if not ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
