#!/usr/bin/env python3
"""Keys that expire, across replicas, hints, streams, repair and skewed clocks (issue 15
item 2), with real kvnode processes. Expiry instants are compared exactly, through the
`expires_at` of `kv --json get --local` on each replica.

  hints_keep_expiry_and_hide_older_values
      3 nodes, N = 3. Two keys hold a plain value everywhere; node3 is killed; both are
      overwritten with a TTL (1 s and 60 s), so node3's copies wait as hints. node3
      restarts: the hints are replayed; its long-TTL copy has the same expires_at as the
      others, and its short-TTL key reads absent there (the expired hint still hides the
      older plain value it held).
  join_streams_expiring_keys
      3 nodes, N = 2, keys with TTLs of 1 s and 15 s; once the short ones expired, node4
      joins: every copy it streamed carries the same expires_at as the other replica's, the
      short keys read absent there, and the long ones vanish from its copy and from QUORUM
      reads when they expire. No expired key is readable anywhere.
  repair_does_not_resurrect_expired_keys
      3 nodes, N = 3, a 1 s hint window. node3 is killed long enough to get no hints; two
      keys it holds are overwritten with a 1 s TTL and expire. node3 restarts with its old
      plain values: a read at ALL through node3 answers not found and read repair replaces
      node3's copy of one key; anti-entropy replaces the other. Neither comes back.
  ttl_under_clock_skew
      3 nodes whose clocks are 0, +30 and -30 s off (libfaketime); a write through node2
      moves the hybrid clocks of the others 30 and 60 s ahead of their wall clocks. EX 90
      through each: every replica holds the same expires_at; the coordinator counts 90 s
      (not 90 plus how far its hybrid clock ran ahead); a node whose clock is D s ahead of
      the coordinator's counts 90 - D. EX 20 through node3: node3 counts 20 s, node1 and
      node2 read it absent at once, and after 20 s it is absent from every coordinator.

Run: python3 tests/process/test_ttl_cluster.py --kvnode PATH --kv PATH [-k NAME]
"""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_NOT_FOUND, EXIT_OK, check, check_eq, loopback_address, run_tests, test,
    wait_converged, wait_until,
)
from skewed_node import SkewedNode, start_skewed_cluster  # noqa: E402

PROBE_MS = 200
CONVERGE_S = 30.0
SETTLE_S = 30.0
# How far two readings of the time left may be apart: the kv calls between them.
TOLERANCE_MS = 3000


def start_cluster(ctx, count, first_address, extra=(), offsets=None):
    return start_skewed_cluster(ctx, offsets or [0] * count, first_address,
                                ["--probe-interval-ms", str(PROBE_MS), *extra], CONVERGE_S)


def kv_ok(ctx, *args, node):
    result = ctx.kv(*args, node=node)
    check(result.rc == EXIT_OK, f"kv {' '.join(args)} through {node.name}: {result.describe()}")
    return result


def read(ctx, node, key, *flags):
    """The --json get through `node` (flags: "--local", or "--consistency", "all"), or None
    when not found."""
    args = ["--json", *flags, "get", key] if flags[:1] == ("--consistency",) else \
        ["--json", "get", key, *flags]
    result = ctx.kv(*args, node=node)
    check(result.rc in (EXIT_OK, EXIT_NOT_FOUND), f"kv {' '.join(args)} on {node.name}: {result.describe()}")
    return result.json() if result.rc == EXIT_OK else None


def local(ctx, node, key):
    return read(ctx, node, key, "--local")


def stats(ctx, node):
    return kv_ok(ctx, "--json", "stats", node=node).json()


def expiry_everywhere(ctx, nodes, key):
    """The expires_at of every node's own copy; fails unless all hold the key with one instant."""
    copies = {n.name: local(ctx, n, key) for n in nodes}
    instants = {name: (c or {}).get("expires_at") for name, c in copies.items()}
    check(all(instants.values()) and len(set(instants.values())) == 1,
          f"{key}: the replicas' expiry instants differ: {instants}")
    return next(iter(instants.values()))


def absent_everywhere(ctx, nodes, key):
    return all(read(ctx, n, key) is None and local(ctx, n, key) is None for n in nodes)


def hints_stored_for(ctx, holders, target):
    return sum(int(stats(ctx, n).get(f"hints_stored:{target.name}", 0)) for n in holders)


def wait_seen_dead(ctx, observers, node):
    """Until every observer has convicted `node` (a suspect still gets writes, not hints)."""
    def dead():
        for observer in observers:
            members = kv_ok(ctx, "--json", "status", node=observer).json()["members"]
            if not any(m["name"] == node.name and m["liveness"] == "dead" for m in members):
                return False
        return True
    wait_until(dead, CONVERGE_S, f"{node.name} seen dead by the others")


@test
def hints_keep_expiry_and_hide_older_values(ctx):
    nodes = start_cluster(ctx, 3, 110, ["--replicas", "3"])
    node3 = nodes[2]
    for key in ("short", "long"):
        kv_ok(ctx, "put", key, "plain", node=nodes[0])
    wait_until(lambda: all(local(ctx, node3, k) for k in ("short", "long")), SETTLE_S, "node3's plain copies")
    node3.kill()
    wait_seen_dead(ctx, nodes[:2], node3)
    kv_ok(ctx, "put", "short", "new", "--ttl", "1", node=nodes[0])
    kv_ok(ctx, "put", "long", "new", "--ttl", "60", node=nodes[0])
    check(hints_stored_for(ctx, nodes[:2], node3) >= 2, "the writes left hints for node3")
    expires_at = expiry_everywhere(ctx, nodes[:2], "long")
    wait_until(lambda: read(ctx, nodes[0], "short") is None, SETTLE_S, "the short key expired")

    node3.start()
    wait_until(lambda: hints_stored_for(ctx, nodes[:2], node3) == 0, SETTLE_S, "the hints for node3 replayed")
    replayed = sum(int(stats(ctx, n).get("hints_replayed:node3", 0)) for n in nodes[:2])
    check(replayed >= 2, f"hints replayed to node3: {replayed}")
    got = local(ctx, node3, "long")
    check(got is not None and got["value"] == "new" and got.get("expires_at") == expires_at,
          f"node3's copy of the long key: {got}, the others' expiry {expires_at}")
    check_eq(local(ctx, node3, "short"), None, "node3's copy of the expired short key")
    check(read(ctx, node3, "short", "--consistency", "all") is None, "the short key at ALL through node3")


@test
def join_streams_expiring_keys(ctx):
    nodes = start_cluster(ctx, 3, 120, ["--replicas", "2"])
    count, long_s = 16, 15
    short = [f"short-{i}" for i in range(count)]
    long = [f"long-{i}" for i in range(count)]
    for key in short:
        kv_ok(ctx, "put", key, "v", "--ttl", "1", node=nodes[0])
    for key in long:
        kv_ok(ctx, "put", key, "v", "--ttl", str(long_s), node=nodes[0])
    wait_until(lambda: read(ctx, nodes[0], short[-1]) is None, SETTLE_S, "the short keys expired")

    node4 = SkewedNode(ctx.kvnode_path, ctx.workdir, name="node4", host=loopback_address(123),
                       extra_args=["--probe-interval-ms", str(PROBE_MS), "--replicas", "2",
                                   "--seeds", nodes[0].address])
    ctx.nodes.append(node4)
    node4.start()
    everyone = nodes + [node4]
    wait_converged(ctx.kv_path, everyone, CONVERGE_S, "join")
    by_name = {n.name: n for n in everyone}
    owned = []
    for key in short + long:
        names = [e["name"] for e in kv_ok(ctx, "--json", "endpoints", key, node=node4).json()["endpoints"]]
        if "node4" in names:
            owned.append(key)
            replicas = [by_name[name] for name in names]
            if key in long:
                expiry_everywhere(ctx, replicas, key)
            else:
                check_eq(local(ctx, node4, key), None, f"node4's streamed copy of {key}")
    owned_long = [k for k in owned if k in long]
    check(owned_long and len(owned) > len(owned_long), f"node4 replicates too few keys to tell: {owned}")
    check(stats(ctx, node4).get("stream_keys_received", 0) >= len(owned), "node4 streamed its keys")

    wait_until(lambda: all(local(ctx, node4, k) is None for k in owned_long), long_s + SETTLE_S,
               "node4's long-TTL copies expired")
    for key in short + long:
        check(all(read(ctx, n, key) is None for n in everyone), f"{key} is readable after it expired")


@test
def repair_does_not_resurrect_expired_keys(ctx):
    nodes = start_cluster(ctx, 3, 130, ["--replicas", "3", "--hint-window-s", "1"])
    node3 = nodes[2]
    keys = ("read-repaired", "anti-entropy")
    for key in keys:
        kv_ok(ctx, "put", key, "plain", node=nodes[0])
    wait_until(lambda: all(local(ctx, node3, k) for k in keys), SETTLE_S, "node3's plain copies")
    node3.kill()
    wait_seen_dead(ctx, nodes[:2], node3)

    def past_hint_window():
        before = hints_stored_for(ctx, nodes[:2], node3)
        kv_ok(ctx, "put", "probe", "v", node=nodes[0])
        return hints_stored_for(ctx, nodes[:2], node3) == before
    wait_until(past_hint_window, SETTLE_S, "writes that leave no hint for node3")
    hints = hints_stored_for(ctx, nodes[:2], node3)
    for key in keys:
        kv_ok(ctx, "put", key, "new", "--ttl", "1", node=nodes[0])
    check_eq(hints_stored_for(ctx, nodes[:2], node3), hints, "hints for node3 (it must miss the writes)")
    wait_until(lambda: all(read(ctx, nodes[0], k) is None for k in keys), SETTLE_S, "both keys expired")

    node3.start()
    # Its own copies are the old plain values (it runs anti-entropy 5 s after a restart).
    stale = {k: (local(ctx, node3, k) or {}).get("value") for k in keys}
    check_eq(stale, {k: "plain" for k in keys}, "node3's copies right after its restart")
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "node3 back")
    check(read(ctx, node3, "read-repaired", "--consistency", "all") is None,
          "a read at ALL through node3 returned the old value")
    wait_until(lambda: local(ctx, node3, "read-repaired") is None, SETTLE_S, "read repair of node3's copy")
    check(int(stats(ctx, node3).get("read_repairs", 0)) >= 1, "node3 counted its read repair")
    wait_until(lambda: local(ctx, node3, "anti-entropy") is None, SETTLE_S, "anti-entropy of node3's copy")
    check(int(stats(ctx, node3).get("repair_keys_pulled", 0)) >= 1, "node3 pulled keys in anti-entropy")
    for key in keys:
        check(absent_everywhere(ctx, nodes, key), f"{key} came back somewhere")


@test
def ttl_under_clock_skew(ctx):
    offsets = [0, 30, -30]
    nodes = start_cluster(ctx, 3, 140, ["--replicas", "3"], offsets)
    # Every node replicates a version stamped by node2's clock: the hybrid clocks of node1
    # and node3 follow it, 30 s and 60 s ahead of their own wall clocks.
    kv_ok(ctx, "put", "seen", "v", node=nodes[1])
    # A TTL longer than the widest skew (60 s), so that every replica still holds the value
    # and shows its instant.
    long_ms = 90_000
    for coordinator in nodes:
        key = f"through-{coordinator.name}"
        kv_ok(ctx, "put", key, "v", "--ttl", str(long_ms // 1000), node=coordinator)
        expiry_everywhere(ctx, nodes, key)
        coordinator_offset = offsets[nodes.index(coordinator)]
        for node, offset in zip(nodes, offsets):
            expected = long_ms + 1000 * (coordinator_offset - offset)
            got = (local(ctx, node, key) or {}).get("ttl_ms", 0)
            check(expected - TOLERANCE_MS < got <= expected,
                  f"{key}: {node.name} counts {got} ms left, expected {expected} (the TTL plus the "
                  f"coordinator's clock minus {node.name}'s)")
    # EX 20 through node3 (30 s behind, its version stamped 60 s ahead of its wall clock, by
    # node2's clock): node3 counts 20 s, the others' clocks are past the instant already.
    ttl_s = 20
    kv_ok(ctx, "put", "seen", "v", "--ttl", str(ttl_s), node=nodes[2])
    own = local(ctx, nodes[2], "seen")
    check(own is not None and 1000 * ttl_s - TOLERANCE_MS < own["ttl_ms"] <= 1000 * ttl_s,
          f"node3 counts {own and own['ttl_ms']} ms left of its EX {ttl_s}: {own}")
    check(own["timestamp"] > own["expires_at"], f"node3's version follows node2's clock: {own}")
    for node in nodes[:2]:
        check(read(ctx, node, "seen") is None and local(ctx, node, "seen") is None,
              f"{node.name}'s clock is past the instant node3 fixed, yet it reads the key")
    wait_until(lambda: read(ctx, nodes[2], "seen") is None, ttl_s + SETTLE_S, "the key expired on node3")
    check(absent_everywhere(ctx, nodes, "seen"), "the key expired on node3 but is readable elsewhere")


if __name__ == "__main__":
    sys.exit(run_tests())
