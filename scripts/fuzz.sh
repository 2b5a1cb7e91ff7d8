#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS with a seed corpus: real profiles for the profile and
# config loaders, tests/fuzz/seeds/dns for the DNS parser, tests/fuzz/seeds/duration for durations,
# tests/fuzz/seeds/audit for the audit records' decoder, tests/fuzz/seeds/exec_event for the exec
# audit's ring buffer records, tests/fuzz/seeds/http for the proxy's
# request heads, tests/fuzz/seeds/tls for its ClientHello reader, tests/fuzz/seeds/meter for
# metered AI responses, tests/fuzz/seeds/meter_request for their requests' bodies,
# tests/fuzz/seeds/github for pushes' receive-pack bodies and ref globs, tests/fuzz/seeds/sops
# for sops-encrypted secrets files, tests/fuzz/seeds/image for image layers and references.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
# Prints each target's final stats line (execs, coverage); exits non-zero on any finding.
set -euo pipefail
build="$(cd "${1:-build/fuzz}" && pwd)"
seconds="${2:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$root/../shared/reference/profiles"

for target in profile_loader_fuzz config_fuzz dns_message_fuzz duration_fuzz audit_decode_fuzz exec_event_fuzz proxy_request_fuzz \
              client_hello_fuzz meter_stream_fuzz meter_request_fuzz github_pkt_line_fuzz \
              sops_fuzz image_fuzz; do
  bin="$build/tests/fuzz/$target"
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  if [ "$target" = dns_message_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/dns/* "$corpus"/
  elif [ "$target" = duration_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/duration/* "$corpus"/
  elif [ "$target" = audit_decode_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/audit/* "$corpus"/
  elif [ "$target" = exec_event_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/exec_event/* "$corpus"/
  elif [ "$target" = proxy_request_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/http/* "$corpus"/
  elif [ "$target" = client_hello_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/tls/* "$corpus"/
  elif [ "$target" = meter_stream_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/meter/* "$corpus"/
  elif [ "$target" = meter_request_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/meter_request/* "$corpus"/
  elif [ "$target" = github_pkt_line_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/github/* "$corpus"/
  elif [ "$target" = sops_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/sops/* "$corpus"/
  elif [ "$target" = image_fuzz ]; then
    cp "$root"/tests/fuzz/seeds/image/* "$corpus"/
  else
    cp "$root"/profiles/*.yaml "$corpus"/ 2>/dev/null || true
    # Inputs that once broke a property: replayed first, kept in the corpus.
    cp "$root"/tests/fuzz/regressions/* "$corpus"/ 2>/dev/null || true
    if [ -d "$shared" ]; then
      find "$shared" -name '*.yaml' -exec cp {} "$corpus"/ \; 2>/dev/null || true
    fi
  fi
  echo "fuzz: $target for ${seconds}s"
  log="$build/$target.log"
  # -max_len: profiles are KiB-sized; -timeout: a single input must finish in 10 s.
  if ! (cd "$build" && "$bin" "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
          -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/$target-" >"$log" 2>&1); then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED (artifacts: $build/$target-*)" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed "s/^/fuzz: $target /"
  grep -E "^#[0-9]+ +DONE" "$log" | tail -1 | sed "s/^/fuzz: $target /" || true
done
echo "fuzz: no findings"
