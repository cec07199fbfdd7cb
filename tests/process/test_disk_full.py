#!/usr/bin/env python3
"""A node whose data directory fills up (TESTING.md T9).

Three nodes on 127.0.0.x; node1's data directory is on a small tmpfs this test
mounts (with a ballast file on it), the others on the ordinary disk. Three
nodes rather than one because the full node must also keep answering gossip
(its peers keep seeing it alive), and a coordinator must refuse a write that a
*remote* replica could not store, not only its own. Unique keys with large
values are written at consistency ALL through node1 and node2 in turn until the
disk is full; then:
- every refused write exits 3 with "storage full" on stderr (kv), and RESP on
  node1 answers SET with an -ERR naming storage full;
- the node keeps running, serves every acknowledged key, and its peers see it
  alive;
- after the ballast is deleted, writes succeed again without a restart, and
  every acknowledged key reads back with its value (lost = 0).
Prints: writes acknowledged, refused, lost, and the time to recover.

Needs root to mount a tmpfs; exits 77 (skipped) when mounting is not allowed.
Run: python3 tests/process/test_disk_full.py --kvnode PATH --kv PATH
"""

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_CLUSTER_ERROR, EXIT_OK, check, check_eq, free_port, loopback_address, member_view,
    run_tests, test, wait_converged, wait_until,
)

SKIPPED = 77
PROBE_MS = 200
# The small disk and the ballast on it. Freeing the ballast must leave room
# for RocksDB to write its memtables (all the data written here, which stays
# below one 64 MiB write buffer) out as table files: ballast > data.
DISK_BYTES = 112 * 1024 * 1024
BALLAST_BYTES = 64 * 1024 * 1024
VALUE_BYTES = 512 * 1024
WRITES_MAX = 400
# Refusals in a row that mean "the disk is full", not a passing hiccup.
REFUSALS_TO_STOP = 6
RECOVER_TIMEOUT_S = 30.0


def mount_tmpfs(path, size_bytes):
    """Mounts a tmpfs of size_bytes at path; returns the error text or None."""
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", path],
                            capture_output=True, text=True)
    return None if result.returncode == 0 else (result.stderr.strip() or f"exit {result.returncode}")


def unmount(path):
    subprocess.run(["umount", "-l", path], capture_output=True)


def can_mount():
    """None when a tmpfs can be mounted here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "not root"
    probe = tempfile.mkdtemp(prefix="ringkv-mount-probe-")
    try:
        error = mount_tmpfs(probe, 1024 * 1024)
        if error is None:
            unmount(probe)
        return error
    finally:
        os.rmdir(probe)


def value_for(key):
    """A value that names its key and carries its own checksum (TESTING.md)."""
    body = hashlib.sha256(key.encode()).digest() * (VALUE_BYTES // 32)
    return key.encode() + b":" + hashlib.sha256(body).hexdigest().encode() + b":" + body


def resp_set(host, port, key, value):
    """One RESP SET; returns the reply's first line."""
    parts = [b"SET", key.encode(), value]
    command = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(command)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.decode("utf-8", "replace").strip()


@test
def full_disk_refuses_writes_keeps_serving_and_recovers_without_restart(ctx):
    small = os.path.join(ctx.workdir, "small-disk")
    os.makedirs(small)
    error = mount_tmpfs(small, DISK_BYTES)
    check(error is None, f"mounting a tmpfs at {small}: {error}")
    try:
        run_full_disk(ctx, small)
    finally:
        ctx.cleanup()  # the node must let go of the mount before it can go
        unmount(small)


def run_full_disk(ctx, small):
    ballast = os.path.join(small, "ballast")
    with open(ballast, "wb") as out:
        block = b"\0" * (1 << 20)
        for _ in range(BALLAST_BYTES // len(block)):
            out.write(block)

    common = ["--probe-interval-ms", str(PROBE_MS), "--replicas", "3"]
    nodes = [ctx.node(name=f"node{i}", host=loopback_address(i), start=False) for i in (1, 2, 3)]
    full, other, _ = nodes
    # node1 founds the cluster, on the small disk, with a RESP port that
    # writes at ALL (at QUORUM its peers would take the write without it).
    resp_port = free_port(full.host)
    full.data_dir = os.path.join(small, "node1")
    full.extra_args = common + ["--resp-listen", f"{full.host}:{resp_port}",
                                "--resp-consistency", "all"]
    full.start()
    for node in nodes[1:]:
        node.extra_args = common + ["--seeds", full.address]
        node.start()
    wait_converged(ctx.kv_path, nodes, 30.0, "three nodes, node1 on the small disk")

    acknowledged = {}
    refused = []
    refusals_in_a_row = 0
    for i in range(WRITES_MAX):
        key = f"disk-full-{i}"
        coordinator = nodes[i % 2]
        result = ctx.kv("--consistency", "all", "put", key, "-", node=coordinator,
                        input=value_for(key))
        if result.rc == EXIT_OK:
            acknowledged[key] = coordinator.name
            refusals_in_a_row = 0
            continue
        check(result.rc == EXIT_CLUSTER_ERROR and "storage full" in result.err,
              f"a refused write must exit 3 naming 'storage full': {result.describe()}")
        refused.append(key)
        refusals_in_a_row += 1
        if refusals_in_a_row >= REFUSALS_TO_STOP:
            break
    check(refusals_in_a_row >= REFUSALS_TO_STOP,
          f"the disk never filled: {len(acknowledged)} writes acknowledged")
    check(len(acknowledged) > 10, f"only {len(acknowledged)} writes before the disk was full")
    refused_by = {nodes[int(k.rsplit('-', 1)[1]) % 2].name for k in refused}
    check_eq(refused_by, {"node1", "node2"}, "coordinators that refused (local and remote replica)")

    reply = resp_set(full.host, resp_port, "disk-full-resp", b"x" * VALUE_BYTES)
    check(reply.startswith("-ERR") and "storage full" in reply,
          f"RESP SET on the full node: expected -ERR ... storage full, got {reply[:200]!r}")

    # Full, it stays up, serves reads and gossips: its peers see it alive.
    check(full.alive(), f"node1 exited on a full disk; log tail:\n{full.log_tail()}")
    lost = [k for k in acknowledged if ctx.kv("get", k, node=full).out != value_for(k)]
    check_eq(lost, [], "acknowledged keys unreadable while the disk is full")
    view = member_view(ctx.kv_path, other)
    check(view is not None and view["node1"]["liveness"] == "alive",
          f"node2 must still see the full node alive: {view}")
    log_before = full.log_size()
    time.sleep(1.0)  # no busy retrying while full: the log grows by little
    log_growth = full.log_size() - log_before
    check(log_growth < 64 * 1024, f"node1 logged {log_growth} bytes in 1 s while full")

    # Space returns: writes succeed again, without a restart.
    os.remove(ballast)
    freed = time.monotonic()
    starts = full.starts
    attempt = [0]

    def write_accepted():
        attempt[0] += 1
        key = f"after-full-{attempt[0]}"
        result = ctx.kv("--consistency", "all", "put", key, "-", node=full, input=value_for(key))
        if result.rc == EXIT_OK:
            acknowledged[key] = full.name
            return True
        check(result.rc == EXIT_CLUSTER_ERROR, f"write after freeing space: {result.describe()}")
        return False

    wait_until(write_accepted, RECOVER_TIMEOUT_S, "a write accepted after freeing space", interval=0.1)
    recover_s = time.monotonic() - freed
    check_eq(full.starts, starts, "node1 starts (no restart allowed)")
    for i in range(5):
        key = f"after-full-more-{i}"
        result = ctx.kv("--consistency", "all", "put", key, "-", node=nodes[i % 2],
                        input=value_for(key))
        check(result.rc == EXIT_OK, f"write after recovery: {result.describe()}")
        acknowledged[key] = nodes[i % 2].name

    lost = []
    for key in acknowledged:
        for node in nodes:
            result = ctx.kv("get", key, "--local", node=node)
            if result.rc != EXIT_OK or result.out != value_for(key):
                lost.append((key, node.name, result.rc))
    print(f"  disk full: {len(acknowledged)} writes acknowledged, {len(refused)} refused, "
          f"{len(lost)} lost; writes accepted {recover_s:.2f} s after space was freed "
          f"({attempt[0]} tries)", flush=True)
    check_eq(lost, [], "acknowledged writes missing from a replica")


if __name__ == "__main__":
    reason = can_mount()
    if reason is not None:
        print(f"test_disk_full.py: skipped: cannot mount a tmpfs ({reason})")
        sys.exit(SKIPPED)
    sys.exit(run_tests())
