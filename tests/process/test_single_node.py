#!/usr/bin/env python3
"""Single kvnode driven through the kv CLI: data operations, JSON output,
exit codes, host failover, limits, and durability across SIGKILL and SIGTERM.

Run: python3 tests/process/test_single_node.py --kvnode PATH --kv PATH
"""

import base64
import os
import pty
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_CLUSTER_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, KEY_BYTES_MAX,
    VALUE_BYTES_MAX, RawConnection, check, check_eq, free_port, get_request, run_tests, test,
)


def expect_ok(result, what=""):
    check(result.rc == EXIT_OK, f"{what}: expected exit 0: {result.describe()}")
    return result


def expect_value(ctx, node, key, value, what=""):
    result = ctx.kv("get", key, node=node)
    check(result.rc == EXIT_OK, f"{what} get {key!r}: expected exit 0: {result.describe()}")
    check_eq(result.out, value, f"{what} value of {key!r}")


def expect_missing(ctx, node, key, what=""):
    result = ctx.kv("get", key, node=node)
    check(result.rc == EXIT_NOT_FOUND, f"{what} get {key!r}: expected exit 1: {result.describe()}")
    check_eq(result.out, b"", f"{what} stdout of get of a missing key")


def one_line(text):
    return len(text.strip().splitlines()) == 1


@test
def put_get_del_round_trip(ctx):
    node = ctx.node()
    put = expect_ok(ctx.kv("put", "alpha", "one", node=node), "put")
    check_eq(put.out, b"", "stdout of put without --json")
    expect_value(ctx, node, "alpha", b"one")
    expect_ok(ctx.kv("del", "alpha", node=node), "del")
    expect_missing(ctx, node, "alpha", "after del:")
    # Keys are independent.
    expect_ok(ctx.kv("put", "beta", "two", node=node), "put beta")
    expect_ok(ctx.kv("put", "gamma", "three", node=node), "put gamma")
    expect_value(ctx, node, "beta", b"two")
    expect_value(ctx, node, "gamma", b"three")
    # An empty value is a value, not an absence.
    expect_ok(ctx.kv("put", "empty", "", node=node), "put empty value")
    expect_value(ctx, node, "empty", b"")


@test
def missing_key_exits_1(ctx):
    node = ctx.node()
    expect_missing(ctx, node, "never-written")
    result = ctx.kv("--json", "get", "never-written", node=node)
    check(result.rc == EXIT_NOT_FOUND, f"get --json of a missing key: {result.describe()}")
    doc = result.json()
    check_eq(doc.get("found"), False, "get --json found")
    check_eq(doc.get("key"), "never-written", "get --json key")
    check("value" not in doc, f"get --json of a missing key has a value: {doc}")


@test
def deleted_key_exits_1(ctx):
    node = ctx.node()
    expect_ok(ctx.kv("put", "doomed", "v", node=node), "put")
    expect_ok(ctx.kv("del", "doomed", node=node), "del")
    expect_missing(ctx, node, "doomed", "after del:")
    result = ctx.kv("--json", "get", "doomed", node=node)
    check(result.rc == EXIT_NOT_FOUND, f"get --json of a deleted key: {result.describe()}")
    check_eq(result.json().get("found"), False, "get --json found after del")
    # Deleting an absent key is a write like any other (a tombstone), not an error.
    expect_ok(ctx.kv("del", "never-there", node=node), "del of an absent key")
    # A put after the delete brings the key back.
    expect_ok(ctx.kv("put", "doomed", "again", node=node), "put after del")
    expect_value(ctx, node, "doomed", b"again")


@test
def overwrite_returns_newer_value(ctx):
    node = ctx.node()
    for i in range(5):
        expect_ok(ctx.kv("put", "counter", f"v{i}", node=node), f"put v{i}")
        expect_value(ctx, node, "counter", f"v{i}".encode(), f"after put v{i}:")
    # A shorter value overwrites a longer one completely.
    expect_ok(ctx.kv("put", "counter", "x", node=node), "put x")
    expect_value(ctx, node, "counter", b"x")


@test
def binary_value_via_stdin_round_trips(ctx):
    node = ctx.node()
    value = b"\x00\xff\x00" + bytes(range(256)) + b"\r\n\x00tail\xff\xfe" + bytes(range(255, -1, -1))
    expect_ok(ctx.kv("put", "bin", "-", node=node, input=value), "put - (stdin)")
    expect_value(ctx, node, "bin", value)
    result = expect_ok(ctx.kv("--json", "get", "bin", node=node), "get --json")
    doc = result.json()
    check_eq(doc.get("encoding"), "base64", "get --json encoding of a non-UTF-8 value")
    check_eq(doc.get("found"), True, "get --json found")
    check_eq(base64.b64decode(doc.get("value", ""), validate=True), value, "base64-decoded value")
    # Stdin that is valid UTF-8 (with a NUL and a newline) comes back as text.
    text = "héllo\x00wörld\n✓".encode()
    expect_ok(ctx.kv("put", "text", "-", node=node, input=text), "put UTF-8 text via stdin")
    expect_value(ctx, node, "text", text)
    doc = expect_ok(ctx.kv("--json", "get", "text", node=node), "get --json text").json()
    check("encoding" not in doc, f"get --json of a UTF-8 value has an encoding field: {doc}")
    check_eq(doc.get("value"), text.decode(), "get --json text value")
    # Empty stdin stores an empty value.
    expect_ok(ctx.kv("put", "nothing", "-", node=node, input=b""), "put - with empty stdin")
    expect_value(ctx, node, "nothing", b"")


@test
def json_fields_and_increasing_timestamps(ctx):
    node = ctx.node()
    first = expect_ok(ctx.kv("--json", "put", "k", "v1", node=node), "put --json").json()
    for field in ("key", "timestamp", "tiebreak"):
        check(field in first, f"put --json lacks {field!r}: {first}")
    check_eq(first["key"], "k", "put --json key")
    check(isinstance(first["timestamp"], int) and first["timestamp"] > 0,
          f"put --json timestamp is not a positive integer: {first}")
    check(isinstance(first["tiebreak"], int), f"put --json tiebreak is not an integer: {first}")

    second = expect_ok(ctx.kv("--json", "put", "k", "v2", node=node), "second put --json").json()
    check(second["timestamp"] > first["timestamp"],
          f"timestamps do not increase: {first['timestamp']} then {second['timestamp']}")

    got = expect_ok(ctx.kv("--json", "get", "k", node=node), "get --json").json()
    for field in ("key", "value", "timestamp", "tiebreak", "found"):
        check(field in got, f"get --json lacks {field!r}: {got}")
    check_eq(got["key"], "k", "get --json key")
    check_eq(got["value"], "v2", "get --json value")
    check_eq(got["found"], True, "get --json found")
    check_eq((got["timestamp"], got["tiebreak"]), (second["timestamp"], second["tiebreak"]),
             "get --json version vs. the last put's")

    deleted = expect_ok(ctx.kv("--json", "del", "k", node=node), "del --json").json()
    for field in ("key", "timestamp", "tiebreak"):
        check(field in deleted, f"del --json lacks {field!r}: {deleted}")
    check(deleted["timestamp"] > second["timestamp"],
          f"delete timestamp {deleted['timestamp']} not after put {second['timestamp']}")

    # Timestamps keep increasing over a quick burst (the hybrid clock never repeats).
    stamps = [expect_ok(ctx.kv("--json", "put", f"burst{i}", "x", node=node), "burst").json()["timestamp"]
              for i in range(10)]
    check(all(a < b for a, b in zip(stamps, stamps[1:])), f"burst timestamps not increasing: {stamps}")


@test
def get_prints_newline_only_on_a_tty(ctx):
    node = ctx.node()
    expect_ok(ctx.kv("put", "tty", "hello", node=node), "put")
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([ctx.kv_path, "--host", node.address, "get", "tty"], stdin=subprocess.DEVNULL,
                              stdout=slave, stderr=subprocess.PIPE, timeout=30)
        os.close(slave)
        slave = None
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once the pty's other side is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    check_eq(proc.returncode, EXIT_OK, "exit code of get on a tty")
    check(out in (b"hello\n", b"hello\r\n"), f"get on a tty printed {out!r}, expected the value and a newline")


@test
def unreachable_host_exits_4(ctx):
    port = free_port()  # nothing listens here
    for args in (("get", "k"), ("put", "k", "v"), ("del", "k")):
        result = ctx.kv(*args, host=f"127.0.0.1:{port}", timeout=30)
        check(result.rc == EXIT_UNREACHABLE, f"expected exit 4: {result.describe()}")
        check(result.err.strip() != "", f"no error message: {result.describe()}")
        check(one_line(result.err), f"error is not one line: {result.err!r}")
        check_eq(result.out, b"", f"stdout of {args[0]} to an unreachable host")
    # Every host of the list unreachable is still exit 4, and still one line.
    other = free_port("127.0.0.2")
    result = ctx.kv("get", "k", host=f"127.0.0.1:{port},127.0.0.2:{other}")
    check(result.rc == EXIT_UNREACHABLE, f"two unreachable hosts: {result.describe()}")
    check(one_line(result.err), f"error is not one line: {result.err!r}")


@test
def failover_to_second_host(ctx):
    node = ctx.node()
    dead = f"127.0.0.1:{free_port()}"
    hosts = f"{dead},{node.address}"
    expect_ok(ctx.kv("put", "fo", "val", host=hosts), "put with the first host down")
    result = ctx.kv("get", "fo", host=hosts)
    check(result.rc == EXIT_OK, f"get with the first host down: {result.describe()}")
    check_eq(result.out, b"val", "value read through failover")
    expect_ok(ctx.kv("del", "fo", host=hosts), "del with the first host down")
    result = ctx.kv("get", "fo", host=hosts)
    check(result.rc == EXIT_NOT_FOUND, f"get after del through failover: {result.describe()}")
    # A good first host is used as is.
    expect_ok(ctx.kv("put", "fo2", "v", host=f"{node.address},{dead}"), "put with the second host down")


@test
def usage_errors_exit_2(ctx):
    node = ctx.node()
    cases = [
        ("--bogus-flag", "get", "k"),
        ("frobnicate", "k"),
        (),                              # no command
        ("put", "only-a-key"),           # missing value
        ("get",),                        # missing key
        ("del",),
        ("--consistency", "maybe", "get", "k"),
        ("--timeout-ms", "0", "get", "k"),
        ("--timeout-ms", "soon", "get", "k"),
        ("get", "k", "--no-such-option"),
    ]
    for args in cases:
        result = ctx.kv(*args, node=node)
        check(result.rc == EXIT_USAGE, f"expected exit 2: {result.describe()}")
        check(result.err.strip() != "", f"usage error without a message: {result.describe()}")
    # Usage errors are found before any connection: no node needed.
    result = ctx.kv("frobnicate", host=f"127.0.0.1:{free_port()}")
    check(result.rc == EXIT_USAGE, f"unknown command with no node: {result.describe()}")
    # Nothing above wrote anything.
    expect_missing(ctx, node, "only-a-key")


@test
def oversized_key_is_invalid_and_node_keeps_serving(ctx):
    node = ctx.node()
    expect_ok(ctx.kv("put", "keeper", "safe", node=node), "put keeper")
    big_key = "k" * (KEY_BYTES_MAX + 1)
    for args in (("put", big_key, "v"), ("get", big_key), ("del", big_key)):
        result = ctx.kv(*args, node=node)
        check(result.rc == EXIT_CLUSTER_ERROR, f"expected exit 3: {result.describe()}")
        check("INVALID" in result.err, f"stderr does not say INVALID: {result.describe()}")
        check(node.alive(), f"kvnode died after {args[0]} of a {len(big_key)}-byte key")
        expect_value(ctx, node, "keeper", b"safe", f"after {args[0]} of an oversized key:")
    # The limit itself is allowed.
    max_key = "m" * KEY_BYTES_MAX
    expect_ok(ctx.kv("put", max_key, "at-limit", node=node), "put of a 64 KiB key")
    expect_value(ctx, node, max_key, b"at-limit")


@test
def one_mib_value_round_trips(ctx):
    node = ctx.node()
    rng = ctx.rng("1mib")
    value = rng.randbytes(1 << 20)
    check_eq(len(value), 1 << 20, "value size")
    expect_ok(ctx.kv("put", "big", "-", node=node, input=value), "put 1 MiB")
    result = ctx.kv("get", "big", node=node)
    check(result.rc == EXIT_OK, f"get 1 MiB: {result.describe()}")
    check(result.out == value, f"1 MiB value differs: got {len(result.out)} bytes")


@test
def value_size_limit(ctx):
    node = ctx.node()
    value = (b"0123456789abcdef" * (VALUE_BYTES_MAX // 16 + 1))[:VALUE_BYTES_MAX]
    expect_ok(ctx.kv("put", "max", "-", node=node, input=value), "put of an 8 MiB value")
    result = ctx.kv("get", "max", node=node)
    check(result.rc == EXIT_OK, f"get of an 8 MiB value: {result.describe()}")
    check(result.out == value, f"8 MiB value differs: got {len(result.out)} bytes")
    result = ctx.kv("put", "over", "-", node=node, input=value + b"!")
    check(result.rc == EXIT_CLUSTER_ERROR, f"8 MiB + 1 value: expected exit 3: {result.describe()}")
    check("INVALID" in result.err, f"stderr does not say INVALID: {result.describe()}")
    check(node.alive(), "kvnode died after an oversized value")
    expect_missing(ctx, node, "over", "after the refused oversized put:")
    expect_ok(ctx.kv("put", "small", "s", node=node), "put after the oversized value")
    expect_value(ctx, node, "small", b"s")


@test
def row_cache_serves_repeated_reads_and_can_be_turned_off(ctx):
    node = ctx.node()
    expect_ok(ctx.kv("put", "hot", "v1", node=node), "put")
    for _ in range(3):
        expect_value(ctx, node, "hot", b"v1")
    expect_ok(ctx.kv("put", "hot", "v2", node=node), "overwrite")
    expect_value(ctx, node, "hot", b"v2", "after the overwrite:")
    expect_ok(ctx.kv("del", "hot", node=node), "del")
    expect_missing(ctx, node, "hot", "after del:")
    stats = expect_ok(ctx.kv("--json", "stats", node=node), "stats").json()
    # The put's read before the write misses (and caches "absent"); every
    # later read of the key, before a write or for a get, is a hit.
    check(int(stats["row_cache_hits"]) >= 7, f"row cache hits: {stats}")
    check(int(stats["row_cache_entries"]) >= 1, f"row cache entries: {stats}")
    check(int(stats["row_cache_bytes"]) > 0, f"row cache bytes: {stats}")

    off = ctx.node(extra_args=["--row-cache-mib", "0"])
    expect_ok(ctx.kv("put", "hot", "v1", node=off), "put without a row cache")
    expect_value(ctx, off, "hot", b"v1", "without a row cache:")
    stats = expect_ok(ctx.kv("--json", "stats", node=off), "stats").json()
    check_eq([int(stats[f"row_cache_{name}"]) for name in ("hits", "misses", "entries", "bytes")], [0, 0, 0, 0],
             "row cache figures without a row cache")


def _durability_after_kill(ctx, count, sync):
    node = ctx.node(sync=sync)
    acknowledged = {}
    for i in range(count):
        key, value = f"dur-{i:04d}", f"value-{i}-{'s' if sync else 'a'}-{'x' * (i % 37)}".encode()
        result = ctx.kv("put", key, "-", node=node, input=value)
        check(result.rc == EXIT_OK, f"put {i}: {result.describe()}")
        acknowledged[key] = value
    # Overwrites and deletes must survive too.
    expect_ok(ctx.kv("put", "dur-0000", "overwritten", node=node), "overwrite")
    acknowledged["dur-0000"] = b"overwritten"
    expect_ok(ctx.kv("del", "dur-0001", node=node), "delete")
    acknowledged["dur-0001"] = None

    rc = node.kill()
    check_eq(rc, -9, "kvnode exit status after SIGKILL")
    node.start()
    lost = []
    for key, value in acknowledged.items():
        result = ctx.kv("get", key, node=node)
        if value is None:
            if result.rc != EXIT_NOT_FOUND:
                lost.append(f"{key}: deleted but {result.describe()}")
        elif result.rc != EXIT_OK or result.out != value:
            lost.append(f"{key}: {result.describe()}")
    check(not lost, f"{len(lost)} of {len(acknowledged)} acknowledged writes wrong after SIGKILL: "
                    + "; ".join(lost[:5]))


@test
def kill_9_after_200_puts_loses_nothing(ctx):
    _durability_after_kill(ctx, 200, sync=False)


@test
def kill_9_with_sync_loses_nothing(ctx):
    _durability_after_kill(ctx, 50, sync=True)


@test
def sigterm_exits_0_and_data_survives(ctx):
    node = ctx.node()
    expect_ok(ctx.kv("put", "persist", "yes", node=node), "put")
    expect_ok(ctx.kv("put", "gone", "soon", node=node), "put")
    expect_ok(ctx.kv("del", "gone", node=node), "del")
    before = expect_ok(ctx.kv("--json", "get", "persist", node=node), "get --json").json()
    rc = node.stop()
    check_eq(rc, 0, "kvnode exit code after SIGTERM")
    result = ctx.kv("get", "persist", node=node)
    check(result.rc == EXIT_UNREACHABLE, f"after SIGTERM, expected exit 4: {result.describe()}")
    node.start()
    expect_value(ctx, node, "persist", b"yes", "after restart:")
    expect_missing(ctx, node, "gone", "after restart (deleted key):")
    after = expect_ok(ctx.kv("--json", "get", "persist", node=node), "get --json").json()
    check_eq((after["timestamp"], after["tiebreak"]), (before["timestamp"], before["tiebreak"]),
             "version after restart")
    # New writes after a restart get newer timestamps than anything before.
    newer = expect_ok(ctx.kv("--json", "put", "persist", "v2", node=node), "put after restart").json()
    check(newer["timestamp"] > before["timestamp"],
          f"timestamp after restart {newer['timestamp']} not after {before['timestamp']}")
    # SIGTERM with a client connection open (idle, mid-frame) still exits 0.
    with RawConnection(node.host, node.port) as idle, RawConnection(node.host, node.port) as partial:
        partial.send(b"\x00\x00\x00\x10\x96")
        check(idle.call(get_request(1, b"persist")).fields[:2] == [True, b"v2"], "raw get before SIGTERM")
        rc = node.stop()
    check_eq(rc, 0, "kvnode exit code after the second SIGTERM")


if __name__ == "__main__":
    sys.exit(run_tests())
