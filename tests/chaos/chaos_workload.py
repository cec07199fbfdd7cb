"""Client workers of the chaos runner and the history they record.

Each worker is bound to one node as its coordinator (another one while that node is
deliberately down) and writes UNIQUE keys (never overwritten: "no acknowledged write lost" is then a
plain set question, DESIGN.md "Testing") and reads back keys written earlier, mostly recent
ones so that a read often starts right after the write it should see (C3). A value carries
its own checksum:

    <key>|<nonce>|<first 16 hex digits of sha256("<key>|<nonce>")>

so a read can tell corruption (checksum), a value of another key (prefix) and a phantom (a
value nobody attempted) from the value alone. A write whose outcome is unknown (`info`) is
never retried on the same key: the next write uses a new key.

History: one JSON line per completed operation (history.jsonl), with the harness's
monotonic clock relative to the run's start:

  {"op": "put", "key", "digest", "level", "sent_level", "coord", "worker", "start", "end",
   "outcome": "ok|fail|info", "ts", "tb", "error"}
  {"op": "get", "key", "level", "coord", "worker", "start", "end", "outcome", "found",
   "digest", "ts", "tb", "check": "ok|corrupt|wrong_key|phantom|mismatch"}
"""

import hashlib
import json
import random
import threading
import time

import chaos_client as cc


def digest(value):
    return None if value is None else hashlib.sha256(value).hexdigest()[:16]


def make_value(key, rng):
    nonce = "%016x" % rng.getrandbits(64) + "." * rng.randint(0, 160)
    body = f"{key}|{nonce}".encode()
    return body + b"|" + hashlib.sha256(body).hexdigest()[:16].encode()


def verify_value(key, value):
    """'ok', 'corrupt' (checksum does not match) or 'wrong_key' (a valid value of another key)."""
    body, sep, check = bytes(value).rpartition(b"|")
    if not sep or hashlib.sha256(body).hexdigest()[:16].encode() != check:
        return "corrupt"
    if not body.startswith(key.encode() + b"|"):
        return "wrong_key"
    return "ok"


def classify_read(key, value, attempts):
    """C2 verdict of a value read for `key`: ok, corrupt, wrong_key, phantom (never
    attempted) or mismatch (valid, but not the value attempted for this key)."""
    verdict = verify_value(key, value)
    if verdict != "ok":
        return verdict
    attempt = attempts.get(key)
    if attempt is None:
        return "phantom"
    if attempt["value"] != value:
        return "mismatch"
    return "ok"


class History:
    """Thread-safe append-only history, streamed to history.jsonl."""

    def __init__(self, path, t0):
        self.t0 = t0
        self.ops = []
        self.lock = threading.Lock()
        self.file = open(path, "w", buffering=1 << 16)

    def now(self):
        return time.monotonic() - self.t0

    def record(self, op):
        op["start"] = round(op["start"], 6)
        op["end"] = round(op["end"], 6)
        line = json.dumps(op, separators=(",", ":"))
        with self.lock:
            self.ops.append(op)
            self.file.write(line + "\n")

    def close(self):
        with self.lock:
            self.file.close()


class Workload:
    """W worker threads. `cluster.coordinators()` names the nodes a worker may use (the
    ones not deliberately down); `cluster.address_of(name)` gives (host, port)."""

    def __init__(self, cluster, history, workers, rate, seed, write_level="quorum",
                 claim_level=None, read_level="quorum", client_timeout=5.0, tag="k",
                 read_fraction=0.5):
        self.cluster = cluster
        self.history = history
        self.workers = workers
        self.rate = rate
        self.seed = seed
        self.write_level = write_level
        self.claim_level = claim_level or write_level
        self.read_level = read_level
        self.client_timeout = client_timeout
        self.tag = tag
        self.read_fraction = read_fraction
        self.attempts = {}      # key -> {"value", "outcome", "ts", "tb", "start", "end"}
        self.acked = []         # keys whose put was ok, in ack order
        self.unacked = []       # keys whose put was fail or info
        self.stop_event = threading.Event()
        self.threads = []
        self.lock = threading.Lock()

    def start(self):
        for w in range(self.workers):
            t = threading.Thread(target=self._run, args=(w,), name=f"worker-{w}", daemon=True)
            self.threads.append(t)
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=self.client_timeout + 10)

    def _pick_read_key(self, rng):
        with self.lock:
            acked, unacked = self.acked, self.unacked
            r = rng.random()
            if unacked and r < 0.1:
                return rng.choice(unacked)
            if not acked:
                return None
            if r < 0.7:
                return acked[-1 - rng.randrange(min(len(acked), 40))]
            return rng.choice(acked)

    def _run(self, w):
        rng = random.Random(f"{self.seed}:worker:{w}")
        conns = {}
        interval = self.workers / self.rate if self.rate > 0 else 0.0
        next_at = time.monotonic()
        seq = 0
        try:
            while not self.stop_event.is_set():
                if interval:
                    now = time.monotonic()
                    if next_at > now:
                        if self.stop_event.wait(next_at - now):
                            break
                    next_at = max(next_at + interval, time.monotonic() - 1.0)
                coordinators = self.cluster.coordinators()
                if not coordinators:
                    time.sleep(0.05)
                    continue
                # Each worker sticks to one node (as Jepsen binds a client to a node), so
                # a partitioned or paused coordinator stalls only its own workers; while
                # that node is deliberately down, any other node.
                home = self.cluster.names()[w % len(self.cluster.names())]
                coord = home if home in coordinators else rng.choice(coordinators)
                conn = conns.get(coord)
                host, port = self.cluster.address_of(coord)
                if conn is None or (conn.host, conn.port) != (host, port):
                    if conn is not None:
                        conn.close()
                    conn = conns[coord] = cc.Connection(host, port)
                key = None
                if rng.random() < self.read_fraction:
                    key = self._pick_read_key(rng)
                if key is None:
                    seq += 1
                    self._put(w, rng, conn, coord, f"{self.tag}-w{w}-{seq}")
                else:
                    self._get(w, conn, coord, key)
        finally:
            for conn in conns.values():
                conn.close()

    def _put(self, w, rng, conn, coord, key):
        value = make_value(key, rng)
        attempt = {"value": value, "outcome": None, "ts": None, "tb": None, "coord": coord}
        with self.lock:
            self.attempts[key] = attempt
        op = {"op": "put", "key": key, "digest": digest(value), "level": self.claim_level,
              "sent_level": self.write_level, "coord": coord, "worker": w}
        op["start"] = self.history.now()
        try:
            items = conn.call(cc.PUT_REQUEST, cc.put_fields(key.encode(), value, self.write_level),
                              self.client_timeout)
            outcome, info = cc.decode_write(items)
        except cc.ConnectFailed as e:
            outcome, info = cc.FAIL, {"error": "connect", "message": str(e)[:200]}
        except cc.Lost as e:
            outcome, info = cc.INFO, {"error": "lost", "message": str(e)[:200]}
        op["end"] = self.history.now()
        op["outcome"] = outcome
        op.update(info)
        attempt.update(outcome=outcome, ts=info.get("ts"), tb=info.get("tb"), start=op["start"],
                       end=op["end"])
        with self.lock:
            (self.acked if outcome == cc.OK else self.unacked).append(key)
        self.history.record(op)

    def _get(self, w, conn, coord, key):
        op = {"op": "get", "key": key, "level": self.read_level, "coord": coord, "worker": w}
        op["start"] = self.history.now()
        try:
            items = conn.call(cc.GET_REQUEST, cc.get_fields(key.encode(), self.read_level),
                              self.client_timeout)
            outcome, info = cc.decode_get(items)
        except cc.ConnectFailed as e:
            outcome, info = cc.FAIL, {"error": "connect", "message": str(e)[:200]}
        except cc.Lost as e:
            outcome, info = cc.FAIL, {"error": "lost", "message": str(e)[:200]}
        op["end"] = self.history.now()
        op["outcome"] = outcome
        if outcome == cc.OK:
            value = info.pop("value")
            op.update(info)
            op["digest"] = digest(value)
            op["check"] = classify_read(key, value, self.attempts) if info["found"] else "absent"
        else:
            op.update(info)
        self.history.record(op)
