#!/usr/bin/env python3
"""The Prometheus metrics port of kvnode (--metrics-listen), end to end:

  scrape_is_valid_and_bad_requests_are_refused
      3 nodes; every scrape passes `promtool check metrics`; a put moves the
      coordinator's counter and latency histogram; malformed, oversized,
      unknown-path and wrong-method requests get their HTTP error (and the
      malformed ones a closed connection), one over the connection cap gets
      503, and the port keeps serving afterwards.
  a_dead_member_shows_with_its_hints_and_refusals
      kill -9 one node: the others' scrapes show it dead, the hints they hold for it (count,
      bytes, age of the oldest) and an UNAVAILABLE ALL put, and still pass promtool.
  prometheus_scrapes_the_cluster
      Debian's `prometheus` (its own temp dir, a free port, scrape interval
      1 s, the shipped alert rules loaded) scrapes the 3 nodes; its HTTP API
      shows up == 1 for each and a counter that moved after a `kv put`.
  cluster_up_serves_metrics_on_each_node
      `kv cluster up` starts every node with a metrics port, printed and listed.
  metrics_flag_is_checked
      --metrics-listen with a bad address or the node's own port is a usage error.

promtool and prometheus come from Debian's prometheus package, which
scripts/setup.sh installs; without them the test exits 77 (skipped).

Run: python3 tests/process/test_metrics.py --kvnode PATH --kv PATH
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    _PROCESSES, EXIT_CLUSTER_ERROR, EXIT_OK, EXIT_USAGE, _die_with_parent, _kill_pid, check, check_eq, free_port,
    loopback_address, run_tests, test, wait_converged, wait_until,
)

EXIT_SKIPPED = 77
PROBE_MS = 200
CONVERGE_S = 30.0
PROMETHEUS_WAIT_S = 60.0
DEAD_S = 20.0  # kill -9 until a survivor says dead (expected ~1-1.5 s at a 200 ms probe interval)
RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "prometheus",
                     "ringkv-rules.yml")
METRICS_CONNECTIONS_MAX = 16  # node/io/metrics_server.h


def metrics_node(ctx, name, index, extra_args=()):
    """A kvnode on 127.0.0.<index> with its metrics port on a free port of
    the same address (node.metrics_port); not started."""
    host = loopback_address(index)
    node = ctx.node(name=name, host=host, start=False)
    node.metrics_port = free_port(host)
    node.extra_args = ["--metrics-listen", f"{host}:{node.metrics_port}", "--probe-interval-ms", str(PROBE_MS),
                       *extra_args]
    return node


def three_nodes(ctx):
    nodes = [metrics_node(ctx, "node1", 1)]
    nodes[0].start()
    for i in (2, 3):
        node = metrics_node(ctx, f"node{i}", i, ["--seeds", nodes[0].address])
        node.start()
        nodes.append(node)
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "three nodes alive")
    return nodes


def scrape(node):
    return scrape_at(f"{node.host}:{node.metrics_port}")


def scrape_at(address):
    url = f"http://{address}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        check_eq(response.status, 200, f"GET {url}")
        check(response.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
              f"content type {response.headers['Content-Type']!r}")
        return response.read().decode()


def sample(text, name_with_labels):
    """The value of one sample line (exact name and labels), or None."""
    for line in text.splitlines():
        if line.startswith(name_with_labels + " "):
            return float(line.split()[-1])
    return None


def promtool_check(text):
    proc = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30, preexec_fn=_die_with_parent)
    check_eq(proc.returncode, 0, f"promtool check metrics: {proc.stdout.decode()}")


def raw_exchange(node, payload, timeout=5.0):
    """Sends `payload`, half-closes, and returns (everything read until the
    node closed the connection, whether it did)."""
    with socket.create_connection((node.host, node.metrics_port), timeout=timeout) as conn:
        received = b""
        try:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the node answered and closed already (over the cap)
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return received, True
                received += chunk
        except socket.timeout:
            return received, False
        except ConnectionResetError:
            return received, True


def status_line(response):
    return response.split(b"\r\n", 1)[0].decode(errors="replace")


@test
def scrape_is_valid_and_bad_requests_are_refused(ctx):
    nodes = three_nodes(ctx)
    before = scrape(nodes[0])
    writes_before = sample(before, "ringkv_coordinator_writes_total")
    check(writes_before is not None, "ringkv_coordinator_writes_total in the scrape")
    put = ctx.kv("put", "metrics-key", "v", node=nodes[0])
    check_eq(put.rc, EXIT_OK, f"put: {put.describe()}")
    for node in nodes:
        text = scrape(node)
        promtool_check(text)
        check_eq(sample(text, 'ringkv_members{liveness="alive"}'), 3.0, f"{node.name}'s alive members")
        check(sample(text, 'ringkv_ring_ownership_ratio{kind="replica"}') == 1.0,
              f"{node.name} replicates the whole ring (N = 3 on 3 nodes)")
        check(sample(text, "process_resident_memory_bytes") > 0, "resident memory")
    after = scrape(nodes[0])
    check_eq(sample(after, "ringkv_coordinator_writes_total"), writes_before + 1, "writes after one put")
    check_eq(sample(after, 'ringkv_request_duration_seconds_count{op="put",consistency="quorum"}'), 1.0,
             "put latency samples")
    # The put's replica writes to the two other nodes were timed.
    check(sample(after, 'ringkv_replica_request_duration_seconds_count{op="write"}') >= 2,
          "replica write round trips")

    node = nodes[1]
    malformed = [
        (b"GARBAGE\r\n\r\n", "400"),
        (b"\x00\xff\x16\x03\x01binary\r\n\r\n", "400"),  # e.g. a TLS hello
        (b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 10000, "431"),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody", "400"),
        (b"GET /metrics HTTP/3.0\r\n\r\n", "400"),
    ]
    for payload, status in malformed:
        response, closed = raw_exchange(node, payload)
        check(status_line(response).startswith(f"HTTP/1.1 {status} "),
              f"{payload[:30]!r} answered {status_line(response)!r}")
        check(closed, f"{payload[:30]!r}: the connection is closed")
    # Unknown paths and other methods are answered, and the connection stays
    # usable for the next request (keep-alive).
    response, _ = raw_exchange(node, b"GET /nope HTTP/1.1\r\n\r\nDELETE /metrics HTTP/1.1\r\n\r\n"
                                     b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
    statuses = [status.decode() for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", response)]
    check_eq(statuses, ["404", "405", "200"], "pipelined answers")
    # A request cut off mid-way, then the peer goes: nothing is answered.
    response, closed = raw_exchange(node, b"GET /metr")
    check(closed and response == b"", f"a partial request then EOF: {response!r}")
    # One connection over the cap gets 503 and is closed.
    held = [socket.create_connection((node.host, node.metrics_port), timeout=5)
            for _ in range(METRICS_CONNECTIONS_MAX)]
    try:
        wait_until(lambda: raw_exchange(node, b"GET /metrics HTTP/1.1\r\n\r\n", timeout=2.0)[0]
                   .startswith(b"HTTP/1.1 503 "), 10.0, "503 over the connection cap")
    finally:
        for conn in held:
            conn.close()
    # Still serving, and the refusals were counted.
    text = wait_until(lambda: _scrape_or_none(node), 10.0, "a scrape after the bad requests")
    promtool_check(text)
    check(sample(text, "ringkv_metrics_requests_refused_total") >= len(malformed) + 2,
          "refused requests counted")
    check(sample(text, 'ringkv_connections_refused_over_cap_total{port="metrics"}') >= 1, "over-cap counted")
    check(node.alive(), "node2 still running")


@test
def a_dead_member_shows_with_its_hints_and_refusals(ctx):
    nodes = three_nodes(ctx)
    n1, n3 = nodes[0], nodes[2]
    n3.kill()
    wait_until(lambda: sample(scrape(n1), 'ringkv_members{liveness="dead"}') == 1.0, DEAD_S,
               "node1's scrape to show node3 dead", interval=0.1)
    for i in range(3):
        put = ctx.kv("put", f"hinted-{i}", "value", node=n1)
        check_eq(put.rc, EXIT_OK, f"QUORUM put with node3 down: {put.describe()}")
    refused = ctx.kv("--consistency", "all", "put", "all-key", "v", node=n1)
    check_eq(refused.rc, EXIT_CLUSTER_ERROR, f"ALL put with node3 down: {refused.describe()}")
    # node1 and node2 hold the hints for node3 between them.
    texts = [scrape(node) for node in nodes[:2]]
    for text in texts:
        promtool_check(text)
    pending = sum(sample(t, 'ringkv_hints_pending{target="node3"}') or 0 for t in texts)
    check_eq(pending, 3.0, "hints pending for node3 over node1 and node2")
    check(sum(sample(t, 'ringkv_hints_pending_bytes{target="node3"}') or 0 for t in texts) >= 3 * len("hinted-0value"),
          "hint bytes for node3")
    check(any((sample(t, 'ringkv_hints_oldest_age_seconds{target="node3"}') or -1) >= 0 for t in texts),
          "age of node3's oldest hint")
    check_eq(sample(texts[0], "ringkv_coordinator_unavailable_total"), 1.0, "UNAVAILABLE counted on node1")


def _scrape_or_none(node):
    try:
        return scrape(node)
    except (OSError, urllib.error.URLError):
        return None


def prometheus_query(port, query):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    if body.get("status") != "success":
        return None
    return body["data"]["result"]


@test
def prometheus_scrapes_the_cluster(ctx):
    nodes = three_nodes(ctx)
    targets = [f"{n.host}:{n.metrics_port}" for n in nodes]
    home = os.path.join(ctx.workdir, "prometheus")
    os.makedirs(home)
    config = os.path.join(home, "prometheus.yml")
    with open(config, "w") as out:
        out.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                  f"rule_files:\n  - {os.path.abspath(RULES)}\n"
                  "scrape_configs:\n  - job_name: ringkv\n    static_configs:\n"
                  f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
    port = free_port("127.0.0.1")
    log_path = os.path.join(home, "prometheus.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={home}/data",
                                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=home,
                                preexec_fn=_die_with_parent)
    _PROCESSES[proc.pid] = proc
    try:
        def all_up():
            check(proc.poll() is None, f"prometheus exited with {proc.returncode}: {open(log_path).read()[-2000:]}")
            result = prometheus_query(port, 'up{job="ringkv"}')
            if result is None or len(result) != 3:
                return None
            return all(r["value"][1] == "1" for r in result) and result
        result = wait_until(all_up, PROMETHEUS_WAIT_S, "prometheus to see up == 1 for all three nodes", interval=0.5)
        check_eq(sorted(r["metric"]["instance"] for r in result), sorted(targets), "scraped instances")

        instance = targets[0]
        query = f'ringkv_coordinator_writes_total{{instance="{instance}"}}'
        first = wait_until(lambda: prometheus_query(port, query), PROMETHEUS_WAIT_S, "the writes counter in prometheus",
                           interval=0.5)
        before = float(first[0]["value"][1])
        put = ctx.kv("put", "scraped-key", "v", node=nodes[0])
        check_eq(put.rc, EXIT_OK, f"put: {put.describe()}")

        def moved():
            result = prometheus_query(port, query)
            return result and float(result[0]["value"][1]) >= before + 1
        wait_until(moved, PROMETHEUS_WAIT_S, "prometheus to see the put in ringkv_coordinator_writes_total",
                   interval=0.5)
        # The shipped rules loaded, and none fires on a healthy cluster.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5) as response:
            groups = json.load(response)["data"]["groups"]
        check_eq([g["name"] for g in groups], ["ringkv"], "rule groups loaded")
        firing = [r["name"] for r in groups[0]["rules"] if r.get("state") == "firing"]
        check_eq(firing, [], "alerts firing on a healthy cluster")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_pid(proc)
        _PROCESSES.pop(proc.pid, None)


@test
def cluster_up_serves_metrics_on_each_node(ctx):
    folder = os.path.join(ctx.workdir, "cluster")
    port = free_port("127.0.0.1")
    base = ["cluster", "--dir", folder]
    up = ctx.kv(*base, "up", "--nodes", "2", "--port", port, "--replicas", "1", "--kvnode", ctx.kvnode_path,
                timeout=90)
    try:
        check_eq(up.rc, EXIT_OK, f"cluster up: {up.describe()}")
        listed = ctx.kv(*base, "list", "--json")
        check_eq(listed.rc, EXIT_OK, f"cluster list: {listed.describe()}")
        metrics = [n["metrics"] for n in listed.json()["nodes"]]
        check_eq(metrics, [f"127.0.1.{i}:{port}" for i in (1, 2)], "metrics addresses listed")
        for address in metrics:
            check(f"metrics at http://{address}/metrics" in up.out.decode(), f"up prints {address}: {up.out!r}")
            promtool_check(scrape_at(address))
    finally:
        ctx.kv(*base, "down", timeout=60)


@test
def metrics_flag_is_checked(ctx):
    node = ctx.node(name="n1", host=loopback_address(1), start=False)
    node.port = free_port(node.host)
    for value in ("not-an-address", node.address):
        proc = subprocess.run(node.argv() + ["--metrics-listen", value], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=30, preexec_fn=_die_with_parent)
        check_eq(proc.returncode, EXIT_USAGE, f"--metrics-listen {value}: {proc.stdout.decode()}")
        check(b"--metrics-listen" in proc.stdout, f"the error names the flag: {proc.stdout!r}")


if __name__ == "__main__":
    missing = [tool for tool in ("promtool", "prometheus") if shutil.which(tool) is None]
    if missing:
        print(f"SKIP: {' and '.join(missing)} not installed (Debian package prometheus; scripts/setup.sh)")
        print("0 passed, 0 failed, 1 skipped", flush=True)
        sys.exit(EXIT_SKIPPED)
    sys.exit(run_tests())
