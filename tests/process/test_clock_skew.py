#!/usr/bin/env python3
"""Nodes whose wall clocks disagree, with real kvnode processes on 127.0.0.x. A node's wall
clock is skewed with Debian's libfaketime (LD_PRELOAD, monotonic clock left alone), so only
what the node reads as the time of day moves: its timers (libuv, CLOCK_MONOTONIC) do not.

  offset_visible_in_status   3 nodes, one 60 s ahead: `kv --json status` on another node
                             shows `clock_offset_ms` near +60000 for it and near 0 for the
                             third, null for itself; the skewed node sees the others near
                             -60000; the text table shows it; a warning is logged (above
                             --max-clock-offset-ms, default 500) and counted in `kv stats`

Run: python3 tests/process/test_clock_skew.py --kvnode PATH --kv PATH [-k NAME]
"""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    EXIT_OK, Node, check, check_eq, loopback_address, member_view, run_tests, test,
    wait_converged, wait_until,
)

PROBE_MS = 200
SKEW_S = 60
# Within a few round trips on loopback; generous for a loaded machine.
OFFSET_TOLERANCE_MS = 250
FIRST_INDEX = 81  # 127.0.0.81..: no other test starts nodes there
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


class SkewedNode(Node):
    """A kvnode whose wall clock runs `skew_s` seconds ahead (negative: behind). `env` execs
    kvnode in place, so the harness's pid is kvnode's and killing it works as for any node."""

    def __init__(self, *args, skew_s=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.skew_s = skew_s

    def argv(self):
        return ["env", f"LD_PRELOAD={LIBFAKETIME}", f"FAKETIME={self.skew_s:+d}",
                "FAKETIME_DONT_FAKE_MONOTONIC=1", *super().argv()]


def start_node(ctx, name, index, skew_s=0, seeds=(), extra_args=()):
    """Starts node `name` on 127.0.0.<index> with its wall clock `skew_s` seconds off (0: an
    ordinary node), joining through `seeds`; the context stops it at the end of the test."""
    check(os.path.exists(LIBFAKETIME), f"{LIBFAKETIME} missing (Debian package faketime)")
    check(all(n.name != name for n in ctx.nodes), f"node name {name} used twice")
    args = ["--probe-interval-ms", str(PROBE_MS), *extra_args]
    if seeds:
        args += ["--seeds", ",".join(seed.address for seed in seeds)]
    if skew_s:
        node = SkewedNode(ctx.kvnode_path, ctx.workdir, name=name, host=loopback_address(index),
                          extra_args=args, skew_s=skew_s)
    else:
        node = Node(ctx.kvnode_path, ctx.workdir, name=name, host=loopback_address(index),
                    extra_args=args)
    ctx.nodes.append(node)
    return node.start()


def clock_offsets(ctx, observer):
    """{member name: clock_offset_ms or None} in `observer`'s `kv --json status`."""
    view = member_view(ctx.kv_path, observer)
    check(view is not None, f"{observer.name} answers status")
    return {name: member.get("clock_offset_ms") for name, member in view.items()}


def wait_offsets(ctx, observer, names, what):
    """Polls until `observer` shows an offset for each of `names`; returns the offsets."""
    found = {}

    def measured():
        found.update(clock_offsets(ctx, observer))
        return all(found.get(name) is not None for name in names)

    wait_until(measured, 30.0, what)
    return found


@test
def offset_visible_in_status(ctx):
    plain1 = start_node(ctx, "plain1", FIRST_INDEX)
    plain2 = start_node(ctx, "plain2", FIRST_INDEX + 1, seeds=[plain1])
    ahead = start_node(ctx, "ahead", FIRST_INDEX + 2, skew_s=SKEW_S, seeds=[plain1])
    nodes = [plain1, plain2, ahead]
    wait_converged(ctx.kv_path, nodes, 30.0, "3 nodes, one 60 s ahead")

    offsets = wait_offsets(ctx, plain1, ["plain2", "ahead"], "plain1 measures both peers")
    check_eq(offsets["plain1"], None, "plain1's offset from itself")
    expected = SKEW_S * 1000
    check(abs(offsets["ahead"] - expected) <= OFFSET_TOLERANCE_MS,
          f"plain1 sees ahead at {offsets['ahead']} ms, expected {expected} +/- {OFFSET_TOLERANCE_MS}")
    check(abs(offsets["plain2"]) <= OFFSET_TOLERANCE_MS,
          f"plain1 sees plain2 at {offsets['plain2']} ms, expected 0 +/- {OFFSET_TOLERANCE_MS}")
    seen_by_ahead = wait_offsets(ctx, ahead, ["plain1", "plain2"], "ahead measures both peers")
    for name in ("plain1", "plain2"):
        check(abs(seen_by_ahead[name] + expected) <= OFFSET_TOLERANCE_MS,
              f"ahead sees {name} at {seen_by_ahead[name]} ms, expected {-expected}")
    print(f"  plain1 sees ahead {offsets['ahead']:+d} ms, plain2 {offsets['plain2']:+d} ms; "
          f"ahead sees plain1 {seen_by_ahead['plain1']:+d} ms, plain2 {seen_by_ahead['plain2']:+d} ms")

    table = ctx.kv("status", node=plain1)
    check_eq(table.rc, EXIT_OK, f"kv status: {table.describe()}")
    check("CLOCK_MS" in table.out.decode(), f"no CLOCK_MS column: {table.out.decode()}")
    row = next(line for line in table.out.decode().splitlines() if " ahead " in line)
    shown = row.split()[-1]
    check(shown.startswith("+") and abs(int(shown) - expected) <= OFFSET_TOLERANCE_MS,
          f"ahead's row does not end with its offset: {row}")

    # Warned (once per member per minute) on both sides of the skew, and counted.
    wait_until(lambda: any("clock offset" in line and "ahead" in line for line in plain1.log_lines()),
               10.0, "plain1 logs a clock offset warning about ahead")
    warned = [line for line in plain1.log_lines() if "clock offset" in line]
    check(all("ahead" in line for line in warned), f"plain1 warned about a node in step: {warned}")
    check(all(" warn" in line for line in warned), f"not at warning level: {warned}")
    stats = ctx.kv("--json", "stats", node=plain1)
    check_eq(stats.rc, EXIT_OK, f"kv stats: {stats.describe()}")
    count = stats.json().get("clock_offset_warnings")
    check_eq(count, len(warned), "clock_offset_warnings in kv stats against the log")
    ahead_warned = [line for line in ahead.log_lines() if "clock offset" in line]
    check(len(ahead_warned) >= 2, f"ahead did not warn about both peers: {ahead_warned}")
    print(f"  warnings: plain1 {len(warned)} (about ahead), ahead {len(ahead_warned)}; "
          f"e.g. {warned[0].split('] ', 1)[-1]}")


if __name__ == "__main__":
    sys.exit(run_tests())
