#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, ASan + UBSan, clang 16) into build-fuzz/ and runs
# each for a fixed time or number of runs, starting from its checked-in seed corpus. Prints per
# target: executions, executions per second, coverage (cov: and ft: from libFuzzer's final
# line) and crashes; exits 1 if any target crashed (inputs saved as build-fuzz/crashes/TARGET-*),
# 77 if clang 16 is missing (scripts/setup.sh installs it). Installs nothing.
#
#   scripts/fuzz.sh                      every target for 10 s (what CI runs, as fuzz_short)
#   scripts/fuzz.sh --seconds 3600       every target for an hour (long mode)
#   scripts/fuzz.sh --runs 10000000 --target wire_codec_fuzz
#   scripts/fuzz.sh --regenerate-seeds   rewrite tests/fuzz/corpus/ from real encodings
#   scripts/fuzz.sh --seconds 600 -- -entropic=0   arguments after -- go to every target
#
# New inputs found go to build-fuzz/corpus/TARGET/ (kept between runs, never committed); run
# niced on a shared machine: nice -n 10 scripts/fuzz.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(wire_codec_fuzz membership_codec_fuzz resp_parser_fuzz sealed_fuzz node_core_fuzz)
seconds=10
runs=""
selected=()
regenerate=0
build_dir=build-fuzz
extra=()

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --target) selected+=("$2"); shift 2 ;;
    --regenerate-seeds) regenerate=1; shift ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ ${#selected[@]} -gt 0 ] && targets=("${selected[@]}")

if ! command -v clang++-16 >/dev/null || [ ! -e /usr/lib/llvm-16/lib/clang/16/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  echo "fuzz.sh: clang++-16 with libclang-rt-16-dev is needed (scripts/setup.sh installs them); skipped"
  exit 77
fi

export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
CC=clang-16 CXX=clang++-16 cmake -S . -B "$build_dir" -DRINGKV_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j"$(nproc)" >"$build_dir/build.log" 2>&1 || { tail -40 "$build_dir/build.log"; exit 1; }
bin="$build_dir/tests/fuzz"

if [ "$regenerate" = 1 ]; then
  rm -rf tests/fuzz/corpus
  "$bin/seed_generator" tests/fuzz/corpus
  echo "fuzz.sh: seeds written to tests/fuzz/corpus/"
  exit 0
fi

limit=(-max_total_time="$seconds")
[ -n "$runs" ] && limit=(-runs="$runs")
mkdir -p "$build_dir/logs" "$build_dir/crashes"
printf '%-24s %12s %8s %7s %7s %8s\n' target executions exec/s cov ft crashes
failed=0
for target in "${targets[@]}"; do
  [ -x "$bin/$target" ] || { echo "fuzz.sh: no target $target" >&2; exit 2; }
  log="$build_dir/logs/$target.log"
  mkdir -p "$build_dir/corpus/$target"
  status=0
  "$bin/$target" "${limit[@]}" -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$build_dir/crashes/$target-" "${extra[@]}" \
    "$build_dir/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  coverage=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$coverage")
  ft=$(sed -n 's/.* ft: \([0-9]*\) .*/\1/p' <<<"$coverage")
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashes=1
    failed=1
  fi
  printf '%-24s %12s %8s %7s %7s %8s\n' "$target" "${executions:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  if [ "$crashes" -ne 0 ]; then
    echo "fuzz.sh: $target failed (exit $status); log $log:" >&2
    grep -E 'fuzz property violated|ERROR: |SUMMARY|Test unit written|deadly signal' "$log" | head -10 >&2 || true
  fi
done
exit "$failed"
