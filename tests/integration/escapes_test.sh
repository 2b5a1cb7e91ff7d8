#!/usr/bin/env bash
# Text from a sandbox never reaches the operator's terminal raw (issue 11, item 7): a
# process named "\e[2J\e[31mPWN\a", DNS names with control bytes and init output with
# escape sequences are shown escaped by km logs and in km's error messages.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up
net_profile "$KM_HOME/net.yaml" esc ke ebpf "[anthropic.com]" "[github.com]"
SB="$(km create "$KM_HOME/net.yaml")"
km exec "$SB" -- python3 -c '
import ctypes, socket
ctypes.CDLL(None).prctl(15, b"\x1b[2J\x1b[31mPWN\x07", 0, 0, 0)
s = socket.socket(); s.settimeout(2)
try: s.connect(("203.0.113.66", 80))
except OSError: pass
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x08\x1b[31mPWN" + b"\x07example\x00\x00\x01\x00\x01"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
u.sendto(q, (ns, 53))
try: u.recv(512)
except OSError: pass' || true
sleep 1
out="$(km logs "$SB" --network)"
grep -q $'\x1b' <<<"$out" && fail "an escape byte reached km logs' output"
grep -q $'\x07' <<<"$out" && fail "a bell reached km logs' output"
expect_contains "$out" '\x1b[2J\x1b[31mPWN\x07' "the process name is shown escaped"
expect_contains "$out" '\x1b[31mPWN' "the DNS name is shown escaped"
km destroy --yes "$SB" >/dev/null

# Init output in a failed create's message, and in km logs --init.
cat > "$KM_HOME/bad.yaml" <<'YAML'
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: esc-init, prefix: ke}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  execution:
    initCommands:
      - "printf '\\033]0;owned\\007\\033[2Jdone\\n'; exit 3"
YAML
err="$(km create "$KM_HOME/bad.yaml" 2>&1 >/dev/null || true)"
expect_contains "$err" "init command 1 failed" "the failing init command is reported"
grep -q $'\x1b' <<<"$err" && fail "init output reached the terminal raw in the error"
expect_contains "$err" '\x1b]0;owned\x07' "… shown escaped"
expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: escapes"
