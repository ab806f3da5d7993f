#!/usr/bin/python3
"""Reliability row 35: parleyd runs out of file descriptors (EMFILE) under a connection flood, backs
off instead of spinning, and serves new clients again once the flood is gone.

usage: emfile_test.py PATH_TO_PARLEYD
"""
import resource
import socket
import subprocess
import sys
import time

from parleyd_process import Parleyd

HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>")
results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(("ok    " if condition else "FAIL  ") + name + (f": {detail}" if detail and not condition else ""))


def greets(port, timeout=10):
    """True if a new client gets a stream header back."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(HEADER)
            data = b""
            while b"<stream:features" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                data += chunk
            return True
    except OSError:
        return False


def main():
    server = Parleyd(sys.argv[1])
    limit = 64  # descriptors for the whole server: a few dozen connections exhaust it

    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    original_popen = subprocess.Popen

    def popen_with_limit(*args, **kwargs):
        kwargs["preexec_fn"] = low_fd_limit
        return original_popen(*args, **kwargs)

    subprocess.Popen = popen_with_limit
    try:
        server.start()
    finally:
        subprocess.Popen = original_popen
    flood = []
    try:
        check("serves a client before the flood", greets(server.port))
        # Loopback is exempt from per-address limits, so the flood reaches the descriptor limit.
        for _ in range(3 * limit):
            try:
                flood.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            except OSError:
                break
        check("hits EMFILE and backs off", server.wait_for_log("pausing new connections", 15))
        check("still running during the flood", server.process.poll() is None)
        for s in flood:
            s.close()
        flood.clear()
        recovered = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not recovered:
            recovered = greets(server.port, timeout=5)
        check("serves new clients once the flood is gone", recovered)
    finally:
        for s in flood:
            s.close()
        code = server.stop()
        check("exits cleanly on SIGTERM", code == 0, f"exit code {code}")
        if not all(results):
            server.dump_log()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
