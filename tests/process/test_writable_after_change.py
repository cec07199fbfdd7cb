#!/usr/bin/env python3
"""QUORUM stays writable with any one of N = 3 replicas down right after a ring change
(issue 12 item 1), with real kvnode processes at the default probe interval (1 s), so the
killed node stays "alive" or "suspect" in the survivors' views for seconds.

  kill_joiner_right_after_join    node1+node2, node3 joins; as soon as node1 sees it normal,
                                  node3 is kill -9'd: QUORUM puts through node1 and node2 for
                                  the next 6 s all succeed, and read back at QUORUM
  kill_old_node_right_after_join  the same, but node2 (an owner under the previous ring) is
                                  killed: puts through node1 and node3 all succeed
  kill_right_after_decommission   4 nodes; node4 decommissions; once it has left, node3 is
                                  kill -9'd: puts through node1 and node2 all succeed

Prints the failed puts per kill (goal 0).

Run: python3 tests/process/test_writable_after_change.py --kvnode PATH --kv PATH [-k NAME]
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, check, loopback_address, member_view, run_tests, test, wait_converged, wait_until,
)

CONVERGE_S = 30.0
JOIN_S = 60.0
KV_S = 15.0
WRITE_WINDOW_S = 6.0   # well inside the 30 s after the change, and before detection ends


def node(ctx, index, seed=None):
    extra = ["--seeds", seed.address] if seed else []
    return ctx.node(name=f"node{index}", host=loopback_address(50 + index), extra_args=extra)


def ring_status(ctx, observer, name):
    view = member_view(ctx.kv_path, observer)
    return None if view is None else view.get(name, {}).get("ring_status")


def wait_normal(ctx, observers, name):
    wait_until(lambda: all(ring_status(ctx, o, name) == "normal" for o in observers), JOIN_S,
               f"{name} normal in every view", interval=0.05)


def write_through(ctx, coordinators, tag):
    """QUORUM puts round-robin through `coordinators` for WRITE_WINDOW_S; returns the
    failures and the acknowledged (key, value) pairs."""
    failures, acknowledged = [], []
    deadline = time.monotonic() + WRITE_WINDOW_S
    i = 0
    while time.monotonic() < deadline:
        coordinator = coordinators[i % len(coordinators)]
        key, value = f"{tag}-{i}", f"value-{i}"
        result = ctx.kv("put", key, value, node=coordinator, timeout=KV_S)
        if result.rc == EXIT_OK:
            acknowledged.append((key, value))
        else:
            failures.append(f"{key} through {coordinator.name}: {result.err.decode().strip()}")
        i += 1
    return failures, acknowledged


def check_window(ctx, coordinators, tag):
    failures, acknowledged = write_through(ctx, coordinators, tag)
    print(f"    {tag}: {len(failures)} of {len(failures) + len(acknowledged)} QUORUM puts failed",
          flush=True)
    check(not failures, f"{len(failures)} QUORUM puts failed with one replica down: {failures[:3]}")
    check(len(acknowledged) > 0, "no put was even tried")
    for key, value in acknowledged:
        got = ctx.kv("get", key, node=coordinators[0], timeout=KV_S)
        check(got.rc == EXIT_OK and got.out.decode() == value,
              f"{key}: acknowledged {value!r}, read {got.describe()}")


def joined_three(ctx):
    node1 = node(ctx, 1)
    node2 = node(ctx, 2, seed=node1)
    wait_converged(ctx.kv_path, [node1, node2], CONVERGE_S, "2-node start")
    wait_normal(ctx, [node1, node2], "node2")
    node3 = node(ctx, 3, seed=node1)
    wait_normal(ctx, [node1, node2], "node3")
    return node1, node2, node3


@test
def kill_joiner_right_after_join(ctx):
    node1, node2, node3 = joined_three(ctx)
    node3.kill()
    check_window(ctx, [node1, node2], "joiner-killed")


@test
def kill_old_node_right_after_join(ctx):
    node1, node2, node3 = joined_three(ctx)
    node2.kill()
    check_window(ctx, [node1, node3], "old-owner-killed")


@test
def kill_right_after_decommission(ctx):
    node1, node2, node3 = joined_three(ctx)
    node4 = node(ctx, 4, seed=node1)
    wait_normal(ctx, [node1, node2, node3], "node4")
    result = ctx.kv("decommission", node=node4, timeout=KV_S)
    check(result.rc == EXIT_OK, f"decommission: {result.describe()}")
    wait_until(lambda: node4.proc.poll() is not None, JOIN_S, "node4 to finish leaving and exit")
    wait_until(lambda: all((member_view(ctx.kv_path, o) or {}).get("node4", {}).get("liveness") == "left"
                           for o in (node1, node2, node3)), JOIN_S, "node4 left in every view")
    node3.kill()
    check_window(ctx, [node1, node2], "after-decommission")


if __name__ == "__main__":
    sys.exit(run_tests())
