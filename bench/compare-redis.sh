#!/usr/bin/env bash
# Side by side, in one run: redis-benchmark against a local redis-server
# (appendonly everysec), and `kv bench` against a single kvnode (N = 1) and a
# local 3-node cluster (N = 3, QUORUM), all with 50 clients and 100-byte
# values, SET-only then GET-only. Prints ops/s, p50, p99 and the
# ringkv/Redis throughput ratio.
#   bench/compare-redis.sh [REQUESTS]     (default 200000 per test)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
clients=50
kv=build/cli/kv
work=$(mktemp -d)
pids=()
cleanup() {
  "$kv" cluster --dir "$work/cluster" down >/dev/null 2>&1 || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 500); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.02
  done
  echo "port $1 never opened" >&2; return 1
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --appendonly yes \
  --appendfsync everysec --save "" --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
node_port=$(free_port)
build/node/kvnode --name bench --listen "127.0.0.1:$node_port" --data "$work/node" \
  --replicas 1 --log-level warn 2>"$work/node.log" &
pids+=($!)
wait_port "$redis_port"
wait_port "$node_port"
cluster_port=$(free_port)
"$kv" cluster --dir "$work/cluster" up --nodes 3 --port "$cluster_port" --replicas 3 \
  --node-flag=--log-level --node-flag=warn >/dev/null
cluster_hosts="127.0.0.1:$cluster_port,127.0.0.2:$cluster_port,127.0.0.3:$cluster_port"
# Wait until the cluster's ring holds all three nodes.
for _ in $(seq 1 200); do
  if [ "$("$kv" --host "127.0.0.1:$cluster_port" --json ring | grep -o '"name"' | wc -l)" = 3 ]; then break; fi
  sleep 0.05
done

# redis-benchmark --csv: "test","rps","avg","min","p50","p95","p99","max"
redis_csv=$(redis-benchmark -p "$redis_port" -c "$clients" -n "$requests" -t set,get -d 100 --csv)
redis_field() { echo "$redis_csv" | awk -F'"' -v t="$1" -v f="$2" '$2==t {print $f}'; }

kv_run() {  # hosts, write percent
  "$kv" --host "$1" --json bench --clients "$clients" --value-size 100 --keys 100000 \
    --requests "$requests" --writes "$2" 2>/dev/null
}
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])" "$1" "$2"; }

printf '%-5s %-22s %10s %9s %9s %7s\n' test system ops/s p50_ms p99_ms ratio
for test in SET GET; do
  writes=100; [ "$test" = GET ] && writes=0
  r_rps=$(redis_field "$test" 4)
  printf '%-5s %-22s %10.0f %9.3f %9.3f %7s\n' "$test" "redis (aof everysec)" "$r_rps" \
    "$(redis_field "$test" 10)" "$(redis_field "$test" 14)" "1.00"
  for target in "ringkv 1 node N=1|127.0.0.1:$node_port" "ringkv 3 nodes N=3 Q|$cluster_hosts"; do
    name=${target%%|*}; hosts=${target#*|}
    out=$(kv_run "$hosts" "$writes")
    rps=$(field "$out" ops_per_second)
    printf '%-5s %-22s %10.0f %9.3f %9.3f %7.2f\n' "$test" "$name" "$rps" \
      "$(python3 -c "print($(field "$out" p50_us)/1000)")" "$(python3 -c "print($(field "$out" p99_us)/1000)")" \
      "$(python3 -c "print($rps/$r_rps)")"
  done
done
