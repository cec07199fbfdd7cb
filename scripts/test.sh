#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, simulation and
# process-level) through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
# Tests labelled open-defects reproduce known, documented defects (tests/sim/cluster/README.md);
# they run with `ctest -L open-defects` and stay out of this gate until fixed.
ctest --output-on-failure -j"$(nproc)" -LE open-defects "$@"
