#!/usr/bin/env bash
# The cost of cluster keys (issue 11 item 8), side by side in one run.
#
# Starts two 3-node clusters (N = 3, RESP at QUORUM) on free ports: a
# plaintext one on 127.0.1.1..3 and a keyed one on 127.0.2.1..3 (keyring from
# `kv keygen`, mode 0600). Runs the same load against each, alternating
# plaintext / keyed ROUNDS times so drift in the machine's load hits both:
#   redis-benchmark -c 50 -n REQUESTS -t set,get -d 100 [-P 16]   (RESP port of node 1)
# Prints each run, then per test the median ops/s and p99 of each cluster and
# the ratio keyed / plaintext (ops/s: higher is better; p99: lower is better).
# Only client -> coordinator traffic is plaintext in both clusters: what the
# keys cost is the sealed coordinator -> replica sessions.
#
#   bench/trust_cost.sh [REQUESTS] [ROUNDS]     (defaults 50000, 3)
#
# Every process started here is stopped by its PID on exit (never by name).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh  # free_port, wait_ping, use_scratch (run from the repository root)
requests=${1:-50000}
rounds=${2:-3}
clients=50
kv=build/cli/kv
kvnode=${KVNODE:-build/node/kvnode}  # KVNODE=build-asan/node/kvnode for a sanitizer run
for tool in redis-benchmark redis-cli "$kv" "$kvnode"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/setup.sh and scripts/build.sh)" >&2; exit 2; }
done
use_scratch

# Sets node_addr and resp_addr (no subshell: $! must reach pids).
start_node() {  # name host seed|"" extra-flags...
  local name=$1 host=$2 seed=$3; shift 3
  node_addr=$host:$(free_port "$host"); resp_addr=$host:$(free_port "$host")
  local seeds=(); [ -n "$seed" ] && seeds=(--seeds "$seed")
  "$kvnode" --name "$name" --listen "$node_addr" --resp-listen "$resp_addr" --data "$work/$name" \
    --replicas 3 --log-level warn "${seeds[@]}" "$@" 2>"$work/$name.log" &
  pids+=($!)
}
# Sets cluster_resp (node 1's RESP address) and cluster_nodes (node addresses).
start_cluster() {  # prefix subnet extra-flags...
  local prefix=$1 subnet=$2; shift 2
  start_node "${prefix}1" "$subnet.1" "" "$@"
  local seed=$node_addr
  cluster_resp=$resp_addr; cluster_nodes=("$node_addr")
  wait_ping "${resp_addr%:*}" "${resp_addr#*:}"
  for i in 2 3; do
    start_node "$prefix$i" "$subnet.$i" "$seed" "$@"
    cluster_nodes+=("$node_addr")
    wait_ping "${resp_addr%:*}" "${resp_addr#*:}"
  done
}
wait_converged() {  # node addresses...
  for _ in $(seq 1 400); do
    local ready=yes
    for node in "$@"; do
      alive=$("$kv" --host "$node" --json status 2>/dev/null | grep -o '"liveness": *"alive"' | wc -l || true)
      [ "$alive" = 3 ] || ready=""
    done
    [ -n "$ready" ] && return 0
    sleep 0.05
  done
  echo "a 3-node cluster never converged" >&2; return 1
}

"$kv" keygen >"$work/cluster.keyring"
chmod 600 "$work/cluster.keyring"
start_cluster plain 127.0.1
plain_resp=$cluster_resp; p1=${cluster_nodes[0]}; p2=${cluster_nodes[1]}; p3=${cluster_nodes[2]}
start_cluster keyed 127.0.2 --keyring "$work/cluster.keyring"
keyed_resp=$cluster_resp; k1=${cluster_nodes[0]}; k2=${cluster_nodes[1]}; k3=${cluster_nodes[2]}
wait_converged "$p1" "$p2" "$p3"
wait_converged "$k1" "$k2" "$k3"

# redis-benchmark --csv: "test","rps","avg","min","p50","p95","p99","max"
field() { echo "$1" | awk -F'"' -v t="$2" -v f="$3" '$2==t {print $f}'; }
results="$work/results"
echo "redis-benchmark -c $clients -n $requests -t set,get -d 100; 3 nodes N=3, RESP at QUORUM"
printf '%-5s %-3s %-9s %10s %8s\n' round P cluster ops/s p99_ms
for round in $(seq 1 "$rounds"); do
  for pipeline in 1 16; do
    for cluster in plain keyed; do
      target=$plain_resp; [ "$cluster" = keyed ] && target=$keyed_resp
      csv=$(redis-benchmark -h "${target%:*}" -p "${target#*:}" -c "$clients" -n "$requests" -t set,get \
        -d 100 -r 100000 -P "$pipeline" --csv 2>/dev/null)
      for test in SET GET; do
        rps=$(field "$csv" "$test" 4); p99=$(field "$csv" "$test" 14)
        printf '%-5s %-3s %-9s %10.0f %8.3f  %s\n' "$round" "$pipeline" "$cluster" "$rps" "$p99" "$test"
        echo "$test $pipeline $cluster $rps $p99" >>"$results"
      done
    done
  done
done

# Evidence the keyed cluster's internode traffic was sealed (and none refused).
sealed_stats() {  # node addresses...
  for node in "$@"; do "$kv" --host "$node" --json stats; echo; done | python3 -c "
import json, sys
stats = [json.loads(line) for line in sys.stdin if line.strip()]
keys = ('sealed_sessions_opened', 'sealed_sessions_accepted', 'sealed_refused_not_authentic',
        'sealed_refused_replayed', 'sealed_refused_plaintext')
print(', '.join(f'{k} {sum(s.get(k, 0) for s in stats)}' for k in keys))"
}
echo
echo "keyed cluster, 3 nodes: $(sealed_stats "$k1" "$k2" "$k3")"
echo "plaintext cluster, 3 nodes: $(sealed_stats "$p1" "$p2" "$p3")"

echo
echo "medians of $rounds rounds (ratio = keyed / plaintext)"
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print(f"{'test':<4} {'P':>3} {'plain ops/s':>12} {'keyed ops/s':>12} {'ratio':>6} "
      f"{'plain p99':>10} {'keyed p99':>10} {'ratio':>6}")
for test in ("SET", "GET"):
    for pipeline in ("1", "16"):
        def med(cluster, column):
            return statistics.median(float(r[column]) for r in rows
                                     if r[0] == test and r[1] == pipeline and r[2] == cluster)
        prps, krps = med("plain", 3), med("keyed", 3)
        pp99, kp99 = med("plain", 4), med("keyed", 4)
        print(f"{test:<4} {pipeline:>3} {prps:>12.0f} {krps:>12.0f} {krps / prps:>6.2f} "
              f"{pp99:>10.3f} {kp99:>10.3f} {kp99 / pp99:>6.2f}")
PY
