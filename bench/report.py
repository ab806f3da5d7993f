#!/usr/bin/python3
"""Writes docs/benchmarks.md and docs/benchmarks/*.png from the results of bench/compare.sh runs.

RESULTS/<archive on|off>/<server>/ holds parley-bench's final JSON line of each step (<step>.json, a step
that failed is {"failed": true, "error": ...}), commands.txt (the commands as run), steps.txt (each step's
duration and outcome) and, for the peers, version.txt. Each folder is written by one run of compare.sh for
that server, so results of separate runs combine. Charts are drawn by gnuplot (pngcairo). A figure a
server did not produce is shown as "failed" or "-", never invented.
"""
import argparse
import glob
import json
import os
import platform
import subprocess

SERVERS = ("parley", "prosody", "ejabberd")
NAMES = {"parley": "Parley", "prosody": "Prosody", "ejabberd": "ejabberd"}
KIB = 1024

# (title, step, candidate JSON keys (the first present is used), unit, higher is better, target)
# target: issue 6's goal for Parley, as (absolute bound or None, ratio against the better peer or None):
# for a throughput at least `bound` and at least `ratio` times the better peer; for memory at most `bound`
# and at most 1/`ratio` of the better peer; for latency at most `bound`.
FIGURES = [
    ("idle session, no TLS: server RSS per session", "idle", ["rss_per_session_bytes"], "bytes", False,
     (4 * KIB, 5)),
    ("idle session, TLS: server RSS per session", "idle-tls", ["rss_per_session_bytes"], "bytes", False,
     (16 * KIB, 5)),
    ("idle session, no TLS: kernel socket buffers per session (server side)", "idle",
     ["sockmem_per_session_bytes"], "bytes", False, None),
    ("idle: logins/s during the ramp (offered at the ramp rate)", "idle", ["logins_per_s"], "1/s", True, None),
    ("logins/s, SCRAM, no TLS", "login-scram", ["logins_per_s"], "1/s", True, (5000, 5)),
    ("logins/s, SCRAM, TLS 1.3", "login-scram-tls", ["logins_per_s"], "1/s", True, (1500, 5)),
    ("logins/s, PLAIN, no TLS", "login-plain", ["logins_per_s"], "1/s", True, (None, 5)),
    ("roster: subscriptions/s", "roster", ["subscriptions_per_s"], "1/s", True, (None, 5)),
    ("chat: delivered/s, one stanza per write", "chat-inflight", ["delivered_per_s"], "1/s", True, (50000, 5)),
    ("chat: delivered/s, pipelined writes", "chat-pipeline", ["delivered_per_s"], "1/s", True, (250000, 5)),
    ("chat: p99 latency at 25 000/s offered (half of 50 000)", "chat-rate-25000", ["p99_ms"], "ms", False,
     (5, None)),
    ("chat: p99 latency at 125 000/s offered (half of 250 000)", "chat-rate-125000", ["p99_ms"], "ms", False,
     (5, None)),
    ("chat: p99 latency, one stanza per write, as fast as possible", "chat-inflight", ["p99_ms"], "ms", False,
     None),
    # Offered at a fixed rate (every user every two seconds): equal figures mean that every server kept up,
    # so it carries no ratio target; the latency shows the cost.
    ("presence: stanzas delivered/s (fan-out, at the offered rate)", "presence", ["delivered_per_s"], "1/s",
     True, None),
    ("presence: p99 latency", "presence", ["p99_ms"], "ms", False, None),
    ("offline: messages stored/s", "offline", ["stored_per_s"], "1/s", True, (None, 5)),
    ("offline: delivered/s at login", "offline", ["delivered_per_s"], "1/s", True, (None, 5)),
    ("offline: delivery time per user at login, p50", "offline", ["delivery_p50_ms"], "ms", False, None),
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
    """The step's figure, or None when it did not run or broke off (a session lost, a request unanswered):
    the figures of a step that broke off are not comparable, and a ratio against them would flatter."""
    result = data.get((archive, server, step))
    if not result or result.get("failed") or result.get("error"):
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


def best_peer(peers, higher):
    peers = [p for p in peers if p]
    if not peers:
        return None
    return max(peers) if higher else min(peers)


def ratio(parley, best, higher):
    """Parley against the best peer, as 'N x better' or 'N x worse'."""
    if parley is None or best is None or parley == 0:
        return "-"
    factor = parley / best if higher else best / parley
    return f"{factor:.2f}x better" if factor >= 1 else f"{1 / factor:.2f}x worse"


def target_text(target, unit, higher):
    bound, times = target
    parts = []
    if bound is not None:
        parts.append(("≥ " if higher else "≤ ") + fmt(float(bound), unit))
    if times is not None:
        parts.append(f"≥ {times}x the better peer" if higher else f"≤ 1/{times} of the better peer")
    return ", ".join(parts)


def target_met(target, parley, best, higher):
    """'met', 'not met', or '-' when a figure it needs is missing."""
    if parley is None:
        return "-"
    bound, times = target
    checks = []
    if bound is not None:
        checks.append(parley >= bound if higher else parley <= bound)
    if times is not None:
        if best is None:
            return "-"
        checks.append(parley >= times * best if higher else parley * times <= best)
    return "**met**" if all(checks) else "**not met**"


def saturated_below(data, archive, server, step):
    """For a chat-rate-N step that did not run: the highest rate the sweep reached (it stops at the first
    rate the server cannot keep up with), if that is below N."""
    if not step.startswith("chat-rate-"):
        return None
    ran = [int(s.rsplit("-", 1)[1]) for (a, srv, s) in data if a == archive and srv == server
           and s.startswith("chat-rate-")]
    if not ran or max(ran) >= int(step.rsplit("-", 1)[1]):
        return None
    top = data[(archive, server, f"chat-rate-{max(ran)}")]
    delivered = top.get("delivered_per_s")
    # compare.sh's rule: saturated below 80% of the offered rate (a sweep can also just end: --quick)
    if top.get("failed") or (isinstance(delivered, (int, float)) and delivered < 0.8 * max(ran)):
        return max(ran)
    return None


def cell(data, archive, server, step, value, unit):
    result = data.get((archive, server, step)) or {}
    if result.get("failed") or result.get("error"):
        return "failed"
    top = saturated_below(data, archive, server, step) if value is None else None
    if top:
        return f"saturated at {top:,}/s"
    lost = result.get("lost")
    # Messages still queued when the drain ended (a server offered more than it delivers): see below.
    return fmt(value, unit) + (f" ({lost:,} lost)" if isinstance(lost, int) and lost and value is not None else "")


def tables(data, archive, servers):
    lines = [f"| Figure | {' | '.join(NAMES[s] for s in servers)} | Parley against the best peer | "
             "Issue 6 target | Met? |",
             "|---" * (len(servers) + 4) + "|"]
    for title, step, keys, unit, higher, target in FIGURES:
        values = {s: figure(data, archive, s, step, keys) for s in servers}
        if not any((archive, s, step) in data or saturated_below(data, archive, s, step) for s in servers):
            continue  # a step this archive setting does not run
        best = best_peer([values[s] for s in servers if s != "parley"], higher)
        parley = values.get("parley")
        goal = target_text(target, unit, higher) if target else ""
        met = target_met(target, parley, best, higher) if target else ""
        if met == "-" and saturated_below(data, archive, "parley", step):
            met = "**not met**"
        cells = [cell(data, archive, s, step, values[s], unit) for s in servers]
        lines.append(f"| {title} | " + " | ".join(cells) +
                     f" | {ratio(parley, best, higher)} | {goal} | {met} |")
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
    # References: what was offered (a server on that line keeps up), and issue 6's p99 bound.
    plots.append("x with lines dt 3 lc 'gray' title 'offered'" if what == "throughput" else
                 "5 with lines dt 3 lc 'red' title 'target: p99 5 ms'")
    ylabel = "delivered messages/s (log scale)" if what == "throughput" else "latency (ms, log scale)"
    script = (f"set terminal pngcairo size 900,540 font 'sans,11'\nset output '{os.path.join(out_dir, name)}'\n"
              f"set title 'Chat {what} against offered load, archive {archive}'\nset grid\nset key left top\n"
              f"set xlabel 'offered load (messages/s, log scale)'\nset ylabel '{ylabel}'\nset logscale xy\n"
              f"set xrange [{rates[0] / 1.5}:{rates[-1] * 1.5}]\n"
              "plot " + ", ".join(plots) + "\n" + "".join(blocks))
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return name


def ratio_chart(data, archive, servers, out_dir):
    """One bar per figure with a ratio target: how many times better than the better peer Parley is, against
    issue 6's 5x line. Returns the PNG name, or None without figures."""
    bars = []
    for title, step, keys, unit, higher, target in FIGURES:
        if not target or target[1] is None:
            continue
        parley = figure(data, archive, "parley", step, keys)
        best = best_peer([figure(data, archive, s, step, keys) for s in servers if s != "parley"], higher)
        if parley and best:
            factor = parley / best if higher else best / parley
            label = title.replace('"', "'")
            bars.append(f'"{label}" {factor}')
    if not bars:
        return None
    name = f"ratios-archive-{archive}.png"
    script = (f"set terminal pngcairo size 1000,{200 + 34 * len(bars)} font 'sans,10'\n"
              f"set output '{os.path.join(out_dir, name)}'\n"
              f"set title 'Parley against the better of Prosody and ejabberd, archive {archive} (times better)'\n"
              "set style fill solid 0.7\nset boxwidth 0.6 relative\nset grid x\nset logscale x\n"
              "set xrange [0.1:*]\nset yrange [-0.7:*]\nset ytics nomirror\nunset key\n"
              "set lmargin 60\nset arrow from 5, graph 0 to 5, graph 1 nohead lc 'red' dt 3 lw 2\n"
              "set label 'target: 5x' at 5, graph 1 offset 0.5, -1 tc 'red'\n"
              "set arrow from 1, graph 0 to 1, graph 1 nohead lc 'black' lw 1\n"
              "plot '-' using 2:0:(0.1):2:($0 - 0.3):($0 + 0.3):ytic(1) with boxxyerror lc rgb '#5060c0'\n"
              + "\n".join(bars) + "\ne\n")
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


def sizes(data, servers):
    """How the open-file limit shapes the scenarios, and what the per-session figures extrapolate to."""
    def first(step, key):
        for archive in ("on", "off"):
            for server in servers:
                value = (data.get((archive, server, step)) or {}).get(key)
                if isinstance(value, (int, float)):
                    return int(value)
        return None

    idle, chat_users = first("idle", "sessions_requested"), first("chat-inflight", "users")
    lines = [
        "These machines allow 20 000 open files per process and the limit cannot be raised. The generator "
        "holds one socket per session in one process, as does the server, so the scenarios stay under 9 000 "
        "sessions, with room for the listeners, the database and the logs: the full run makes 9 000 "
        f"accounts and holds 8 000 idle sessions (this run: {idle or 'no idle step'}). The chat scenarios use "
        f"{chat_users or 'a few hundred'} users: throughput depends on the messages in flight, not on the "
        "number of connections, and fewer logins leave more of each step's time for the measurement.",
        "",
        "Memory is reported per session: the growth of the server's private resident memory (RssAnon) from "
        "a freshly started server to the end of the hold, divided by the sessions held; the kernel's socket "
        "buffers are read for the server's own sockets (sock_diag), not machine-wide. Both grow linearly "
        "with the sessions, so on a machine with a raised limit the memory for N idle sessions is about N "
        "times the per-session figure plus the server's baseline. For example, for 1 000 000 sessions:",
        "",
    ]
    for server in servers:
        for step, what in (("idle", "without TLS"), ("idle-tls", "with TLS")):
            result = data.get(("on", server, step)) or {}
            per = result.get("rss_per_session_bytes")
            base = result.get("server_rss_anon_baseline_bytes")
            if isinstance(per, (int, float)) and per > 0:
                total = (per * 1_000_000 + (base or 0)) / 1024 ** 3
                lines.append(f"- {NAMES[server]}, {what}: {fmt(per, 'bytes')} per session, so about "
                             f"{total:.1f} GiB of server memory.")
    lines += ["", "Throughput figures do not grow with a raised file limit: on these 2 cores the generator "
              "and the server share the CPU, and a session count above what the CPU can serve only adds "
              "latency."]
    return "\n".join(lines)


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().strip().splitlines()
    except OSError:
        return []


def durations(results, archives, servers):
    """Each step compare.sh ran, how long it took and how it ended (RESULTS/<archive>/<server>/steps.txt)."""
    rows, totals = [], []
    for server in servers:
        total = 0
        for archive in archives:
            for line in read_lines(os.path.join(results, archive, server, "steps.txt")):
                parts = line.split()
                if len(parts) < 4:
                    continue
                step, seconds, outcome = parts[1], int(parts[2]), " ".join(parts[3:])
                total += seconds
                rows.append(f"| {NAMES[server]} | {archive} | {step} | {seconds} | {outcome} |")
        totals.append(f"{NAMES[server]} {total // 60} min {total % 60} s")
    if not rows:
        return "No step durations were recorded."
    return "\n".join(["| Server | Archive | Step | Seconds | Outcome |", "|---|---|---|---|---|"] + rows +
                     ["", "Time in the steps per server (starting the servers and making the accounts not "
                      "included): " + ", ".join(totals) + "."])


def findings(folder):
    """Every docs/benchmarks-findings/*.md, headings moved two levels down to sit under "Findings"."""
    parts = []
    for path in sorted(glob.glob(os.path.join(folder, "*.md"))):
        fenced = False
        lines = []
        with open(path) as f:
            for line in f.read().rstrip().splitlines():
                if line.startswith("```"):
                    fenced = not fenced
                if not fenced and line.startswith("#"):
                    line = "##" + line
                lines.append(line)
        parts += [f"<!-- from docs/benchmarks-findings/{os.path.basename(path)} -->", ""] + lines + [""]
    return "\n".join(parts) if parts else "No findings were written in docs/benchmarks-findings/ for this run."


def commands(results, archives, servers):
    texts = []
    for archive in archives:
        for server in servers:
            lines = read_lines(os.path.join(results, archive, server, "commands.txt"))
            if lines:
                texts.append(f"# {NAMES[server]}, archive {archive}\n" + "\n".join(lines))
    return "\n\n".join(texts)


def versions(results, archives, servers):
    """The peers' package versions as the runs saw them."""
    found = {}
    for archive in archives:
        for server in servers:
            for line in read_lines(os.path.join(results, archive, server, "version.txt")):
                found[server] = line
    return ", ".join(found[s] for s in servers if s in found)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True)
    parser.add_argument("--docs", required=True)
    parser.add_argument("--quick", default="0")
    parser.add_argument("--findings", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "docs", "benchmarks-findings"),
        help="folder of the findings to include (default: this tree's docs/benchmarks-findings)")
    args = parser.parse_args()
    data = load(args.results)
    if not data:
        raise SystemExit(f"report.py: no results under {args.results}")
    out_dir = os.path.join(args.docs, "benchmarks")
    os.makedirs(out_dir, exist_ok=True)
    archives = [a for a in ("on", "off") if any(k[0] == a for k in data)]
    servers = [s for s in SERVERS if any(k[1] == s for k in data)]
    doc = ["# Benchmarks: Parley, Prosody and ejabberd side by side", "",
           "Written by `bench/compare.sh` and `bench/report.py` (do not edit by hand: run them again). Every "
           "figure below comes from one machine, the three servers one after the other with the same "
           "generator (`parley-bench`, bench/README.md), the same accounts and the same settings: domain "
           "`localhost` on loopback, TLS optional, in-band registration, offline storage, carbons, stream "
           "management, CSI and PEP on, shaping and rate limits off, listen backlogs raised "
           "(tests/interop/peer_servers.py; Parley: bench/parley-bench.toml). Parley and ejabberd store "
           "SCRAM-SHA-256 keys and are logged into with SCRAM-SHA-256; Prosody 0.12 stores SCRAM-SHA-1 keys "
           "and is logged into with SCRAM-SHA-1.", ""]
    if args.quick != "0":
        doc += ["**This was a `--quick` run (small numbers, to check the plumbing): not figures to quote.**", ""]
    ran = versions(args.results, archives, servers)
    doc += ["## The machine", "", machine() + (f"\n- the peers as run: {ran}" if ran else ""), "",
            "## Scenario sizes, the open-file limit and extrapolation", "", sizes(data, servers), ""]
    for archive in archives:
        doc += [f"## Message archive {archive}", "",
                "The archive is on in every server's default configuration." if archive == "on" else
                "The archive module is not loaded (Parley: `mam` left out of `[modules] enabled`; Prosody: "
                "no `mam`; ejabberd: no `mod_mam`). Only the steps the archive touches (chat, offline) were "
                "run again.", "",
                "The targets are issue 6's for Parley; a ratio target needs the peers' figures of the same "
                "run. \"failed\": the step failed or broke off (see below; its figures are left out of the "
                "ratios); \"lost\": messages not delivered by the end of the drain (a backlog); \"-\": the "
                "figure is missing.", "",
                tables(data, archive, servers), "",
                "Lost, duplicated or reordered messages, errors, failed steps:", "",
                correctness(data, archive, servers), ""]
        name = ratio_chart(data, archive, servers, out_dir)
        if name:
            doc += [f"![Parley against the better peer, archive {archive}](benchmarks/{name})", ""]
        for what in ("throughput", "latency"):
            name = chart(data, archive, servers, out_dir, what)
            if name:
                doc += [f"![chat {what}, archive {archive}](benchmarks/{name})", ""]
    doc += ["## Findings", "",
            "What was found while profiling Parley against these figures, and what was changed "
            "(docs/benchmarks-findings/, one file per topic).", "", findings(args.findings), "",
            "## The steps and their durations", "", durations(args.results, archives, servers), "",
            "## The commands, as run", "",
            "Paths are relative to the repository; DIR is the temporary folder of the server.", "",
            "```", commands(args.results, archives, servers), "```", ""]
    with open(os.path.join(args.docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(doc))


if __name__ == "__main__":
    main()
