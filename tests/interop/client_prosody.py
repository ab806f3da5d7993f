"""Interop (issue 5): the `parley` command line, and through it the client library, against Prosody
(Debian's package), to show that the client is not tuned to our own server. A new user's script:
register two accounts, add a friend and accept, list the roster, chat (one side listening with
--json), and read the history from Prosody's archive (mod_mam).

Exits 77 (skipped) when there is no prosody binary; scripts/install-deps.sh installs Debian's.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from peer_servers import PeerUnavailable, Prosody

PARLEY = sys.argv[1]
WAIT = 20  # seconds any one command may take; only a failure waits this long


def main():
    binary = shutil.which("prosody")
    if not binary:
        print("SKIP: no prosody binary on PATH (scripts/install-deps.sh installs Debian's package)")
        return 77
    try:
        prosody = Prosody().start()  # with mod_mam, mod_smacks and vcard_legacy among its modules
    except PeerUnavailable as why:
        print(f"SKIP: {why}")
        return 77
    home = tempfile.mkdtemp(prefix="parley-cli-prosody-")
    failures = []

    def parley(user, *args, stdin=None):
        env = dict(os.environ, PARLEY_PASSWORD=user + "-secret")
        command = [PARLEY, "--config-dir", os.path.join(home, user), *args]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=WAIT)
        return done.returncode, done.stdout + done.stderr

    def check(name, condition, detail=""):
        print(("ok    " if condition else "FAIL  ") + name + ("" if condition else ": " + detail))
        if not condition:
            failures.append(name)

    try:
        connection = ["--host", "127.0.0.1", "--port", str(prosody.port), "--trust-cert",
                      prosody.cert]
        for user in ("alice", "bob"):
            code, out = parley(user, "register", f"{user}@localhost", *connection)
            check(f"register {user}", code == 0, out)
        code, out = parley("alice", "roster", "add", "bob@localhost", "Bob")
        check("alice adds bob", code == 0, out)
        code, out = parley("bob", "roster", "approve", "alice@localhost")
        check("bob approves alice", code == 0, out)
        code, out = parley("alice", "roster", "list", "--verbose")
        print("".join("      " + l + "\n" for l in out.splitlines() if "connected to" in l), end="")
        check("alice's roster shows bob with subscription 'to'", code == 0 and "bob@localhost\tBob\tto" in out, out)

        # Bob listens; Alice sends one message as arguments and one on standard input.
        env = dict(os.environ, PARLEY_PASSWORD="bob-secret")
        listen = subprocess.Popen([PARLEY, "--config-dir", os.path.join(home, "bob"), "listen", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        lines = []
        got_both = threading.Event()

        def pump():
            for line in listen.stdout:
                lines.append(line.rstrip())
                if sum('"type":"message"' in l for l in lines) >= 2:
                    got_both.set()
            got_both.set()

        threading.Thread(target=pump, daemon=True).start()
        code, out = parley("alice", "send", "bob@localhost", "hello", "from", "parley")
        check("alice sends a message", code == 0, out)
        code, out = parley("alice", "send", "bob@localhost", stdin="disk full on db1\n")
        check("alice sends standard input", code == 0, out)
        got_both.wait(WAIT)
        listen.send_signal(signal.SIGTERM)
        try:
            listen.wait(WAIT)
        except subprocess.TimeoutExpired:
            listen.kill()
        bodies = [json.loads(l).get("body") for l in lines if l.startswith("{") and '"type":"message"' in l]
        check("bob's listen --json printed both messages (live or from offline storage)",
              "hello from parley" in bodies and "disk full on db1" in bodies, "\n".join(lines))
        check("listen ends with exit code 0 on SIGTERM", listen.returncode == 0, str(listen.returncode))

        code, out = parley("bob", "history", "alice@localhost", "--json")
        history = [json.loads(l).get("body") for l in out.splitlines() if l.startswith("{")]
        check("bob's history from Prosody's archive (XEP-0313)",
              code == 0 and history[-2:] == ["hello from parley", "disk full on db1"], out)

        code, out = parley("alice", "login", "alice@localhost", "--host", "127.0.0.1", "--port", str(prosody.port))
        check("an untrusted certificate exits 3 and names the fingerprint option",
              code == 3 and "--trust-fingerprint" in out, out)
    finally:
        prosody.stop()
        shutil.rmtree(home, ignore_errors=True)
    if failures:
        print(f"\n{len(failures)} failed: " + ", ".join(failures))
        return 1
    print("\nall passed against Prosody")
    return 0


if __name__ == "__main__":
    sys.exit(main())
