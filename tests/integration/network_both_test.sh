#!/usr/bin/env bash
# Network policy, enforcement: both — eBPF is the gatekeeper, and every TCP connection to
# ports 80 and 443 of an allowed address (and to any port of hosts the proxy must see: AI
# providers, GitHub) is rewritten to the transparent proxy on the host end, which learns
# where it was going from the eBPF map by the client socket's cookie (sock_diag) and checks
# the name again (Host, SNI). Other ports go direct; the rest is refused as in ebpf mode.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up

HTTPS_ONLY=false net_profile "$KM_HOME/net.yaml" net-both kb both "[.anthropic.com, example.org]" "[github.com]"
SB="$(km create "$KM_HOME/net.yaml")"
LOG="$KM_HOME/sandboxes/$SB/network.log"
in_sb() { km exec "$SB" -- "$@"; }
# Web ports of every allowed name go through the proxy, which knows where they were going.
expect_eq "$(in_sb curl -s -m 5 --noproxy '*' http://api.anthropic.com/)" "hello from 203.0.113.10 host api.anthropic.com scheme http" \
  "api.anthropic.com through the transparent proxy"
expect_eq "$(in_sb curl -s -m 5 --noproxy '*' http://example.org/)" "hello from 203.0.113.30 host example.org scheme http" \
  "every allowed name's port 80 goes through the proxy too"
expect_log '"dest":"203.0.113.10","port":80,"protocol":"tcp","name":"api.anthropic.com","decision":"redirect","reason":"sent to the transparent proxy'
expect_log '"dest":"203.0.113.30","port":80,"protocol":"tcp","name":"example.org","decision":"redirect"'
expect_log '"layer":"http"' '"listener":"transparent"' '"host":"example.org"' '"dest":"203.0.113.30:80"' '"decision":"allow"'
# A host the proxy must see, on another port: still the proxy, with the original port kept.
# The profile filters GitHub (sourceAccess allowlist), which the proxy does over HTTPS only,
# so it refuses GitHub in clear text itself (403), never sending it on.
expect_eq "$(in_sb curl -s -m 5 --noproxy '*' -o /dev/null -w '%{http_code}' http://github.com:8080/x)" "403" \
  "github.com:8080 goes to the proxy"
expect_log '"layer":"http"' '"listener":"transparent"' '"host":"github.com"' '"port":8080' 'GitHub in clear text'
# The fronting this closes: an allowed address, a Host the policy refuses.
expect_eq "$(in_sb curl -s -m 5 --noproxy '*' -o /dev/null -w '%{http_code}' --resolve evil.example:80:203.0.113.30 http://evil.example/)" "403" \
  "an unlisted Host on an allowed address is refused"
# Everything else as in ebpf mode: a hard-coded unresolved address is refused by the kernel.
if in_sb curl -s -m 3 --noproxy '*' http://203.0.113.66/ >/dev/null 2>&1; then fail "hard-coded address should be refused"; fi
grep -q "evil" "$FI_DIR/http.log" && fail "a refused Host reached a server"

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: network_both"
