"""A kvnode whose wall clock is skewed, for process tests: Debian's libfaketime through
LD_PRELOAD shifts CLOCK_REALTIME by a fixed offset and leaves the monotonic clock alone.
"""

import os
import shutil

from harness import Node, check, loopback_address, wait_converged

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


def start_skewed_cluster(ctx, offsets, first_address, extra_args=(), converge_s=20.0):
    """Nodes node1..nodeN on 127.0.0.<first_address + i>, the clock of node i offsets[i]
    seconds off, each seeded with node1; returns them once all see each other alive and
    normal in the ring."""
    if any(offsets):
        check(os.path.exists(FAKETIME_LIBRARY) and shutil.which("env"),
              f"{FAKETIME_LIBRARY} missing: install Debian's faketime (scripts/setup.sh does)")
    nodes = []
    for i, offset in enumerate(offsets):
        node = SkewedNode(ctx.kvnode_path, ctx.workdir, name=f"node{i + 1}",
                          host=loopback_address(first_address + i), offset_s=offset,
                          extra_args=list(extra_args))
        if nodes:
            node.extra_args += ["--seeds", nodes[0].address]
        ctx.nodes.append(node)
        node.start()
        nodes.append(node)
    wait_converged(ctx.kv_path, nodes, converge_s, f"{len(nodes)}-node cluster start (clocks off by {offsets} s)")
    return nodes
