#!/usr/bin/env bash
# TLS interception with real clients inside a sandbox against the fake internet, in `proxy`
# and `both` modes. The profile has an AI budget (the AI provider's host is intercepted, to be
# metered) and a GitHub repo allowlist (GitHub's hosts are intercepted, to filter repos); the
# origins' certificates come from the fake internet's CA, which only the proxy trusts
# (operator config tls.extraCAFile). Clients trust the sandbox's CA through the environment
# alone; other allowed TLS stays a tunnel with the origin's own certificate.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up
cat >> "$KM_HOME/config.yaml" <<YAML
ai:
  endpoints:
    - {host: badcert.anthropic.com, provider: anthropic}
YAML

py() { km exec "$SB" -- python3 - "$@"; }
in_sb() { km exec "$SB" -- "$@"; }
evil_seen() { grep -h -e "203.0.113.66" -e "evil" "$FI_DIR/conn.log" "$FI_DIR/http.log" "$FI_DIR/https.log" || true; }
FAKE_CA=/etc/fake-internet-ca.pem

for MODE in proxy both; do
  cat > "$KM_HOME/ai.yaml" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: ai-$MODE, prefix: ki}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  budget:
    ai: {maxSpendUSD: 5}
  sourceAccess:
    mode: allowlist
    github: {allowedRepos: [o/r], allowedRefs: [main]}
  network:
    enforcement: $MODE
    egress:
      allowedDNSSuffixes: []
      allowedHosts: [github.com, example.org]
YAML
  SB="$(km create "$KM_HOME/ai.yaml")"
  LOG="$KM_HOME/sandboxes/$SB/network.log"
  : > "$FI_DIR/conn.log"; : > "$FI_DIR/http.log"; : > "$FI_DIR/https.log"

  # The CA: its key stays on the host (0600, in the sandbox's directory km hides inside); the
  # certificate is in the sandbox's trust store and the environment names it.
  [ "$(stat -c %a "$KM_HOME/sandboxes/$SB/ca/ca.key")" = 600 ] || fail "$MODE: the CA key is not 0600"
  ca_cn="$(openssl x509 -in "$KM_HOME/sandboxes/$SB/ca/ca.pem" -noout -subject -nameopt sep_multiline | sed -n 's/^ *CN=//p')"
  expect_contains "$ca_cn" "km sandbox CA " "$MODE: the CA says what it is"
  # Made ahead: the pool of spares was topped up again once km create had exited, and the
  # spare this sandbox took is gone from it.
  for _ in $(seq 200); do [ "$(ls "$KM_HOME/ca-pool" 2>/dev/null | grep -c '^spare-')" -ge 2 ] && break; sleep 0.05; done
  expect_eq "$(ls "$KM_HOME/ca-pool" | grep -c '^spare-')" 2 "$MODE: the CA pool is full again"
  expect_eq "$(stat -c %a "$KM_HOME/ca-pool")" 700 "$MODE: the CA pool is private"
  for spare in "$KM_HOME"/ca-pool/spare-*; do
    [ "$(cmp -s "$spare/ca.pem" "$KM_HOME/sandboxes/$SB/ca/ca.pem" && echo same)" = "" ] || fail "$MODE: the sandbox's CA is still a spare"
  done
  expect_eq "$(km exec --root "$SB" -- sh -c 'grep -rl "PRIVATE KEY" /etc /root /tmp /home 2>/dev/null' || true)" "" "$MODE: no private key inside"
  env_out="$(in_sb env)"
  for v in SSL_CERT_FILE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE GIT_SSL_CAINFO; do
    expect_contains "$env_out" "$v=/etc/km/ca-bundle.pem" "$MODE: $v"
  done
  expect_contains "$env_out" "NODE_EXTRA_CA_CERTS=/etc/km/ca.pem" "$MODE: NODE_EXTRA_CA_CERTS"
  expect_eq "$(in_sb cat /etc/km/ca.pem)" "$(cat "$KM_HOME/sandboxes/$SB/ca/ca.pem")" "$MODE: the CA inside is the sandbox's"
  expect_contains "$(in_sb cat /etc/ssl/certs/ca-certificates.crt)" "$(sed -n 2p "$KM_HOME/sandboxes/$SB/ca/ca.pem")" "$MODE: the OS store trusts it too"
  expect_eq "$(in_sb readlink /etc/km/ca-bundle.pem)" /etc/ssl/certs/ca-certificates.crt "$MODE: the bundle is the OS store"
  expect_eq "$(cat /etc/ssl/certs/ca-certificates.crt | grep -c "$(sed -n 2p "$KM_HOME/sandboxes/$SB/ca/ca.pem")")" 0 "$MODE: the host's own store is untouched"
  # A rebuild of the OS store (a ca-certificates update) keeps the CA: it is an anchor too.
  km exec --root "$SB" -- update-ca-certificates >/dev/null 2>&1 || fail "$MODE: update-ca-certificates"
  expect_contains "$(in_sb cat /etc/ssl/certs/ca-certificates.crt)" "$(sed -n 2p "$KM_HOME/sandboxes/$SB/ca/ca.pem")" "$MODE: the rebuilt OS store keeps it"

  # Intercepted: the client sees the sandbox CA's leaf; the origin got the request over the
  # proxy's own verified TLS. curl (explicit CONNECT and transparent), python, node, git.
  out="$(in_sb curl -sS -m 10 -v https://api.anthropic.com/v1/messages?key=secret 2>&1)"
  expect_contains "$out" "hello from 203.0.113.10 host api.anthropic.com scheme https" "$MODE: curl through CONNECT, intercepted"
  expect_contains "$out" "issuer: O=km; CN=$ca_cn" "$MODE: the leaf is the sandbox CA's"
  expect_contains "$out" "ALPN: server accepted http/1.1" "$MODE: ALPN http/1.1 to the client"
  out="$(in_sb curl -sS -m 10 -v --http2 --noproxy '*' https://api.anthropic.com/t 2>&1)"
  expect_contains "$out" "hello from 203.0.113.10 host api.anthropic.com scheme https" "$MODE: curl on the transparent port, intercepted"
  expect_contains "$out" "issuer: O=km; CN=$ca_cn" "$MODE: transparent leaf"
  expect_contains "$(in_sb sh -c 'unset SSL_CERT_FILE CURL_CA_BUNDLE; curl -sS -m 10 https://api.anthropic.com/os-store' 2>&1)" \
    "scheme https" "$MODE: the OS store alone is enough"
  expect_contains "$(py <<<'import urllib.request; print(urllib.request.urlopen("https://api.anthropic.com/py").read().decode())')" \
    "host api.anthropic.com scheme https" "$MODE: python urllib (proxy env, CA from env)"
  if in_sb sh -c 'command -v node' >/dev/null 2>&1; then  # fetch ignores HTTP_PROXY: transparent
    expect_contains "$(in_sb node -e 'fetch("https://api.anthropic.com/node").then(r=>r.text()).then(t=>console.log(t)).catch(e=>console.log("ERR",e.cause||e))')" \
      "host api.anthropic.com scheme https" "$MODE: node fetch with NODE_EXTRA_CA_CERTS"
  else
    echo "note: no node on this host; node fetch not tried"
  fi
  in_sb git ls-remote https://github.com/o/r >/dev/null 2>&1 || true
  expect_contains "$(cat "$FI_DIR/https.log")" "github.com /o/r/info/refs?service=git-upload-pack" "$MODE: git through the intercepted github.com"
  expect_log '"layer":"http"' '"listener":"explicit"' '"method":"CONNECT"' '"host":"api.anthropic.com"' '"mode":"intercept"'
  expect_log '"layer":"http"' '"method":"GET"' '"host":"api.anthropic.com"' '"path":"/v1/messages"' '"mode":"intercept"' '"status":200' '"decision":"allow"'
  expect_log '"layer":"http"' '"listener":"transparent"' '"method":"GET"' '"path":"/t"' '"mode":"intercept"'
  expect_log '"layer":"http"' '"method":"GET"' '"host":"github.com"' '"path":"/o/r/info/refs"' '"mode":"intercept"'
  grep -q "key=secret" "$LOG" && fail "$MODE: a query string was logged"
  # Other allowed TLS is tunnelled untouched: the origin's own certificate reaches the client.
  km exec --root "$SB" -- sh -c "cat > $FAKE_CA" < "$FI_DIR/ca.pem"
  out="$(in_sb curl -sS -m 10 -v --cacert $FAKE_CA https://example.org/tunnel 2>&1)"
  expect_contains "$out" "host example.org scheme https" "$MODE: example.org tunnelled"
  expect_contains "$out" "issuer: CN=fake-internet-ca" "$MODE: the origin's certificate, untouched"
  expect_log '"layer":"http"' '"method":"CONNECT"' '"host":"example.org"' '"mode":"tunnel"'

  # Inside intercepted TLS every request's Host must be the TLS name; a relayed CONNECT, a
  # second request for another host on the same connection, garbage: refused, no byte out.
  : > "$FI_DIR/conn.log"; : > "$FI_DIR/http.log"; : > "$FI_DIR/https.log"
  out="$(in_sb curl -sS -m 10 -i -H 'Host: evil.example' https://api.anthropic.com/ 2>&1 || true)"
  expect_contains "$out" "HTTP/1.1 403" "$MODE: Host not the TLS name"
  expect_contains "$out" "X-Km-Deny-Reason: Host evil.example:443 does not match the TLS server name api.anthropic.com:443" "$MODE: says why"
  tricks="$(py <<'PY'
import socket, ssl
ctx = ssl.create_default_context()
def conn():
    s = socket.create_connection(("api.anthropic.com", 443), 5)
    return ctx.wrap_socket(s, server_hostname="api.anthropic.com")
def answer(t):
    data = b""
    t.settimeout(5)
    try:
        while b"\r\n\r\n" not in data:
            chunk = t.recv(4096)
            if not chunk: break
            data += chunk
    except OSError as e:
        return "error %s" % e
    head = data.split(b"\r\n\r\n")[0]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length": length = int(v)
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    while len(body) < length:
        chunk = t.recv(4096)
        if not chunk: break
        body += chunk
    return data.split(b"\r\n")[0].decode()
t = conn()
t.sendall(b"GET /first HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n")
first = answer(t)
t.sendall(b"GET /second HTTP/1.1\r\nHost: evil.example\r\n\r\n")
print("switch-host=%s | %s" % (first, answer(t)))
t = conn()
t.sendall(b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
print("relayed-connect=%s" % answer(t))
t = conn()
t.sendall(b"GET http://evil.example/ HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n")
print("absolute-uri=%s" % answer(t))
t = conn()
t.sendall(b"POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
print("cl-te=%s" % answer(t))
t = conn()
t.sendall(b"\x16\x03\x01garbage\r\n\r\n")
print("garbage=%s" % answer(t))
PY
)"
  expect_contains "$tricks" "switch-host=HTTP/1.1 200 OK | HTTP/1.1 403" "$MODE: another Host on an intercepted connection"
  expect_contains "$tricks" "relayed-connect=HTTP/1.1 400" "$MODE: CONNECT inside intercepted TLS"
  expect_contains "$tricks" "absolute-uri=HTTP/1.1 400" "$MODE: absolute URI naming another host"
  expect_contains "$tricks" "cl-te=HTTP/1.1 400" "$MODE: ambiguous framing"
  expect_contains "$tricks" "garbage=HTTP/1.1 400" "$MODE: garbage"
  expect_eq "$(evil_seen)" "" "$MODE: no origin saw a byte for a refused name"
  grep -q -e "/second" "$FI_DIR/https.log" && fail "$MODE: a refused request reached the origin"

  # The proxy verifies servers: a certificate without the name is refused with the reason.
  out="$(in_sb curl -sS -m 10 -i https://badcert.anthropic.com/ 2>&1 || true)"
  expect_contains "$out" "HTTP/1.1 502" "$MODE: server certificate not for the name"
  expect_contains "$out" "its certificate failed verification: hostname mismatch" "$MODE: says why"
  grep -q "/badcert" "$FI_DIR/https.log" && fail "$MODE: a request went to a server that failed verification"

  # Bodies stream both ways through intercepted TLS; SSE event by event; WebSocket upgrades.
  # (Writes and upgrades go to github.com, intercepted too: the AI host meters its POSTs and
  # refuses what it cannot meter, which metering_test covers.)
  head -c 3000000 /dev/urandom > "$KM_HOME/body"
  want="3000000 $(sha256sum "$KM_HOME/body" | cut -c1-64)"
  expect_eq "$(km exec "$SB" -- curl -sS -m 20 --data-binary @- https://github.com/post < "$KM_HOME/body")" "$want" "$MODE: POST body, intercepted"
  expect_eq "$(km exec "$SB" -- curl -sS -m 20 -H 'Transfer-Encoding: chunked' --data-binary @- https://github.com/post < "$KM_HOME/body")" "$want" "$MODE: chunked POST body, intercepted"
  expect_eq "$(in_sb curl -sS -m 60 -o /dev/null -w '%{size_download}' "https://api.anthropic.com/bytes?n=67108864")" "67108864" "$MODE: 64 MiB download, intercepted"
  arrivals="$(py <<'PY'
import time, urllib.request
r = urllib.request.urlopen("https://api.anthropic.com/sse")
for line in r:
    if line.startswith(b"data:"):
        print("%.3f %s" % (time.time(), line.decode().split()[2]))
PY
)"
  expect_eq "$(wc -l <<<"$arrivals")" "5" "$MODE: five events"
  python3 - "$arrivals" <<'PY' || fail "$MODE: intercepted events were batched or delayed: $arrivals"
import sys
rows = [tuple(map(float, l.split())) for l in sys.argv[1].splitlines() if l.strip()]
for got, sent in rows:
    assert got - sent < 0.2, (got, sent)
gaps = [b[0] - a[0] for a, b in zip(rows, rows[1:])]
assert min(gaps) > 0.2, gaps
PY
  ws="$(py <<'PY'
import socket, ssl
s = ssl.create_default_context().wrap_socket(socket.create_connection(("github.com", 443), 5), server_hostname="github.com")
s.sendall(b"GET /ws HTTP/1.1\r\nHost: github.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n")
s.settimeout(5)
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
s.sendall(b"ping through the upgrade")
print(head.split(b"\r\n")[0].decode(), s.recv(100).decode())
PY
)"
  expect_eq "$ws" "HTTP/1.1 101 Switching Protocols ping through the upgrade" "$MODE: WebSocket upgrade inside intercepted TLS"

  # A server closing an idle kept connection: the client's next request on its own kept
  # connection goes to the server on a fresh one (not a 502).
  expect_eq "$(py <<'PY'
import socket, ssl, time
t = ssl.create_default_context().wrap_socket(socket.create_connection(("api.anthropic.com", 443), 5), server_hostname="api.anthropic.com")
out = []
for path in ("/idle-close", "/after-idle"):
    t.sendall(b"GET %s HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n" % path.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += t.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < n:
        body += t.recv(4096)
    out.append(head.split(b"\r\n")[0].decode().split()[1])
    time.sleep(0.6)
print(" ".join(out))
PY
)" "200 200" "$MODE: a request after the server closed the kept connection"

  # Session resumption on both sides: the client's second connection resumes with the proxy,
  # and the proxy's second connection to the origin resumes with it.
  : > "$FI_DIR/conn.log"
  resumed="$(py <<'PY'
import socket, ssl
ctx = ssl.create_default_context()
session = None
out = []
for path in ("/r1", "/r2"):
    s = ctx.wrap_socket(socket.create_connection(("api.anthropic.com", 443), 5), server_hostname="api.anthropic.com", session=session)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: api.anthropic.com\r\nConnection: close\r\n\r\n" % path.encode())
    while s.recv(4096):
        pass
    out.append("reused" if s.session_reused else "new")
    session = s.session
    s.close()
print(" ".join(out))
PY
)"
  expect_eq "$resumed" "new reused" "$MODE: the client resumes its TLS session with the proxy"
  expect_contains "$(grep 203.0.113.10 "$FI_DIR/conn.log" | tail -1)" "reused=yes" "$MODE: the proxy resumes its TLS session with the origin"

  if [ "$MODE" = proxy ]; then
    # A clone trusts its own CA only: its first start drops the CA its source added to the
    # store (and its source's source's), and adds its own.
    ca_line() { sed -n 2p "$KM_HOME/sandboxes/$1/ca/ca.pem"; }
    CL1="$(km clone "$SB")"
    CL2="$(km clone "$CL1")"
    store2="$(km exec "$CL2" -- cat /etc/ssl/certs/ca-certificates.crt)"
    expect_contains "$store2" "$(ca_line "$CL2")" "$MODE: a clone's store has its own CA"
    for gone in "$SB" "$CL1"; do
      case "$store2" in *"$(ca_line "$gone")"*) fail "$MODE: a clone's store still trusts the CA of $gone";; esac
    done
    expect_eq "$(printf '%s\n' "$store2" | grep -c '^# km sandbox CA')" "1" "$MODE: one CA added by km in a clone's store"
    expect_eq "$(km exec "$CL2" -- sh -c 'grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt')" \
      "$(km exec "$SB" -- sh -c 'grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt')" "$MODE: a clone's store is its source's, one CA swapped"
    km destroy --yes "$CL2" >/dev/null
    km destroy --yes "$CL1" >/dev/null
    # A source that turned the store into a link out of its root filesystem (here to /proc)
    # gets a clone that fails to start, naming the file; nothing is written through the link.
    km exec --root "$SB" -- sh -c 'cp /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/kept.crt; ln -sf /proc/1/environ /etc/ssl/certs/ca-certificates.crt'
    out="$(km clone "$SB" 2>&1)" && fail "$MODE: a clone of a sandbox whose store links to /proc started: $out"
    expect_contains "$out" "ca-certificates.crt leads (by a symbolic link) onto another mount" "$MODE: the failed clone names the store and why"
    # A link to a file of the root outside /etc (a set-uid program) is not written through.
    km exec --root "$SB" -- sh -c 'ln -sf /usr/bin/passwd /etc/ssl/certs/ca-certificates.crt'
    out="$(km clone "$SB" 2>&1)" && fail "$MODE: a clone of a sandbox whose store links to /usr/bin/passwd started: $out"
    expect_contains "$out" "leads to /usr/bin/passwd, outside /etc" "$MODE: a store leading out of /etc is refused"
    # Something in the way of the store's new copy is named.
    km exec --root "$SB" -- sh -c 'rm /etc/ssl/certs/ca-certificates.crt; cp /etc/ssl/certs/kept.crt /etc/ssl/certs/ca-certificates.crt; mkdir -p /etc/ssl/certs/.ca-certificates.crt.km-tmp/x'
    out="$(km clone "$SB" 2>&1)" && fail "$MODE: a clone with a directory at the store's temporary name started: $out"
    expect_contains "$out" "/etc/ssl/certs/.ca-certificates.crt.km-tmp is in the way" "$MODE: the temporary name in the way is named"
    # A store replaced by a plain set-uid file is extended: the clone trusts its own CA, and
    # its copy of the store has no set-id bit.
    km exec --root "$SB" -- sh -c 'rm -r /etc/ssl/certs/.ca-certificates.crt.km-tmp /etc/ssl/certs/ca-certificates.crt; echo "# left by the source" > /etc/ssl/certs/ca-certificates.crt; chmod 4755 /etc/ssl/certs/ca-certificates.crt'
    CL="$(km clone "$SB")"
    expect_contains "$(km exec "$CL" -- cat /etc/ssl/certs/ca-certificates.crt)" "$(ca_line "$CL")" "$MODE: the clone's store has the clone's CA"
    expect_eq "$(km exec "$CL" -- stat -c %a /etc/ssl/certs/ca-certificates.crt)" "755" "$MODE: the clone's store lost the set-uid bit"
    [ "$(cmp -s "$KM_HOME/sandboxes/$CL/ca/ca.pem" "$KM_HOME/sandboxes/$SB/ca/ca.pem" && echo same)" = "" ] || fail "$MODE: the clone shares its source's CA"
    km destroy --yes "$CL" >/dev/null
  fi

  km destroy --yes "$SB" >/dev/null
  [ -e "$KM_HOME/sandboxes/$SB" ] && fail "$MODE: the sandbox's directory (and its CA key) outlived destroy"
done

expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: intercept"
