#!/usr/bin/env bash
# Where a request's CPU goes: one kvnode under callgrind while redis-benchmark
# drives pipelined SET/GET through its RESP port (issue 13 item 2).
#
#   bench/profile_callgrind.sh single|cluster [REQUESTS] [OUT_DIR]
#
# single: one node, N = 1. cluster: three nodes on 127.0.0.1..3, N = 3, RESP
# at QUORUM, the profiled node (the first) coordinating every request.
# Load: redis-benchmark -c 8 -P 16 -n REQUESTS (default 20000) -t set,get
# -d 100 -r 100000. Collection is switched on only around the load
# (callgrind_control -i), so start-up is not counted. Prints the
# instructions per request (total Ir over 2 x REQUESTS) and the top
# functions by inclusive and self cost, and ringkv's own by self cost; keeps callgrind.out in OUT_DIR
# (default: a temporary directory, removed); KVNODE=path profiles another
# build. PROFILE_NODE=2 (or 3) profiles that cluster node instead of the
# first, i.e. a replica that does not coordinate (its Ir/request is still
# over the client requests sent to the first). Ports are picked free; every
# process started here is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh  # free_port, wait_ping, use_scratch (run from the repository root)
mode=${1:?usage: bench/profile_callgrind.sh single|cluster [REQUESTS] [OUT_DIR]}
requests=${2:-20000}
keep=${3:-}
kvnode=${KVNODE:-build/node/kvnode}
profile_node=${PROFILE_NODE:-1}
kv=build/cli/kv
for tool in valgrind callgrind_control callgrind_annotate redis-benchmark redis-cli "$kvnode" "$kv"; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
use_scratch

start_node() {  # name host replicas seed profiled
  node_addr=$2:$(free_port "$2"); resp_addr=$2:$(free_port "$2")
  local seeds=(); [ -n "$4" ] && seeds=(--seeds "$4")
  local wrap=(); [ "$5" = yes ] && wrap=(valgrind --tool=callgrind --instr-atstart=no
                                         "--callgrind-out-file=$work/callgrind.out")
  "${wrap[@]}" "$kvnode" --name "$1" --listen "$node_addr" --resp-listen "$resp_addr" \
    --data "$work/$1" --replicas "$3" --log-level warn "${seeds[@]}" 2>"$work/$1.log" &
  pids+=($!)
}

case "$mode" in
  single) start_node n1 127.0.0.1 1 "" yes; wait_ping 127.0.0.1 "${resp_addr#*:}" ;;
  cluster)
    case "$profile_node" in 1|2|3) ;; *) echo "PROFILE_NODE is 1, 2 or 3" >&2; exit 2 ;; esac
    wraps() { [ "$profile_node" = "$1" ] && echo yes || echo no; }
    start_node n1 127.0.0.1 3 "" "$(wraps 1)"; first=$node_addr; first_resp=$resp_addr
    wait_ping 127.0.0.1 "${first_resp#*:}"
    start_node n2 127.0.0.2 3 "$first" "$(wraps 2)"; start_node n3 127.0.0.3 3 "$first" "$(wraps 3)"
    # Ready once the coordinator sees all three alive and owning their ranges
    # (a joiner's writes would otherwise fail QUORUM, and redis-benchmark stops).
    for _ in $(seq 1 600); do
      status=$("$kv" --host "$first" --json status 2>/dev/null || true)
      alive=$(grep -o '"liveness": *"alive"' <<<"$status" | wc -l)
      normal=$(grep -o '"ring_status": *"normal"' <<<"$status" | wc -l)
      [ "$alive" = 3 ] && [ "$normal" = 3 ] && break
      sleep 0.1
    done
    [ "$alive" = 3 ] && [ "$normal" = 3 ] || { echo "the 3-node cluster never converged" >&2; exit 1; }
    resp_addr=$first_resp ;;
  *) echo "mode is single or cluster" >&2; exit 2 ;;
esac

profiled=${pids[0]}
[ "$mode" = cluster ] && profiled=${pids[$((profile_node - 1))]}
callgrind_control -i on "$profiled" >/dev/null 2>&1
redis-benchmark -h "${resp_addr%:*}" -p "${resp_addr#*:}" -c 8 -P 16 -n "$requests" -t set,get \
  -d 100 -r 100000 -q 2>"$work/bench.log" | tr '\r' '\n' | grep -v '^$' | tail -2
callgrind_control -i off "$profiled" >/dev/null 2>&1
kill "$profiled"; wait "$profiled" 2>/dev/null || true
total=$(callgrind_annotate "$work/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); if (!seen) print $1; seen = 1}')
echo "mode $mode: $total Ir over $((2 * requests)) requests = $((total / (2 * requests))) Ir/request"
if [ -n "$keep" ]; then mkdir -p "$keep"; cp "$work/callgrind.out" "$keep/callgrind.$mode.out"; fi
# awk, not head: a reader that stops early would fail the pipeline (pipefail).
top() { awk -v n="$1" 'NR <= n'; }
echo "--- top inclusive"
callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null | grep -A 25 'file:function' | tail -n +2 | top 25
echo "--- top self"
callgrind_annotate "$work/callgrind.out" 2>/dev/null | grep -A 25 'file:function' | tail -n +2 | top 25
echo "--- top self in ringkv's own code and the allocator"
callgrind_annotate "$work/callgrind.out" 2>/dev/null | grep -E 'ringkv::|malloc|free|operator new' | top 25
