#!/usr/bin/env python3
"""Hinted-handoff drain time of a real kvnode cluster (a measurement, not a test).

Usage:
    python3 bench/hint_replay.py --kvnode build/node/kvnode --kv build/cli/kv
        [--minutes 10] [--rate 2000] [--clients 8] [--value-size 100] [--keys RATE]
        [--probe-interval-ms 200] [--verify 200] [--keep-tmp]

Scenario: one of 3 nodes (N = 3) is down for --minutes under steady QUORUM writes, then
restarted; how long until its hints are drained?

1. Start node1..node3 on 127.0.0.1..3 (temporary data directories, free ports), wait until
   every node lists every node alive.
2. kill -9 node3 and wait until node1 and node2 report it dead (so every later write leaves
   exactly one hint for it: with 3 nodes and N = 3 there is no stand-in beyond the N, so the
   coordinator keeps the hint).
3. Write load through node1 and node2 for --minutes: `kv bench --writes 100` in one-second
   slices of --rate requests each (a slice that overruns starts the next at once; --rate 0
   runs one unthrottled `kv bench` for the whole duration). Each slice uses its own key
   prefix (hrS:) over --keys keys.
4. Report the hints stored for node3 (sum of `hints_stored:node3` over node1 and node2).
5. Restart node3 on its data directory and poll `kv stats` on node1 and node2 every 100 ms
   until hints_stored:node3 is 0 on both. Time is measured from the restart (process start),
   and also from the moment node1's log says node3 is alive.
6. Check a sample of --verify keys: node3's own copy (`get --local --json`) equals node1's.

Prints writes done, hints stored, seconds to drain and hints/s. Exits non-zero only if the
cluster could not be set up, the hints never drained within a generous limit, or the sample
check found a difference.

Duration: about --minutes plus ~10 s of setup, plus the drain. Measured on the development
machine at 2000 writes/s: 1 min down -> 120k hints drained in 19 s; 2.5 min -> 300k hints in
113 s. The drain time grows faster than the hint count, so a 10-minute run (1.2M hints) may
need ~30 min of drain on top of the 10 min of load.
"""

import argparse
import json
import os
import random
import shutil
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
from harness import Node, loopback_address, member_events, member_view, run_kv, wait_converged  # noqa: E402

STATS_POLL_S = 0.1


def stats(kv, node):
    result = run_kv(kv, "--json", "stats", host=node.address, timeout=10)
    if result.rc != 0:
        return None
    try:
        return json.loads(result.out.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def hints_for(kv, nodes, target, kind="hints_stored"):
    """{node name: KIND:TARGET} (absent counts as 0; None when stats failed)."""
    out = {}
    for node in nodes:
        s = stats(kv, node)
        out[node.name] = None if s is None else int(s.get(f"{kind}:{target}", 0))
    return out


def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise SystemExit(f"hint_replay: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def bench_slice(args, hosts, prefix, requests, duration):
    argv = [args.kv, "--host", hosts, "--json", "bench", "--writes", "100", "--clients", str(args.clients),
            "--value-size", str(args.value_size), "--keys", str(args.keys), "--key-prefix", prefix,
            "--duration", f"{duration:.3f}"]
    if requests:
        argv += ["--requests", str(requests)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=duration + 60)
    try:
        doc = json.loads(proc.stdout.decode("utf-8"))
        return int(doc.get("ops", 0)), int(doc.get("errors", 0))
    except (ValueError, UnicodeDecodeError):
        sys.stderr.write(f"hint_replay: kv bench exited {proc.returncode}: "
                         f"{proc.stderr.decode('utf-8', 'replace')[-300:]}\n")
        return 0, 0


def run_load(args, hosts, duration_s, stored_probe):
    """Returns (ops, errors, slices, prefixes used, seconds)."""
    started = time.monotonic()
    end = started + duration_s
    ops = errors = 0
    prefixes = []
    next_report = started + 10
    if args.rate <= 0:
        prefixes.append("hr0:")
        ops, errors = bench_slice(args, hosts, "hr0:", 0, duration_s)
        return ops, errors, prefixes, time.monotonic() - started
    slice_index = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        slice_start = started + slice_index
        if slice_start > now:
            time.sleep(slice_start - now)
        remaining = end - time.monotonic()
        if remaining <= 0:
            break
        fraction = min(1.0, remaining)
        prefix = f"hr{slice_index}:"
        prefixes.append(prefix)
        o, e = bench_slice(args, hosts, prefix, max(1, int(round(args.rate * fraction))), fraction)
        ops += o
        errors += e
        slice_index += 1
        if time.monotonic() >= next_report:
            elapsed = time.monotonic() - started
            print(f"  ... {elapsed:5.0f} s: {ops} writes ({ops / elapsed:.0f}/s), {errors} errors, "
                  f"hints stored {stored_probe()}", flush=True)
            next_report += 10
    return ops, errors, prefixes, time.monotonic() - started


def local_doc(kv, node, key):
    result = run_kv(kv, "--json", "get", key, "--local", host=node.address, timeout=10)
    if result.rc == 1:
        return None
    if result.rc != 0:
        return ("error", result.rc, result.err.strip())
    doc = json.loads(result.out.decode("utf-8"))
    return (doc.get("value"), doc.get("timestamp"), doc.get("tiebreak"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kvnode", required=True)
    parser.add_argument("--kv", required=True)
    parser.add_argument("--minutes", type=float, default=10.0, help="node3 down this long (fractions ok)")
    parser.add_argument("--rate", type=int, default=2000, help="writes per second (0: as fast as possible)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--keys", type=int, default=None,
                        help="keys per one-second slice (default --rate, or 100000 if unthrottled)")
    parser.add_argument("--probe-interval-ms", type=int, default=200)
    parser.add_argument("--verify", type=int, default=200, help="sampled keys to compare node3 with node1")
    parser.add_argument("--drain-limit-s", type=float, default=7200.0)
    parser.add_argument("--keep-tmp", action="store_true")
    args = parser.parse_args()
    args.kvnode, args.kv = os.path.abspath(args.kvnode), os.path.abspath(args.kv)
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    if args.keys is None:
        args.keys = args.rate if args.rate > 0 else 100000

    root = tempfile.mkdtemp(prefix="ringkv-hint-bench-")
    duration_s = args.minutes * 60
    rate_text = f"{args.rate} writes/s" if args.rate > 0 else "unthrottled writes"
    print(f"hint replay: 3 nodes, N = 3, node3 down {args.minutes:g} min under {rate_text} "
          f"(QUORUM, {args.clients} clients, {args.value_size}-byte values, "
          f"P = {args.probe_interval_ms} ms); temp {root}", flush=True)
    failed = False
    try:
        common = ["--probe-interval-ms", str(args.probe_interval_ms), "--replicas", "3"]
        nodes = []
        for i in range(3):
            node = Node(args.kvnode, root, name=f"node{i + 1}", host=loopback_address(i + 1),
                        extra_args=common + ([] if i == 0 else ["--seeds", nodes[0].address]))
            nodes.append(node)
            node.start()
        n1, n2, n3 = nodes
        wait_converged(args.kv, nodes, 30, "cluster start")
        n3.kill()
        wait_for(lambda: all((member_view(args.kv, o) or {}).get("node3", {}).get("liveness") == "dead"
                             for o in (n1, n2)), 30, "node1 and node2 to see node3 dead")

        hosts = f"{n1.address},{n2.address}"
        ops, errors, prefixes, load_s = run_load(
            args, hosts, duration_s, lambda: sum(v or 0 for v in hints_for(args.kv, [n1, n2], "node3").values()))
        stored = hints_for(args.kv, [n1, n2], "node3")
        total_stored = sum(v or 0 for v in stored.values())
        s1, s2 = stats(args.kv, n1) or {}, stats(args.kv, n2) or {}
        refused = int(s1.get("hints_refused", 0)) + int(s2.get("hints_refused", 0))
        print(f"  load: {ops} writes ok, {errors} errors in {load_s:.1f} s ({ops / max(load_s, 1e-9):.0f} writes/s)")
        print(f"  hints stored for node3: {total_stored} "
              f"({', '.join(f'{k} {v}' for k, v in stored.items())}; refused {refused})", flush=True)

        offset = n1.log_size()
        restart_wall = time.time()
        restart_mono = time.monotonic()
        n3.restart()
        ready_s = time.monotonic() - restart_mono
        samples = []
        while True:
            current = hints_for(args.kv, [n1, n2], "node3")
            elapsed = time.monotonic() - restart_mono
            if all(v is not None for v in current.values()):
                left = sum(current.values())
                samples.append((elapsed, left))
                if left == 0:
                    break
            if elapsed > args.drain_limit_s:
                print(f"  NOT drained after {elapsed:.0f} s: {current}")
                failed = True
                break
            time.sleep(STATS_POLL_S)
        drain_s = samples[-1][0] if samples else float("nan")
        alive = [ev for ev in member_events(n1, offset) if ev.name == "node3" and ev.kind in ("alive", "joined")]
        alive_s = alive[0].time - restart_wall if alive else None
        replayed = hints_for(args.kv, [n1, n2], "node3", "hints_replayed")
        total_replayed = sum(v or 0 for v in replayed.values())
        mid = [f"{t:.1f}s:{left}" for t, left in samples[:: max(1, len(samples) // 8)]]
        print(f"  node3 restarted: accepting connections after {ready_s:.2f} s"
              + (f", logged alive by node1 after {alive_s:.2f} s" if alive_s is not None else ""))
        print(f"  drain progress (since restart: hints left): {' '.join(mid)}")
        if not failed:
            after_alive = f" ({drain_s - alive_s:.2f} s after node1 saw it alive)" if alive_s is not None else ""
            print(f"  drained: {drain_s:.2f} s after the restart{after_alive}; "
                  f"hints_replayed:node3 = {total_replayed}")
            rate = total_stored / drain_s if drain_s > 0 else float("inf")
            print(f"  replay rate: {rate:.0f} hints/s")

        if args.verify > 0 and not failed and prefixes:
            rng = random.Random(1)
            checked = differ = 0
            examples = []
            for _ in range(args.verify * 20):
                if checked >= args.verify:
                    break
                key = f"{rng.choice(prefixes)}{rng.randrange(args.keys)}"
                ref = local_doc(args.kv, n1, key)
                if ref is None:
                    continue
                checked += 1
                got = local_doc(args.kv, n3, key)
                if got != ref:
                    differ += 1
                    if len(examples) < 3:
                        examples.append((key, ref[1:] if isinstance(ref, tuple) else ref,
                                         got[1:] if isinstance(got, tuple) else got))
            print(f"  verify: {checked} sampled keys, {differ} differ between node1 and node3"
                  + (f" e.g. {examples}" if examples else ""))
            failed |= differ > 0

        print()
        print(f"RESULT writes={ops} hints_stored={total_stored} "
              f"drain_s={'NA' if failed else f'{drain_s:.2f}'} "
              f"hints_per_s={'NA' if failed else f'{total_stored / drain_s:.0f}'}")
    finally:
        harness.kill_all_processes()
        if args.keep_tmp:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
