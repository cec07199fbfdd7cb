#!/bin/sh
# CI entry of the chaos runner: the short battery (T0, T1, T1b, T3, T3b, T4, T7, T6), about
# 7.5-9.5 minutes on 2 cores (CTest: chaos_short). Exits non-zero on any violation (see
# tests/chaos/README.md). As root every node runs in its own network namespace
# (--topology per-node, the default; T3 then also takes links down); --topology single
# runs the former way, all nodes in one namespace.
#
#   tests/chaos/run_short.sh [KVNODE [KV]] [more chaos.py options, e.g. --seed 3 or
#                                            --topology single]
#
# KVNODE and KV default to build/node/kvnode and build/cli/kv. The run folder goes to
# $RINGKV_CHAOS_OUT when set, else to a new temporary directory (printed at the end).
#
# Nothing is excused: after the heal every node completes an anti-entropy round before the
# checkers read. Without a network namespace the scenarios with partitions or loss fail.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kvnode="$root/build/node/kvnode"
kv="$root/build/cli/kv"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then kvnode=$1; shift; fi
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then kv=$1; shift; fi
set -- --mode short --kvnode "$kvnode" --kv "$kv" "$@"
if [ -n "${RINGKV_CHAOS_OUT:-}" ]; then set -- "$@" --out "$RINGKV_CHAOS_OUT"; fi
exec python3 "$here/chaos.py" "$@"
