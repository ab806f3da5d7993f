#!/usr/bin/env python3
"""Runs parley-bench groups against a private parleyd, to compare one build with another while profiling.

    bench/private_run.py [--tree DIR] [--no-archive] [--users N] [--server-threads N] [--perf-out FILE] \
        -- <parley-bench args> [-- <parley-bench args> ...]

Starts parleyd from DIR/build/release (DIR: the checkout this script is in) with bench/parley-bench.toml
(bench/standard.py; the archive on unless --no-archive), creates N accounts bench1..benchN (password
bench), runs each group of parley-bench arguments (with --threads 1 unless the group names it), prints
its JSON line, and stops the server. With --perf-out, `perf record -g` of parleyd runs during each group.
Run two trees alternately in the same minute: this machine's absolute figures vary between hours
(docs/benchmarks-findings/harness.md)."""
import argparse
import os
import signal
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--no-archive", action="store_true")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--server-threads", type=int, default=0)
    parser.add_argument("--perf-out")
    parser.add_argument("groups", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    groups = []
    for word in args.groups:
        if word == "--":
            groups.append([])
        elif groups:
            groups[-1].append(word)
        else:
            parser.error("put '--' before each group of parley-bench arguments")
    groups = [g for g in groups if g]
    if not groups:
        parser.error("no parley-bench arguments: e.g. -- login --users 2000 --duration 5")

    sys.path.insert(0, os.path.join(args.tree, "bench"))
    import standard  # the tree's own, so that its configuration goes with its build

    release = os.path.join(args.tree, "build", "release")
    server = standard.Server(os.path.join(release, "server/main/parleyd"),
                             os.path.join(release, "server/main/parleyctl"), args.server_threads,
                             archive=not args.no_archive).start()
    try:
        print("accounts created in %.1f s" % server.add_users("bench", 1, args.users), flush=True)
        for group in groups:
            if "--threads" not in group:
                group = group + ["--threads", "1"]
            perf = None
            if args.perf_out:
                perf = subprocess.Popen(["perf", "record", "-g", "-o", args.perf_out, "-p",
                                         str(server.process.pid)], stderr=subprocess.DEVNULL)
            try:
                standard.run_bench(os.path.join(release, "bench/parley-bench"), server, group, strict=False)
            finally:
                if perf:
                    perf.send_signal(signal.SIGINT)
                    perf.wait()
    except RuntimeError as e:
        print("FAILED: %s\n---- parleyd log (end) ----\n%s" % (e, server.read_log()), file=sys.stderr)
        return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
