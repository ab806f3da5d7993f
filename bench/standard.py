#!/usr/bin/env python3
"""Runs parley-bench against a private parleyd: the standard set (`make bench`) or a small smoke run (the
ctest `bench.smoke`, which checks only that every scenario completes with nothing lost or duplicated and
valid JSON, never a timing).

parleyd gets a temporary data directory, a STARTTLS listener that does not require TLS (so that the
plaintext figures can be measured) and a direct TLS listener on free loopback ports, open registration,
and limits raised so that they do not throttle the load (bench/README.md)."""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

CONFIG = """
data_dir = "{dir}/var"
log_level = "warn"
threads = {threads}
# The bench measures PLAIN and registration without TLS too.
allow_plain_without_tls = true

[[host]]
domain = "localhost"
registration = "open"

[[listener]]
address = "127.0.0.1"
port = {port}
tls = "starttls"
require_tls = false

[[listener]]
address = "127.0.0.1"
port = {direct_port}
tls = "direct"

[storage]
backend = "sqlite"

[limits]
presence_per_second = 0
outbound_queue_stanzas = 100000
outbound_queue_bytes = "64MiB"

[timeouts]
idle = "1h"

[modules.offline]
max_messages = 0
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, parleyd, parleyctl, threads):
        self.parleyd = parleyd
        self.parleyctl = parleyctl
        self.dir = tempfile.mkdtemp(prefix="parley-bench-")
        self.port = free_port()
        self.direct_port = free_port()
        self.config = os.path.join(self.dir, "parley.toml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=self.dir, threads=threads, port=self.port, direct_port=self.direct_port))
        self.process = None

    def start(self, timeout=30):
        self.log = open(os.path.join(self.dir, "parleyd.log"), "w")
        self.process = subprocess.Popen([self.parleyd, "--config", self.config], stdout=subprocess.DEVNULL,
                                        stderr=self.log)
        # Ready when the listener accepts (bounded: a parleyd that does not start fails the run).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("parleyd exited at start:\n" + self.read_log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("parleyd did not listen within %d s:\n%s" % (timeout, self.read_log()))

    def read_log(self):
        self.log.flush()
        with open(os.path.join(self.dir, "parleyd.log")) as f:
            return f.read()[-4000:]

    def add_users(self, prefix, first, last):
        env = dict(os.environ, PARLEY_PASSWORD="bench")
        started = time.monotonic()
        result = subprocess.run([self.parleyctl, "--config", self.config, "adduser-range", prefix, str(first),
                                 str(last), "localhost", "--same-salt"], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("parleyctl adduser-range failed:\n" + result.stderr + result.stdout)
        return time.monotonic() - started

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_bench(bench, server, args, label="parley", quiet=False):
    command = [bench] + args + ["--port", str(server.direct_port if "direct" in args else server.port),
                                "--server-pid", str(server.process.pid), "--label", label]
    print("$ " + " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(command)), flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE if quiet else None, text=True,
                            timeout=900)
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError("parley-bench printed no JSON (exit %d)%s" %
                           (result.returncode, ":\n" + result.stderr if quiet else ""))
    figures = json.loads(lines[-1])
    if result.returncode != 0:
        raise RuntimeError("parley-bench %s failed (exit %d): %s\n%s" %
                           (args[0], result.returncode, lines[-1], result.stderr if quiet else ""))
    return figures


def smoke(bench, server):
    """Every scenario with small numbers: completes, valid JSON, nothing lost, duplicated or reordered."""
    server.add_users("bench", 1, 30)
    common = ["--threads", "2", "--timeout", "20"]
    runs = [
        ["register", "--users", "3", "--user-prefix", "smoke"],
        ["register", "--users", "3", "--user-prefix", "smoke"],  # again: the accounts exist already
        ["roster", "--users", "8", "--contacts", "2"],
        ["idle", "--sessions", "10", "--rate", "100", "--hold", "0.2"],
        ["login", "--users", "5", "--duration", "0.5"],
        ["login", "--users", "5", "--duration", "0.5", "--mech", "PLAIN"],
        ["login", "--users", "5", "--duration", "0.5", "--tls", "direct"],
        ["login", "--users", "5", "--duration", "0.5", "--tls", "starttls", "--mech", "SCRAM-SHA-1"],
        ["chat", "--users", "6", "--rate", "200", "--duration", "0.5"],
        ["chat", "--users", "6", "--inflight", "4", "--pipeline", "--duration", "0.5"],
        ["presence", "--users", "8", "--contacts", "2", "--duration", "1"],
        ["offline", "--users", "3", "--messages", "4", "--concurrency", "2"],
    ]
    for args in runs:
        figures = run_bench(bench, server, args + common, quiet=True)
        assert figures["scenario"] == args[0], figures
        assert figures["errors"] == 0, figures
        # A presence update may legitimately come twice (a probe answer, RFC 6121 §4.3.2).
        for key in ("lost", "reordered") + (() if args[0] == "presence" else ("duplicated",)):
            assert figures.get(key, 0) == 0, (key, figures)
        print("  ok: " + json.dumps(figures)[:300], flush=True)
    # The registrations of the second run found the accounts of the first.
    print("bench smoke: %d scenarios completed" % len(runs))


def standard(bench, server):
    """The standard small set of `make bench` (fits the 20 000-file limit with the generator in one process)."""
    created = server.add_users("bench", 1, 10010)
    print("parleyctl adduser-range: 10010 accounts in %.1f s" % created, flush=True)
    rows = []

    def row(name, figures, *keys):
        rows.append((name, ", ".join("%s=%s" % (k, figures.get(k)) for k in keys)))

    row("roster 1000 x 20", run_bench(bench, server, ["roster", "--users", "1000", "--contacts", "20"]),
        "subscriptions_per_s", "elapsed_s")
    row("idle 2000", run_bench(bench, server, ["idle", "--sessions", "2000", "--rate", "500", "--hold", "5"]),
        "rss_per_session_bytes", "sockmem_per_session_bytes", "login_p99_ms")
    row("login SCRAM-SHA-256", run_bench(bench, server, ["login", "--users", "2000", "--duration", "10"]),
        "logins_per_s", "login_p99_ms", "server_cpu_percent")
    row("login PLAIN", run_bench(bench, server, ["login", "--users", "2000", "--duration", "5", "--mech", "PLAIN"]),
        "logins_per_s", "login_p99_ms")
    row("login SCRAM + TLS 1.3", run_bench(bench, server, ["login", "--users", "2000", "--duration", "10", "--tls",
                                                           "direct"]), "logins_per_s", "login_p99_ms")
    row("chat rate 10000/s", run_bench(bench, server, ["chat", "--users", "1000", "--rate", "10000", "--duration",
                                                       "10"]), "delivered_per_s", "p50_ms", "p99_ms", "p999_ms", "lost")
    row("chat inflight 4", run_bench(bench, server, ["chat", "--users", "1000", "--inflight", "4", "--duration",
                                                     "10"]), "delivered_per_s", "p50_ms", "p99_ms", "lost")
    row("chat inflight 16 pipelined", run_bench(bench, server, ["chat", "--users", "1000", "--inflight", "16",
                                                                "--pipeline", "--duration", "10"]),
        "delivered_per_s", "p50_ms", "p99_ms", "lost")
    row("presence 1000 x 20", run_bench(bench, server, ["presence", "--users", "1000", "--contacts", "20",
                                                        "--duration", "10"]), "delivered_per_s", "p99_ms", "lost")
    row("offline 1000 x 10", run_bench(bench, server, ["offline", "--users", "1000", "--messages", "10"]),
        "stored_per_s", "delivered_per_s", "delivery_p99_ms", "lost")
    width = max(len(name) for name, _ in rows)
    print("\n%-*s  %s" % (width, "scenario", "figures"))
    print("%s  %s" % ("-" * width, "-" * 60))
    for name, figures in rows:
        print("%-*s  %s" % (width, name, figures))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bench", required=True)
    parser.add_argument("--parleyd", required=True)
    parser.add_argument("--parleyctl", required=True)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--server-threads", type=int, default=0)
    args = parser.parse_args()
    server = Server(args.parleyd, args.parleyctl, args.server_threads).start()
    try:
        (smoke if args.smoke else standard)(args.bench, server)
    except (RuntimeError, AssertionError) as e:
        print("FAILED: %s" % (e,), file=sys.stderr)
        print("---- parleyd log (end) ----\n" + server.read_log(), file=sys.stderr)
        return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
