#!/usr/bin/env python3
"""ringkv's expiry commands against a real redis-server, side by side (issue 15 item 2).

  expiry_commands_answer_as_redis_server
      One list of commands (SET with EX/PX/EXAT/PXAT, SETEX, PSETEX, EXPIRE, PEXPIRE,
      EXPIREAT, PEXPIREAT with NX/XX/GT/LT, TTL, PTTL, PERSIST, GETEX, and their
      errors) goes to redis-server and to a one-node ringkv's RESP port, command by
      command; every reply must be the same: same type, same text, same integer, except
      that TTL and PTTL replies may differ by the time that passed between the two
      (1 s, 500 ms).

redis-server comes from Debian's redis-server package (scripts/setup.sh installs it);
without it, or older than Redis 7 (no NX/XX/GT/LT), the test is skipped (exit 77).

Run: python3 tests/process/test_ttl_redis.py --kvnode PATH --kv PATH
"""

import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    ConnectionClosed, TestFailure, _die_with_parent, _kill_pid, check, free_port, loopback_address,
    run_tests, test, wait_until,
)
from resp_client import RespConnection  # noqa: E402

EXIT_SKIPPED = 77
READY_S = 15.0
TTL_TOLERANCE_S = 1
PTTL_TOLERANCE_MS = 500


def redis_server_major():
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    out = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, timeout=10).stdout.decode()
    match = re.search(r"v=(\d+)\.", out)
    return int(match.group(1)) if match else None


def can_ping(host, port):
    try:
        with RespConnection(host, port, timeout=1.0) as conn:
            return conn.call("PING", timeout=1.0) == "PONG"
    except (OSError, TimeoutError, ConnectionClosed, TestFailure):
        return False


def start_redis_server(ctx, host):
    port = free_port(host)
    proc = subprocess.Popen(
        [shutil.which("redis-server"), "--bind", host, "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", ctx.workdir, "--protected-mode", "no"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent)
    wait_until(lambda: proc.poll() is None and can_ping(host, port), READY_S, "redis-server to answer PING")
    return proc, port


def start_ringkv(ctx, host):
    node = ctx.node(name="node1", host=host, start=False)
    node.resp_port = free_port(host)
    node.extra_args = ["--replicas", "1", "--resp-listen", f"{host}:{node.resp_port}"]
    node.start()
    wait_until(lambda: can_ping(host, node.resp_port), READY_S, "ringkv's RESP port to answer PING")
    return node


def commands(now_s):
    """The script: (command words, how to compare: 'exact', 'ttl' or 'pttl')."""
    at_s = now_s + 500
    at_ms = (now_s + 400) * 1000
    ttl, pttl = "ttl", "pttl"
    return [
        # SET and its expiry options.
        (["SET", "plain", "v"], None), (["TTL", "plain"], None), (["PTTL", "plain"], None),
        (["TTL", "nothing"], None), (["PTTL", "nothing"], None),
        (["SET", "a", "v", "EX", "100"], None), (["TTL", "a"], ttl), (["PTTL", "a"], pttl),
        (["SET", "s", "v", "ex", "10", "EX", "20"], None), (["TTL", "s"], ttl),
        (["SET", "s", "v", "PX", "100", "EX", "2"], None), (["SET", "s", "v", "EX"], None),
        (["SET", "s", "v", "EX", "ten"], None), (["SET", "s", "v", "EX", "0"], None),
        (["SET", "s", "v", "PX", "-5"], None), (["SET", "s", "v", "EXAT", str(at_s)], None),
        (["TTL", "s"], ttl), (["SET", "s", "v", "PXAT", str(at_ms)], None), (["PTTL", "s"], pttl),
        (["SET", "gone", "v", "PXAT", "1"], None), (["GET", "gone"], None),
        (["SETEX", "x", "10", "v"], None), (["TTL", "x"], ttl), (["SETEX", "x", "0", "v"], None),
        (["SETEX", "x", "ten", "v"], None), (["PSETEX", "x", "-1", "v"], None),
        (["PSETEX", "x", "5000", "v"], None), (["PTTL", "x"], pttl),
        # EXPIRE and its kin, with Redis 7's conditions.
        (["EXPIRE", "nothing", "10"], None), (["EXPIREAT", "nothing", str(at_s)], None),
        (["EXPIRE", "a", "50", "GT"], None), (["EXPIRE", "a", "200", "gt"], None), (["TTL", "a"], ttl),
        (["EXPIRE", "a", "300", "LT"], None), (["EXPIRE", "a", "100", "LT"], None), (["TTL", "a"], ttl),
        (["EXPIRE", "a", "10", "NX"], None), (["EXPIRE", "a", "10", "XX"], None), (["TTL", "a"], ttl),
        (["EXPIRE", "plain", "10", "XX"], None), (["EXPIRE", "plain", "10", "GT"], None),
        (["EXPIRE", "plain", "1000", "LT"], None), (["TTL", "plain"], ttl),
        (["PERSIST", "plain"], None), (["PERSIST", "plain"], None), (["TTL", "plain"], None),
        (["EXPIRE", "plain", "10", "NX"], None), (["PERSIST", "plain"], None),
        (["EXPIREAT", "a", str(at_s)], None), (["TTL", "a"], ttl),
        (["EXPIREAT", "a", str(at_s), "GT"], None), (["EXPIREAT", "a", str(at_s + 1), "GT"], None),
        (["PEXPIREAT", "a", str(at_ms)], None), (["PTTL", "a"], pttl),
        (["PEXPIREAT", "a", str(at_ms + 1), "LT"], None), (["PEXPIREAT", "a", str(at_ms - 1), "LT", "XX"], None),
        (["PEXPIRE", "a", "90000"], None), (["PTTL", "a"], pttl),
        (["EXPIREAT", "a", "1"], None), (["GET", "a"], None), (["EXISTS", "a"], None), (["TTL", "a"], None),
        (["SET", "b", "v"], None), (["EXPIRE", "b", "-1"], None), (["GET", "b"], None),
        (["SET", "c", "v"], None), (["PEXPIRE", "c", "0"], None), (["EXISTS", "c"], None),
        (["PERSIST", "nothing"], None),
        # Their errors.
        (["EXPIRE", "plain"], None), (["EXPIRE", "plain", "ten"], None),
        (["EXPIRE", "plain", "ten", "BOGUS"], None), (["EXPIRE", "plain", "10", "NX", "XX"], None),
        (["EXPIRE", "plain", "10", "GT", "LT"], None), (["EXPIREAT", "plain", "10", "nx", "lt"], None),
        (["EXPIRE", "plain", "9223372036854775807"], None),
        (["PEXPIRE", "plain", "9223372036854775807"], None),
        (["TTL"], None), (["PTTL", "a", "b"], None), (["PERSIST"], None),
        # GETEX.
        (["SET", "g", "hello"], None), (["GETEX", "g"], None), (["TTL", "g"], None),
        (["GETEX", "g", "EX", "100"], None), (["TTL", "g"], ttl),
        (["GETEX", "g", "PERSIST"], None), (["TTL", "g"], None), (["GETEX", "g", "persist"], None),
        (["GETEX", "g", "PX", "100000"], None), (["PTTL", "g"], pttl),
        (["GETEX", "g", "EXAT", str(at_s)], None), (["TTL", "g"], ttl),
        (["GETEX", "g", "PXAT", str(at_ms)], None), (["PTTL", "g"], pttl),
        (["GETEX", "nothing", "EX", "10"], None), (["GETEX", "nothing", "EX", "0"], None),
        (["GETEX", "g", "EX", "0"], None), (["GETEX", "g", "EX", "ten"], None),
        (["GETEX", "g", "EX", "10", "PX", "10"], None), (["GETEX", "g", "PERSIST", "EX", "10"], None),
        (["GETEX", "g", "EX"], None), (["GETEX", "g", "NX"], None), (["GETEX"], None),
        (["GETEX", "g", "EXAT", "1"], None), (["GET", "g"], None), (["TTL", "g"], None),
    ]


def same(kind, expected, got):
    if kind is None or not (isinstance(expected, int) and isinstance(got, int)) or expected < 0:
        return type(expected) is type(got) and expected == got
    tolerance = TTL_TOLERANCE_S if kind == "ttl" else PTTL_TOLERANCE_MS
    return got >= 0 and abs(expected - got) <= tolerance


@test
def expiry_commands_answer_as_redis_server(ctx):
    host = loopback_address(97)
    redis_proc, redis_port = start_redis_server(ctx, host)
    try:
        node = start_ringkv(ctx, host)
        differences = []
        script = commands(int(time.time()))
        with RespConnection(host, redis_port) as redis, RespConnection(host, node.resp_port) as ringkv:
            for words, kind in script:
                expected = redis.call(*words)
                got = ringkv.call(*words)
                if not same(kind, expected, got):
                    differences.append(f"{' '.join(words)}: redis-server {expected!r}, ringkv {got!r}")
        print(f"    {len(script)} commands, {len(differences)} replies differ", flush=True)
        check(not differences, "replies differ from redis-server's:\n  " + "\n  ".join(differences))
    finally:
        _kill_pid(redis_proc)


if __name__ == "__main__":
    major = redis_server_major()
    if major is None or major < 7:
        print(f"SKIP: redis-server {'missing' if major is None else f'{major}.x, before Redis 7'} "
              "(scripts/setup.sh installs Debian's redis-server)")
        sys.exit(EXIT_SKIPPED)
    sys.exit(run_tests())
