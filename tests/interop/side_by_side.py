"""Runs one battery of cases against Parley, Prosody and ejabberd and prints a table (issues 3 and 4).

A battery is an async function of the started server (.port: STARTTLS, .direct_port: direct TLS) that
returns [(case name, ok, detail)]. Parley's column
decides the exit status; a peer's failures are reported, never failed on: a failure that the battery
explains (`known`: {(peer name, case name): why}) shows as "differs" with the reason, any other as
"DIFFERS" with what happened. A peer that cannot run here (not installed, did not start) is "skipped"
with the reason.
"""
import asyncio
import os
import threading
import time

from parleyd_process import Parleyd
from peer_servers import Ejabberd, Prosody


# The server running now (the watchdog stops it) and the outcomes so far (the watchdog reports them).
running = {"server": None, "parley": None, "peers": {}}


def run_against(name, make, battery):
    """Makes a server with `make()` (it has .start(), .port, .direct_port and .stop()), starts it, runs
    `battery` on a fresh event loop, stops the server. Returns the outcomes, or the reason it could not be
    made or started."""
    print(f"\n== {name}", flush=True)
    try:
        server = running["server"] = make()
        server.start()
    except (OSError, RuntimeError) as e:  # PeerUnavailable is a RuntimeError
        running["server"] = None
        print(f"SKIP  {name}: {e}", flush=True)
        return str(e).splitlines()[0]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(battery(server))
    except Exception as e:  # a battery that breaks on one server still lets the others run
        print(f"BROKE {name}: {e!r}", flush=True)
        return f"the battery broke: {e!r}"
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        server.stop()
        running["server"] = None


def verdict(peer, name, outcomes, known):
    if not isinstance(outcomes, list):
        return "skipped"
    result = {case: ok for case, ok, _ in outcomes}
    if name not in result:
        return "not run"
    if result[name]:
        return "ok"
    return "differs" if (peer, name) in known else "DIFFERS"


def parley_verdict(name, ok, excused):
    if ok:
        return "ok"
    return "gap" if name in excused else "FAIL"


def table(parley, peers, known, excused=()):
    """The table: one row per case, a column for Parley and one per peer."""
    width = max(len(name) for name, _, _ in parley)
    names = list(peers)
    header = f"{'case':<{width}}  {'Parley':<8}" + "".join(f"{peer:<9}" for peer in names)
    lines = [header.rstrip(), "-" * len(header.rstrip())]
    for name, ok, _ in parley:
        row = f"{name:<{width}}  {parley_verdict(name, ok, excused):<8}"
        row += "".join(f"{verdict(peer, name, peers[peer], known):<9}" for peer in names)
        lines.append(row.rstrip())
    return "\n".join(lines)


def compare(parleyd, battery, known=None, watchdog=170, what="the battery", informational=(), gaps=None):
    """Runs `battery` against Parley (the parleyd binary), Prosody and ejabberd; prints the table and
    every peer difference; returns the exit status (1 when a Parley case failed). Parley failing a case in
    `informational` (not asked for) or in `gaps` ({case: what is missing}, known and reported) shows as
    "gap" and does not fail; a gap that passes is reported so that it is removed from the list.

    The watchdog bounds the whole run: should a server hang (or a peer start too slowly on a loaded
    machine), it stops that server and reports what ran; a peer that did not finish is "skipped", and the
    exit status is still Parley's."""
    known = known or {}
    gaps = gaps or {}
    excused = set(informational) | set(gaps)
    began = time.monotonic()

    def expire():
        print(f"\nwatchdog: not done in {watchdog} s; stopping the server that is running", flush=True)
        if running["server"] is not None:
            running["server"].stop()
        if not isinstance(running["parley"], list):
            print(f"FAIL  Parley did not finish {what} within the watchdog", flush=True)
            os._exit(3)
        for peer in ("Prosody", "ejabberd"):
            running["peers"].setdefault(peer, f"did not finish within the {watchdog} s watchdog")
        os._exit(report(running["parley"], running["peers"], known, informational, gaps, excused, what, began))

    timer = threading.Timer(watchdog, expire)
    timer.daemon = True
    timer.start()
    parley = running["parley"] = run_against("Parley", lambda: Parleyd(parleyd), battery)
    peers = running["peers"]
    for peer in (Prosody, Ejabberd):
        peers[peer.name] = run_against(peer.name, peer, battery)
    timer.cancel()
    return report(parley, dict(peers), known, informational, gaps, excused, what, began)


def report(parley, peers, known, informational, gaps, excused, what, began):
    """Prints the table and the differences; the exit status."""
    if not isinstance(parley, list) or not parley:
        print(f"FAIL  Parley did not run {what}: {parley}")
        return 1
    print("\n" + table(parley, peers, known, excused))
    for peer, outcomes in peers.items():
        if not isinstance(outcomes, list):
            print(f"\n{peer} skipped: {outcomes}")
            continue
        for name, ok, detail in outcomes:
            if ok:
                continue
            if (peer, name) in known:
                print(f"\n{peer} differs (reported, not failed): {name}\n    why: {known[(peer, name)]}")
            else:
                print(f"\n{peer} DIFFERS (reported, not failed): {name}\n    {detail}")
    failed = [name for name, ok, _ in parley if not ok and name not in excused]
    for name, ok, detail in parley:
        if not ok and name in gaps:
            print(f"\nParley gap (known, reported, not failed): {name}\n    missing: {gaps[name]}\n    {detail}")
        elif not ok and name in informational:
            print(f"\nParley lacks (not asked for, reported only): {name}")
        elif not ok:
            print(f"\nParley FAILS: {name}\n    {detail}")
        elif name in gaps:
            print(f"\nParley now passes a listed gap (remove it from the gaps): {name}")
    print(f"\nParley: {len(parley) - len(failed)} of {len(parley)} cases pass or are excused"
          f" ({sum(1 for _, ok, _ in parley if ok)} pass) in {time.monotonic() - began:.1f} s")
    return 1 if failed else 0
