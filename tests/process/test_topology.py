#!/usr/bin/env python3
"""Topology changes with real kvnode processes on 127.0.0.x (DESIGN.md "Join, leave,
removal"): 3 nodes, N = 2, 20,000 keys, then

  join_under_writes        a 4th node joins while a writer keeps writing new keys: every
                           key written before and during the join is readable at ALL, and
                           `get --local` on each of its `endpoints` returns it; the new node
                           streamed data; `kv cleanup` on an old node then drops exactly the
                           keys it no longer replicates (C6 placement)
  decommission_under_writes  `kv decommission` of node3 while a writer runs: exits 0, the
                           node process exits 0 and is `left` everywhere; same checks on the
                           two that remain; a second decommission (2 nodes for N = 2) is
                           refused with exit 3 and changes nothing
  removenode_dead_node     node3 killed for good: removenode of a live node and of an
                           unknown one exit 3; `kv removenode node3` exits 0 once the
                           survivors hold its ranges; same checks

Keys are written and checked over pipelined wire-protocol connections (20,000 `kv`
processes would take minutes); `kv` itself runs the topology commands and a sample of the
checks. Every wait polls with a generous bound; nothing asserts on speed.

Run: python3 tests/process/test_topology.py --kvnode PATH --kv PATH [-k NAME]
"""

import json
import os
import sys
import threading

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    ALL, EXIT_CLUSTER_ERROR, EXIT_OK, GET_REPLY, QUORUM, WRITE_REPLY, RawConnection, check,
    check_eq, frame, get_request, loopback_address, member_view, mp_encode, put_request,
    run_tests, start_cluster, test, wait_converged, wait_until,
)

PROBE_MS = 200
KEYS = 20_000
CONVERGE_S = 60.0
ENDPOINTS_REQUEST, ENDPOINTS_REPLY = 15, 16
WINDOW = 500


def value_of(key):
    return b"v-" + key


def pipelined(node, frames, timeout=60.0):
    """Sends frames (request ids 1..n) in windows over one connection; returns the
    replies by request id."""
    replies = {}
    with RawConnection(node.host, node.port, timeout=timeout) as conn:
        for start in range(0, len(frames), WINDOW):
            chunk = frames[start:start + WINDOW]
            conn.send(b"".join(chunk))
            for _ in chunk:
                reply = conn.recv_reply(timeout)
                replies[reply.request_id] = reply
    return replies


def write_keys(node, keys):
    """QUORUM puts; returns the keys acknowledged."""
    replies = pipelined(node, [put_request(i + 1, k, value_of(k), QUORUM) for i, k in enumerate(keys)])
    return [k for i, k in enumerate(keys) if replies[i + 1].type == WRITE_REPLY]


class Writer(threading.Thread):
    """Writes new unique keys through `node` until stopped; remembers the acknowledged."""

    def __init__(self, node, prefix):
        super().__init__(daemon=True)
        self.node, self.prefix = node, prefix
        self.acked, self.failed = [], 0
        self.stop_event = threading.Event()
        self.error = None

    def run(self):
        n = 0
        try:
            while not self.stop_event.is_set():
                keys = [f"{self.prefix}-{n + i}".encode() for i in range(50)]
                n += len(keys)
                acked = write_keys(self.node, keys)
                self.acked += acked
                self.failed += len(keys) - len(acked)
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self.stop_event.set()
        self.join(60)
        check(self.error is None, f"writer failed: {self.error!r}")
        return self.acked


def endpoints_of(node, keys):
    frames = [frame(mp_encode([1, ENDPOINTS_REQUEST, i + 1, k])) for i, k in enumerate(keys)]
    replies = pipelined(node, frames)
    out = {}
    for i, k in enumerate(keys):
        r = replies[i + 1]
        check_eq(r.type, ENDPOINTS_REPLY, f"endpoints of {k!r}")
        out[k] = [e[0] for e in r.fields[1]]
    return out


def verify(ctx, nodes, keys, what):
    """Every key: readable at ALL through nodes[0] with its value, and held locally by each
    of its endpoints (which are all among `nodes`). Returns {key: endpoint names}."""
    by_name = {n.name: n for n in nodes}
    replies = pipelined(nodes[0], [get_request(i + 1, k, ALL) for i, k in enumerate(keys)])
    bad = [k for i, k in enumerate(keys)
           if replies[i + 1].type != GET_REPLY or not replies[i + 1].fields[0]
           or bytes(replies[i + 1].fields[1]) != value_of(k)]
    check(not bad, f"{what}: {len(bad)} of {len(keys)} keys not readable at ALL, e.g. "
                   f"{bad[:3]} -> {[replies[keys.index(k) + 1] for k in bad[:3]]}")
    endpoints = endpoints_of(nodes[0], keys)
    for name, node in by_name.items():
        mine = [k for k in keys if name in endpoints[k]]
        local = pipelined(node, [get_request(i + 1, k, QUORUM, local=True) for i, k in enumerate(mine)])
        missing = [k for i, k in enumerate(mine)
                   if local[i + 1].type != GET_REPLY or not local[i + 1].fields[0]
                   or bytes(local[i + 1].fields[1]) != value_of(k)]
        check(not missing, f"{what}: {len(missing)} of {len(mine)} keys missing on their endpoint "
                           f"{name}, e.g. {missing[:3]}")
    strays = {e for k in keys for e in endpoints[k]} - set(by_name)
    check(not strays, f"{what}: endpoints name nodes no longer in the cluster: {strays}")
    # The CLI agrees on a sample.
    for k in keys[:: max(1, len(keys) // 5)]:
        r = ctx.kv("--json", "endpoints", k.decode(), node=nodes[0])
        check_eq(r.rc, EXIT_OK, f"kv endpoints {k!r}")
        names = [e["name"] for e in json.loads(r.out)["endpoints"]]
        check_eq(names, endpoints[k], f"kv endpoints {k!r}")
        for name in names:
            g = ctx.kv("get", "--local", k.decode(), node=by_name[name])
            check_eq((g.rc, g.out), (EXIT_OK, value_of(k)), f"kv get --local {k!r} on {name}")
    return endpoints


def stats_of(ctx, node):
    r = ctx.kv("--json", "stats", node=node)
    check_eq(r.rc, EXIT_OK, f"kv stats on {node.name}")
    return json.loads(r.out)


def loaded_cluster(ctx):
    nodes = start_cluster(ctx, 3, PROBE_MS, extra_args=["--replicas", "2"])
    wait_converged(ctx.kv_path, nodes, CONVERGE_S)
    keys = [f"key-{i}".encode() for i in range(KEYS)]
    acked = write_keys(nodes[0], keys)
    check_eq(len(acked), KEYS, "initial QUORUM puts acknowledged")
    return nodes, keys


@test
def join_under_writes(ctx):
    nodes, keys = loaded_cluster(ctx)
    writer = Writer(nodes[1], "during-join")
    writer.start()
    wait_until(lambda: len(writer.acked) > 500, 30, "writes before the join")
    node4 = ctx.node(name="node4", host=loopback_address(4), start=False,
                     extra_args=["--probe-interval-ms", str(PROBE_MS), "--replicas", "2",
                                 "--seeds", nodes[0].address])
    node4.start()
    wait_converged(ctx.kv_path, nodes + [node4], CONVERGE_S, what="join")
    before = len(writer.acked)
    wait_until(lambda: len(writer.acked) > before + 500, 30, "writes after the join")
    during = writer.stop()
    everyone = nodes + [node4]
    endpoints = verify(ctx, everyone, keys + during, "after the join")
    owned = sum(1 for k in keys + during if "node4" in endpoints[k])
    check(owned > len(keys) // 5, f"node4 replicates only {owned} keys")
    check(stats_of(ctx, node4).get("stream_keys_received", 0) > 0, "node4 streamed nothing")

    # Cleanup: node1 drops exactly what it no longer replicates (C6).
    r = ctx.kv("cleanup", node=nodes[0])
    check_eq(r.rc, EXIT_OK, f"kv cleanup: {r.err!r}")
    all_keys = keys + during
    local = pipelined(nodes[0], [get_request(i + 1, k, QUORUM, local=True) for i, k in enumerate(all_keys)])
    misplaced = [k for i, k in enumerate(all_keys)
                 if bool(local[i + 1].fields[0]) != ("node1" in endpoints[k])]
    check(not misplaced, f"after cleanup node1 holds/lacks {len(misplaced)} keys against its "
                         f"endpoints, e.g. {misplaced[:3]}")
    verify(ctx, everyone, all_keys, "after cleanup")


@test
def decommission_under_writes(ctx):
    nodes, keys = loaded_cluster(ctx)
    writer = Writer(nodes[0], "during-leave")
    writer.start()
    wait_until(lambda: len(writer.acked) > 500, 30, "writes before the decommission")
    r = ctx.kv("decommission", node=nodes[2], timeout=300)
    check_eq(r.rc, EXIT_OK, f"kv decommission: {r.err!r}")
    check_eq(nodes[2].proc.wait(60), 0, "exit code of the decommissioned kvnode")
    during = writer.stop()
    remaining = nodes[:2]
    wait_until(lambda: all((member_view(ctx.kv_path, n) or {}).get("node3", {}).get("liveness") == "left"
                           for n in remaining), 30, "node3 left everywhere")
    verify(ctx, remaining, keys + during, "after the decommission")
    r = ctx.kv("decommission", node=nodes[1])
    check_eq(r.rc, EXIT_CLUSTER_ERROR, "decommission leaving 1 node for N = 2")
    check("replicas" in r.err, f"refusal says why: {r.err!r}")
    view = member_view(ctx.kv_path, nodes[1])
    check_eq(view["node2"]["ring_status"], "normal", "node2 after the refused decommission")


@test
def removenode_dead_node(ctx):
    nodes, keys = loaded_cluster(ctx)
    nodes[2].kill()
    wait_until(lambda: (member_view(ctx.kv_path, nodes[0]) or {}).get("node3", {}).get("liveness") == "dead",
               30, "node3 dead")
    for target in ("node2", "no-such-node"):
        r = ctx.kv("removenode", target, node=nodes[0])
        check_eq(r.rc, EXIT_CLUSTER_ERROR, f"removenode {target}")
    check_eq(member_view(ctx.kv_path, nodes[0])["node2"]["liveness"], "alive", "node2 untouched")
    r = ctx.kv("removenode", "node3", node=nodes[0], timeout=300)
    check_eq(r.rc, EXIT_OK, f"kv removenode node3: {r.err!r}")
    verify(ctx, nodes[:2], keys, "after removenode")


if __name__ == "__main__":
    sys.exit(run_tests())
