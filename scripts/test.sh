#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, simulation and
# process-level) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
