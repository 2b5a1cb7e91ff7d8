#!/usr/bin/env bash
# km's allowlist resolver against dnsmasq with the same allowlist, side by side in one run.
# Root (km's resolver runs in a sandbox's supervisor, on the host end of its veth).
#   * upstream for both: tests/fakes/fake_dns.py on 127.0.0.1 (after the first query of a
#     name both answer from their caches, so the upstream's speed hardly matters)
#   * allowlist: suffixes anthropic.com and github.com (dnsmasq: --server=/suffix/… plus
#     --address=/#/ = NXDOMAIN for the rest — the same rule as km's)
#   * load: dnsperf, a query mix of half allowed (cached) names, half denied names
# Rounds alternate km / dnsmasq; prints the median queries per second of each and the ratio.
# Usage: bench/resolver_bench.sh KM_BINARY [SECONDS_PER_ROUND] [ROUNDS]
set -euo pipefail
km="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
secs="${2:-5}"
rounds="${3:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$(id -u)" != 0 ]; then echo "resolver_bench: needs root"; exit 77; fi
for tool in dnsperf dnsmasq; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "resolver_bench: $tool missing (make deps)"; exit 1; }
done
home="$(mktemp -d /tmp/km-bench.XXXXXX)"
pids=()
sb=""
cleanup() {
  [ -n "$sb" ] && KM_HOME="$home" "$km" destroy --yes "$sb" >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  umount "$home/disk" 2>/dev/null || true  # the home's disk store
  rm -rf "$home"
}
trap cleanup EXIT
export KM_HOME="$home"
up_port=5399
python3 "$root/tests/fakes/fake_dns.py" 127.0.0.1 $up_port api.anthropic.com=203.0.113.10 \
  console.anthropic.com=203.0.113.11 github.com=203.0.113.20 '*.github.com=203.0.113.21' \
  --ttl 3600 > "$home/upstream.out" 2>&1 &
pids+=($!)
/usr/sbin/dnsmasq --no-daemon --keep-in-foreground --port=5400 --listen-address=127.0.0.1 \
  --bind-interfaces --no-resolv --no-hosts --server=/anthropic.com/127.0.0.1#$up_port \
  --server=/github.com/127.0.0.1#$up_port --address=/#/ --cache-size=10000 \
  --dns-forward-max=1000 --log-facility=/dev/null > "$home/dnsmasq.out" 2>&1 &
pids+=($!)
cat > "$home/config.yaml" <<YAML
disk:
  size: 1Gi
dns:
  upstream: ["127.0.0.1:$up_port"]
YAML
export KM_CONFIG="$home/config.yaml"
cat > "$home/bench.yaml" <<'YAML'
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: resolver-bench, prefix: kr}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  network:
    enforcement: ebpf
    egress: {allowedDNSSuffixes: [anthropic.com, github.com], allowedHosts: []}
YAML
sb="$("$km" create "$home/bench.yaml")"
km_addr="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostAddress"])' "$home/sandboxes/$sb/net.json")"
cat > "$home/queries.txt" <<'Q'
api.anthropic.com A
github.com A
evil.example A
www.github.com A
tracker.example.net A
console.anthropic.com A
exfil.attacker.example AAAA
raw.github.com A
nope.invalid A
api.anthropic.com AAAA
Q
sleep 0.3
# Warm both caches.
for server in "$km_addr 53" "127.0.0.1 5400"; do
  set -- $server
  dnsperf -s "$1" -p "$2" -d "$home/queries.txt" -n 2 >/dev/null 2>&1 || true
done
qps() { dnsperf -s "$1" -p "$2" -d "$home/queries.txt" -l "$secs" -q 200 2>/dev/null |
        awk '/Queries per second/ {print $4}'; }
if [ -n "${KM_BENCH_PERF:-}" ]; then sup="$(pgrep -f "supervise $sb" | head -1)"; perf record -F 5000 -g -p "$sup" -o "$KM_BENCH_PERF" -- sleep "$secs" >/dev/null 2>&1 & sleep 0.2; fi
km_q=(); dm_q=()
for _ in $(seq 1 "$rounds"); do
  km_q+=("$(qps "$km_addr" 53)")
  dm_q+=("$(qps 127.0.0.1 5400)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
km_med="$(median "${km_q[@]}")"
dm_med="$(median "${dm_q[@]}")"
echo "resolver qps, dnsperf, ${secs}s x $rounds rounds interleaved, half allowed / half denied names:"
echo "  km resolver   ${km_med}   (rounds: ${km_q[*]})"
echo "  dnsmasq       ${dm_med}   (rounds: ${dm_q[*]})"
python3 -c "import sys; print('  km / dnsmasq  %.2f  (goal >= 1.0)' % (float(sys.argv[1]) / float(sys.argv[2])))" "$km_med" "$dm_med"
