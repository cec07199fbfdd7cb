#!/usr/bin/env python3
"""Acknowledged overwrites under clock skew (TESTING.md T12, issue 12 item 2), with real
kvnode processes whose wall clocks are shifted by libfaketime (monotonic clocks untouched).

  sequential_writer_skew_1s       5 nodes, N=3, clocks within +-1 s: one writer overwrites
                                  one key through every node in turn; after each
                                  acknowledgement a QUORUM read through a node that is not the
                                  next writer returns
                                  exactly that value (none hidden by an older-clock version)
  sequential_writer_skew_60s      the same with clocks +-60 s apart
  sequential_writer_skew_10min    the same with clocks +-10 min apart
  write_once_keys_under_skew      unique keys written through every node survive (+-60 s)

The figures printed are the stale reads (goal 0) and the writes the coordinators
re-stamped (`writes_restamped` in `kv stats`).

Run: python3 tests/process/test_skewed_overwrites.py --kvnode PATH --kv PATH [-k NAME]
"""

import os
import shutil
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, Node, check, loopback_address, run_tests, test, wait_converged,
)

PROBE_MS = 200
CONVERGE_S = 20.0
KV_S = 15.0
OVERWRITES = 60
FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


class SkewedNode(Node):
    """A kvnode whose wall clock runs `offset_s` seconds off (libfaketime through
    LD_PRELOAD, started with `env` so the PID stays the node's own)."""

    def __init__(self, *args, offset_s=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.offset_s = offset_s

    def argv(self):
        if self.offset_s == 0:
            return super().argv()
        return ["env", f"LD_PRELOAD={FAKETIME_LIBRARY}", f"FAKETIME={self.offset_s:+d}s",
                "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_NO_CACHE=1"] + super().argv()


def skewed_cluster(ctx, offsets):
    check(os.path.exists(FAKETIME_LIBRARY) and shutil.which("env"),
          f"{FAKETIME_LIBRARY} missing: install Debian's faketime (scripts/setup.sh does)")
    nodes = []
    for i, offset in enumerate(offsets):
        node = SkewedNode(ctx.kvnode_path, ctx.workdir, name=f"node{i + 1}",
                          host=loopback_address(41 + i), offset_s=offset,
                          extra_args=["--probe-interval-ms", str(PROBE_MS)])
        if nodes:
            node.extra_args += ["--seeds", nodes[0].address]
        ctx.nodes.append(node)
        node.start()
        nodes.append(node)
    wait_converged(ctx.kv_path, nodes, CONVERGE_S, f"{len(nodes)}-node skewed cluster start")
    return nodes


def kv_ok(ctx, *args, node):
    result = ctx.kv(*args, node=node, timeout=KV_S)
    check(result.rc == EXIT_OK, f"kv {' '.join(args)} through {node.name}: {result.describe()}")
    return result


def restamped(ctx, nodes):
    return sum(int(kv_ok(ctx, "--json", "stats", node=n).json().get("writes_restamped", 0))
               for n in nodes)


def sequential_writer(ctx, offsets):
    nodes = skewed_cluster(ctx, offsets)
    stale = []
    for i in range(OVERWRITES):
        # The reader is never the next writer: a read moves its coordinator's
        # clock past what it saw, which would hide the skew from the next write.
        writer, reader = nodes[i % len(nodes)], nodes[(i + 3) % len(nodes)]
        value = f"v{i}"
        kv_ok(ctx, "put", "hot", value, node=writer)
        got = kv_ok(ctx, "get", "hot", node=reader).out.decode()
        if got != value:
            stale.append((i, writer.name, reader.name, got))
    figures = f"skew {offsets} s: {len(stale)} of {OVERWRITES} acknowledged overwrites read stale; " \
              f"{restamped(ctx, nodes)} writes re-stamped"
    print(f"    {figures}", flush=True)
    check(not stale, f"{figures}; first stale reads (i, writer, reader, got): {stale[:5]}")


@test
def sequential_writer_skew_1s(ctx):
    sequential_writer(ctx, [0, 1, -1, 1, -1])


@test
def sequential_writer_skew_60s(ctx):
    sequential_writer(ctx, [0, 60, -60, 30, -30])


@test
def sequential_writer_skew_10min(ctx):
    sequential_writer(ctx, [0, 600, -600, 60, -60])


@test
def write_once_keys_under_skew(ctx):
    nodes = skewed_cluster(ctx, [0, 60, -60, 30, -30])
    written = {}
    for i in range(40):
        key, value = f"once-{i}", f"value-{i}"
        kv_ok(ctx, "put", key, value, node=nodes[i % len(nodes)])
        written[key] = value
    for i, (key, value) in enumerate(written.items()):
        got = kv_ok(ctx, "get", key, node=nodes[(i + 2) % len(nodes)]).out.decode()
        check(got == value, f"{key}: read {got!r}, acknowledged {value!r}")


if __name__ == "__main__":
    sys.exit(run_tests())
