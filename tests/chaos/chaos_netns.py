"""The network the chaos runner's cluster lives on: where each node runs, which address it
has, and where the firewall rules and link faults go. Root only; never touches the host's
own interfaces or firewall.

Three layouts (`--topology`):

  per-node  (default as root) every node in its own network namespace
            ringkv-chaos-<pid>-n<i>, with one interface eth0 = 10.213.47.<i>/24, the
            other end of a veth pair (vn<i>) plugged into bridge br0 in a hub namespace
            ringkv-chaos-<pid>-hub. The runner and its clients run in the hub, on
            10.213.47.254 (workload, kv) and 10.213.47.200 (hostile input). Every node
            listens on port 7000 of its own address. Partitions and loss are iptables rules
            in the INPUT chain of the RECEIVING node's namespace; `link-down` sets the
            node's bridge port vn<i> down (its eth0 loses carrier: packets vanish both
            ways, as when a cable is pulled; the node keeps its address and routes).
  single    one namespace ringkv-chaos-<pid>, nodes on 127.0.0.<i>, rules in its INPUT
            chain; the loopback route's preferred source is 127.0.0.254, so the runner's
            own connections are never cut. No link faults.
  loopback  the host's loopback, no namespace: no network faults at all.

Namespace names carry the runner's PID, so two runs never collide; the subnet is private
to the hub, so it cannot collide with anything either. A run deletes everything it made
when it ends (finally: also on an error, ctrl-C or SIGTERM); what a killed run left behind
(its PID is gone) is deleted by the next run before it starts (`sweep_leftovers`).
"""

import json
import os
import shutil
import socket
import subprocess
import threading
import time

import harness

PREFIX = "ringkv-chaos-"
SUBNET = "10.213.47"
PREFIX_LEN = 24
HUB_ADDRESS = f"{SUBNET}.254"       # the runner's clients (workload, kv, checkers)
HUB_HOSTILE_ADDRESS = f"{SUBNET}.200"  # hostile input (its log lines are counted)
NODE_PORT = 7000                    # each node has its own stack: the same port everywhere
NODES_MAX = 199                     # node addresses .1 .. .199
LOOPBACK_CLIENT_SOURCE = "127.0.0.254"
LOOPBACK_HOSTILE_SOURCE = "127.0.0.200"
TOPOLOGIES = ("per-node", "single", "loopback")


def run(argv, timeout=20):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)


def _must(argv):
    result = run(argv)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stdout.decode(errors='replace').strip()}")


def in_namespace(namespace):
    """argv prefix that runs a command inside `namespace` (an exec, not a fork: the PID of
    the process started so is the PID of the command)."""
    return ["ip", "netns", "exec", namespace] if namespace else []


# ---------------------------------------------------------------------------
# Layouts.

class Layout:
    """Where node i runs and how it is reached; saved as JSON for the runner inside."""

    def __init__(self, mode, hub=None, namespace=None, nodes=None):
        assert mode in TOPOLOGIES, mode
        self.mode = mode
        self.hub = hub              # per-node: the hub namespace (runner, bridge)
        self.namespace = namespace  # single: the one namespace
        self.nodes = {int(i): spec for i, spec in (nodes or {}).items()}  # per-node: i -> spec

    def to_json(self):
        return {"mode": self.mode, "hub": self.hub, "namespace": self.namespace,
                "nodes": self.nodes}

    @classmethod
    def load(cls, path):
        with open(path) as f:
            doc = json.load(f)
        return cls(doc["mode"], doc.get("hub"), doc.get("namespace"), doc.get("nodes"))

    def save(self, path):
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=1)

    def _spec(self, index):
        if index not in self.nodes:
            raise RuntimeError(f"node {index}: this run made namespaces for nodes "
                               f"1..{len(self.nodes)} only")
        return self.nodes[index]

    def host(self, index):
        if self.mode == "per-node":
            return self._spec(index)["host"]
        return harness.loopback_address(index)

    def client_source(self):
        return HUB_ADDRESS if self.mode == "per-node" else LOOPBACK_CLIENT_SOURCE

    def hostile_source(self):
        return HUB_HOSTILE_ADDRESS if self.mode == "per-node" else LOOPBACK_HOSTILE_SOURCE

    def supports(self, fault, net):
        """Whether `fault` can be injected here (net: the Net, or None without iptables)."""
        if fault in ("partition", "loss"):
            return net is not None
        if fault == "link-down":
            return net is not None and self.mode == "per-node"
        return True

    def node(self, kvnode, workdir, name, index):
        """A harness Node for node `index` (not started)."""
        if self.mode != "per-node":
            return harness.Node(kvnode, workdir, name=name, host=self.host(index))
        spec = self._spec(index)
        return NamespacedNode(kvnode, workdir, spec["ns"], name=name, host=spec["host"],
                              port=NODE_PORT)

    def namespace_of(self, host):
        """The namespace whose INPUT chain receives packets for `host` ('' = the runner's)."""
        if self.mode != "per-node":
            return ""
        for spec in self.nodes.values():
            if spec["host"] == host:
                return spec["ns"]
        raise RuntimeError(f"{host} is not a node address of this run")

    def bridge_port(self, host):
        for spec in self.nodes.values():
            if spec["host"] == host:
                return spec["port_iface"]
        raise RuntimeError(f"{host} is not a node address of this run")

    def node_namespaces(self):
        return [spec["ns"] for _, spec in sorted(self.nodes.items())]


class NamespacedNode(harness.Node):
    """A kvnode started as `ip netns exec NS kvnode ...`: ip execs kvnode in place, so the
    PID recorded is kvnode's (kill, pause, /proc samples and exit codes all apply to it).
    Ready once kvnode's namespace has a TCP socket listening on its address (read from
    /proc/PID/net/tcp, which shows the process's own namespace): that holds even while the
    node's link is down, when the runner could not connect to it."""

    def __init__(self, kvnode, workdir, namespace, **kw):
        super().__init__(kvnode, workdir, **kw)
        self.namespace = namespace

    def argv(self):
        return in_namespace(self.namespace) + super().argv()

    def wait_ready(self, timeout=harness.READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        wanted = f"{socket.inet_aton(self.host)[::-1].hex().upper()}:{self.port:04X}"
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise harness.NodeError(f"{self.name}: kvnode exited with {rc} before listening; "
                                        f"log tail:\n{self.log_tail()}")
            if _listening(self.proc.pid, wanted) and self.proc.poll() is None:
                return
            if time.monotonic() >= deadline:
                raise harness.NodeError(f"{self.name}: not listening on {self.address} in "
                                        f"{self.namespace} after {timeout:.0f} s; log tail:\n"
                                        f"{self.log_tail()}")
            time.sleep(0.02)


def _listening(pid, local_hex):
    """Whether /proc/PID/net/tcp lists a LISTEN (0A) socket on local_hex (ADDR:PORT, hex)."""
    try:
        with open(f"/proc/{pid}/net/tcp") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) > 3 and fields[1] == local_hex and fields[3] == "0A":
                    return True
    except OSError:
        pass
    return False


# ---------------------------------------------------------------------------
# Making and removing namespaces (the runner outside, as root).

def unavailable_reason():
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no `ip` command"
    return None


def _owner_pid(name):
    """The runner PID in a namespace name of ours (ringkv-chaos-<pid>[-...]), or None."""
    if not name.startswith(PREFIX):
        return None
    digits = name[len(PREFIX):].split("-", 1)[0]
    return int(digits) if digits.isdigit() else None


def _runner_alive(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"chaos" in f.read()
    except OSError:
        return False


def sweep_leftovers(log):
    """Deletes the namespaces of earlier runs that are gone (killed before they could clean
    up), and any of ours with this PID (a PID reused). Returns the names deleted."""
    listed = run(["ip", "netns", "list"])
    gone = []
    for line in listed.stdout.decode(errors="replace").splitlines():
        name = line.split()[0] if line.split() else ""
        pid = _owner_pid(name)
        if pid is None or (pid != os.getpid() and _runner_alive(pid)):
            continue
        if run(["ip", "netns", "del", name]).returncode == 0:
            gone.append(name)
    if gone:
        log(f"note: deleted {len(gone)} namespaces left by runs that were killed: "
            f"{', '.join(gone[:8])}{' ...' if len(gone) > 8 else ''}")
    return gone


def delete_namespaces(names, log):
    for name in names:
        gone = run(["ip", "netns", "del", name])
        if gone.returncode != 0:
            log(f"warning: ip netns del {name}: {gone.stdout.decode(errors='replace').strip()}")


def make_single():
    """One namespace with lo up. Returns the Layout; raises RuntimeError."""
    namespace = f"{PREFIX}{os.getpid()}"
    _must(["ip", "netns", "add", namespace])
    try:
        _must(["ip", "-n", namespace, "link", "set", "lo", "up"])
    except RuntimeError:
        delete_namespaces([namespace], lambda _m: None)
        raise
    return Layout("single", namespace=namespace)


def make_per_node(count):
    """A hub namespace with bridge br0 (10.213.47.254 and .200) and `count` node namespaces,
    each with eth0 = 10.213.47.<i> on a veth to br0. Returns the Layout; raises RuntimeError
    after deleting whatever it made."""
    if not 1 <= count <= NODES_MAX:
        raise RuntimeError(f"{count} nodes: the per-node layout has room for 1..{NODES_MAX}")
    tag = f"{PREFIX}{os.getpid()}"
    hub = f"{tag}-hub"
    made = []
    try:
        _must(["ip", "netns", "add", hub])
        made.append(hub)
        on_hub = ["ip", "-n", hub]
        _must(on_hub + ["link", "set", "lo", "up"])
        _must(on_hub + ["link", "add", "br0", "type", "bridge"])
        _must(on_hub + ["addr", "add", f"{HUB_ADDRESS}/{PREFIX_LEN}", "dev", "br0"])
        _must(on_hub + ["addr", "add", f"{HUB_HOSTILE_ADDRESS}/{PREFIX_LEN}", "dev", "br0"])
        _must(on_hub + ["link", "set", "br0", "up"])
        nodes = {}
        for i in range(1, count + 1):
            ns, port_iface, host = f"{tag}-n{i}", f"vn{i}", f"{SUBNET}.{i}"
            _must(["ip", "netns", "add", ns])
            made.append(ns)
            on_node = ["ip", "-n", ns]
            _must(on_node + ["link", "set", "lo", "up"])
            _must(on_hub + ["link", "add", port_iface, "type", "veth", "peer", "name", "eth0",
                            "netns", ns])
            _must(on_hub + ["link", "set", port_iface, "master", "br0", "up"])
            _must(on_node + ["addr", "add", f"{host}/{PREFIX_LEN}", "dev", "eth0"])
            _must(on_node + ["link", "set", "eth0", "up"])
            nodes[i] = {"ns": ns, "host": host, "port_iface": port_iface}
        return Layout("per-node", hub=hub, nodes=nodes)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        delete_namespaces(reversed(made), lambda _m: None)
        raise RuntimeError(str(e)) from None


def namespaces_of(layout):
    if layout.mode == "per-node":
        return [layout.hub] + layout.node_namespaces()
    if layout.mode == "single":
        return [layout.namespace]
    return []


def runner_namespace(layout):
    """The namespace the runner (workload, checkers, kv) runs in."""
    return layout.hub if layout.mode == "per-node" else layout.namespace


# ---------------------------------------------------------------------------
# Firewall rules and links (the runner inside).

def find_iptables(namespace=""):
    """The first iptables variant that can add and delete an INPUT rule with the statistic
    match in `namespace` ('' = here); (tool, reasons)."""
    reasons = []
    for tool in ("iptables", "iptables-legacy", "iptables-nft"):
        if shutil.which(tool) is None:
            reasons.append(f"{tool}: not installed")
            continue
        probe = ["-s", "127.0.0.250", "-d", "127.0.0.251", "-m", "statistic", "--mode", "random",
                 "--probability", "0.5", "-j", "DROP"]
        added = run(in_namespace(namespace) + [tool, "-w", "-A", "INPUT", *probe])
        if added.returncode == 0:
            removed = run(in_namespace(namespace) + [tool, "-w", "-D", "INPUT", *probe])
            if removed.returncode == 0:
                return tool, reasons
            reasons.append(f"{tool} -D: {removed.stdout.decode(errors='replace').strip()}")
        else:
            reasons.append(f"{tool} -A: {added.stdout.decode(errors='replace').strip()}")
    return None, reasons


def setup_inside(layout, log):
    """Inside the runner's namespace: a Net for the network faults, or None (said why)."""
    if layout.mode == "loopback":
        return None
    probe_ns = layout.node_namespaces()[0] if layout.mode == "per-node" else ""
    tool, reasons = find_iptables(probe_ns)
    if tool is None:
        log("network faults unavailable (no working iptables in the namespace): " + "; ".join(reasons))
        return None
    if layout.mode == "single":
        moved = run(["ip", "route", "replace", "local", "127.0.0.0/8", "dev", "lo", "table",
                     "local", "proto", "kernel", "scope", "host", "src", LOOPBACK_CLIENT_SOURCE])
        if moved.returncode != 0:
            log(f"network faults unavailable: cannot set the loopback source address: "
                f"{moved.stdout.decode(errors='replace').strip()}")
            return None
    return Net(tool, layout)


class Net:
    """INPUT DROP rules (source -> destination), each in the receiver's chain: the one
    namespace's (single) or the destination node's own namespace (per-node); added and
    removed one by one. Link faults (per-node): a node's bridge port down and up. `flush`
    removes every rule and brings every link up."""

    def __init__(self, tool, layout=None):
        self.tool = tool
        self.layout = layout or Layout("single")
        self.rules = []           # (namespace, rule)
        self.links_down = set()   # bridge ports
        self.lock = threading.Lock()

    def _where(self, rule):
        return self.layout.namespace_of(rule[rule.index("-d") + 1])

    def add(self, rule):
        where = self._where(rule)
        result = run(in_namespace(where) + [self.tool, "-w", "-A", "INPUT", *rule])
        if result.returncode != 0:
            raise RuntimeError(f"{self.tool} -A INPUT {' '.join(rule)}{' in ' + where if where else ''}: "
                               f"{result.stdout.decode(errors='replace').strip()}")
        with self.lock:
            self.rules.append((where, rule))

    def remove(self, rule):
        where = self._where(rule)
        result = run(in_namespace(where) + [self.tool, "-w", "-D", "INPUT", *rule])
        with self.lock:
            if (where, rule) in self.rules:
                self.rules.remove((where, rule))
        return result.returncode == 0

    def _link(self, host, state):
        if self.layout.mode != "per-node":
            raise RuntimeError("link faults need --topology per-node")
        iface = self.layout.bridge_port(host)
        _must(["ip", "-n", self.layout.hub, "link", "set", iface, state])
        return iface

    def link_down(self, host):
        """Sets the node's bridge port down; returns its name."""
        iface = self._link(host, "down")
        with self.lock:
            self.links_down.add(host)
        return iface

    def link_up(self, host):
        iface = self._link(host, "up")
        with self.lock:
            self.links_down.discard(host)
        return iface

    def flush(self):
        for _where, rule in list(self.rules):
            self.remove(rule)
        for host in list(self.links_down):
            self.link_up(host)
        # The namespaces are private to this run: nothing else has rules in them.
        for where in (self.layout.node_namespaces() if self.layout.mode == "per-node" else [""]):
            run(in_namespace(where) + [self.tool, "-w", "-F", "INPUT"])


def cut_rules(src_hosts, dst_hosts):
    return [["-s", a, "-d", b, "-j", "DROP"] for a in src_hosts for b in dst_hosts]


def loss_rules(hosts, probability, proto):
    rules = []
    for a in hosts:
        for b in hosts:
            if a == b:
                continue
            rule = ["-s", a, "-d", b]
            if proto != "all":
                rule += ["-p", proto]
            rule += ["-m", "statistic", "--mode", "random", "--probability", f"{probability:.3f}",
                     "-j", "DROP"]
            rules.append(rule)
    return rules
