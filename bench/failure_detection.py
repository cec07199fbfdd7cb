#!/usr/bin/env python3
"""Failure-detection latency of a real kvnode cluster (a measurement, not a test).

Usage:
    python3 bench/failure_detection.py --kvnode build/node/kvnode --kv build/cli/kv [--runs 3]
        [--intervals 1000,200] [--nodes 5] [--keep-tmp] [--verbose] [--keyring FILE | --both]

--keyring FILE runs every node keyed (sealed gossip); --both runs each probe interval
plaintext and keyed (a fresh keyring from `kv keygen`), alternating run by run, and prints
a row for each.

For each probe interval P (--probe-interval-ms; default 1000 ms, kvnode's default, and
200 ms) and each of --runs runs: start a fresh cluster of --nodes kvnode processes on
127.0.0.1.. (temporary data directories, free ports, all joining through the first), wait
until every node lists every node alive, kill -9 one node (not the founder; a different one
each run), and for every surviving node take the time from the kill to its first 'suspect'
and to its first 'dead' event about the victim. Times come from the nodes' own membership
event log lines (`member NAME (ADDRESS) suspect: ...`), whose millisecond timestamps are
compared with the wall clock read just before the kill (the nodes run with TZ=UTC, so the
timestamps are UTC). A survivor that logs 'dead' without a 'suspect' first counts its dead
time as its suspect time (reported as "direct").

Prints one table row per probe interval: median and max over all (survivor, run) samples of
time-to-suspect and time-to-dead, with the configured suspicion timeout range
(4 * max(1, log10 n) * P .. 6 times that) for reference. Exits non-zero only if a cluster
could not be set up or a survivor never reported the victim dead within a generous limit.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["TZ"] = "UTC"  # kvnode logs local time; make it UTC for itself and for us
if hasattr(time, "tzset"):
    time.tzset()

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "process"))

import harness  # noqa: E402
from harness import Node, loopback_address, member_events, wait_converged  # noqa: E402


def suspicion_range_s(members, probe_ms):
    import math
    low = 4 * max(1.0, math.log10(members)) * probe_ms / 1000.0
    return low, 6 * low


def one_run(args, probe_ms, run_index, workdir, keyring):
    """Returns ({survivor: suspect_s}, {survivor: dead_s}, direct_count, victim name)."""
    nodes = []
    common = ["--probe-interval-ms", str(probe_ms)] + (["--keyring", keyring] if keyring else [])
    try:
        for i in range(args.nodes):
            node = Node(args.kvnode, workdir, name=f"node{i + 1}", host=loopback_address(i + 1),
                        extra_args=common + ([] if i == 0 else ["--seeds", nodes[0].address]))
            nodes.append(node)
            node.start()
        p = probe_ms / 1000.0
        took, _ = wait_converged(args.kv, nodes, 10 * p + 10.0, "cluster start")
        time.sleep(2 * p)  # let the first round of probes settle
        victim = nodes[1 + run_index % (args.nodes - 1)]
        survivors = [n for n in nodes if n is not victim]
        offsets = {n.name: n.log_size() for n in survivors}
        low, high = suspicion_range_s(args.nodes, probe_ms)
        limit = (2 * args.nodes + 1) * p + high + 10 * p + 5.0
        killed_at = time.time()
        victim.kill()
        deadline = time.monotonic() + limit
        suspect, dead = {}, {}
        while True:
            for n in survivors:
                for ev in member_events(n, offsets[n.name]):
                    if ev.name != victim.name:
                        continue
                    if ev.kind == "suspect":
                        suspect.setdefault(n.name, ev.time - killed_at)
                    elif ev.kind == "dead":
                        dead.setdefault(n.name, ev.time - killed_at)
            if len(dead) == len(survivors) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        direct = 0
        for name, t in dead.items():
            if name not in suspect:
                suspect[name] = t
                direct += 1
        if args.verbose:
            print(f"    P={probe_ms} run {run_index + 1}: converged in {took:.2f} s, killed {victim.name}; "
                  + ", ".join(f"{n}: suspect {suspect.get(n, float('nan')):.3f} dead "
                              f"{dead.get(n, float('nan')):.3f}" for n in sorted(offsets)), flush=True)
        missing = sorted(set(offsets) - set(dead))
        return suspect, dead, direct, victim.name, missing, limit
    finally:
        for node in nodes:
            node.kill()


def fmt(values):
    if not values:
        return "      -         -"
    return f"{statistics.median(values):7.3f} {max(values):9.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kvnode", required=True)
    parser.add_argument("--kv", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--intervals", default="1000,200",
                        help="comma-separated probe intervals in ms (default 1000,200)")
    parser.add_argument("--keep-tmp", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every run's per-node times")
    parser.add_argument("--keyring", help="run every node with this keyring (mode 0600)")
    parser.add_argument("--both", action="store_true",
                        help="plaintext and keyed (fresh keyring) for each interval, side by side")
    args = parser.parse_args()
    args.kvnode, args.kv = os.path.abspath(args.kvnode), os.path.abspath(args.kv)
    if args.nodes < 3 or args.runs < 1:
        parser.error("need --nodes >= 3 and --runs >= 1")
    intervals = [int(x) for x in args.intervals.split(",") if x.strip()]
    root = tempfile.mkdtemp(prefix="ringkv-fd-bench-")
    print(f"failure detection: {args.nodes} nodes, kill -9 one, {args.runs} run(s) per probe "
          f"interval; times from the kill, seconds, over every (survivor, run); temp {root}",
          flush=True)
    if args.both:
        keyring = os.path.join(root, "cluster.keyring")
        with open(keyring, "wb") as f:
            f.write(subprocess.run([args.kv, "keygen"], check=True, capture_output=True).stdout)
        os.chmod(keyring, 0o600)
        modes = [("plain", None), ("keyed", keyring)]
    else:
        modes = [("keyed" if args.keyring else "plain", args.keyring and os.path.abspath(args.keyring))]
    rows, failed = [], False
    try:
        for probe_ms in intervals:
            samples = {label: ([], [], 0, []) for label, _ in modes}
            for run_index in range(args.runs):
                for label, keyring in modes:  # alternating, so drift hits both alike
                    suspects, deads, direct, missing_all = samples[label]
                    workdir = os.path.join(root, f"p{probe_ms}-{label}-run{run_index + 1}")
                    os.makedirs(workdir)
                    suspect, dead, d, victim, missing, limit = one_run(args, probe_ms, run_index, workdir,
                                                                       keyring)
                    suspects += suspect.values()
                    deads += dead.values()
                    if missing:
                        missing_all.append(f"run {run_index + 1}: {missing} never logged {victim} dead "
                                           f"within {limit:.1f} s")
                    samples[label] = (suspects, deads, direct + d, missing_all)
            for label, _ in modes:
                suspects, deads, direct, missing_all = samples[label]
                rows.append((f"{probe_ms} {label}", probe_ms, suspects, deads, direct, missing_all))
                failed |= bool(missing_all)
    finally:
        harness.kill_all_processes()
        if args.keep_tmp:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"{'probe':>13} {'samples':>7} | {'suspect':>7} {'':>9} | {'dead':>7} {'':>9} | "
          f"{'suspicion timeout':>17}")
    print(f"{'ms':>13} {'':>7} | {'median':>7} {'max':>9} | {'median':>7} {'max':>9} | "
          f"{'min .. max (s)':>17}")
    print("-" * 81)
    for name, probe_ms, suspects, deads, direct, missing_all in rows:
        low, high = suspicion_range_s(args.nodes, probe_ms)
        print(f"{name:>13} {len(deads):>7} | {fmt(suspects)} | {fmt(deads)} | "
              f"{low:7.1f} .. {high:5.1f}")
    for name, probe_ms, suspects, deads, direct, missing_all in rows:
        if direct:
            print(f"P={name}: {direct} survivor(s) went straight to dead (no suspect event)")
        for line in missing_all:
            print(f"P={name}: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
