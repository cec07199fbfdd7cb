#!/usr/bin/env bash
# Installs what ringkv needs to build, test and benchmark, from Debian 12's
# packages only. Idempotent: installs nothing that is already there.
# clang-16 and libclang-rt-16-dev (libFuzzer, ASan, UBSan runtimes) build the fuzz targets
# (scripts/fuzz.sh); clang 14 cannot compile the code (std::expected needs clang 16 with
# libstdc++ 12).
set -euo pipefail

packages=(
  build-essential cmake g++ ccache pkg-config
  libuv1-dev libmsgpack-cxx-dev librocksdb-dev libxxhash-dev doctest-dev
  libcli11-dev libspdlog-dev libfmt-dev
  python3 iproute2 iptables
  redis-server redis-tools
  libsodium-dev libmimalloc-dev faketime tcpdump python3-msgpack python3-redis
  dpkg-dev adduser systemd
  prometheus
  clang-16 libclang-rt-16-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
