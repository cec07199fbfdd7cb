#!/usr/bin/env python3
"""The Redis protocol (RESP2) port of kvnode (--resp-listen): redis-cli round
trips against one node and a 3-node cluster, pipelining over a raw socket,
malformed RESP, and a short redis-benchmark run that must start cleanly.

redis-cli and redis-benchmark come from Debian's redis-tools, which
scripts/setup.sh installs: their absence is a failure, not a skip.

Run: python3 tests/process/test_resp.py --kvnode PATH --kv PATH
"""

import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, KEY_BYTES_MAX, ConnectionClosed, TestFailure, _die_with_parent, check,
    check_eq, free_port, loopback_address, run_tests, test, wait_converged, wait_until,
)
from resp_client import RespConnection, RespError, command  # noqa: E402

REDIS_TIMEOUT_S = 30.0


def resp_node(ctx, name=None, host="127.0.0.1", extra_args=(), start=True):
    """A kvnode with a RESP listener on a free port of its host
    (node.resp_port); started once both ports accept connections."""
    node = ctx.node(name=name, host=host, start=False)
    node.resp_port = free_port(host)
    node.extra_args = ["--resp-listen", f"{host}:{node.resp_port}", *extra_args]
    if start:
        start_resp_node(node)
    return node


def start_resp_node(node):
    node.start()
    wait_until(lambda: can_ping(node), 10.0, f"{node.name}'s RESP port to answer PING")


def can_ping(node):
    try:
        with RespConnection(node.host, node.resp_port, timeout=1.0) as conn:
            conn.send(b"PING\r\n")
            return conn.recv_value(1.0) == "PONG"
    except (OSError, TimeoutError, ConnectionClosed, TestFailure):
        return False


def redis_cli(node, *args, input=None):
    """Runs redis-cli against `node`'s RESP port; returns its stdout (text,
    one trailing newline removed). Fails on a non-zero exit."""
    binary = shutil.which("redis-cli")
    check(binary is not None, "redis-cli is not installed (scripts/setup.sh installs redis-tools)")
    argv = [binary, "-h", node.host, "-p", str(node.resp_port), *[str(a) for a in args]]
    try:
        proc = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=REDIS_TIMEOUT_S, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"{' '.join(argv)} did not finish within {REDIS_TIMEOUT_S} s")
    check(proc.returncode == 0, f"{' '.join(argv)} -> rc {proc.returncode}, stderr {proc.stderr!r}")
    out = proc.stdout.decode("utf-8", "replace")
    return out[:-1] if out.endswith("\n") else out


def check_resp_round_trips(nodes):
    """SET/GET/MSET/MGET/EXISTS/DEL through redis-cli, each step on another
    node of `nodes` (all the same node for a single-node cluster)."""
    a, b, c = (nodes * 3)[:3]
    check_eq(redis_cli(a, "PING"), "PONG", "PING")
    check_eq(redis_cli(a, "SET", "greeting", "hello world"), "OK", "SET")
    check_eq(redis_cli(b, "GET", "greeting"), "hello world", "GET of a key set elsewhere")
    check_eq(redis_cli(c, "GET", "nothing-here"), "", "GET of a missing key (nil)")
    check_eq(redis_cli(b, "MSET", "k1", "v1", "k2", "v2", "k3", ""), "OK", "MSET")
    check_eq(redis_cli(c, "MGET", "k1", "nope", "k2", "k3"), "v1\n\nv2\n", "MGET")
    check_eq(redis_cli(a, "EXISTS", "k1", "k2", "nope", "k1"), "3", "EXISTS counts duplicates")
    check_eq(redis_cli(c, "DEL", "k1", "nope", "k2"), "2", "DEL counts the keys that existed")
    check_eq(redis_cli(a, "EXISTS", "k1", "k2", "k3"), "1", "EXISTS after DEL")
    check_eq(redis_cli(b, "GET", "k1"), "", "GET after DEL")
    # Binary-safe values through stdin (-x appends stdin as the last argument).
    value = bytes(range(256)) * 4
    check_eq(redis_cli(a, "-x", "SET", "binary", input=value), "OK", "SET -x")
    with RespConnection(c.host, c.resp_port) as conn:
        check_eq(conn.call("GET", "binary"), value, "binary value read back over RESP")


@test
def redis_cli_round_trips_on_one_node(ctx):
    node = resp_node(ctx, extra_args=["--replicas", "1"])
    check_resp_round_trips([node])
    # What was written over RESP is the same data the kv CLI sees.
    got = ctx.kv("get", "greeting", node=node)
    check(got.rc == EXIT_OK, f"kv get of a key set over RESP: {got.describe()}")
    check_eq(got.out, b"hello world", "kv get of a key set over RESP")
    check_eq(redis_cli(node, "ECHO", "x y"), "x y", "ECHO")
    check(redis_cli(node, "SET", "k", "v", "NX").startswith("ERR syntax error"),
          "SET with an option ringkv lacks is refused")
    check(redis_cli(node, "FLUSHALL").startswith("ERR unknown command 'FLUSHALL'"), "unknown command")
    check_eq(redis_cli(node, "CONFIG", "GET", "appendonly"), "appendonly\nyes", "CONFIG GET")
    # What client libraries send on connect: RESP3 is refused so they fall back to RESP2.
    check_eq(redis_cli(node, "HELLO", "3").strip(), "NOPROTO sorry, this protocol version is not supported",
             "HELLO 3")
    check("proto\n2" in redis_cli(node, "HELLO", "2"), "HELLO 2 answers the server map")
    with RespConnection(node.host, node.resp_port) as conn:
        check_eq(conn.call("CLIENT", "SETNAME", "worker-1"), "OK", "CLIENT SETNAME")
        check_eq(conn.call("CLIENT", "GETNAME"), b"worker-1", "CLIENT GETNAME on the same connection")
        check(isinstance(conn.call("CLIENT", "ID"), int), "CLIENT ID is an integer")
    info = redis_cli(node, "INFO")
    for needle in ("# Server", "redis_version:", f"tcp_port:{node.resp_port}", "# Cluster",
                   "ringkv_members:1", "liveness=alive", "# Keyspace", "db0:keys=", "# Stats"):
        check(needle in info, f"INFO lacks {needle!r}:\n{info}")


@test
def redis_cli_round_trips_on_a_three_node_cluster(ctx):
    common = ["--replicas", "3", "--probe-interval-ms", "200"]
    founder = resp_node(ctx, name="node1", host=loopback_address(1), extra_args=common)
    nodes = [founder]
    for i in (2, 3):
        nodes.append(resp_node(ctx, name=f"node{i}", host=loopback_address(i),
                               extra_args=common + ["--seeds", founder.address]))
    wait_converged(ctx.kv_path, nodes, 30.0, "three nodes alive")
    check_resp_round_trips(nodes)
    info = redis_cli(nodes[2], "INFO", "cluster")
    check("ringkv_members:3" in info and "ringkv_members_alive:3" in info, f"INFO cluster:\n{info}")
    # Every replica holds the key (N = 3 and QUORUM wrote at least two; read
    # repair or the third write completes the set): read each node's own copy.
    for node in nodes:
        wait_until(lambda: ctx.kv("get", "greeting", "--local", node=node).out == b"hello world",
                   10.0, f"{node.name}'s own copy of greeting")


@test
def pipelined_replies_come_back_in_request_order(ctx):
    node = resp_node(ctx, extra_args=["--replicas", "1"])
    requests = []
    expected = []
    for i in range(600):
        key = f"pipe:{i % 97}"
        if i % 3 == 0:
            requests.append(command("SET", key, f"value-{i}"))
            expected.append("OK")
        elif i % 3 == 1:
            requests.append(command("GET", key))
            # The latest SET of this key before this request (keys repeat every 97).
            last = max(j for j in range(i) if j % 3 == 0 and j % 97 == i % 97) \
                if any(j % 3 == 0 and j % 97 == i % 97 for j in range(i)) else None
            expected.append(None if last is None else f"value-{last}".encode())
        else:
            requests.append(b"PING\r\n" if i % 2 else command("ECHO", f"echo-{i}"))
            expected.append("PONG" if i % 2 else f"echo-{i}".encode())
    with RespConnection(node.host, node.resp_port, timeout=10.0) as conn:
        conn.send(b"".join(requests))  # one write: many commands in flight at once
        replies = [conn.recv_value(10.0) for _ in requests]
    for i, (got, want) in enumerate(zip(replies, expected)):
        check_eq(got, want, f"reply {i} of the pipeline")


def expect_protocol_error(node, payload, what, earlier=()):
    """Sends `payload` (after the commands `earlier`, in the same write);
    expects their replies first, then '-ERR Protocol error...', then EOF."""
    with RespConnection(node.host, node.resp_port) as conn:
        conn.send(b"".join(command(*args) for args in earlier) + payload)
        for args in earlier:
            reply = conn.recv_value()
            check(not isinstance(reply, RespError), f"{what}: {args} answered {reply!r}")
        reply = conn.recv_value()
        check(isinstance(reply, RespError) and reply.startswith("ERR Protocol error"),
              f"{what}: expected a protocol error, got {reply!r}")
        check(conn.wait_closed(5.0), f"{what}: connection still open after the protocol error")
        check_eq(conn.buffer, b"", f"{what}: bytes after the protocol error")


@test
def malformed_resp_gets_an_error_and_a_closed_connection(ctx):
    node = resp_node(ctx, extra_args=["--replicas", "1"])
    check_eq(redis_cli(node, "SET", "survivor", "still here"), "OK", "SET before the abuse")
    cases = [
        ("bad type byte", b"$3\r\nGET\r\n"),
        ("binary garbage", b"\x00\xff\x10garbage\r\n"),
        ("bulk header without '$'", b"*2\r\n:3\r\nGET\r\n"),
        ("negative bulk length", b"*2\r\n$3\r\nGET\r\n$-5\r\n"),
        ("negative multibulk length", b"*-3\r\n"),
        ("non-numeric length", b"*2\r\n$3\r\nGET\r\n$abc\r\n"),
        ("huge bulk length", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999999\r\n"),
        ("value over the limit", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (8 * 1024 * 1024 + 1)),
        ("key over the limit", b"*2\r\n$3\r\nGET\r\n$%d\r\n" % (KEY_BYTES_MAX + 1)),
        ("too many arguments", b"*100000000\r\n"),
        ("unterminated header line", b"*2" + b"7" * 100),
        ("unterminated inline command", b"GET " + b"k" * (64 * 1024 + 10)),
        ("bulk not ended by CRLF", b"*1\r\n$4\r\nPINGxx"),
    ]
    for what, payload in cases:
        expect_protocol_error(node, payload, what)
    # Commands before the bad bytes in the same write are answered first.
    expect_protocol_error(node, b"?oops\r\n", "after good commands",
                          earlier=[("SET", "before", "1"), ("GET", "survivor"), ("PING",)])
    # The node kept serving throughout, on both protocols.
    check(node.alive(), "kvnode died")
    check_eq(redis_cli(node, "GET", "survivor"), "still here", "GET after the abuse")
    check_eq(redis_cli(node, "GET", "before"), "1", "a SET sent before a protocol error")
    check_eq(ctx.kv("get", "survivor", node=node).out, b"still here", "kv get after the abuse")
    check("protocol error" in node.log_text(), "protocol errors are logged")


@test
def inline_commands_and_quit(ctx):
    node = resp_node(ctx, extra_args=["--replicas", "1"])
    with RespConnection(node.host, node.resp_port) as conn:
        conn.send(b"SET inline yes\r\nGET inline\nPING\r\n\r\nQUIT\r\nGET inline\r\n")
        check_eq(conn.recv_value(), "OK", "inline SET")
        check_eq(conn.recv_value(), b"yes", "inline GET")
        check_eq(conn.recv_value(), "PONG", "inline PING")
        check_eq(conn.recv_value(), "OK", "QUIT")
        check(conn.wait_closed(5.0), "QUIT closes the connection")
        check_eq(conn.buffer, b"", "nothing after QUIT's reply")


@test
def redis_benchmark_starts_cleanly_and_completes(ctx):
    node = resp_node(ctx, extra_args=["--replicas", "1"])
    binary = shutil.which("redis-benchmark")
    check(binary is not None, "redis-benchmark is not installed (scripts/setup.sh installs redis-tools)")
    argv = [binary, "-h", node.host, "-p", str(node.resp_port), "-c", "8", "-n", "2000",
            "-t", "set,get", "-d", "100", "-P", "4", "--csv"]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=120, preexec_fn=_die_with_parent)
    out = proc.stdout.decode("utf-8", "replace")
    check(proc.returncode == 0, f"redis-benchmark exited {proc.returncode}:\n{out}")
    check("WARNING" not in out and "ERR" not in out, f"redis-benchmark complained:\n{out}")
    check('"SET"' in out and '"GET"' in out, f"redis-benchmark printed no results:\n{out}")
    with RespConnection(node.host, node.resp_port) as conn:
        value = conn.call("GET", "key:__rand_int__")
    check(isinstance(value, bytes) and len(value) == 100, f"the benchmark's key holds {value!r}")


if __name__ == "__main__":
    sys.exit(run_tests())
