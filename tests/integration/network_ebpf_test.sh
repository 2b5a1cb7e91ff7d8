#!/usr/bin/env bash
# Network policy, enforcement: ebpf, against the fake internet (fake_internet.sh).
# Allowed names (by suffix and exact host) work; everything else is refused and logged:
# unlisted names, a neighbour IP, a hard-coded IP, an IPv6 literal, DNS to a rogue resolver
# (UDP and TCP), DoT, UDP elsewhere, ICMP, raw sockets, names resolving to guarded ranges,
# an expired DNS TTL — as the sandbox user and as --root.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up

net_profile "$KM_HOME/net.yaml" net-ebpf ke ebpf "[anthropic.com]" "[github.com, 203.0.113.30]"
SB="$(km create "$KM_HOME/net.yaml")"
LOG="$KM_HOME/sandboxes/$SB/network.log"
INIT="$(cut -d' ' -f1 "$KM_HOME/sandboxes/$SB/init")"
in_sb() { km exec "$SB" -- "$@"; }
as_root() { km exec --root "$SB" -- "$@"; }

# --- allowed -------------------------------------------------------------------------
expect_eq "$(in_sb cat /etc/resolv.conf | grep nameserver | cut -d' ' -f2)" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostAddress"])' "$KM_HOME/sandboxes/$SB/net.json")" "resolv.conf points at the host end"
out="$(in_sb curl -s -m 5 http://api.anthropic.com/)"
expect_contains "$out" "hello from" "allowed by suffix (apex of a dotless suffix entry)"
out="$(in_sb curl -s -m 5 http://github.com/)"
expect_contains "$out" "hello from" "allowed exact host"
expect_log '"layer":"dns"' '"name":"api.anthropic.com"' '"decision":"allow"' '"reason":"anthropic.com"'
expect_log '"layer":"connect"' '"dest":"203.0.113.10"' '"port":80' '"name":"api.anthropic.com"' '"decision":"allow"'

out="$(in_sb curl -s -m 5 http://203.0.113.30/)"
expect_contains "$out" "hello from" "an IP literal in allowedHosts allows that address"

# --- unlisted names ------------------------------------------------------------------
out="$(in_sb dig +time=2 +tries=1 evil.example 2>&1 || true)"
expect_contains "$out" "status: NXDOMAIN" "unlisted name"
expect_log '"name":"evil.example"' '"decision":"deny"' '"rcode":"NXDOMAIN"'
out="$(in_sb dig +time=2 +tries=1 www.github.com 2>&1 || true)"
expect_contains "$out" "status: NXDOMAIN" "an exact host allows no subdomains"
grep -q evil.example "$FI_DIR/dns.log" && fail "a denied name reached the upstream"

refused() {  # refused WHO DESC CMD...: the command must fail
  local who="$1" desc="$2"; shift 2
  if "$who" "$@" >/dev/null 2>&1; then fail "$desc: expected refusal ($who)"; fi
}
for who in in_sb as_root; do
  : > "$FI_DIR/http.log"
  # --- addresses nobody resolved ---------------------------------------------------
  refused $who "neighbour IP" curl -s -m 3 http://203.0.113.11/
  refused $who "hard-coded IP" curl -s -m 3 http://203.0.113.66/
  refused $who "IPv6 literal" curl -s -m 3 "http://[2001:db8::10]/"
  refused $who "DoT" python3 -c 'import socket; socket.create_connection(("198.51.100.99", 853), 3)'
  refused $who "UDP elsewhere" python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("203.0.113.66", 9999))'
  refused $who "raw socket" python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)'
  expect_eq "$(cat "$FI_DIR/http.log")" "" "no refused request reached a server ($who)"
  expect_eq "$(cat "$FI_DIR/dot.log")" "" "no DoT connection got through ($who)"
  # --- DNS to a rogue resolver is answered by ours, never leaked --------------------
  out="$($who dig +time=2 +tries=1 @198.51.100.99 evil.example +tcp 2>&1 || true)"
  expect_contains "$out" "status: NXDOMAIN" "DNS over TCP to another server is answered by km's resolver ($who)"
  out="$($who dig +time=2 +tries=1 @198.51.100.99 api.anthropic.com +tcp +short 2>&1 || true)"
  expect_contains "$out" "203.0.113.10" "and allowed names still resolve the real way ($who)"
  $who dig +time=1 +tries=1 @198.51.100.99 evil.example >/dev/null 2>&1 || true
  expect_eq "$(cat "$FI_DIR/rogue.log")" "" "nothing reached the rogue resolver ($who)"
done
expect_log '"dest":"203.0.113.11"' '"decision":"deny"'
expect_log '"dest":"203.0.113.66"' '"port":80' '"decision":"deny"'
expect_log '"dest":"2001:db8::10"' '"decision":"deny"'
expect_log '"dest":"198.51.100.99"' '"port":853' '"decision":"deny"'
expect_log '"dest":"203.0.113.66"' '"port":9999' '"protocol":"udp"' '"decision":"deny"'
expect_log '"dest":"198.51.100.99"' '"port":53' '"decision":"redirect"'

# --- ICMP -----------------------------------------------------------------------------
# ping itself cannot even start (it needs CAP_NET_RAW, which nobody inside has).
refused in_sb "ping" ping -c 1 -W 2 203.0.113.10
# With ping sockets allowed in the sandbox's namespace only the eBPF egress program stands
# between an echo request and an address the sandbox may otherwise reach.
nsenter -t "$INIT" -n sysctl -q -w net.ipv4.ping_group_range="0 2147483647"
echo_request='import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); s.settimeout(2); s.sendto(b"\x08\x00\x00\x00\x00\x01\x00\x01km", ("203.0.113.10", 0)); s.recv(64)'
refused in_sb "ICMP echo to an allowed address" python3 -c "$echo_request"
refused as_root "ICMP echo as root" python3 -c "$echo_request"
expect_log '"dest":"203.0.113.10"' '"protocol":"icmp"' '"decision":"deny"'

# --- names that resolve into guarded ranges ------------------------------------------
for n in lo private meta mapped; do
  out="$(in_sb dig +time=2 +tries=1 $n.anthropic.com A 2>&1 || true)"
  out6="$(in_sb dig +time=2 +tries=1 $n.anthropic.com AAAA 2>&1 || true)"
  [[ "$out$out6" == *"status: NXDOMAIN"* ]] || fail "$n.anthropic.com should be refused: $out $out6"
done
expect_log '"name":"meta.anthropic.com"' '"decision":"deny"' '169.254.169.254 (cloud metadata)'
expect_log '"name":"private.anthropic.com"' '"decision":"deny"' '10.1.2.3 (private)'
refused in_sb "connect to the metadata address" curl -s -m 3 http://169.254.169.254/
refused in_sb "connect to a private address" curl -s -m 3 http://10.1.2.3/

# --- an expired TTL --------------------------------------------------------------------
out="$(in_sb sh -c 'curl -s -m 5 http://short.anthropic.com/ && sleep 3 && curl -s -m 3 http://203.0.113.12/; echo " rc=$?"')"
expect_contains "$out" "hello from" "allowed while the TTL lasts"
expect_contains "$out" "rc=7" "refused once the 2 s TTL ran out"
expect_log '"dest":"203.0.113.12"' '"decision":"deny"' 'TTL'

# --- km logs --network ------------------------------------------------------------------
expect_eq "$(km --json logs "$SB" --network)" "$(cat "$LOG")" "--json prints the log's JSON lines"
human="$(km logs "$SB" --network)"
expect_contains "$human" "curl[" "human form names the process"
expect_contains "$human" "→ 203.0.113.11:80/tcp: address not handed out" "human form: dest and reason"
expect_contains "$human" "evil.example A NXDOMAIN" "human form: DNS decisions"
followed="$KM_HOME/followed.txt"
km logs "$SB" --network --follow > "$followed" &
follower=$!
sleep 0.5
in_sb curl -s -m 2 http://203.0.113.30/ >/dev/null 2>&1 || true
for _ in $(seq 1 30); do grep -q "203.0.113.30" "$followed" && break; sleep 0.1; done
kill "$follower" 2>/dev/null || true
wait "$follower" 2>/dev/null || true
expect_contains "$(cat "$followed")" "203.0.113.30:80/tcp" "--follow prints new decisions as they happen"
set +e; km logs "$SB" --network --init >/dev/null 2>&1; rc=$?; set -e
expect_eq "$rc" 2 "--network with --init is a usage error"

# --- the supervisor is outside the cgroup; destroy leaves nothing ------------------------
veth="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["veth"])' "$KM_HOME/sandboxes/$SB/net.json")"
km destroy --yes "$SB" >/dev/null
for _ in $(seq 1 30); do
  ip -br link | grep -q "^$veth" || break
  sleep 0.1
done
expect_eq "$(ip -br link | grep -c "^$veth" || true)" "0" "the sandbox veth is gone"
expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: network_ebpf"
