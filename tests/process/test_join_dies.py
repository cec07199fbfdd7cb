#!/usr/bin/env python3
"""A node that dies while joining and never returns (issue 12 item 4), with real kvnode
processes: the cluster shows it, stays writable, keeps its hints for it bounded, and
`kv removenode` removes it.

  joiner_killed_mid_join_is_shown_bounded_and_removable
      node1..node3 (N = 3) hold 200 keys. node3 is paused (SIGSTOP) so the joiner node4
      cannot finish confirming its join; as soon as node1 lists node4 `joining`, node4 is
      kill -9'd and node3 resumed. Then: every survivor's `kv status` lists node4 dead and
      joining; 60 QUORUM puts through the survivors all succeed (a down pending owner raises
      the count needed, it does not make keys unwritable); the hints the survivors keep for
      node4 are at most one per put made since (`kv stats` hints_stored:node4);
      `kv removenode node4` exits 0; afterwards node4 is `left` in every view, in no node's
      `kv ring`, no node keeps hints for it, and every acknowledged key reads back at ALL.

Run: python3 tests/process/test_join_dies.py --kvnode PATH --kv PATH
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, check, check_eq, loopback_address, member_view, run_tests, test, wait_converged,
    wait_until,
)

CONVERGE_S = 30.0
DETECT_S = 40.0     # default probe interval 1 s: suspicion plus its timeout
REMOVE_S = 120.0
KV_S = 15.0
KEYS_BEFORE = 200
PUTS_AFTER = 60


def node(ctx, index, seed=None):
    extra = ["--seeds", seed.address] if seed else []
    return ctx.node(name=f"node{index}", host=loopback_address(70 + index), extra_args=extra)


def stats(ctx, observer):
    result = ctx.kv("--json", "stats", node=observer, timeout=KV_S)
    check(result.rc == EXIT_OK, f"kv stats on {observer.name}: {result.describe()}")
    return json.loads(result.out.decode())


def hints_for(ctx, observers, name):
    return sum(stats(ctx, o).get(f"hints_stored:{name}", 0) for o in observers)


def ring_names(ctx, observer):
    result = ctx.kv("--json", "ring", node=observer, timeout=KV_S)
    check(result.rc == EXIT_OK, f"kv ring on {observer.name}: {result.describe()}")
    return {n["name"] for n in json.loads(result.out.decode())["nodes"]}


def member(ctx, observer, name):
    return (member_view(ctx.kv_path, observer) or {}).get(name, {})


def put_all(ctx, coordinators, keys):
    failures = []
    for i, (key, value) in enumerate(keys):
        result = ctx.kv("put", key, value, node=coordinators[i % len(coordinators)], timeout=KV_S)
        if result.rc != EXIT_OK:
            failures.append(f"{key}: {result.err.strip()}")
    return failures


@test
def joiner_killed_mid_join_is_shown_bounded_and_removable(ctx):
    node1 = node(ctx, 1)
    node2 = node(ctx, 2, seed=node1)
    node3 = node(ctx, 3, seed=node1)
    survivors = [node1, node2, node3]
    wait_converged(ctx.kv_path, survivors, CONVERGE_S, "3-node start")
    before = [(f"before-{i}", f"value-{i}") for i in range(KEYS_BEFORE)]
    failures = put_all(ctx, survivors, before)
    check(not failures, f"puts before the join failed: {failures[:3]}")

    # With node3 paused the join cannot be confirmed by every member, so node4 stays
    # `joining` (a pending owner that coordinators write to) until it is killed.
    node3.pause()
    try:
        node4 = node(ctx, 4, seed=node1)
        wait_until(lambda: member(ctx, node1, "node4").get("ring_status") == "joining", CONVERGE_S,
                   "node1 lists node4 joining", interval=0.05)
        node4.kill()
    finally:
        node3.resume()

    def shown_dead_joining():
        for observer in survivors:
            m = member(ctx, observer, "node4")
            if (m.get("liveness"), m.get("ring_status")) != ("dead", "joining"):
                return False
        return True
    wait_until(shown_dead_joining, DETECT_S, "every survivor's kv status lists node4 dead, joining")

    after = [(f"after-{i}", f"value-{i}") for i in range(PUTS_AFTER)]
    failures = put_all(ctx, survivors, after)
    print(f"    {len(failures)} of {PUTS_AFTER} QUORUM puts failed with node4 dead mid-join",
          flush=True)
    check(not failures, f"QUORUM puts failed with a dead pending owner: {failures[:3]}")
    held = hints_for(ctx, survivors, "node4")
    print(f"    hints kept for node4: {held} (puts since it died: {PUTS_AFTER})", flush=True)
    check(held <= PUTS_AFTER, f"{held} hints for node4 after only {PUTS_AFTER} puts since it died")

    result = ctx.kv("removenode", "node4", node=node1, timeout=REMOVE_S)
    check_eq(result.rc, EXIT_OK, f"kv removenode node4: {result.describe()}")
    wait_until(lambda: all(member(ctx, o, "node4").get("liveness") == "left" for o in survivors),
               CONVERGE_S, "node4 left in every view")
    for observer in survivors:
        check("node4" not in ring_names(ctx, observer), f"{observer.name}'s ring still holds node4")
    wait_until(lambda: hints_for(ctx, survivors, "node4") == 0, CONVERGE_S,
               "no survivor keeps hints for the removed node4")
    for key, value in before + after:
        got = ctx.kv("--consistency", "all", "get", key, node=node2, timeout=KV_S)
        check(got.rc == EXIT_OK and got.out.decode() == value,
              f"{key}: acknowledged {value!r}, read at ALL {got.describe()}")


if __name__ == "__main__":
    sys.exit(run_tests())
