#!/usr/bin/env python3
"""Start-up time and idle memory of one kvnode, for bench/compare-redis.sh.

Starts a kvnode on fresh ports and data directory, measures the time from
spawning the process to the first PING answered on its RESP port, lets it sit
idle, reads its resident set size (VmRSS) and stops it by PID.

    python3 bench/startup_probe.py --kvnode build/node/kvnode [--idle-s 2] [--runs 3]

Prints one line per run and a summary: startup_to_ping_ms=<median> idle_rss_mib=<median>
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    for _ in range(50):
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            udp.close()
            tcp.close()
    raise RuntimeError("no free port")


def ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def one_run(kvnode, workdir, idle_s):
    port, resp_port = free_port(), free_port()
    argv = [kvnode, "--name", "probe", "--listen", f"127.0.0.1:{port}", "--data",
            os.path.join(workdir, f"data-{port}"), "--replicas", "1", "--log-level", "warn",
            "--resp-listen", f"127.0.0.1:{resp_port}"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = started + 20
        while not ping(resp_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kvnode never answered PING (exit {proc.poll()})")
            time.sleep(0.001)
        startup_ms = (time.monotonic() - started) * 1000
        time.sleep(idle_s)
        return startup_ms, rss_mib(proc.pid)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kvnode", default="build/node/kvnode")
    parser.add_argument("--idle-s", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    startups, rsses = [], []
    with tempfile.TemporaryDirectory(prefix="ringkv-startup-") as workdir:
        for run in range(args.runs):
            startup_ms, rss = one_run(os.path.abspath(args.kvnode), workdir, args.idle_s)
            print(f"run {run + 1}: startup_to_ping_ms={startup_ms:.1f} idle_rss_mib={rss:.1f}")
            startups.append(startup_ms)
            rsses.append(rss)
    startups.sort()
    rsses.sort()
    print(f"startup_to_ping_ms={startups[len(startups) // 2]:.1f} "
          f"idle_rss_mib={rsses[len(rsses) // 2]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
