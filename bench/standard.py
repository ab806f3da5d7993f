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

# bench/parley-bench.toml: the one configuration of every benchmark (compare.sh writes it through
# `standard.py --write-config`), so that `make bench` and docs/benchmarks.md cannot drift apart.
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "parley-bench.toml")

# The default modules less the message archive: issue 6 asks for the chat figures with it off too.
NO_ARCHIVE = """[modules]
# The default modules less "mam" (message archive off)
enabled = ["disco", "ping", "version", "time", "register", "roster", "offline", "blocking", "vcard",
           "private", "last", "carbons", "pep", "csi", "stream_management"]
"""


def write_config(path, folder, port, direct_port, threads=0, archive=True):
    """Fills in bench/parley-bench.toml for a parleyd whose data lives in `folder`."""
    values = {"@DIR@": folder, "@PORT@": port, "@DIRECT_PORT@": direct_port, "@THREADS@": threads,
              "@MODULES@": "" if archive else NO_ARCHIVE}
    lines = []
    with open(TEMPLATE) as f:
        for line in f:
            if not line.startswith("#"):  # the template's comments name the placeholders
                for key, value in values.items():
                    line = line.replace(key, str(value))
            lines.append(line)
    with open(path, "w") as f:
        f.write("".join(lines))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, parleyd, parleyctl, threads, archive=True):
        self.parleyd = parleyd
        self.parleyctl = parleyctl
        self.dir = tempfile.mkdtemp(prefix="parley-bench-")
        self.port = free_port()
        self.direct_port = free_port()
        self.config = os.path.join(self.dir, "parley.toml")
        write_config(self.config, self.dir, self.port, self.direct_port, threads, archive)
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


def run_bench(bench, server, args, label="parley", quiet=False, strict=True):
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
    if not quiet:
        print(lines[-1], flush=True)
    if result.returncode != 0 and not strict:
        figures.setdefault("error", "exit %d" % result.returncode)
        return figures
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


def standard(bench, server, parleyd, parleyctl, server_threads):
    """The standard small set of `make bench` (fits the 20 000-file limit with the generator in one process).
    A scenario that fails is shown in the table with its error; the others still run."""
    created = server.add_users("bench", 1, 10010)
    print("parleyctl adduser-range: 10010 accounts in %.1f s" % created, flush=True)
    rows = []

    def row(name, target, args, *keys):
        figures = run_bench(bench, target, args, strict=False)
        text = ", ".join("%s=%s" % (k, figures.get(k)) for k in keys)
        if "error" in figures:
            text += "  FAILED: " + str(figures["error"])[:120]
        rows.append((name, text))

    row("roster 1000 x 20", server, ["roster", "--users", "1000", "--contacts", "20"], "subscriptions_per_s")
    row("idle 2000", server, ["idle", "--sessions", "2000", "--rate", "500", "--hold", "5"],
        "rss_per_session_bytes", "sockmem_per_session_bytes", "slab_per_session_bytes", "login_p99_ms")
    row("login SCRAM-SHA-256", server, ["login", "--users", "2000", "--duration", "10"],
        "logins_per_s", "login_p99_ms", "server_cpu_percent", "bench_cpu_percent")
    row("login PLAIN", server, ["login", "--users", "2000", "--duration", "5", "--mech", "PLAIN"],
        "logins_per_s", "login_p99_ms")
    row("login SCRAM + TLS 1.3", server, ["login", "--users", "2000", "--duration", "10", "--tls", "direct"],
        "logins_per_s", "login_p99_ms")
    chat = [("chat rate 2000/s", ["chat", "--users", "1000", "--rate", "2000", "--duration", "10"]),
            ("chat inflight 4", ["chat", "--users", "1000", "--inflight", "4", "--duration", "10"]),
            ("chat inflight 16 pipelined", ["chat", "--users", "1000", "--inflight", "16", "--pipeline",
                                            "--duration", "10"])]
    keys = ("delivered_per_s", "p50_ms", "p99_ms", "p999_ms", "lost", "server_cpu_percent")
    for name, args in chat:
        row(name + " (archive on)", server, args, *keys)
    row("presence 1000 x 20", server, ["presence", "--users", "1000", "--contacts", "20", "--duration", "10"],
        "delivered_per_s", "p99_ms", "lost")
    row("offline 1000 x 10", server, ["offline", "--users", "1000", "--messages", "10"],
        "stored_per_s", "delivered_per_s", "delivery_p99_ms", "lost")
    # The same chat runs against a parleyd without the message archive.
    plain = Server(parleyd, parleyctl, server_threads, archive=False).start()
    try:
        plain.add_users("bench", 1, 1000)
        for name, args in chat:
            row(name + " (archive off)", plain, args, *keys)
    finally:
        plain.stop()
    width = max(len(name) for name, _ in rows)
    print("\n%-*s  %s" % (width, "scenario", "figures"))
    print("%s  %s" % ("-" * width, "-" * 60))
    for name, figures in rows:
        print("%-*s  %s" % (width, name, figures))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bench")
    parser.add_argument("--parleyd")
    parser.add_argument("--parleyctl")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--server-threads", type=int, default=0)
    parser.add_argument("--write-config", metavar="DIR",
                        help="only write DIR/parley.toml (data in DIR/var) on free ports and print "
                             "'PORT DIRECT_PORT' (bench/compare.sh)")
    parser.add_argument("--archive", choices=("on", "off"), default="on", help="with --write-config")
    args = parser.parse_args()
    if args.write_config:
        port, direct_port = free_port(), free_port()
        write_config(os.path.join(args.write_config, "parley.toml"), args.write_config, port, direct_port,
                     args.server_threads, args.archive == "on")
        print(port, direct_port)
        return 0
    if not (args.bench and args.parleyd and args.parleyctl):
        parser.error("--bench, --parleyd and --parleyctl are needed to run (or --write-config DIR)")
    server = Server(args.parleyd, args.parleyctl, args.server_threads).start()
    try:
        if args.smoke:
            smoke(args.bench, server)
        else:
            standard(args.bench, server, args.parleyd, args.parleyctl, args.server_threads)
    except (RuntimeError, AssertionError) as e:
        print("FAILED: %s" % (e,), file=sys.stderr)
        print("---- parleyd log (end) ----\n" + server.read_log(), file=sys.stderr)
        return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
