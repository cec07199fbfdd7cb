#!/usr/bin/env python3
"""Iterating the keyspace across a 3-node cluster (N=3): `kv scan`, RESP SCAN,
KEYS and DBSIZE (node/core/scan_coordinator.h, node/resp/keyspace_commands.h).

  scan_returns_the_live_set   ~2,000 keys (some binary) written through RESP and
                              300 deleted: `kv scan` (plain and --json, --prefix,
                              --limit) returns exactly the live keys; redis-py's
                              scan_iter (with and without MATCH), keys and dbsize
                              and redis-cli --scan agree; a cursor from one node
                              resumes on another
  node_killed_mid_scan        a paged SCAN (COUNT 50) through node1; node3 is
                              kill -9'd after a few pages and the scan goes on
                              through node2: every live key is returned (repeats
                              allowed, none missed); with node2 killed too, a
                              QUORUM `kv scan` exits 3 with the reason on stderr

redis-py comes from Debian's python3-redis (scripts/setup.sh installs it): its
absence is a failure, not a skip.

Run: python3 tests/process/test_scan.py --kvnode PATH --kv PATH [-k NAME]
"""

import base64
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_CLUSTER_ERROR, EXIT_OK, check, check_eq, free_port, loopback_address, run_tests, test,
    wait_converged,
)

try:
    import redis
except ImportError:  # a Python outside Debian's (pyenv): the package's own folder
    sys.path.append("/usr/lib/python3/dist-packages")
    import redis

PROBE_MS = 200
CONVERGE_S = 15.0
KV_S = 30.0
KEYS = 2000
DELETED = 300


def resp_cluster(ctx, count=3):
    """`count` nodes on 127.0.0.x, each with a RESP port (node.resp_port), N=3."""
    nodes = []
    for i in range(count):
        host = loopback_address(i + 1)
        node = ctx.node(name=f"node{i + 1}", host=host, start=False)
        node.resp_port = free_port(host)
        node.extra_args = ["--probe-interval-ms", str(PROBE_MS), "--replicas", "3",
                           "--resp-listen", f"{host}:{node.resp_port}"]
        if i > 0:
            node.extra_args += ["--seeds", nodes[0].address]
        nodes.append(node)
        node.start()
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, f"{count}-node cluster start")
    return nodes


def client(node):
    return redis.Redis(host=node.host, port=node.resp_port, socket_timeout=KV_S)


def load(node):
    """Writes KEYS keys (every 10th binary) and deletes DELETED of them; returns the live set."""
    keys = []
    for i in range(KEYS):
        keys.append(b"bin\x00\xff" + i.to_bytes(2, "big") if i % 10 == 0 else f"user:{i}".encode())
    r = client(node)
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, b"v")
    check(all(pipe.execute()), "every SET acknowledged")
    deleted = keys[::KEYS // DELETED][:DELETED]
    pipe = r.pipeline(transaction=False)
    for key in deleted:
        pipe.delete(key)
    pipe.execute()
    return set(keys) - set(deleted)


def kv_scan_keys(ctx, node, *args):
    result = ctx.kv("--json", "scan", *args, node=node, timeout=KV_S)
    check(result.rc == EXIT_OK, f"kv scan: {result.describe()}")
    doc = result.json()
    keys = []
    for key in doc["keys"]:
        if isinstance(key, dict):
            keys.append(base64.b64decode(key["base64"]))
        else:
            keys.append(key.encode())
    check_eq(doc["count"], len(keys), "kv scan --json count")
    return keys, doc


@test
def scan_returns_the_live_set(ctx):
    nodes = resp_cluster(ctx)
    live = load(nodes[0])

    keys, doc = kv_scan_keys(ctx, nodes[1])
    check(doc["complete"] is True, f"a whole scan is complete: {doc['count']} keys")
    check_eq(len(keys), len(set(keys)), "kv scan lists each key once (nothing changed meanwhile)")
    check_eq(set(keys), live, "kv scan --json returns the live set")
    plain = ctx.kv("scan", node=nodes[2], timeout=KV_S)
    check(plain.rc == EXIT_OK, plain.describe())
    text_keys = {k for k in live if not k.startswith(b"bin")}
    lines = set(plain.out.split(b"\n")) - {b""}
    check(text_keys <= lines, "plain kv scan prints every text key on its own line")
    prefixed, _ = kv_scan_keys(ctx, nodes[0], "--prefix", "user:1")
    check_eq(set(prefixed), {k for k in live if k.startswith(b"user:1")}, "kv scan --prefix user:1")
    limited, doc = kv_scan_keys(ctx, nodes[0], "--limit", "25")
    check(len(limited) == 25 and doc["complete"] is False, f"kv scan --limit 25: {doc['count']}, {doc['complete']}")
    print(f"  kv scan: {len(keys)} live keys of {KEYS} written ({DELETED} deleted)")

    r = client(nodes[2])
    check_eq(set(r.scan_iter()), live, "redis-py scan_iter")
    check_eq(set(r.scan_iter(match="user:1*", count=100)), {k for k in live if k.startswith(b"user:1")},
             "scan_iter(match='user:1*')")
    check_eq(set(r.keys("user:2?")), {k for k in live if k.startswith(b"user:2") and len(k) == 7},
             "KEYS user:2?")
    check_eq(r.scan(0, _type="hash"), (0, []), "SCAN TYPE hash (every ringkv value is a string)")
    size = r.dbsize()
    check(len(live) / 2 <= size <= len(live) * 2, f"DBSIZE {size} is an estimate near {len(live)}")
    print(f"  redis-py scan_iter/keys agree; DBSIZE estimate {size} for {len(live)} live keys")

    binary = shutil.which("redis-cli")
    check(binary is not None, "redis-cli is not installed (scripts/setup.sh installs redis-tools)")
    listed = subprocess.run([binary, "-h", nodes[0].host, "-p", str(nodes[0].resp_port), "--scan", "--pattern",
                             "user:*"], capture_output=True, timeout=KV_S, check=True).stdout
    check_eq(set(listed.split(b"\n")) - {b""}, {k for k in live if k.startswith(b"user:")},
             "redis-cli --scan --pattern 'user:*'")

    # A cursor is a ring position: a scan begun on node1 resumes on node3.
    cursor, first = client(nodes[0]).scan(0, count=100)
    seen = set(first)
    while cursor != 0:
        cursor, page = r.scan(cursor, count=100)
        seen.update(page)
    check_eq(seen, live, "a scan begun on node1 and finished on node3")


@test
def node_killed_mid_scan(ctx):
    nodes = resp_cluster(ctx)
    live = load(nodes[0])
    seen = []
    cursor = 0
    pages = 0
    r = client(nodes[0])
    while True:
        cursor, page = r.scan(cursor, count=50)
        seen.extend(page)
        pages += 1
        if pages == 5:
            nodes[2].kill()  # a replica of every range
            r = client(nodes[1])
        if cursor == 0:
            break
    missing = live - set(seen)
    check(not missing, f"{len(missing)} live keys missed after node3 died mid-scan, e.g. {sorted(missing)[:3]}")
    print(f"  {pages} pages, {len(seen)} keys returned ({len(seen) - len(set(seen))} repeats), none missed")

    nodes[1].kill()
    result = ctx.kv("scan", node=nodes[0], timeout=KV_S)
    check_eq(result.rc, EXIT_CLUSTER_ERROR, f"QUORUM scan with 2 of 3 down: {result.describe()}")
    check("UNAVAILABLE" in result.err or "TIMEOUT" in result.err, f"the reason on stderr: {result.err!r}")


if __name__ == "__main__":
    sys.exit(run_tests())
