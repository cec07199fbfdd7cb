#!/usr/bin/env python3
"""Overload flood for a RESP server (ringkv's --resp-listen, or Redis): issue 13 item 4.

Opens CLIENTS connections spread over PROCS worker processes; each connection
sends a pipeline of PIPELINE `SET key value` (unique keys, VALUE_SIZE-byte
values), waits for every reply, and sends the next, for SECONDS (as
`redis-benchmark -c 2000 -P 128 -d 4000` does, which cannot be used here:
it exits at the first error reply, and refusing is the point). Meanwhile it
PINGs the server every 250 ms on a connection opened before the flood and
samples the server's RSS (--pid) every second; afterwards it keeps sampling
RSS for AFTER seconds.

Counts replies: `+OK` (admitted and acknowledged), `-BUSY` (refused by load
shedding) and any other error; latency percentiles are of the `+OK` replies
only (from the pipeline's send to the read that brought the reply). Prints
one JSON document on standard output; `--acked FILE` also writes every
acknowledged key, one per line (a value is the key padded with 'x' to
VALUE_SIZE, so a reader can check it).

  overload_flood.py --port 6379 [--host 127.0.0.1] [--pid PID] [--clients 2000]
      [--pipeline 128] [--value-size 4000] [--seconds 40] [--after 30] [--procs 2]
"""
import argparse
import json
import multiprocessing
import os
import selectors
import socket
import sys
import time

BUCKET_US = 100  # latency histogram resolution


def value_for(key: bytes, size: int) -> bytes:
    return key.ljust(size, b"x")[:size]


def encode_set(key: bytes, value: bytes) -> bytes:
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)


class Conn:
    __slots__ = ("sock", "index", "seq", "keys", "sent_at", "buffer", "out", "open")

    def __init__(self, sock, index):
        self.sock, self.index, self.seq = sock, index, 0
        self.keys, self.sent_at, self.buffer, self.out, self.open = [], 0.0, b"", b"", True


def worker(worker_id, args, deadline, result_queue):
    sel = selectors.DefaultSelector()
    conns = []
    counts = {"ok": 0, "busy": 0, "errors": 0, "closed": 0}
    first_error = ""
    histogram = {}
    acked = [] if args.acked else None
    count = args.clients // args.procs + (1 if worker_id < args.clients % args.procs else 0)
    for index in range(count):
        sock = socket.socket()
        try:
            sock.connect((args.host, args.port))
        except OSError as error:
            counts["closed"] += 1
            first_error = first_error or f"connect: {error}"
            sock.close()
            continue
        sock.setblocking(False)
        conns.append(Conn(sock, index))
    prefix = b"ovl:%d:" % worker_id

    def send_pipeline(conn):
        keys = [prefix + b"%d:%d" % (conn.index, conn.seq + i) for i in range(args.pipeline)]
        conn.seq += args.pipeline
        conn.keys = keys
        conn.out = b"".join(encode_set(key, value_for(key, args.value_size)) for key in keys)
        conn.sent_at = time.monotonic()
        flush(conn)

    def flush(conn):
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            sent = 0
        except OSError:
            close(conn)
            return
        conn.out = conn.out[sent:]
        sel.modify(conn.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out else 0), conn)

    def close(conn):
        if conn.open:
            conn.open = False
            counts["closed"] += 1
            sel.unregister(conn.sock)
            conn.sock.close()

    for conn in conns:
        sel.register(conn.sock, selectors.EVENT_READ, conn)
        send_pipeline(conn)
    drain_until = deadline + 10.0
    while True:
        now = time.monotonic()
        waiting = [c for c in conns if c.open and c.keys]
        if not waiting or now > drain_until:
            break
        for key, events in sel.select(timeout=0.2):
            conn = key.data
            if not conn.open:
                continue
            if events & selectors.EVENT_WRITE and conn.out:
                flush(conn)
                if not conn.open:
                    continue
            if not events & selectors.EVENT_READ:
                continue
            try:
                data = conn.sock.recv(1 << 18)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                close(conn)
                continue
            conn.buffer += data
            arrived = time.monotonic()
            lines = conn.buffer.split(b"\r\n")
            conn.buffer = lines.pop()
            for line in lines:
                if not conn.keys:
                    counts["errors"] += 1  # a reply nobody asked for (a server's parting error)
                    first_error = first_error or line.decode(errors="replace")
                    continue
                key = conn.keys.pop(0)
                if line == b"+OK":
                    counts["ok"] += 1
                    bucket = int((arrived - conn.sent_at) * 1e6) // BUCKET_US
                    histogram[bucket] = histogram.get(bucket, 0) + 1
                    if acked is not None:
                        acked.append(key)
                elif line.startswith(b"-BUSY"):
                    counts["busy"] += 1
                else:
                    counts["errors"] += 1
                    first_error = first_error or line.decode(errors="replace")
            if not conn.keys and time.monotonic() < deadline:
                send_pipeline(conn)
    for conn in conns:
        if conn.open:
            conn.sock.close()
    result_queue.put({"counts": counts, "first_error": first_error, "histogram": histogram,
                      "acked": [k.decode() for k in acked] if acked is not None else None})


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def percentile(histogram, fraction):
    total = sum(histogram.values())
    if total == 0:
        return None
    rank, seen = fraction * (total - 1) + 1, 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return (bucket + 1) * BUCKET_US / 1000.0
    return None


def ping(sock):
    start = time.monotonic()
    try:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(64)
            if not chunk:
                return None
            reply += chunk
    except OSError:
        return None
    return (time.monotonic() - start) * 1000.0 if reply == b"+PONG\r\n" else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, help="server process whose RSS to sample")
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--pipeline", type=int, default=128)
    parser.add_argument("--value-size", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--after", type=float, default=30, help="seconds of RSS sampling after the flood")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--acked", help="write the acknowledged keys to this file")
    args = parser.parse_args()

    pinger = socket.create_connection((args.host, args.port), timeout=10)
    rss_before = rss_kib(args.pid) if args.pid else None
    start = time.monotonic()
    deadline = start + args.seconds
    queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=worker, args=(i, args, deadline, queue)) for i in range(args.procs)]
    for process in workers:
        process.start()
    rss_during, ping_ms, ping_failures = [], [], 0
    next_rss = start
    while time.monotonic() < deadline:
        latency = ping(pinger)
        if latency is None:
            ping_failures += 1
        else:
            ping_ms.append(latency)
        if args.pid and time.monotonic() >= next_rss:
            rss_during.append(rss_kib(args.pid))
            next_rss += 1.0
        time.sleep(0.25)
    results = [queue.get() for _ in workers]  # before join: a full queue blocks its writer
    for process in workers:
        process.join()
    flood_s = time.monotonic() - start
    rss_after = []
    if args.pid:
        end = time.monotonic() + args.after
        while time.monotonic() < end:
            time.sleep(1.0)
            rss_after.append(rss_kib(args.pid))
    pinger.close()

    counts = {"ok": 0, "busy": 0, "errors": 0, "closed": 0}
    histogram, first_error = {}, ""
    for result in results:
        for name in counts:
            counts[name] += result["counts"][name]
        for bucket, number in result["histogram"].items():
            histogram[bucket] = histogram.get(bucket, 0) + number
        first_error = first_error or result["first_error"]
    if args.acked:
        with open(args.acked, "w") as out:
            for result in results:
                out.write("".join(key + "\n" for key in result["acked"]))
    report = {
        "clients": args.clients, "pipeline": args.pipeline, "value_size": args.value_size,
        "seconds": round(flood_s, 1), "ok": counts["ok"], "busy": counts["busy"], "errors": counts["errors"],
        "connections_closed": counts["closed"], "first_error": first_error,
        "ok_per_s": round(counts["ok"] / args.seconds), "busy_per_s": round(counts["busy"] / args.seconds),
        "ok_p50_ms": percentile(histogram, 0.50), "ok_p99_ms": percentile(histogram, 0.99),
        "ping_count": len(ping_ms), "ping_failures": ping_failures,
        "ping_max_ms": round(max(ping_ms), 1) if ping_ms else None,
        "rss_before_kib": rss_before,
        "rss_max_during_kib": max((r for r in rss_during if r), default=None),
        "rss_after_kib": rss_after[-1] if rss_after else None,
        "after_s": args.after if args.pid else 0,
    }
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
