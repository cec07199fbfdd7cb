#!/usr/bin/env python3
"""Deterministic reproduction of a hinted-handoff gap the chaos runner found (T1b, T3b):
when the STAND-IN chosen for a down natural replica fails (unreachable, or killed but not
yet declared dead), nobody keeps the hint, and the natural replica never receives the
write. The write was acknowledged at QUORUM (two natural replicas have it), but after the
down replica returns and every hint queue is drained, one of the key's N replicas lacks
it for good (TESTING.md C1 "from each of its N replicas", C4 convergence).

Setup, in a private network namespace (as the chaos runner does):
  5 nodes n1..n5 (N=3, P=200 ms); the link n1 <-> n5 is cut both ways (n1 still hears
  through the others that n5 is alive, so n5 stays 'alive' in n1's view); n3 is killed
  and declared dead. 300 QUORUM puts through n1. For keys whose replicas include n3, n1
  picks the next node clockwise as n3's stand-in; when that is n5 the stand-in write
  fails, and node/core/coordinator.cc only hints NATURAL replicas that fail or never
  answer (on_replica_result and finish test `replica.natural`), so n3's copy is dropped.
  Then: cut healed, n3 restarted, quiescence (all alive, no hints stored), and every
  acknowledged key is read with `get --local` on each replica `endpoints` names.

Expected: 0 replicas missing. Exit 0 when none is missing, 1 otherwise, 0 with SKIP when
namespaces are unavailable.

Run (as root): python3 tests/chaos/repro_standin_hint.py --kvnode build/node/kvnode
"""

import argparse
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "process"))

import harness  # noqa: E402
import chaos_check  # noqa: E402
import chaos_client as cc  # noqa: E402
import chaos_faults as cf  # noqa: E402
import chaos_netns as cn  # noqa: E402


def inside(args):
    tool, reasons = cn.find_iptables()
    if tool is None:
        print("SKIP: no working iptables in the namespace: " + "; ".join(reasons))
        return 0
    cn.run(["ip", "route", "replace", "local", "127.0.0.0/8", "dev", "lo", "table", "local", "proto",
            "kernel", "scope", "host", "src", "127.0.0.254"])
    net = cn.Net(tool)
    workdir = args.workdir
    cluster = cf.Cluster(args.kvnode, workdir, 5, 3, 200, print)
    cluster.clock = time.monotonic
    try:
        cluster.start()
        time.sleep(1.5)
        for rule in cn.cut_rules(["127.0.0.1"], ["127.0.0.5"]) + cn.cut_rules(["127.0.0.5"], ["127.0.0.1"]):
            net.add(rule)
        cluster.kill("n3")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            view = cluster.status_of("n1")
            if view and view["members"]["n3"]["liveness"] == "dead" and \
                    view["members"]["n5"]["liveness"] == "alive":
                break
            time.sleep(0.1)
        view = cluster.status_of("n1")
        print("n1's view:", {n: m["liveness"] for n, m in sorted(view["members"].items())})
        conn = cc.Connection(*cluster.address_of("n1"))
        acked = []
        for i in range(300):
            key = f"standin-{i}".encode()
            outcome, _ = cc.decode_write(conn.call(cc.PUT_REQUEST, cc.put_fields(key, b"v", "quorum"), 5))
            if outcome == cc.OK:
                acked.append(key)
        conn.close()
        time.sleep(3)  # past the coordinator's request timeout: every hint it will write is written
        net.flush()
        cluster.restart("n3")
        quiet, reasons = chaos_check.wait_quiescent(cluster, 60, print)
        print(f"quiescence after {quiet} s" if quiet is not None else f"no quiescence: {reasons}")
        missing = []
        for key in acked:
            eps = cc.decode_endpoints(cc.one_call(*cluster.address_of("n1"), cc.ENDPOINTS_REQUEST, [key]))
            for name, _address in eps:
                got = cc.decode_get(cc.one_call(*cluster.address_of(name), cc.GET_REQUEST,
                                                cc.get_fields(key, "one", local=True)))
                if got[0] != cc.OK or not got[1].get("found"):
                    missing.append((key.decode(), name, [n for n, _ in eps]))
        print(f"{len(acked)} puts acknowledged at QUORUM through n1; {len(missing)} replica copies "
              f"missing after quiescence")
        for key, name, eps in missing[:10]:
            print(f"  {key}: replicas {eps}, missing on {name}")
        print("FAIL" if missing else "PASS")
        return 1 if missing or quiet is None else 0
    finally:
        cluster.stop_all()
        net.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kvnode", default=os.path.join(HERE, "..", "..", "build", "node", "kvnode"))
    p.add_argument("--inside", action="store_true")
    p.add_argument("--workdir", default=None)
    args = p.parse_args()
    args.kvnode = os.path.abspath(args.kvnode)
    if args.inside:
        return inside(args)
    if os.geteuid() != 0:
        print("SKIP: network namespaces unavailable: not root")
        return 0
    namespace = f"ringkv-standin-{os.getpid()}"
    if cn.run(["ip", "netns", "add", namespace]).returncode != 0:
        print("SKIP: network namespaces unavailable: ip netns add failed")
        return 0
    import shutil
    import tempfile
    workdir = tempfile.mkdtemp(prefix="ringkv-standin-")
    try:
        cn.run(["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
        child = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, os.path.abspath(__file__),
                                  "--inside", "--kvnode", args.kvnode, "--workdir", workdir],
                                 preexec_fn=harness._die_with_parent)
        return child.wait(timeout=180)
    finally:
        cn.run(["ip", "netns", "del", namespace])
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
