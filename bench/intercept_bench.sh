#!/usr/bin/env bash
# Intercepted HTTPS: km's proxy terminating TLS against mitmproxy, side by side in one run,
# both in front of the same origin: nginx (TLS, 1 KiB file) in a network namespace of the
# benchmark's own (203.0.113.90, a documentation address routed only to it), its certificate
# from a CA of the benchmark's that both proxies are told to trust.
#   * km: a sandbox (enforcement proxy) with an AI budget and the origin's name in the
#     operator config's ai.endpoints, so the proxy intercepts it; wrk runs inside the sandbox
#     (`km exec`) against https://bench.example/1k: the connection is redirected by the
#     sandbox's nftables to the transparent port, the proxy presents a leaf from the sandbox's
#     CA and relays each request over its own verified TLS to nginx.
#   * mitmproxy (mitmdump, reverse-proxy mode on loopback: it too terminates the client's TLS,
#     parses each request and relays it over its own verified TLS); wrk on the host.
#   * direct: wrk straight to nginx; `openssl s_time` full handshakes to nginx (the ceiling
#     of new TLS connections one client process gets from this machine).
# Loads (wrk, one thread; rounds alternate; medians printed): 1 KiB keep-alive, 16
# connections: requests/s; 1 KiB with a new connection per request ("Connection: close",
# 4 connections at a time, full handshakes: wrk keeps no sessions): requests/s.
# Usage: bench/intercept_bench.sh KM_BINARY [SECONDS_PER_ROUND (5)] [ROUNDS (3)]
set -euo pipefail
km="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
secs="${2:-5}"
rounds="${3:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$(id -u)" != 0 ]; then echo "intercept_bench: needs root"; exit 77; fi
for tool in wrk nginx mitmdump openssl; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
    echo "intercept_bench: $tool missing (apt-get install wrk nginx-light mitmproxy; stop the services they start)"
    exit 1
  }
done
home="$(mktemp -d /tmp/km-ibench.XXXXXX)"
ns="kmib$$"
veth="kib$$"
pids=()
sb=""
cleanup() {
  [ -n "$sb" ] && KM_HOME="$home" "$km" destroy --yes "$sb" >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if ip netns pids "$ns" >/dev/null 2>&1; then for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null || true; done; fi
  ip link del "$veth" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  umount "$home/disk" 2>/dev/null || true
  rm -rf "$home"
}
trap cleanup EXIT
export KM_HOME="$home"

ip netns add "$ns"
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip addr add 172.31.251.1/30 dev "$veth"
ip link set "$veth" up
ip netns exec "$ns" sh -c 'ip addr add 172.31.251.2/30 dev eth0 && ip link set eth0 up && ip link set lo up &&
  ip route add default via 172.31.251.1 && ip addr add 203.0.113.90/32 dev lo && ip addr add 198.51.100.90/32 dev lo'
ip route add 203.0.113.90/32 via 172.31.251.2 dev "$veth"
ip route add 198.51.100.90/32 via 172.31.251.2 dev "$veth"
mkdir -p "$home/www"
head -c 1024 /dev/zero | tr '\0' 'x' > "$home/www/1k"
# The origin's CA and certificate (EC P-256, as most servers now present).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$home/ca.key" -out "$home/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench.example \
  -keyout "$home/tls.key" -out "$home/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:bench.example,IP:203.0.113.90\n' > "$home/tls.ext"
openssl x509 -req -in "$home/tls.csr" -CA "$home/ca.pem" -CAkey "$home/ca.key" -CAcreateserial -days 1 \
  -extfile "$home/tls.ext" -out "$home/tls.pem" 2>/dev/null
cat > "$home/nginx.conf" <<EOF
worker_processes 1;
user root;
pid $home/nginx.pid;
error_log $home/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  ssl_session_cache shared:bench:1m;
  server {
    listen 203.0.113.90:443 ssl;
    ssl_certificate $home/tls.pem;
    ssl_certificate_key $home/tls.key;
    root $home/www;
  }
}
EOF
ip netns exec "$ns" nginx -c "$home/nginx.conf" -g 'daemon off;' > "$home/nginx.out" 2>&1 &
pids+=($!)
ip netns exec "$ns" python3 "$root/tests/fakes/fake_dns.py" 198.51.100.90 53 bench.example=203.0.113.90 --ttl 3600 \
  > "$home/dns.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -s -m 1 -o /dev/null --cacert "$home/ca.pem" https://203.0.113.90/1k && break; sleep 0.1; done

# mitmproxy: reverse-proxy mode, verifying nginx against the benchmark's CA.
mitmdump -q --mode reverse:https://203.0.113.90:443 --listen-host 127.0.0.1 --listen-port 8443 \
  --set ssl_verify_upstream_trusted_ca="$home/ca.pem" --set confdir="$home/mitm" > "$home/mitm.out" 2>&1 &
pids+=($!)

# The sandbox: proxy mode, the origin's name an AI endpoint (intercepted), its CA trusted.
cat > "$home/config.yaml" <<EOF
disk:
  size: 1Gi
dns:
  upstream: ["198.51.100.90:53"]
tls:
  extraCAFile: $home/ca.pem
ai:
  endpoints:
    - {host: bench.example, provider: anthropic}
EOF
export KM_CONFIG="$home/config.yaml"
cat > "$home/bench.yaml" <<EOF
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: intercept-bench, prefix: ib}
extends: open-dev
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  budget:
    ai: {maxSpendUSD: 5}
  network:
    enforcement: proxy
    egress: {allowedDNSSuffixes: [], allowedHosts: [bench.example]}
EOF
sb="$("$km" create "$home/bench.yaml")"
for _ in $(seq 1 50); do curl -sk -m 1 -o /dev/null https://127.0.0.1:8443/1k && break; sleep 0.2; done
# Every path serves the file, and km's is intercepted (the sandbox CA's leaf).
check() {
  local got; got="$("$@" -s -m 30 -o /dev/null -w '%{http_code} %{size_download}')"
  [ "$got" = "200 1024" ] || { echo "intercept_bench: $* answered '$got', not 200 with 1024 bytes" >&2; exit 1; }
}
check curl --cacert "$home/ca.pem" https://203.0.113.90/1k
check curl -k https://127.0.0.1:8443/1k
check "$km" exec "$sb" -- curl --noproxy '*' https://bench.example/1k
"$km" exec "$sb" -- curl -sv --noproxy '*' -o /dev/null https://bench.example/1k 2>&1 | grep -q "issuer: O=km; CN=km sandbox" ||
  { echo "intercept_bench: km did not intercept bench.example" >&2; exit 1; }

# One wrk run (args after the first: wrk's); prints requests/s.
rps() {
  "$@" 2>&1 | python3 -c '
import re, sys
t = sys.stdin.read()
m = re.search(r"Requests/sec:\s+([\d.]+)", t)
if not m:
    sys.stderr.write("intercept_bench: wrk said:\n" + t)
print("%.0f" % (float(m.group(1)) if m else 0))'
}
wrk_ka=(wrk -t1 -c16 -d"${secs}s")
wrk_new=(wrk -t1 -c4 -d"${secs}s" -H "Connection: close")
declare -A ka new
for round in $(seq 1 "$rounds"); do
  ka[direct]+="$(rps "${wrk_ka[@]}" https://203.0.113.90/1k) "
  ka[km]+="$(rps "$km" exec "$sb" -- "${wrk_ka[@]}" https://bench.example/1k) "
  ka[mitmproxy]+="$(rps "${wrk_ka[@]}" https://127.0.0.1:8443/1k) "
  new[direct]+="$(rps "${wrk_new[@]}" https://203.0.113.90/1k) "
  new[km]+="$(rps "$km" exec "$sb" -- "${wrk_new[@]}" https://bench.example/1k) "
  new[mitmproxy]+="$(rps "${wrk_new[@]}" https://127.0.0.1:8443/1k) "
  st="$(openssl s_time -connect 203.0.113.90:443 -new -time "$secs" 2>/dev/null | sed -n 's/.* \([0-9.]*\) connections\/user sec.*/\1/p' | head -1)"
  wall="$(openssl s_time -connect 203.0.113.90:443 -new -time "$secs" 2>/dev/null | sed -n 's/^\([0-9]*\) connections in \([0-9]*\) real seconds.*/\1 \2/p' | head -1)"
  new[s_time]+="$(awk -v w="$wall" 'BEGIN {split(w, a, " "); if (a[2] > 0) printf "%.0f", a[1] / a[2]; else print 0}') "
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "intercept_bench: ${rounds} rounds of ${secs}s each, medians (1 KiB over HTTPS)"
printf '%-12s %16s %22s\n' "" "keep-alive req/s" "new connection req/s"
for who in direct km mitmproxy; do
  printf '%-12s %16s %22s\n' "$who" "$(median <<<"${ka[$who]}")" "$(median <<<"${new[$who]}")"
done
printf '%-12s %16s %22s\n' "s_time" "-" "$(median <<<"${new[s_time]}")"
k=$(median <<<"${ka[km]}"); m=$(median <<<"${ka[mitmproxy]}"); kn=$(median <<<"${new[km]}"); mn=$(median <<<"${new[mitmproxy]}")
python3 -c "print('km/mitmproxy keep-alive %.1fx; new connections %.1fx' % ($k / max($m, 1), $kn / max($mn, 1)))"
sup="$(pgrep -f "km-supervise --home $home $sb" | head -1)"
echo "supervisor RSS after the runs: $(awk '/VmRSS/ {print $2}' /proc/$sup/status) KiB"
