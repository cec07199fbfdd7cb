#!/usr/bin/env python3
"""Request coalescing on hot keys, with real kvnode processes (README "How it works": hot keys).

  hot_key_pipelines       3 nodes, N=3, QUORUM. 8 connections to node1 each send one pipeline
                          of 300 random puts and gets of 2 keys at once, so consecutive
                          requests of one key meet in a loop iteration and coalesce. (One
                          coordinator: its versions only grow, so no write is re-stamped.)
                          Checks: every request is answered once (replies of a cluster may come
                          in any order), nothing fails; a get reads a version at least as new as every put of
                          its key the same connection sent before it (read your writes); a
                          value read is the one a put wrote, with the version that put was
                          acknowledged with; the version of a put taken over by a newer one
                          is below it; at the end every node's QUORUM read of a key gives the
                          newest acknowledged put; kv stats counted coalesced reads and writes
                          (so the test exercised what it checks).

Run: python3 tests/process/test_hot_keys.py --kvnode PATH --kv PATH [-k NAME]
"""

import os
import sys
import threading

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, GET_REPLY, WRITE_REPLY, RawConnection, TestFailure, check, check_eq, frame, get_request,
    mp_encode, put_request, run_tests, start_cluster, test, wait_converged,
)

PROBE_MS = 200
CONVERGE_S = 10.0
KEYS = [b"hot-a", b"hot-b"]
CONNECTIONS = 8
REQUESTS = 300


def stats(ctx, node):
    result = ctx.kv("--json", "stats", node=node)
    check(result.rc == EXIT_OK, f"kv stats: {result.describe()}")
    return result.json()


def pipeline(rng, conn_index):
    """[(request_id, 'put'|'get', key, value)] of one connection."""
    ops = []
    for seq in range(REQUESTS):
        key = rng.choice(KEYS)
        if rng.random() < 0.5:
            ops.append((seq + 1, "put", key, b"c%d:%d" % (conn_index, seq)))
        else:
            ops.append((seq + 1, "get", key, None))
    return ops


def exchange(node, ops):
    """Sends the whole pipeline in one write and returns the replies in arrival order."""
    payload = b"".join(put_request(rid, key, value) if kind == "put" else get_request(rid, key)
                       for rid, kind, key, value in ops)
    with RawConnection(node.host, node.port, timeout=30.0) as conn:
        conn.send(payload)
        return [conn.recv_reply(timeout=30.0) for _ in ops]


@test
def hot_key_pipelines(ctx):
    nodes = start_cluster(ctx, 3, PROBE_MS)
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "3-node start")
    rng = ctx.rng("hot")
    pipelines = [pipeline(rng, i) for i in range(CONNECTIONS)]
    replies = [None] * CONNECTIONS
    errors = []

    def run(i):
        try:
            replies[i] = exchange(nodes[0], pipelines[i])
        except Exception as e:  # reported below, on the main thread
            errors.append(f"connection {i}: {e!r}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check(not errors, f"pipelines failed: {errors}")

    acked = {}  # value -> (timestamp, tiebreak) its put was acknowledged with
    reads = []  # (connection, request id, key, found, value, version)
    for i, (ops, answers) in enumerate(zip(pipelines, replies)):
        check_eq(sorted(r.request_id for r in answers), [op[0] for op in ops],
                 f"connection {i}: request ids of the replies")
        by_id = {r.request_id: r for r in answers}
        newest_own = {}  # key -> newest version this connection's puts were acknowledged with
        for rid, kind, key, value in ops:
            reply = by_id[rid]
            if kind == "put":
                check(reply.type == WRITE_REPLY, f"connection {i} put #{rid}: {reply}")
                version = (reply.fields[0], reply.fields[1])
                acked[value] = (key, version)
                newest_own[key] = max(newest_own.get(key, (0, 0)), version)
                continue
            check(reply.type == GET_REPLY, f"connection {i} get #{rid}: {reply}")
            found, got, version = reply.fields[0], reply.fields[1], (reply.fields[2], reply.fields[3])
            if key in newest_own:
                check(found and version >= newest_own[key],
                      f"connection {i} get #{rid} of {key!r} read {version} ({got!r}), older than "
                      f"its own put acknowledged with {newest_own[key]}")
            if found:
                reads.append((i, rid, key, got, version))

    for i, rid, key, got, version in reads:
        check(got in acked, f"connection {i} get #{rid} read {got!r}, which no put wrote")
        check_eq(acked[got], (key, version), f"connection {i} get #{rid}: key and version of {got!r}")

    newest = {}
    for value, (key, version) in acked.items():
        if key not in newest or version > newest[key][1]:
            newest[key] = (value, version)
    for node in nodes:
        with RawConnection(node.host, node.port) as conn:
            for n, key in enumerate(KEYS):
                reply = conn.call(get_request(1000 + n, key))
                check(reply.type == GET_REPLY and reply.fields[0], f"{node.name} final get {key!r}: {reply}")
                check_eq((reply.fields[1], (reply.fields[2], reply.fields[3])), newest[key],
                         f"{node.name}: final value and version of {key!r} (the newest acknowledged put)")

    counted = [stats(ctx, node) for node in nodes]
    check_eq(sum(int(s.get("writes_restamped", 0)) for s in counted), 0, "writes re-stamped (one coordinator)")
    writes = sum(int(s.get("writes_coalesced", 0)) for s in counted)
    reads_joined = sum(int(s.get("reads_coalesced", 0)) for s in counted)
    check(writes > 0 and reads_joined > 0,
          f"nothing coalesced (writes_coalesced {writes}, reads_coalesced {reads_joined}): "
          "the pipelines did not exercise what this test checks")
    print(f"  {len(acked)} puts, {len(reads)} reads found a value; coalesced: {writes} writes, "
          f"{reads_joined} reads")


if __name__ == "__main__":
    run_tests()
