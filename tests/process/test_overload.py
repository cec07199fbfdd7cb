#!/usr/bin/env python3
"""Overload (issue 13 items 3, TESTING.md T13): one node flooded on its RESP
port by many connections with deep pipelines of 4 KB values
(bench/overload_flood.py).

- Some requests are refused "-BUSY ..." (load shedding), counted in `kv stats`
  as requests_shed_busy, and logged (at most once a minute).
- The node answers PING throughout the flood.
- Every acknowledged write reads back afterwards with its value.
- The node's RSS stays under a generous bound during the flood.

Run: python3 tests/process/test_overload.py --kvnode PATH --kv PATH
"""

import json
import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import EXIT_OK, check, free_port, loopback_address, run_tests, test, wait_until  # noqa: E402

FLOOD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "overload_flood.py")
VALUE_SIZE = 4000
# Without the bounds this flood held a few hundred MiB; with them well under 100.
RSS_BOUND_KIB = 192 * 1024


def read_back(host, port, keys):
    """GETs every key over one pipelined connection; returns the keys whose value is wrong."""
    wrong = []
    with socket.create_connection((host, port), timeout=30) as sock:
        reader = sock.makefile("rb")
        for start in range(0, len(keys), 256):
            batch = keys[start:start + 256]
            sock.sendall(b"".join(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k) for k in batch))
            for key in batch:
                header = reader.readline()
                expected = key.ljust(VALUE_SIZE, b"x")[:VALUE_SIZE]
                if not header.startswith(b"$") or header.startswith(b"$-1"):
                    wrong.append((key, header.strip()))
                    continue
                value = reader.read(int(header[1:]) + 2)[:-2]
                if value != expected:
                    wrong.append((key, b"value differs"))
    return wrong


@test
def a_flooded_node_sheds_answers_ping_keeps_acknowledged_writes_and_bounded_memory(ctx):
    host = loopback_address(57)
    resp_port = free_port(host)
    node = ctx.node(name="flooded", host=host,
                    extra_args=["--replicas", "1", "--resp-listen", f"{host}:{resp_port}", "--max-inflight-requests", "128",
                                "--max-connection-inflight-requests", "64", "--rocksdb-block-cache-mib", "8",
                                "--rocksdb-write-buffers-mib", "16"])
    wait_until(lambda: ctx.kv("stats", node=node).rc == EXIT_OK, 10.0, "node answers")
    acked_path = os.path.join(ctx.workdir, "acked.txt")
    flood = subprocess.run(
        [sys.executable, FLOOD, "--host", host, "--port", str(resp_port), "--pid", str(node.pid),
         "--clients", "400", "--pipeline", "64", "--value-size", str(VALUE_SIZE), "--seconds", "8",
         "--after", "0", "--procs", "1", "--acked", acked_path],
        capture_output=True, timeout=90)
    check(flood.returncode == 0, f"flood failed: {flood.stderr.decode()[-2000:]}")
    report = json.loads(flood.stdout)
    print(f"  flood: {json.dumps(report)}")
    check(report["busy"] > 0, f"nothing was refused BUSY: {report}")
    check(report["ok"] > 0, f"nothing was admitted: {report}")
    check(report["errors"] == 0, f"errors other than BUSY: {report['first_error']}")
    check(report["connections_closed"] == 0, f"the node closed flooding connections: {report}")
    check(report["ping_count"] > 0 and report["ping_failures"] == 0, f"PING went unanswered: {report}")
    check(report["rss_max_during_kib"] is not None and report["rss_max_during_kib"] < RSS_BOUND_KIB,
          f"RSS {report['rss_max_during_kib']} KiB over the bound of {RSS_BOUND_KIB} KiB")
    stats = ctx.kv("--json", "stats", node=node)
    check(stats.rc == EXIT_OK, f"kv stats: {stats.describe()}")
    shed = json.loads(stats.out.decode())["requests_shed_busy"]
    check(shed >= report["busy"], f"kv stats requests_shed_busy {shed} < BUSY replies {report['busy']}")
    check("shedding load" in node.log_text(), "no log line about shedding")
    with open(acked_path, "rb") as acked:
        keys = [line.rstrip(b"\n") for line in acked if line.strip()]
    check(len(keys) == report["ok"], f"{len(keys)} acknowledged keys recorded, {report['ok']} acknowledged")
    wrong = read_back(host, resp_port, keys)
    check(not wrong, f"{len(wrong)} of {len(keys)} acknowledged writes do not read back, e.g. {wrong[:3]}")


if __name__ == "__main__":
    sys.exit(run_tests())
