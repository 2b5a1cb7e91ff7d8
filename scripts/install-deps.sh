#!/usr/bin/env bash
# Installs everything km's build, tests, fuzzers, benchmarks and demo need (Debian 12, apt).
# Idempotent: installs only what is missing. Needs root (or sudo) when a package is missing.
# The tests' AI SDKs come from the npm registry (tests/sdk).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libsqlite3-dev libssl-dev libseccomp-dev libboost1.81-dev libpcre2-dev
  bubblewrap util-linux procps psmisc iproute2 btrfs-progs e2fsprogs
  libbpf-dev bpftool libmnl-dev libnftables-dev nftables dnsmasq-base dnsutils iputils-ping curl dnsperf openssl
  python3 zsh nodejs tmux age
  libarchive-dev skopeo umoci mmdebstrap docker-registry
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm: Debian packages it apart from nodejs (a nodejs from elsewhere may bring its own).
if ! command -v npm >/dev/null; then missing+=(npm); fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
      echo "install-deps: need root to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The official AI SDKs the metering tests drive (pinned in tests/sdk/package-lock.json), from
# the npm registry: again only when the lock file changed since the last install.
SDK_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/sdk"
if [ ! -f "$SDK_DIR/node_modules/.package-lock.json" ] || [ "$SDK_DIR/package-lock.json" -nt "$SDK_DIR/node_modules/.package-lock.json" ]; then
  echo "install-deps: installing the AI SDKs for the tests (npm ci in tests/sdk)"
  npm ci --prefix "$SDK_DIR" --no-audit --no-fund --loglevel=error
fi
