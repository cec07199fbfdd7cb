"""Quiescence and the checkers of the chaos runner (TESTING.md "Checkers").

After the faults are healed and every node restarted:

  quiescence  (<= 60 s) every node lists every node alive with ring status normal, all
              rings agree, no hint stored or in flight anywhere.

Then, reading every key ever attempted, first each replica's own copy (`get --local` on
every node that `endpoints` names, before any coordinated read can repair it), then a
QUORUM read through rotating coordinators:

  C1 lost     an `ok` put whose QUORUM read is absent or has another value (lost), or one
              of whose replicas lacks the exact value and version (replica_missing)
  C2 phantom  a value read (during the run or now) that nobody attempted, a valid value of
     corrupt  another key, a value that is not the one attempted, a bad checksum; a key
              whose only put was `fail` (or a hostile frame's key) that exists
  C3          an `ok` QUORUM get started after an `ok` QUORUM put of the same key ended
              returned an older version (or nothing)
  C4          the replicas of a key hold different versions (divergent)
  C6-lite     every node's `endpoints` agree for a sample of keys
  C6          (topology changes, after `kv cleanup` on every member; check_placement) every
              member's own copy of every key: a copy on a non-endpoint (c6_extra) or an
              endpoint lacking an acknowledged/present key (c6_missing)
  C7          no unexpected exit; no sanitizer report in a node log; RSS and open file
              descriptors under the bounds

Scenario criteria (T0 all ops ok; T1 >= 99% ok among ops whose coordinator was not killed
meanwhile, enough kills, restarted nodes seen alive by all with a higher incarnation; T4 no
healthy node declared dead) are evaluated in chaos.py.
"""

import collections
import re
import time

import chaos_client as cc
from chaos_workload import classify_read, digest

SANITIZER_PATTERNS = ("AddressSanitizer", "runtime error", "LeakSanitizer", "ThreadSanitizer",
                      "UndefinedBehaviorSanitizer", "MemorySanitizer")


# ---------------------------------------------------------------------------
# Quiescence.

def cluster_state(cluster):
    """(ok, reasons, details) of one look at every node."""
    names = cluster.names()
    reasons = []
    rings = {}
    hints = {}
    stranded = {}
    for name in names:
        host, port = cluster.address_of(name)
        conn = cc.Connection(host, port, connect_timeout=1.0)
        try:
            status = cc.decode_status(conn.call(cc.STATUS_REQUEST, [], 2.0))
            ring = cc.decode_ring(conn.call(cc.RING_REQUEST, [], 2.0))
            stats = cc.decode_stats(conn.call(cc.STATS_REQUEST, [], 2.0))
        except (cc.ConnectFailed, cc.Lost) as e:
            reasons.append(f"{name}: {e}")
            continue
        finally:
            conn.close()
        if status is None or ring is None or stats is None:
            reasons.append(f"{name}: bad status/ring/stats reply")
            continue
        members = dict(status["members"])
        gone = getattr(cluster, "gone", [])
        for g in gone:
            # A decommissioned node must be `left` wherever it is still listed.
            # (kvnode shows it as liveness `left`; its ring status stays `leaving`.)
            if g in members:
                if "left" not in (members[g]["liveness"], members[g]["ring_status"]):
                    reasons.append(f"{name} has decommissioned {g} as {members[g]['liveness']}/"
                                   f"{members[g]['ring_status']}")
                del members[g]
        if set(members) != set(names):
            reasons.append(f"{name} lists {sorted(members)}")
        not_alive = {m: v["liveness"] for m, v in members.items() if v["liveness"] != "alive"}
        if not_alive:
            reasons.append(f"{name} sees {not_alive}")
        not_normal = {m: v["ring_status"] for m, v in members.items() if v["ring_status"] != "normal"}
        if not_normal:
            reasons.append(f"{name} ring status {not_normal}")
        rings[name] = ring
        stored = {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("hints_stored:") and v}
        inflight = stats.get("hints_in_flight", 0)
        hints[name] = {"stored": stored, "in_flight": inflight}
        if gone:
            # Hints for a decommissioned node (kvnode names a target no longer in the ring
            # `unknown`) can never be delivered: they do not hold quiescence up, they are
            # reported by the runner as a violation of their own (stranded_hints).
            dead_letters = {t: v for t, v in stored.items() if t in gone or t == "unknown"}
            if dead_letters:
                stranded[name] = dead_letters
                stored = {t: v for t, v in stored.items() if t not in dead_letters}
        if stored or inflight:
            reasons.append(f"{name} holds hints {stored} (in flight {inflight})")
    if len({repr(r) for r in rings.values()}) > 1:
        reasons.append("rings differ: " + "; ".join(f"{n}: {r}" for n, r in rings.items()))
    return not reasons, reasons, {"hints": hints, "stranded_hints": stranded}


def wait_quiescent(cluster, limit_s, log, settle_s=3.0):
    """Seconds until the cluster is quiescent, or None (with the last reasons) after
    limit_s. A coordinator keeps an operation open up to its request timeout (2 s) and
    only then hints the replicas that never answered, and no counter shows such open
    operations; so the conditions must hold on two looks settle_s apart."""
    started = time.monotonic()
    first_ok = None
    reasons = []
    while True:
        ok, reasons, details = cluster_state(cluster)
        if getattr(cluster, "stranded_hints", None) is not None:
            cluster.stranded_hints = details["stranded_hints"]
        now = time.monotonic()
        if ok:
            if first_ok is None:
                first_ok = now
            if now - first_ok >= settle_s:
                return round(first_ok - started, 3), []
        else:
            first_ok = None
        if now - started > limit_s:
            log(f"  quiescence not reached after {limit_s:.0f} s: {reasons[:6]}")
            return None, reasons
        time.sleep(0.2 if first_ok is None else 0.5)


def repair_rounds(cluster):
    """{name: anti-entropy rounds completed} of every member that answers `stats`."""
    rounds = {}
    for name in cluster.names():
        host, port = cluster.address_of(name)
        stats = cc.decode_stats(cc.one_call(host, port, cc.STATS_REQUEST, [], 3.0))
        if stats is not None and "repair_rounds_completed" in stats:
            rounds[name] = stats["repair_rounds_completed"]
    return rounds


def wait_repaired(cluster, limit_s, log):
    """Seconds until every member completed two more anti-entropy rounds than when asked (so
    one whole round started after the call), or None after limit_s. Polls `stats`."""
    started = time.monotonic()
    at_start = repair_rounds(cluster)
    behind = []
    while True:
        now_rounds = repair_rounds(cluster)
        behind = [n for n in cluster.names()
                  if n not in at_start or now_rounds.get(n, 0) < at_start[n] + 2]
        # A member that did not answer at the start is asked again from here.
        for n in cluster.names():
            if n not in at_start and n in now_rounds:
                at_start[n] = now_rounds[n]
        if not behind:
            return round(time.monotonic() - started, 3)
        if time.monotonic() - started > limit_s:
            log(f"  anti-entropy: no complete round within {limit_s:.0f} s on {behind}")
            return None
        time.sleep(0.5)


# ---------------------------------------------------------------------------
# Final reads.

def final_reads(cluster, keys, log, all_local=False):
    """{key: {"endpoints": [names], "local": {name: reply dict or None}, "quorum": dict or None}}
    plus the sample of endpoints disagreements."""
    names = cluster.names()
    address_to_name = {"%s:%d" % cluster.address_of(n): n for n in names}
    keys = list(keys)
    out = {k: {"endpoints": None, "local": {}, "quorum": None} for k in keys}

    first = names[0]
    conn = cc.Connection(*cluster.address_of(first))
    replies = conn.pipeline([(cc.ENDPOINTS_REQUEST, [k.encode()]) for k in keys])
    conn.close()
    for k, items in zip(keys, replies):
        eps = cc.decode_endpoints(items)
        out[k]["endpoints"] = None if eps is None else [address_to_name.get(a, name) for name, a in eps]
    # Every node must name the same replicas (a sample, through each node).
    disagreements = []
    sample = keys[:: max(1, len(keys) // 200)]
    for name in names[1:]:
        conn = cc.Connection(*cluster.address_of(name))
        replies = conn.pipeline([(cc.ENDPOINTS_REQUEST, [k.encode()]) for k in sample])
        conn.close()
        for k, items in zip(sample, replies):
            eps = cc.decode_endpoints(items)
            mine = None if eps is None else [address_to_name.get(a, n) for n, a in eps]
            if mine != out[k]["endpoints"]:
                disagreements.append({"key": k, "via": name, "endpoints": mine,
                                      "via_first": out[k]["endpoints"]})

    # Local copies first: a coordinated read would repair what it finds stale.
    for name in names:
        # all_local (C6): every member's own copy of every key, replica or not.
        mine = [k for k in keys if all_local or (out[k]["endpoints"] and name in out[k]["endpoints"])]
        conn = cc.Connection(*cluster.address_of(name))
        replies = conn.pipeline([(cc.GET_REQUEST, cc.get_fields(k.encode(), "one", local=True))
                                 for k in mine])
        conn.close()
        for k, items in zip(mine, replies):
            out[k]["local"][name] = _get_result(items)

    # Then QUORUM reads through rotating coordinators, retried on errors.
    by_coord = collections.defaultdict(list)
    for i, k in enumerate(keys):
        by_coord[names[i % len(names)]].append(k)
    for name, mine in by_coord.items():
        conn = cc.Connection(*cluster.address_of(name))
        replies = conn.pipeline([(cc.GET_REQUEST, cc.get_fields(k.encode(), "quorum")) for k in mine])
        conn.close()
        for k, items in zip(mine, replies):
            out[k]["quorum"] = _get_result(items)
    retry = [k for k in keys if out[k]["quorum"] is None or "error" in out[k]["quorum"]]
    for attempt in range(3):
        if not retry:
            break
        log(f"  {len(retry)} QUORUM reads failed; retrying ({attempt + 1}/3)")
        time.sleep(1.0)
        for i, k in enumerate(retry):
            host, port = cluster.address_of(names[(i + attempt + 1) % len(names)])
            out[k]["quorum"] = _get_result(cc.one_call(host, port, cc.GET_REQUEST,
                                                       cc.get_fields(k.encode(), "quorum"), 5.0))
        retry = [k for k in retry if out[k]["quorum"] is None or "error" in out[k]["quorum"]]
    return out, disagreements


def _get_result(items):
    if items is None:
        return {"error": "no reply"}
    outcome, info = cc.decode_get(items)
    if outcome != cc.OK:
        return {"error": info.get("error", "?")}
    return info


def version(result):
    if not result or "error" in result or not result.get("found"):
        return (0, 0)
    return (result["ts"], result["tb"])


# ---------------------------------------------------------------------------
# The checkers.

def run_checkers(history_ops, attempts, hostile_keys, reads):
    """Returns (counts, details, figures): the count of each violation kind, the details of
    every violation per kind, and figures (keys checked, C3 pairs checked)."""
    counts = collections.Counter()
    examples = collections.defaultdict(list)   # every violation's detail, per kind

    def violation(kind, **detail):
        counts[kind] += 1
        examples[kind].append(detail)

    # C2 during the run.
    for op in history_ops:
        if op["op"] == "get" and op["outcome"] == cc.OK and op.get("found"):
            verdict = op.get("check")
            if verdict in ("corrupt", "wrong_key", "mismatch"):
                violation("corrupt", key=op["key"], when="during the run", verdict=verdict,
                          coord=op["coord"], start=op["start"], digest=op.get("digest"))
            elif verdict == "phantom":
                violation("phantom", key=op["key"], when="during the run", coord=op["coord"],
                          start=op["start"])
            elif attempts.get(op["key"], {}).get("outcome") == cc.FAIL:
                violation("phantom", key=op["key"], when="during the run", coord=op["coord"],
                          start=op["start"], why="read a value whose only put failed (not applied)")

    # C3 from the history.
    puts = {}
    gets = collections.defaultdict(list)
    for op in history_ops:
        if op["op"] == "put":
            puts[op["key"]] = op
        elif op["outcome"] == cc.OK and op["level"] in ("quorum", "all"):
            gets[op["key"]].append(op)
    c3_pairs = 0
    for key, put in puts.items():
        if put["outcome"] != cc.OK or put["level"] not in ("quorum", "all"):
            continue
        put_version = (put["ts"], put["tb"])
        for get in gets.get(key, ()):
            if get["start"] <= put["end"]:
                continue
            c3_pairs += 1
            got = (get["ts"], get["tb"]) if get.get("found") else (0, 0)
            if got < put_version:
                violation("c3_stale_read", key=key, put_end=put["end"], put_coord=put["coord"],
                          put_version=list(put_version), get_start=get["start"],
                          get_coord=get["coord"], got=list(got), found=get.get("found"))

    # Final state.
    keys_checked = 0
    for key, attempt in attempts.items():
        r = reads.get(key)
        if r is None:
            continue
        keys_checked += 1
        eps = r["endpoints"] or []
        locals_ = r["local"]
        quorum = r["quorum"]
        if not eps:
            violation("check_error", key=key, what="no endpoints")
            continue
        # C2 on every value present now.
        for where, res in [("quorum", quorum)] + [(f"local@{n}", locals_.get(n)) for n in eps]:
            if res and "error" not in res and res.get("found"):
                verdict = classify_read(key, res["value"], attempts)
                if verdict == "phantom":
                    violation("phantom", key=key, when="final", where=where)
                elif verdict != "ok":
                    violation("corrupt", key=key, when="final", where=where, verdict=verdict,
                              digest=digest(res["value"]))
                elif attempt["outcome"] == cc.FAIL:
                    violation("phantom", key=key, when="final", where=where,
                              why="present although its only put failed (not applied)")
        # C4: every replica the same version.
        local_versions = {n: version(locals_.get(n)) for n in eps}
        local_errors = [n for n in eps if locals_.get(n) is None or "error" in locals_.get(n, {})]
        if local_errors:
            violation("check_error", key=key, what=f"local read failed on {local_errors}")
        if len(set(local_versions.values())) > 1:
            violation("divergent", key=key, outcome=attempt["outcome"], put_start=attempt.get("start"),
                      put_coord=attempt.get("coord"),
                      versions={n: list(v) for n, v in local_versions.items()})
        # C1.
        if attempt["outcome"] == cc.OK:
            want = (attempt["ts"], attempt["tb"])
            if quorum is None or "error" in quorum:
                violation("lost", key=key, why=f"QUORUM read failed after quiescence: {quorum}",
                          put_coord=attempt.get("coord"), put_end=attempt.get("end"))
            elif not quorum["found"] or quorum["value"] != attempt["value"] or version(quorum) < want:
                violation("lost", key=key, found=quorum["found"], want=list(want),
                          got=list(version(quorum)), put_end=attempt.get("end"))
            missing = [n for n in eps if not (locals_.get(n) and locals_[n].get("found")
                                              and locals_[n]["value"] == attempt["value"]
                                              and version(locals_[n]) == want)]
            if missing:
                violation("replica_missing", key=key, replicas=missing, endpoints=eps,
                          put_start=attempt.get("start"), put_coord=attempt.get("coord"),
                          versions={n: list(local_versions[n]) for n in eps}, want=list(want),
                          put_end=attempt.get("end"))
    for key in hostile_keys:
        r = reads.get(key)
        if not r:
            continue
        present = [w for w, res in [("quorum", r["quorum"])] + list(r["local"].items())
                   if res and "error" not in res and res.get("found")]
        if present:
            violation("phantom", key=key, why="a hostile (invalid) frame's key exists", where=present)
    return counts, examples, {"keys_checked": keys_checked, "c3_pairs_checked": c3_pairs}


def check_placement(attempts, reads, names):
    """C6 placement (after `kv cleanup` on every member): every key's local copy exists
    exactly on its endpoints among the live members. Returns (counts, details, figures):
    c6_extra (a member that is not an endpoint still holds a copy), c6_missing (an
    endpoint lacks a key that an `ok` put wrote or that some other node holds)."""
    counts = collections.Counter()
    details = collections.defaultdict(list)
    copies = 0
    for key, attempt in attempts.items():
        r = reads.get(key)
        if r is None or not r["endpoints"]:
            continue
        eps = r["endpoints"]
        holders = [n for n in names if (r["local"].get(n) or {}).get("found")]
        copies += len(holders)
        extra = [n for n in holders if n not in eps]
        if extra:
            counts["c6_extra"] += 1
            details["c6_extra"].append({"key": key, "endpoints": eps, "holders": holders,
                                        "extra": extra, "put_outcome": attempt["outcome"],
                                        "put_coord": attempt.get("coord"),
                                        "put_start": attempt.get("start")})
        if attempt["outcome"] == cc.OK or holders:
            missing = [n for n in eps if n not in holders]
            if missing:
                counts["c6_missing"] += 1
                details["c6_missing"].append({"key": key, "endpoints": eps, "holders": holders,
                                              "missing": missing, "put_outcome": attempt["outcome"],
                                              "put_coord": attempt.get("coord"),
                                              "put_start": attempt.get("start")})
    return counts, details, {"c6_keys_checked": len(attempts), "c6_local_copies": copies}


# ---------------------------------------------------------------------------
# C7 and log-based checks.

def sanitizer_reports(node):
    text = node.log_text()
    return [line for line in text.splitlines() if any(p in line for p in SANITIZER_PATTERNS)]


DEAD_RE = re.compile(r"^(\S+)\s+\S+\s+\[([^\]]*)\]\s+member (\S+) \((\S+)\) dead:")


def dead_events(node, log_epoch):
    """(epoch seconds, observer, dead member) of every 'dead' event in a node log."""
    events = []
    for line in node.log_text().splitlines():
        m = DEAD_RE.match(line)
        if m:
            try:
                events.append((log_epoch(m.group(1)), m.group(2), m.group(3)))
            except (ValueError, OverflowError):
                pass
    return events


def hostile_log_lines(node, source):
    return sum(1 for line in node.log_text().splitlines() if source in line)
