#!/usr/bin/env bash
# ringkv against Redis with the same load generator, in one run.
#
# Starts a local redis-server (appendonly yes, appendfsync everysec), a
# Redis Cluster (3 masters + 3 replicas, the same AOF setting), one kvnode
# (N = 1) and a 3-node ringkv cluster on 127.0.0.1..3 (N = 3, RESP at
# QUORUM), each with a RESP port (--resp-listen), and runs
#   redis-benchmark [--cluster] -c 50 -n REQUESTS -t set,get -d 100 [-P 16 [-r 100000]]
# against each. Prints ops/s, p50 and p99 (ms) and the ratio of ops/s to
# Redis's, without and with pipelining (-P 16), on redis-benchmark's one key
# (key:__rand_int__) and then, pipelined, on random keys out of 100,000
# (-r 100000, row P "16r": no two requests of a batch share a key, so no
# request coalescing); then the same SET/GET load
# through ringkv's own protocol (`kv bench`, 50 clients); then the overload
# run (issue 13): bench/overload_flood.py with 2,000 connections, pipelines
# of 128 SETs of 4,000-byte values for OVERLOAD_S seconds against a fresh
# kvnode (N = 1, --max-connections 4096, other bounds at their defaults)
# and against the redis-server, printing RSS before, at most during and
# OVERLOAD_AFTER_S seconds after, admitted ops/s, refusals (-BUSY), p50/p99
# of admitted requests and the slowest PING during the flood; then the
# start-up time to the first PING and the idle RSS of a fresh node
# (bench/startup_probe.py).
#
#   bench/compare-redis.sh [REQUESTS]     (default 200000 per test)
#   OVERLOAD_S=40 OVERLOAD_AFTER_S=30     (environment; OVERLOAD_S=0 skips it)
#
# Ports are picked free at start; every process started here is stopped by
# its PID on exit (never by name).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh  # free_port, wait_ping, use_scratch (run from the repository root)
requests=${1:-200000}
overload_s=${OVERLOAD_S:-40}
overload_after_s=${OVERLOAD_AFTER_S:-30}
clients=50
kv=build/cli/kv
kvnode=build/node/kvnode
for tool in redis-server redis-cli redis-benchmark "$kv" "$kvnode"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/setup.sh and scripts/build.sh)" >&2; exit 2; }
done
use_scratch

# Sets node_addr and resp_addr; runs in this shell (not in a $(...) or
# <(...) subshell), or $! would never reach pids and the node would outlive us.
start_node() {  # name host replicas [seed [kvnode flags...]]
  node_addr=$2:$(free_port "$2"); resp_addr=$2:$(free_port "$2")
  local seeds=(); [ -n "${4:-}" ] && seeds=(--seeds "$4")
  "$kvnode" --name "$1" --listen "$node_addr" --resp-listen "$resp_addr" --data "$work/$1" \
    --replicas "$3" --log-level warn "${seeds[@]}" "${@:5}" 2>"$work/$1.log" &
  pids+=($!)
}

redis_port=$(free_port 127.0.0.1)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --appendonly yes \
  --appendfsync everysec --save "" --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!); redis_pid=$!

# Redis Cluster: 3 masters + 3 replicas on 127.0.0.1; each node also needs
# its port + 10000 free (the cluster bus).
cluster_port() {
  python3 - <<'PY'
import socket
for _ in range(200):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    if port + 10000 > 65535:
        continue
    try:
        for p in (port, port + 10000):
            t = socket.socket(); t.bind(("127.0.0.1", p)); t.close()
    except OSError:
        continue
    print(port); break
PY
}
rc_ports=()
for i in 1 2 3 4 5 6; do
  port=$(cluster_port); rc_ports+=("$port"); mkdir -p "$work/rc$i"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work/rc$i" --cluster-enabled yes \
    --cluster-config-file nodes.conf --appendonly yes --appendfsync everysec --save "" \
    --daemonize no >"$work/rc$i.log" 2>&1 &
  pids+=($!)
done
start_node single 127.0.0.1 1; single_node=$node_addr; single_resp=$resp_addr
start_node c1 127.0.0.1 3; c1_node=$node_addr; c1_resp=$resp_addr
wait_ping 127.0.0.1 "${c1_resp#*:}"
start_node c2 127.0.0.2 3 "$c1_node"; c2_node=$node_addr; c2_resp=$resp_addr
start_node c3 127.0.0.3 3 "$c1_node"; c3_node=$node_addr; c3_resp=$resp_addr
wait_ping 127.0.0.1 "$redis_port"
for port in "${rc_ports[@]}"; do wait_ping 127.0.0.1 "$port"; done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${rc_ports[@]}") --cluster-replicas 1 \
  --cluster-yes >"$work/rc-create.log" 2>&1 || { cat "$work/rc-create.log" >&2; exit 1; }
for _ in $(seq 1 400); do
  ok=yes
  for port in "${rc_ports[@]}"; do
    redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=""
  done
  [ -n "$ok" ] && break
  sleep 0.05
done
[ -n "$ok" ] || { echo "the Redis Cluster never reached cluster_state:ok" >&2; exit 1; }
for resp in "$single_resp" "$c2_resp" "$c3_resp"; do wait_ping "${resp%:*}" "${resp#*:}"; done
# The cluster is ready once every node sees all three alive.
ready=""
for _ in $(seq 1 400); do
  ready=yes
  for node in "$c1_node" "$c2_node" "$c3_node"; do
    alive=$("$kv" --host "$node" --json status 2>/dev/null | grep -o '"liveness": *"alive"' | wc -l || true)
    [ "$alive" = 3 ] || ready=""
  done
  [ -n "$ready" ] && break
  sleep 0.05
done
[ -n "$ready" ] || { echo "the 3-node cluster never converged" >&2; exit 1; }

# redis-benchmark --csv: "test","rps","avg","min","p50","p95","p99","max"
bench() {  # host:port pipeline[r] [--cluster] -> CSV lines for SET and GET ("16r": -P 16 -r 100000)
  local random=(); [ "${2%r}" != "$2" ] && random=(-r 100000)
  redis-benchmark -h "${1%:*}" -p "${1#*:}" -c "$clients" -n "$requests" -t set,get -d 100 \
    -P "${2%r}" "${random[@]}" ${3:-} --csv 2>/dev/null
}
field() { echo "$1" | awk -F'"' -v t="$2" -v f="$3" '$2==t {print $f}'; }

echo "redis-benchmark -c $clients -n $requests -t set,get -d 100; ringkv RESP at QUORUM"
echo "(Redis Cluster: 3 masters + 3 replicas, asynchronous replication, redis-benchmark --cluster)"
echo "(P 1 and 16: one key, key:__rand_int__; P 16r: -P 16 -r 100000, random keys)"
printf '%-4s %-3s %-24s %10s %8s %8s %6s\n' test P system ops/s p50_ms p99_ms ratio
for pipeline in 1 16 16r; do
  redis_csv=$(bench "127.0.0.1:$redis_port" "$pipeline")
  rcluster_csv=$(bench "127.0.0.1:${rc_ports[0]}" "$pipeline" --cluster)
  single_csv=$(bench "$single_resp" "$pipeline")
  cluster_csv=$(bench "$c1_resp" "$pipeline")
  for test in SET GET; do
    r_rps=$(field "$redis_csv" "$test" 4)
    for row in "redis (aof everysec)|$redis_csv" "redis cluster 3+3 (aof)|$rcluster_csv" \
               "ringkv 1 node N=1|$single_csv" "ringkv 3 nodes N=3 Q|$cluster_csv"; do
      name=${row%%|*}; csv=${row#*|}
      rps=$(field "$csv" "$test" 4)
      printf '%-4s %-3s %-24s %10.0f %8.3f %8.3f %6.2f\n' "$test" "$pipeline" "$name" "$rps" \
        "$(field "$csv" "$test" 10)" "$(field "$csv" "$test" 14)" "$(python3 -c "print($rps/$r_rps)")"
    done
  done
done

echo
echo "kv bench (ringkv's msgpack protocol), $clients clients, 100-byte values, $requests requests"
printf '%-4s %-22s %10s %8s %8s\n' test system ops/s p50_ms p99_ms
json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
for test in SET GET; do
  writes=100; [ "$test" = GET ] && writes=0
  for target in "ringkv 1 node N=1|$single_node" "ringkv 3 nodes N=3 Q|$c1_node,$c2_node,$c3_node"; do
    name=${target%%|*}; hosts=${target#*|}
    out=$("$kv" --host "$hosts" --json bench --clients "$clients" --value-size 100 --keys 100000 \
      --requests "$requests" --writes "$writes" 2>/dev/null)
    printf '%-4s %-22s %10.0f %8.3f %8.3f\n' "$test" "$name" "$(json_field "$out" ops_per_second)" \
      "$(python3 -c "print($(json_field "$out" p50_us)/1000)")" \
      "$(python3 -c "print($(json_field "$out" p99_us)/1000)")"
  done
done

if [ "$overload_s" != 0 ]; then
  echo
  echo "overload: 2000 connections, pipelines of 128 SETs, 4000-byte values, ${overload_s} s" \
    "(bench/overload_flood.py); RSS after = ${overload_after_s} s after the flood"
  start_node flood 127.0.0.1 1 "" --max-connections 4096; flood_resp=$resp_addr; flood_pid=${pids[-1]}
  flood_node=$node_addr
  wait_ping 127.0.0.1 "${flood_resp#*:}"
  printf '%-22s %8s %8s %8s %10s %10s %8s %8s %9s\n' system rss0_MiB max_MiB after_MiB admitted/s \
    refused p50_ms p99_ms ping_max
  for target in "redis (aof everysec)|127.0.0.1:$redis_port|$redis_pid" \
                "ringkv 1 node N=1|$flood_resp|$flood_pid"; do
    IFS='|' read -r name addr pid <<<"$target"
    out=$(python3 bench/overload_flood.py --host "${addr%:*}" --port "${addr#*:}" --pid "$pid" \
      --seconds "$overload_s" --after "$overload_after_s")
    python3 - "$name" "$out" <<'PY'
import json, sys
name, r = sys.argv[1], json.loads(sys.argv[2])
mib = lambda kib: f"{kib / 1024:.0f}" if kib else "-"
ms = lambda v: f"{v:.1f}" if v is not None else "-"
ping = f"{ms(r['ping_max_ms'])}" + (f" ({r['ping_failures']} lost)" if r["ping_failures"] else "")
print(f"{name:<22} {mib(r['rss_before_kib']):>8} {mib(r['rss_max_during_kib']):>8} {mib(r['rss_after_kib']):>8} "
      f"{r['ok_per_s']:>10} {r['busy']:>10} {ms(r['ok_p50_ms']):>8} {ms(r['ok_p99_ms']):>8} {ping:>9}")
if r["errors"] or r["connections_closed"]:
    print(f"  {r['errors']} other errors, {r['connections_closed']} connections closed: {r['first_error']}")
PY
  done
  # Where an admitted request's time goes: inside the node (the coordinator
  # times each write from admission to its reply) against the flood's own
  # figure above (from the pipeline's send to the reply's arrival, which
  # includes the time the request waited unread in its socket).
  stats=$("$kv" --host "$flood_node" --json stats)
  echo "ringkv inside the node: admitted writes p50 $(json_field "$stats" write_latency_p50_us) us," \
    "p99 $(json_field "$stats" write_latency_p99_us) us (kv stats, since the node started)"
fi

echo
echo "start-up and idle memory of a fresh node (median of 3)"
python3 bench/startup_probe.py --kvnode "$kvnode" --runs 3 | tail -1
