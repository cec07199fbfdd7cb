"""A small ringkv wire-protocol client for the chaos runner (Python 3 standard library).

Speaks DESIGN.md "Wire protocol" directly over persistent TCP connections (one per
(thread, node)), using the msgpack encoder/decoder of tests/process/harness.py. Two uses:

  * the workload: one request at a time, with an exact outcome: `Outcome.OK`, `FAIL` (the
    request was definitely not applied: the connection could not even be opened, or the
    node answered UNAVAILABLE / INVALID) or `INFO` (unknown: TIMEOUT, INTERNAL, no reply in
    time, the connection dropped after the request was sent);
  * the checkers: many requests pipelined on one connection (`pipeline`), each retried on
    a fresh connection when the connection drops.

Field layouts (node/wire/codec.cc): every message is [version, type, id, fields...].
"""

import os
import select
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "process"))

import harness  # noqa: E402
from harness import MsgpackError, mp_decode, mp_encode  # noqa: E402

PROTOCOL_VERSION = harness.PROTOCOL_VERSION
ERROR_REPLY, PUT_REQUEST, WRITE_REPLY, GET_REQUEST, GET_REPLY, DELETE_REQUEST = 1, 2, 3, 4, 5, 6
PUSH_PULL_REQUEST = 7
STATUS_REQUEST, STATUS_REPLY = 9, 10
REPLICA_WRITE_REQUEST, REPLICA_READ_REQUEST = 11, 13
ENDPOINTS_REQUEST, ENDPOINTS_REPLY = 15, 16
RING_REQUEST, RING_REPLY = 17, 18
STATS_REQUEST, STATS_REPLY = 19, 20

LEVELS = {"one": 1, "quorum": 2, "all": 3, "any": 4}
ERR_NAMES = {1: "UNAVAILABLE", 2: "TIMEOUT", 3: "INVALID", 4: "INTERNAL", 5: "UNKNOWN_TYPE",
             6: "BAD_VERSION", 10: "FAILED", 11: "SUPERSEDED", 12: "BUSY"}
ERR_UNAVAILABLE, ERR_TIMEOUT, ERR_INVALID, ERR_INTERNAL = 1, 2, 3, 4
ERR_FAILED, ERR_SUPERSEDED = 10, 11
# Tried: a write may have landed ('info'); a read changed nothing ('fail').
ERR_TRIED = (ERR_TIMEOUT, ERR_INTERNAL, ERR_FAILED, ERR_SUPERSEDED)

OK, FAIL, INFO = "ok", "fail", "info"


class ConnectFailed(Exception):
    """The connection could not be opened: nothing was sent."""


class Lost(Exception):
    """The request may have been sent, but no reply came (timeout, EOF, reset)."""


class Connection:
    """One persistent TCP connection to HOST:PORT. Not thread-safe (one per thread)."""

    def __init__(self, host, port, connect_timeout=2.0):
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self.sock = None
        self.buffer = bytearray()
        self.next_id = 1

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buffer = bytearray()

    def _stale(self):
        """True when the idle connection was closed by the peer (EOF, reset, or bytes that
        nobody asked for): such a connection is reopened before a request is sent, so a
        node killed and restarted between two operations does not turn the next one into
        'info'."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def ensure(self):
        if self.sock is not None and self._stale():
            self.close()
        if self.sock is None:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            except OSError as e:
                raise ConnectFailed(f"connect {self.host}:{self.port}: {e}") from None
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock
            self.buffer = bytearray()

    def send_frame(self, items):
        self.send_frames([items])

    def send_frames(self, messages):
        """Sends the messages in one write (a pipeline refill costs a few packets, not one
        per request: over veth pairs and a bridge each packet costs more than on lo)."""
        data = bytearray()
        for items in messages:
            payload = mp_encode(items)
            data += struct.pack(">I", len(payload)) + payload
        try:
            self.sock.settimeout(10.0)
            self.sock.sendall(data)
        except OSError as e:
            self.close()
            raise Lost(f"send: {e}") from None

    def recv_frame(self, deadline):
        while True:
            if len(self.buffer) >= 4:
                (length,) = struct.unpack_from(">I", self.buffer, 0)
                if length > harness.FRAME_BYTES_MAX:
                    self.close()
                    raise Lost(f"reply frame length {length} over the limit")
                if len(self.buffer) >= 4 + length:
                    payload = bytes(self.buffer[4:4 + length])
                    del self.buffer[:4 + length]
                    try:
                        items = mp_decode(payload)
                    except MsgpackError as e:
                        self.close()
                        raise Lost(f"undecodable reply: {e}") from None
                    if not isinstance(items, list) or len(items) < 3:
                        self.close()
                        raise Lost(f"malformed reply {items!r:.100}")
                    return items
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise Lost("no reply before the client timeout")
            try:
                self.sock.settimeout(remaining)
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                self.close()
                raise Lost("no reply before the client timeout") from None
            except OSError as e:
                self.close()
                raise Lost(f"recv: {e}") from None
            if not chunk:
                self.close()
                raise Lost("connection closed before the reply")
            self.buffer += chunk

    def call(self, msg_type, fields, timeout):
        """Sends one request and returns the reply's items [version, type, id, fields...].
        Raises ConnectFailed (not sent) or Lost (maybe applied)."""
        self.ensure()
        request_id = self.next_id
        self.next_id += 1
        self.send_frame([PROTOCOL_VERSION, msg_type, request_id, *fields])
        deadline = time.monotonic() + timeout
        while True:
            items = self.recv_frame(deadline)
            if items[2] == request_id:
                return items
            if items[2] == 0 and items[1] == ERROR_REPLY:
                self.close()
                return items
            # A reply to an earlier request that timed out cannot happen: a timeout closes
            # the connection. Anything else is a protocol error.
            self.close()
            raise Lost(f"reply id {items[2]} for request {request_id}")

    def pipeline(self, requests, timeout=30.0, window=512, retries=5):
        """Sends (msg_type, fields) requests pipelined, at most `window` in flight, refilled
        in one write whenever half of them are answered; returns the replies' items in
        order. A dropped connection is reopened and the unanswered requests re-sent (up to
        `retries` times); a request that still has no reply gets None."""
        results = [None] * len(requests)
        pending = list(range(len(requests)))
        for _attempt in range(retries + 1):
            if not pending:
                break
            try:
                self.ensure()
            except ConnectFailed:
                time.sleep(0.5)
                continue
            inflight = {}
            queue = list(pending)
            qi = 0
            try:
                deadline = time.monotonic() + timeout
                while qi < len(queue) or inflight:
                    if qi < len(queue) and len(inflight) <= window // 2:
                        batch = []
                        while qi < len(queue) and len(inflight) < window:
                            index = queue[qi]
                            qi += 1
                            request_id = self.next_id
                            self.next_id += 1
                            inflight[request_id] = index
                            msg_type, fields = requests[index]
                            batch.append([PROTOCOL_VERSION, msg_type, request_id, *fields])
                        self.send_frames(batch)
                    items = self.recv_frame(deadline)
                    index = inflight.pop(items[2], None)
                    if index is None:
                        raise Lost(f"unexpected reply id {items[2]}")
                    results[index] = items
                    deadline = time.monotonic() + timeout
            except Lost:
                self.close()
            pending = [i for i in pending if results[i] is None]
        return results


# ---------------------------------------------------------------------------
# Request builders and reply decoders.

def put_fields(key, value, level):
    return [bytes(key), bytes(value), LEVELS[level]]


def get_fields(key, level="quorum", local=False):
    return [bytes(key), LEVELS[level], bool(local)]


def decode_write(items):
    """(outcome, info dict) of a put's reply."""
    if items[1] == WRITE_REPLY and len(items) >= 5:
        return OK, {"ts": items[3], "tb": items[4]}
    return _error_outcome(items, write=True)


def decode_get(items):
    if items[1] == GET_REPLY and len(items) >= 7:
        found, value, ts, tb = items[3], items[4], items[5], items[6]
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")
        return OK, {"found": bool(found), "value": value if found else None,
                    "ts": ts if found else 0, "tb": tb if found else 0}
    return _error_outcome(items, write=False)


def _error_outcome(items, write):
    if items[1] == ERROR_REPLY:
        code = items[3] if len(items) > 3 else None
        message = items[4] if len(items) > 4 else ""
        name = ERR_NAMES.get(code, f"code {code}")
        if code == ERR_UNAVAILABLE:
            outcome = FAIL
        elif code in ERR_TRIED:
            # A write the coordinator tried may have landed; a read that timed out
            # returned nothing (a read changes no state: 'fail').
            outcome = INFO if write else FAIL
        else:
            outcome = FAIL
        return outcome, {"error": name, "message": str(message)[:200],
                         "unexpected": code not in (ERR_UNAVAILABLE,) + ERR_TRIED}
    return FAIL, {"error": f"unexpected reply type {items[1]}", "unexpected": True}


def decode_status(items):
    """{'node': name, 'members': {name: {...}}} or None."""
    if items is None or items[1] != STATUS_REPLY or len(items) < 5:
        return None
    members = {}
    for m in items[4]:
        name, node_id, address, liveness, ring_status, incarnation = m[:6]
        members[name] = {"id": node_id.hex() if isinstance(node_id, bytes) else node_id,
                         "address": address, "liveness": liveness, "ring_status": ring_status,
                         "incarnation": incarnation}
    return {"node": items[3], "members": members}


def decode_endpoints(items):
    if items is None or items[1] != ENDPOINTS_REPLY or len(items) < 5:
        return None
    return [(e[0], e[1]) for e in items[4]]


def decode_ring(items):
    if items is None or items[1] != RING_REPLY or len(items) < 5:
        return None
    return {"replicas": items[3], "members": sorted((m[0], m[1], m[2]) for m in items[4])}


def decode_stats(items):
    if items is None or items[1] != STATS_REPLY or len(items) < 4:
        return None
    return {name: value for name, value in items[3]}


def one_call(host, port, msg_type, fields, timeout=3.0):
    """A single request on a fresh connection; None on any failure."""
    conn = Connection(host, port, connect_timeout=min(2.0, timeout))
    try:
        return conn.call(msg_type, fields, timeout)
    except (ConnectFailed, Lost):
        return None
    finally:
        conn.close()
