#!/usr/bin/env bash
# Configures and builds ringkv into ./build (Release unless BUILD_TYPE says
# otherwise; SANITIZE=1 builds with ASan+UBSan into ./build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build
extra=()
if [ "${SANITIZE:-0}" = "1" ]; then
  build_dir=build-asan
  extra+=(-DRINGKV_SANITIZE=ON)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "${extra[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
