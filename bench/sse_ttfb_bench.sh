#!/usr/bin/env bash
# SSE time to first byte through km's metering proxy, side by side in one run (issue 15's goal:
# metering adds at most 1 ms to the first byte). One origin: a small HTTPS server in a network
# namespace of the benchmark's own (203.0.113.91, a documentation address routed only to it)
# answering every POST with an Anthropic Messages SSE stream (message_start at once, then five
# deltas 20 ms apart, message_delta with the usage, message_stop). Three paths to it:
#   * metered: a sandbox with an AI budget, the origin's name an operator ai.endpoints entry
#     (provider anthropic): POST /v1/messages is intercepted, read whole, held to the budget
#     (a reservation committed to the ledger), relayed, its stream metered on a copy and the
#     call settled;
#   * unmetered: the same sandbox and host, POST /v1/files (a free write: intercepted and
#     relayed as it is, no budget, no meter);
#   * direct: curl on the host straight to the origin.
# Each sample is one curl (a new connection, as an SDK's first call): first byte = curl's
# time_starttransfer - time_pretransfer (from the request sent to the first response byte),
# total = time_total - time_pretransfer. Rounds alternate the paths; medians and p90 printed.
# Usage: bench/sse_ttfb_bench.sh KM_BINARY [SAMPLES_PER_ROUND (20)] [ROUNDS (5)]
set -euo pipefail
km="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
samples="${2:-20}"
rounds="${3:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$(id -u)" != 0 ]; then echo "sse_ttfb_bench: needs root"; exit 77; fi
home="$(mktemp -d /tmp/km-ssebench.XXXXXX)"
ns="kmsb$$"
veth="ksb$$"
pids=()
sb=""
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "$sb" ]; then  # what the proxy said, when a run failed
    tail -n 5 "$home/origin.out" "$home/sandboxes/$sb/network.log" "$home/sandboxes/$sb/supervisor.log" >&2 2>/dev/null || true
  fi
  [ -n "$sb" ] && KM_HOME="$home" "$km" destroy --yes "$sb" >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if ip netns pids "$ns" >/dev/null 2>&1; then for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null || true; done; fi
  ip link del "$veth" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip route del 203.0.113.91/32 2>/dev/null || true
  ip route del 198.51.100.91/32 2>/dev/null || true
  umount "$home/disk" 2>/dev/null || true
  rm -rf "$home"
}
trap cleanup EXIT
export KM_HOME="$home"

ip netns add "$ns"
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip addr add 172.31.250.1/30 dev "$veth"
ip link set "$veth" up
ip netns exec "$ns" sh -c 'ip addr add 172.31.250.2/30 dev eth0 && ip link set eth0 up && ip link set lo up &&
  ip route add default via 172.31.250.1 && ip addr add 203.0.113.91/32 dev lo && ip addr add 198.51.100.91/32 dev lo'
ip route add 203.0.113.91/32 via 172.31.250.2 dev "$veth"
ip route add 198.51.100.91/32 via 172.31.250.2 dev "$veth"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$home/ca.key" -out "$home/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=llm.bench.example \
  -keyout "$home/tls.key" -out "$home/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:llm.bench.example,IP:203.0.113.91\n' > "$home/tls.ext"
openssl x509 -req -in "$home/tls.csr" -CA "$home/ca.pem" -CAkey "$home/ca.key" -CAcreateserial -days 1 \
  -extfile "$home/tls.ext" -out "$home/tls.pem" 2>/dev/null
cat > "$home/origin.py" <<'PY'
import http.server, json, socketserver, ssl, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the providers' servers: each event leaves at once
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        def ev(name, data):
            c = ("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c)); self.wfile.flush()
        usage = {"input_tokens": 12, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        ev("message_start", {"type": "message_start", "message": {"id": "msg_bench", "type": "message", "role": "assistant",
           "model": "claude-sonnet-4-5", "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}})
        for _ in range(5):
            time.sleep(0.02)
            ev("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "word "}})
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}})
        ev("message_stop", {"type": "message_stop"})
        self.wfile.write(b"0\r\n\r\n"); self.wfile.flush()
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = S(("203.0.113.91", 443), H); s.socket = ctx.wrap_socket(s.socket, server_side=True); s.serve_forever()
PY
ip netns exec "$ns" python3 "$home/origin.py" "$home/tls.pem" "$home/tls.key" > "$home/origin.out" 2>&1 &
pids+=($!)
ip netns exec "$ns" python3 "$root/tests/fakes/fake_dns.py" 198.51.100.91 53 llm.bench.example=203.0.113.91 --ttl 3600 \
  > "$home/dns.out" 2>&1 &
pids+=($!)
body='{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
for _ in $(seq 1 100); do ip netns exec "$ns" ss -ltn | grep -q '203.0.113.91:443 ' && break; sleep 0.1; done
curl -sS -m 2 -o /dev/null --cacert "$home/ca.pem" -d "$body" https://203.0.113.91/v1/messages ||
  { echo "sse_ttfb_bench: the origin does not answer" >&2; cat "$home/origin.out" >&2; ip netns exec "$ns" ss -ltn >&2; exit 1; }

cat > "$home/config.yaml" <<EOF
disk:
  size: 1Gi
dns:
  upstream: ["198.51.100.91:53"]
tls:
  extraCAFile: $home/ca.pem
ai:
  endpoints:
    - {host: llm.bench.example, provider: anthropic}
EOF
export KM_CONFIG="$home/config.yaml"
cat > "$home/bench.yaml" <<EOF
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: sse-bench, prefix: sb}
extends: open-dev
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  budget:
    ai: {maxSpendUSD: 1000}
  network:
    enforcement: proxy
    egress: {allowedDNSSuffixes: [], allowedHosts: [llm.bench.example]}
EOF
sb="$("$km" create "$home/bench.yaml")"
fmt='%{time_pretransfer} %{time_starttransfer} %{time_total} %{http_code}\n'
curl_args=(-sS -o /dev/null -w "$fmt" -H 'content-type: application/json' -H 'x-api-key: sk-bench' --data-binary "$body")
# N samples of one path: "first_byte_ms total_ms" lines.
inside() {  # path
  "$km" exec "$sb" -- sh -c 'n="$1"; shift; for i in $(seq 1 "$n"); do curl --noproxy "*" "$@"; done' sh "$samples" \
    "${curl_args[@]}" "https://llm.bench.example$1" |
    awk '$4 != 200 {print "sse_ttfb_bench: status " $4 > "/dev/stderr"; exit 1} {printf "%.3f %.3f\n", ($2-$1)*1000, ($3-$1)*1000}'
}
direct() {
  for _ in $(seq 1 "$samples"); do curl --cacert "$home/ca.pem" "${curl_args[@]}" https://203.0.113.91/v1/messages; done |
    awk '{printf "%.3f %.3f\n", ($2-$1)*1000, ($3-$1)*1000}'
}
inside /v1/messages >/dev/null  # warm-up (the first intercepted connection loads TLS state)
: > "$home/metered"; : > "$home/unmetered"; : > "$home/direct"
for _ in $(seq 1 "$rounds"); do
  inside /v1/messages >> "$home/metered"
  inside /v1/files >> "$home/unmetered"
  direct >> "$home/direct"
done
calls="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM usage_events").fetchone()[0])' "$home/fleet.db")"
want=$(( (rounds + 1) * samples ))
[ "$calls" = "$want" ] || { echo "sse_ttfb_bench: $calls calls metered, expected $want (metering is not on the measured path)" >&2; exit 1; }
echo "sse_ttfb_bench: $rounds rounds x $samples calls per path (a new connection each), ms from the request sent"
python3 - "$home" <<'PY'
import statistics, sys
home = sys.argv[1]
rows = {}
for name in ("direct", "unmetered", "metered"):
    pairs = [tuple(map(float, l.split())) for l in open("%s/%s" % (home, name)) if l.strip()]
    fb = sorted(p[0] for p in pairs); tot = sorted(p[1] for p in pairs)
    q = lambda v, f: v[min(len(v) - 1, int(f * len(v)))]
    rows[name] = (statistics.median(fb), q(fb, 0.9), statistics.median(tot), q(tot, 0.9))
print("%-10s %14s %12s %12s %10s" % ("", "first byte p50", "p90", "total p50", "p90"))
for name, r in rows.items():
    print("%-10s %14.2f %12.2f %12.2f %10.2f" % (name, *r))
print("metering adds %.2f ms to the first byte (p50; p90 %.2f), %.2f ms to the total (p50)" %
      (rows["metered"][0] - rows["unmetered"][0], rows["metered"][1] - rows["unmetered"][1], rows["metered"][2] - rows["unmetered"][2]))
PY
