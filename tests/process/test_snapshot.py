#!/usr/bin/env python3
"""Snapshots that restore (kv snapshot, kvnode --restore-snapshot; README "Backups").

  cluster_restore_brings_back_the_snapshot
        3 nodes, N=3, keyed: 40 keys written at ALL; `kv snapshot --tag backup` on every
        node; every node restarted (its generation moves past the snapshot's); then 10 keys
        overwritten, 10 deleted, 10 new ones written; every node stopped,
        restored offline, started: each of the 40 keys reads back its snapshot value at
        ALL and with `get --local` on each of its endpoints (the deleted ones are back,
        the overwrites gone), the 10 new keys are absent everywhere, and every node came
        back with a higher incarnation than before the restore (its generation did not go
        back to the snapshot's, which peers' replay guards would refuse)
  snapshot_refusals_and_listing
        one node with --users: a readwrite user's snapshot is exit 5 and makes nothing;
        an admin's works; a taken tag, a bad tag ('../x', 65 characters) and removing a
        missing snapshot are exit 3 and change nothing; list shows tag, time and bytes
        (JSON field names of README); remove deletes it; restoring a missing tag or
        while the node runs is refused (exit 1) and the data is intact

Nodes listen on 127.0.0.141-143 (no other process test uses them), free ports.
Run: python3 tests/process/test_snapshot.py --kvnode PATH --kv PATH
"""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_CLUSTER_ERROR, EXIT_NOT_FOUND, EXIT_OK, _die_with_parent, check, check_eq, member_view,
    run_tests, start_cluster, test, wait_converged,
)

EXIT_NOT_ALLOWED = 5
PROBE_MS = 200
CONVERGE_S = 20.0
FIRST_INDEX = 141  # 127.0.0.141..143


def kv_ok(ctx, *args, node):
    result = ctx.kv(*args, node=node)
    check(result.rc == EXIT_OK, f"expected exit 0: {result.describe()}")
    return result


def restore(node, tag):
    """Runs the node's own command line with --restore-snapshot TAG; returns (rc, output)."""
    proc = subprocess.run(node.argv() + ["--restore-snapshot", tag], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=60, preexec_fn=_die_with_parent)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def incarnations(ctx, nodes):
    """Each node's incarnation as node1 sees it."""
    view = member_view(ctx.kv_path, nodes[0])
    check(view is not None, "kv status failed")
    return {node.name: view[node.name]["incarnation"] for node in nodes}


def write_secret(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


@test
def cluster_restore_brings_back_the_snapshot(ctx):
    keyring = os.path.join(ctx.workdir, "cluster.keyring")
    write_secret(keyring, kv_ok(ctx, "keygen", node=None).out.decode().strip())
    nodes = start_cluster(ctx, 3, PROBE_MS, first_index=FIRST_INDEX,
                          extra_args=["--replicas", "3", "--keyring", keyring])
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "3-node cluster start")
    snapshot = {f"key-{i}": f"snapshot value {i}" for i in range(40)}
    for i, (key, value) in enumerate(snapshot.items()):
        kv_ok(ctx, "--consistency", "all", "put", key, value, node=nodes[i % 3])

    for node in nodes:
        made = kv_ok(ctx, "--json", "snapshot", "--tag", "backup", node=node).json()
        check_eq(made["node"], node.name, "snapshot made on the node kv reached")
        check_eq([s["tag"] for s in made["snapshots"]], ["backup"], "snapshot tag")

    # A restart after the snapshot: the live data's generation is now above the snapshot's.
    for node in nodes:
        node.restart()
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "cluster restart after the snapshot")

    overwritten = [f"key-{i}" for i in range(0, 10)]
    deleted = [f"key-{i}" for i in range(10, 20)]
    later = [f"later-{i}" for i in range(10)]
    for key in overwritten:
        kv_ok(ctx, "--consistency", "all", "put", key, "overwritten after the snapshot", node=nodes[0])
    for key in deleted:
        kv_ok(ctx, "--consistency", "all", "del", key, node=nodes[1])
    for key in later:
        kv_ok(ctx, "--consistency", "all", "put", key, "written after the snapshot", node=nodes[2])
    check_eq(ctx.kv("get", deleted[0], node=nodes[0]).rc, EXIT_NOT_FOUND, "a deleted key before the restore")

    before = incarnations(ctx, nodes)
    for node in nodes:
        check_eq(node.stop(), 0, f"{node.name} stops cleanly")
    for node in nodes:
        rc, output = restore(node, "backup")
        check(rc == 0, f"{node.name}: restore exited {rc}: {output}")
    for node in nodes:
        node.start()
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, "cluster restart after the restore")
    after = incarnations(ctx, nodes)
    for node in nodes:
        check(after[node.name] > before[node.name],
              f"{node.name}: incarnation {after[node.name]} after the restore is not above "
              f"{before[node.name]} before it")

    for key, value in snapshot.items():
        got = kv_ok(ctx, "--consistency", "all", "get", key, node=nodes[0])
        check_eq(got.out.decode(), value, f"{key} at ALL after the restore")
        endpoints = kv_ok(ctx, "--json", "endpoints", key, node=nodes[1]).json()["endpoints"]
        check_eq(len(endpoints), 3, f"{key}: endpoints")
        for endpoint in endpoints:
            local = ctx.kv("get", key, "--local", host=endpoint["address"])
            check(local.rc == EXIT_OK and local.out.decode() == value,
                  f"{key} on its replica {endpoint['name']}: {local.describe()}")
    for key in later:
        check_eq(ctx.kv("--consistency", "all", "get", key, node=nodes[0]).rc, EXIT_NOT_FOUND,
                 f"{key}, written after the snapshot, at ALL")
        for node in nodes:
            check_eq(ctx.kv("get", key, "--local", node=node).rc, EXIT_NOT_FOUND,
                     f"{key}, written after the snapshot, on {node.name}")
    print(f"  restored 3 nodes: {len(snapshot)} keys back ({len(deleted)} of them deleted after the "
          f"snapshot), {len(later)} later keys gone; incarnations {before} -> {after}")


@test
def snapshot_refusals_and_listing(ctx):
    users = os.path.join(ctx.workdir, "users")
    passwords = {}
    for name, role in (("writer", "readwrite"), ("boss", "admin")):
        passwords[name] = write_secret(os.path.join(ctx.workdir, f"{name}.pw"), f"pw of {name}")
        kv_ok(ctx, "users", "add", users, name, "--role", role, "--password-file", passwords[name], node=None)
    node = ctx.node(name="s1", host=f"127.0.0.{FIRST_INDEX}",
                    extra_args=["--replicas", "1", "--users", users])

    def kv_as(user, *args):
        return ctx.kv("--user", user, "--password-file", passwords[user], *args, node=node)

    check_eq(kv_as("writer", "put", "k", "before").rc, EXIT_OK, "a readwrite user's put")
    refused = kv_as("writer", "snapshot", "--tag", "nope")
    check_eq(refused.rc, EXIT_NOT_ALLOWED, f"a readwrite user's snapshot: {refused.describe()}")
    check("admin" in refused.err, f"the refusal names the role needed: {refused.err}")
    check_eq(kv_as("writer", "snapshot", "list").rc, EXIT_NOT_ALLOWED, "a readwrite user's snapshot list")
    snapshots_dir = os.path.join(node.data_dir, "snapshots")
    check(not os.path.exists(os.path.join(snapshots_dir, "nope")), "a refused snapshot made nothing")

    check_eq(kv_as("boss", "snapshot", "--tag", "first").rc, EXIT_OK, "an admin's snapshot")
    for bad in ("first", "../x", "a" * 65, ".hidden"):
        result = kv_as("boss", "snapshot", "--tag", bad)
        check_eq(result.rc, EXIT_CLUSTER_ERROR, f"snapshot --tag {bad[:20]!r}: {result.describe()}")
        check("INVALID" in result.err, f"the reason is given: {result.err}")
    missing = kv_as("boss", "snapshot", "remove", "missing")
    check_eq(missing.rc, EXIT_CLUSTER_ERROR, f"removing a missing snapshot: {missing.describe()}")
    check_eq(sorted(os.listdir(snapshots_dir)), ["first"], "refusals made or removed nothing")
    check(not os.path.exists(os.path.join(ctx.workdir, "x")), "no snapshot escaped its folder")

    listed = kv_as("boss", "--json", "snapshot", "list")
    check_eq(listed.rc, EXIT_OK, f"snapshot list: {listed.describe()}")
    doc = json.loads(listed.out)
    check_eq(doc["node"], "s1", "list: node")
    check_eq(doc["action"], "list", "list: action")
    check_eq([s["tag"] for s in doc["snapshots"]], ["first"], "list: tags")
    entry = doc["snapshots"][0]
    check(entry["bytes"] > 0 and entry["created_us"] > 0 and entry["time"].endswith("Z"),
          f"list: bytes, created_us and time: {entry}")
    text = kv_as("boss", "snapshot", "list").out.decode()
    check(text.startswith("first  ") and "bytes" in text, f"list as text: {text!r}")

    # Restores that must be refused, changing nothing.
    rc, output = restore(node, "first")
    check(rc == 1 and "still running" in output, f"restore while the node runs: exit {rc}: {output}")
    node.stop()
    rc, output = restore(node, "missing")
    check(rc == 1 and "no snapshot missing" in output, f"restore of a missing tag: exit {rc}: {output}")
    node.start()
    got = kv_as("writer", "get", "k")
    check_eq(got.out.decode(), "before", "data intact after refused restores")

    check_eq(kv_as("boss", "snapshot", "remove", "first").rc, EXIT_OK, "remove")
    check_eq(os.listdir(snapshots_dir), [], "remove deleted the snapshot's folder")
    check_eq(json.loads(kv_as("boss", "--json", "snapshot", "list").out)["snapshots"], [], "list after remove")


if __name__ == "__main__":
    sys.exit(run_tests())
