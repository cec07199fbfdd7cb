#!/usr/bin/env python3
"""Hostile bytes on a kvnode's TCP port (TESTING.md T7): random bytes,
truncated frames, oversized length headers, deep nesting, allocation bombs,
wrong protocol versions, unknown types and wrong field types.

After each: the node is still running, every stored value is intact (read
with `kv get`), the reply is the one the contract names (ErrorReply code 3
and the connection closed; code 5/6 and the connection kept open), and the
node's log has exactly one line with a reason per bad frame.

Run: python3 tests/process/test_hostile_input.py --kvnode PATH --kv PATH
"""

import os
import re
import socket
import struct
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    ERR_BAD_VERSION, ERR_INVALID, ERR_UNKNOWN_TYPE, ERROR_REPLY, EXIT_OK, FRAME_BYTES_MAX,
    GET_REPLY, GET_REQUEST, KEY_BYTES_MAX, PROTOCOL_VERSION, QUORUM, WRITE_REPLY, MsgpackError,
    RawConnection, Raw, check, check_eq, frame, get_request, message, mp_decode, mp_encode,
    put_request, run_tests, test, wait_until,
)

# Values stored before any hostile input; binary, empty and large ones too.
STORED = {
    "plain": b"hello",
    "empty": b"",
    "binary": bytes(range(256)) + b"\x00\xff",
    "utf8": "grüße ✓".encode(),
    "large": bytes((i * 7) & 0xFF for i in range(200_000)),
}
for _i in range(10):
    STORED[f"key-{_i}"] = f"value-{_i}".encode()


def stored_node(ctx):
    node = ctx.node()
    for key, value in STORED.items():
        result = ctx.kv("put", key, "-", node=node, input=value)
        check(result.rc == EXIT_OK, f"setup put {key}: {result.describe()}")
    return node


def assert_intact(ctx, node, after):
    check(node.alive(), f"kvnode is not running after {after} (exit {node.proc.returncode})")
    for key, value in STORED.items():
        result = ctx.kv("get", key, node=node)
        check(result.rc == EXIT_OK and result.out == value,
              f"after {after}: stored value of {key!r} not intact: {result.describe()}")
    # And it still takes writes.
    result = ctx.kv("put", "probe-after", after[:60], node=node)
    check(result.rc == EXIT_OK, f"after {after}: put fails: {result.describe()}")


# Log lines at warning level or above (spdlog: "warning", "error", "critical").
_WARN = re.compile(r"\b(warning|warn|error|critical)\b")


def warn_lines(node, offset):
    return [line for line in node.log_lines(offset) if _WARN.search(line)]


def bad_frame_lines(node, offset):
    return [line for line in node.log_lines(offset) if "bad frame" in line]


def expect_bad_frame_lines(node, offset, expected, what):
    """Exactly `expected` new 'bad frame' log lines, each with a reason."""
    wait_until(lambda: len(bad_frame_lines(node, offset)) >= expected, 5.0,
               f"{expected} 'bad frame' log lines after {what}")
    lines = bad_frame_lines(node, offset)
    check_eq(len(lines), expected, f"number of 'bad frame' log lines after {what} "
                                   f"(lines: {lines[:5]})")
    for line in lines:
        reason = line.split("bad frame", 1)[1].strip(" :")
        check(reason != "", f"'bad frame' log line without a reason: {line!r}")
    return lines


def expect_invalid_and_closed(conn, what, request_id=None):
    """The node answers one ErrorReply INVALID, then closes the connection."""
    replies = conn.read_all_replies(timeout=5.0)
    check_eq(len(replies), 1, f"number of replies to {what} ({replies})")
    reply = replies[0]
    check(reply.is_error(ERR_INVALID), f"{what}: expected ErrorReply code 3, got {reply}")
    check(isinstance(reply.error_message, str) and reply.error_message != "",
          f"{what}: ErrorReply without a message: {reply}")
    if request_id is not None:
        check_eq(reply.request_id, request_id, f"{what}: request id echoed in the ErrorReply")
    return reply


def check_get(conn, request_id, key, value, what):
    reply = conn.call(get_request(request_id, key), timeout=5.0)
    check(reply.type == GET_REPLY, f"{what}: expected a GetReply, got {reply}")
    check_eq(reply.request_id, request_id, f"{what}: request id")
    check_eq(reply.fields[0], True, f"{what}: found")
    check_eq(reply.fields[1], value, f"{what}: value")


def _node_rejects_raw(data):
    """What the contract makes the node do with `data` sent and then the
    write side shut: True if it must answer INVALID (the first frame is bad),
    None if the bytes end mid-frame (no verdict possible)."""
    if len(data) < 4:
        return None
    (length,) = struct.unpack(">I", data[:4])
    if length == 0 or length > FRAME_BYTES_MAX:
        return True
    if 4 + length > len(data):
        return None
    try:
        items = mp_decode(data[4:4 + length])
    except MsgpackError:
        return True
    return not (isinstance(items, list) and len(items) >= 3)  # a well-formed header: unpredictable


@test
def random_bytes(ctx):
    node = stored_node(ctx)
    rng = ctx.rng("random-bytes")
    offset = node.log_size()
    cases = []
    # Unframed noise: the first four bytes are a nonsense length. Cases that
    # would leave the node waiting for the rest of a frame are redrawn, so
    # every connection here holds exactly one bad frame.
    while len(cases) < 8:
        data = rng.randbytes(rng.randint(4, 4096))
        if _node_rejects_raw(data):
            cases.append(("noise", data))
    # A correct length header around random payloads (not msgpack / malformed).
    while len(cases) < 16:
        payload = rng.randbytes(rng.randint(1, 2048))
        if _node_rejects_raw(frame(payload)):
            cases.append(("framed noise", frame(payload)))
    # Printable garbage, as from a confused HTTP client or a port scanner.
    cases.append(("http", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    cases.append(("ssh banner", b"SSH-2.0-OpenSSH_9.2\r\n"))
    for index, (kind, data) in enumerate(cases):
        with RawConnection(node.host, node.port) as conn:
            conn.send(data)
            conn.shutdown_write()
            expect_invalid_and_closed(conn, f"{kind} #{index} ({len(data)} bytes)")
        check(node.alive(), f"kvnode died after {kind} #{index}")
    expect_bad_frame_lines(node, offset, len(cases), f"{len(cases)} connections of random bytes")
    assert_intact(ctx, node, "random bytes")
    check_eq(node.stop(), 0, "exit code after SIGTERM")


@test
def random_bytes_after_valid_requests(ctx):
    # Noise arriving on a connection that has already been used correctly.
    node = stored_node(ctx)
    rng = ctx.rng("after-valid")
    offset = node.log_size()
    for index in range(4):
        with RawConnection(node.host, node.port) as conn:
            check_get(conn, 1, b"plain", STORED["plain"], "get before the noise")
            noise = b"\xff" + rng.randbytes(rng.randint(3, 512))  # length > limit
            conn.send(noise)
            conn.shutdown_write()
            expect_invalid_and_closed(conn, f"noise #{index} after a valid request")
    expect_bad_frame_lines(node, offset, 4, "noise after valid requests")
    assert_intact(ctx, node, "noise after valid requests")


@test
def truncated_frame(ctx):
    node = stored_node(ctx)
    offset = node.log_size()
    with RawConnection(node.host, node.port) as conn:
        conn.send(struct.pack(">I", 100) + b"\x96\x01\x04\x07\xc4\x05hel")  # 10 of 100 bytes
    # The node cannot answer a frame it never finished receiving; it must
    # survive, keep its data, and log the cut-off frame once with a reason.
    assert_intact(ctx, node, "a truncated frame")
    with RawConnection(node.host, node.port) as conn:
        conn.send(get_request(5, b"plain")[:7])  # another half frame, then the peer vanishes
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert_intact(ctx, node, "a truncated frame ended by a reset")
    wait_until(lambda: len(warn_lines(node, offset)) >= 2, 5.0,
               "a log line for each of the 2 truncated frames "
               "(connection closed mid-frame: 10 of 100 bytes, then 7 bytes)")
    lines = warn_lines(node, offset)
    check_eq(len(lines), 2, f"warning lines after 2 truncated frames ({lines})")


@test
def huge_length_header(ctx):
    node = stored_node(ctx)
    offset = node.log_size()
    with RawConnection(node.host, node.port) as conn:
        conn.send(struct.pack(">I", 0xFFFFFFF0))
        expect_invalid_and_closed(conn, "length header 0xFFFFFFF0")
    # The same header followed by some bytes, without waiting for the reply first.
    with RawConnection(node.host, node.port) as conn:
        conn.send(struct.pack(">I", 0xFFFFFFF0) + b"\x00" * 1000)
        conn.shutdown_write()
        expect_invalid_and_closed(conn, "length header 0xFFFFFFF0 with 1000 bytes")
    # Just over the limit, and zero.
    for length in (FRAME_BYTES_MAX + 1, 0):
        with RawConnection(node.host, node.port) as conn:
            conn.send(struct.pack(">I", length))
            expect_invalid_and_closed(conn, f"length header {length}")
    expect_bad_frame_lines(node, offset, 4, "bad length headers")
    assert_intact(ctx, node, "a 0xFFFFFFF0 length header")


@test
def deeply_nested_array(ctx):
    node = stored_node(ctx)
    offset = node.log_size()
    depth = 10_000
    payload = b"\x91" * depth + b"\xc0"  # [[[[...nil...]]]]
    with RawConnection(node.host, node.port) as conn:
        conn.send(frame(payload))
        expect_invalid_and_closed(conn, f"{depth}-deep nested array")
    # Deep nesting inside an otherwise valid GetRequest's key field.
    nested_field = Raw(b"\x91" * depth + b"\xc4\x01k")
    with RawConnection(node.host, node.port) as conn:
        conn.send(frame(mp_encode([PROTOCOL_VERSION, GET_REQUEST, 21, nested_field, QUORUM, False])))
        expect_invalid_and_closed(conn, "GetRequest with a deeply nested key")
    # Nesting of maps, too.
    with RawConnection(node.host, node.port) as conn:
        conn.send(frame(b"\x81\xc0" * depth + b"\xc0"))
        expect_invalid_and_closed(conn, f"{depth}-deep nested map")
    expect_bad_frame_lines(node, offset, 3, "deep nesting")
    assert_intact(ctx, node, "a 10,000-deep nested array")


@test
def allocation_bombs(ctx):
    # Small frames that claim huge element counts or sizes.
    node = stored_node(ctx)
    offset = node.log_size()
    bombs = {
        "array32 of 4 billion elements": b"\xdd\xff\xff\xff\xff" + b"\xc0" * 16,
        "map32 of 4 billion pairs": b"\xdf\xff\xff\xff\xff" + b"\xc0" * 16,
        "bin32 of 4 GiB": b"\xc6\xff\xff\xff\xff" + b"x" * 16,
        "str32 of 4 GiB": b"\xdb\xff\xff\xff\xff" + b"x" * 16,
        "key bin32 of 4 GiB in a GetRequest": mp_encode(
            [PROTOCOL_VERSION, GET_REQUEST, 22, Raw(b"\xc6\xff\xff\xff\xff" + b"k" * 8), QUORUM, False]),
        "array16 of 65535 missing elements": b"\xdc\xff\xff",
    }
    for what, payload in bombs.items():
        with RawConnection(node.host, node.port) as conn:
            conn.send(frame(payload))
            expect_invalid_and_closed(conn, what)
        check(node.alive(), f"kvnode died after {what}")
    expect_bad_frame_lines(node, offset, len(bombs), "allocation bombs")
    assert_intact(ctx, node, "allocation bombs")


@test
def other_protocol_version(ctx):
    node = stored_node(ctx)
    offset = node.log_size()
    with RawConnection(node.host, node.port) as conn:
        reply = conn.call(message(GET_REQUEST, 7, b"plain", QUORUM, False, version=99))
        check(reply.is_error(ERR_BAD_VERSION), f"protocol version 99: expected ErrorReply code 6, got {reply}")
        check_eq(reply.request_id, 7, "request id echoed for version 99")
        check(reply.error_message, f"ErrorReply code 6 without a message: {reply}")
        # The connection stays open and serves a valid request afterwards.
        check_get(conn, 8, b"plain", STORED["plain"], "valid GetRequest after version 99")
        # Version 0 and a huge version are refused the same way.
        for request_id, version in ((9, 0), (10, 2**64 - 1)):
            reply = conn.call(message(GET_REQUEST, request_id, b"plain", QUORUM, False, version=version))
            check(reply.is_error(ERR_BAD_VERSION), f"protocol version {version}: got {reply}")
            check_eq(reply.request_id, request_id, f"request id echoed for version {version}")
        check_get(conn, 11, b"binary", STORED["binary"], "valid GetRequest after versions 0 and 2^64-1")
    wait_until(lambda: len(warn_lines(node, offset)) >= 3, 5.0, "a log line per refused version")
    lines = warn_lines(node, offset)
    check_eq(len(lines), 3, f"warning lines after 3 wrong versions ({lines})")
    check(all("version" in line for line in lines), f"log lines do not give the reason: {lines}")
    assert_intact(ctx, node, "a frame of protocol version 99")


@test
def unknown_message_type(ctx):
    node = stored_node(ctx)
    offset = node.log_size()
    with RawConnection(node.host, node.port) as conn:
        reply = conn.call(message(9999, 31, b"whatever", 1, 2, 3))
        check(reply.is_error(ERR_UNKNOWN_TYPE), f"type 9999: expected ErrorReply code 5, got {reply}")
        check_eq(reply.request_id, 31, "request id echoed for type 9999")
        check(reply.error_message, f"ErrorReply code 5 without a message: {reply}")
        check_get(conn, 32, b"plain", STORED["plain"], "valid GetRequest after type 9999")
        # Type 0 and a type past 2^32 are unknown too.
        for request_id, msg_type in ((33, 0), (34, 2**40)):
            reply = conn.call(message(msg_type, request_id))
            check(reply.is_error(ERR_UNKNOWN_TYPE), f"type {msg_type}: got {reply}")
            check_eq(reply.request_id, request_id, f"request id echoed for type {msg_type}")
        check_get(conn, 35, b"utf8", STORED["utf8"], "valid GetRequest after types 0 and 2^40")
    wait_until(lambda: len(warn_lines(node, offset)) >= 3, 5.0, "a log line per unknown type")
    lines = warn_lines(node, offset)
    check_eq(len(lines), 3, f"warning lines after 3 unknown types ({lines})")
    check(any("9999" in line for line in lines), f"log lines do not name type 9999: {lines}")
    assert_intact(ctx, node, "a frame of type 9999")


@test
def wrong_field_types(ctx):
    node = stored_node(ctx)
    offset = node.log_size()
    cases = [
        ("GetRequest with an integer key", 41, [PROTOCOL_VERSION, GET_REQUEST, 41, 12345, QUORUM, False]),
        ("GetRequest with a string consistency", 42, [PROTOCOL_VERSION, GET_REQUEST, 42, b"plain", "quorum", False]),
        ("GetRequest with an integer 'local'", 43, [PROTOCOL_VERSION, GET_REQUEST, 43, b"plain", QUORUM, 1]),
        ("GetRequest missing 'local'", 44, [PROTOCOL_VERSION, GET_REQUEST, 44, b"plain", QUORUM]),
        ("GetRequest with an extra field", 45, [PROTOCOL_VERSION, GET_REQUEST, 45, b"plain", QUORUM, False, 0]),
        ("GetRequest with consistency 9", 46, [PROTOCOL_VERSION, GET_REQUEST, 46, b"plain", 9, False]),
        ("GetRequest with an empty key", 47, [PROTOCOL_VERSION, GET_REQUEST, 47, b"", QUORUM, False]),
        ("PutRequest with a nil value", 48, [PROTOCOL_VERSION, 2, 48, b"plain", None, QUORUM]),
        ("PutRequest with a key over 64 KiB", 49,
         [PROTOCOL_VERSION, 2, 49, b"k" * (KEY_BYTES_MAX + 1), b"v", QUORUM]),
        ("DeleteRequest with an array key", 50, [PROTOCOL_VERSION, 6, 50, [b"plain"], QUORUM]),
        ("header with a string request id", None, [PROTOCOL_VERSION, GET_REQUEST, "id", b"plain", QUORUM, False]),
        ("message that is a map", None, {"version": 1, "type": 4}),
        ("two-element array", None, [PROTOCOL_VERSION, GET_REQUEST]),
    ]
    for what, request_id, items in cases:
        with RawConnection(node.host, node.port) as conn:
            conn.send(frame(mp_encode(items)))
            expect_invalid_and_closed(conn, what, request_id)
        check(node.alive(), f"kvnode died after {what}")
    expect_bad_frame_lines(node, offset, len(cases), "wrong field types")
    # The put with an oversized key and a nil value wrote nothing.
    result = ctx.kv("get", "plain", node=node)
    check(result.out == STORED["plain"], f"'plain' changed by a rejected put: {result.describe()}")
    assert_intact(ctx, node, "GetRequests with wrong field types")


@test
def requests_before_a_bad_frame_are_answered(ctx):
    # Requests pipelined in front of a bad frame on one connection were
    # received first and are executed, so each gets its reply (in order)
    # before the ErrorReply and the close. A put that is applied but never
    # acknowledged leaves its client unable to tell what happened.
    node = stored_node(ctx)
    offset = node.log_size()
    bad = frame(mp_encode([PROTOCOL_VERSION, GET_REQUEST, 62, 12345, QUORUM, False]))
    with RawConnection(node.host, node.port) as conn:
        conn.send(put_request(60, b"pipelined", b"applied") + get_request(61, b"plain") + bad)
        replies = conn.read_all_replies(timeout=5.0)
    summary = [(r.type, r.request_id) for r in replies]
    check_eq(summary, [(WRITE_REPLY, 60), (GET_REPLY, 61), (ERROR_REPLY, 62)],
             f"(type, request id) of the replies to put, get, bad frame (replies: {replies})")
    check_eq(replies[1].fields[1], STORED["plain"], "value in the pipelined get's reply")
    check(replies[2].is_error(ERR_INVALID), f"reply to the bad frame: {replies[2]}")
    expect_bad_frame_lines(node, offset, 1, "a bad frame after pipelined requests")
    assert_intact(ctx, node, "a bad frame after pipelined requests")


@test
def replies_only_to_requests(ctx):
    # Reply-type messages sent to the node (as if it were a client) are refused
    # without touching data; the contract allows INVALID with close or a
    # plain error reply, but never a crash or a write.
    node = stored_node(ctx)
    for what, items in (("WriteReply", [PROTOCOL_VERSION, WRITE_REPLY, 70, 1, 2]),
                        ("GetReply", [PROTOCOL_VERSION, GET_REPLY, 71, True, b"v", 1, 2]),
                        ("ErrorReply", [PROTOCOL_VERSION, ERROR_REPLY, 72, 3, "x"])):
        with RawConnection(node.host, node.port) as conn:
            reply = conn.call(frame(mp_encode(items)))
            check(reply.is_error(), f"{what} sent to the node: expected an ErrorReply, got {reply}")
            check_eq(reply.request_id, items[2], f"request id echoed for {what}")
    assert_intact(ctx, node, "reply messages sent to the node")


@test
def everything_at_once_then_clean_stop(ctx):
    # All kinds of garbage on concurrent connections while valid requests run
    # on another one; then SIGTERM exits 0 and a restart finds the data.
    node = stored_node(ctx)
    rng = ctx.rng("at-once")
    garbage = [
        struct.pack(">I", 0xFFFFFFF0),
        frame(b"\x91" * 10_000 + b"\xc0"),
        struct.pack(">I", 100) + b"0123456789",
        message(GET_REQUEST, 1, b"plain", QUORUM, False, version=99),
        message(9999, 2),
        frame(mp_encode([PROTOCOL_VERSION, GET_REQUEST, 3, 12345, QUORUM, False])),
    ] + [rng.randbytes(rng.randint(1, 4096)) for _ in range(20)]
    conns = [RawConnection(node.host, node.port) for _ in garbage]
    with RawConnection(node.host, node.port) as good:
        try:
            for conn, data in zip(conns, garbage):
                conn.send(data)
                check_get(good, 100 + len(data) % 1000, b"binary", STORED["binary"], "get amid garbage")
        finally:
            for conn in conns:
                conn.close()
        check_get(good, 99, b"large", STORED["large"], "get after the garbage connections closed")
        for request_id in range(200, 400):  # a burst of writes on the good connection
            reply = good.call(put_request(request_id, b"burst", rng.randbytes(64)))
            check(reply.type == WRITE_REPLY, f"put amid garbage: {reply}")
    assert_intact(ctx, node, "concurrent garbage")
    check_eq(node.stop(), 0, "exit code after SIGTERM")
    node.start()
    assert_intact(ctx, node, "concurrent garbage and a restart")


if __name__ == "__main__":
    sys.exit(run_tests())
