#!/usr/bin/env python3
"""Membership (SWIM + Lifeguard) with real kvnode processes on 127.0.0.x,
observed through `kv --json status` and the nodes' membership event log lines.

  converge_five_nodes              5 nodes founded from one seed all list each other alive
  kill9_declared_dead_then_rejoins kill -9 one node: the others report it suspect, then dead,
                                   within the configured bound; restarted on the same data
                                   directory it is alive everywhere at a higher incarnation
  other_cluster_never_mixes        nodes with another --cluster name are never listed (either
                                   direction), even when seeded at each other
  short_pause_never_dead           SIGSTOP shorter than the suspicion minimum: never dead
  garbage_datagrams_dropped        random, truncated, malformed and huge UDP datagrams: the node
                                   keeps its view and logs the drops
  forged_left_refused              an outsider on 127.0.0.77 tells every other node that a live
                                   member left at incarnation 2^64-1 (and, separately, that it
                                   died and left one above its incarnation): the member stays
                                   alive everywhere (refuting where needed) and writes reach it

Timing follows DESIGN.md "Membership" and kvnode's --probe-interval-ms P: probe timeout P/2,
gossip every P/5, suspicion minimum 4 * max(1, log10 n) * P, maximum 6 times that, push-pull
and reconnect every 30 P. Every measured time is printed; bounds are generous (these tests
check correctness, not speed).

Run: python3 tests/process/test_membership.py --kvnode PATH --kv PATH [-k NAME]
"""

import math
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    TestFailure, all_alive, check, check_eq, loopback_address, member_events, member_view,
    member_views, mp_encode, run_tests, start_cluster, test, wait_converged,
)

PROBE_MS = 200          # protocol period P for most tests
SUSPICION_MULT = 4      # membership/config.h defaults (not settable from the command line)
SUSPICION_MAX_MULT = 6
CLI_MARGIN_S = 2.0      # process start, CLI round trips, polling granularity


def period_s(probe_ms=PROBE_MS):
    return probe_ms / 1000.0


def suspicion_min_s(members, probe_ms=PROBE_MS):
    return SUSPICION_MULT * max(1.0, math.log10(max(1, members))) * period_s(probe_ms)


def suspicion_max_s(members, probe_ms=PROBE_MS):
    return SUSPICION_MAX_MULT * suspicion_min_s(members, probe_ms)


def converge_bound_s(probe_ms=PROBE_MS):
    # TESTING.md T0: membership converged within 5 protocol periods (+ CLI margin).
    return 5 * period_s(probe_ms) + CLI_MARGIN_S


def dead_bound_s(members, probe_ms=PROBE_MS):
    """From kill to 'dead' at every survivor: the victim is probed by someone within
    2 * (members - 1) periods (round-robin over a reshuffled list) plus the failed probe's
    own period, then the longest suspicion (no confirmations), then gossip (5 periods)."""
    p = period_s(probe_ms)
    detect = (2 * (members - 1) + 1) * p
    return detect + suspicion_max_s(members, probe_ms) + 5 * p + CLI_MARGIN_S


def names_of(nodes):
    return [n.name for n in nodes]


def liveness_table(views):
    return {observer: (None if v is None else {name: m.get("liveness") for name, m in sorted(v.items())})
            for observer, v in views.items()}


def check_view_consistent(view, nodes, observer):
    """ids distinct, addresses as started."""
    by_name = {n.name: n for n in nodes}
    ids = [m.get("id") for m in view.values()]
    check(len(set(ids)) == len(ids), f"{observer}: duplicate member ids {ids}")
    for name, member in view.items():
        if name in by_name:
            check_eq(member.get("address"), by_name[name].address, f"{observer}: address of {name}")


def dead_events(nodes, offsets, about=None):
    found = []
    for node in nodes:
        for ev in member_events(node, offsets.get(node.name, 0)):
            if ev.kind == "dead" and (about is None or ev.name in about):
                found.append(ev)
    return found


class Sampler:
    """Polls the member views of `nodes` in a thread (all in parallel each round) and
    calls on_round(elapsed_s, views) for every round; stop() joins it."""

    def __init__(self, kv_path, nodes, on_round, interval=0.03):
        self.kv_path, self.nodes, self.on_round, self.interval = kv_path, nodes, on_round, interval
        self.started = time.monotonic()
        self.rounds = 0
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                views = member_views(self.kv_path, self.nodes)
                self.rounds += 1
                self.on_round(time.monotonic() - self.started, views)
                self._stop.wait(self.interval)
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.error = e

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)
        if self.error is not None:
            raise self.error


# ---------------------------------------------------------------------------


@test
def converge_five_nodes(ctx):
    nodes = start_cluster(ctx, 5, PROBE_MS)
    last_start = time.monotonic()
    bound = converge_bound_s()
    _, views = wait_converged(ctx.kv_path, nodes, bound, "5 nodes founded from one seed")
    elapsed = time.monotonic() - last_start
    for node in nodes:
        view = views[node.name]
        check_view_consistent(view, nodes, node.name)
        check_eq(view[node.name]["incarnation"] >> 32, 1, f"{node.name}: generation of its first start")
    # Everyone agrees on every member's id and incarnation.
    for name in names_of(nodes):
        seen = {(v[name]["id"], v[name]["incarnation"]) for v in views.values()}
        check(len(seen) == 1, f"nodes disagree about {name}: {seen}")
    print(f"  5 nodes (P = {PROBE_MS} ms) all alive everywhere {elapsed:.2f} s after the last start "
          f"(bound {bound:.1f} s)")
    # A converged cluster stays converged: nobody declared dead or left (a transient suspicion
    # under CPU load is allowed, and counted).
    time.sleep(5 * period_s())
    events = [ev for n in nodes for ev in member_events(n)]
    bad = [ev.line for ev in events if ev.kind in ("dead", "left")]
    check(not bad, f"members declared dead or left in a quiet cluster: {bad[:5]}")
    wait_converged(ctx.kv_path, nodes, 1.0, "still converged")
    suspects = sum(ev.kind == "suspect" for ev in events)
    print(f"  quiet for {5 * period_s():.1f} s afterwards: {len(events)} events, {suspects} suspect")


@test
def kill9_declared_dead_then_rejoins(ctx):
    nodes = start_cluster(ctx, 5, PROBE_MS)
    wait_converged(ctx.kv_path, nodes, converge_bound_s(), "initial convergence")
    victim = nodes[2]
    survivors = [n for n in nodes if n is not victim]
    before = member_views(ctx.kv_path, survivors)
    old_incarnation = max(v[victim.name]["incarnation"] for v in before.values())
    offsets = {n.name: n.log_size() for n in nodes}

    first_suspect, first_dead = {}, {}
    violations = []
    bound = dead_bound_s(len(nodes))

    def on_round(t, views):
        for observer, view in views.items():
            if view is None:
                violations.append(f"{observer}: status failed at +{t:.2f} s")
                continue
            state = view.get(victim.name, {}).get("liveness")
            if state in ("suspect", "dead"):
                first_suspect.setdefault(observer, t)
            if state == "dead":
                first_dead.setdefault(observer, t)
            elif observer in first_dead:
                violations.append(f"{observer}: {victim.name} {state} at +{t:.2f} s after dead")
            for other in survivors:
                s = view.get(other.name, {}).get("liveness")
                if s not in ("alive", "suspect"):
                    violations.append(f"{observer}: healthy {other.name} is {s} at +{t:.2f} s")

    kill_wall = time.time()
    victim.kill()
    sampler = Sampler(ctx.kv_path, survivors, on_round)
    try:
        wait_until_all = time.monotonic() + bound
        while len(first_dead) < len(survivors) and time.monotonic() < wait_until_all and not violations:
            time.sleep(0.05)
        time.sleep(0.3)  # a few more rounds: dead must stay dead
    finally:
        sampler.stop()
    check(not violations, f"violations: {violations[:5]}")
    missing = [n.name for n in survivors if n.name not in first_dead]
    check(not missing, f"{missing} did not report the killed {victim.name} dead within "
                       f"{bound:.1f} s (P = {PROBE_MS} ms; seen suspect: {first_suspect})")

    # Precise times from the event log lines.
    log_suspect, log_dead = {}, {}
    for n in survivors:
        for ev in member_events(n, offsets[n.name]):
            if ev.name == victim.name and ev.kind == "suspect":
                log_suspect.setdefault(n.name, ev.time - kill_wall)
            if ev.name == victim.name and ev.kind == "dead":
                log_dead.setdefault(n.name, ev.time - kill_wall)
    check(set(log_dead) == set(names_of(survivors)),
          f"every survivor logs {victim.name} dead: got {sorted(log_dead)}")
    fmt = lambda d: ", ".join(f"{k} {v:.2f}" for k, v in sorted(d.items()))  # noqa: E731
    print(f"  kill -9 {victim.name} (P = {PROBE_MS} ms, 5 members: suspicion {suspicion_min_s(5):.1f}"
          f"..{suspicion_max_s(5):.1f} s, bound {bound:.1f} s)")
    print(f"    status suspect at: {fmt(first_suspect)} s")
    print(f"    status dead at:    {fmt(first_dead)} s")
    print(f"    log suspect at:    {fmt(log_suspect)} s")
    print(f"    log dead at:       {fmt(log_dead)} s")

    # Restart on the same data directory: alive everywhere with a higher incarnation.
    restart_offsets = {n.name: n.log_size() for n in nodes}
    victim.start()
    restarted = time.monotonic()
    rejoin_bound = converge_bound_s()
    deadline = restarted + rejoin_bound
    while True:
        views = member_views(ctx.kv_path, nodes)
        ok = all(all_alive(v, names_of(nodes)) and v[victim.name]["incarnation"] > old_incarnation
                 for v in views.values())
        if ok:
            break
        if time.monotonic() > deadline:
            raise TestFailure(
                f"restarted {victim.name} not alive at an incarnation above {old_incarnation} "
                f"everywhere within {rejoin_bound:.1f} s: "
                + str({o: (None if v is None else (v.get(victim.name, {}).get("liveness"),
                                                   v.get(victim.name, {}).get("incarnation")))
                       for o, v in views.items()}))
        time.sleep(0.05)
    took = time.monotonic() - restarted
    new_incarnations = {v[victim.name]["incarnation"] for v in views.values()}
    check(len(new_incarnations) == 1, f"nodes disagree on the new incarnation: {new_incarnations}")
    new_incarnation = new_incarnations.pop()
    print(f"  restarted {victim.name}: alive everywhere after {took:.2f} s (bound {rejoin_bound:.1f} s), "
          f"incarnation {old_incarnation} -> {new_incarnation}")
    check_eq(new_incarnation >> 32, (old_incarnation >> 32) + 1, "generation after one restart")
    # Nobody else was declared dead along the way.
    bad = dead_events(nodes, restart_offsets)
    check(not bad, f"dead events after the restart: {[e.line for e in bad][:5]}")


@test
def other_cluster_never_mixes(ctx):
    probe_ms = 100  # reconnect (re-contacting seeds not seen alive) every 30 P = 3 s
    ring = start_cluster(ctx, 3, probe_ms, prefix="c")
    wait_converged(ctx.kv_path, ring, converge_bound_s(probe_ms), "ringkv cluster")
    # x1 is seeded at every ringkv node; x2 joins x1 (a positive control: the other cluster
    # itself works); c4, a ringkv node, lists x1 as its first seed.
    x1 = ctx.node(name="x1", host=loopback_address(6), start=False, log_level="debug")
    x1.extra_args = ["--cluster", "other", "--probe-interval-ms", str(probe_ms),
                     "--seeds", ",".join(n.address for n in ring)]
    x1.start()
    x2 = ctx.node(name="x2", host=loopback_address(7), start=False)
    x2.extra_args = ["--cluster", "other", "--probe-interval-ms", str(probe_ms), "--seeds", x1.address]
    x2.start()
    c4 = ctx.node(name="c4", host=loopback_address(4), start=False, log_level="debug")
    c4.extra_args = ["--probe-interval-ms", str(probe_ms), "--seeds", f"{x1.address},{ring[0].address}"]
    c4.start()
    ring.append(c4)
    rogues = [x1, x2]
    ring_names, rogue_names = set(names_of(ring)), set(names_of(rogues))

    violations = []

    def on_round(t, views):
        for observer, view in views.items():
            if view is None:
                violations.append(f"{observer}: status failed at +{t:.2f} s")
                continue
            own = ring_names if observer in ring_names else rogue_names
            foreign = set(view) - own
            if foreign:
                violations.append(f"{observer} lists {sorted(foreign)} at +{t:.2f} s")

    observe_s = 35 * probe_ms / 1000.0 + 1.0  # more than one reconnect interval
    sampler = Sampler(ctx.kv_path, ring + rogues, on_round, interval=0.1)
    try:
        time.sleep(observe_s)
    finally:
        sampler.stop()
    check(not violations, f"clusters mixed: {violations[:5]}")
    wait_converged(ctx.kv_path, ring, 1.0, "ringkv nodes (c1..c4)")
    # x1's only seeds are foreign: it never joins a ring (it waits), but the
    # two know each other as members.
    wait_converged(ctx.kv_path, rogues, 1.0, "cluster 'other' (x1, x2)", ring_normal=False)
    # The test means something only if the clusters did contact each other: at debug level
    # a refused push-pull shows on the contacting side as "push-pull with ADDRESS failed".
    ring_addresses = {n.address for n in ring}
    x1_tried = [l for l in x1.log_lines() if "push-pull with" in l and
                any(a in l for a in ring_addresses)]
    c4_tried = [l for l in c4.log_lines() if f"push-pull with {x1.address}" in l]
    check(x1_tried and c4_tried, f"no refused push-pull logged (x1 -> ringkv: {len(x1_tried)}, "
                                 f"c4 -> x1: {len(c4_tried)}); did they contact each other?")
    print(f"  {sampler.rounds} sampling rounds over {observe_s:.1f} s: c1..c4 list only c1..c4, "
          f"x1/x2 only x1/x2; refused push-pulls: x1 -> ringkv {len(x1_tried)}, c4 -> x1 "
          f"{len(c4_tried)} (e.g. {c4_tried[0].split('] ', 1)[-1]!r})")


@test
def short_pause_never_dead(ctx):
    nodes = start_cluster(ctx, 5, PROBE_MS)
    wait_converged(ctx.kv_path, nodes, converge_bound_s(), "initial convergence")
    target = nodes[4]
    others = [n for n in nodes if n is not target]
    offsets = {n.name: n.log_size() for n in nodes}
    minimum = suspicion_min_s(len(nodes))
    pause_s = 0.5 * minimum
    violations = []

    def on_round(t, views):
        for observer, view in views.items():
            if view is None:
                violations.append(f"{observer}: status failed at +{t:.2f} s")
                continue
            for name, member in view.items():
                if member.get("liveness") not in ("alive", "suspect"):
                    violations.append(f"{observer}: {name} {member.get('liveness')} at +{t:.2f} s")

    sampler = Sampler(ctx.kv_path, others, on_round, interval=0.02)
    try:
        for _ in range(3):
            target.pause()
            try:
                time.sleep(pause_s)
            finally:
                target.resume()
            time.sleep(10 * period_s())
    finally:
        target.resume()
        sampler.stop()
    check(target.alive(), f"{target.name} exited")
    check(not violations, f"a node reported dead after pauses of {pause_s:.2f} s "
                          f"(suspicion minimum {minimum:.2f} s): {violations[:5]}")
    bad = dead_events(nodes, offsets)
    check(not bad, f"dead events in the logs: {[e.line for e in bad][:5]}")
    wait_converged(ctx.kv_path, nodes, converge_bound_s(), "after the pauses")
    suspects = [ev for n in others for ev in member_events(n, offsets[n.name])
                if ev.kind == "suspect" and ev.name == target.name]
    after = member_view(ctx.kv_path, nodes[0])
    print(f"  3 pauses of {pause_s:.2f} s (suspicion minimum {minimum:.2f} s, P = {PROBE_MS} ms): "
          f"{sampler.rounds} sampling rounds, never dead; {len(suspects)} suspect events about "
          f"{target.name}; its incarnation now {after[target.name]['incarnation']}")


def ping_datagram(sender_id, target_id, cluster="ringkv", version=1, seq=7):
    # membership/codec.h: [version, cluster, sender_id, sender_incarnation, kind, body, updates]
    return mp_encode([version, cluster, sender_id, 1 << 32, 1, [seq, target_id], []])


@test
def garbage_datagrams_dropped(ctx):
    nodes = start_cluster(ctx, 3, PROBE_MS)
    wait_converged(ctx.kv_path, nodes, converge_bound_s(), "initial convergence")
    target = nodes[0]
    before = member_view(ctx.kv_path, target)
    offset = target.log_size()
    rng = ctx.rng("garbage")
    target_id = bytes.fromhex(before[nodes[1].name]["id"])
    sender_id = bytes(rng.getrandbits(8) for _ in range(16))
    valid = ping_datagram(sender_id, target_id)

    datagrams = []
    datagrams += [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 1400))) for _ in range(150)]
    datagrams += [valid[:n] for n in range(1, len(valid))]                   # every truncation
    datagrams += [valid + b"\x00", valid + valid]                            # trailing bytes
    datagrams += [bytes(rng.getrandbits(8) for _ in range(65507))]           # the largest UDP payload
    datagrams += [b"\x91" * 65507, b"\xdd\xff\xff\xff\xff" + b"\xc0" * 100]  # deep nesting, huge count
    datagrams += [b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff"]
    datagrams += [mp_encode(x) for x in (None, 1, "ping", {"a": 1}, [], [1], [[[[[]]]]],
                                         [1, "ringkv"], [1, "ringkv", sender_id])]
    datagrams += [ping_datagram(sender_id, target_id, version=99),           # wrong version
                  ping_datagram(sender_id, target_id, cluster="other"),      # wrong cluster
                  ping_datagram(b"short", target_id),                        # bad sender id
                  mp_encode([1, "ringkv", sender_id, 1 << 32, 99, [], []]),  # unknown kind
                  mp_encode([1, "ringkv", sender_id, 1 << 32, 1, [7], []]),  # short body
                  mp_encode([1, "ringkv", sender_id, -1, 1, [7, target_id], []]),
                  mp_encode([1, "ringkv", sender_id, 1 << 32, 1, [7, target_id], [[1, 2, 3]]])]
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((loopback_address(9), 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        for i, data in enumerate(datagrams):
            sock.sendto(data, (target.host, target.port))
            sent += 1
            if i % 10 == 9:
                time.sleep(0.005)  # stay under the receiver's socket buffer
        sock.sendto(b"", (target.host, target.port))  # empty: nothing to decode, may be ignored
    time.sleep(5 * period_s())

    check(target.alive(), f"{target.name} exited after garbage datagrams: rc {target.proc.poll()}")
    after = member_view(ctx.kv_path, target)
    check(after is not None, f"{target.name} no longer answers status")
    key = lambda v: {n: (m["id"], m["address"], m["liveness"], m["incarnation"]) for n, m in v.items()}  # noqa: E731
    check_eq(key(after), key(before), f"{target.name}'s member view after garbage")
    wait_converged(ctx.kv_path, nodes, 1.0, "cluster after garbage")
    lines = target.log_lines(offset)
    dropped = [line for line in lines if "dropped datagram" in line]
    from_us = [line for line in dropped if loopback_address(9) in line]
    check(dropped, f"{target.name} logged no dropped datagram for {sent} garbage datagrams; log:\n"
                   + "\n".join(lines[-10:]))
    check_eq(len(from_us), len(dropped), "dropped-datagram lines naming the sender 127.0.0.9")
    reasons = sorted({line.split(": ", 1)[-1] for line in dropped})
    print(f"  {sent} garbage datagrams -> {len(dropped)} 'dropped datagram' log lines, "
          f"{len(reasons)} distinct reasons: {reasons[:8]}")
    # At most one line per datagram (a node may also rate-limit these lines).
    check(len(dropped) <= sent, f"more drop lines ({len(dropped)}) than datagrams sent ({sent})")


OUTSIDER_INDEX = 77     # 127.0.0.77: no test starts a node there
LIVENESS = {"alive": 0, "suspect": 1, "dead": 2, "left": 3}
RING_NORMAL = 1


def claim_datagram(sender_id, member, incarnation, liveness):
    """A gossip datagram from `sender_id` carrying one claim about `member` (a status dict).
    membership/codec.h: update = [id, name, address, incarnation, liveness, ring_status,
    vnode_count, protocol_version, origin_id]; kind 5 = gossip, body []."""
    update = [bytes.fromhex(member["id"]), member["name"], member["address"], incarnation,
              LIVENESS[liveness], RING_NORMAL, member["vnodes"], 1, sender_id]
    return mp_encode([1, "ringkv", sender_id, 1 << 32, 5, [], [update]])


@test
def forged_left_refused(ctx):
    nodes = start_cluster(ctx, 3, PROBE_MS)
    wait_converged(ctx.kv_path, nodes, converge_bound_s(), "initial convergence")
    victim, others = nodes[2], nodes[:2]
    record = member_view(ctx.kv_path, others[0])[victim.name]
    incarnation = record["incarnation"]
    offsets = {n.name: n.log_size() for n in nodes}
    outsider_id = bytes(ctx.rng("outsider").getrandbits(8) for _ in range(16))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((loopback_address(OUTSIDER_INDEX), 0))
        for node in others:
            for _ in range(3):
                sock.sendto(claim_datagram(outsider_id, record, (1 << 64) - 1, "left"),
                            (node.host, node.port))
                sock.sendto(claim_datagram(outsider_id, record, incarnation + 1, "left"),
                            (node.host, node.port))
    # Let gossip run: nothing should change.
    time.sleep(10 * period_s())
    _, views = wait_converged(ctx.kv_path, nodes, 1.0, "after forged left claims")
    for node in nodes:
        check_eq(views[node.name][victim.name]["incarnation"], incarnation,
                 f"{node.name}: {victim.name}'s incarnation after refused claims")
    dropped = [line for n in others for line in n.log_lines(offsets[n.name])
               if "dropped datagram" in line and loopback_address(OUTSIDER_INDEX) in line]
    check(len(dropped) >= 2, f"the 2^64-1 claims were not logged as dropped: {dropped}")
    print(f"  left at 2^64-1 and at incarnation+1 from {loopback_address(OUTSIDER_INDEX)}: refused "
          f"({len(dropped)} drop lines: {dropped[0].split(': ', 1)[-1]}), {victim.name} alive "
          f"everywhere at incarnation {incarnation}")

    # Dead (which anyone may claim), then left while it is dead: the victim hears it and refutes.
    started = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((loopback_address(OUTSIDER_INDEX), 0))
        for node in others:
            for liveness in ("dead", "left"):
                sock.sendto(claim_datagram(outsider_id, record, incarnation + 1, liveness),
                            (node.host, node.port))
    elapsed, views = wait_converged(ctx.kv_path, nodes, converge_bound_s(), "after forged dead + left")
    after = views[others[0].name][victim.name]["incarnation"]
    check(after > incarnation + 1, f"{victim.name} did not refute: incarnation {after}")
    print(f"  dead + left at incarnation+1: every view shows {victim.name} alive again after "
          f"{time.monotonic() - started:.2f} s, at incarnation {after}")

    # Writes reach the victim: a put through another node lands in the victim's own copy.
    time.sleep(10 * period_s())
    wait_converged(ctx.kv_path, nodes, 1.0, "still converged")
    put = ctx.kv("--consistency", "all", "put", "forged-left-key", "reached", node=others[0])
    check_eq(put.rc, 0, f"put at ALL: {put.describe()}")
    got = ctx.kv("get", "--local", "forged-left-key", node=victim)
    check_eq((got.rc, got.out.strip()), (0, b"reached"), f"get --local on {victim.name}")
    for node in nodes:
        check(node.alive(), f"{node.name} exited")


if __name__ == "__main__":
    sys.exit(run_tests())
