"""Shared helpers for ringkv process-level tests (Python 3 standard library only).

A test file is a script run as

    python3 tests/process/test_X.py --kvnode PATH --kv PATH [-k SUBSTRING] [--keep-tmp]

It defines tests with the @test decorator and ends with `sys.exit(run_tests())`.
Each test receives a Context: `ctx.node(...)` starts a kvnode on a free port of
127.0.0.x (stderr to a log file in the run's temporary directory), `ctx.kv(...)`
runs the CLI. Processes started by a test are killed by PID when it ends
(try/finally), and every process still alive is killed by PID at exit (atexit,
and PR_SET_PDEATHSIG where available, so a killed runner leaves no orphans).
The closing line is 'N passed, N failed'.

Also here: a minimal msgpack encoder/decoder (arrays, maps, ints, bin, str,
bool, nil) for the wire protocol of DESIGN.md, and RawConnection to send
arbitrary bytes to a node and read back frames.
"""

import argparse
import atexit
import ctypes
import errno
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

# ---------------------------------------------------------------------------
# Wire protocol constants (DESIGN.md "Wire protocol"; node/wire/message.h).

PROTOCOL_VERSION = 1

ERROR_REPLY = 1
PUT_REQUEST = 2
WRITE_REPLY = 3
GET_REQUEST = 4
GET_REPLY = 5
DELETE_REQUEST = 6

ONE, QUORUM, ALL, ANY = 1, 2, 3, 4

ERR_UNAVAILABLE = 1
ERR_TIMEOUT = 2
ERR_INVALID = 3
ERR_INTERNAL = 4
ERR_UNKNOWN_TYPE = 5
ERR_BAD_VERSION = 6
ERR_NOT_AUTHENTICATED = 7
ERR_FORBIDDEN = 8

KEY_BYTES_MAX = 64 * 1024
VALUE_BYTES_MAX = 8 * 1024 * 1024
# The contract's bound: 8 MiB + 68 KiB. A length header above it is refused.
FRAME_BYTES_MAX = 8 * 1024 * 1024 + 68 * 1024

# CLI exit codes (DESIGN.md "Command lines").
EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_CLUSTER_ERROR = 3
EXIT_UNREACHABLE = 4

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
KV_TIMEOUT_S = 30.0


class TestFailure(AssertionError):
    pass


def check(condition, message):
    """assert that survives python -O."""
    if not condition:
        raise TestFailure(message)


def check_eq(got, expected, what):
    if got != expected:
        raise TestFailure(f"{what}: expected {_short(expected)}, got {_short(got)}")


def _short(value, limit=200):
    text = repr(value)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(value) if hasattr(value, '__len__') else '?'} long)"
    return text


def wait_until(predicate, timeout, what, interval=0.02):
    """Polls predicate() until it is truthy or the deadline passes (then fails)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TestFailure(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Process bookkeeping: everything we start is killed by PID at the end.

_PROCESSES = {}  # pid -> Popen

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _LIBC = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child between fork and exec: if the test runner dies (even
    # by SIGKILL from a CTest timeout), the kernel kills this process too.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _kill_pid(proc, wait_s=5.0):
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            pass


def kill_all_processes():
    for pid, proc in list(_PROCESSES.items()):
        _kill_pid(proc)
        _PROCESSES.pop(pid, None)


atexit.register(kill_all_processes)


def _on_terminate(signum, _frame):
    # Turn SIGTERM/SIGHUP into a normal exit so atexit handlers run.
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_terminate)
signal.signal(signal.SIGHUP, _on_terminate)


# ---------------------------------------------------------------------------
# Ports and addresses.

def free_port(host="127.0.0.1"):
    """A port free for both TCP and UDP on `host` (kvnode uses both), found by
    binding port 0. Works for any 127.0.0.x (Linux routes 127/8 to lo)."""
    for _ in range(50):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                udp.bind((host, port))
            except OSError:
                continue
            finally:
                udp.close()
            return port
        finally:
            tcp.close()
    raise RuntimeError(f"no free port on {host}")


def loopback_address(index):
    """127.0.0.<index>, for multi-node tests (index 1..254)."""
    check(1 <= index <= 254, f"loopback index {index} out of range")
    return f"127.0.0.{index}"


def can_connect(host, port, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# kvnode process.

class NodeError(TestFailure):
    pass


class Node:
    """One kvnode process on HOST:PORT with a data directory under the run's
    temporary directory. start() returns once the port accepts connections."""

    def __init__(self, kvnode, workdir, name="n1", host="127.0.0.1", port=None,
                 sync=False, log_level="info", extra_args=()):
        self.kvnode = kvnode
        self.name = name
        self.host = host
        self.port = port
        self._port_chosen = port is None
        self.sync = sync
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.data_dir = os.path.join(workdir, name, "data")
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.proc = None
        self.starts = 0

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def argv(self):
        argv = [self.kvnode, "--name", self.name, "--listen", self.address,
                "--data", self.data_dir, "--log-level", self.log_level]
        if self.sync:
            argv.append("--sync")
        return argv + self.extra_args

    def start(self, timeout=READY_TIMEOUT_S):
        check(self.proc is None or self.proc.poll() is not None,
              f"{self.name}: start() while pid {self.pid} is running")
        os.makedirs(os.path.dirname(self.data_dir), exist_ok=True)
        attempts = 3 if (self._port_chosen and self.starts == 0) else 1
        for attempt in range(attempts):
            if self.port is None or attempt > 0:
                self.port = free_port(self.host)
            offset = self.log_size()
            with open(self.log_path, "ab") as log:
                log.write(f"==== harness: start #{self.starts + 1}: {' '.join(self.argv())}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=log, preexec_fn=_die_with_parent)
            _PROCESSES[self.proc.pid] = self.proc
            self.starts += 1
            try:
                self.wait_ready(timeout)
                return self
            except NodeError:
                # A port taken between free_port() and bind: try another one,
                # but only on the very first start (restarts keep the port).
                if attempt + 1 < attempts and "cannot listen" in self.log_text(offset):
                    continue
                raise
        return self

    def wait_ready(self, timeout=READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise NodeError(f"{self.name}: kvnode exited with {rc} before accepting "
                                f"connections; log tail:\n{self.log_tail()}")
            if can_connect(self.host, self.port):
                if self.proc.poll() is None:
                    return
            if time.monotonic() >= deadline:
                raise NodeError(f"{self.name}: not accepting connections on {self.address} "
                                f"after {timeout:.0f} s; log tail:\n{self.log_tail()}")
            time.sleep(0.02)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM by PID; returns the exit code. Kills and fails on timeout."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_pid(self.proc)
            raise NodeError(f"{self.name}: pid {self.proc.pid} still running {timeout:.0f} s "
                            f"after SIGTERM (killed)")
        finally:
            _PROCESSES.pop(self.proc.pid, None)
        return rc

    def kill(self):
        """SIGKILL by PID; returns the exit code (-9)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        _kill_pid(self.proc)
        _PROCESSES.pop(self.proc.pid, None)
        return self.proc.returncode

    def restart(self, timeout=READY_TIMEOUT_S):
        """Starts again on the same address and data directory."""
        if self.alive():
            self.stop()
        return self.start(timeout)

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self, offset=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_lines(self, offset=0):
        return [line for line in self.log_text(offset).splitlines() if line.strip()]

    def log_tail(self, lines=30):
        return "\n".join(self.log_text().splitlines()[-lines:])


# ---------------------------------------------------------------------------
# kv CLI.

class KvResult(tuple):
    """(exit code, stdout bytes, stderr text) with named access."""

    def __new__(cls, rc, out, err, argv):
        self = super().__new__(cls, (rc, out, err))
        self.argv = argv
        return self

    rc = property(lambda self: self[0])
    out = property(lambda self: self[1])
    err = property(lambda self: self[2])

    def json(self):
        try:
            return json.loads(self.out.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise TestFailure(f"{self.describe()}: stdout is not one JSON document ({e})")

    def describe(self):
        shown = [a if len(a) <= 60 else a[:40] + f"...({len(a)} chars)" for a in self.argv[1:]]
        return (f"kv {' '.join(shown)} -> rc {self.rc}, stdout {_short(self.out, 120)}, "
                f"stderr {self.err.strip()[:300]!r}")


def run_kv(kv_path, *args, host=None, input=None, timeout=KV_TIMEOUT_S, env=None):
    """Runs the kv CLI; returns KvResult (rc, stdout bytes, stderr text)."""
    argv = [kv_path]
    if host is not None:
        argv += ["--host", host]
    argv += [str(a) for a in args]
    run_env = dict(os.environ)
    run_env.pop("KV_HOST", None)  # only explicit --host counts in tests
    if env:
        run_env.update(env)
    try:
        proc = subprocess.run(argv, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              env=run_env, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"kv {' '.join(argv[1:])[:200]} did not finish within {timeout} s")
    return KvResult(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"), argv)


# ---------------------------------------------------------------------------
# Minimal msgpack.

class Raw(bytes):
    """Bytes inserted verbatim into an encoded message."""


def mp_encode(obj):
    out = bytearray()
    _mp_encode_into(obj, out)
    return bytes(out)


def _mp_encode_into(obj, out):
    if isinstance(obj, Raw):
        out += obj
    elif obj is None:
        out.append(0xC0)
    elif obj is True:
        out.append(0xC3)
    elif obj is False:
        out.append(0xC2)
    elif isinstance(obj, int):
        if 0 <= obj <= 0x7F:
            out.append(obj)
        elif 0 <= obj <= 0xFF:
            out += b"\xcc" + struct.pack(">B", obj)
        elif 0 <= obj <= 0xFFFF:
            out += b"\xcd" + struct.pack(">H", obj)
        elif 0 <= obj <= 0xFFFFFFFF:
            out += b"\xce" + struct.pack(">I", obj)
        elif 0 <= obj <= 0xFFFFFFFFFFFFFFFF:
            out += b"\xcf" + struct.pack(">Q", obj)
        elif -32 <= obj < 0:
            out += struct.pack(">b", obj)
        elif -(1 << 63) <= obj < 0:
            out += b"\xd3" + struct.pack(">q", obj)
        else:
            raise ValueError(f"integer {obj} out of msgpack range")
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        n = len(data)
        if n <= 0xFF:
            out += b"\xc4" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xc5" + struct.pack(">H", n)
        else:
            out += b"\xc6" + struct.pack(">I", n)
        out += data
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        n = len(data)
        if n <= 31:
            out.append(0xA0 | n)
        elif n <= 0xFF:
            out += b"\xd9" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xda" + struct.pack(">H", n)
        else:
            out += b"\xdb" + struct.pack(">I", n)
        out += data
    elif isinstance(obj, (list, tuple)):
        n = len(obj)
        if n <= 15:
            out.append(0x90 | n)
        elif n <= 0xFFFF:
            out += b"\xdc" + struct.pack(">H", n)
        else:
            out += b"\xdd" + struct.pack(">I", n)
        for item in obj:
            _mp_encode_into(item, out)
    elif isinstance(obj, dict):
        n = len(obj)
        if n <= 15:
            out.append(0x80 | n)
        elif n <= 0xFFFF:
            out += b"\xde" + struct.pack(">H", n)
        else:
            out += b"\xdf" + struct.pack(">I", n)
        for k, v in obj.items():
            _mp_encode_into(k, out)
            _mp_encode_into(v, out)
    else:
        raise TypeError(f"cannot msgpack-encode {type(obj).__name__}")


class MsgpackError(ValueError):
    pass


def mp_decode(data):
    """Decodes exactly one msgpack object filling `data`; raises MsgpackError
    on truncation, trailing bytes or an unsupported/invalid byte."""
    obj, offset = _mp_decode_at(bytes(data), 0, 0)
    if offset != len(data):
        raise MsgpackError(f"{len(data) - offset} trailing bytes")
    return obj


def _need(data, offset, n):
    if offset + n > len(data):
        raise MsgpackError("truncated")


def _mp_decode_at(data, offset, depth):
    if depth > 64:
        raise MsgpackError("too deep")
    _need(data, offset, 1)
    b = data[offset]
    offset += 1

    def take(n):
        nonlocal offset
        _need(data, offset, n)
        chunk = data[offset:offset + n]
        offset += n
        return chunk

    def seq(n, pairs=False):
        nonlocal offset
        items = []
        for _ in range(n * (2 if pairs else 1)):
            item, offset_after = _mp_decode_at(data, offset, depth + 1)
            offset = offset_after
            items.append(item)
        if pairs:
            return {_hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}
        return items

    if b <= 0x7F:
        return b, offset
    if 0x80 <= b <= 0x8F:
        return seq(b & 0x0F, pairs=True), offset
    if 0x90 <= b <= 0x9F:
        return seq(b & 0x0F), offset
    if 0xA0 <= b <= 0xBF:
        return take(b & 0x1F).decode("utf-8", "replace"), offset
    if b >= 0xE0:
        return b - 0x100, offset
    if b == 0xC0:
        return None, offset
    if b == 0xC2:
        return False, offset
    if b == 0xC3:
        return True, offset
    if b in (0xC4, 0xC5, 0xC6):
        n = struct.unpack(">" + {0xC4: "B", 0xC5: "H", 0xC6: "I"}[b], take({0xC4: 1, 0xC5: 2, 0xC6: 4}[b]))[0]
        return bytes(take(n)), offset
    if b in (0xD9, 0xDA, 0xDB):
        n = struct.unpack(">" + {0xD9: "B", 0xDA: "H", 0xDB: "I"}[b], take({0xD9: 1, 0xDA: 2, 0xDB: 4}[b]))[0]
        return take(n).decode("utf-8", "replace"), offset
    if b in (0xCC, 0xCD, 0xCE, 0xCF):
        fmt, size = {0xCC: ("B", 1), 0xCD: ("H", 2), 0xCE: ("I", 4), 0xCF: ("Q", 8)}[b]
        return struct.unpack(">" + fmt, take(size))[0], offset
    if b in (0xD0, 0xD1, 0xD2, 0xD3):
        fmt, size = {0xD0: ("b", 1), 0xD1: ("h", 2), 0xD2: ("i", 4), 0xD3: ("q", 8)}[b]
        return struct.unpack(">" + fmt, take(size))[0], offset
    if b == 0xCA:
        return struct.unpack(">f", take(4))[0], offset
    if b == 0xCB:
        return struct.unpack(">d", take(8))[0], offset
    if b in (0xDC, 0xDD):
        n = struct.unpack(">H" if b == 0xDC else ">I", take(2 if b == 0xDC else 4))[0]
        return seq(n), offset
    if b in (0xDE, 0xDF):
        n = struct.unpack(">H" if b == 0xDE else ">I", take(2 if b == 0xDE else 4))[0]
        return seq(n, pairs=True), offset
    # ext types and 0xC1 (never used) are not part of this protocol.
    raise MsgpackError(f"unsupported msgpack byte 0x{b:02x}")


def _hashable(obj):
    return tuple(obj) if isinstance(obj, list) else obj


def frame(payload):
    """4-byte big-endian length + payload."""
    return struct.pack(">I", len(payload)) + bytes(payload)


def message(msg_type, request_id, *fields, version=PROTOCOL_VERSION):
    """A complete frame holding [version, type, request_id, fields...]."""
    return frame(mp_encode([version, msg_type, request_id, *fields]))


def get_request(request_id, key, consistency=QUORUM, local=False):
    return message(GET_REQUEST, request_id, bytes(key), consistency, local)


def put_request(request_id, key, value, consistency=QUORUM):
    return message(PUT_REQUEST, request_id, bytes(key), bytes(value), consistency)


def delete_request(request_id, key, consistency=QUORUM):
    return message(DELETE_REQUEST, request_id, bytes(key), consistency)


class Reply:
    """A decoded reply: [version, type, request_id, fields...]."""

    def __init__(self, items):
        check(isinstance(items, list) and len(items) >= 3,
              f"reply is not an array of at least 3: {_short(items)}")
        self.items = items
        self.version, self.type, self.request_id = items[0], items[1], items[2]
        self.fields = items[3:]

    def is_error(self, code=None):
        return self.type == ERROR_REPLY and (code is None or self.fields[0] == code)

    @property
    def error_code(self):
        return self.fields[0] if self.type == ERROR_REPLY else None

    @property
    def error_message(self):
        return self.fields[1] if self.type == ERROR_REPLY and len(self.fields) > 1 else None

    def __repr__(self):
        return f"Reply({_short(self.items)})"


class ConnectionClosed(Exception):
    pass


class RawConnection:
    """A plain TCP connection to a node for sending arbitrary bytes."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        """Reads more bytes; returns False on EOF/reset, raises on timeout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data before the deadline")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("no data before the deadline")
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def recv_frame(self, timeout=5.0):
        """The next frame's payload; raises ConnectionClosed on EOF and
        TimeoutError if none arrives in time."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 4:
                (length,) = struct.unpack(">I", self.buffer[:4])
                check(length <= FRAME_BYTES_MAX, f"reply frame length {length} exceeds the limit")
                if len(self.buffer) >= 4 + length:
                    payload = self.buffer[4:4 + length]
                    self.buffer = self.buffer[4 + length:]
                    return payload
            if self.eof or not self._fill(deadline):
                raise ConnectionClosed(f"connection closed ({len(self.buffer)} bytes of a partial frame)")

    def recv_reply(self, timeout=5.0):
        payload = self.recv_frame(timeout)
        try:
            return Reply(mp_decode(payload))
        except MsgpackError as e:
            raise TestFailure(f"reply is not valid msgpack ({e}): {_short(payload)}")

    def call(self, frame_bytes, timeout=5.0):
        self.send(frame_bytes)
        return self.recv_reply(timeout)

    def read_all_replies(self, timeout=5.0):
        """Every reply until the peer closes; fails if it does not close in time."""
        replies = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                replies.append(self.recv_reply(max(0.001, deadline - time.monotonic())))
            except ConnectionClosed:
                return replies
            except TimeoutError:
                raise TestFailure(f"connection still open {timeout:.1f} s later "
                                  f"(replies so far: {replies})")

    def wait_closed(self, timeout=5.0):
        """True once the peer has closed (EOF or reset) with no further frame."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                if not self._fill(deadline):
                    break
            except TimeoutError:
                return False
        return True


# ---------------------------------------------------------------------------
# Test context and registry.

class Context:
    def __init__(self, args, workdir):
        self.kvnode_path = args.kvnode
        self.kv_path = args.kv
        self.workdir = workdir
        self.seed = args.seed
        self.nodes = []
        self._names = 0

    def node(self, name=None, host="127.0.0.1", start=True, **kwargs):
        """A kvnode on a fresh data directory, started unless start=False."""
        self._names += 1
        name = name or f"n{self._names}"
        check(all(n.name != name for n in self.nodes), f"node name {name} used twice")
        node = Node(self.kvnode_path, self.workdir, name=name, host=host, **kwargs)
        self.nodes.append(node)
        if start:
            node.start()
        return node

    def kv(self, *args, node=None, host=None, input=None, timeout=KV_TIMEOUT_S, env=None):
        """Runs kv against `node` (or an explicit --host list)."""
        if host is None and node is not None:
            host = node.address
        return run_kv(self.kv_path, *args, host=host, input=input, timeout=timeout, env=env)

    def rng(self, salt=""):
        return random.Random(f"{self.seed}:{salt}")

    def cleanup(self):
        for node in self.nodes:
            if node.proc is not None:
                _kill_pid(node.proc)
                _PROCESSES.pop(node.proc.pid, None)


_TESTS = []


def test(fn):
    """Registers a test function taking a Context."""
    _TESTS.append(fn)
    return fn


def _parse_args(argv):
    parser = argparse.ArgumentParser(description="ringkv process-level tests")
    parser.add_argument("--kvnode", required=True, help="path to the kvnode binary")
    parser.add_argument("--kv", required=True, help="path to the kv binary")
    parser.add_argument("-k", dest="filter", default="", help="run tests whose name contains this")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("RINGKV_SEED", "20240601")),
                        help="seed for the tests' random generators (default fixed; env RINGKV_SEED)")
    parser.add_argument("--keep-tmp", action="store_true",
                        default=os.environ.get("RINGKV_KEEP_TMP") == "1",
                        help="keep the temporary directory (logs, data) after the run")
    return parser.parse_args(argv)


def run_tests(argv=None):
    """Runs the registered tests; prints one line per test and the summary
    'N passed, N failed'; returns the process exit code."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    for what, path in (("kvnode", args.kvnode), ("kv", args.kv)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            print(f"FAIL setup: --{what} {path} is not an executable file")
            print("0 passed, 1 failed")
            return 1
    args.kvnode = os.path.abspath(args.kvnode)
    args.kv = os.path.abspath(args.kv)

    root = tempfile.mkdtemp(prefix="ringkv-process-")
    if not args.keep_tmp:
        atexit.register(shutil.rmtree, root, True)
    script = os.path.basename(sys.argv[0])
    print(f"{script}: seed {args.seed}, temp dir {root}", flush=True)

    selected = [fn for fn in _TESTS if args.filter in fn.__name__]
    passed = failed = 0
    failures = []
    for fn in selected:
        workdir = os.path.join(root, fn.__name__)
        os.makedirs(workdir)
        ctx = Context(args, workdir)
        started = time.monotonic()
        try:
            fn(ctx)
        except Exception as e:  # noqa: BLE001 - a test's any exception is a failure
            failed += 1
            failures.append(fn.__name__)
            elapsed = time.monotonic() - started
            kind = "" if isinstance(e, AssertionError) else f"{type(e).__name__}: "
            print(f"FAIL {fn.__name__} ({elapsed:.2f} s): {kind}{e}", flush=True)
            if not isinstance(e, TestFailure):
                traceback.print_exc(file=sys.stdout)
            for node in ctx.nodes:
                print(f"  --- {node.name} ({node.address}) log tail ---")
                for line in node.log_tail(15).splitlines():
                    print(f"  | {line}")
            sys.stdout.flush()
        else:
            passed += 1
            print(f"PASS {fn.__name__} ({time.monotonic() - started:.2f} s)", flush=True)
        finally:
            ctx.cleanup()
    kill_all_processes()
    if failures:
        print(f"failed: {', '.join(failures)}")
    if args.keep_tmp:
        print(f"kept {root}")
    print(f"{passed} passed, {failed} failed", flush=True)
    if not selected:
        print(f"no test matched -k {args.filter!r}")
        return 1
    return 0 if failed == 0 else 1


# ---------------------------------------------------------------------------
# Membership helpers (test_membership.py, test_partition.py,
# bench/failure_detection.py). Added after the rest; nothing above uses them.

import collections as _collections  # noqa: E402
import re as _re  # noqa: E402

# kvnode logs one line per membership event, e.g.
# 2026-11-27T09:46:17.903 info [a] member b (127.0.0.2:17302) joined: incarnation 4294967296, ring normal
MEMBER_EVENT_RE = _re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\s+\S+\s+\[([^\]]*)\]\s+member (\S+) \((\S+)\) "
    r"(\w+): incarnation (\d+), ring (\w+)")

MemberEvent = _collections.namedtuple(
    "MemberEvent", "time observer name address kind incarnation ring line")


def log_timestamp_to_epoch(text):
    """A kvnode log line's timestamp (YYYY-MM-DDTHH:MM:SS.mmm, the node's local
    time, which is the harness's: the node inherits TZ) as Unix seconds."""
    whole, millis = text.split(".")
    return time.mktime(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(millis) / 1000.0


def member_events(node, offset=0):
    """Membership event lines of `node`'s log (from byte `offset`), oldest first."""
    events = []
    for line in node.log_text(offset).splitlines():
        m = MEMBER_EVENT_RE.match(line)
        if m:
            events.append(MemberEvent(log_timestamp_to_epoch(m.group(1)), m.group(2), m.group(3),
                                      m.group(4), m.group(5), int(m.group(6)), m.group(7), line))
    return events


def member_view(kv_path, node, timeout=5.0):
    """`node`'s member table from `kv --json status` as {name: member dict},
    or None when the CLI fails or prints no valid document."""
    try:
        result = run_kv(kv_path, "--json", "status", host=node.address, timeout=timeout)
    except TestFailure:
        return None
    if result.rc != EXIT_OK:
        return None
    try:
        doc = json.loads(result.out.decode("utf-8"))
        return {m["name"]: m for m in doc["members"]}
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        return None


def member_views(kv_path, nodes, timeout=5.0):
    """member_view of every node, queried in parallel: {node name: view or None}."""
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        futures = {node.name: pool.submit(member_view, kv_path, node, timeout) for node in nodes}
        return {name: future.result() for name, future in futures.items()}


def start_cluster(ctx, count, probe_interval_ms, first_index=1, prefix="node", extra_args=(),
                  seed_index=0):
    """Starts `count` nodes named PREFIX1.. on 127.0.0.FIRST_INDEX.., each on a
    free port, all joining through node number seed_index (which founds the
    cluster). Does not wait for convergence (see wait_converged)."""
    common = ["--probe-interval-ms", str(probe_interval_ms), *extra_args]
    nodes = []
    for i in range(count):
        nodes.append(ctx.node(name=f"{prefix}{i + 1}", host=loopback_address(first_index + i),
                              start=False))
    founder = nodes[seed_index]
    founder.extra_args = list(common)
    founder.start()
    for node in nodes:
        if node is not founder:
            node.extra_args = common + ["--seeds", founder.address]
            node.start()
    return nodes


def all_alive(view, names):
    """True when `view` lists exactly `names`, each alive."""
    return (view is not None and set(view) == set(names)
            and all(view[name].get("liveness") == "alive" for name in names))


def all_normal(view, names):
    """True when `view` lists each of `names` in ring status normal."""
    return view is not None and all(view.get(name, {}).get("ring_status") == "normal" for name in names)


def wait_converged(kv_path, nodes, timeout, what="convergence", interval=0.05, ring_normal=True):
    """Polls until every node lists exactly `nodes`, all alive, then (unless
    ring_normal is False) until all are normal in the ring; returns the seconds the liveness part took and the
    final views. Fails with the last views on timeout."""
    names = [n.name for n in nodes]
    started = time.monotonic()
    deadline = started + timeout
    while True:
        views = member_views(kv_path, nodes)
        if all(all_alive(v, names) for v in views.values()):
            elapsed = time.monotonic() - started
            if not ring_normal:
                return elapsed, views
            # New nodes then join the ring one at a time (bootstrap): wait for
            # that too, outside the membership figure.
            wait_until(lambda: all(all_normal(v, names) for v in member_views(kv_path, nodes).values()),
                       max(timeout, 60.0), f"{what}: every node normal in the ring", interval=interval)
            return elapsed, member_views(kv_path, nodes)
        if time.monotonic() >= deadline:
            summary = {observer: (None if v is None else
                                  {name: m.get("liveness") for name, m in sorted(v.items())})
                       for observer, v in views.items()}
            raise TestFailure(f"{what}: not every node sees {names} alive after {timeout:.1f} s; "
                              f"last views: {summary}")
        time.sleep(interval)
