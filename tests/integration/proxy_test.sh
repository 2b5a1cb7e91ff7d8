#!/usr/bin/env bash
# The HTTP(S) proxy with real clients inside a sandbox against the fake internet, in `proxy`
# and `both` modes: allowed HTTP and HTTPS through the explicit port (HTTP_PROXY env) and the
# transparent one (clients that ignore the env), refusals with their reason, and the tricks
# that would reach a name the policy refuses — each refused with the refused name's origin
# seeing no byte (the fake servers log every connection, with its SNI, before reading).
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
hostself=""
extra_cleanup() {
  [ -n "$hostself" ] && kill "$hostself" 2>/dev/null
  fake_internet_down
}
before="$(kernel_snapshot)"
fake_internet_up

# Runs python code inside the sandbox (the code on stdin).
py() { km exec "$SB" -- python3 - "$@"; }
in_sb() { km exec "$SB" -- "$@"; }
# The sandbox's view of the fake internet's CA (the origins' certificates; tunnelled TLS is
# checked end to end against it).
CA=/etc/fake-internet-ca.pem
# Lines of a fake-internet log mentioning evil.example's address or name.
evil_seen() { grep -h -e "203.0.113.66" -e "evil" "$FI_DIR/conn.log" "$FI_DIR/http.log" "$FI_DIR/https.log" || true; }

for MODE in proxy both; do
  HTTPS_ONLY=false net_profile "$KM_HOME/net.yaml" "net-$MODE" kx "$MODE" "[.anthropic.com]" "[github.com, example.org]"
  SB="$(km create "$KM_HOME/net.yaml")"
  LOG="$KM_HOME/sandboxes/$SB/network.log"
  HOST_END="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostAddress"])' "$KM_HOME/sandboxes/$SB/net.json")"
  km exec --root "$SB" -- sh -c "cat > $CA" < "$FI_DIR/ca.pem"
  : > "$FI_DIR/conn.log"; : > "$FI_DIR/http.log"; : > "$FI_DIR/https.log"

  # The environment points clients at the explicit port.
  env_out="$(in_sb env)"
  for v in HTTP_PROXY HTTPS_PROXY http_proxy https_proxy; do
    expect_contains "$env_out" "$v=http://$HOST_END:3128" "$MODE: $v"
  done
  expect_contains "$env_out" "NO_PROXY=localhost,127.0.0.1,::1" "$MODE: NO_PROXY"

  # Allowed, explicit port: curl (HTTP and HTTPS), python urllib, git.
  expect_eq "$(in_sb curl -sS -m 10 http://example.org/a?secret=1)" "hello from 203.0.113.30 host example.org scheme http" "$MODE: HTTP via the explicit port"
  expect_eq "$(in_sb curl -sS -m 10 --cacert $CA https://example.org/b)" "hello from 203.0.113.30 host example.org scheme https" "$MODE: HTTPS via CONNECT"
  expect_contains "$(py <<<'import urllib.request; print(urllib.request.urlopen("http://api.anthropic.com/py").read().decode())')" \
    "host api.anthropic.com scheme http" "$MODE: python urllib"
  # (github.com is intercepted: `hardened` has a repo allowlist naming no repository, so the
  # proxy itself refuses o/r and git, which trusts the sandbox's CA through GIT_SSL_CAINFO,
  # prints why; the request never reaches GitHub.)
  out="$(in_sb git ls-remote https://github.com/o/r 2>&1 || true)"
  expect_contains "$out" "o/r is not in this sandbox's spec.sourceAccess.github.allowedRepos" "$MODE: git smart HTTP through CONNECT"
  expect_not_contains "$(cat "$FI_DIR/https.log")" "/o/r/info/refs" "$MODE: the refused repository never reached GitHub"
  # Clients that ignore the env are caught by the transparent port: curl --noproxy, node fetch.
  expect_eq "$(in_sb curl -sS -m 10 --noproxy '*' http://example.org/c)" "hello from 203.0.113.30 host example.org scheme http" "$MODE: HTTP caught by the transparent port"
  expect_eq "$(in_sb curl -sS -m 10 --noproxy '*' --cacert $CA https://example.org/d)" "hello from 203.0.113.30 host example.org scheme https" "$MODE: HTTPS caught by the transparent port"
  if in_sb sh -c 'command -v node' >/dev/null 2>&1; then  # Node.js's fetch ignores HTTP_PROXY
    expect_contains "$(in_sb node -e 'fetch("http://example.org/node").then(r=>r.text()).then(t=>console.log(t)).catch(e=>console.log("ERR",e.cause||e))')" \
      "host example.org scheme http" "$MODE: node fetch"
  else
    echo "note: no node on this host; node fetch not tried"
  fi
  expect_log '"layer":"http"' '"listener":"explicit"' '"method":"GET"' '"host":"example.org"' '"path":"/a"' '"status":200' '"decision":"allow"'
  expect_log '"layer":"http"' '"listener":"explicit"' '"method":"CONNECT"' '"host":"example.org"' '"mode":"tunnel"'
  expect_log '"layer":"http"' '"listener":"transparent"' '"method":"TLS"' '"host":"example.org"' '"port":443' '"mode":"tunnel"'
  expect_log '"layer":"http"' '"listener":"transparent"' '"method":"GET"' '"path":"/c"'
  grep -q "secret=1" "$LOG" && fail "$MODE: a query string was logged"

  # Refused: HTTP 403 with the reason in X-Km-Deny-Reason; CONNECT 403; TLS an alert.
  : > "$FI_DIR/conn.log"
  out="$(in_sb curl -sS -m 10 -i http://evil.example/ || true)"
  expect_contains "$out" "HTTP/1.1 403" "$MODE: unlisted host over HTTP"
  expect_contains "$out" "X-Km-Deny-Reason: host evil.example is not in the allowlist" "$MODE: deny reason header"
  expect_contains "$(in_sb curl -sS -m 10 --cacert $CA https://evil.example/ 2>&1 || true)" "CONNECT tunnel failed, response 403" "$MODE: CONNECT refused"
  expect_contains "$(in_sb curl -sS -m 10 --noproxy '*' --cacert $CA --resolve evil.example:443:203.0.113.30 https://evil.example/ 2>&1 || true)" \
    "alert access denied" "$MODE: transparent TLS with an unlisted SNI (fronting through an allowed address)"
  expect_contains "$(in_sb curl -sS -m 10 -i --noproxy '*' --resolve evil.example:80:203.0.113.30 http://evil.example/ 2>&1 || true)" \
    "HTTP/1.1 403" "$MODE: transparent HTTP with an unlisted Host"
  expect_contains "$(in_sb curl -sS -m 10 -i -x "http://$HOST_END:3128" --cacert $CA https://example.org:22/ 2>&1 || true)" \
    "X-Km-Deny-Reason: port 22 is not a proxy port (443, 80;" "$MODE: CONNECT to a port that is not a proxy port"
  expect_log '"layer":"http"' '"method":"CONNECT"' '"host":"evil.example"' '"status":403' '"decision":"deny"' 'not in the allowlist'
  # The proxy runs on the host: an allowed name that resolves to an address of the host itself
  # must not reach the host's own services (a listener there records any connection).
  python3 -u -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.200", 80)); s.listen(8); print("ready", flush=True)
while True:
    c, a = s.accept(); open(sys.argv[1], "a").write("hit\n"); c.close()
' "$KM_HOME/hostself.log" > "$KM_HOME/hostself.out" 2>&1 &
hostself=$!
  for _ in $(seq 1 50); do grep -q ready "$KM_HOME/hostself.out" && break; sleep 0.1; done
  out="$(in_sb curl -sS -m 10 -i http://hostself.anthropic.com/ || true)"
  kill $hostself 2>/dev/null; wait $hostself 2>/dev/null || true
  hostself=""
  expect_contains "$out" "X-Km-Deny-Reason: hostself.anthropic.com resolves to an address of the host itself" "$MODE: the host's own address"
  [ -e "$KM_HOME/hostself.log" ] && fail "$MODE: the proxy connected to the host's own address"

  # The tricks. Each is refused, and no origin sees a connection for it.
  tricks="$(py "$HOST_END" <<'PY'
import socket, ssl, sys
host = sys.argv[1]
def raw(port, data, read=4096):
    s = socket.create_connection((host, port), 5)
    s.sendall(data)
    s.settimeout(5)
    out = b""
    try:
        while len(out) < read:
            b = s.recv(read)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out.decode("latin-1")
def status(resp):
    return resp.split("\r\n", 1)[0]
results = {}
# Absolute URI and Host disagree.
results["uri-host"] = status(raw(3128, b"GET http://example.org/ HTTP/1.1\r\nHost: evil.example\r\n\r\n"))
# IP literals in many spellings, as URI and as CONNECT target.
for name, target in [("decimal", "2130706433"), ("hex", "0x7f.1"), ("octal", "0177.0.0.1"), ("short", "127.1"),
                     ("dotted", "203.0.113.30"), ("v6", "[::1]")]:
    results["ip-" + name] = status(raw(3128, b"GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode())))
results["connect-ip"] = status(raw(3128, b"CONNECT 203.0.113.30:443 HTTP/1.1\r\nHost: 203.0.113.30:443\r\n\r\n"))
# Ambiguous framing.
results["cl-te"] = status(raw(3128, b"POST http://example.org/ HTTP/1.1\r\nHost: example.org\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
results["cl-cl"] = status(raw(3128, b"POST http://example.org/ HTTP/1.1\r\nHost: example.org\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"))
results["te-gzip"] = status(raw(3128, b"POST http://example.org/ HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"))
results["two-hosts"] = status(raw(3129, b"GET / HTTP/1.1\r\nHost: example.org\r\nHost: evil.example\r\n\r\n"))
# Smuggling through what Connection lists (the proxy would drop the length, the server would
# read the body as a request of its own).
smuggled = b"GET /smuggled HTTP/1.1\r\nHost: evil.example\r\n\r\n"
results["connection-cl"] = status(raw(3128, b"POST http://example.org/ HTTP/1.1\r\nHost: example.org\r\nConnection: Content-Length\r\nContent-Length: %d\r\n\r\n%s" % (len(smuggled), smuggled)))
results["connection-host"] = status(raw(3129, b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: Host\r\n\r\n"))
# A relayed CONNECT inside an allowed tunnel.
s = socket.create_connection((host, 3128), 5)
s.sendall(b"CONNECT example.org:80 HTTP/1.1\r\nHost: example.org:80\r\n\r\n")
first = s.recv(4096).decode()
s.sendall(b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
s.settimeout(5)
results["relayed-connect"] = status(first) + " | " + status(s.recv(4096).decode())
s.close()
# Inside an allowed plain tunnel, a request for another host.
s = socket.create_connection((host, 3128), 5)
s.sendall(b"CONNECT example.org:80 HTTP/1.1\r\nHost: example.org:80\r\n\r\n")
s.recv(4096)
s.sendall(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
s.settimeout(5)
results["tunnel-host"] = status(s.recv(4096).decode())
s.close()
# SNI that is not the CONNECT host.
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection((host, 3128), 5)
s.sendall(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
s.recv(4096)
try:
    ctx.wrap_socket(s, server_hostname="evil.example")
    results["sni-mismatch"] = "handshake completed"
except ssl.SSLError as e:
    results["sni-mismatch"] = "refused: " + e.reason
# The transparent port dialled directly: judged by Host alone, no more than a redirected one.
results["direct-ok"] = status(raw(3129, b"GET /direct HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n"))
results["direct-evil"] = status(raw(3129, b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n"))
# One transparent connection, a second request for another host.
s = socket.create_connection((host, 3129), 5)
s.sendall(b"GET /first HTTP/1.1\r\nHost: example.org\r\n\r\n")
s.settimeout(5)
first = b""
while not first.endswith(b"scheme http\n"):
    first += s.recv(4096)
s.sendall(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
results["switch-host"] = status(s.recv(4096).decode())
s.close()
# Neither TLS nor HTTP on the transparent port.
results["garbage"] = status(raw(3129, b"\x00\x01\x02 not a protocol\r\n\r\n"))
for k in sorted(results):
    print("%s=%s" % (k, results[k]))
PY
)"
  for t in uri-host ip-decimal ip-hex ip-octal ip-short ip-dotted ip-v6 connect-ip cl-te cl-cl te-gzip two-hosts garbage \
           connection-cl connection-host; do
    expect_contains "$tricks" "$t=HTTP/1.1 400" "$MODE: trick $t refused"
  done
  expect_contains "$tricks" "relayed-connect=HTTP/1.1 200 Connection established | HTTP/1.1 400" "$MODE: relayed CONNECT refused"
  expect_contains "$tricks" "sni-mismatch=refused: TLSV1_ALERT_ACCESS_DENIED" "$MODE: SNI not the CONNECT host"
  expect_contains "$tricks" "tunnel-host=HTTP/1.1 403" "$MODE: another host inside an allowed plain tunnel"
  expect_contains "$tricks" "direct-ok=HTTP/1.1 200" "$MODE: transparent port dialled directly, allowed Host"
  expect_contains "$tricks" "direct-evil=HTTP/1.1 403" "$MODE: transparent port dialled directly, unlisted Host"
  expect_contains "$tricks" "switch-host=HTTP/1.1 403" "$MODE: second request for another host on one connection"
  expect_eq "$(evil_seen)" "" "$MODE: no origin saw a byte for a refused name"
  grep -q -e " / " -e smuggled "$FI_DIR/http.log" && fail "$MODE: a refused request reached an origin: $(cat "$FI_DIR/http.log")"

  # Bodies stream both ways; chunked uploads too; HEAD; WebSocket upgrades pass through.
  head -c 3000000 /dev/urandom > "$KM_HOME/body"
  want="3000000 $(sha256sum "$KM_HOME/body" | cut -c1-64)"
  expect_eq "$(km exec "$SB" -- curl -sS -m 20 --data-binary @- http://example.org/post < "$KM_HOME/body")" "$want" "$MODE: POST body"
  expect_eq "$(km exec "$SB" -- curl -sS -m 20 -H 'Transfer-Encoding: chunked' --data-binary @- http://example.org/post < "$KM_HOME/body")" "$want" "$MODE: chunked POST body"
  expect_contains "$(in_sb curl -sS -m 10 -I http://example.org/head)" "Content-Length: 53" "$MODE: HEAD"
  ws="$(py <<'PY'
import socket
s = socket.create_connection(("example.org", 80), 5)
s.sendall(b"GET /ws HTTP/1.1\r\nHost: example.org\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n")
s.settimeout(5)
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
s.sendall(b"ping through the upgrade")
print(head.split(b"\r\n")[0].decode(), s.recv(100).decode())
PY
)"
  expect_eq "$ws" "HTTP/1.1 101 Switching Protocols ping through the upgrade" "$MODE: WebSocket upgrade"

  # A server closing an idle kept connection: the next request goes out on a fresh one.
  expect_eq "$(py "$HOST_END" <<'PY'
import http.client, sys, time
c = http.client.HTTPConnection(sys.argv[1], 3128, timeout=5)
out = []
for path in ("/idle-close", "/after-idle"):
    c.request("GET", "http://example.org" + path)
    r = c.getresponse(); r.read(); out.append(str(r.status))
    time.sleep(0.6)
print(" ".join(out))
PY
)" "200 200" "$MODE: a request after the server closed the kept connection"

  # Server-sent events arrive one by one, as sent (0.3 s apart), not batched.
  arrivals="$(py <<'PY'
import time, urllib.request
r = urllib.request.urlopen("http://example.org/sse")
for line in r:
    if line.startswith(b"data:"):
        print("%.3f %s" % (time.time(), line.decode().split()[2]))
PY
)"
  expect_eq "$(wc -l <<<"$arrivals")" "5" "$MODE: five events"
  python3 - "$arrivals" <<'PY' || fail "$MODE: events were batched or delayed: $arrivals"
import sys
rows = [tuple(map(float, l.split())) for l in sys.argv[1].splitlines() if l.strip()]
for got, sent in rows:
    assert got - sent < 0.2, (got, sent)
gaps = [b[0] - a[0] for a, b in zip(rows, rows[1:])]
assert min(gaps) > 0.2, gaps
PY

  # A 1 GiB download streams through with the supervisor's memory flat.
  sup="$(pgrep -f "km-supervise --home $KM_HOME $SB" | head -1)"
  [ -n "$sup" ] || fail "$MODE: no supervisor"
  rss() { awk '/VmRSS/ {print $2}' "/proc/$sup/status"; }
  base="$(rss)"; peak="$base"
  in_sb curl -sS -m 120 -o /dev/null -w '%{size_download}\n' "http://example.org/bytes?n=1073741824" > "$KM_HOME/dl" &
  dl=$!
  while kill -0 $dl 2>/dev/null; do now="$(rss)"; [ "$now" -gt "$peak" ] && peak=$now; sleep 0.2; done
  wait $dl || fail "$MODE: the download failed"
  expect_eq "$(cat "$KM_HOME/dl")" "1073741824" "$MODE: 1 GiB arrived"
  # Flat: a release build grows by under 1 MiB (docs/benchmarks.md); under ASan, whose
  # quarantine keeps freed memory a while, by some tens of MiB — a body held whole would be 1 GiB.
  [ $((peak - base)) -lt 65536 ] || fail "$MODE: supervisor RSS grew from $base to $peak KiB during a 1 GiB download"

  km destroy --yes "$SB" >/dev/null
done

# httpsOnly: plain HTTP refused with its reason; HTTPS goes through.
HTTPS_ONLY=true net_profile "$KM_HOME/net.yaml" net-https ks proxy "[]" "[example.org]"
SB="$(km create "$KM_HOME/net.yaml")"
km exec --root "$SB" -- sh -c "cat > $CA" < "$FI_DIR/ca.pem"
out="$(in_sb curl -sS -m 10 -i http://example.org/ || true)"
expect_contains "$out" "HTTP/1.1 403" "httpsOnly refuses plain HTTP"
expect_contains "$out" "X-Km-Deny-Reason: plain HTTP is refused (spec.network.httpsOnly)" "httpsOnly says why"
expect_eq "$(in_sb curl -sS -m 10 --cacert $CA https://example.org/)" "hello from 203.0.113.30 host example.org scheme https" "httpsOnly allows HTTPS"
km destroy --yes "$SB" >/dev/null

expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: proxy"
