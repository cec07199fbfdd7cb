#!/usr/bin/env bash
# ringkv against Redis with the same load generator, in one run.
#
# Starts a local redis-server (appendonly yes, appendfsync everysec), one
# kvnode (N = 1) and a 3-node ringkv cluster on 127.0.0.1..3 (N = 3, RESP at
# QUORUM), each with a RESP port (--resp-listen), and runs
#   redis-benchmark -c 50 -n REQUESTS -t set,get -d 100 [-P 16]
# against each. Prints ops/s, p50 and p99 (ms) and the ratio of ops/s to
# Redis's, without and with pipelining (-P 16); then the same SET/GET load
# through ringkv's own protocol (`kv bench`, 50 clients); then the start-up
# time to the first PING and the idle RSS of a fresh node
# (bench/startup_probe.py).
#
#   bench/compare-redis.sh [REQUESTS]     (default 200000 per test)
#
# Ports are picked free at start; every process started here is stopped by
# its PID on exit (never by name).
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
clients=50
kv=build/cli/kv
kvnode=build/node/kvnode
for tool in redis-server redis-benchmark "$kv" "$kvnode"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/setup.sh and scripts/build.sh)" >&2; exit 2; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh  # free_port, wait_ping (the script runs from the repository root)
# Sets node_addr and resp_addr; runs in this shell (not in a $(...) or
# <(...) subshell), or $! would never reach pids and the node would outlive us.
start_node() {  # name host replicas [seed]
  node_addr=$2:$(free_port "$2"); resp_addr=$2:$(free_port "$2")
  local seeds=(); [ -n "${4:-}" ] && seeds=(--seeds "$4")
  "$kvnode" --name "$1" --listen "$node_addr" --resp-listen "$resp_addr" --data "$work/$1" \
    --replicas "$3" --log-level warn "${seeds[@]}" 2>"$work/$1.log" &
  pids+=($!)
}

redis_port=$(free_port 127.0.0.1)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --appendonly yes \
  --appendfsync everysec --save "" --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
start_node single 127.0.0.1 1; single_node=$node_addr; single_resp=$resp_addr
start_node c1 127.0.0.1 3; c1_node=$node_addr; c1_resp=$resp_addr
wait_ping 127.0.0.1 "${c1_resp#*:}"
start_node c2 127.0.0.2 3 "$c1_node"; c2_node=$node_addr; c2_resp=$resp_addr
start_node c3 127.0.0.3 3 "$c1_node"; c3_node=$node_addr; c3_resp=$resp_addr
wait_ping 127.0.0.1 "$redis_port"
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
bench() {  # host:port pipeline -> CSV lines for SET and GET
  redis-benchmark -h "${1%:*}" -p "${1#*:}" -c "$clients" -n "$requests" -t set,get -d 100 \
    -P "$2" --csv 2>/dev/null
}
field() { echo "$1" | awk -F'"' -v t="$2" -v f="$3" '$2==t {print $f}'; }

echo "redis-benchmark -c $clients -n $requests -t set,get -d 100; ringkv RESP at QUORUM"
printf '%-4s %-3s %-22s %10s %8s %8s %6s\n' test P system ops/s p50_ms p99_ms ratio
for pipeline in 1 16; do
  redis_csv=$(bench "127.0.0.1:$redis_port" "$pipeline")
  single_csv=$(bench "$single_resp" "$pipeline")
  cluster_csv=$(bench "$c1_resp" "$pipeline")
  for test in SET GET; do
    r_rps=$(field "$redis_csv" "$test" 4)
    for row in "redis (aof everysec)|$redis_csv" "ringkv 1 node N=1|$single_csv" \
               "ringkv 3 nodes N=3 Q|$cluster_csv"; do
      name=${row%%|*}; csv=${row#*|}
      rps=$(field "$csv" "$test" 4)
      printf '%-4s %-3s %-22s %10.0f %8.3f %8.3f %6.2f\n' "$test" "$pipeline" "$name" "$rps" \
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

echo
echo "start-up and idle memory of a fresh node (median of 3)"
python3 bench/startup_probe.py --kvnode "$kvnode" --runs 3 | tail -1
