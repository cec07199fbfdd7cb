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
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, check, run_tests, test,
)
from skewed_node import start_skewed_cluster  # noqa: E402

PROBE_MS = 200
CONVERGE_S = 20.0
KV_S = 15.0
OVERWRITES = 60


def skewed_cluster(ctx, offsets):
    return start_skewed_cluster(ctx, offsets, 41, ["--probe-interval-ms", str(PROBE_MS)], CONVERGE_S)


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
