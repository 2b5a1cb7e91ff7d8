#!/usr/bin/env bash
# Runs km's benchmarks from a release build. Usage: scripts/bench.sh BUILD_DIR
# Figures and the command that reproduces them are recorded in docs/benchmarks.md.
set -euo pipefail
build="${1:-build/release}"
km="$build/src/km"

echo "== profile pipeline (Google Benchmark)"
"$build/bench/profile_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

echo
echo "== spend ledger: AI calls (reserve + settle) and usage events per second (Google Benchmark)"
"$build/bench/ledger_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

echo
echo "== km validate, whole process (8 built-ins, 20 runs)"
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
start=$(date +%s%N)
for _ in $(seq 20); do
  KM_HOME="$home" "$km" validate open-dev restricted-dev hardened sealed goose ao codex learn >/dev/null
done
end=$(date +%s%N)
echo "km validate (8 built-ins): $(( (end - start) / 20 / 1000 )) us per run"

echo
echo "== sandboxes: km vs bubblewrap vs unshare+nsenter (root; 30 interleaved runs)"
if [ "$(id -u)" = 0 ]; then
  python3 "$(dirname "$0")/../bench/sandbox_bench.py" "$km" 30
else
  echo "skipped: needs root (namespaces, cgroups)"
fi

echo
echo "== network: connect()+accept+close() with and without the eBPF programs (root)"
if [ "$(id -u)" = 0 ]; then
  "$build/bench/connect_bench"
else
  echo "skipped: needs root (cgroups, eBPF)"
fi

echo
echo "== audit: fork+exec+wait with and without the exec audit (root)"
if [ "$(id -u)" = 0 ]; then
  "$build/bench/exec_audit_bench"
else
  echo "skipped: needs root (cgroups, eBPF)"
fi

echo
echo "== network: km's resolver vs dnsmasq, same allowlist (root)"
if [ "$(id -u)" = 0 ]; then
  bash "$(dirname "$0")/../bench/resolver_bench.sh" "$km" 5 3
else
  echo "skipped: needs root"
fi

echo
echo "== metering: SSE time to first byte, metered vs unmetered vs direct (root)"
if [ "$(id -u)" = 0 ]; then
  bash "$(dirname "$0")/../bench/sse_ttfb_bench.sh" "$km" 20 5
else
  echo "skipped: needs root"
fi
