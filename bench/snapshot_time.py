#!/usr/bin/env python3
"""Snapshot and restore cost on a loaded node (README "Backups").

One node (N = 1) is loaded with --gib of random (incompressible, so the data on disk is
about --gib) values of --value-size bytes through its RESP port, pipelined; then it times `kv snapshot` right after the load (RocksDB flushes the
memtable first), a second `kv snapshot` (nothing left to flush), how much disk the snapshots
add (`du` counts hard-linked files once), and the offline restore
(`kvnode --restore-snapshot`, node stopped).

  python3 bench/snapshot_time.py --kvnode build/node/kvnode --kv build/cli/kv [--gib 1.0]

Runs on 127.0.0.1 with a free port, in a temporary directory it deletes; stops its node by PID.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
from stream_rate import free_port, kv_json, stop_all  # noqa: E402  (bench/ helpers: a free TCP port, kv --json)


def du_bytes(path):
    out = subprocess.run(["du", "-sb", path], check=True, capture_output=True, text=True).stdout
    return int(out.split()[0])


def load(resp_address, keys, value_size, pipeline=32):
    """SET key-i to random bytes for every i, PIPELINE commands in flight."""
    host, port = resp_address.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as conn:
        pending = 0
        replies = b""
        for i in range(keys):
            key = f"key-{i}".encode()
            value = os.urandom(value_size)
            conn.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
            pending += 1
            while pending >= pipeline or (i == keys - 1 and pending > 0):
                replies += conn.recv(65536)
                while b"\r\n" in replies:
                    line, replies = replies.split(b"\r\n", 1)
                    if line != b"+OK":
                        sys.exit(f"SET failed: {line!r}")
                    pending -= 1


def timed_snapshot(kv, address, tag):
    started = time.monotonic()
    made = kv_json(kv, address, "snapshot", "--tag", tag)
    elapsed = time.monotonic() - started
    if made is None:
        sys.exit(f"kv snapshot --tag {tag} failed")
    return elapsed, made["snapshots"][0]["bytes"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kvnode", required=True)
    parser.add_argument("--kv", required=True)
    parser.add_argument("--gib", type=float, default=1.0, help="data to load (GiB)")
    parser.add_argument("--value-size", type=int, default=65536, help="bytes per value")
    args = parser.parse_args()

    keys = int(args.gib * (1 << 30) / args.value_size)
    work = tempfile.mkdtemp(prefix="ringkv-snapshot-bench-")
    address = f"127.0.0.1:{free_port('127.0.0.1')}"
    resp_address = f"127.0.0.1:{free_port('127.0.0.1')}"
    data = os.path.join(work, "data")
    argv = [args.kvnode, "--name", "s1", "--listen", address, "--data", data, "--replicas", "1",
            "--resp-listen", resp_address]
    proc = None
    try:
        def start():
            log = open(os.path.join(work, "s1.log"), "a")
            node = subprocess.Popen(argv, stdout=log, stderr=log)
            deadline = time.time() + 60
            while kv_json(args.kv, address, "status") is None:
                if time.time() > deadline or node.poll() is not None:
                    sys.exit("kvnode did not start")
                time.sleep(0.05)
            return node

        proc = start()
        print(f"loading {keys} keys x {args.value_size} B = {keys * args.value_size / 1e9:.2f} GB ...", flush=True)
        started = time.monotonic()
        load(resp_address, keys, args.value_size)
        print(f"loaded in {time.monotonic() - started:.1f} s; data dir {du_bytes(data) / 1e9:.2f} GB on disk",
              flush=True)

        before = du_bytes(data)
        first_s, first_bytes = timed_snapshot(args.kv, address, "first")
        second_s, second_bytes = timed_snapshot(args.kv, address, "second")
        added = du_bytes(data) - before
        print(f"kv snapshot right after the load (memtable flushed first): {first_s * 1000:.0f} ms, "
              f"{first_bytes / 1e9:.2f} GB in the snapshot", flush=True)
        print(f"kv snapshot again (nothing to flush): {second_s * 1000:.0f} ms, {second_bytes / 1e9:.2f} GB",
              flush=True)
        print(f"disk added by both snapshots (hard links counted once): {added / 1e6:.1f} MB", flush=True)

        proc.terminate()
        proc.wait(60)
        started = time.monotonic()
        subprocess.run(argv + ["--restore-snapshot", "first"], check=True, capture_output=True, timeout=3600)
        print(f"offline restore (kvnode --restore-snapshot): {(time.monotonic() - started) * 1000:.0f} ms",
              flush=True)
        proc = start()
        member = kv_json(args.kv, address, "status")["members"][0]
        print(f"restarted on the restored data: {member['keys']} keys, {member['bytes'] / 1e9:.2f} GB "
              f"(estimates)", flush=True)
    finally:
        if proc is not None:
            stop_all([proc])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
