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
