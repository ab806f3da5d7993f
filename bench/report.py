#!/usr/bin/python3
"""Writes docs/benchmarks.md and docs/benchmarks/*.png from the results of one bench/compare.sh run.

RESULTS/<archive on|off>/<server>/<step>.json holds parley-bench's final JSON line of each step;
RESULTS/commands.txt the commands as run; RESULTS/versions.txt the peers' package versions. Charts are
drawn by gnuplot (pngcairo). A figure a server did not produce (the scenario failed, or a key the
generator does not report) is shown as "-", never invented.
"""
import argparse
import glob
import json
import os
import platform
import subprocess

SERVERS = ("parley", "prosody", "ejabberd")
NAMES = {"parley": "Parley", "prosody": "Prosody", "ejabberd": "ejabberd"}

# (title, step, candidate JSON keys (the first present is used), unit, higher is better)
FIGURES = [
    ("idle session, no TLS: server RSS per session", "idle", ["rss_per_session_bytes"], "bytes", False),
    ("idle session, no TLS: kernel socket memory per session", "idle", ["sockmem_per_session_bytes"], "bytes",
     False),
    ("idle session, TLS: server RSS per session", "idle-tls", ["rss_per_session_bytes"], "bytes", False),
    ("logins/s, SCRAM, no TLS", "login-scram", ["logins_per_s"], "1/s", True),
    ("logins/s, SCRAM, TLS 1.3", "login-scram-tls", ["logins_per_s"], "1/s", True),
    ("logins/s, PLAIN, no TLS", "login-plain", ["logins_per_s"], "1/s", True),
    ("chat: delivered/s, one stanza per write", "chat-inflight", ["delivered_per_s"], "1/s", True),
    ("chat: delivered/s, pipelined writes", "chat-pipeline", ["delivered_per_s"], "1/s", True),
    ("chat: p99 latency, one stanza per write, as fast as possible", "chat-inflight", ["p99_ms"], "ms", False),
    ("presence: stanzas delivered/s (fan-out)", "presence", ["delivered_per_s"], "1/s", True),
    ("presence: p99 latency", "presence", ["p99_ms"], "ms", False),
    ("offline: messages stored/s", "offline", ["stored_per_s"], "1/s", True),
    ("offline: delivered/s at login", "offline", ["delivered_per_s"], "1/s", True),
    ("offline: delivery time per user at login, p50", "offline", ["delivery_p50_ms"], "ms", False),
]
CORRECTNESS = ["lost", "duplicated", "reordered", "errors"]


def load(results):
    data = {}
    for path in glob.glob(os.path.join(results, "*", "*", "*.json")):
        archive, server, step = path[len(results) + 1:-5].split(os.sep)
        try:
            with open(path) as f:
                data[(archive, server, step)] = json.load(f)
        except (OSError, ValueError):
            data[(archive, server, step)] = {"failed": True}
    return data


def figure(data, archive, server, step, keys):
    result = data.get((archive, server, step))
    if not result or result.get("failed"):
        return None
    for key in keys:
        if isinstance(result.get(key), (int, float)):
            return float(result[key])
    return None


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value / 1024:.1f} KiB"
    if unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:,.0f}"


def ratio(parley, peers, higher):
    """Parley against the best peer, as 'N x better' or 'N x worse'."""
    peers = [p for p in peers if p]
    if parley is None or not peers or parley == 0:
        return "-"
    best = max(peers) if higher else min(peers)
    factor = parley / best if higher else best / parley
    return f"{factor:.2f}x better" if factor >= 1 else f"{1 / factor:.2f}x worse"


def tables(data, archive, servers):
    lines = [f"| Figure | {' | '.join(NAMES[s] for s in servers)} | Parley against the best peer |",
             "|---" * (len(servers) + 2) + "|"]
    for title, step, keys, unit, higher in FIGURES:
        values = {s: figure(data, archive, s, step, keys) for s in servers}
        peers = [values[s] for s in servers if s != "parley"]
        lines.append(f"| {title} | " + " | ".join(fmt(values[s], unit) for s in servers) +
                     f" | {ratio(values.get('parley'), peers, higher)} |")
    return "\n".join(lines)


def correctness(data, archive, servers):
    """Steps where a server lost, duplicated or reordered a message, or had errors."""
    found = []
    for (a, server, step), result in sorted(data.items()):
        if a != archive or server not in servers:
            continue
        if result.get("failed"):
            found.append(f"- {NAMES[server]}, {step}: the scenario failed (see its .log in the results)")
            continue
        if result.get("error"):
            found.append(f"- {NAMES[server]}, {step}: {result['error']}")
        bad = {k: result[k] for k in CORRECTNESS if isinstance(result.get(k), (int, float)) and result[k]}
        if bad:
            found.append(f"- {NAMES[server]}, {step}: " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    return "\n".join(found) or "None: every scenario delivered every message once and in order, without errors."


def chart(data, archive, servers, out_dir, what):
    """Throughput or latency against the offered chat rate, one line per server; returns the PNG name."""
    rates = sorted({int(step.rsplit("-", 1)[1]) for (a, _, step) in data if a == archive
                    and step.startswith("chat-rate-")})
    if not rates:
        return None
    name = f"chat-{what}-archive-{archive}.png"
    plots, blocks = [], []
    for colour, server in enumerate(servers, 1):
        rows = []
        for rate in rates:
            result = data.get((archive, server, f"chat-rate-{rate}"))
            if not result or result.get("failed"):
                continue
            if what == "throughput" and isinstance(result.get("delivered_per_s"), (int, float)):
                rows.append(f"{rate} {result['delivered_per_s']}")
            elif what == "latency" and isinstance(result.get("p99_ms"), (int, float)):
                rows.append(f"{rate} {result['p99_ms']} {result.get('p50_ms', 'NaN')}")
        if not rows:
            continue
        blocks.append("\n".join(rows) + "\ne\n")
        plots.append(f"'-' using 1:2 with linespoints lw 2 lc {colour} title '{NAMES[server]}" +
                     (" p99'" if what == "latency" else "'"))
        if what == "latency":
            blocks.append("\n".join(rows) + "\ne\n")
            plots.append(f"'-' using 1:3 with linespoints dt 2 lc {colour} title '{NAMES[server]} p50'")
    if not plots:
        return None
    ylabel = "delivered messages/s" if what == "throughput" else "latency (ms, log scale)"
    script = (f"set terminal pngcairo size 900,540 font 'sans,11'\nset output '{os.path.join(out_dir, name)}'\n"
              f"set title 'Chat {what} against offered load, archive {archive}'\nset grid\nset key left top\n"
              f"set xlabel 'offered load (messages/s)'\nset ylabel '{ylabel}'\nset logscale x\n" +
              ("set logscale y\n" if what == "latency" else "set yrange [0:*]\n") +
              "plot " + ", ".join(plots) + "\n" + "".join(blocks))
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return name


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = "unknown"
    try:
        with open("/proc/meminfo") as f:
            memory = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass

    def version(package):
        found = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
        return found.stdout.strip() or "not installed"

    commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "log", "-1",
                             "--format=%h %cs"], capture_output=True, text=True).stdout.strip()
    return "\n".join([
        f"- CPU: {model}, {os.cpu_count()} cores (the generator runs on the same cores)",
        f"- memory: {memory}; kernel {platform.release()}; open files limit 20 000",
        f"- Parley {commit} (release preset); prosody {version('prosody')}; ejabberd {version('ejabberd')} "
        f"(Erlang {version('erlang-base')}); gnuplot {version('gnuplot-nox')}",
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True)
    parser.add_argument("--docs", required=True)
    parser.add_argument("--quick", default="0")
    args = parser.parse_args()
    data = load(args.results)
    if not data:
        raise SystemExit(f"report.py: no results under {args.results}")
    out_dir = os.path.join(args.docs, "benchmarks")
    os.makedirs(out_dir, exist_ok=True)
    archives = [a for a in ("on", "off") if any(k[0] == a for k in data)]
    servers = [s for s in SERVERS if any(k[1] == s for k in data)]
    with open(os.path.join(args.results, "commands.txt")) as f:
        commands = f.read().strip()
    doc = ["# Benchmarks: Parley, Prosody and ejabberd side by side", "",
           "Written by `bench/compare.sh` (do not edit by hand: run it again). Every figure below comes from "
           "one run on one machine, the three servers one after the other with the same generator "
           "(`parley-bench`, bench/README.md), the same accounts and the same settings: domain `localhost` on "
           "loopback, TLS optional, in-band registration, offline storage, carbons, stream management, CSI and "
           "PEP on, shaping and rate limits off. Parley and ejabberd store SCRAM-SHA-256 keys and are logged "
           "into with SCRAM-SHA-256; Prosody 0.12 stores SCRAM-SHA-1 keys and is logged into with SCRAM-SHA-1.",
           ""]
    if args.quick != "0":
        doc += ["**This was a `--quick` run (small numbers, to check the plumbing): not figures to quote.**", ""]
    doc += ["## The machine", "", machine(), "",
            "The machine allows 20 000 open files per process and the generator holds one socket per "
            "session, as does the server, so the scenarios stop at about 9 000 sessions. Memory per "
            "session is reported per session (RSS growth over the baseline, divided by the sessions), "
            "so it extrapolates linearly to a machine with a raised limit; throughput on 2 cores is shared "
            "with the generator.", ""]
    for archive in archives:
        doc += [f"## Message archive {archive}", "",
                "The archive is on in every server's default configuration." if archive == "on" else
                "The archive module is not loaded (Parley: `mam` left out of `[modules] enabled`; Prosody: "
                "no `mam`; ejabberd: no `mod_mam`).", "", tables(data, archive, servers), "",
                "Lost, duplicated or reordered messages, errors:", "", correctness(data, archive, servers), ""]
        for what in ("throughput", "latency"):
            name = chart(data, archive, servers, out_dir, what)
            if name:
                doc += [f"![chat {what}, archive {archive}](benchmarks/{name})", ""]
    doc += ["## The commands, as run", "", "```", commands, "```", ""]
    with open(os.path.join(args.docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(doc))


if __name__ == "__main__":
    main()
