#!/usr/bin/env python3
"""bench/private_run.py [--tree DIR] [--no-archive] [--users N] [--threads N(server)] [--perf | --perf-out FILE] -- bench args... [-- more bench args...]

Starts a private parleyd from DIR/build/release (bench/standard.py's config: archive on unless --no-archive),
creates N accounts bench1..benchN (password bench), runs each group of parley-bench arguments (the bench
gets --threads 1 unless the group says otherwise) and prints its JSON line, then stops the server.
For profiling one change against another (docs/benchmarks-findings/): two trees, the same minute.
DIR defaults to the checkout this script is in. Example: bench/private_run.py --users 1000 -- chat --users 1000 --inflight 4 --duration 8"""
import os
import subprocess
import sys
import time
tree = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
argv = sys.argv[1:]
archive = True; users = 2000; perf = False; threads = 0; perf_out = "/tmp/perf.data"
while argv and argv[0] != "--":
    a = argv.pop(0)
    if a == "--tree": tree = argv.pop(0)
    elif a == "--no-archive": archive = False
    elif a == "--users": users = int(argv.pop(0))
    elif a == "--perf": perf = True
    elif a == "--threads": threads = int(argv.pop(0))
    elif a == "--perf-out": perf_out = argv.pop(0); perf = True
groups = []
for a in argv:
    if a == "--": groups.append([])
    else: groups[-1].append(a)
sys.path.insert(0, tree + "/bench")
import standard
b = tree + "/build/release"
s = standard.Server(b + "/server/main/parleyd", b + "/server/main/parleyctl", threads, archive=archive).start()
try:
    print("adduser %.1fs" % s.add_users("bench", 1, users), flush=True)
    for g in groups:
        p = None
        if perf:
            p = subprocess.Popen(["perf", "record", "-g", "-o", perf_out, "-p", str(s.process.pid)],
                                 stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        standard.run_bench(b + "/bench/parley-bench", s, g + ["--threads", "1"] if "--threads" not in g else g, strict=False)
        if p:
            p.send_signal(2); p.wait()
finally:
    print(s.read_log()[-1500:])
    s.stop()
