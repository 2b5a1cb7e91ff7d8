#!/usr/bin/env bash
# km's HTTP proxy against direct, squid and tinyproxy, side by side in one run, all against
# the same origin: nginx in a network namespace of the benchmark's own (203.0.113.90, a
# documentation address routed only to it), names answered by tests/fakes/fake_dns.py.
#   * km: a sandbox (enforcement proxy) whose supervisor runs the proxy on its veth's host
#     end; wrk on the host sends absolute-URI requests to its explicit port (3128).
#   * squid (no cache) and tinyproxy on loopback, the same absolute-URI requests (tinyproxy
#     resolves with the host's resolver, which does not know the benchmark's name: it gets
#     the address in the URI instead).
#   * direct: wrk straight to nginx.
# Loads (wrk, one thread; rounds alternate the four; medians printed):
#   1 KiB keep-alive, 16 connections: requests/s;  1 KiB, 1 connection: p50/p99 latency;
#   1 MiB bodies, 4 connections: requests/s (× 1 MiB = throughput);
#   tunnelled HTTPS (CONNECT through km; curl, 1 GiB from nginx over TLS) vs direct.
# Usage: bench/proxy_bench.sh KM_BINARY [SECONDS_PER_ROUND (5)] [ROUNDS (3)]
set -euo pipefail
km="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
secs="${2:-5}"
rounds="${3:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$(id -u)" != 0 ]; then echo "proxy_bench: needs root"; exit 77; fi
for tool in wrk squid tinyproxy nginx; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
    echo "proxy_bench: $tool missing (apt-get install wrk squid tinyproxy nginx-light; stop the services they start)"
    exit 1
  }
done
home="$(mktemp -d /tmp/km-pbench.XXXXXX)"
ns="kmpb$$"
veth="kpb$$"
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

# The origin's network namespace.
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
head -c 1048576 /dev/zero > "$home/www/1m"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench.example \
  -addext subjectAltName=DNS:bench.example -keyout "$home/tls.key" -out "$home/tls.pem" 2>/dev/null
cat > "$home/nginx.conf" <<EOF
worker_processes 1;
user root;
pid $home/nginx.pid;
error_log $home/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 203.0.113.90:80;
    listen 203.0.113.90:443 ssl;
    ssl_certificate $home/tls.pem;
    ssl_certificate_key $home/tls.key;
    root $home/www;
    location = /big { return 200; }
  }
}
EOF
head -c 1073741824 /dev/zero > "$home/www/1g" 2>/dev/null || true
ip netns exec "$ns" nginx -c "$home/nginx.conf" -g 'daemon off;' > "$home/nginx.out" 2>&1 &
pids+=($!)
ip netns exec "$ns" python3 "$root/tests/fakes/fake_dns.py" 198.51.100.90 53 bench.example=203.0.113.90 --ttl 3600 \
  > "$home/dns.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -s -m 1 -o /dev/null http://203.0.113.90/1k && break; sleep 0.1; done

# squid and tinyproxy on loopback, no caching.
cat > "$home/squid.conf" <<EOF
http_port 127.0.0.1:3130
http_access allow all
cache deny all
cache_mem 8 MB
dns_nameservers 198.51.100.90
pid_filename $home/squid.pid
access_log none
cache_log $home/squid.log
coredump_dir $home
EOF
squid -N -f "$home/squid.conf" > "$home/squid.out" 2>&1 &
pids+=($!)
cat > "$home/tinyproxy.conf" <<EOF
Port 8899
Listen 127.0.0.1
Timeout 60
MaxClients 256
LogLevel Critical
PidFile "$home/tinyproxy.pid"
EOF
tinyproxy -d -c "$home/tinyproxy.conf" > "$home/tinyproxy.out" 2>&1 &
pids+=($!)

# The sandbox: proxy mode, the benchmark's name allowed, the origin's DNS as upstream.
printf 'disk:\n  size: 1Gi\ndns:\n  upstream: ["198.51.100.90:53"]\n' > "$home/config.yaml"
export KM_CONFIG="$home/config.yaml"
cat > "$home/bench.yaml" <<EOF
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: proxy-bench, prefix: pb}
extends: open-dev
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  network:
    enforcement: proxy
    httpsOnly: false
    egress: {allowedDNSSuffixes: [], allowedHosts: [bench.example]}
EOF
sb="$("$km" create "$home/bench.yaml")"
host_end="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostAddress"])' "$home/sandboxes/$sb/net.json")"
for _ in $(seq 1 50); do
  curl -s -m 1 -o /dev/null -x "http://127.0.0.1:3130" http://bench.example/1k && break
  sleep 0.2
done
# Every path serves the whole file before anything is timed.
check() {
  local got; got="$(curl -s -m 30 -o /dev/null -w '%{http_code} %{size_download}' "$@")"
  [ "$got" = "200 1024" ] || { echo "proxy_bench: $* answered '$got', not 200 with 1024 bytes" >&2; exit 1; }
}
check http://203.0.113.90/1k
check -x "http://$host_end:3128" http://bench.example/1k
check -x http://127.0.0.1:3130 http://bench.example/1k
check -x http://127.0.0.1:8899 http://203.0.113.90/1k

abs() {  # a wrk script sending absolute-URI requests for URL
  printf 'wrk.path = "%s"\nwrk.headers["Host"] = "%s"\n' "$1" "$2" > "$home/abs-$3.lua"
  echo "$home/abs-$3.lua"
}
km_lua="$(abs http://bench.example/1k bench.example km1k)"
km_lua_m="$(abs http://bench.example/1m bench.example km1m)"
ty_lua="$(abs http://203.0.113.90/1k 203.0.113.90 ty1k)"
ty_lua_m="$(abs http://203.0.113.90/1m 203.0.113.90 ty1m)"

# name target script: one wrk run; prints "req/s p50 p99" (latency in µs).
run() {
  local conns="$1" target="$2" script="$3"
  local args=(-t1 -c"$conns" -d"${secs}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "$target" 2>&1 | python3 -c '
import re, sys
t = sys.stdin.read()
if "Requests/sec" not in t or "99%" not in t:
    sys.stderr.write("proxy_bench: wrk said:\n" + t)
    print("0 0 0"); sys.exit(0)
def us(v):
    n, u = float(re.match(r"([\d.]+)", v).group(1)), re.sub(r"[\d.]", "", v)
    return n * {"us": 1, "ms": 1000, "s": 1e6}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = us(re.search(r"50%\s+(\S+)", t).group(1)); p99 = us(re.search(r"99%\s+(\S+)", t).group(1))
print("%.0f %.0f %.0f" % (rps, p50, p99))'
}
if [ "${KM_BENCH_PERF:-}" = 1 ]; then
  sup="$(pgrep -f "km-supervise --home $home $sb" | head -1)"
  perf record -g -o "$home/perf.data" -p "$sup" -- sleep "$secs" > /dev/null 2>&1 &
  perf_pid=$!
  wrk -t1 -c16 -d"${secs}s" -s "$km_lua" "http://$host_end:3128/" | grep Requests/sec
  wait $perf_pid
  perf report -i "$home/perf.data" --no-children --sort symbol --stdio -g none > "$home/perf.txt" 2>&1; grep "%" "$home/perf.txt" | cut -c1-150 | head -40
  exit 0
fi
declare -A r1k lat big
for round in $(seq 1 "$rounds"); do
  for who in direct km squid tinyproxy; do
    case $who in
      direct)    t=http://203.0.113.90/1k; s=""; tm=http://203.0.113.90/1m; sm="" ;;
      km)        t="http://$host_end:3128/"; s="$km_lua"; tm="$t"; sm="$km_lua_m" ;;
      squid)     t=http://127.0.0.1:3130/; s="$km_lua"; tm="$t"; sm="$km_lua_m" ;;
      tinyproxy) t=http://127.0.0.1:8899/; s="$ty_lua"; tm="$t"; sm="$ty_lua_m" ;;
    esac
    r1k[$who]+="$(run 16 "$t" "$s" | cut -d' ' -f1) "
    lat[$who]+="$(run 1 "$t" "$s" | cut -d' ' -f2,3 | tr ' ' '/') "
    big[$who]+="$(run 4 "$tm" "$sm" | cut -d' ' -f1) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "proxy_bench: ${rounds} rounds of ${secs}s each, medians"
printf '%-10s %12s %16s %14s\n' "" "1KiB req/s" "1KiB p50/p99 us" "1MiB MB/s"
for who in direct km squid tinyproxy; do
  p50=$(tr ' ' '\n' <<<"${lat[$who]}" | grep -v '^$' | cut -d/ -f1 | median)
  p99=$(tr ' ' '\n' <<<"${lat[$who]}" | grep -v '^$' | cut -d/ -f2 | median)
  printf '%-10s %12s %16s %14s\n' "$who" "$(median <<<"${r1k[$who]}")" "$p50/$p99" "$(median <<<"${big[$who]}" | awk '{printf "%.0f", $1 * 1.048576}')"
done
km1k=$(median <<<"${r1k[km]}"); d1k=$(median <<<"${r1k[direct]}"); sq1k=$(median <<<"${r1k[squid]}")
kmm=$(median <<<"${big[km]}"); sqm=$(median <<<"${big[squid]}")
python3 -c "print('km/direct 1KiB %.2f; km/squid 1KiB %.2f; km/squid 1MiB %.2f' % ($km1k/$d1k, $km1k/$sq1k, $kmm/$sqm))"
d50=$(tr ' ' '\n' <<<"${lat[direct]}" | grep -v '^$' | cut -d/ -f1 | median)
k50=$(tr ' ' '\n' <<<"${lat[km]}" | grep -v '^$' | cut -d/ -f1 | median)
echo "p50 added by km: $((k50 - d50)) us"

# Tunnelled HTTPS: 1 GiB through CONNECT vs direct (curl, TLS end to end).
tun=""; dir=""
for round in $(seq 1 "$rounds"); do
  dir+="$(curl -sk -o /dev/null -w '%{speed_download}' --resolve bench.example:443:203.0.113.90 https://bench.example/1g) "
  tun+="$(curl -sk -o /dev/null -w '%{speed_download}' -x "http://$host_end:3128" https://bench.example/1g) "
done
python3 -c "
d = sorted(map(float, '$dir'.split())); t = sorted(map(float, '$tun'.split()))
m = lambda v: v[len(v)//2]
print('tunnelled HTTPS 1 GiB: direct %.0f MB/s, through km %.0f MB/s (%.2f)' % (m(d)/1e6, m(t)/1e6, m(t)/m(d)))"
sup="$(pgrep -f "km-supervise --home $home $sb" | head -1)"
echo "supervisor RSS after the runs: $(awk '/VmRSS/ {print $2}' /proc/$sup/status) KiB"
