#!/usr/bin/python3
"""Integration test of parleyctl (server/main/src/parleyctl.cpp): `check` on good and bad
configurations, the account commands on the SQLite database (adduser, users, passwd, deluser, and
release of a deleted account's tombstone), `modules`, and with a running parleyd: `status`,
`sessions`, that passwd/deluser close the account's streams and that deluser goes through the server. Clients are raw sockets over direct TLS (XEP-0368) with SASL PLAIN.

usage: parleyctl_test.py PATH_TO_PARLEYCTL PATH_TO_PARLEYD
Prints one line per check and "N passed, M failed"; exits 1 on any failure.
"""
import base64
import os
import re
import socket
import ssl
import subprocess
import sys
import time

from parleyd_process import Parleyd

results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(("ok    " if condition else "FAIL  ") + name + (f": {detail}" if detail and not condition else ""))
    return bool(condition)


class Ctl:
    def __init__(self, binary, config):
        self.binary = binary
        self.config = config

    def run(self, *args, password=None, config=None):
        env = dict(os.environ)
        env.pop("PARLEY_PASSWORD", None)
        if password is not None:
            env["PARLEY_PASSWORD"] = password
        command = [self.binary, "--config", config or self.config, *args]
        # stdin is not a terminal and empty: parleyctl must never wait for a prompt here.
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60)
        return done.returncode, done.stdout, done.stderr


def describe(result):
    code, out, err = result
    return f"exit {code}, stdout {out.strip()!r}, stderr {err.strip()!r}"


class RawClient:
    """A minimal blocking XMPP client: direct TLS, SASL PLAIN, bind. Every read has a deadline."""

    def __init__(self, port):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # parleyd's certificate is self-signed
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.buffer = ""
        self.closed = False

    def send(self, text):
        self.sock.sendall(text.encode())

    def read_until(self, pattern, timeout=10):
        """Reads until `pattern` (a regex) matches the unread text; returns the match or None."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.buffer, re.S)
            if match:
                self.buffer = self.buffer[match.end():]
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return None
            if not data:
                self.closed = True
                continue
            self.buffer += data.decode(errors="replace")

    def open_stream(self):
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>")
        return self.read_until(r"<stream:features>.*?</stream:features>")

    def login(self, user, password, resource):
        """Returns the bound full JID, or None."""
        if not self.open_stream():
            return None
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        reply = self.read_until(r"<(success|failure)\b")
        if not reply or reply.group(1) != "success":
            return None
        if not self.open_stream():
            return None
        self.send(f"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  f"<resource>{resource}</resource></bind></iq>")
        bound = self.read_until(r"<jid>([^<]*)</jid>")
        return bound.group(1) if bound else None

    def stream_error(self, timeout=10):
        """The condition of the next stream error, or None."""
        match = self.read_until(r"<stream:error>\s*<([a-z-]+)", timeout)
        return match.group(1) if match else None

    def wait_closed(self, timeout=10):
        self.read_until(r"(?!)", timeout)  # never matches: reads until EOF or the deadline
        return self.closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    ctl_binary, parleyd_binary = sys.argv[1], sys.argv[2]
    server = Parleyd(parleyd_binary, registration="closed")
    ctl = Ctl(ctl_binary, server.config)
    try:
        run_checks(ctl, server)
    finally:
        server.stop()
    failed = results.count(False)
    print(f"{results.count(True)} passed, {failed} failed")
    if failed:
        server.dump_log()
    return 1 if failed else 0


def run_checks(ctl, server):
    # --- check -----------------------------------------------------------------------------------
    result = ctl.run("check")
    check("check accepts a good configuration", result[0] == 0 and "configuration OK" in result[1], describe(result))

    bad = os.path.join(server.dir, "bad.toml")
    with open(server.config) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace(f"port = {server.port}", "port = 70000", 1))
    result = ctl.run("check", config=bad)
    check("check refuses an out-of-range port, exit code 2", result[0] == 2, describe(result))
    check("check names the file and the key", "bad.toml" in result[2] and re.search(r"listener\[\d\]\.port", result[2])
          and "70000" in result[2], describe(result))
    check("check prints nothing on stdout for a bad configuration", result[1] == "", describe(result))

    unknown = os.path.join(server.dir, "unknown.toml")
    with open(unknown, "w") as f:
        f.write(text + "\n[limits]\nmax_stanza_bytez = 1000\n")
    result = ctl.run("check", config=unknown)
    check("check refuses an unknown key and names it", result[0] != 0 and "max_stanza_bytez" in result[2],
          describe(result))

    # --- modules ---------------------------------------------------------------------------------
    result = ctl.run("modules")
    names = [line.split("\t")[0] for line in result[1].splitlines()]
    check("modules lists the built-in modules", result[0] == 0 and
          all(name in names for name in ["disco", "ping", "version", "time", "register"]), describe(result))
    check("modules names the XEPs", "XEP-0077" in result[1] and "XEP-0199" in result[1], describe(result))

    # --- accounts without a running server -------------------------------------------------------
    result = ctl.run("status")
    check("status without a server exits 3 and says so", result[0] == 3 and "no running parleyd" in result[2],
          describe(result))

    result = ctl.run("adduser", "alice@localhost", password="alice-1")
    check("adduser with PARLEY_PASSWORD", result[0] == 0 and "created alice@localhost" in result[1],
          describe(result))

    password_file = os.path.join(server.dir, "bob.password")
    with open(password_file, "w") as f:
        f.write("bob-secret\n")
    result = ctl.run("adduser", "bob@localhost", "--password-file", password_file)
    check("adduser with --password-file", result[0] == 0 and "created bob@localhost" in result[1], describe(result))

    result = ctl.run("adduser", "carol@localhost", "--password-file", os.path.join(server.dir, "missing"))
    check("adduser with an unreadable password file fails and names it",
          result[0] != 0 and "missing" in result[2], describe(result))

    result = ctl.run("adduser", "alice@localhost", password="other")
    check("adduser of an existing account fails clearly", result[0] != 0 and "alice@localhost" in result[2]
          and "exists" in result[2], describe(result))

    result = ctl.run("adduser", "dave@elsewhere.example", password="x")
    check("adduser on a host not in the configuration fails", result[0] != 0 and "elsewhere.example" in result[2],
          describe(result))

    result = ctl.run("adduser", "not a jid", password="x")
    check("adduser of an invalid address fails", result[0] != 0 and "not a jid" in result[2], describe(result))

    result = ctl.run("users")
    check("users lists the accounts", result[0] == 0 and result[1].split() == ["alice@localhost", "bob@localhost"],
          describe(result))

    result = ctl.run("deluser", "bob@localhost")
    check("deluser", result[0] == 0 and "deleted bob@localhost" in result[1], describe(result))
    result = ctl.run("users", "localhost")
    check("users no longer lists the deleted account", result[0] == 0 and result[1].split() == ["alice@localhost"],
          describe(result))

    result = ctl.run("deluser", "nobody@localhost")
    check("deluser of an unknown user fails with a clear message",
          result[0] != 0 and "nobody@localhost" in result[2] and "no such account" in result[2], describe(result))

    # A deleted account leaves a tombstone: the name stays taken until an administrator releases it.
    result = ctl.run("adduser", "bob@localhost", password="bob-2")
    check("adduser of a deleted name fails, says why and how to release it",
          result[0] != 0 and "bob@localhost" in result[2] and "deleted" in result[2]
          and "parleyctl release bob@localhost" in result[2], describe(result))
    result = ctl.run("release", "alice@localhost")
    check("release of a live account fails clearly", result[0] != 0 and "alice@localhost" in result[2]
          and "exists" in result[2], describe(result))
    result = ctl.run("release", "nobody@localhost")
    check("release of a name never deleted fails clearly", result[0] != 0 and "nobody@localhost" in result[2]
          and "no deleted account" in result[2], describe(result))
    result = ctl.run("release", "bob@localhost")
    check("release of a deleted name", result[0] == 0 and "released bob@localhost" in result[1], describe(result))
    result = ctl.run("adduser", "bob@localhost", password="bob-2")
    check("adduser after release", result[0] == 0 and "created bob@localhost" in result[1], describe(result))
    result = ctl.run("deluser", "bob@localhost")
    check("deluser of the new account", result[0] == 0 and "deleted bob@localhost" in result[1], describe(result))
    result = ctl.run("--help")
    check("the help text names release", result[0] == 0 and "release JID" in result[1], describe(result))

    result = ctl.run("passwd", "nobody@localhost", password="x")
    check("passwd of an unknown user fails", result[0] != 0 and "no such account" in result[2], describe(result))

    result = ctl.run("passwd", "alice@localhost", password="alice-2")
    check("passwd", result[0] == 0 and "password changed for alice@localhost" in result[1], describe(result))

    # --- with a running server -------------------------------------------------------------------
    server.start()
    result = ctl.run("status")
    check("status of a running server", result[0] == 0 and "parleyd is running" in result[1]
          and re.search(r"^sessions 0$", result[1], re.M), describe(result))

    stale = RawClient(server.direct_port)
    check("the password before passwd no longer works", stale.login("alice", "alice-1", "old") is None)
    stale.close()

    alice = RawClient(server.direct_port)
    jid = alice.login("alice", "alice-2", "laptop")
    check("the password set by passwd logs in", jid == "alice@localhost/laptop", repr(jid))

    result = ctl.run("sessions")
    check("sessions lists the logged-in resource", result[0] == 0 and "alice@localhost/laptop" in result[1],
          describe(result))
    result = ctl.run("status")
    check("status counts the session", result[0] == 0 and re.search(r"^sessions 1$", result[1], re.M),
          describe(result))

    result = ctl.run("passwd", "alice@localhost", password="alice-3")
    check("passwd while the user is logged in", result[0] == 0, describe(result))
    condition = alice.stream_error()
    check("passwd closes the user's session", condition == "not-authorized" and alice.wait_closed(), repr(condition))
    alice.close()

    alice = RawClient(server.direct_port)
    jid = alice.login("alice", "alice-3", "phone")
    check("the new password logs in", jid == "alice@localhost/phone", repr(jid))

    result = ctl.run("deluser", "alice@localhost")
    check("deluser of a logged-in user", result[0] == 0 and "deleted alice@localhost" in result[1], describe(result))
    condition = alice.stream_error()
    check("deluser closes the user's session with not-authorized", condition == "not-authorized", repr(condition))
    check("the server closes the connection", alice.wait_closed())
    alice.close()
    # Through the admin socket, so that the server's modules hear of it (AccountDeleted).
    check("a running server deletes the account itself",
          server.wait_for_log("account deleted by parleyctl: alice@localhost", 10))

    result = ctl.run("deluser", "alice@localhost")
    check("deluser of an unknown user with a running server fails clearly",
          result[0] != 0 and "alice@localhost" in result[2] and "no such account" in result[2], describe(result))
    result = ctl.run("adduser", "alice@localhost", password="alice-4")
    check("adduser of the name deleted by the running server fails",
          result[0] != 0 and "deleted" in result[2] and "parleyctl release alice@localhost" in result[2],
          describe(result))
    result = ctl.run("release", "alice@localhost")
    check("release while the server runs", result[0] == 0 and "released alice@localhost" in result[1],
          describe(result))
    result = ctl.run("adduser", "alice@localhost", password="alice-4")
    check("adduser after release while the server runs", result[0] == 0, describe(result))
    fresh = RawClient(server.direct_port)
    jid = fresh.login("alice", "alice-4", "new")
    check("the new account logs in", jid == "alice@localhost/new", repr(jid))
    result = ctl.run("deluser", "alice@localhost")
    check("deluser of the new account", result[0] == 0 and "deleted alice@localhost" in result[1], describe(result))
    condition = fresh.stream_error()
    check("deluser closes the new account's session too", condition == "not-authorized" and fresh.wait_closed(),
          repr(condition))
    fresh.close()

    result = ctl.run("sessions")
    check("sessions is empty after deluser", result[0] == 0 and result[1].strip() == "", describe(result))
    again = RawClient(server.direct_port)
    check("a deleted user cannot log in", again.login("alice", "alice-3", "again") is None)
    again.close()
    result = ctl.run("users")
    check("users is empty", result[0] == 0 and result[1].strip() == "", describe(result))


if __name__ == "__main__":
    sys.exit(main())
