#!/usr/bin/env bash
# Side by side, in one run: redis-benchmark against a local redis-server
# (appendonly everysec) and `kv bench` against a single local kvnode, both
# with 50 clients and 100-byte values, SET-only then GET-only. Prints a table
# of ops/s, p50, p99 and the ringkv/Redis ratios.
#   bench/compare-redis.sh [REQUESTS]     (default 200000 per test)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
clients=50
work=$(mktemp -d)
pids=()
cleanup() {
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
  --log-level warn 2>"$work/node.log" &
pids+=($!)
wait_port "$redis_port"
wait_port "$node_port"

# redis-benchmark --csv: "test","rps","avg","min","p50","p95","p99","max"
redis_csv=$(redis-benchmark -p "$redis_port" -c "$clients" -n "$requests" -t set,get -d 100 --csv)
redis_field() { echo "$redis_csv" | awk -F'"' -v t="$1" -v f="$2" '$2==t {print $f}'; }

kv_run() {
  build/cli/kv --host "127.0.0.1:$node_port" --json bench --clients "$clients" --value-size 100 \
    --keys 100000 --requests "$requests" --writes "$1" 2>/dev/null
}
kv_set=$(kv_run 100)
kv_get=$(kv_run 0)
kv_field() { echo "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$2'])"; }

printf '%-6s %-8s %12s %10s %10s\n' test system ops/s p50_ms p99_ms
for test in SET GET; do
  if [ "$test" = SET ]; then kv=$kv_set; else kv=$kv_get; fi
  r_rps=$(redis_field "$test" 4); r_p50=$(redis_field "$test" 10); r_p99=$(redis_field "$test" 14)
  k_rps=$(kv_field "$kv" ops_per_second)
  k_p50=$(python3 -c "print($(kv_field "$kv" p50_us)/1000)")
  k_p99=$(python3 -c "print($(kv_field "$kv" p99_us)/1000)")
  printf '%-6s %-8s %12.0f %10.3f %10.3f\n' "$test" redis "$r_rps" "$r_p50" "$r_p99"
  printf '%-6s %-8s %12.0f %10.3f %10.3f\n' "$test" ringkv "$k_rps" "$k_p50" "$k_p99"
  printf '%-6s ratio ringkv/redis ops/s: %.2f\n' "$test" "$(python3 -c "print($k_rps/$r_rps)")"
done
