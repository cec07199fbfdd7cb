#!/usr/bin/env python3
"""ringkv chaos runner: kill, restart, pause, partition and garble a real cluster under a
recorded workload, then prove that nothing acknowledged was lost (TESTING.md, issue 6).

Usage (as root for the network namespaces; Python 3 standard library only):

  tests/chaos/chaos.py --kvnode build/node/kvnode --kv build/cli/kv [options]

  --mode single      one run with the options below (default)
  --mode short       the CI battery: T0 smoke, T1 kill/restart (>= 10 kills), T1b two down,
                     T3 partitions (+ link-down with --topology per-node), T3b kills +
                     single-link cuts, T4 pauses + 10% UDP loss + CPU hogs, T7 hostile
                     input, T6 a node joins and one is decommissioned under load (cleanup,
                     then C6 placement); 7.5-9.5 minutes on 2 cores
  --mode long        5 nodes, every fault, --duration (default 1800 s), up to 2 nodes down
  --mode selftest    "test the tests": builds a kvnode per planted bug (cmake
                     -DRINGKV_PLANT_BUG=ack-one|drop-hints|sloppy into build-plant-<bug>/,
                     target kvnode only), runs the scenario meant to expose each and passes
                     only if the checker meant to catch it reports a violation

  --nodes N (5)  --replicas N (3)  --consistency one|quorum|all (quorum)
  --duration S (60)  --seed N (1)  --faults kill (any of kill,pause,partition,link-down,loss,
                 hostile,hog,topology)
  --max-down N (1)  --probe-interval-ms MS (200)  --workers W (12)  --rate OPS/S (400)
  --partition-shapes halves,isolate,oneway,link
  --emulate-plant ack-one|sloppy   emulate a planted bug from the client side (see README)
  --plants LIST  selftest: which planted bugs (ack-one,drop-hints,sloppy)
  --plant-kvnode BUG=PATH   selftest: use this planted kvnode instead of building one
  --plant-build-root DIR    selftest: where build-plant-<bug>/ go (default: the repository)
  --plant-source DIR        selftest: the source tree to configure (default: the repository)
  --control      selftest: also run each scenario on --kvnode (the real build), which must pass
  --scenarios T1,T3   short mode: only these scenarios (name prefixes)
  --out DIR      run folder (default: a new temporary directory, printed at the end)
  --topology per-node|single|loopback   where the nodes run (chaos_netns.py): a namespace
                 per node on a bridge (default), one namespace on 127.0.0.x, or the host
  --no-netns     the same as --topology loopback (kill/pause/hostile/hog only)
  --keep-data    keep the nodes' data directories (they are deleted after a passing run)

Each scenario leaves DIR/<scenario>/ with history.jsonl (one line per operation),
faults.jsonl, schedule.json, nodes/<name>.log, summary.json and latency.svg (plus
latency.png when python3-matplotlib is installed). DIR/summary.json sums up the run. The
exit code is 0 only when every scenario passed every checker: 1 on a violation, 2 on a
usage or setup error.

Isolation (chaos_netns.py): as root the runner makes a network namespace per node, each
node's eth0 (10.213.47.<i>) on a veth pair to a bridge in a hub namespace, and re-runs
itself in the hub, so the runner's clients reach every node over the bridge and no rule or
link ever touches the host. Partitions and loss are DROP rules in the receiving node's own
INPUT chain; link-down takes a node's bridge port down. `--topology single` is the former
way (one namespace, nodes on 127.0.0.x, the runner's connections from 127.0.0.254). Without
namespaces (not root, no `ip`) it says so and runs on plain loopback with the process faults
only; a scenario whose faults cannot be injected fails.
"""

import argparse
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "process"))

import harness  # noqa: E402
import chaos_check  # noqa: E402
import chaos_client as cc  # noqa: E402
import chaos_faults  # noqa: E402
import chaos_hostile  # noqa: E402
import chaos_netns  # noqa: E402
import chaos_plot  # noqa: E402
from chaos_workload import History, Workload  # noqa: E402

ALL_FAULTS = ("kill", "pause", "partition", "link-down", "loss", "hostile", "hog", "topology")
QUIESCENCE_LIMIT_S = 60.0
# kvnode --repair-interval-s for the runs: anti-entropy rounds often enough that, after the
# heal, every node completes one within REPAIR_LIMIT_S (chaos_check.wait_repaired).
REPAIR_INTERVAL_S = 2
REPAIR_LIMIT_S = 60.0
MARGIN_S = 2.0  # process start, polling, status round trips


def log(message):
    print(message, flush=True)


# ---------------------------------------------------------------------------
# Scenarios.

def scenario(name, **kw):
    cfg = {"name": name, "nodes": 5, "replicas": 3, "consistency": "quorum", "duration": 60.0,
           "faults": ["kill"], "max_down": 1, "probe_ms": 200, "workers": 12, "rate": 400.0,
           "plant": None, "emulate": None, "kvnode": None, "profile": {}, "criteria": {},
           "expect_violation": False, "repair": True}
    cfg.update(kw)
    return cfg


def short_scenarios(per_node):
    """The CI battery. With a namespace per node, T3 also takes nodes' links down."""
    return [
        scenario("T0-smoke", duration=10, faults=[],
                 criteria={"all_ok": True, "converge_periods": 5}),
        scenario("T1-kill", duration=90, faults=["kill"], max_down=1,
                 criteria={"min_kills": 10, "availability": 0.99, "rejoin_periods": 5}),
        scenario("T1b-kill2", duration=45, faults=["kill"], max_down=2,
                 profile={"double_kill_p": 0.7}),
        scenario("T3-partition", duration=45,
                 faults=["partition"] + (["link-down"] if per_node else []),
                 profile={"partition_s": (3.0, 8.0), "network_gap_s": (2.0, 4.0)}),
        scenario("T3b-kill-linkcut", duration=45, faults=["kill", "partition"],
                 profile={"partition_shapes": ["link"], "partition_s": (4.0, 10.0),
                          "network_gap_s": (0.5, 2.0)}),
        scenario("T4-pause-loss-hog", duration=30, faults=["pause", "loss", "hog"],
                 profile={"loss_continuous": (0.10, "udp"), "pause_max_fraction": 0.6,
                          "pause_gap_s": (0.5, 1.5), "hog_s": (4.0, 8.0), "hog_gap_s": (3.0, 6.0)},
                 criteria={"no_false_deaths": True}),
        scenario("T7-hostile", duration=20, faults=["hostile"], nodes=3,
                 profile={"hostile_continuous": True}, criteria={"hostile_logged": True}),
        t6_scenario(),
    ]


def optin_scenarios():
    """Short-mode scenarios run only when --scenarios names them (not in the CI battery).
    None at the moment (T6 joined the battery once kvnode dropped hints for departed nodes)."""
    return []


def t6_scenario():
    # T6: n6 joins (3 s), a node that does not change is killed for 2-4 s (10 s), one of
    # the original nodes is decommissioned with `kv decommission` (18 s, once every member
    # is alive again); then cleanup on every member and C6 placement.
    return scenario("T6-join-decommission", duration=40, faults=["topology"],
                    profile={"join_at_s": 3.0, "kill_at_s": 10.0, "decommission_at_s": 18.0,
                             "kill_down_s": (2.0, 4.0)},
                    criteria={"topology_done": True, "placement": True})


def long_scenarios(args, per_node):
    skipped = ("topology",) if per_node else ("topology", "link-down")
    return [scenario("long", nodes=args.nodes or 5, replicas=args.replicas,
                     duration=args.duration or 1800.0,
                     faults=[f for f in ALL_FAULTS if f not in skipped],
                     max_down=args.max_down if args.max_down_given else 2,
                     probe_ms=args.probe_interval_ms, workers=args.workers, rate=args.rate,
                     consistency=args.consistency,
                     profile={"partition_s": (3.0, 40.0), "network_gap_s": (3.0, 10.0),
                              "partition_shapes": ["halves", "isolate", "oneway", "link"],
                              "kill_down_s": (2.0, 8.0), "kill_gap_s": (1.0, 5.0)})]


# "Test the tests": a kvnode built with a planted bug (cmake -DRINGKV_PLANT_BUG=..., see
# node/core/planted_bug.h) runs the scenario meant to expose it; the selftest passes only if
# one of the checkers named in expect_violation reports it. Each scenario is short (about 45
# s with start, quiescence and checks) and must pass on the real build (--control).
PLANTED_BUGS = ("ack-one", "drop-hints", "sloppy")


def planted_scenario(bug, kvnode):
    if bug == "ack-one":
        # The coordinator acknowledges (and reads) after ONE replica whatever the level. A node
        # cut off (isolated, or on the small side of halves) keeps acknowledging QUORUM writes
        # with only its own copy; a QUORUM read through the other side, started after the ack,
        # asks one replica that never got it: C3 (hundreds per run). Kills too, so that the
        # loopback fallback (no partitions) still sees it: a restarted node serves QUORUM
        # reads from its own stale copy before its hints come back (about ten per run).
        return scenario("plant-ack-one", plant=bug, kvnode=kvnode, duration=30,
                        faults=["partition", "kill"], max_down=1,
                        profile={"partition_shapes": ["isolate", "halves"],
                                 "partition_s": (4.0, 8.0), "network_gap_s": (1.0, 2.0),
                                 "kill_down_s": (2.0, 4.0), "kill_gap_s": (0.5, 1.5)},
                        expect_violation=["c3_stale_read", "lost"])
    if bug == "drop-hints":
        # No hint is ever stored (neither by stand-ins nor by the coordinator): a replica
        # killed for 3-6 s, or cut off (one node isolated, 4-8 s), while QUORUM writes go on
        # never receives them once it is back. The final local read of every replica
        # (before any QUORUM read can repair it): replica_missing (C1) and divergent (C4).
        # Periodic anti-entropy is off here (repair: False, as in the simulator): it would
        # mend what the plant breaks. A restarted node still runs a round after its restart,
        # which repairs part of what the kills leave; hence the isolations too.
        return scenario("plant-drop-hints", plant=bug, kvnode=kvnode, duration=30, repair=False,
                        faults=["kill", "partition"], max_down=1,
                        profile={"kill_down_s": (3.0, 6.0), "kill_gap_s": (1.0, 2.0),
                                 "partition_shapes": ["isolate"], "partition_s": (4.0, 8.0),
                                 "network_gap_s": (1.0, 2.0)},
                        expect_violation=["replica_missing", "divergent"])
    if bug == "sloppy":
        # Stand-ins count toward QUORUM. 3 nodes, N = 3: every node is a natural replica of
        # every key, so the stand-in for a dead natural replica is the coordinator itself
        # (it keeps the hint). n3 is killed and declared dead; then n2 is killed: until n1
        # declares it dead (about a second), n1 acknowledges each QUORUM write with its own
        # copy plus its own hint for n3 (the correct build answers TIMEOUT: one natural
        # replica of two). n1 is killed in turn, n2 and n3 come back and serve QUORUM reads
        # with n1 still down for 12 s: every read of such a key misses it (C3). When n1
        # returns it replays its hints, so nothing is lost in the end: only C3 sees it.
        t0 = 3.0
        script = {"process": [{"at": t0, "kind": "kill", "targets": ["n3", "n2", "n1"],
                               "offsets_s": [0.0, 3.0, 6.0], "down_s": [8.5, 4.5, 14.0]}]}
        return scenario("plant-sloppy", plant=bug, kvnode=kvnode, duration=26, nodes=3,
                        faults=["kill"], max_down=3, profile={"script": script},
                        expect_violation=["c3_stale_read", "lost"])
    raise ValueError(bug)


def selftest_scenarios(args):
    result = []
    for bug in args.plants:
        result.append(planted_scenario(bug, args.plant_kvnodes.get(bug)))
        if args.control:
            control = planted_scenario(bug, None)
            control.update(name=f"control-{bug}", plant=None, expect_violation=False)
            result.append(control)
    return result


# Client-side emulation of two planted bugs (--emulate-plant), for a quick check of the
# checkers without a planted build.
EMULATED_PLANTS = {
    # The node acknowledges after one replica: writes are sent at ONE, recorded as QUORUM.
    "ack-one": ("one", "quorum"),
    # Stand-ins (hints) count toward the level: writes are sent at ANY, recorded as QUORUM.
    "sloppy": ("any", "quorum"),
}


def build_planted(bug, source, build_root, out_dir):
    """Configures and builds kvnode with `bug` planted into build_root/build-plant-<bug>
    (Release, no tests, ccache when present; only the kvnode target). Returns the binary's
    path, or raises RuntimeError with the tail of the build log."""
    build_dir = os.path.join(build_root, f"build-plant-{bug}")
    log_path = os.path.join(out_dir, f"build-plant-{bug}.log")
    build = ["cmake", "--build", build_dir, "--target", "kvnode", "-j", str(os.cpu_count() or 2)]
    # Built twice: when the tree is edited during the build, the second pass recompiles the
    # objects older than their sources (a torn build, objects compiled against two versions
    # of a header, crashed at start once); it costs a second when nothing changed.
    steps = [["cmake", "-S", source, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
              "-DRINGKV_TESTS=OFF", f"-DRINGKV_PLANT_BUG={bug}"], build, build]
    t0 = time.monotonic()
    with open(log_path, "wb") as f:
        for argv in steps:
            f.write(("$ " + " ".join(argv) + "\n").encode())
            f.flush()
            rc = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
            if rc != 0:
                with open(log_path, "rb") as r:
                    tail = r.read().decode(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"{' '.join(argv[:3])} failed ({rc}); {log_path}:\n  "
                                   + "\n  ".join(tail))
    # The cache must say what we asked for (a stale build dir configured otherwise would
    # silently test the wrong binary).
    planted = None
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("RINGKV_PLANT_BUG:"):
                planted = line.strip().split("=", 1)[1]
    if planted != bug:
        raise RuntimeError(f"{build_dir}: RINGKV_PLANT_BUG is {planted!r}, not {bug!r}")
    path = os.path.join(build_dir, "node", "kvnode")
    log(f"built {bug}: {path} ({time.monotonic() - t0:.0f} s, log {log_path})")
    return path


def write_keyring(directory):
    """A fresh cluster key (internode traffic sealed, as a deployment runs), mode 0600."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "keyring")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return path


# ---------------------------------------------------------------------------
# One scenario.


class Runner:
    def __init__(self, args, cfg, out_dir, layout, net, seed):
        self.args = args
        self.cfg = cfg
        self.dir = out_dir
        self.layout = layout
        self.net = net
        self.seed = seed
        self.violations = []   # (kind, count, detail)
        self.figures = {}

    def violation(self, kind, count=1, detail=None):
        self.violations.append({"kind": kind, "count": count, "detail": detail})

    def run(self):
        cfg, args = self.cfg, self.args
        os.makedirs(self.dir, exist_ok=True)
        kinds = list(cfg["faults"])
        dropped = [k for k in kinds if not self.layout.supports(k, self.net)]
        if dropped:
            # A scenario whose faults cannot be injected proves nothing about them: it fails
            # (never a pass that tested less than its name says).
            why = (f"topology {self.layout.mode}" + ("" if self.net else ", no iptables")
                   + ": partitions and loss need a namespace (run as root with ip netns), "
                   "link-down needs --topology per-node")
            log(f"  FAIL: cannot inject {','.join(dropped)} faults ({why})")
            self.figures["faults_not_injected"] = dropped
            self.violation("faults_not_injected", len(dropped), {"faults": dropped, "why": why})
            return self.finish(f"{cfg['name']}: not run", {}, None, None, [], None)
        write_level, claim_level = cfg["consistency"], cfg["consistency"]
        if cfg["emulate"]:
            write_level, claim_level = EMULATED_PLANTS[cfg["emulate"]]
        kvnode = cfg["kvnode"] or args.kvnode
        title = (f"{cfg['name']}: seed {self.seed}, {cfg['nodes']} nodes, N={cfg['replicas']}, "
                 f"{claim_level}{' (sent ' + write_level + ')' if write_level != claim_level else ''}, "
                 f"{cfg['duration']:g} s, faults {','.join(kinds) or 'none'}, "
                 f"max-down {cfg['max_down']}, P {cfg['probe_ms']} ms, topology {self.layout.mode}"
                 + (f", planted bug {cfg['plant']} ({kvnode})" if cfg["plant"] else "")
                 + (f", emulated bug {cfg['emulate']}" if cfg["emulate"] else ""))
        log(f"== {title}")
        timings = {}
        t_phase = time.monotonic()

        repair_s = REPAIR_INTERVAL_S if cfg["repair"] else 0
        extra_args = ["--repair-interval-s", str(repair_s)]
        if not args.plaintext:
            extra_args += ["--keyring", write_keyring(self.dir)]
        elif self.layout.mode == "per-node":
            # kvnode refuses an address outside 127.0.0.0/8 without a keyring unless told.
            extra_args += ["--insecure"]
        cluster = chaos_faults.Cluster(kvnode, os.path.join(self.dir, "nodes"), cfg["nodes"],
                                       cfg["replicas"], cfg["probe_ms"], log, extra_args=extra_args,
                                       layout=self.layout)
        self.cluster = cluster
        mono0 = time.monotonic()
        cluster.clock = lambda: time.monotonic() - mono0
        try:
            cluster.start()
            converge_s = self.wait_converged(cluster, 5 * cfg["probe_ms"] / 1000 + 30.0)
            self.figures["initial_convergence_s"] = converge_s
            timings["start"] = round(time.monotonic() - t_phase, 2)
            log(f"  cluster up: {', '.join(f'{n}={cluster.nodes[n].address}' for n in cluster.names())}; "
                f"converged {converge_s if converge_s is not None else 'NEVER'} s after the last start")
            if converge_s is None:
                self.violation("initial_convergence", detail="nodes never all saw each other alive")
                return self.finish(title, timings, None, None, [], None)
            ids = {}
            view = cluster.status_of(cluster.names()[0])
            for name, m in (view or {"members": {}})["members"].items():
                try:
                    ids[name] = bytes.fromhex(m["id"])
                except (TypeError, ValueError):
                    pass
            cluster.ids = ids

            # Workload + faults.
            wall0, mono0 = time.time(), time.monotonic()
            cluster.clock = lambda: time.monotonic() - mono0
            self.wall0, self.mono0 = wall0, mono0
            history = History(os.path.join(self.dir, "history.jsonl"), mono0)
            cluster.start_monitor()
            lanes = chaos_faults.make_schedule(self.seed, kinds, cfg["duration"], cluster.names(),
                                               cfg["max_down"], cfg["probe_ms"], cfg["profile"])
            with open(os.path.join(self.dir, "schedule.json"), "w") as f:
                json.dump({"seed": self.seed, "lanes": lanes}, f, indent=1)
            senders = []

            def hostile_factory(seed):
                sender = chaos_hostile.HostileSender(seed, source=self.layout.hostile_source())
                senders.append(sender)
                return sender
            workload = Workload(cluster, history, cfg["workers"], cfg["rate"], self.seed,
                                write_level=write_level, claim_level=claim_level,
                                read_level=cfg["consistency"],
                                tag=f"{cfg['name']}-{self.seed}")
            faults = chaos_faults.FaultRunner(cluster, self.net, lanes, history.now, log,
                                              hostile_factory)
            faults.kv = args.kv
            if "topology" in kinds and not args.kv:
                raise RuntimeError("topology changes need the kv CLI (--kv)")
            t_phase = time.monotonic()
            workload.start()
            faults.start(mono0)
            deadline = mono0 + cfg["duration"]
            while time.monotonic() < deadline:
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            faults.stop()
            workload.stop()
            t_end = history.now()
            timings["workload"] = round(time.monotonic() - t_phase, 2)

            # Heal, then quiescence.
            t_phase = time.monotonic()
            if self.net is not None:
                self.net.flush()
            cluster.heal()
            quiet_s, quiet_reasons = chaos_check.wait_quiescent(cluster, QUIESCENCE_LIMIT_S, log)
            timings["quiescence"] = round(time.monotonic() - t_phase, 2)
            self.figures["quiescence_s"] = quiet_s
            if quiet_s is None:
                self.violation("quiescence", detail=quiet_reasons[:10])
            elif cfg["repair"]:
                # Anti-entropy: every node completes a whole round that started after the
                # heal (the replicas a killed coordinator left behind converge), then the
                # cluster is quiet again. Only then do the checkers read.
                repair_s = chaos_check.wait_repaired(cluster, REPAIR_LIMIT_S, log)
                self.figures["repair_wait_s"] = repair_s
                if repair_s is None:
                    self.violation("repair_round", detail="no complete anti-entropy round on "
                                   f"every node within {REPAIR_LIMIT_S:.0f} s of quiescence")
                else:
                    quiet_s, quiet_reasons = chaos_check.wait_quiescent(cluster, QUIESCENCE_LIMIT_S, log)
                    if quiet_s is None:
                        self.violation("quiescence", detail=quiet_reasons[:10])
            if cluster.stranded_hints:
                total = sum(sum(v.values()) for v in cluster.stranded_hints.values())
                self.figures["stranded_hints"] = cluster.stranded_hints
                self.violation("stranded_hints", total,
                               {"why": "hints stored for a decommissioned (left) node, never deliverable",
                                "by_node": cluster.stranded_hints,
                                "after_left": [t.get("hints_after_left") for t in faults.topology
                                               if t["kind"] == "decommission"]})
            history.close()
            placement = "topology" in kinds or cfg["criteria"].get("placement")
            if placement:
                # Old owners keep handed-over data until cleanup: `kv cleanup` on every
                # member, then C6 (every local copy exactly on its endpoints).
                cleanup = {}
                # RINGKV_CHAOS_NO_CLEANUP=1: skip it, so C6 must report the copies the old
                # owners kept (a check of the checker, README "C6").
                skip = os.environ.get("RINGKV_CHAOS_NO_CLEANUP") == "1"
                for name in ([] if skip else cluster.names()):
                    r = harness.run_kv(args.kv, "cleanup", host=cluster.nodes[name].address,
                                       timeout=120)
                    cleanup[name] = r.rc
                    if r.rc != 0:
                        self.violation("cleanup_failed", detail=f"{name}: {r.describe()[:400]}")
                self.figures["cleanup_rc"] = cleanup
                log(f"  kv cleanup: {cleanup}")
            stats = {}
            for name in cluster.names():
                host, port = cluster.address_of(name)
                stats[name] = cc.decode_stats(cc.one_call(host, port, cc.STATS_REQUEST, [], 3.0))
            with open(os.path.join(self.dir, "node_stats.json"), "w") as f:
                json.dump(stats, f, indent=1, sort_keys=True)

            # Checkers.
            t_phase = time.monotonic()
            hostile_keys = set()
            for s in senders:
                hostile_keys |= s.keys
            keys = list(workload.attempts) + sorted(hostile_keys)
            reads, disagreements = chaos_check.final_reads(cluster, keys, log,
                                                           all_local=placement)
            counts, details, extra = chaos_check.run_checkers(history.ops, workload.attempts,
                                                              hostile_keys, reads)
            self.figures.update(extra)
            if placement:
                c6_counts, c6_details, c6_extra = chaos_check.check_placement(
                    workload.attempts, reads, cluster.names())
                self.figures.update(c6_extra)
                details.update(c6_details)
                self.figures["c6_extra"] = c6_counts.get("c6_extra", 0)
                self.figures["c6_missing"] = c6_counts.get("c6_missing", 0)
            for kind, found in details.items():
                if found:
                    self.violation(kind, len(found), found[:5])
            if disagreements:
                self.violation("endpoints_disagree", len(disagreements), disagreements[:5])
            self.cli_cross_check(cluster, workload, reads)
            timings["checks"] = round(time.monotonic() - t_phase, 2)
            self.c7(cluster)
            self.criteria(cluster, history, faults, senders)
            unexpected = [op for op in history.ops if op.get("unexpected")]
            if unexpected:
                self.violation("unexpected_error_reply", len(unexpected), unexpected[:5])
            if faults.errors:
                self.violation("fault_injection_error", len(faults.errors), faults.errors[:5])
            # A clean stop: SIGTERM drains and exits 0.
            cluster.monitor_stop.set()
            cluster.monitor_thread.join(timeout=10)
            for name in cluster.names():
                node = cluster.nodes[name]
                try:
                    rc = node.stop()
                except harness.NodeError as e:
                    rc = str(e)
                if rc != 0:
                    self.violation("unclean_stop", detail=f"{name}: exit {rc}")
            return self.finish(title, timings, history, workload, faults.faults, faults)
        finally:
            cluster.stop_all()

    # -- helpers ---------------------------------------------------------------
    def wait_converged(self, cluster, limit):
        started = time.monotonic()
        names = set(cluster.names())
        while time.monotonic() - started < limit:
            views = [cluster.status_of(n, timeout=1.0) for n in cluster.names()]
            if all(v and set(v["members"]) == names and
                   all(m["liveness"] == "alive" for m in v["members"].values()) for v in views):
                converged = round(time.monotonic() - started, 3)
                # New nodes then join the ring one at a time (bootstrap); the
                # workload starts once all are normal, outside the figure.
                while time.monotonic() - started < limit + 60:
                    views = [cluster.status_of(n, timeout=1.0) for n in cluster.names()]
                    if all(v and all(m.get("ring_status") == "normal" for m in v["members"].values())
                           for v in views):
                        return converged
                    time.sleep(0.05)
                return None
            time.sleep(0.05)
        return None

    def cli_cross_check(self, cluster, workload, reads, sample=12):
        """A few keys through the real `kv` CLI (`--json get --local` on each replica,
        `--json endpoints`): the runner's own client must agree with it."""
        if not self.args.kv:
            return
        ok_keys = sorted(k for k, a in workload.attempts.items() if a["outcome"] == cc.OK)
        rng = random.Random(f"{self.seed}:cli")
        mismatches = []
        for key in rng.sample(ok_keys, min(sample, len(ok_keys))):
            eps = reads[key]["endpoints"] or []
            r = harness.run_kv(self.args.kv, "--json", "endpoints", key,
                               host=cluster.nodes[cluster.names()[0]].address, timeout=10)
            try:
                names = [e["name"] for e in json.loads(r.out)["endpoints"]]
            except (ValueError, KeyError, TypeError):
                names = None
            if names != eps:
                mismatches.append({"key": key, "cli_endpoints": names, "runner": eps})
            for name in eps:
                r = harness.run_kv(self.args.kv, "--json", "get", key, "--local",
                                   host=cluster.nodes[name].address, timeout=10)
                mine = reads[key]["local"].get(name) or {}
                try:
                    doc = json.loads(r.out)
                    same = (r.rc == 0 and doc.get("found") and doc.get("value", "").encode() ==
                            mine.get("value") and doc.get("timestamp") == mine.get("ts"))
                except (ValueError, AttributeError):
                    same = False
                if not same and mine.get("found"):
                    mismatches.append({"key": key, "node": name, "cli": r.describe()[:300]})
        self.figures["cli_cross_checked_keys"] = min(sample, len(ok_keys))
        if mismatches:
            self.violation("cli_mismatch", len(mismatches), mismatches[:5])

    def c7(self, cluster):
        if cluster.unexpected_exits:
            self.violation("unexpected_exit", len(cluster.unexpected_exits),
                           [{k: v for k, v in e.items()} for e in cluster.unexpected_exits[:3]])
        for name in cluster.names():
            node = cluster.nodes[name]
            if not node.alive():
                self.violation("node_not_running", detail=f"{name}: exit {node.proc.returncode}")
            reports = chaos_check.sanitizer_reports(node)
            if reports:
                self.violation("sanitizer_report", len(reports), {name: reports[:5]})
        rss = {}
        fds = {}
        for _t, name, rss_kb, nfd in cluster.resources:
            rss[name] = max(rss.get(name, 0), rss_kb)
            fds[name] = max(fds.get(name, 0), nfd)
        self.figures["max_rss_mb"] = round(max(rss.values(), default=0) / 1024, 1)
        self.figures["max_fds"] = max(fds.values(), default=0)
        for name, value in rss.items():
            if value > self.args.max_rss_mb * 1024:
                self.violation("rss_over_bound", detail=f"{name}: {value // 1024} MB > {self.args.max_rss_mb} MB")
        for name, value in fds.items():
            if value > self.args.max_fds:
                self.violation("fds_over_bound", detail=f"{name}: {value} > {self.args.max_fds}")

    def criteria(self, cluster, history, faults, senders):
        cfg, crit = self.cfg, self.cfg["criteria"]
        ops = history.ops
        p = cfg["probe_ms"] / 1000.0
        kills = [f for f in faults.faults if f["kind"] == "kill"]
        if crit.get("topology_done"):
            self.figures["topology"] = faults.topology
            for kind in ("join", "decommission"):
                done = [t for t in faults.topology if t["kind"] == kind and t["done"]]
                if not done:
                    self.violation(f"T6_{kind}_not_done",
                                   detail=[t for t in faults.topology if t["kind"] == kind])
        if crit.get("all_ok"):
            not_ok = [op for op in ops if op["outcome"] != cc.OK]
            if not_ok:
                self.violation("T0_not_all_ok", len(not_ok), not_ok[:5])
        if "converge_periods" in crit:
            bound = crit["converge_periods"] * p + MARGIN_S
            took = self.figures.get("initial_convergence_s")
            if took is None or took > bound:
                self.violation("T0_slow_convergence", detail=f"{took} s > {bound:.1f} s")
        if "min_kills" in crit and len(kills) < crit["min_kills"]:
            self.violation("T1_too_few_kills", detail=f"{len(kills)} < {crit['min_kills']}")
        if "availability" in crit:
            windows = {}
            for f in kills:
                windows.setdefault(f["targets"][0], []).append((f["start"], f["end"] + MARGIN_S))
            counted = [op for op in ops if not any(s <= op["end"] and op["start"] <= e
                                                   for s, e in windows.get(op["coord"], ()))]
            ok = sum(1 for op in counted if op["outcome"] == cc.OK)
            share = ok / len(counted) if counted else 1.0
            self.figures["availability_excluding_killed_coordinator"] = round(share, 5)
            if share < crit["availability"]:
                self.violation("T1_availability", detail=f"{share:.4f} < {crit['availability']} "
                               f"({len(counted) - ok} of {len(counted)} not ok)")
        if "rejoin_periods" in crit:
            bound = crit["rejoin_periods"] * p + MARGIN_S
            slow = [r for r in faults.rejoins if r["seconds"] is None or r["seconds"] > bound]
            seen = [r["seconds"] for r in faults.rejoins if r["seconds"] is not None]
            self.figures["rejoin_max_s"] = max(seen, default=None)
            if slow:
                self.violation("T1_slow_rejoin", len(slow),
                               {"bound_s": round(bound, 2), "examples": slow[:5]})
        if True:  # always measured; a violation only where the scenario demands it (T4)
            false_deaths = self.false_deaths(cluster, faults)
            self.figures["false_deaths"] = len(false_deaths)
            if crit.get("no_false_deaths") and false_deaths:
                self.violation("T4_healthy_node_declared_dead", len(false_deaths), false_deaths[:5])
        if crit.get("hostile_logged") or senders:
            sent = sum(sum(s.sent.values()) for s in senders)
            logged = {n: chaos_check.hostile_log_lines(cluster.nodes[n], self.layout.hostile_source())
                      for n in cluster.names()}
            self.figures["hostile_sent"] = sent
            self.figures["hostile_logged_lines"] = sum(logged.values())
            kinds = {}
            for s in senders:
                for k, v in s.sent.items():
                    kinds[k] = kinds.get(k, 0) + v
            self.figures["hostile_by_kind"] = dict(sorted(kinds.items()))
            if crit.get("hostile_logged") and sent and not sum(logged.values()):
                self.violation("T7_hostile_not_logged", detail=f"{sent} hostile inputs, no log line")
            # A log line per bad input at most (no floods); TCP cases log one line each,
            # datagrams at most one.
            if sum(logged.values()) > sent:
                self.violation("T7_log_flood", detail=f"{sum(logged.values())} lines for {sent} inputs")

    def false_deaths(self, cluster, faults):
        """'dead' events about a node that was neither killed nor cut off from the observer
        around that time (pauses shorter than the suspicion timeout must never kill)."""
        result = []
        slack = 3.0
        for name in cluster.names():
            for epoch, observer, member in chaos_check.dead_events(cluster.nodes[name],
                                                                   harness.log_timestamp_to_epoch):
                t = epoch - self.wall0
                if t < 0:
                    continue
                explained = False
                for f in faults.faults:
                    if not (f["start"] - slack <= t <= f["end"] + 30.0):
                        continue
                    if f["kind"] == "kill" and member in f["targets"]:
                        explained = True
                    if f["kind"] == "partition" and member in f["targets"] and observer in f["targets"]:
                        explained = True
                    if f["kind"] == "link-down" and (member in f["targets"] or observer in f["targets"]):
                        explained = True
                if not explained:
                    result.append({"t": round(t, 3), "observer": observer, "member": member})
        return result

    def finish(self, title, timings, history, workload, fault_records, faults):
        cfg = self.cfg
        ops = history.ops if history else []
        by = {}
        for op in ops:
            key = f"{op['op']}_{op['outcome']}"
            by[key] = by.get(key, 0) + 1
        fault_kinds = {}
        for f in fault_records:
            fault_kinds[f["kind"]] = fault_kinds.get(f["kind"], 0) + 1
        with open(os.path.join(self.dir, "faults.jsonl"), "w") as f:
            for record in sorted(fault_records, key=lambda r: r["start"]):
                f.write(json.dumps(record) + "\n")
        counts = {}
        for v in self.violations:
            counts[v["kind"]] = counts.get(v["kind"], 0) + v["count"]
        ok_puts = by.get("put_ok", 0)
        summary = {
            "scenario": cfg["name"], "title": title, "seed": self.seed,
            "config": {k: cfg[k] for k in ("nodes", "replicas", "consistency", "duration", "faults",
                                           "max_down", "probe_ms", "workers", "rate", "plant",
                                           "emulate", "kvnode")},
            "ops": len(ops), "ops_by_outcome": by, "writes_acknowledged": ok_puts,
            "faults": fault_kinds,
            "keys_checked": self.figures.get("keys_checked", 0),
            "lost": counts.get("lost", 0), "replica_missing": counts.get("replica_missing", 0),
            "phantom": counts.get("phantom", 0), "corrupt": counts.get("corrupt", 0),
            "c3_violations": counts.get("c3_stale_read", 0),
            "divergent_replicas": counts.get("divergent", 0),
            "c6_extra": counts.get("c6_extra", 0), "c6_missing": counts.get("c6_missing", 0),
            "time_to_quiescence_s": self.figures.get("quiescence_s"),
            "figures": self.figures, "timings_s": timings,
            "violations": self.violations,
            "expect_violation": cfg["expect_violation"],
        }
        if cfg["expect_violation"]:
            # A planted bug must be reported by the checker meant to catch it.
            summary["detected"] = {v["kind"]: v["count"] for v in self.violations
                                   if v["kind"] in cfg["expect_violation"]}
            summary["passed"] = bool(summary["detected"])
        else:
            summary["passed"] = not self.violations
        with open(os.path.join(self.dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1, default=str)
        if history:
            chaos_plot.write_svg(os.path.join(self.dir, "latency.svg"), ops, fault_records,
                                 cfg["duration"], title, self.seed)
            if chaos_plot.write_png(os.path.join(self.dir, "latency.png"), ops, fault_records,
                                    cfg["duration"], title, self.seed):
                summary["png"] = True
        print_summary(summary)
        if summary["passed"] and not self.args.keep_data and hasattr(self, "cluster"):
            for node in self.cluster.nodes.values():
                shutil.rmtree(os.path.dirname(node.data_dir), ignore_errors=True)
        return summary


def print_summary(s):
    by = s["ops_by_outcome"]
    fig = s["figures"]

    def trio(op):
        return (f"{op} ok {by.get(op + '_ok', 0)} fail {by.get(op + '_fail', 0)} "
                f"info {by.get(op + '_info', 0)}")
    log(f"  ops {s['ops']}: {trio('put')}; {trio('get')}")
    log(f"  faults: {s['faults'] or 'none'}"
        + (f"; hostile inputs {fig.get('hostile_sent')} ({fig.get('hostile_logged_lines')} log lines)"
           if fig.get("hostile_sent") else ""))
    q = s["time_to_quiescence_s"]
    log(f"  time to quiescence: {q if q is not None else 'NOT REACHED'} s; "
        f"keys checked {s['keys_checked']}; writes acknowledged {s['writes_acknowledged']}")
    log(f"  lost {s['lost']}, replica_missing {s['replica_missing']}, phantom {s['phantom']}, "
        f"corrupt {s['corrupt']}, C3 violations {s['c3_violations']} "
        f"(of {fig.get('c3_pairs_checked', 0)} put->get pairs), divergent replicas "
        f"{s['divergent_replicas']}"
        + (f", C6 extra {s['c6_extra']} missing {s['c6_missing']} (of {fig.get('c6_keys_checked')} keys, "
           f"{fig.get('c6_local_copies')} local copies)" if "c6_keys_checked" in fig else ""))
    extra = []
    for key in ("repair_wait_s", "faults_not_injected", "availability_excluding_killed_coordinator", "rejoin_max_s", "false_deaths",
                "initial_convergence_s", "max_rss_mb", "max_fds", "cli_cross_checked_keys",
                "topology"):
        if key in fig:
            extra.append(f"{key} {fig[key]}")
    log("  " + ", ".join(extra))
    log(f"  timings: {s['timings_s']}")
    for v in s["violations"]:
        detail = json.dumps(v["detail"], default=str)
        log(f"  VIOLATION {v['kind']} x{v['count']}: {detail[:600]}")
    if s["expect_violation"]:
        verdict = (f"PASS (planted bug detected by {s['detected']})" if s["passed"]
                   else f"FAIL (planted bug NOT detected: none of {s['expect_violation']})")
    else:
        verdict = "PASS" if s["passed"] else "FAIL"
    log(f"  verdict {s['scenario']}: {verdict}")


# ---------------------------------------------------------------------------
# Namespace plumbing (chaos_netns.py): make the layout, re-run this script inside it.

def nodes_needed(args):
    """Node namespaces the run needs: the largest scenario, plus one for a joining node."""
    return max(cfg["nodes"] + (1 if "topology" in cfg["faults"] else 0)
               for cfg in build_scenarios(args, per_node=True))


def make_layout(args):
    """The namespaces for --topology (per-node falls back to single, single to None = the
    host loopback, each with a NOTE saying why)."""
    reason = chaos_netns.unavailable_reason()
    if reason:
        log(f"NOTE: network namespaces unavailable ({reason}): running on the host loopback with "
            f"kill/pause/hostile/hog faults only; partitions, link-down and loss are skipped")
        return None
    chaos_netns.sweep_leftovers(log)
    if args.topology == "per-node":
        try:
            return chaos_netns.make_per_node(nodes_needed(args))
        except RuntimeError as e:
            log(f"NOTE: cannot make a namespace per node ({e}): one namespace for all nodes "
                f"instead (no link-down)")
    try:
        return chaos_netns.make_single()
    except RuntimeError as e:
        log(f"NOTE: network namespaces unavailable ({e}): running on the host loopback with "
            f"kill/pause/hostile/hog faults only")
        return None


def run_outside(args, argv):
    """Makes the namespaces and re-runs this script inside the runner's one; returns the
    exit code, or None when namespaces are unavailable (the caller then runs on plain
    loopback). Every namespace made is deleted at the end, whatever happens."""
    layout = make_layout(args)
    if layout is None:
        return None
    child = None
    try:
        path = os.path.join(args.out, "layout.json")
        layout.save(path)
        log(f"topology {layout.mode}: namespaces {', '.join(chaos_netns.namespaces_of(layout))}")
        child = subprocess.Popen(chaos_netns.in_namespace(chaos_netns.runner_namespace(layout))
                                 + [sys.executable, os.path.abspath(__file__), "--inside",
                                    "--layout", path, *argv],
                                 stdin=subprocess.DEVNULL, preexec_fn=harness._die_with_parent)
        harness._PROCESSES[child.pid] = child
        return child.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        if child is not None:
            harness._kill_pid(child)
            harness._PROCESSES.pop(child.pid, None)
        chaos_netns.delete_namespaces(chaos_netns.namespaces_of(layout), log)


# ---------------------------------------------------------------------------
# Main.

def parse_args(argv):
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    p = argparse.ArgumentParser(description="ringkv chaos runner (see the module docstring)",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["single", "short", "long", "selftest"], default="single")
    p.add_argument("--kvnode", default=os.path.join(root, "build", "node", "kvnode"))
    p.add_argument("--kv", default=os.path.join(root, "build", "cli", "kv"),
                   help="kv CLI, used to cross-check a sample of keys ('' to skip)")
    p.add_argument("--nodes", type=int, default=None)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--consistency", choices=["one", "quorum", "all"], default="quorum")
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--faults", default="kill",
                   help="comma list of " + ",".join(ALL_FAULTS) + " ('' or none for no faults)")
    p.add_argument("--max-down", type=int, default=None)
    p.add_argument("--probe-interval-ms", type=int, default=200)
    p.add_argument("--workers", type=int, default=12)
    p.add_argument("--rate", type=float, default=400.0, help="total target ops/s (0 = unlimited)")
    p.add_argument("--partition-shapes", default="halves,isolate,oneway,link",
                   help="partition shapes to draw from (halves, isolate, oneway, link)")
    p.add_argument("--emulate-plant", choices=sorted(EMULATED_PLANTS), default=None)
    p.add_argument("--plants", default=",".join(PLANTED_BUGS),
                   help="selftest: planted bugs to build and expose")
    p.add_argument("--plant-kvnode", action="append", default=[], metavar="BUG=PATH",
                   help="selftest: a kvnode already built with BUG planted (no build)")
    p.add_argument("--plant-build-root", default=root,
                   help="selftest: folder of the build-plant-<bug> build directories")
    p.add_argument("--plant-source", default=root, help="selftest: source tree to configure")
    p.add_argument("--control", action="store_true",
                   help="selftest: also run each scenario on --kvnode; it must pass there")
    p.add_argument("--scenarios", default="", help="short mode: run only these (comma list of "
                                                   "name prefixes, e.g. T1,T3)")
    p.add_argument("--out", default=None)
    p.add_argument("--topology", choices=chaos_netns.TOPOLOGIES, default="per-node",
                   help="per-node: a namespace per node on a bridge (default); single: every "
                        "node on 127.0.0.x in one namespace; loopback: the host's loopback, "
                        "no network faults")
    p.add_argument("--no-netns", action="store_true", help="the same as --topology loopback")
    p.add_argument("--plaintext", action="store_true",
                   help="run the nodes without a cluster key (default: a fresh keyring, traffic sealed)")
    p.add_argument("--keep-data", action="store_true")
    p.add_argument("--max-rss-mb", type=int, default=1024)
    p.add_argument("--max-fds", type=int, default=1024)
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--layout", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.no_netns:
        args.topology = "loopback"
    if args.inside and not args.layout:
        p.error("--inside needs --layout")
    args.max_down_given = args.max_down is not None
    if args.max_down is None:
        args.max_down = 1
    args.plants = [b.strip() for b in args.plants.split(",") if b.strip()]
    bad = [b for b in args.plants if b not in PLANTED_BUGS]
    if bad:
        p.error(f"unknown planted bugs {bad}; choose from {','.join(PLANTED_BUGS)}")
    args.plant_kvnodes = {}
    for item in args.plant_kvnode:
        bug, sep, path = item.partition("=")
        if not sep or bug not in PLANTED_BUGS:
            p.error(f"--plant-kvnode {item}: expected BUG=PATH with BUG one of {','.join(PLANTED_BUGS)}")
        args.plant_kvnodes[bug] = os.path.abspath(path)
    if args.faults.strip() in ("", "none"):
        args.faults_list = []
    else:
        args.faults_list = [f.strip() for f in args.faults.split(",") if f.strip()]
        bad = [f for f in args.faults_list if f not in ALL_FAULTS]
        if bad:
            p.error(f"unknown fault kinds {bad}; choose from {','.join(ALL_FAULTS)}")
    return args


def build_scenarios(args, per_node):
    if args.mode == "short":
        scenarios = short_scenarios(per_node)
        if args.scenarios:
            wanted = [w.strip() for w in args.scenarios.split(",") if w.strip()]
            scenarios = [s for s in scenarios + optin_scenarios()
                         if any(s["name"].startswith(w) for w in wanted)]
        return scenarios
    if args.mode == "long":
        return long_scenarios(args, per_node)
    if args.mode == "selftest":
        return selftest_scenarios(args)
    return [scenario("single", nodes=args.nodes or 5, replicas=args.replicas,
                     consistency=args.consistency, duration=args.duration or 60.0,
                     faults=args.faults_list, max_down=args.max_down,
                     probe_ms=args.probe_interval_ms, workers=args.workers, rate=args.rate,
                     emulate=args.emulate_plant, expect_violation=False,
                     profile={"partition_shapes": args.partition_shapes.split(",")})]


def main():
    argv = sys.argv[1:]
    args = parse_args(argv)
    for what in ("kvnode", "kv"):
        path = getattr(args, what)
        if path and not (os.path.isfile(path) and os.access(path, os.X_OK)):
            if what == "kv":
                log(f"note: --kv {path} is not an executable; skipping the CLI cross-check")
                args.kv = ""
                continue
            log(f"error: --{what} {path} is not an executable file")
            return 2
    args.kvnode = os.path.abspath(args.kvnode)
    if args.kv:
        args.kv = os.path.abspath(args.kv)
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="ringkv-chaos-")
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)

    if args.mode == "selftest" and not args.inside:
        # Build the planted kvnodes first (outside the namespace), once; the inner run (or
        # the loopback fallback below) gets them as --plant-kvnode.
        for bug in args.plants:
            if bug in args.plant_kvnodes:
                continue
            try:
                args.plant_kvnodes[bug] = build_planted(bug, os.path.abspath(args.plant_source),
                                                        os.path.abspath(args.plant_build_root),
                                                        args.out)
            except (RuntimeError, OSError) as e:
                log(f"error: cannot build kvnode with {bug} planted: {e}")
                return 2
        for bug, path in args.plant_kvnodes.items():
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                log(f"error: --plant-kvnode {bug}={path} is not an executable file")
                return 2
            argv = argv + ["--plant-kvnode", f"{bug}={path}"]

    if not args.inside and args.topology != "loopback":
        # Re-run inside the runner's namespace with the same arguments and the chosen --out.
        inner = [a for a in argv]
        if "--out" not in inner:
            inner += ["--out", args.out]
        inner += ["--kvnode", args.kvnode, "--kv", args.kv or ""]
        rc = run_outside(args, inner)
        if rc is not None:
            log(f"run folder: {args.out}")
            return rc

    layout = chaos_netns.Layout.load(args.layout) if args.inside else chaos_netns.Layout("loopback")
    net = chaos_netns.setup_inside(layout, log)
    if not args.inside:
        log("running on the host loopback: partitions, link-down and packet loss are skipped")
    scenarios = build_scenarios(args, per_node=layout.mode == "per-node")
    started = time.monotonic()
    results = []
    for cfg in scenarios:
        seed = args.seed
        runner = Runner(args, cfg, os.path.join(args.out, cfg["name"]), layout, net, seed)
        t0 = time.monotonic()
        try:
            summary = runner.run()
        except Exception as e:  # noqa: BLE001 - a crash of the runner is a failed scenario
            import traceback
            traceback.print_exc()
            summary = {"scenario": cfg["name"], "passed": False, "error": f"{type(e).__name__}: {e}"}
        summary["wall_s"] = round(time.monotonic() - t0, 1)
        results.append(summary)
        if net is not None:
            net.flush()
        harness.kill_all_processes()
    total = round(time.monotonic() - started, 1)
    overall = all(r.get("passed") for r in results)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"mode": args.mode, "seed": args.seed, "passed": overall, "total_s": total,
                   "namespace": net is not None, "topology": layout.mode, "scenarios": results},
                  f, indent=1, default=str)
    log("")
    log(f"{'scenario':<18} {'verdict':<7} {'ops':>6} {'acked':>6} {'faults':<34} {'lost':>4} "
        f"{'rmiss':>5} {'phant':>5} {'corr':>4} {'C3':>4} {'div':>4} {'quiet':>6} {'wall':>6}"
        f" {'C6 x/m':>7}")
    for r in results:
        faults = ",".join(f"{k}:{v}" for k, v in sorted((r.get("faults") or {}).items())) or "-"
        verdict = "PASS" if r.get("passed") else "FAIL"
        q = r.get("time_to_quiescence_s")
        log(f"{r['scenario']:<18} {verdict:<7} {r.get('ops', 0):>6} {r.get('writes_acknowledged', 0):>6} "
            f"{faults:<34} {r.get('lost', 0):>4} {r.get('replica_missing', 0):>5} {r.get('phantom', 0):>5} "
            f"{r.get('corrupt', 0):>4} {r.get('c3_violations', 0):>4} {r.get('divergent_replicas', 0):>4} "
            f"{(str(q) if q is not None else '-'):>6} {r.get('wall_s', 0):>6}"
            f" {(str(r['c6_extra']) + '/' + str(r['c6_missing']) if 'c6_keys_checked' in (r.get('figures') or {}) else '-'):>7}")
    log(f"total {total} s; {'PASS' if overall else 'FAIL'}; topology {layout.mode}"
        f"{'' if net is not None else ' (no network faults)'}")
    if not args.inside:
        log(f"run folder: {args.out}")
    return 0 if overall else 1


if __name__ == "__main__":
    sys.exit(main())
