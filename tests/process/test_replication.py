#!/usr/bin/env python3
"""Replication, consistency levels, hinted handoff and read repair with real kvnode
processes on 127.0.0.x, driven through the kv CLI (DESIGN.md "Data path").

  replicas_and_placement          3 nodes, N=3: a QUORUM put lands on all 3 (`get --local`);
                                  every node names the same 3 endpoints; `ring --json` has
                                  ownership_max_over_mean <= 1.10; a delete reaches all 3
  one_down_hints_replayed         kill -9 node3: 50 QUORUM puts through node1/node2 succeed
                                  and leave 50 hints for node3; ALL is UNAVAILABLE and writes
                                  nothing; QUORUM reads work; after node3 restarts it holds
                                  all 50 values and the hint counters drain
  two_down_levels                 2 of 3 killed: QUORUM/ALL puts UNAVAILABLE and never
                                  written (not even after the restarts); ONE and ANY puts
                                  succeed and reach the restarted replicas through hints
  any_counts_stand_ins            N=1: the only replica of a key is down: QUORUM and ONE puts
                                  are UNAVAILABLE, ANY succeeds through a stand-in's hint,
                                  which is replayed to the replica when it is back
  coordinator_killed_mid_stream   a writer through node1 only; node1 kill -9'd and restarted
                                  under it: every acknowledged put is readable at QUORUM
                                  through node2 and node3 with its value, no unacknowledged
                                  one is corrupt, and all 3 replicas converge
  read_repair_isolated            a replica misses a newer value; the hint holder is killed
                                  so only read repair can fix it: a QUORUM read returns the
                                  newest and writes it back to the stale replica
  restart_with_peers_paused_acks_nothing
                                  node1 restarted while node2 and node3 are SIGSTOPped: its
                                  ALL and QUORUM puts must fail, not be acknowledged
  restarted_node_acks_only_with_replicas
                                  right after a restart a node must not acknowledge an ALL
                                  put it did not store on all 3 replicas
  bad_requests_touch_nothing      64 KiB+1 key and 8 MiB+1 value: exit 3 INVALID; unknown
                                  consistency: exit 2; counters and data unchanged; the
                                  64 KiB key itself works

Nodes run with --probe-interval-ms 200 (a killed node is declared dead ~1-1.5 s later).
Every wait polls with a generous bound; nothing asserts on speed.

Run: python3 tests/process/test_replication.py --kvnode PATH --kv PATH [-k NAME]
"""

import concurrent.futures
import hashlib
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_CLUSTER_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, KEY_BYTES_MAX, VALUE_BYTES_MAX,
    TestFailure, check, check_eq, member_view, run_tests, start_cluster, test, wait_converged,
    wait_until,
)

PROBE_MS = 200
CONVERGE_S = 10.0     # cluster start / restart until everyone sees everyone alive
DEAD_S = 10.0         # kill -9 until the survivors say dead (expected ~1-1.5 s)
REPLAY_S = 15.0       # restart until the hints are replayed
KV_S = 15.0           # one CLI call (the coordinator's own timeout is 2 s)


# ---------------------------------------------------------------------------
# Helpers.

def cluster(ctx, replicas=3, count=3):
    nodes = start_cluster(ctx, count, PROBE_MS, extra_args=["--replicas", str(replicas)])
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, f"{count}-node cluster start")
    return nodes


def kv_ok(ctx, *args, node):
    result = ctx.kv(*args, node=node, timeout=KV_S)
    check(result.rc == EXIT_OK, f"expected exit 0: {result.describe()}")
    return result


def put(ctx, node, key, value, level=None):
    level_args = ["--consistency", level] if level else []
    return ctx.kv(*level_args, "put", key, value, node=node, timeout=KV_S)


def get(ctx, node, key, level=None):
    level_args = ["--consistency", level] if level else []
    return ctx.kv(*level_args, "get", key, node=node, timeout=KV_S)


def local_value(ctx, node, key):
    """The node's own copy of key as bytes, or None when it has none."""
    result = ctx.kv("get", key, "--local", node=node, timeout=KV_S)
    if result.rc == EXIT_NOT_FOUND:
        return None
    check(result.rc == EXIT_OK, f"get --local on {node.name}: {result.describe()}")
    return result.out


def check_refused(result, reason, what):
    check(result.rc == EXIT_CLUSTER_ERROR and reason in result.err,
          f"{what}: expected exit 3 with {reason} on stderr: {result.describe()}")


def parallel(fn, items, workers=8):
    """[fn(item) for item in items], run on a thread pool (each call is a CLI process)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def stats(ctx, node):
    return kv_ok(ctx, "--json", "stats", node=node).json()


def hint_counter(ctx, nodes, kind, target):
    """Sum over `nodes` of the stats counter KIND:TARGET (absent counts as 0)."""
    return sum(int(stats(ctx, n).get(f"{kind}:{target}", 0)) for n in nodes)


def liveness(ctx, observer, name):
    view = member_view(ctx.kv_path, observer)
    return None if view is None else view.get(name, {}).get("liveness")


def wait_liveness(ctx, observers, target, state, timeout):
    started = time.monotonic()
    wait_until(lambda: all(liveness(ctx, o, target.name) == state for o in observers), timeout,
               f"{[o.name for o in observers]} to see {target.name} {state}", interval=0.05)
    return time.monotonic() - started


def wait_local_everywhere(ctx, nodes, expected, timeout, what):
    """Polls until every node's own copy of every key equals expected[key] (bytes, or
    None for absent). Returns the seconds it took."""
    started = time.monotonic()
    pending = dict(expected)

    def converged():
        for key, values in zip(list(pending), parallel(
                lambda k: [local_value(ctx, n, k) for n in nodes], list(pending))):
            if all(v == pending[key] for v in values):
                del pending[key]
        return not pending

    try:
        wait_until(converged, timeout, what, interval=0.1)
    except TestFailure:
        key = next(iter(pending))
        seen = {n.name: local_value(ctx, n, key) for n in nodes}
        raise TestFailure(f"{what}: {len(pending)} of {len(expected)} keys differ after "
                          f"{timeout:.0f} s; e.g. {key!r}: expected {expected[key]!r}, local copies {seen}")
    return time.monotonic() - started


def value_for(key):
    """A value that carries its own checksum, so corruption is detectable."""
    return f"{key}|{hashlib.sha256(key.encode()).hexdigest()[:16]}"


# ---------------------------------------------------------------------------


@test
def replicas_and_placement(ctx):
    nodes = cluster(ctx)
    n1, n2, n3 = nodes
    written = kv_ok(ctx, "--json", "put", "a-key", "a-value", node=n1).json()
    check(isinstance(written.get("timestamp"), int), f"put --json has no timestamp: {written}")
    took = wait_local_everywhere(ctx, nodes, {"a-key": b"a-value"}, 2.0, "a QUORUM put on all 3 replicas")
    print(f"  QUORUM put through node1 on all 3 local copies after {took * 1000:.0f} ms")
    for node in nodes:
        doc = kv_ok(ctx, "--json", "get", "a-key", node=node).json()
        check_eq((doc.get("value"), doc.get("timestamp")), ("a-value", written["timestamp"]),
                 f"QUORUM get through {node.name} (value, timestamp)")

    lists = []
    for node in nodes:
        doc = kv_ok(ctx, "--json", "endpoints", "a-key", node=node).json()
        check_eq(doc.get("key"), "a-key", f"endpoints key ({node.name})")
        check(isinstance(doc.get("position"), int), f"endpoints position: {doc}")
        names = [e.get("name") for e in doc.get("endpoints", [])]
        check_eq(sorted(names), ["node1", "node2", "node3"], f"endpoints of a-key from {node.name}")
        by_name = {n.name: n.address for n in nodes}
        for e in doc["endpoints"]:
            check_eq(e.get("address"), by_name[e["name"]], f"endpoint address of {e['name']}")
        lists.append(names)
    check(all(names == lists[0] for names in lists), f"nodes disagree on the preference list: {lists}")

    ring = kv_ok(ctx, "--json", "ring", node=n2).json()
    ratio = ring.get("ownership_max_over_mean")
    check(isinstance(ratio, (int, float)), f"ring --json without a numeric ownership_max_over_mean: {ring}")
    check(1.0 <= ratio <= 1.10, f"ownership_max_over_mean {ratio} outside [1, 1.10]")
    print(f"  endpoints {lists[0]} on every node; ownership_max_over_mean {ratio}")

    kv_ok(ctx, "del", "a-key", node=n2)
    check_eq(get(ctx, n3, "a-key").rc, EXIT_NOT_FOUND, "QUORUM get after a delete")
    wait_local_everywhere(ctx, nodes, {"a-key": None}, 2.0, "a delete on all 3 replicas")


@test
def one_down_hints_replayed(ctx):
    nodes = cluster(ctx)
    n1, n2, n3 = nodes
    n3.kill()
    took = wait_liveness(ctx, [n1, n2], n3, "dead", DEAD_S)
    print(f"  node1 and node2 see node3 dead {took:.2f} s after kill -9")

    keys = [f"b-{i:02d}" for i in range(50)]
    results = parallel(lambda ik: put(ctx, (n1, n2)[ik[0] % 2], ik[1], value_for(ik[1])),
                       list(enumerate(keys)), workers=4)
    bad = [r.describe() for r in results if r.rc != EXIT_OK]
    check(not bad, f"{len(bad)} of 50 QUORUM puts failed with one replica down: {bad[:3]}")

    check_refused(put(ctx, n1, "b-all", "x", level="all"), "UNAVAILABLE", "ALL put with node3 down")
    for node in (n1, n2):
        check_eq(local_value(ctx, node, "b-all"), None, f"{node.name}'s copy of an UNAVAILABLE put")

    reads = parallel(lambda ik: get(ctx, (n2, n1)[ik[0] % 2], ik[1]), list(enumerate(keys)))
    for key, r in zip(keys, reads):
        check(r.rc == EXIT_OK and r.out == value_for(key).encode(), f"QUORUM get of {key}: {r.describe()}")

    stored = hint_counter(ctx, [n1, n2], "hints_stored", "node3")
    check_eq(stored, 50, "hints_stored:node3 summed over node1 and node2 (one per put)")

    n3.restart()
    restarted = time.monotonic()
    took = wait_local_everywhere(ctx, [n3], {k: value_for(k).encode() for k in keys}, REPLAY_S,
                                 "node3's own copies of the 50 keys after its restart")
    print(f"  50 hints stored; node3 holds all 50 values {took:.2f} s after it accepted connections")

    def drained():
        per_node = [stats(ctx, n) for n in (n1, n2)]
        left = sum(int(s.get("hints_stored:node3", 0)) for s in per_node)
        replayed = sum(int(s.get("hints_replayed:node3", 0)) for s in per_node)
        return (left == 0 and replayed >= 50) and (left, replayed, per_node)

    _, replayed, per_node = wait_until(drained, REPLAY_S - (time.monotonic() - restarted) + 2.0,
                                       "hints_stored:node3 = 0 and hints_replayed:node3 >= 50", 0.1)
    for node, s in zip((n1, n2), per_node):
        check(int(s.get("hints_replayed:node3", 0)) > 0, f"{node.name}: no hints_replayed:node3 in {s}")
    print(f"  hints_replayed:node3 = {replayed} (node1 {per_node[0].get('hints_replayed:node3')}, "
          f"node2 {per_node[1].get('hints_replayed:node3')}), none left stored")
    check_eq(local_value(ctx, n3, "b-all"), None, "node3's copy of the UNAVAILABLE ALL put")


@test
def two_down_levels(ctx):
    nodes = cluster(ctx)
    n1, n2, n3 = nodes
    n2.kill()
    n3.kill()
    wait_liveness(ctx, [n1], n2, "dead", DEAD_S)
    wait_liveness(ctx, [n1], n3, "dead", DEAD_S)

    check_refused(put(ctx, n1, "c-quorum", "q"), "UNAVAILABLE", "QUORUM put with 2 of 3 down")
    check_refused(put(ctx, n1, "c-all", "a", level="all"), "UNAVAILABLE", "ALL put with 2 of 3 down")
    for key in ("c-quorum", "c-all"):
        check_eq(local_value(ctx, n1, key), None, f"node1's copy of the UNAVAILABLE {key}")
    check_eq(int(stats(ctx, n1).get("hints_written", 0)), 0, "hints written for refused puts")

    check_eq(put(ctx, n1, "c-one", "one-value", level="one").rc, EXIT_OK, "ONE put with 2 of 3 down")
    check_eq(put(ctx, n1, "c-any", "any-value", level="any").rc, EXIT_OK, "ANY put with 2 of 3 down")
    one = get(ctx, n1, "c-one", level="one")
    check(one.rc == EXIT_OK and one.out == b"one-value", f"ONE get: {one.describe()}")
    check_refused(get(ctx, n1, "c-one"), "UNAVAILABLE", "QUORUM get with 2 of 3 down")
    s = stats(ctx, n1)
    check_eq((int(s.get("hints_stored:node2", 0)), int(s.get("hints_stored:node3", 0))), (2, 2),
             "node1's hints for (node2, node3) after the ONE and ANY puts")

    n2.restart()
    n3.restart()
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "after restarting node2 and node3")
    took = wait_local_everywhere(ctx, nodes, {"c-one": b"one-value", "c-any": b"any-value",
                                              "c-quorum": None, "c-all": None},
                                 REPLAY_S, "ONE/ANY puts on every replica, refused puts nowhere")
    print(f"  ONE and ANY puts on all 3 replicas {took:.2f} s after the restarts; refused ones nowhere")
    for node in nodes:
        for key in ("c-quorum", "c-all"):
            check_eq(get(ctx, node, key).rc, EXIT_NOT_FOUND, f"QUORUM get of refused {key} via {node.name}")
        check_eq(get(ctx, node, "c-any").out, b"any-value", f"QUORUM get of c-any via {node.name}")
    wait_until(lambda: hint_counter(ctx, [n1], "hints_stored", "node2") == 0
               and hint_counter(ctx, [n1], "hints_stored", "node3") == 0, 5.0, "node1's hints drained", 0.1)


@test
def any_counts_stand_ins(ctx):
    nodes = cluster(ctx, replicas=1)
    n1, n2, n3 = nodes
    key = None
    for i in range(200):
        doc = kv_ok(ctx, "--json", "endpoints", f"any-{i}", node=n1).json()
        names = [e["name"] for e in doc["endpoints"]]
        check_eq(len(names), 1, f"endpoints with --replicas 1: {doc}")
        if names == ["node3"]:
            key = f"any-{i}"
            break
    check(key is not None, "no key among any-0..199 is owned by node3")
    n3.kill()
    wait_liveness(ctx, [n1, n2], n3, "dead", DEAD_S)

    check_refused(put(ctx, n1, key, "quorum"), "UNAVAILABLE", "QUORUM put, the only replica down")
    check_refused(put(ctx, n1, key, "one", level="one"), "UNAVAILABLE", "ONE put, the only replica down")
    check_eq(hint_counter(ctx, [n1, n2], "hints_stored", "node3"), 0, "hints after refused puts")
    check_eq(put(ctx, n1, key, "any-value", level="any").rc, EXIT_OK, "ANY put, the only replica down")
    check_eq(hint_counter(ctx, [n1, n2], "hints_stored", "node3"), 1, "hints for node3 after the ANY put")
    # A hint is not a replica: reads still need the natural one.
    check_refused(get(ctx, n2, key, level="one"), "UNAVAILABLE", "ONE get, the only replica down")
    for node in (n1, n2):
        check_eq(local_value(ctx, node, key), None, f"{node.name} (not a replica) storing the value as data")

    n3.restart()
    took = wait_local_everywhere(ctx, [n3], {key: b"any-value"}, REPLAY_S, "the ANY put's hint replayed")
    wait_until(lambda: hint_counter(ctx, [n1, n2], "hints_stored", "node3") == 0, 5.0, "hints drained", 0.1)
    check_eq(hint_counter(ctx, [n1, n2], "hints_replayed", "node3"), 1, "hints_replayed:node3")
    check_eq(get(ctx, n1, key).out, b"any-value", "QUORUM get after the replay")
    print(f"  {key}: ANY put held by a stand-in, on node3 {took:.2f} s after its restart")


@test
def coordinator_killed_mid_stream(ctx):
    nodes = cluster(ctx)
    n1, n2, n3 = nodes
    history = []  # (key, value, rc, phase)
    lock = threading.Lock()
    stop = threading.Event()
    phase = ["before"]
    errors = []

    def writer():
        i = 0
        try:
            while not stop.is_set():
                key = f"d-{i:05d}"
                value = value_for(key)
                i += 1
                current = phase[0]
                try:
                    rc = put(ctx, n1, key, value).rc
                except TestFailure:  # the CLI itself hung: unknown outcome
                    rc = -1
                with lock:
                    history.append((key, value, rc, current))
                if rc != EXIT_OK:
                    time.sleep(0.02)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def acked(which=None):
        with lock:
            return sum(1 for h in history if h[2] == EXIT_OK and (which is None or h[3] == which))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        wait_until(lambda: acked() >= 40, 20.0, "40 acknowledged puts before the kill", 0.01)
        phase[0] = "down"
        n1.kill()
        wait_until(lambda: sum(1 for h in list(history) if h[3] == "down") >= 5, 10.0,
                   "a few puts against the killed node1", 0.01)
        phase[0] = "after"
        n1.restart()  # same command line: the founder, no --seeds; it rejoins through the peers it remembers
        wait_until(lambda: acked("after") >= 20, 20.0, "20 acknowledged puts after node1's restart", 0.02)
    finally:
        stop.set()
        thread.join(timeout=KV_S + 5)
    check(not errors, f"writer thread: {errors}")
    with lock:
        ok = [(k, v) for k, v, rc, _ in history if rc == EXIT_OK]
        not_ok = [(k, v, rc) for k, v, rc, _ in history if rc != EXIT_OK]
        phase_of = {k: p for k, _, _, p in history}
    print(f"  {len(history)} puts through node1: {acked('before')} acked before the kill, "
          f"{len(not_ok)} not acked (exit codes {sorted({rc for _, _, rc in not_ok})}), "
          f"{acked('after')} acked after the restart")

    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "after node1's restart")
    for node in (n2, n3):
        reads = parallel(lambda kv: get(ctx, node, kv[0]), ok)
        lost = [(k, r.describe()) for (k, v), r in zip(ok, reads) if not (r.rc == EXIT_OK and r.out == v.encode())]
        by_phase = {p: sum(1 for k, _ in lost if phase_of[k] == p) for p in ("before", "after")}
        check(not lost, f"{len(lost)} of {len(ok)} acknowledged puts not readable with their value at "
                        f"QUORUM through {node.name} ({by_phase['before']} acknowledged before the kill, "
                        f"{by_phase['after']} after node1's restart): {lost[:3]}")
    reads = parallel(lambda kvr: get(ctx, n2, kvr[0]), not_ok)
    present = 0
    for (k, v, _), r in zip(not_ok, reads):
        check(r.rc in (EXIT_OK, EXIT_NOT_FOUND), f"unacknowledged {k}: {r.describe()}")
        if r.rc == EXIT_OK:
            check_eq(r.out, v.encode(), f"value of unacknowledged {k}")
            present += 1
    # The QUORUM reads above repaired any replica that missed a put: all 3 converge.
    took = wait_local_everywhere(ctx, nodes, {k: v.encode() for k, v in ok}, 10.0,
                                 "acknowledged puts on all 3 replicas")
    print(f"  all {len(ok)} acknowledged puts readable via node2 and node3 and on all 3 replicas "
          f"(+{took:.2f} s); {present} of {len(not_ok)} unacknowledged ones present, intact")


@test
def read_repair_isolated(ctx):
    nodes = cluster(ctx)
    n1, n2, n3 = nodes
    kv_ok(ctx, "put", "e-key", "old", node=n1)
    wait_local_everywhere(ctx, nodes, {"e-key": b"old"}, 2.0, "the first value on all 3")

    n2.kill()
    wait_liveness(ctx, [n1, n3], n2, "dead", DEAD_S)
    kv_ok(ctx, "put", "e-key", "new", node=n1)
    wait_local_everywhere(ctx, [n1, n3], {"e-key": b"new"}, 2.0, "the newer value on node1 and node3")
    check_eq(hint_counter(ctx, [n1, n3], "hints_stored", "node2"), 1, "hints for node2")
    # Only node1 (the coordinator) holds the hint: with it down, hint replay cannot
    # reach node2, so whatever fixes node2 is read repair.
    n1.kill()
    wait_liveness(ctx, [n3], n1, "dead", DEAD_S)
    n2.restart()  # same command line; its seed (node1) is down: rejoins through remembered peers
    wait_liveness(ctx, [n3], n2, "alive", CONVERGE_S)
    check_eq(local_value(ctx, n2, "e-key"), b"old", "node2's copy after its restart (stale)")
    repairs_before = int(stats(ctx, n3).get("read_repairs", 0))

    check_eq(kv_ok(ctx, "get", "e-key", node=n3).out, b"new", "QUORUM get via node3 (node2 stale)")
    took = wait_local_everywhere(ctx, [n2], {"e-key": b"new"}, 5.0, "node2 read-repaired")
    repairs = int(stats(ctx, n3).get("read_repairs", 0)) - repairs_before
    check(repairs >= 1, f"node3's read_repairs did not grow ({repairs})")
    print(f"  stale node2 repaired by a QUORUM read through node3 within {took * 1000:.0f} ms "
          f"(read_repairs +{repairs})")

    n1.restart()
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "after node1's restart")
    wait_local_everywhere(ctx, nodes, {"e-key": b"new"}, 5.0, "all 3 copies newest")
    wait_until(lambda: hint_counter(ctx, [n1], "hints_stored", "node2") == 0, REPLAY_S,
               "node1's hint for node2 drained", 0.1)
    for node in nodes:
        check_eq(kv_ok(ctx, "get", "e-key", node=node).out, b"new", f"QUORUM get via {node.name}")


@test
def restart_with_peers_paused_acks_nothing(ctx):
    """DESIGN.md: a write is acknowledged once `level` natural replicas stored it, and a node
    that is down stays in the ring. node1 restarted while node2 and node3 are paused
    (SIGSTOP) can reach no other replica: its ALL and QUORUM puts must fail (exit 3)."""
    nodes = cluster(ctx)
    n1, n2, n3 = nodes
    n2.pause()
    n3.pause()
    try:
        n1.kill()
        n1.restart()
        attempts = [(f"h-{level}-{i}", level) for level in ("all", "quorum") for i in range(3)]
        results = parallel(lambda a: put(ctx, n1, a[0], value_for(a[0]), level=a[1]), attempts)
        ring = [e["name"] for e in kv_ok(ctx, "--json", "endpoints", "h-all-0", node=n1).json()["endpoints"]]
    finally:
        n2.resume()
        n3.resume()
    acked = [(key, level) for (key, level), r in zip(attempts, results) if r.rc == EXIT_OK]
    reasons = sorted({r.err.strip().split(":")[1].strip() if r.err.count(":") else r.err.strip()
                      for r in results if r.rc != EXIT_OK})
    print(f"  6 puts through the restarted node1 with node2 and node3 paused: {len(acked)} acked, "
          f"exit codes {[r.rc for r in results]} {reasons}; node1's endpoints of h-all-0: {ring}")
    for r in results:
        check(r.rc == EXIT_OK or (r.rc == EXIT_CLUSTER_ERROR and ("UNAVAILABLE" in r.err or "TIMEOUT" in r.err)),
              f"expected exit 3 UNAVAILABLE or TIMEOUT: {r.describe()}")
    check(not acked, f"{len(acked)} puts acknowledged while no other replica could store them "
                     f"(node1's endpoints right after its restart: {ring}): {acked}; e.g. "
                     f"{results[attempts.index(acked[0])].describe() if acked else ''}")


@test
def restarted_node_acks_only_with_replicas(ctx):
    """As above, without pausing anyone: right after node1's restart (same command line and
    data directory), every ALL put it acknowledges is on all 3 replicas."""
    nodes = cluster(ctx)
    n1, n2, n3 = nodes
    n1.kill()
    n1.restart()
    acked = []
    refused = 0
    for i in range(30):
        key = f"g-{i:02d}"
        r = put(ctx, n1, key, value_for(key), level="all")
        if r.rc == EXIT_OK:
            ep = [e["name"] for e in kv_ok(ctx, "--json", "endpoints", key, node=n1).json()["endpoints"]]
            acked.append((key, ep))
        else:
            refused += 1
    short = []
    for key, ep in acked:
        copies = {n.name: local_value(ctx, n, key) is not None for n in nodes}
        if not all(copies.values()):
            short.append((key, ep, copies))
    print(f"  30 ALL puts right after node1's restart: {len(acked)} acked, {refused} refused")
    check(not short, f"{len(short)} ALL puts acknowledged by the restarted node1 without all 3 "
                     f"copies; e.g. {short[0] if short else None} (key, endpoints right after, copies)")


@test
def bad_requests_touch_nothing(ctx):
    nodes = cluster(ctx)
    n1, n2, n3 = nodes
    before = {n.name: stats(ctx, n) for n in nodes}

    big_key = "k" * (KEY_BYTES_MAX + 1)
    check_refused(put(ctx, n1, big_key, "v"), "INVALID", "put with a 64 KiB + 1 key")
    big_value = b"v" * (VALUE_BYTES_MAX + 1)
    check_refused(ctx.kv("put", "f-big-value", "-", node=n2, input=big_value, timeout=KV_S),
                  "INVALID", "put with an 8 MiB + 1 value")
    bad_level = ctx.kv("--consistency", "most", "put", "f-bad-level", "v", node=n3, timeout=KV_S)
    check_eq(bad_level.rc, EXIT_USAGE, f"unknown consistency: {bad_level.describe()}")

    after = {n.name: stats(ctx, n) for n in nodes}
    for name in before:
        for counter in ("writes", "hints_written", "unavailable", "timeouts", "storage_errors"):
            check_eq(after[name].get(counter), before[name].get(counter), f"{name}'s {counter}")
    wait_local_everywhere(ctx, nodes, {"f-big-value": None, "f-bad-level": None}, 0.5,
                          "refused puts stored nowhere")

    edge_key = "k" * KEY_BYTES_MAX
    kv_ok(ctx, "put", edge_key, "edge", node=n1)
    wait_local_everywhere(ctx, nodes, {edge_key: b"edge"}, 2.0, "a 64 KiB key on all 3")
    check_eq(int(stats(ctx, n1)["writes"]), int(before["node1"]["writes"]) + 1, "node1's writes")
    wait_converged(ctx.kv_path, nodes, 2.0, "still converged after the bad requests")


if __name__ == "__main__":
    sys.exit(run_tests())
