#!/usr/bin/env bash
# Network policy, enforcement: proxy, against the fake internet (fake_internet.sh). nftables
# in the sandbox send DNS to km's resolver and web traffic to the transparent proxy port on
# the host end (the proxy itself: proxy_test.sh), and refuse everything else.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up

HTTPS_ONLY=false net_profile "$KM_HOME/net.yaml" net-proxy kp proxy "[.anthropic.com]" "[github.com]"
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

# DNS: allowed names resolve through km's resolver, others are NXDOMAIN.
expect_eq "$(in_sb dig +time=2 +tries=1 +short api.anthropic.com)" "203.0.113.10" "allowed by suffix"
expect_eq "$(in_sb dig +time=2 +tries=1 +short github.com)" "203.0.113.20" "allowed host"
expect_contains "$(in_sb dig +time=2 +tries=1 evil.example 2>&1 || true)" "status: NXDOMAIN" "unlisted name"
expect_contains "$(cat "$LOG")" '"name":"evil.example","type":"A","decision":"deny"' "DNS refusals are logged"

for who in in_sb as_root; do
  : > "$FI_DIR/conn.log"
  # Web traffic goes to the proxy, never straight out — by name or by hard-coded address
  # (which the proxy refuses: it goes by names).
  expect_eq "$($who curl -s -m 5 --noproxy '*' http://api.anthropic.com/)" "hello from 203.0.113.10 host api.anthropic.com scheme http" \
    "HTTP by name goes through the transparent proxy ($who)"
  expect_eq "$($who curl -s -m 5 --noproxy '*' -o /dev/null -w '%{http_code}' http://203.0.113.66/)" "400" \
    "a hard-coded address only reaches the proxy ($who)"
  expect_log '"layer":"http"' '"listener":"transparent"' '"host":"api.anthropic.com"' '"decision":"allow"'
  expect_eq "$(grep 203.0.113.66 "$FI_DIR/conn.log" || true)" "" "no connection went straight to a server ($who)"
  # Everything else is refused at once.
  refused $who "other TCP port" python3 -c 'import socket; socket.create_connection(("203.0.113.10", 22), 3)'
  refused $who "DoT" python3 -c 'import socket; socket.create_connection(("198.51.100.99", 853), 3)'
  refused $who "IPv6 literal" curl -s -m 3 --noproxy "*" "http://[2001:db8::10]/"
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
