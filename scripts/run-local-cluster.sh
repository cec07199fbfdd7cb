#!/usr/bin/env bash
# Starts a local 3-node cluster from ./build (node data, logs and PIDs under
# ./ringkv-cluster), writes a key and reads it back. Stop it with
# `build/cli/kv cluster down`.
set -euo pipefail
cd "$(dirname "$0")/.."
kv=build/cli/kv
"$kv" cluster --dir ringkv-cluster up --nodes "${NODES:-3}" --port "${PORT:-7000}"
"$kv" cluster --dir ringkv-cluster list
# The cluster's admin credentials (made by `cluster up`; a folder from before them has none).
if [ -f ringkv-cluster/admin.password ]; then
  export KV_USER=admin KV_PASSWORD_FILE="$PWD/ringkv-cluster/admin.password"
  echo "credentials for kv: export KV_USER=admin KV_PASSWORD_FILE=$KV_PASSWORD_FILE"
fi
host="127.0.0.1:${PORT:-7000}"
"$kv" --host "$host" put greeting "hello from ringkv"
printf 'get greeting -> %s\n' "$("$kv" --host "$host" get greeting)"
echo "stop with: $kv cluster --dir ringkv-cluster down"
