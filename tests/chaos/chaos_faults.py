"""The cluster under test and the faults the chaos runner injects into it.

Cluster: real kvnode processes (tests/process/harness.py Node) placed by a chaos_netns
Layout (127.0.0.1.. in one namespace or on the host, or each in its own namespace on
10.213.47.1..), killed, restarted, paused and resumed by PID, with a monitor thread that notices any exit we did
not cause (C7) and samples RSS and open file descriptors from /proc.

Faults come from a schedule drawn in advance from the seed (`make_schedule`), in lanes that
run concurrently:

  process lane   kill -9 + restart (1 node, or up to --max-down at once), SIGSTOP/SIGCONT
  network lane   partitions (random halves, one node isolated, one-way, one link) and
                 link-down (a node's interface down, then up), as iptables rules in the
                 receiver's INPUT chain / a bridge port (chaos_netns.Net); random packet loss
  hostile lane   bursts of hostile input (chaos_hostile.py) on the nodes' TCP and UDP ports
  topology lane  (T6) a new node joins, a non-changing node is killed and restarted, an
                 original node is decommissioned with `kv decommission` (exits 0, gone)

A lane runs its episodes one after another; an episode starts at its scheduled time or as
soon as the previous one has healed. The choices (victims, durations, sides) depend on the
seed only, not on timing.
"""

import math
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import chaos_client as cc
import harness
from chaos_netns import Layout, cut_rules, loss_rules

SUSPICION_MULT = 4  # membership/config.h: suspicion minimum = 4 * max(1, log10 n) * P


def suspicion_min_s(nodes, probe_ms):
    return SUSPICION_MULT * max(1.0, math.log10(max(1, nodes))) * probe_ms / 1000.0


# ---------------------------------------------------------------------------
# The cluster.

# Nodes are started with PR_SET_PDEATHSIG (harness.py), which fires when the *thread* that
# forked them exits, not the process. So every start goes through one long-lived thread.
_SPAWN_QUEUE = queue.Queue()


def _spawner():
    while True:
        fn, done, box = _SPAWN_QUEUE.get()
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e
        done.set()


threading.Thread(target=_spawner, name="spawner", daemon=True).start()


def _spawn(fn):
    done, box = threading.Event(), {}
    _SPAWN_QUEUE.put((fn, done, box))
    done.wait()
    if "error" in box:
        raise box["error"]
    return box.get("result")

class Cluster:
    def __init__(self, kvnode, workdir, count, replicas, probe_ms, log, extra_args=(),
                 layout=None):
        self.kvnode = kvnode
        self.layout = layout or Layout("single")
        self.workdir = workdir
        self.count = count
        self.replicas = replicas
        self.probe_ms = probe_ms
        self.log = log
        self.extra_args = list(extra_args)
        self.nodes = {}
        self.order = []
        self.state = {}          # name -> up | down | paused | joining | leaving | gone
        self.gone = []           # decommissioned nodes (left the ring for good)
        self.stranded_hints = {}  # quiescence: hints for a gone node, per holder
        self.common_args = []
        self.lock = threading.RLock()
        self.unexpected_exits = []
        self.resources = []      # (t, name, rss_kb, fds)
        self.monitor_stop = threading.Event()
        self.monitor_thread = None
        self.clock = None        # History.now, set by the runner

    # -- start / stop ------------------------------------------------------
    def start(self):
        common = ["--probe-interval-ms", str(self.probe_ms), "--replicas", str(self.replicas),
                  *self.extra_args]
        for i in range(self.count):
            name = f"n{i + 1}"
            self.nodes[name] = self.layout.node(self.kvnode, self.workdir, name, i + 1)
            self.order.append(name)
        self.common_args = list(common)
        founder = self.nodes[self.order[0]]
        founder.extra_args = list(common)
        _spawn(founder.start)
        self.state[founder.name] = "up"
        for name in self.order[1:]:
            node = self.nodes[name]
            node.extra_args = common + ["--seeds", founder.address]
            _spawn(node.start)
            self.state[name] = "up"

    def names(self):
        """The members: every node started, minus the decommissioned ones."""
        with self.lock:
            return [n for n in self.order if self.state.get(n) != "gone"]

    def add_node(self):
        """Starts a NEW node (next name, next address of the layout) seeded with the live
        members; it bootstraps (waits, joining, streams, normal). State 'joining' until the
        caller sees it normal: no worker uses it as coordinator meanwhile."""
        index = len(self.order) + 1
        name = f"n{index}"
        seeds = [self.nodes[n].address for n in self.up_names()]
        node = self.layout.node(self.kvnode, self.workdir, name, index)
        node.extra_args = self.common_args + ["--seeds", ",".join(seeds)]
        with self.lock:
            self.nodes[name] = node
            self.state[name] = "joining"
            self.order.append(name)
        _spawn(node.start)
        return name

    def address_of(self, name):
        node = self.nodes[name]
        return node.host, node.port

    def coordinators(self):
        with self.lock:
            return [n for n in self.order if self.state[n] in ("up", "paused")]

    def up_names(self):
        with self.lock:
            return [n for n in self.order if self.state[n] == "up"]

    def kill(self, name):
        with self.lock:
            self.state[name] = "down"
            self.nodes[name].kill()

    def restart(self, name):
        node = self.nodes[name]
        _spawn(node.start)
        with self.lock:
            self.state[name] = "up"

    def pause(self, name):
        with self.lock:
            if self.state[name] != "up":
                return False
            self.nodes[name].pause()
            self.state[name] = "paused"
            return True

    def resume(self, name):
        with self.lock:
            if self.state[name] == "paused":
                try:
                    self.nodes[name].resume()
                except ProcessLookupError:
                    pass
                self.state[name] = "up"

    def heal(self):
        """SIGCONT every paused node and restart every node that is down."""
        for name in self.order:
            self.resume(name)
        for name in self.order:
            if self.state[name] == "down":
                self.log(f"  heal: restarting {name}")
                self.restart(name)

    def stop_all(self):
        self.monitor_stop.set()
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                try:
                    os.kill(node.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
                harness._kill_pid(node.proc)
                harness._PROCESSES.pop(node.proc.pid, None)

    # -- monitor (C7) --------------------------------------------------------
    def start_monitor(self):
        self.monitor_thread = threading.Thread(target=self._monitor, name="monitor", daemon=True)
        self.monitor_thread.start()

    def _monitor(self):
        next_sample = 0.0
        while not self.monitor_stop.wait(0.25):
            now = self.clock()
            for name in self.order:
                with self.lock:
                    state = self.state[name]
                    node = self.nodes[name]
                    # A leaving node exits by itself (0); the decommission episode
                    # checks its exit code.
                    if state in ("down", "leaving", "gone") or node.proc is None:
                        continue
                    rc = node.proc.poll()
                    if rc is not None:
                        self.state[name] = "down"
                if rc is not None:
                    # Recorded (C7); the node stays down until a kill episode or the final
                    # heal restarts it, so no two threads ever start the same node.
                    tail = node.log_tail(30)
                    self.unexpected_exits.append({"node": name, "rc": rc, "t": round(now, 3),
                                                  "pid": node.pid, "log_tail": tail})
                    self.log(f"  !! {name} (pid {node.pid}) exited unexpectedly with {rc}")
                    harness._PROCESSES.pop(node.proc.pid, None)
            if now >= next_sample:
                next_sample = now + 1.0
                for name in self.order:
                    sample = proc_resources(self.nodes[name])
                    if sample:
                        self.resources.append((round(now, 3), name, *sample))

    # -- views ----------------------------------------------------------------
    def status_of(self, name, timeout=2.0):
        host, port = self.address_of(name)
        return cc.decode_status(cc.one_call(host, port, cc.STATUS_REQUEST, [], timeout))


def proc_resources(node):
    """(rss_kb, open fds) of a running node, or None."""
    if node.proc is None or node.proc.poll() is not None:
        return None
    pid = node.proc.pid
    try:
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    break
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------
# The schedule.

def make_schedule(seed, kinds, duration, names, max_down, probe_ms, profile):
    """Episodes per lane, drawn from the seed: {lane: [episode, ...]}, each episode a dict
    with 'at' (seconds after the workload started), 'kind' and its parameters.
    profile: dict of knobs (kill_down, kill_gap, pause_max_fraction, partition_s, loss...);
    profile["script"], when given, is the schedule itself ({lane: [episode, ...]}, used by
    the planted-bug scenarios that need one exact sequence of faults)."""
    if profile.get("script"):
        return {lane: [dict(e) for e in episodes] for lane, episodes in profile["script"].items()}
    lanes = {}
    n = len(names)
    end = duration - profile.get("quiet_tail_s", 2.0)

    process_kinds = [k for k in ("kill", "pause") if k in kinds]
    if process_kinds:
        rng = random.Random(f"{seed}:process")
        episodes, t = [], rng.uniform(*profile.get("first_s", (2.0, 4.0)))
        pause_max = profile.get("pause_max_fraction", 0.6) * suspicion_min_s(n, probe_ms)
        while t < end:
            kind = rng.choice(process_kinds)
            if kind == "kill":
                victims_count = 1
                if max_down >= 2 and rng.random() < profile.get("double_kill_p", 0.5):
                    victims_count = min(max_down, n - 1)
                victims = rng.sample(names, victims_count)
                downs = [rng.uniform(*profile.get("kill_down_s", (2.0, 5.0))) for _ in victims]
                offsets = [0.0] + [rng.uniform(0.2, 1.5) for _ in victims[1:]]
                episodes.append({"at": round(t, 3), "kind": "kill", "targets": victims,
                                 "down_s": [round(d, 3) for d in downs],
                                 "offsets_s": [round(o, 3) for o in offsets]})
                length = max(o + d for o, d in zip(offsets, downs))
                t += length + rng.uniform(*profile.get("kill_gap_s", (1.0, 3.0)))
            else:
                victim = rng.choice(names)
                length = rng.uniform(min(0.1, pause_max / 2), pause_max)
                episodes.append({"at": round(t, 3), "kind": "pause", "targets": [victim],
                                 "pause_s": round(length, 3)})
                t += length + rng.uniform(*profile.get("pause_gap_s", (0.5, 2.0)))
        lanes["process"] = episodes

    # Cuts: every partition shape and link-down once per round, in a seeded order; "partition"
    # in network_kinds stands for a cut of any of them (a schedule without link-down draws
    # exactly what it drew before link-down existed).
    cut_items = []
    if "partition" in kinds:
        cut_items += profile.get("partition_shapes", ["halves", "isolate", "oneway"])
    if "link-down" in kinds:
        cut_items.append("link-down")
    network_kinds = (["partition"] if cut_items else []) + (["loss"] if "loss" in kinds else [])
    if network_kinds:
        rng = random.Random(f"{seed}:network")
        episodes = []
        if profile.get("loss_continuous"):
            p, proto = profile["loss_continuous"]
            episodes.append({"at": 1.0, "kind": "loss", "probability": p, "proto": proto,
                             "hold_s": round(end - 1.0, 3)})
            network_kinds = [k for k in network_kinds if k != "loss"]
        t = rng.uniform(*profile.get("first_s", (2.0, 4.0)))
        shape_cycle = []
        while network_kinds and t < end:
            kind = rng.choice(network_kinds)
            if kind == "partition":
                if not shape_cycle:
                    shape_cycle = rng.sample(cut_items, len(cut_items))
                shape = shape_cycle.pop(0)
                shuffled = rng.sample(names, n)
                if shape == "link-down":  # one node's interface down, then up
                    hold = rng.uniform(*profile.get("partition_s", (3.0, 10.0)))
                    hold = min(hold, max(1.0, end - t))
                    episodes.append({"at": round(t, 3), "kind": "link-down",
                                     "targets": shuffled[:1], "hold_s": round(hold, 3)})
                    t += hold + rng.uniform(*profile.get("network_gap_s", (2.0, 5.0)))
                    continue
                if shape == "halves":
                    k = max(1, n // 2)
                    side_a, side_b = shuffled[:k], shuffled[k:]
                elif shape == "isolate":
                    side_a, side_b = shuffled[:1], shuffled[1:]
                elif shape == "link":  # one link cut both ways; the rest still connects them
                    side_a, side_b = shuffled[:1], shuffled[1:2]
                else:  # one-way: side_b stops hearing side_a
                    k = rng.randint(1, max(1, n // 2))
                    side_a, side_b = shuffled[:k], shuffled[k:]
                hold = rng.uniform(*profile.get("partition_s", (3.0, 10.0)))
                hold = min(hold, max(1.0, end - t))
                episodes.append({"at": round(t, 3), "kind": "partition", "shape": shape,
                                 "side_a": sorted(side_a), "side_b": sorted(side_b),
                                 "hold_s": round(hold, 3)})
            else:
                p = rng.uniform(*profile.get("loss_p", (0.05, 0.2)))
                proto = rng.choice(profile.get("loss_protos", ["udp", "all"]))
                hold = min(rng.uniform(*profile.get("loss_s", (5.0, 15.0))), max(1.0, end - t))
                episodes.append({"at": round(t, 3), "kind": "loss", "probability": round(p, 3),
                                 "proto": proto, "hold_s": round(hold, 3)})
            t += hold + rng.uniform(*profile.get("network_gap_s", (2.0, 5.0)))
        lanes["network"] = episodes

    if "topology" in kinds:
        # T6: one NEW node joins, then (optionally) a node that does not change is killed
        # and restarted, then one of the original nodes is decommissioned. One lane, so
        # each step waits for the previous one (a join waits until the node is normal
        # everywhere; decommission is refused while a member is down).
        rng = random.Random(f"{seed}:topology")
        leaver = rng.choice(names)
        episodes = [{"at": profile.get("join_at_s", 3.0), "kind": "join",
                     "targets": [f"n{n + 1}"]}]
        if profile.get("topology_kill", True):
            victim = rng.choice([x for x in names if x != leaver])
            episodes.append({"at": profile.get("kill_at_s", 10.0), "kind": "kill",
                             "targets": [victim],
                             "down_s": [round(rng.uniform(*profile.get("kill_down_s", (2.0, 4.0))), 3)],
                             "offsets_s": [0.0]})
        episodes.append({"at": profile.get("decommission_at_s", 18.0), "kind": "decommission",
                         "targets": [leaver]})
        lanes["topology"] = episodes

    if "hog" in kinds:
        rng = random.Random(f"{seed}:hog")
        episodes, t = [], rng.uniform(2.0, 5.0)
        while t < end:
            hold = min(rng.uniform(*profile.get("hog_s", (3.0, 8.0))), max(1.0, end - t))
            episodes.append({"at": round(t, 3), "kind": "hog", "hold_s": round(hold, 3),
                             "processes": profile.get("hog_processes", os.cpu_count() or 2)})
            t += hold + rng.uniform(*profile.get("hog_gap_s", (3.0, 8.0)))
        lanes["hog"] = episodes

    if "hostile" in kinds:
        rng = random.Random(f"{seed}:hostile")
        episodes = []
        if profile.get("hostile_continuous"):
            episodes.append({"at": 1.0, "kind": "hostile", "hold_s": round(end - 1.0, 3),
                             "seed": rng.getrandbits(32)})
        else:
            t = rng.uniform(1.0, 3.0)
            while t < end:
                hold = min(rng.uniform(2.0, 6.0), max(1.0, end - t))
                episodes.append({"at": round(t, 3), "kind": "hostile", "hold_s": round(hold, 3),
                                 "seed": rng.getrandbits(32)})
                t += hold + rng.uniform(1.0, 5.0)
        lanes["hostile"] = episodes
    return lanes


# ---------------------------------------------------------------------------
# Executing the schedule.

class FaultRunner:
    """Runs each lane in a thread. `faults` collects one record per injected fault:
    {kind, targets, start, end, ...} (runner clock)."""

    def __init__(self, cluster, net, lanes, clock, log, hostile_factory=None):
        self.cluster = cluster
        self.net = net
        self.lanes = lanes
        self.clock = clock
        self.log = log
        self.hostile_factory = hostile_factory
        self.stop_event = threading.Event()
        self.threads = []
        self.faults = []
        self.rejoins = []       # {node, t_ready, seconds, incarnation_before, incarnation_after}
        self.rejoin_threads = []
        self.errors = []
        self.lock = threading.Lock()
        self.hostile_stats = {}
        self.topology = []      # join / decommission results (T6)
        self.kv = None          # kv CLI (decommission)

    def start(self, t_origin):
        self.t_origin = t_origin
        for lane, episodes in self.lanes.items():
            t = threading.Thread(target=self._lane, args=(lane, episodes), name=f"lane-{lane}",
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=60)
        for t in self.rejoin_threads:
            t.join(timeout=30)

    def _record(self, fault):
        with self.lock:
            self.faults.append(fault)

    def _wait_until(self, t_rel):
        delay = t_rel - self.clock()
        if delay > 0:
            return not self.stop_event.wait(delay)
        return not self.stop_event.is_set()

    def _sleep(self, seconds):
        """False when the run is stopping (the caller heals at once)."""
        return not self.stop_event.wait(max(0.0, seconds))

    def _lane(self, lane, episodes):
        for episode in episodes:
            if not self._wait_until(episode["at"]):
                return
            try:
                getattr(self, "_do_" + episode["kind"].replace("-", "_"))(episode)
            except Exception as e:  # noqa: BLE001 - a fault that cannot be injected is reported
                self.errors.append(f"{episode['kind']} at {episode['at']}: {type(e).__name__}: {e}")
                self.log(f"  !! fault {episode['kind']} failed: {type(e).__name__}: {e}")
            if self.stop_event.is_set():
                return

    # -- kill -------------------------------------------------------------------
    def _incarnation_seen(self, name):
        best = None
        for other in self.cluster.up_names():
            if other == name:
                continue
            view = self.cluster.status_of(other, timeout=1.0)
            if view and name in view["members"]:
                inc = view["members"][name]["incarnation"]
                best = inc if best is None else max(best, inc)
        return best

    def _do_kill(self, ep):
        started = self.clock()
        plan = sorted(zip(ep["offsets_s"], ep["targets"], ep["down_s"]))
        killed = []  # (name, kill time, restart due, incarnation before)
        for offset, name, down in plan:
            if not self._sleep(started + offset - self.clock()):
                break
            before = self._incarnation_seen(name)
            t_kill = self.clock()
            pid = self.cluster.nodes[name].pid
            self.cluster.kill(name)
            self.log(f"  [{t_kill:7.2f}] kill -9 {name} (pid {pid}); down {down:.1f} s")
            killed.append((name, t_kill, t_kill + down, before, pid))
        for name, t_kill, due, before, pid in sorted(killed, key=lambda k: k[2]):
            self._sleep(due - self.clock())  # cut short when stopping: restart at once
            self.cluster.restart(name)
            t_ready = self.clock()
            self.log(f"  [{t_ready:7.2f}] restarted {name} (pid {self.cluster.nodes[name].pid})")
            self._record({"kind": "kill", "targets": [name], "start": round(t_kill, 3),
                          "end": round(t_ready, 3), "pid": pid})
            t = threading.Thread(target=self._watch_rejoin, args=(name, t_ready, before),
                                 daemon=True)
            self.rejoin_threads.append(t)
            t.start()

    def _watch_rejoin(self, name, t_ready, before, timeout=30.0):
        """How long after a restart every other up node lists the node alive with an
        incarnation above the one they had for it before the kill."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = True
            inc_after = None
            for other in self.cluster.up_names():
                if other == name:
                    continue
                view = self.cluster.status_of(other, timeout=1.0)
                m = view["members"].get(name) if view else None
                if not m or m["liveness"] != "alive" or (before is not None
                                                         and m["incarnation"] <= before):
                    ok = False
                    break
                inc_after = m["incarnation"]
            if ok:
                with self.lock:
                    self.rejoins.append({"node": name, "t_ready": round(t_ready, 3),
                                         "seconds": round(self.clock() - t_ready, 3),
                                         "incarnation_before": before,
                                         "incarnation_after": inc_after})
                return
            time.sleep(0.05)
        with self.lock:
            self.rejoins.append({"node": name, "t_ready": round(t_ready, 3), "seconds": None,
                                 "incarnation_before": before})

    # -- pause ------------------------------------------------------------------
    def _do_pause(self, ep):
        name = ep["targets"][0]
        t0 = self.clock()
        if not self.cluster.pause(name):
            return
        self.log(f"  [{t0:7.2f}] SIGSTOP {name} for {ep['pause_s']:.2f} s")
        self._sleep(ep["pause_s"])
        self.cluster.resume(name)
        t1 = self.clock()
        self._record({"kind": "pause", "targets": [name], "start": round(t0, 3),
                      "end": round(t1, 3)})

    # -- network ----------------------------------------------------------------
    def _hosts(self, names):
        return [self.cluster.nodes[n].host for n in names]

    def _do_partition(self, ep):
        a, b = ep["side_a"], ep["side_b"]
        rules = cut_rules(self._hosts(a), self._hosts(b))
        if ep["shape"] != "oneway":
            rules += cut_rules(self._hosts(b), self._hosts(a))
        t0 = self.clock()
        added = []
        try:
            for rule in rules:
                self.net.add(rule)
                added.append(rule)
            arrow = "->|" if ep["shape"] == "oneway" else "|"
            self.log(f"  [{t0:7.2f}] partition {ep['shape']}: {','.join(a)} {arrow} "
                     f"{','.join(b)} for {ep['hold_s']:.1f} s")
            self._sleep(ep["hold_s"])
        finally:
            for rule in added:
                self.net.remove(rule)
        t1 = self.clock()
        self._record({"kind": "partition", "shape": ep["shape"], "targets": a + b,
                      "side_a": a, "side_b": b, "start": round(t0, 3), "end": round(t1, 3)})

    def _do_loss(self, ep):
        names = self.cluster.names()
        rules = loss_rules(self._hosts(names), ep["probability"], ep["proto"])
        t0 = self.clock()
        added = []
        try:
            for rule in rules:
                self.net.add(rule)
                added.append(rule)
            self.log(f"  [{t0:7.2f}] loss {ep['probability']:.0%} ({ep['proto']}) between nodes "
                     f"for {ep['hold_s']:.1f} s")
            self._sleep(ep["hold_s"])
        finally:
            for rule in added:
                self.net.remove(rule)
        t1 = self.clock()
        self._record({"kind": "loss", "targets": names, "probability": ep["probability"],
                      "proto": ep["proto"], "start": round(t0, 3), "end": round(t1, 3)})

    def _do_link_down(self, ep):
        """The node's interface down for hold_s, then up: every packet to or from it is
        lost (clients' too), as when its cable is pulled; its process runs on."""
        name = ep["targets"][0]
        host = self.cluster.nodes[name].host
        t0 = self.clock()
        iface = self.net.link_down(host)
        try:
            self.log(f"  [{t0:7.2f}] link-down {name} ({iface}) for {ep['hold_s']:.1f} s")
            self._sleep(ep["hold_s"])
        finally:
            self.net.link_up(host)
        t1 = self.clock()
        self._record({"kind": "link-down", "targets": [name], "iface": iface,
                      "start": round(t0, 3), "end": round(t1, 3)})

    # -- CPU hog --------------------------------------------------------------------
    def _do_hog(self, ep):
        """As many busy-looping processes as there are cores, competing with the nodes."""
        t0 = self.clock()
        procs = []
        try:
            for _ in range(ep["processes"]):
                procs.append(_spawn(lambda: subprocess.Popen(
                    [sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL,
                    preexec_fn=harness._die_with_parent)))
                harness._PROCESSES[procs[-1].pid] = procs[-1]
            self.log(f"  [{t0:7.2f}] CPU hog: {len(procs)} busy processes for {ep['hold_s']:.1f} s")
            self._sleep(ep["hold_s"])
        finally:
            for p in procs:
                harness._kill_pid(p)
                harness._PROCESSES.pop(p.pid, None)
        self._record({"kind": "hog", "targets": [], "start": round(t0, 3),
                      "end": round(self.clock(), 3), "processes": len(procs)})

    # -- topology (T6) ------------------------------------------------------------
    def _views(self, names):
        return {n: self.cluster.status_of(n, timeout=1.0) for n in names}

    def _wait_ring(self, pred, timeout, what):
        """Polls every up member's status until pred(views) holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            views = self._views(self.cluster.up_names())
            if all(views.values()) and pred(views):
                return True
            time.sleep(0.1)
        self.errors.append(f"{what}: not reached within {timeout:.0f} s")
        self.log(f"  !! {what}: not reached within {timeout:.0f} s")
        return False

    def _do_join(self, ep):
        """A new node joins through the live members; workers use it once it is normal
        everywhere."""
        t0 = self.clock()
        name = self.cluster.add_node()
        node = self.cluster.nodes[name]
        self.log(f"  [{t0:7.2f}] join {name} ({node.address}, pid {node.pid})")
        ok = self._wait_ring(lambda views: all(
            name in v["members"] and v["members"][name]["ring_status"] == "normal"
            for v in views.values()), ep.get("timeout_s", 90.0), f"join of {name}")
        t1 = self.clock()
        with self.cluster.lock:
            if self.cluster.state[name] == "joining":
                self.cluster.state[name] = "up"
        self.log(f"  [{t1:7.2f}] {name} normal everywhere ({t1 - t0:.1f} s)" if ok else
                 f"  [{t1:7.2f}] {name} NOT normal everywhere")
        self.topology.append({"kind": "join", "node": name, "done": ok,
                              "seconds": round(t1 - t0, 3)})
        self._record({"kind": "join", "targets": [name], "start": round(t0, 3),
                      "end": round(t1, 3), "done": ok})

    def _do_decommission(self, ep):
        """`kv decommission` on a member: leaving, streams away, left, exits 0. No worker
        uses it once it starts leaving; afterwards it is gone for good (not 'down')."""
        name = ep["targets"][0]
        members = set(self.cluster.names())
        # Refused with a member down: wait until every member is alive and normal.
        self._wait_ring(lambda views: all(
            set(v["members"]) >= members and all(
                v["members"][m]["liveness"] == "alive" and v["members"][m]["ring_status"] == "normal"
                for m in members) for v in views.values()), 60.0, f"all normal before decommissioning {name}")
        node = self.cluster.nodes[name]
        with self.cluster.lock:
            self.cluster.state[name] = "leaving"
        time.sleep(0.3)  # let the workers move off it
        t0 = self.clock()
        self.log(f"  [{t0:7.2f}] kv decommission {name} (pid {node.pid})")
        try:
            r = harness.run_kv(self.kv, "decommission", host=node.address,
                               timeout=ep.get("timeout_s", 150.0))
            kv_rc, kv_out = r.rc, r.describe()[-400:]
        except harness.TestFailure as e:
            kv_rc, kv_out = None, str(e)
        try:
            node_rc = node.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node_rc = None
        t1 = self.clock()
        ok = kv_rc == 0 and node_rc == 0
        with self.cluster.lock:
            if node_rc is None:
                harness._kill_pid(node.proc)
            harness._PROCESSES.pop(node.proc.pid, None)
            self.cluster.state[name] = "gone" if ok or node_rc is not None else "down"
            if self.cluster.state[name] == "gone":
                self.cluster.gone.append(name)
        self.log(f"  [{t1:7.2f}] decommission {name}: kv exit {kv_rc}, kvnode exit {node_rc} "
                 f"({t1 - t0:.1f} s)")
        if not ok:
            self.errors.append(f"decommission {name}: kv exit {kv_rc}, kvnode exit {node_rc}; {kv_out}")
        record = {"kind": "decommission", "node": name, "done": ok, "kv_rc": kv_rc,
                  "node_rc": node_rc, "seconds": round(t1 - t0, 3), "hints_after_left": []}
        self.topology.append(record)
        self._record({"kind": "decommission", "targets": [name], "start": round(t0, 3),
                      "end": round(t1, 3), "kv_rc": kv_rc, "node_rc": node_rc})
        # Evidence: each member's stored hints for targets other than the live members,
        # every 2 s while the workload goes on (they should stay at 0 once it has left).
        while not self.stop_event.is_set():
            live = set(self.cluster.names())
            sample = {"t": round(self.clock(), 2)}
            for other in self.cluster.up_names():
                host, port = self.cluster.address_of(other)
                stats = cc.decode_stats(cc.one_call(host, port, cc.STATS_REQUEST, [], 1.0)) or {}
                sample[other] = sum(v for k, v in stats.items()
                                    if k.startswith("hints_stored:") and k.split(":", 1)[1] not in live)
            record["hints_after_left"].append(sample)
            self.stop_event.wait(2.0)

    # -- hostile ------------------------------------------------------------------
    def _do_hostile(self, ep):
        t0 = self.clock()
        sender = self.hostile_factory(ep["seed"])
        deadline = time.monotonic() + ep["hold_s"]
        while time.monotonic() < deadline and not self.stop_event.is_set():
            sender.one(self.cluster)
            self.stop_event.wait(sender.pace_s)
        t1 = self.clock()
        with self.lock:
            for kind, count in sender.sent.items():
                self.hostile_stats[kind] = self.hostile_stats.get(kind, 0) + count
        self._record({"kind": "hostile", "targets": self.cluster.names(), "start": round(t0, 3),
                      "end": round(t1, 3), "sent": sum(sender.sent.values())})
