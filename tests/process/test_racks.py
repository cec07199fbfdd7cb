#!/usr/bin/env python3
"""Rack-aware placement with real kvnode processes on 127.0.0.x (issue 15 item 1).

  racks_spread_and_survive        6 nodes in 3 racks (2 each), N = 3: `kv status` and
                                  `kv endpoints` show each node's rack; every sampled key's
                                  3 endpoints are in 3 distinct racks; `kv ring` gives each
                                  rack exactly 100% ownership; 60 keys put at ALL; kill -9
                                  both nodes of one rack: every key still reads at QUORUM
                                  with its value; a killed node restarted with another
                                  --rack exits 2 naming both racks; with its own rack it
                                  starts and rejoins
  bad_rack_refused                --rack with a space or over 64 bytes: exit 2, nothing
                                  created in the data directory

Nodes run with --probe-interval-ms 200. Every wait polls with a generous bound.

Run: python3 tests/process/test_racks.py --kvnode PATH --kv PATH [-k NAME]
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, EXIT_USAGE, check, check_eq, loopback_address, member_view, run_tests, test,
    wait_converged, wait_until,
)

PROBE_MS = 200
CONVERGE_S = 20.0
DEAD_S = 10.0
KV_S = 10.0
RACKS = ["east", "west", "north"]


def racked_cluster(ctx):
    """node1..node6 on 127.0.0.11.., node i in RACKS[(i - 1) % 3], all joining node1."""
    nodes = []
    for i in range(6):
        node = ctx.node(name=f"node{i + 1}", host=loopback_address(11 + i), start=False)
        node.rack = RACKS[i % 3]
        node.extra_args = ["--probe-interval-ms", str(PROBE_MS), "--rack", node.rack]
        if i > 0:
            node.extra_args += ["--seeds", nodes[0].address]
        node.start()
        nodes.append(node)
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "6-node cluster in 3 racks")
    return nodes


def kv_ok(ctx, *args, node):
    result = ctx.kv(*args, node=node, timeout=KV_S)
    check(result.rc == EXIT_OK, f"expected exit 0: {result.describe()}")
    return result


@test
def racks_spread_and_survive(ctx):
    nodes = racked_cluster(ctx)
    rack_of = {n.name: n.rack for n in nodes}
    view = member_view(ctx.kv_path, nodes[3])
    check_eq({name: m.get("rack") for name, m in view.items()}, rack_of, "racks in kv status --json")
    table = kv_ok(ctx, "status", node=nodes[0]).out.decode()
    check("RACK" in table and "north" in table, f"kv status table shows racks:\n{table}")

    keys = [f"rack-key-{i:02d}" for i in range(60)]
    for key in keys[:20]:
        doc = kv_ok(ctx, "--json", "endpoints", key, node=nodes[1]).json()
        endpoints = doc.get("endpoints", [])
        check_eq(len(endpoints), 3, f"endpoints of {key}")
        for e in endpoints:
            check_eq(e.get("rack"), rack_of[e.get("name")], f"rack of endpoint {e.get('name')}")
        check_eq(len({e["rack"] for e in endpoints}), 3, f"distinct racks among {key}'s endpoints {endpoints}")

    ring = kv_ok(ctx, "--json", "ring", node=nodes[2]).json()
    racks = {r["rack"]: r for r in ring.get("racks", [])}
    check_eq(sorted(racks), sorted(RACKS), "racks in kv ring --json")
    for name, rack in racks.items():
        check_eq(rack.get("nodes"), 2, f"nodes of rack {name}")
        # One replica of every key per rack: the rack owns the whole ring (ppm rounding).
        check(abs(rack.get("ownership") - 1.0) < 1e-4, f"rack {name} owns {rack.get('ownership')}, not 1.0")
    check(all(n.get("rack") == rack_of[n["name"]] for n in ring.get("nodes", [])), f"node racks in {ring}")

    for i, key in enumerate(keys):
        kv_ok(ctx, "--consistency", "all", "put", key, f"value-{i}", node=nodes[i % 6])

    lost = [n for n in nodes if n.rack == "north"]
    survivors = [n for n in nodes if n.rack != "north"]
    for node in lost:
        node.kill()
    started = time.monotonic()
    wait_until(lambda: all(member_view(ctx.kv_path, s) is not None and
                           all(member_view(ctx.kv_path, s)[n.name].get("liveness") == "dead" for n in lost)
                           for s in survivors[:2]),
               DEAD_S, "survivors to see rack north dead", interval=0.1)
    print(f"  rack north (2 nodes) seen dead {time.monotonic() - started:.2f} s after kill -9")
    for i, key in enumerate(keys):
        result = ctx.kv("--consistency", "quorum", "get", key, node=survivors[i % 4], timeout=KV_S)
        check(result.rc == EXIT_OK and result.out.rstrip(b"\n") == f"value-{i}".encode(),
              f"QUORUM get of {key} with a whole rack down: {result.describe()}")
    print(f"  all {len(keys)} keys read at QUORUM with both nodes of one rack down")

    moved = lost[0]
    argv = [a for a in moved.argv()]
    argv[argv.index("--rack") + 1] = "east"
    refused = subprocess.run(argv, capture_output=True, timeout=30)
    err = refused.stdout.decode(errors="replace") + refused.stderr.decode(errors="replace")
    check(refused.returncode == EXIT_USAGE and "'east'" in err and "'north'" in err and "move" in err,
          f"restart with another --rack: expected exit 2 naming both racks, got {refused.returncode}: {err}")
    moved.start()
    wait_until(lambda: (member_view(ctx.kv_path, nodes[0]) or {}).get(moved.name, {}).get("liveness") == "alive",
               DEAD_S, f"{moved.name} back alive with its own rack")
    check_eq(member_view(ctx.kv_path, nodes[0])[moved.name].get("rack"), "north", "rack after the restart")


@test
def bad_rack_refused(ctx):
    for rack in ["two words", "r" * 65]:
        node = ctx.node(start=False, host=loopback_address(30))
        node.port = 1  # never bound: the flag is refused first
        result = subprocess.run(node.argv() + ["--rack", rack], capture_output=True, timeout=30)
        check_eq(result.returncode, EXIT_USAGE, f"kvnode --rack {rack!r}: {result.stderr.decode()}")
        check(b"--rack" in result.stderr, f"message names the flag: {result.stderr.decode()}")
        check(not os.path.exists(node.data_dir), f"{node.data_dir} created for a refused --rack")


if __name__ == "__main__":
    sys.exit(run_tests())
