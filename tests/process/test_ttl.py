#!/usr/bin/env python3
"""Keys that expire (issue 15 item 2) with real kvnode processes: 3 nodes, N = 3, RESP on node1.

  values_expire_on_every_replica
      `kv put --ttl 2` and RESP `SET k v EX 2`: readable at once (TTL 1..2 s, `get --json`
      shows ttl_ms), then absent at QUORUM and in every node's own copy (`get --local`).
  expire_persist_and_ttl_answer_as_redis
      TTL/PTTL of an absent key -2, of a plain key -1; EXPIRE then TTL; PERSIST then TTL -1;
      EXPIRE of an absent key 0; SETEX and PSETEX; SET with NX is refused.

Expiry through hints, streams, repair and skewed clocks: test_ttl_cluster.py; the RESP
commands against redis-server: test_ttl_redis.py.

Run: python3 tests/process/test_ttl.py --kvnode PATH --kv PATH
"""

import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_NOT_FOUND, EXIT_OK, check, check_eq, free_port, loopback_address, run_tests, test,
    wait_converged, wait_until,
)

CONVERGE_S = 30.0
EXPIRE_WAIT_S = 15.0


def cluster(ctx):
    nodes = []
    for i in (1, 2, 3):
        host = loopback_address(90 + i)
        extra = ["--replicas", "3", "--probe-interval-ms", "200"]
        if nodes:
            extra += ["--seeds", nodes[0].address]
        node = ctx.node(name=f"node{i}", host=host, start=False)
        if i == 1:
            node.resp_port = free_port(host)
            extra += ["--resp-listen", f"{host}:{node.resp_port}"]
        node.extra_args = extra
        node.start()
        nodes.append(node)
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "3-node start")
    return nodes


def redis(node, *args):
    binary = shutil.which("redis-cli")
    check(binary is not None, "redis-cli is not installed (scripts/setup.sh installs redis-tools)")
    proc = subprocess.run([binary, "-h", node.host, "-p", str(node.resp_port), *map(str, args)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=15)
    check(proc.returncode == 0, f"redis-cli {args}: rc {proc.returncode} {proc.stderr!r}")
    return proc.stdout.decode().strip()


def absent_everywhere(ctx, nodes, key):
    if ctx.kv("get", key, node=nodes[0]).rc != EXIT_NOT_FOUND:
        return False
    return all(ctx.kv("get", key, "--local", node=n).rc == EXIT_NOT_FOUND for n in nodes)


@test
def values_expire_on_every_replica(ctx):
    nodes = cluster(ctx)
    r = ctx.kv("put", "session", "token", "--ttl", "2", node=nodes[1])
    check_eq(r.rc, EXIT_OK, f"kv put --ttl: {r.describe()}")
    check_eq(redis(nodes[0], "SET", "cache", "page", "EX", "2"), "OK", "SET EX")
    got = ctx.kv("--json", "get", "session", node=nodes[2]).json()
    check(got["found"] and 0 < got.get("ttl_ms", 0) <= 2000, f"get --json right after: {got}")
    check_eq(redis(nodes[0], "GET", "cache"), "page", "GET right after SET EX")
    check(redis(nodes[0], "TTL", "cache") in ("1", "2"), "TTL right after SET EX 2")
    for key in ("session", "cache"):
        wait_until(lambda key=key: absent_everywhere(ctx, nodes, key), EXPIRE_WAIT_S,
                   f"{key} absent at QUORUM and in every node's own copy")
    check_eq(redis(nodes[0], "TTL", "cache"), "-2", "TTL of an expired key")
    check_eq(redis(nodes[0], "EXISTS", "cache"), "0", "EXISTS of an expired key")


@test
def expire_persist_and_ttl_answer_as_redis(ctx):
    nodes = cluster(ctx)
    n = nodes[0]
    check_eq(redis(n, "TTL", "nothing"), "-2", "TTL of an absent key")
    check_eq(redis(n, "SET", "plain", "v"), "OK", "SET")
    check_eq(redis(n, "TTL", "plain"), "-1", "TTL of a key without expiry")
    check_eq(redis(n, "EXPIRE", "plain", "100"), "1", "EXPIRE of a present key")
    ttl = int(redis(n, "TTL", "plain"))
    check(90 <= ttl <= 100, f"TTL after EXPIRE 100: {ttl}")
    check(0 < int(redis(n, "PTTL", "plain")) <= 100000, "PTTL after EXPIRE 100")
    check_eq(redis(n, "GET", "plain"), "v", "the value survives EXPIRE")
    check_eq(redis(n, "PERSIST", "plain"), "1", "PERSIST of an expiring key")
    check_eq(redis(n, "TTL", "plain"), "-1", "TTL after PERSIST")
    check_eq(redis(n, "PERSIST", "plain"), "0", "PERSIST of a key without expiry")
    check_eq(redis(n, "EXPIRE", "nothing", "10"), "0", "EXPIRE of an absent key")
    check_eq(redis(n, "SETEX", "sx", "50", "v"), "OK", "SETEX")
    check(int(redis(n, "TTL", "sx")) in range(45, 51), "TTL after SETEX 50")
    check_eq(redis(n, "PSETEX", "psx", "50000", "v"), "OK", "PSETEX")
    check(0 < int(redis(n, "PTTL", "psx")) <= 50000, "PTTL after PSETEX")
    check_eq(redis(n, "EXPIRE", "sx", "0"), "1", "EXPIRE 0 (expire now)")
    check_eq(redis(n, "GET", "sx"), "", "a key expired by EXPIRE 0 reads as nil")
    check(redis(n, "SET", "k", "v", "NX").startswith("ERR syntax error"), "SET NX is refused")
    check(redis(n, "SET", "k", "v", "EX", "0").startswith("ERR invalid expire time"), "SET EX 0")


if __name__ == "__main__":
    sys.exit(run_tests())
