#!/usr/bin/env bash
# Installs the Debian 12 packages Parley needs to build, test and run.
# Used by `make run`, `make test` and CI. Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(
  # toolchains and build
  build-essential cmake ninja-build pkg-config clang clang-format
  libclang-rt-14-dev libfuzzer-14-dev
  # libraries (headers and runtime)
  libboost1.81-dev libexpat1-dev libssl-dev libsqlite3-dev libpq-dev libc-ares-dev
  libicu-dev libidn2-dev libtomlplusplus-dev
  # tests
  libgtest-dev libgmock-dev python3 python3-slixmpp openssl
  # interop: the peer servers that run the same batteries (tests/interop/*_side_by_side.py, started by
  # tests/interop/peer_servers.py) and bench/compare.sh; ejabberd brings its Erlang runtime
  prosody ejabberd
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# libexpat1-dev must be the newest Debian build (security backports, see docs/SECURITY.md).
if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libexpat1-dev 2>/dev/null || echo 0)" lt 2.5.0-1+deb12u5; then
  missing+=(libexpat1-dev libexpat1)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing packages: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# The peer servers only ever run privately (tests/interop/peer_servers.py): keep apt from starting their
# system services (ejabberd would take ports 5222, 5269, 5280 and start epmd) while it installs them.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
