#!/usr/bin/env bash
# Starts a local 3-node cluster from ./build (node data, logs and PIDs under
# ./ringkv-cluster), writes a key and reads it back. Stop it with
# `build/cli/kv cluster down`.
set -euo pipefail
cd "$(dirname "$0")/.."
kv=build/cli/kv
"$kv" cluster --dir ringkv-cluster up --nodes "${NODES:-3}" --port "${PORT:-7000}"
"$kv" cluster --dir ringkv-cluster list
host="127.0.0.1:${PORT:-7000}"
"$kv" --host "$host" put greeting "hello from ringkv"
printf 'get greeting -> %s\n' "$("$kv" --host "$host" get greeting)"
echo "stop with: $kv cluster --dir ringkv-cluster down"
