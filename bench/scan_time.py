#!/usr/bin/env python3
"""Time to scan the whole keyspace of a 3-node cluster (N = 3) with `kv scan`.

Three nodes on 127.0.0.1-3 are loaded with --keys keys of --value-size bytes by `kv bench`
(its prefill writes key space 0..keys-1 at QUORUM); then `kv scan` (QUORUM, pages of 1000)
runs through node1 with its output to a pipe that counts lines, and the script prints the
keys listed, the wall time and keys/s, and the pages the nodes served (stats scan_pages).
A --level one run follows (one replica per page instead of two).

  python3 bench/scan_time.py --kvnode build/node/kvnode --kv build/cli/kv [--keys 1000000]

Runs with free ports in a temporary directory it deletes; stops its nodes by PID.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
from stream_rate import free_port, kv_json, stop_all  # noqa: E402  (bench/ helpers)


def timed_scan(kv, address, level):
    started = time.monotonic()
    proc = subprocess.Popen([kv, "--host", address, "--consistency", level, "--timeout-ms", "30000", "scan"],
                            stdout=subprocess.PIPE)
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: proc.stdout.read(1 << 20), b""))
    if proc.wait() != 0:
        sys.exit(f"kv scan failed (exit {proc.returncode})")
    return lines, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kvnode", required=True)
    parser.add_argument("--kv", required=True)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=16)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="ringkv-scan-bench-")
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    addrs = [f"{h}:{free_port(h)}" for h in hosts]
    procs = []
    try:
        for i, address in enumerate(addrs):
            argv = [args.kvnode, "--name", f"s{i + 1}", "--listen", address, "--data",
                    os.path.join(work, f"s{i + 1}"), "--replicas", "3", "--probe-interval-ms", "200"]
            if i > 0:
                argv += ["--seeds", addrs[0]]
            log = open(os.path.join(work, f"s{i + 1}.log"), "w")
            procs.append(subprocess.Popen(argv, stdout=log, stderr=log))
        deadline = time.monotonic() + 60
        while True:
            view = kv_json(args.kv, addrs[0], "status")
            members = (view or {}).get("members", [])
            if len(members) == 3 and all(m["liveness"] == "alive" and m["ring_status"] == "normal" for m in members):
                break
            if time.monotonic() > deadline:
                sys.exit("the cluster did not converge")
            time.sleep(0.1)
        print(f"loading {args.keys} keys x {args.value_size} B at QUORUM (N = 3) ...", flush=True)
        started = time.monotonic()
        loaded = subprocess.run([args.kv, "--host", addrs[0], "bench", "--keys", str(args.keys), "--value-size",
                                 str(args.value_size), "--writes", "0", "--requests", "1", "--clients", "8",
                                 "--pipeline", "32"], capture_output=True, text=True, timeout=7200)
        # Exit 3: some puts failed (TIMEOUT on a loaded machine); each may or may not have landed.
        if loaded.returncode not in (0, 3):
            sys.exit(f"kv bench failed (exit {loaded.returncode}): {loaded.stderr[-500:]}")
        print(f"loaded in {time.monotonic() - started:.1f} s (kv bench exit {loaded.returncode})", flush=True)
        for level in ("quorum", "one"):
            lines, elapsed = timed_scan(args.kv, addrs[0], level)
            pages = sum((kv_json(args.kv, a, "stats") or {}).get("scan_pages", 0) for a in addrs)
            print(f"kv --consistency {level} scan: {lines} keys in {elapsed:.2f} s "
                  f"({lines / elapsed:,.0f} keys/s); scan pages served so far: {pages}", flush=True)
            if lines > args.keys or (loaded.returncode == 0 and lines != args.keys):
                sys.exit(f"kv scan listed {lines} keys, {args.keys} were written")
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
