#!/usr/bin/env bash
# Network policy, enforcement: proxy, against the fake internet (fake_internet.sh). nftables
# in the sandbox send DNS to km's resolver and web traffic to the proxy port on the host end
# (here a stand-in listener records what arrives), and refuse everything else.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
standin=""
extra_cleanup() {
  [ -n "$standin" ] && kill "$standin" 2>/dev/null
  fake_internet_down
}
before="$(kernel_snapshot)"
fake_internet_up

net_profile "$KM_HOME/net.yaml" net-proxy kp proxy "[.anthropic.com]" "[github.com]"
SB="$(km create "$KM_HOME/net.yaml")"
LOG="$KM_HOME/sandboxes/$SB/network.log"
INIT="$(cut -d' ' -f1 "$KM_HOME/sandboxes/$SB/init")"
HOST_END="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostAddress"])' "$KM_HOME/sandboxes/$SB/net.json")"
in_sb() { km exec "$SB" -- "$@"; }
as_root() { km exec --root "$SB" -- "$@"; }
refused() {
  local who="$1" desc="$2"; shift 2
  if "$who" "$@" >/dev/null 2>&1; then fail "$desc: expected refusal ($who)"; fi
}

# A stand-in for the proxy on the host end's proxy port: records each connection.
python3 -u -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 3129)); s.listen(16); print("ready", flush=True)
while True:
    c, a = s.accept(); data = c.recv(4096)
    open(sys.argv[2], "a").write(data.split(b"\r\n")[0].decode() + " | " + [l for l in data.decode().split("\r\n") if l.lower().startswith("host:")][0] + "\n")
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nproxied\n"); c.close()
' "$HOST_END" "$KM_HOME/proxy.log" > "$KM_HOME/standin.out" 2>&1 &
standin=$!
for _ in $(seq 1 50); do grep -q ready "$KM_HOME/standin.out" && break; sleep 0.1; done

# DNS: allowed names resolve through km's resolver, others are NXDOMAIN.
expect_eq "$(in_sb dig +time=2 +tries=1 +short api.anthropic.com)" "203.0.113.10" "allowed by suffix"
expect_eq "$(in_sb dig +time=2 +tries=1 +short github.com)" "203.0.113.20" "allowed host"
expect_contains "$(in_sb dig +time=2 +tries=1 evil.example 2>&1 || true)" "status: NXDOMAIN" "unlisted name"
expect_contains "$(cat "$LOG")" '"name":"evil.example","type":"A","decision":"deny"' "DNS refusals are logged"

for who in in_sb as_root; do
  : > "$FI_DIR/http.log"; : > "$KM_HOME/proxy.log"
  # Web traffic goes to the proxy, never straight out — by name or by hard-coded address.
  expect_eq "$($who curl -s -m 5 http://api.anthropic.com/)" "proxied" "HTTP by name reaches the proxy ($who)"
  expect_eq "$($who curl -s -m 5 http://203.0.113.66/)" "proxied" "a hard-coded address also only reaches the proxy ($who)"
  expect_contains "$(cat "$KM_HOME/proxy.log")" "Host: api.anthropic.com" "the proxy saw the request ($who)"
  expect_eq "$(cat "$FI_DIR/http.log")" "" "no request went straight to a server ($who)"
  # Everything else is refused at once.
  refused $who "other TCP port" python3 -c 'import socket; socket.create_connection(("203.0.113.10", 22), 3)'
  refused $who "DoT" python3 -c 'import socket; socket.create_connection(("198.51.100.99", 853), 3)'
  refused $who "IPv6 literal" curl -s -m 3 "http://[2001:db8::10]/"
  $who python3 -c 'import socket; u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"x", ("203.0.113.10", 9999)); u.sendto(b"x", ("203.0.113.10", 9999))' >/dev/null 2>&1 || true
  refused $who "raw socket" python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)'
  # DNS aimed at a rogue resolver is answered by km's (UDP and TCP).
  expect_contains "$($who dig +time=2 +tries=1 @198.51.100.99 evil.example 2>&1 || true)" "status: NXDOMAIN" "rogue DNS over UDP answered by km ($who)"
  expect_contains "$($who dig +time=2 +tries=1 +tcp @198.51.100.99 evil.example 2>&1 || true)" "status: NXDOMAIN" "rogue DNS over TCP answered by km ($who)"
done
nsenter -t "$INIT" -n sysctl -q -w net.ipv4.ping_group_range="0 2147483647"
refused in_sb "ICMP echo" python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); s.settimeout(2); s.sendto(b"\x08\x00\x00\x00\x00\x01\x00\x01km", ("203.0.113.10", 0)); s.recv(64)'
expect_eq "$(cat "$FI_DIR/rogue.log")" "" "nothing reached the rogue resolver"
expect_eq "$(cat "$FI_DIR/dot.log")" "" "no DoT connection got through"
expect_eq "$(cat "$FI_DIR/udp.log")" "" "no UDP datagram got through"
# Refusals and redirects are in the network log (from nftables' NFLOG; no pid in this mode).
expect_log '"layer":"connect"' '"dest":"203.0.113.10"' '"port":22' '"decision":"deny"'
expect_log '"dest":"198.51.100.99"' '"port":853' '"decision":"deny"'
expect_log '"dest":"203.0.113.10"' '"port":9999' '"protocol":"udp"' '"decision":"deny"'
expect_log '"dest":"203.0.113.10"' '"protocol":"icmp"' '"decision":"deny"'
expect_log '"dest":"203.0.113.66"' '"port":80' '"decision":"redirect"' 'proxy'
expect_log '"dest":"203.0.113.10"' '"port":80' '"name":"api.anthropic.com"' '"decision":"redirect"'
expect_log '"dest":"198.51.100.99"' '"port":53' '"decision":"redirect"' 'resolver'
expect_log "\"uid\":$(in_sb id -u)" '"decision":"deny"'
# Names resolving into guarded ranges are refused by the resolver in this mode too.
expect_contains "$(in_sb dig +time=2 +tries=1 meta.anthropic.com 2>&1 || true)" "status: NXDOMAIN" "metadata rebinding"

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: network_proxy"
