# Shell helpers shared by the benchmark scripts (sourced, not run).

# A port free for TCP and UDP on host $1 (kvnode uses both on --listen).
free_port() {
  python3 - "$1" <<'PY'
import socket, sys
for _ in range(50):
    t = socket.socket(); t.bind((sys.argv[1], 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind((sys.argv[1], port)); print(port); break
    except OSError:
        pass
    finally:
        u.close(); t.close()
PY
}

# Polls until host $1 port $2 answers a RESP PING.
wait_ping() {
  for _ in $(seq 1 1000); do
    if [ "$(redis-cli -h "$1" -p "$2" PING 2>/dev/null)" = PONG ]; then return 0; fi
    sleep 0.02
  done
  echo "$1:$2 never answered PING" >&2; return 1
}

# A scratch directory ($work) and a list of started processes ($pids; append
# each $! to it), both cleaned up when the script exits: processes stopped by
# PID (never by name), logs in $work tailed if the script failed.
use_scratch() {
  work=$(mktemp -d)
  pids=()
  trap cleanup_scratch EXIT
}
cleanup_scratch() {
  local status=$?
  if [ "$status" != 0 ]; then
    for log in "$work"/*.log; do [ -s "$log" ] && { echo "== $log"; tail -5 "$log"; }; done >&2
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
