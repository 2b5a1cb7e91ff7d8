#!/usr/bin/env bash
# Network policy, enforcement: both — eBPF is the gatekeeper, and connections to hosts the
# HTTP proxy must see (AI providers, GitHub) are rewritten to the transparent proxy port on
# the host end, their original destination kept in pinned maps the proxy reads back (here
# a stand-in proxy reads them with bpftool, by the peer port of the connection it accepted).
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
standin=""
extra_cleanup() {
  [ -n "$standin" ] && kill "$standin" 2>/dev/null
  fake_internet_down
}
before="$(kernel_snapshot)"
fake_internet_up

net_profile "$KM_HOME/net.yaml" net-both kb both "[.anthropic.com, example.org]" "[github.com]"
SB="$(km create "$KM_HOME/net.yaml")"
LOG="$KM_HOME/sandboxes/$SB/network.log"
HOST_END="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostAddress"])' "$KM_HOME/sandboxes/$SB/net.json")"
PINS="/sys/fs/bpf/km/$(km_home_tag)-$SB"
in_sb() { km exec "$SB" -- "$@"; }

python3 -u -c '
import json, socket, struct, subprocess, sys
pins = sys.argv[2]
def lookup(map_name, key):
    out = subprocess.run(["bpftool", "-j", "map", "lookup", "pinned", pins + "/" + map_name, "key", "hex"] +
                         ["%02x" % b for b in key], capture_output=True, text=True).stdout
    return bytes(int(x, 16) for x in json.loads(out)["value"])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 3129)); s.listen(16); print("ready", flush=True)
while True:
    c, peer = s.accept(); data = c.recv(4096)
    cookie = lookup("portcookie", struct.pack("<I", peer[1]))
    orig = lookup("orig", cookie)
    ip = socket.inet_ntoa(orig[:4]); port = struct.unpack("<H", orig[16:18])[0]
    host = [l for l in data.decode().split("\r\n") if l.lower().startswith("host:")][0]
    open(sys.argv[3], "a").write("%s:%d %s\n" % (ip, port, host))
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nproxied\n"); c.close()
' "$HOST_END" "$PINS" "$KM_HOME/proxy.log" > "$KM_HOME/standin.out" 2>&1 &
standin=$!
for _ in $(seq 1 50); do grep -q ready "$KM_HOME/standin.out" && break; sleep 0.1; done

# AI provider and GitHub: through the proxy, which learns where they were going.
expect_eq "$(in_sb curl -s -m 5 http://api.anthropic.com/)" "proxied" "api.anthropic.com goes to the proxy"
expect_eq "$(in_sb curl -s -m 5 http://github.com:8080/x)" "proxied" "github.com (any port) goes to the proxy"
expect_contains "$(cat "$KM_HOME/proxy.log")" "203.0.113.10:80 Host: api.anthropic.com" "original destination read back by peer port"
expect_contains "$(cat "$KM_HOME/proxy.log")" "203.0.113.20:8080 Host: github.com:8080" "original port kept too"
# Other allowed names go direct; the rest is refused as in ebpf mode.
expect_contains "$(in_sb curl -s -m 5 http://example.org/)" "hello from" "a name the proxy need not see goes direct"
expect_contains "$(cat "$FI_DIR/http.log")" "example.org" "direct request reached the server"
if in_sb curl -s -m 3 http://203.0.113.66/ >/dev/null 2>&1; then fail "hard-coded address should be refused"; fi
grep -q "api.anthropic.com" "$FI_DIR/http.log" && fail "a proxied host was reached directly"
expect_log '"dest":"203.0.113.10","port":80,"protocol":"tcp","name":"api.anthropic.com","decision":"redirect","reason":"sent to the transparent proxy'

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: network_both"
