#!/usr/bin/env python3
"""A network partition between real kvnode processes, and its healing.

Runs inside a private network namespace made for the test (TESTING.md "Harness rules"), so
the iptables rules never touch the host:

  1. `ip netns add ringkv-test-<pid>`; where that fails (not root, no namespaces) the test
     prints "SKIP: network namespaces unavailable: <reason>" and
     "0 passed, 0 failed, 1 skipped", and exits 77 (EXIT_SKIPPED: CTest's SKIP_RETURN_CODE,
     so the test shows as skipped, never as passed). Likewise when no iptables variant
     (iptables, iptables-legacy, iptables-nft) can add a rule inside the namespace.
  2. Brings `lo` up inside and re-runs this script there with --inside.
  3. The namespace is deleted at the end, whatever happens.

Inside, the loopback route's preferred source is moved to 127.0.0.254, so the kv CLI (which
does not bind) talks to nodes 2..4 from 127.0.0.254 and is never cut by the partition; a
kvnode socket that forgot to bind to its own address would also come from there, and the
partition below would then not show (DESIGN.md's first trap).

  partition_and_heal  4 nodes on 127.0.0.1..4 (P = 100 ms); DROP in the INPUT chain every
                      packet from {1,2} to {3,4} and from {3,4} to {1,2} (all protocols: TCP
                      and UDP); each side must report the other side dead and its own side
                      alive, and keep doing so for 1 s; after the rules are removed all must
                      converge back to alive.
  long_partition_heals_by_reconnect
                      the same, held 32 s: longer than nodes keep gossiping to members they
                      declared dead (30 s), so only the periodic reconnect (seeds not seen
                      alive and a random dead member, every 30 P) can heal it.

Run (as root): python3 tests/process/test_partition.py --kvnode PATH --kv PATH
"""

import math
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (  # noqa: E402
    TestFailure, check, member_events, member_views, run_tests, start_cluster,
    test, wait_converged,
)

PROBE_MS = 100
SUSPICION_MULT, SUSPICION_MAX_MULT = 4, 6
RECONNECT_PERIODS = 30
PEER_REQUEST_TIMEOUT_S = 5.0  # node/io/peer_client.h: a push-pull sent into the partition
CLI_MARGIN_S = 2.0
GOSSIP_TO_DEAD_S = 30.0  # membership/config.h gossip_to_dead_ms (kvnode does not scale it)
CLIENT_SOURCE = "127.0.0.254"
IPTABLES = None  # chosen inside the namespace
# CTest's SKIP_RETURN_CODE for this test (tests/CMakeLists.txt): a skip is never a pass.
EXIT_SKIPPED = 77


def skip(reason):
    print(f"SKIP: {reason}")
    print("0 passed, 0 failed, 1 skipped", flush=True)
    return EXIT_SKIPPED


def run(argv, timeout=20):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)


def output_of(proc):
    return proc.stdout.decode("utf-8", "replace").strip()


# ---------------------------------------------------------------------------
# Outside: make the namespace, re-run inside, delete it.

def outside(argv):
    if shutil.which("ip") is None:
        return skip("network namespaces unavailable: no `ip` command")
    namespace = f"ringkv-test-{os.getpid()}"
    try:
        made = run(["ip", "netns", "add", namespace])
    except (OSError, subprocess.TimeoutExpired) as e:
        return skip(f"network namespaces unavailable: {e}")
    if made.returncode != 0:
        return skip(f"network namespaces unavailable: ip netns add: {output_of(made)}")
    child = None
    try:
        up = run(["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
        if up.returncode != 0:
            return skip(f"network namespaces unavailable: ip link set lo up: {output_of(up)}")
        # `ip netns exec` execs the command, so child.pid is the inner python's PID; the
        # nodes it starts die with it (PR_SET_PDEATHSIG) and are killed by PID at its exit.
        child = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable,
                                  os.path.abspath(__file__), "--inside", *argv],
                                 stdin=subprocess.DEVNULL, preexec_fn=harness._die_with_parent)
        harness._PROCESSES[child.pid] = child
        try:
            return child.wait(timeout=240)
        except subprocess.TimeoutExpired:
            print("FAIL partition test: inner run did not finish within 240 s (killed)")
            print("0 passed, 1 failed", flush=True)
            return 1
    finally:
        if child is not None:
            harness._kill_pid(child)
            harness._PROCESSES.pop(child.pid, None)
        gone = run(["ip", "netns", "del", namespace])
        if gone.returncode != 0:
            print(f"warning: ip netns del {namespace}: {output_of(gone)}", flush=True)


# ---------------------------------------------------------------------------
# Inside the namespace.

def find_iptables():
    """The first iptables variant that can add and delete an INPUT rule here."""
    reasons = []
    for tool in ("iptables", "iptables-legacy", "iptables-nft"):
        if shutil.which(tool) is None:
            reasons.append(f"{tool}: not installed")
            continue
        probe = ["-s", "127.0.0.250", "-d", "127.0.0.251", "-j", "DROP"]
        added = run([tool, "-w", "-A", "INPUT", *probe])
        if added.returncode == 0:
            removed = run([tool, "-w", "-D", "INPUT", *probe])
            if removed.returncode == 0:
                return tool, reasons
            reasons.append(f"{tool} -D: {output_of(removed)}")
        else:
            reasons.append(f"{tool} -A: {output_of(added)}")
    return None, reasons


def iptables(*args):
    result = run([IPTABLES, "-w", *args])
    if result.returncode != 0:
        raise TestFailure(f"{IPTABLES} {' '.join(args)}: {output_of(result)}")
    return output_of(result)


def cut_rules(side_a, side_b):
    """INPUT rules dropping everything between the two sides, in both directions (receiver's
    INPUT chain, source -> destination; no -p, so TCP, UDP and ICMP alike)."""
    rules = []
    for a in side_a:
        for b in side_b:
            rules.append(["-s", a.host, "-d", b.host, "-j", "DROP"])
            rules.append(["-s", b.host, "-d", a.host, "-j", "DROP"])
    return rules


def dropped_packets():
    text = iptables("-L", "INPUT", "-v", "-n", "-x")
    total = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "DROP" and fields[0].isdigit():
            total += int(fields[0])
    return total


def suspicion_max_s(members):
    return SUSPICION_MAX_MULT * SUSPICION_MULT * max(1.0, math.log10(members)) * PROBE_MS / 1000.0


def partition_then_heal(ctx, hold_s):
    """Cuts {1,2} from {3,4}, checks the split, holds it hold_s seconds (re-checking), heals
    and checks convergence; returns printable figures."""
    p = PROBE_MS / 1000.0
    nodes = start_cluster(ctx, 4, PROBE_MS)
    wait_converged(ctx.kv_path, nodes, 5 * p + CLI_MARGIN_S, "initial convergence")
    left, right = nodes[:2], nodes[2:]
    offsets = {n.name: n.log_size() for n in nodes}
    rules = cut_rules(left, right)
    added = []
    cut_at = time.monotonic()
    # Each side must see the other dead: detection (2 (n-1) + 1 periods), the longest
    # suspicion (a confirmation can only come from the one peer on the same side), gossip.
    dead_bound = (2 * 3 + 1) * p + suspicion_max_s(4) + 5 * p + CLI_MARGIN_S
    try:
        for rule in rules:
            iptables("-A", "INPUT", *rule)
            added.append(rule)
        cut_at = time.monotonic()

        def split_seen():
            views = member_views(ctx.kv_path, nodes)
            for side, other in ((left, right), (right, left)):
                for n in side:
                    v = views[n.name]
                    if v is None:
                        return False
                    if any(v.get(o.name, {}).get("liveness") != "dead" for o in other):
                        return False
            return views
        deadline = cut_at + dead_bound
        while True:
            views = split_seen()
            if views:
                break
            if time.monotonic() > deadline:
                raise TestFailure(f"sides do not see each other dead {dead_bound:.1f} s after the "
                                  f"cut: {summary(member_views(ctx.kv_path, nodes))}; "
                                  f"{dropped_packets()} packets dropped by the rules")
            time.sleep(0.05)
        split_took = time.monotonic() - cut_at
        # Each side still has its own side alive (a healthy peer is never dead).
        for side in (left, right):
            for n in side:
                for peer in side:
                    state = views[n.name][peer.name]["liveness"]
                    check(state in ("alive", "suspect"),
                          f"{n.name} reports {peer.name} (same side) {state} during the partition")
        # Hold the partition: it must stay split, each side whole.
        hold_until = time.monotonic() + hold_s
        while True:
            views = member_views(ctx.kv_path, nodes)
            for side, other in ((left, right), (right, left)):
                for n in side:
                    check(views[n.name] is not None, f"{n.name}: status failed during the partition")
                    for o in other:
                        check(views[n.name][o.name]["liveness"] == "dead",
                              f"during the partition {n.name} reports {o.name} "
                              f"{views[n.name][o.name]['liveness']}: {summary(views)}")
                    for peer in side:
                        check(views[n.name][peer.name]["liveness"] in ("alive", "suspect"),
                              f"during the partition {n.name} reports {peer.name} (same side) "
                              f"{views[n.name][peer.name]['liveness']}")
            if time.monotonic() >= hold_until:
                break
            time.sleep(min(0.5, max(0.0, hold_until - time.monotonic())))
        drops = dropped_packets()
        check(drops > 0, "the DROP rules matched no packet: the nodes' traffic is not what the "
                         "rules expect (unbound source address?)")
    finally:
        for rule in added:
            iptables("-D", "INPUT", *rule)
    healed_at = time.monotonic()
    # Healing: the next reconnect (every 30 P) re-contacts a dead member / a seed; a push-pull
    # sent while cut may hold the connection until the peer client's request timeout first.
    heal_bound = 2 * RECONNECT_PERIODS * p + PEER_REQUEST_TIMEOUT_S + 10 * p + CLI_MARGIN_S
    heal_took, _ = wait_converged(ctx.kv_path, nodes, heal_bound, "after the partition healed")
    events = {}
    for n in nodes:
        for ev in member_events(n, offsets[n.name]):
            events[ev.kind] = events.get(ev.kind, 0) + 1
    incarnations = {name: m["incarnation"] for name, m in
                    member_views(ctx.kv_path, nodes[:1])[nodes[0].name].items()}
    print(f"  {IPTABLES}: {len(rules)} INPUT DROP rules between {{1,2}} and {{3,4}}, "
          f"{drops} packets dropped; partition held {healed_at - cut_at:.1f} s")
    print(f"  each side reported the other dead {split_took:.2f} s after the cut "
          f"(bound {dead_bound:.1f} s)")
    print(f"  all alive again {heal_took:.2f} s after the rules were removed "
          f"(reconnect every {RECONNECT_PERIODS * p:.1f} s; bound {heal_bound:.1f} s)")
    print(f"  membership events meanwhile: {events}; incarnations now {incarnations}")


@test
def partition_and_heal(ctx):
    # Shorter than gossip-to-dead: nodes still gossip to the members they declared dead, so
    # each side hears of its own death as soon as the cut is gone and refutes it.
    partition_then_heal(ctx, hold_s=10 * PROBE_MS / 1000.0)


@test
def long_partition_heals_by_reconnect(ctx):
    # Longer than gossip-to-dead (30 s, membership/config.h, not scaled by the probe
    # interval): only the periodic reconnect (seeds not seen alive + a random dead member,
    # every 30 P) can heal this one, the case plain SWIM never heals.
    partition_then_heal(ctx, hold_s=GOSSIP_TO_DEAD_S + 2.0)


def summary(views):
    return {observer: (None if v is None else {name: m.get("liveness") for name, m in sorted(v.items())})
            for observer, v in views.items()}


def inside(argv):
    global IPTABLES
    IPTABLES, reasons = find_iptables()
    if IPTABLES is None:
        return skip("no working iptables in the namespace: " + "; ".join(reasons))
    # The kv CLI does not bind its source address: move the loopback route's preferred
    # source off the node addresses so that its connections are not cut (see the docstring).
    moved = run(["ip", "route", "replace", "local", "127.0.0.0/8", "dev", "lo", "table", "local",
                 "proto", "kernel", "scope", "host", "src", CLIENT_SOURCE])
    if moved.returncode != 0:
        return skip(f"cannot set the loopback source address: {output_of(moved)}")
    return run_tests(argv)


def main():
    argv = sys.argv[1:]
    if "--inside" in argv:
        argv.remove("--inside")
        return inside(argv)
    return outside(argv)


if __name__ == "__main__":
    sys.exit(main())
