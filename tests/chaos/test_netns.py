#!/usr/bin/env python3
"""Checks the chaos runner's per-node topology plumbing (chaos_netns.py) without kvnode, in
a few seconds: the hub reaches each node over the bridge; a process started through
`ip netns exec` keeps its PID and lives in its node's namespace; a partition rule lands in
the receiver's namespace only and drops what it should; link-down cuts a node off and
link-up brings it back; deleting the layout leaves no namespace; a killed run's leftovers
are swept and a live run's are not.

Run as root: python3 tests/chaos/test_netns.py   (exit 0 pass, 1 fail, 77 skipped)
CTest: chaos_netns.
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "process"))

import harness  # noqa: E402
import chaos_netns as cn  # noqa: E402

PORT = 7000
# In a namespace: a TCP listener and a UDP receiver on HOST:PORT; prints "ready", then one
# line per datagram received.
SERVER = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((host, port)); tcp.listen(16)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind((host, port))
print("ready", flush=True)
while True:
    data, _ = udp.recvfrom(100)
    print(data.decode(), flush=True)
"""
# In a namespace: connect to HOST:PORT from SOURCE (or any), exit 0 when connected.
CONNECT = """
import socket, sys
s = socket.socket(); s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); sys.exit(0)
except OSError as e:
    print(e); sys.exit(1)
"""
# In a namespace: send datagram TEXT from SOURCE to HOST:PORT.
SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[3], 0))
s.sendto(sys.argv[4].encode(), (sys.argv[1], int(sys.argv[2])))
"""

failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)


def python_in(namespace, script, *args):
    return cn.in_namespace(namespace) + [sys.executable, "-c", script, *[str(a) for a in args]]


def can_connect(layout, host, timeout=1.0):
    return cn.run(python_in(layout.hub, CONNECT, host, PORT, timeout)).returncode == 0


def received(server, text, timeout):
    """Whether `server` printed `text` within timeout (lines read as they come)."""
    os.set_blocking(server.stdout.fileno(), False)
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        seen += server.stdout.read() or b""
        if text.encode() in seen:
            return True
        time.sleep(0.02)
    return False


def ready(namespace, host, port, proc, timeout):
    node = cn.NamespacedNode("/bin/true", "/tmp", namespace, name="probe", host=host, port=port)
    node.proc = proc
    try:
        node.wait_ready(timeout=timeout)
        return True
    except harness.NodeError:
        return False


def start_server(spec):
    server = subprocess.Popen(python_in(spec["ns"], SERVER, spec["host"], PORT),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              preexec_fn=harness._die_with_parent)
    harness._PROCESSES[server.pid] = server
    check(server.stdout.readline().strip() == b"ready", f"a server listens in {spec['ns']}")
    return server


def scenario(layout):
    n1, n2 = layout.nodes[1], layout.nodes[2]
    servers = [start_server(n1), start_server(n2)]
    # Same PID through `ip netns exec`, inside the node's namespace, not ours.
    ns_inode = os.stat(f"/run/netns/{n1['ns']}").st_ino
    check(os.stat(f"/proc/{servers[0].pid}/ns/net").st_ino == ns_inode
          and b"python" in open(f"/proc/{servers[0].pid}/cmdline", "rb").read(),
          "the PID of `ip netns exec NS python3 ...` is python's, in the node's namespace")
    check(os.stat(f"/proc/{servers[0].pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino,
          "the node's namespace is not the host's")
    check(ready(n1["ns"], n1["host"], PORT, servers[0], 5.0),
          "NamespacedNode.wait_ready sees the listener through /proc/PID/net/tcp")
    check(not ready(n1["ns"], n1["host"], PORT + 1, servers[0], 0.3),
          "NamespacedNode.wait_ready does not take another port for its own")
    check(can_connect(layout, n1["host"]) and can_connect(layout, n2["host"]),
          "the hub reaches both nodes over the bridge")

    tool, reasons = cn.find_iptables(n2["ns"])
    check(tool is not None, f"iptables works in a node namespace {reasons}")
    if tool is None:
        return servers
    net = cn.Net(tool, layout)
    rule = cn.cut_rules([n1["host"]], [n2["host"]])[0]
    net.add(rule)
    listed = {ns: cn.run(cn.in_namespace(ns) + [tool, "-w", "-S", "INPUT"]).stdout.decode()
              for ns in (n1["ns"], n2["ns"])}
    check(n1["host"] in listed[n2["ns"]] and n1["host"] not in listed[n1["ns"]],
          "a partition rule lands in the receiver's INPUT chain only")
    cn.run(python_in(n1["ns"], SEND, n2["host"], PORT, n1["host"], "cut-1"))
    check(not received(servers[1], "cut-1", 1.0), "n1 -> n2 datagram dropped while the rule holds")
    cn.run(python_in(n2["ns"], SEND, n1["host"], PORT, n2["host"], "back-1"))
    check(received(servers[0], "back-1", 2.0), "n2 -> n1 still delivered (one-way rule)")
    net.remove(rule)
    cn.run(python_in(n1["ns"], SEND, n2["host"], PORT, n1["host"], "healed-1"))
    check(received(servers[1], "healed-1", 2.0), "n1 -> n2 delivered again after the rule is removed")

    iface = net.link_down(n1["host"])
    check(iface == "vn1", "link-down acts on n1's bridge port")
    check(not can_connect(layout, n1["host"], timeout=1.0), "link-down: the hub cannot reach n1")
    cn.run(python_in(n1["ns"], SEND, n2["host"], PORT, n1["host"], "down-1"))
    check(not received(servers[1], "down-1", 1.0), "link-down: n1 cannot reach n2")
    check(can_connect(layout, n2["host"]), "link-down: n2 stays reachable")
    net.flush()  # brings every link up, as the heal does
    check(can_connect(layout, n1["host"], timeout=3.0), "after flush the hub reaches n1 again")
    return servers


def sweep_check():
    """A killed run's namespaces are swept; a live runner's are left alone."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             "chaos-runner-stand-in"], stdout=subprocess.DEVNULL,
                            preexec_fn=harness._die_with_parent)
    harness._PROCESSES[live.pid] = live
    stale, kept = f"{cn.PREFIX}{dead.pid}-hub", f"{cn.PREFIX}{live.pid}-hub"
    try:
        for name in (stale, kept):
            cn.run(["ip", "netns", "add", name])
        gone = cn.sweep_leftovers(lambda _m: None)
        names = cn.run(["ip", "netns", "list"]).stdout.decode()
        check(stale in gone and stale not in names, "a killed run's namespace is swept")
        check(kept not in gone and kept in names, "a live run's namespace is kept")
    finally:
        cn.delete_namespaces([kept, stale], lambda _m: None)
        harness._kill_pid(live)


def main():
    reason = cn.unavailable_reason()
    if reason:
        print(f"SKIP: network namespaces unavailable ({reason})")
        return 77
    try:
        layout = cn.make_per_node(2)
    except RuntimeError as e:
        print(f"SKIP: cannot make the per-node layout here: {e}")
        return 77
    made = cn.namespaces_of(layout)
    check(len(made) == 3, f"a hub and two node namespaces: {made}")
    try:
        scenario(layout)
    finally:
        harness.kill_all_processes()
        cn.delete_namespaces(made, print)
    names = cn.run(["ip", "netns", "list"]).stdout.decode()
    check(not any(ns in names for ns in made), "every namespace made is deleted")
    sweep_check()
    print(f"{'FAIL' if failures else 'PASS'}: {len(failures)} failed check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
