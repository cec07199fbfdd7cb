#!/bin/sh
# The shipped alert rules (deploy/prometheus) are valid and pass their unit
# tests. Exit 77 (skipped) where promtool is not installed (scripts/setup.sh
# installs Debian's prometheus package, which has it).
set -eu
rules_dir=$1
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found (Debian package prometheus): skipped"
  exit 77
fi
cd "$rules_dir"
promtool check rules ringkv-rules.yml
promtool test rules ringkv-rules.test.yml
