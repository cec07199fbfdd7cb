#!/usr/bin/env bash
# Instructions per request of one kvnode (N = 1, RESP), counted by callgrind:
# a figure that does not depend on the machine's load, for comparing builds.
#
# Starts kvnode under valgrind --tool=callgrind with instrumentation off,
# waits for its RESP PING, turns instrumentation on, runs
#   redis-benchmark -c 50 -n REQUESTS -t TEST -d 100 -P PIPELINE
# dumps the counters, and prints instructions (Ir) per request, every thread
# included (RocksDB's background threads too). Start-up and shutdown are not
# counted.
#
#   bench/callgrind_requests.sh [TEST [PIPELINE [REQUESTS]]]   (set 16 20000)
#   KEYSPACE=N            (environment) random keys out of N (redis-benchmark -r N)
#                         instead of the one key key:__rand_int__; for get, 2N
#                         uncounted SETs of that keyspace first (most keys exist)
#   CALLGRIND_KEEP=FILE   (environment) keeps the profile for callgrind_annotate
#   KVNODE=PATH           (environment) another kvnode binary (default build/node/kvnode)
#
# Every process started here is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
test_name=${1:-set}
pipeline=${2:-16}
requests=${3:-20000}
kvnode=${KVNODE:-build/node/kvnode}
for tool in valgrind callgrind_control redis-benchmark redis-cli "$kvnode"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/setup.sh and scripts/build.sh)" >&2; exit 2; }
done
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh

node_port=$(free_port 127.0.0.1)
resp_port=$(free_port 127.0.0.1)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "$kvnode" --name cg --listen "127.0.0.1:$node_port" --resp-listen "127.0.0.1:$resp_port" \
  --data "$work/data" --replicas 1 --log-level warn 2>"$work/node.log" &
pid=$!
for _ in $(seq 1 3000); do
  [ "$(redis-cli -p "$resp_port" PING 2>/dev/null)" = PONG ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/node.log" >&2; exit 1; }
  sleep 0.05
done
# One untimed request so the key exists and the first write's one-off costs are paid.
redis-cli -p "$resp_port" SET key:__rand_int__ x >/dev/null 2>&1
keyspace=(); [ -n "${KEYSPACE:-}" ] && keyspace=(-r "$KEYSPACE")
if [ -n "${KEYSPACE:-}" ] && [ "$test_name" = get ]; then
  redis-benchmark -p "$resp_port" -c 50 -n $((2 * KEYSPACE)) -t set -d 100 -P 16 "${keyspace[@]}" -q >/dev/null
fi
callgrind_control --instr=on "$pid" >/dev/null 2>&1
redis-benchmark -p "$resp_port" -c 50 -n "$requests" -t "$test_name" -d 100 -P "$pipeline" "${keyspace[@]}" -q >"$work/bench.txt"
callgrind_control --dump "$pid" >/dev/null 2>&1
callgrind_control --instr=off "$pid" >/dev/null 2>&1
instructions=0
for file in "$work"/callgrind.out*; do
  total=$(awk '/^summary:|^totals:/ {print $2; exit}' "$file")
  instructions=$((instructions + ${total:-0}))
done
[ -n "${CALLGRIND_KEEP:-}" ] && cat "$work"/callgrind.out* >"$CALLGRIND_KEEP"
echo "kvnode $test_name -P $pipeline: $requests requests, $instructions instructions, $((instructions / requests)) per request"
