# A "fake internet" for the network tests: a network namespace of our own with servers on
# documentation addresses (TEST-NET-2/3, never routed on the real internet), routed from the
# host through a veth. Tests reach it only through km's operator config (dns.upstream) and
# the routes below; nothing aims at a real public address.
#
#   198.51.100.53:53   the DNS upstream km is configured with (tests/fakes/fake_dns.py)
#   198.51.100.99:53   a rogue resolver (answers everything; logs what reaches it)
#   198.51.100.99:853  a DoT port (TCP listener; logs connections)
#   203.0.113.0/24     web servers on :80 and :443 for every address below (fake_web.py: log
#                      every connection and request; certificate for the names below from
#                      the fake internet's CA, $FI_DIR/ca.pem)
#   203.0.113.10 api.anthropic.com   203.0.113.20 github.com   203.0.113.30 example.org
#   203.0.113.20 also api.github.com, raw.githubusercontent.com, codeload.githubusercontent.com
#                (a fake GitHub once a test makes $FI_DIR/github: tests/fakes/fake_github.py)
#   203.0.113.13 api.openai.com      203.0.113.14 bedrock-runtime.us-east-1.amazonaws.com
#   203.0.113.11 (api.anthropic.com's neighbour)   203.0.113.66 evil.example
#   203.0.113.10:9999/udp  a UDP sink (logs datagrams)
#   198.51.100.200     an address of the host itself (hostself.anthropic.com)
#   badcert.anthropic.com → 203.0.113.10, a name its certificate does not carry
#
# Usage (after lib.sh): fake_internet_up; … ; cleanup calls fake_internet_down.
# Sets FI_DIR (logs: dns.log rogue.log http.log https.log conn.log dot.log udp.log) and writes the operator
# config to $KM_HOME/config.yaml (exported as KM_CONFIG): the fake DNS upstream, and the fake
# internet's CA as tls.extraCAFile (the proxy verifies the origins it intercepts against it).

FI_NS="kmfi$$"
FI_IF="fi$$"
FI_DIR=""
FI_PIDS=()

fi_exec() { ip netns exec "$FI_NS" "$@"; }

fake_internet_up() {
  FI_DIR="$KM_HOME/fake-internet"
  mkdir -p "$FI_DIR"
  ip netns add "$FI_NS"
  ip link add "$FI_IF" type veth peer name eth0 netns "$FI_NS"
  ip addr add 172.31.254.1/30 dev "$FI_IF"
  # An address of the host itself in a range the rebinding guard lets through (as a host's
  # public address would be): hostself.anthropic.com resolves to it.
  ip addr add 198.51.100.200/32 dev "$FI_IF"
  ip link set "$FI_IF" up
  fi_exec ip addr add 172.31.254.2/30 dev eth0
  fi_exec ip link set eth0 up
  fi_exec ip link set lo up
  fi_exec ip route add default via 172.31.254.1
  for a in 198.51.100.53 198.51.100.99 203.0.113.10 203.0.113.11 203.0.113.12 203.0.113.13 \
           203.0.113.14 203.0.113.20 203.0.113.30 203.0.113.66; do
    fi_exec ip addr add "$a/32" dev lo
  done
  ip route add 198.51.100.0/24 via 172.31.254.2 dev "$FI_IF"
  ip route add 203.0.113.0/24 via 172.31.254.2 dev "$FI_IF"
  local fakes="$HERE/../fakes"
  fi_exec python3 "$fakes/fake_dns.py" 198.51.100.53 53 \
    api.anthropic.com=203.0.113.10 github.com=203.0.113.20 example.org=203.0.113.30 \
    api.openai.com=203.0.113.13 bedrock-runtime.us-east-1.amazonaws.com=203.0.113.14 \
    evil.example=203.0.113.66 short.anthropic.com=203.0.113.12@2 \
    lo.anthropic.com=127.0.0.1 private.anthropic.com=10.1.2.3 meta.anthropic.com=169.254.169.254 \
    mapped.anthropic.com=::ffff:127.0.0.1 hostself.anthropic.com=198.51.100.200 \
    badcert.anthropic.com=203.0.113.10 api.github.com=203.0.113.20 raw.githubusercontent.com=203.0.113.20 \
    codeload.githubusercontent.com=203.0.113.20 \
    --log "$FI_DIR/dns.log" > "$FI_DIR/dns.out" 2>&1 &
  FI_PIDS+=($!)
  fi_exec python3 "$fakes/fake_dns.py" 198.51.100.99 53 '*.example=203.0.113.66' \
    '*.com=203.0.113.66' --log "$FI_DIR/rogue.log" > "$FI_DIR/rogue.out" 2>&1 &
  FI_PIDS+=($!)
  # A CA of the fake internet and one certificate for its names (the origins' own; a
  # sandbox that tunnels through the proxy checks it against this CA, FI_DIR/ca.pem).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=fake-internet-ca \
    -keyout "$FI_DIR/ca.key" -out "$FI_DIR/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=fake-internet \
    -keyout "$FI_DIR/web.key" -out "$FI_DIR/web.csr" 2>/dev/null
  printf 'subjectAltName=DNS:example.org,DNS:api.anthropic.com,DNS:github.com,DNS:evil.example,DNS:short.anthropic.com,DNS:api.openai.com,DNS:bedrock-runtime.us-east-1.amazonaws.com,DNS:api.github.com,DNS:raw.githubusercontent.com,DNS:codeload.githubusercontent.com\n' \
    > "$FI_DIR/web.ext"
  openssl x509 -req -in "$FI_DIR/web.csr" -CA "$FI_DIR/ca.pem" -CAkey "$FI_DIR/ca.key" -CAcreateserial -days 2 \
    -extfile "$FI_DIR/web.ext" -out "$FI_DIR/web.pem" 2>/dev/null
  fi_exec python3 -u "$fakes/fake_web.py" --logs "$FI_DIR" --cert "$FI_DIR/web.pem" --key "$FI_DIR/web.key" \
    > "$FI_DIR/web.out" 2>&1 &
  FI_PIDS+=($!)
  fi_exec python3 -u -c '
import socket, sys, threading
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("198.51.100.99", 853)); s.listen(8)
    while True:
        c, a = s.accept(); open(sys.argv[1], "a").write("dot %s\n" % a[0]); c.close()
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("203.0.113.10", 9999))
    while True:
        d, a = u.recvfrom(2048); open(sys.argv[2], "a").write("udp %s\n" % a[0])
threading.Thread(target=udp, daemon=True).start()
tcp()
' "$FI_DIR/dot.log" "$FI_DIR/udp.log" > "$FI_DIR/misc.out" 2>&1 &
  FI_PIDS+=($!)
  : > "$FI_DIR/dns.log"; : > "$FI_DIR/rogue.log"; : > "$FI_DIR/http.log"; : > "$FI_DIR/dot.log"; : > "$FI_DIR/udp.log"
  : > "$FI_DIR/https.log"; : > "$FI_DIR/conn.log"
  # Wait (bounded) until the upstream answers.
  for _ in $(seq 1 50); do
    dig +time=1 +tries=1 @198.51.100.53 github.com +short 2>/dev/null | grep -q 203.0.113.20 && break
    sleep 0.1
  done
  for _ in $(seq 1 50); do
    curl -s -m 1 -o /dev/null http://203.0.113.30/ready && break
    sleep 0.1
  done
  for _ in $(seq 1 50); do
    curl -s -m 1 -o /dev/null --cacert "$FI_DIR/ca.pem" --resolve example.org:443:203.0.113.30 \
      https://example.org/ready && break
    sleep 0.1
  done
  : > "$FI_DIR/http.log"; : > "$FI_DIR/dns.log"; : > "$FI_DIR/conn.log"; : > "$FI_DIR/https.log"
  cat > "$KM_HOME/config.yaml" <<YAML
$KM_TEST_DISK_CONFIG
dns:
  upstream: ["198.51.100.53:53"]
tls:
  extraCAFile: $FI_DIR/ca.pem
YAML
  export KM_CONFIG="$KM_HOME/config.yaml"
}

# A line of the sandbox's network log ($LOG, JSON lines) containing all the given substrings.
log_has() {
  local line
  while IFS= read -r line; do
    local all=1
    for want in "$@"; do [[ "$line" == *"$want"* ]] || { all=0; break; }; done
    [ $all = 1 ] && return 0
  done < "$LOG"
  return 1
}
# The supervisor writes allowed connects within 0.2 s (they do not wake it): wait a little.
expect_log() {
  for _ in $(seq 1 20); do log_has "$@" && return 0; sleep 0.1; done
  fail "network log lacks a line with: $* ; log:
$(cat "$LOG")"
}

fake_internet_down() {
  for p in "${FI_PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # Servers started through `ip netns exec` may be grandchildren: end all in the namespace.
  if ip netns pids "$FI_NS" >/dev/null 2>&1; then
    for p in $(ip netns pids "$FI_NS"); do kill -9 "$p" 2>/dev/null || true; done
  fi
  ip link del "$FI_IF" 2>/dev/null || true
  ip netns del "$FI_NS" 2>/dev/null || true
}

# Writes a sandbox profile for the network tests: net_profile FILE NAME PREFIX ENFORCEMENT
# SUFFIXES HOSTS, the last two as YAML flow lists ("[.anthropic.com]", "[github.com]").
net_profile() {
  cat >"$1" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: $2, prefix: $3}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  network:
    enforcement: $4
    httpsOnly: ${HTTPS_ONLY:-true}
    egress:
      allowedDNSSuffixes: $5
      allowedHosts: $6
YAML
}
