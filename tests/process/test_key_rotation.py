#!/usr/bin/env python3
"""Key rotation without downtime and without stranding anyone (DESIGN.md
"Trust"; README "Security"; issue 11 item 3).

- A keyed 3-node cluster under a QUORUM writer: `kv keys install K2`,
  `use K2`, `remove K1` are ok, one line per node. Then with node3 killed
  (and seen dead), `install K3` and `use K3` are ok on node1 and node2 and
  name node3 as not reached (exit 3); `remove K2` is refused (exit 3) naming
  node3, and nothing changed. node3 restarted rejoins (every node sees every node
  alive), adopts K2 from the others (sync), and its own copy gets new
  writes; then `remove K1` is ok on every node, one line per node. The
  keyring in use (DATA/keyring, with its primary version) survives a
  restart. Every acknowledged write is readable at the end.
- A node added later from a key file holding the current primary joins, and
  a rotation through it (install, use, remove) is ok on all four.
- A node started with only a key the cluster does not hold says "no seed
  accepts this node's keys" in its log and `kv status`, and does not serve.

Addresses: 127.0.0.61-63 (the cluster), 127.0.0.60 (a node added later), 127.0.0.64
(the stranger).

Run: python3 tests/process/test_key_rotation.py --kvnode PATH --kv PATH
"""

import ctypes
import ctypes.util
import base64
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, check, check_eq, loopback_address, run_tests, start_cluster, test, wait_converged, wait_until,
)

PROBE_MS = 200
EXIT_CLUSTER_ERROR = 3

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
check(_sodium.sodium_init() >= 0, "libsodium does not start")


def fingerprint(key_base64):
    """node/trust/keyring.h: the first 8 bytes of BLAKE2b(key), in hex."""
    key = base64.b64decode(key_base64)
    digest = ctypes.create_string_buffer(32)
    _sodium.crypto_generichash(digest, ctypes.c_size_t(32), key, ctypes.c_ulonglong(len(key)), None,
                               ctypes.c_size_t(0))
    return digest.raw[:8].hex()


def new_key(ctx):
    result = ctx.kv("keygen")
    check(result.rc == EXIT_OK, f"kv keygen: {result.describe()}")
    return result.out.decode().strip()


def key_file(ctx, name, key):
    path = os.path.join(ctx.workdir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{key}\n")
    return path


def keys_json(ctx, node, *args):
    """(exit code, {node name: line}, stderr) of `kv --json keys ARGS` on node."""
    result = ctx.kv("--json", "keys", *args, node=node, timeout=30)
    lines = {}
    if result.out.strip():
        lines = {line["name"]: line for line in json.loads(result.out.decode())["nodes"]}
    return result.rc, lines, result.err


class Writer:
    """QUORUM puts through node2 (node1 as fallback) until stopped."""

    def __init__(self, ctx, nodes):
        self.ctx, self.hosts = ctx, f"{nodes[1].address},{nodes[0].address}"
        self.acked, self.failed, self.stop_flag = [], 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        i = 0
        while not self.stop_flag.is_set():
            key = f"rot-{i}"
            result = self.ctx.kv("put", key, f"value-{i}", host=self.hosts)
            if result.rc == EXIT_OK:
                self.acked.append(key)
            else:
                self.failed += 1
            i += 1

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=30)


def sessions_opened(ctx, node):
    result = ctx.kv("--json", "stats", node=node)
    check(result.rc == EXIT_OK, f"kv stats: {result.describe()}")
    return json.loads(result.out.decode())["sealed_sessions_opened"]


def member_liveness(ctx, observer, name):
    result = ctx.kv("--json", "status", node=observer)
    if result.rc != EXIT_OK:
        return None
    members = {m["name"]: m for m in json.loads(result.out.decode())["members"]}
    return members.get(name, {}).get("liveness")


@test
def rotation_waits_for_a_node_that_was_down_then_completes(ctx):
    k1, k2, k3 = new_key(ctx), new_key(ctx), new_key(ctx)
    f1, f2, f3 = fingerprint(k1), fingerprint(k2), fingerprint(k3)
    nodes = start_cluster(ctx, 3, PROBE_MS, first_index=61, extra_args=["--keyring", key_file(ctx, "k1", k1)])
    wait_converged(ctx.kv_path, nodes, 30.0, "keyed cluster")
    node1, node2, node3 = nodes
    names = [n.name for n in nodes]
    writer = Writer(ctx, nodes)
    try:
        rc, lines, err = keys_json(ctx, node1, "list")
        check(rc == EXIT_OK and sorted(lines) == names, f"list: rc {rc}, {lines}, {err}")
        check(all(line["primary"] == f1 and line["keys"] == [f1] for line in lines.values()), f"list: {lines}")

        # 1. Every node up: install, use, remove are ok, one line per node.
        opened_before = sessions_opened(ctx, node1)
        for args, node in ((("install", k2), node1), (("use", k2), node2), (("remove", k1), node3)):
            started = time.monotonic()
            result = ctx.kv("keys", *args, node=node, timeout=30)
            out = result.out.decode().strip().splitlines()
            check(result.rc == EXIT_OK and out == [f"{n} ok" for n in names],
                  f"kv keys {args[0]}: {result.describe()}")
            print(f"  kv keys {args[0]} on {node.name}: {' / '.join(out)} ({time.monotonic() - started:.2f} s)")
        rc, lines, err = keys_json(ctx, node1, "list")
        check(rc == EXIT_OK and all(line["keys"] == [f2] and line["version"] == 1 for line in lines.values()),
              f"after the first rotation: {lines}")
        text = ctx.kv("keys", "list", node=node1)
        check_eq(len(text.out.decode().strip().splitlines()), 3, "lines of `kv keys list`")
        # Sessions under the removed key are retired: node1 opens new ones under K2.
        result = ctx.kv("--consistency", "all", "put", "after-first-rotation", "v", node=node1)
        check(result.rc == EXIT_OK, f"put at ALL after the first rotation: {result.describe()}")
        wait_until(lambda: sessions_opened(ctx, node1) > opened_before, 10.0, "node1 opens sessions under K2")
        wait_until(lambda: any("its cluster key was removed" in n.log_text() for n in nodes), 10.0,
                   "a session under the removed key closed")

        # 2. node3 down (and seen dead) through install and use of K3.
        k1, k2, f1, f2 = k2, k3, f2, f3
        node3.kill()
        wait_until(lambda: member_liveness(ctx, node1, "node3") == "dead", 30.0, "node1 sees node3 dead")
        rc, lines, err = keys_json(ctx, node1, "install", k2)
        check(rc == EXIT_CLUSTER_ERROR, f"install with node3 down: rc {rc} ({lines}, {err})")
        check(lines["node1"]["ok"] and lines["node2"]["ok"] and not lines["node3"]["ok"], f"install: {lines}")
        rc, lines, err = keys_json(ctx, node2, "install", k2)  # idempotent
        check(lines["node1"]["ok"] and lines["node2"]["ok"], f"install again: {lines}")
        rc, lines, err = keys_json(ctx, node1, "use", k2)
        check(rc == EXIT_CLUSTER_ERROR and lines["node1"]["ok"] and lines["node2"]["ok"], f"use: {lines}")
        check(lines["node1"]["primary"] == f2 and lines["node2"]["primary"] == f2, f"use: {lines}")
        check(not lines["node3"]["ok"], f"use reached a killed node3: {lines}")
        print(f"  with node3 down: install and use ok on node1, node2; node3: {lines['node3']['message']}")

        result = ctx.kv("keys", "remove", k1, node=node2, timeout=30)
        check(result.rc == EXIT_CLUSTER_ERROR and "node3 (down)" in result.err,
              f"remove with node3 unconfirmed: {result.describe()}")
        print(f"  remove refused: {result.err.strip()}")
        rc, lines, err = keys_json(ctx, node1, "list")
        check(all(lines[n]["keys"] == [f2, f1] for n in ("node1", "node2")), f"remove changed something: {lines}")

        restarted = time.monotonic()
        node3.start()
        wait_converged(ctx.kv_path, nodes, 60.0, "node3 back")
        print(f"  node3 seen alive by every node {time.monotonic() - restarted:.1f} s after its restart")

        def synced():
            rc, lines, _ = keys_json(ctx, node3, "list")
            return rc == EXIT_OK and all(line["primary"] == f2 for line in lines.values())
        wait_until(synced, 30.0, "node3 adopts the new primary from the others", interval=0.2)
        print(f"  node3 runs the new primary {time.monotonic() - restarted:.1f} s after its restart")
        check(f"adopted primary {f2}" in node3.log_text(), "node3's log does not say it adopted K2")

        result = ctx.kv("--consistency", "all", "put", "after-rotation", "fresh", node=node1)
        check(result.rc == EXIT_OK, f"put after rotation: {result.describe()}")
        wait_until(lambda: ctx.kv("get", "--local", "after-rotation", node=node3).out.strip() == b"fresh",
                   10.0, "node3's own copy of a new write")

        rc, lines, err = keys_json(ctx, node3, "remove", k1)
        check(rc == EXIT_OK and sorted(lines) == names, f"remove K1: rc {rc}, {lines}, {err}")
        check(all(line["keys"] == [f2] for line in lines.values()), f"after remove: {lines}")
        rc, lines, err = keys_json(ctx, node1, "remove", k1)  # idempotent
        check(rc == EXIT_OK, f"remove again: {lines}, {err}")
        result = ctx.kv("keys", "remove", k2, node=node1)
        check(result.rc == EXIT_CLUSTER_ERROR and "primary" in result.err,
              f"removing the primary: {result.describe()}")

        with open(os.path.join(node1.data_dir, "keyring")) as f:
            persisted = f.read()
        check(k2 in persisted and k1 not in persisted and "# primary-version 2" in persisted,
              f"DATA/keyring: {persisted!r}")
        check_eq(os.stat(os.path.join(node1.data_dir, "keyring")).st_mode & 0o777, 0o600, "DATA/keyring mode")
        node1.restart()  # its --keyring still names K1: DATA/keyring wins
        wait_converged(ctx.kv_path, nodes, 60.0, "node1 restarted")
        rc, lines, err = keys_json(ctx, node1, "list")
        check(rc == EXIT_OK and all(line["keys"] == [f2] for line in lines.values()), f"after restart: {lines}")
    finally:
        writer.stop()
    check(writer.acked, "the writer got nothing acknowledged")
    lost = [key for key in writer.acked if ctx.kv("get", key, node=node2).rc != EXIT_OK]
    check(not lost, f"acknowledged writes lost: {lost[:5]}")
    print(f"  writer: {len(writer.acked)} acknowledged, {writer.failed} failed, none lost")
    check(writer.failed * 50 <= len(writer.acked), f"the writer failed {writer.failed} times")

    # A node added later from a key file holding the current primary (version 0
    # on its side) joins, and a rotation that includes it completes.
    node4 = ctx.node(name="node4", host=loopback_address(60),
                     extra_args=["--probe-interval-ms", str(PROBE_MS), "--seeds", node1.address,
                                 "--keyring", key_file(ctx, "current", k2)])
    nodes.append(node4)
    wait_converged(ctx.kv_path, nodes, 60.0, "node4 joined")
    k4 = new_key(ctx)
    for args in (("install", k4), ("use", k4), ("remove", k2)):
        result = ctx.kv("keys", *args, node=node4, timeout=30)
        check(result.rc == EXIT_OK and len(result.out.decode().split("\n")) == 5,
              f"kv keys {args[0]} with node4: {result.describe()}")
    rc, lines, err = keys_json(ctx, node1, "list")
    check(rc == EXIT_OK and all(line["keys"] == [fingerprint(k4)] for line in lines.values()) and len(lines) == 4,
          f"after the rotation with node4: {lines}")

    stranger = ctx.node(name="stranger", host=loopback_address(64),
                        extra_args=["--probe-interval-ms", str(PROBE_MS), "--seeds", node1.address,
                                    "--keyring", key_file(ctx, "unknown", new_key(ctx))])

    def problem():
        result = ctx.kv("--json", "status", node=stranger)
        return result.rc == EXIT_OK and json.loads(result.out.decode()).get("trust_problem") or ""
    wait_until(lambda: "no seed accepts this node's keys" in problem(), 20.0, "the stranger's trust problem")
    print(f"  stranger: {problem()}")
    check("no seed accepts this node's keys" in stranger.log_text(), "the stranger's log does not say it")
    text = ctx.kv("status", node=stranger)
    check("Trust problem: no seed accepts" in text.out.decode(), f"kv status text: {text.describe()}")
    result = ctx.kv("put", "x", "y", node=stranger)
    check(result.rc == EXIT_CLUSTER_ERROR, f"the stranger served a put: {result.describe()}")
    view = json.loads(ctx.kv("--json", "status", node=node1).out.decode())
    check("stranger" not in {m["name"] for m in view["members"]}, "the stranger became a member")


if __name__ == "__main__":
    sys.exit(run_tests())
