"""Hostile input for the chaos runner (TESTING.md T7), sent while the workload runs.

Every case goes to a random node that is not deliberately down, from source address
127.0.0.200 (so the nodes' log lines about it can be counted): on TCP, random bytes,
framed noise, truncated frames, oversized/zero length headers, deep nesting, allocation
bombs, wrong protocol versions, unknown message types, wrong field types, garbage
push-pull payloads, malformed replica writes, HTTP/SSH banners and slow partial frames; on
UDP (the gossip port), random datagrams, truncated and oversized ones, deep nesting,
huge counts, wrong protocol versions, another cluster's name and unknown kinds.

None of them is a valid write. Cases that carry a key use keys starting with "hostile-";
the checkers verify afterwards that no such key exists (a rejected frame must never touch
stored data).
"""

import random
import socket
import struct
import time

import chaos_client as cc
import harness
from harness import Raw, frame, mp_encode

SOURCE = "127.0.0.200"
V = harness.PROTOCOL_VERSION


class HostileSender:
    def __init__(self, seed, source=SOURCE):
        self.rng = random.Random(seed)
        self.source = source
        self.sent = {}
        self.keys = set()
        self.pace_s = 0.01
        self.serial = 0

    def _key(self, kind):
        self.serial += 1
        key = f"hostile-{kind}-{self.rng.getrandbits(32):08x}-{self.serial}".encode()
        self.keys.add(key.decode())
        return key

    # -- cases ---------------------------------------------------------------
    def tcp_case(self):
        rng = self.rng
        kind = rng.choice(["random", "framed_noise", "truncated", "oversized", "deep", "bomb",
                           "bad_version", "unknown_type", "wrong_fields", "pushpull_garbage",
                           "replica_garbage", "banner", "slow_partial"])
        rid = rng.randint(1, 1 << 30)
        if kind == "random":
            data = rng.randbytes(rng.randint(1, 4096))
        elif kind == "framed_noise":
            data = frame(rng.randbytes(rng.randint(1, 2048)))
        elif kind == "truncated":
            whole = cc_put(rid, self._key("trunc"), b"never-applied", 2)
            data = whole[:rng.randint(1, len(whole) - 1)]
        elif kind == "oversized":
            length = rng.choice([0xFFFFFFFF, 0xFFFFFFF0, harness.FRAME_BYTES_MAX + 1, 1 << 31, 0])
            data = struct.pack(">I", length) + rng.randbytes(rng.randint(0, 64))
        elif kind == "deep":
            depth = rng.choice([9, 64, 1000, 10000, 100000])
            shape = rng.choice(["array", "map", "key"])
            if shape == "array":
                data = frame(b"\x91" * depth + b"\xc0")
            elif shape == "map":
                data = frame(b"\x81\xc0" * depth + b"\xc0")
            else:
                data = frame(mp_encode([V, cc.GET_REQUEST, rid, Raw(b"\x91" * depth + b"\xc4\x01k"),
                                        2, False]))
        elif kind == "bomb":
            data = frame(rng.choice([
                b"\xdd\xff\xff\xff\xff" + b"\xc0" * 16, b"\xdf\xff\xff\xff\xff" + b"\xc0" * 16,
                b"\xc6\xff\xff\xff\xff" + b"x" * 16, b"\xdb\xff\xff\xff\xff" + b"x" * 16,
                b"\xdc\xff\xff",
                mp_encode([V, cc.PUT_REQUEST, rid, Raw(b"\xc6\xff\xff\xff\xff" + b"k" * 8), b"v", 2]),
            ]))
        elif kind == "bad_version":
            version = rng.choice([0, 2, 99, 1 << 32, (1 << 64) - 1])
            data = frame(mp_encode([version, cc.PUT_REQUEST, rid, self._key("version"), b"x", 2]))
        elif kind == "unknown_type":
            data = frame(mp_encode([V, rng.choice([0, 21, 99, 9999, 1 << 40]), rid,
                                    self._key("type"), b"x", 2]))
        elif kind == "wrong_fields":
            key = self._key("fields")
            data = frame(mp_encode(rng.choice([
                [V, cc.PUT_REQUEST, rid, key, None, 2],
                [V, cc.PUT_REQUEST, rid, key, b"x", 9],
                [V, cc.PUT_REQUEST, rid, key, b"x", "quorum"],
                [V, cc.PUT_REQUEST, rid, 12345, b"x", 2],
                [V, cc.PUT_REQUEST, rid, key, b"x"],
                [V, cc.PUT_REQUEST, rid, key, b"x", 2, 0],
                [V, cc.PUT_REQUEST, rid, b"k" * (harness.KEY_BYTES_MAX + 1), b"x", 2],
                [V, cc.GET_REQUEST, rid, key, 2, 1],
                [V, cc.DELETE_REQUEST, rid, [key], 2],
                [V, cc.PUT_REQUEST, "id", key, b"x", 2],
                {"version": 1, "type": 2},
                [V, cc.PUT_REQUEST],
            ])))
        elif kind == "pushpull_garbage":
            data = frame(mp_encode([V, cc.PUSH_PULL_REQUEST, rid, rng.randbytes(rng.randint(0, 512))]))
        elif kind == "replica_garbage":
            key = self._key("replica")
            data = frame(mp_encode(rng.choice([
                [V, cc.REPLICA_WRITE_REQUEST, rid, key, "ts", 1, False, b"x", b""],
                [V, cc.REPLICA_WRITE_REQUEST, rid, key, 1, 1, 7, b"x", b""],
                [V, cc.REPLICA_WRITE_REQUEST, rid, key, 1, 1, False],
                [V, cc.REPLICA_WRITE_REQUEST, rid, key, 1, 1, False, None, b""],
                [V, cc.REPLICA_READ_REQUEST, rid, 5],
            ])))
        elif kind == "banner":
            data = rng.choice([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"SSH-2.0-OpenSSH_9.2\r\n",
                               b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rng.randbytes(64)])
        else:  # slow_partial: a valid-looking header, then nothing for a while
            whole = cc_put(rid, self._key("slow"), b"never-applied", 2)
            data = whole[:rng.randint(1, len(whole) - 1)]
        return kind, data

    def udp_case(self, target_id):
        rng = self.rng
        kind = rng.choice(["random", "huge", "deep", "bomb", "bad_version", "other_cluster",
                           "truncated_ping", "unknown_kind", "empty_fields"])
        sender = rng.randbytes(16)
        ping = mp_encode([1, "ringkv", sender, 1 << 32, 1, [rng.randint(1, 1 << 30), target_id], []])
        if kind == "random":
            data = rng.randbytes(rng.randint(1, 1400))
        elif kind == "huge":
            data = rng.randbytes(rng.choice([1401, 9000, 65507]))
        elif kind == "deep":
            data = rng.choice([b"\x91", b"\x81\xc0"]) * rng.choice([9, 100, 700]) + b"\xc0"
        elif kind == "bomb":
            data = rng.choice([b"\xdd\xff\xff\xff\xff" + b"\xc0" * 100, b"\xdf\xff\xff\xff\xff",
                               b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff"])
        elif kind == "bad_version":
            data = mp_encode([rng.choice([0, 2, 99]), "ringkv", sender, 1 << 32, 1, [7, target_id], []])
        elif kind == "other_cluster":
            # A wrong cluster name: refused, whatever else the datagram says.
            data = mp_encode([1, "other-cluster", sender, 1 << 32, 1, [7, target_id], []])
        elif kind == "truncated_ping":
            data = ping[:rng.randint(1, len(ping) - 1)]
        elif kind == "unknown_kind":
            data = mp_encode([1, "ringkv", sender, 1 << 32, 99, [], []])
        else:
            data = mp_encode(rng.choice([[], [1], [1, "ringkv"], [1, "ringkv", sender],
                                         [1, "ringkv", sender, -1, 1, [7, target_id], []]]))
        return kind, data

    # -- sending --------------------------------------------------------------
    def one(self, cluster):
        names = cluster.coordinators()
        if not names:
            return
        name = self.rng.choice(names)
        host, port = cluster.address_of(name)
        if self.rng.random() < 0.3:
            target_id = getattr(cluster, "ids", {}).get(name) or self.rng.randbytes(16)
            kind, data = self.udp_case(target_id)
            self._count("udp_" + kind)
            self._send_udp(host, port, data)
        else:
            kind, data = self.tcp_case()
            self._count("tcp_" + kind)
            self._send_tcp(host, port, data, slow=(kind == "slow_partial"))

    def _count(self, kind):
        self.sent[kind] = self.sent.get(kind, 0) + 1

    def _send_udp(self, host, port, data):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((self.source, 0))
                s.sendto(data, (host, port))
        except OSError:
            pass

    def _send_tcp(self, host, port, data, slow=False):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(1.0)
            s.bind((self.source, 0))
            s.connect((host, port))
            s.sendall(data)
            if slow:
                time.sleep(0.3)
            s.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                if not s.recv(65536):
                    break
        except OSError:
            pass
        finally:
            s.close()


def cc_put(rid, key, value, level):
    return frame(mp_encode([V, cc.PUT_REQUEST, rid, key, value, level]))
