"""A RESP2 client for process tests: requests as multibulk arrays, replies
read into Python values over harness.RawConnection (simple strings as str,
errors as RespError, integers as int, bulk strings as bytes, nil as None,
arrays as lists).
"""

import time

from harness import ConnectionClosed, RawConnection, TestFailure


def command(*args):
    """One multibulk request."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class RespError(str):
    """An error reply's text (without the leading '-')."""


class RespConnection(RawConnection):
    """A raw TCP connection that reads RESP2 replies."""

    def _line(self, deadline):
        while b"\r\n" not in self.buffer:
            if self.eof or not self._fill(deadline):
                raise ConnectionClosed(f"connection closed inside a reply ({self.buffer[:80]!r})")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _value(self, deadline):
        line = self._line(deadline)
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            while len(self.buffer) < length + 2:
                if self.eof or not self._fill(deadline):
                    raise ConnectionClosed("connection closed inside a bulk string")
            data, self.buffer = self.buffer[:length], self.buffer[length + 2:]
            return data
        if kind == b"*":
            return [self._value(deadline) for _ in range(int(rest))]
        raise TestFailure(f"not a RESP2 reply: {line[:80]!r}")

    def recv_value(self, timeout=5.0):
        return self._value(time.monotonic() + timeout)

    def call(self, *args, timeout=5.0):
        self.send(command(*args))
        return self.recv_value(timeout)
