#!/usr/bin/env python3
"""Cluster-wide settings (issue 15 item 4) with real kvnode processes.

  joiner_with_other_replicas_is_refused
      node1 founds a cluster with --replicas 3; node2 starts with --replicas 2 and node1 as
      its seed: it stops with exit code 2 and a log line naming the setting and both values
      ("replicas: this node 2, the cluster 3"), and node1 never lists it. node3 with the
      cluster's settings joins as usual.
  inconsistent_settings_are_refused_at_start
      a hint TTL at or above the tombstone grace (a late hint could bring a delete back) and
      a hint window above the hint TTL: kvnode exits 2 naming the settings, before it listens.

Run: python3 tests/process/test_cluster_settings.py --kvnode PATH --kv PATH
"""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    NodeError, check, check_eq, loopback_address, member_view, run_tests, test, wait_converged,
    wait_until,
)

CONVERGE_S = 30.0
REFUSE_S = 30.0


@test
def joiner_with_other_replicas_is_refused(ctx):
    node1 = ctx.node(name="node1", host=loopback_address(81), extra_args=["--replicas", "3"])
    node2 = ctx.node(name="node2", host=loopback_address(82), start=False,
                     extra_args=["--replicas", "2", "--seeds", node1.address])
    try:
        node2.start()
    except NodeError:
        pass  # it may stop before the harness saw its port open
    wait_until(lambda: not node2.alive(), REFUSE_S, "node2 (other --replicas) to stop")
    check_eq(node2.proc.returncode, 2, "node2's exit code")
    log = node2.log_text()
    check("replicas: this node 2, the cluster 3" in log,
          f"node2's log names the setting and both values:\n{node2.log_tail()}")
    node3 = ctx.node(name="node3", host=loopback_address(83),
                     extra_args=["--replicas", "3", "--seeds", node1.address])
    wait_converged(ctx.kv_path, [node1, node3], CONVERGE_S, "node3 joins with the cluster's settings")
    check("node2" not in (member_view(ctx.kv_path, node1) or {}), "node1 lists the refused node2")
    wait_until(lambda: ctx.kv("--json", "stats", node=node1).json().get("settings_mismatches", 0) >= 1,
               CONVERGE_S, "node1 counts the state it refused (settings_mismatches)")


@test
def inconsistent_settings_are_refused_at_start(ctx):
    for args, needles in (
            (["--tombstone-grace-s", "3600", "--hint-ttl-s", "3600"], ["hint TTL 3600 s", "tombstone grace 3600 s"]),
            (["--hint-window-s", "90000"], ["hint window (90000 s)", "hint TTL (86400 s)"])):
        argv = [ctx.kvnode_path, "--name", "bad", "--listen", f"{loopback_address(84)}:7999",
                "--data", os.path.join(ctx.workdir, "bad"), *args]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        check_eq(proc.returncode, 2, f"kvnode {' '.join(args)}")
        err = proc.stderr.decode()
        for needle in needles:
            check(needle in err, f"kvnode {' '.join(args)}: stderr names {needle!r}: {err!r}")


if __name__ == "__main__":
    sys.exit(run_tests())
