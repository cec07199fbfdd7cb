#!/usr/bin/env python3
"""Per-port connection bounds (issue 11 item 7): --max-connections and
--idle-timeout-s on the node port and the RESP port.

- A connection over the cap gets a clear error (node port: ErrorReply
  UNAVAILABLE naming --max-connections; RESP: Redis's "-ERR max number of
  clients reached") and is closed; it is counted in `kv stats`.
- A connection that sends nothing for the idle timeout is closed and counted.

Run: python3 tests/process/test_connection_limits.py --kvnode PATH --kv PATH
"""

import json
import os
import socket
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    ERR_UNAVAILABLE, EXIT_OK, RawConnection, check, check_eq, free_port, loopback_address, run_tests,
    test, wait_until,
)

CAP = 3


def stats(ctx, node):
    result = ctx.kv("--json", "stats", node=node)
    check(result.rc == EXIT_OK, f"kv stats: {result.describe()}")
    return json.loads(result.out.decode())


@test
def connections_over_the_cap_are_refused_with_an_error(ctx):
    host = loopback_address(48)
    resp_port = free_port(host)
    node = ctx.node(name="capped", host=host,
                    extra_args=["--max-connections", str(CAP), "--idle-timeout-s", "300",
                                "--resp-listen", f"{host}:{resp_port}"])
    wait_until(lambda: node.alive() and ctx.kv("stats", node=node).rc == EXIT_OK, 10.0, "node answers")
    held = [RawConnection(node.host, node.port) for _ in range(CAP)]
    try:
        # The cap is counted once the node accepted them: poll until the next is refused.
        def refused_one():
            with RawConnection(node.host, node.port) as extra:
                try:
                    reply = extra.recv_reply(timeout=2.0)
                except Exception:  # noqa: BLE001 - still admitted: not yet at the cap
                    return False
                check(reply.is_error(ERR_UNAVAILABLE), f"over-cap reply: {reply}")
                check("--max-connections" in reply.error_message, f"error names the flag: {reply}")
                check(extra.wait_closed(5.0), "over-cap connection left open")
                return True
        wait_until(refused_one, 10.0, "a connection over the cap refused")
    finally:
        for conn in held:
            conn.close()
    wait_until(lambda: ctx.kv("stats", node=node).rc == EXIT_OK, 10.0, "room again after closing")
    counts = stats(ctx, node)
    check(counts["connections_refused_over_cap"] >= 1, f"refusals counted: {counts}")

    resp_held = [socket.create_connection((host, resp_port)) for _ in range(CAP)]
    try:
        for s in resp_held:
            s.sendall(b"PING\r\n")
            check_eq(s.recv(64), b"+PONG\r\n", "PING on an admitted RESP connection")
        with socket.create_connection((host, resp_port), timeout=5.0) as extra:
            data = b""
            while True:
                chunk = extra.recv(256)
                if not chunk:
                    break
                data += chunk
            check_eq(data, b"-ERR max number of clients reached\r\n", "RESP over-cap reply")
    finally:
        for s in resp_held:
            s.close()
    wait_until(lambda: stats(ctx, node).get("resp_connections_refused_over_cap", 0) >= 1, 10.0,
               "RESP refusal counted")


@test
def idle_connections_are_closed(ctx):
    node = ctx.node(name="idle", host=loopback_address(48), extra_args=["--idle-timeout-s", "1"])
    with RawConnection(node.host, node.port) as conn:
        check(conn.wait_closed(10.0), "an idle connection stayed open past --idle-timeout-s 1")
    wait_until(lambda: stats(ctx, node).get("connections_closed_idle", 0) >= 1, 10.0, "idle close counted")
    check(node.alive(), "node exited")


if __name__ == "__main__":
    sys.exit(run_tests())
