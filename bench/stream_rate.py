#!/usr/bin/env python3
"""Bootstrap streaming rate: how fast a joining node pulls its ranges (issue 5).

A founder node (N = 2, so alone it keeps one copy) is loaded with --gib of data by
`kv bench` (prefill of --keys keys of --value-size bytes); then a second node joins and,
with N = 2, must stream every key. Prints the bytes and keys streamed, the joining node's
own stream rate (stats stream_rate_bytes_per_s: first request to last batch applied) and
the wall time from its start to `normal` in the ring.

  python3 bench/stream_rate.py --kvnode build/node/kvnode --kv build/cli/kv [--gib 1.2]
      [--keyring FILE | --both]

--keyring FILE runs both nodes keyed (sealed peer sessions, so the stream is sealed);
--both runs plaintext, then keyed with a fresh keyring from `kv keygen`, and prints the
two stream rates and their ratio.

Runs on 127.0.0.1/127.0.0.2 with free ports, in a temporary directory it deletes; stops
its nodes by PID.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def kv_json(kv, host, *args):
    out = subprocess.run([kv, "--host", host, "--json", *args], capture_output=True, timeout=60)
    return json.loads(out.stdout) if out.returncode == 0 else None


def stop_all(procs):
    """SIGTERM each process (by its Popen, so by PID), then SIGKILL any still there after 20 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run(args, keyring):
    """One founder + joiner measurement; returns the joiner's stream rate in MB/s."""
    keys = int(args.gib * (1 << 30) / args.value_size)
    work = tempfile.mkdtemp(prefix="ringkv-stream-")
    procs = []
    label = "keyed" if keyring else "plaintext"
    try:
        if keyring == "generate":
            keyring = os.path.join(work, "cluster.keyring")
            with open(keyring, "wb") as f:
                f.write(subprocess.run([args.kv, "keygen"], check=True, capture_output=True).stdout)
            os.chmod(keyring, 0o600)
        hosts = ["127.0.0.1", "127.0.0.2"]
        addrs = [f"{h}:{free_port(h)}" for h in hosts]

        def start(i, seeds):
            argv = [args.kvnode, "--name", f"s{i + 1}", "--listen", addrs[i], "--data",
                    os.path.join(work, f"s{i + 1}"), "--replicas", "2", "--probe-interval-ms", "200"]
            if seeds:
                argv += ["--seeds", seeds]
            if keyring:
                argv += ["--keyring", keyring]
            log = open(os.path.join(work, f"s{i + 1}.log"), "w")
            procs.append(subprocess.Popen(argv, stdout=log, stderr=log))

        start(0, None)
        deadline = time.time() + 30
        while kv_json(args.kv, addrs[0], "status") is None:
            if time.time() > deadline:
                sys.exit("founder did not start")
            time.sleep(0.05)
        print(f"[{label}] loading {keys} keys x {args.value_size} B = {keys * args.value_size / 1e9:.2f} GB ...",
              flush=True)
        t = time.time()
        subprocess.run([args.kv, "--host", addrs[0], "bench", "--keys", str(keys), "--value-size",
                        str(args.value_size), "--writes", "0", "--requests", "1", "--clients", "8"],
                       check=True, capture_output=True, timeout=3600)
        print(f"[{label}] loaded in {time.time() - t:.1f} s", flush=True)
        t0 = time.time()
        start(1, addrs[0])
        stats = None
        while True:
            view = kv_json(args.kv, addrs[1], "status")
            stats = kv_json(args.kv, addrs[1], "stats") or stats
            members = {m["name"]: m for m in (view or {}).get("members", [])}
            if members.get("s2", {}).get("ring_status") == "normal" and stats and stats.get("ring_state") == 2:
                break
            if time.time() - t0 > 3600:
                sys.exit("join did not complete within an hour")
            time.sleep(0.1)
        wall = time.time() - t0
        stats = kv_json(args.kv, addrs[1], "stats")
        mb = stats["stream_bytes_received"] / 1e6
        rate = stats["stream_rate_bytes_per_s"] / 1e6
        sessions = stats.get("sealed_sessions_opened", 0) + stats.get("sealed_sessions_accepted", 0)
        print(f"[{label}] join streamed {stats['stream_keys_received']} keys, {mb:.1f} MB in "
              f"{stats['stream_ranges_done']} ranges; stream rate {rate:.1f} MB/s; "
              f"start to normal {wall:.1f} s ({mb / wall:.1f} MB/s overall); "
              f"sealed sessions {sessions}", flush=True)
        return rate
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kvnode", required=True)
    p.add_argument("--kv", required=True)
    p.add_argument("--gib", type=float, default=1.2, help="data to load (GiB)")
    p.add_argument("--value-size", type=int, default=65536)
    p.add_argument("--keyring", help="run both nodes with this keyring (mode 0600)")
    p.add_argument("--both", action="store_true", help="plaintext, then keyed (fresh keyring): side by side")
    args = p.parse_args()
    if args.both:
        plain = run(args, None)
        keyed = run(args, "generate")
        print(f"stream rate: plaintext {plain:.1f} MB/s, keyed {keyed:.1f} MB/s, keyed/plaintext "
              f"{keyed / plain:.2f}")
    else:
        run(args, args.keyring)


if __name__ == "__main__":
    main()
