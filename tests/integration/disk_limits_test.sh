#!/usr/bin/env bash
# Disk and logs are bounded (issue 11, item 5): a sandbox's writes past its disk size fail
# inside (EDQUOT) in its workspace, home and overlay alike, an inode flood stops at the same
# limit, and the host's disk is spared; the additional volume has its own limit; the
# network log is rotated and capped under a DNS flood, whose CPU cost is charged to the
# sandbox; init.log is capped.
source "$(dirname "$0")/lib.sh" "$@"
before="$(kernel_snapshot)"
cat > "$KM_HOME/config.yaml" <<'YAML'
disk:
  size: 2Gi
logs:
  maxFileSize: 1Mi
  maxFiles: 3
YAML
cat > "$KM_HOME/small.yaml" <<'YAML'
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: small-disk
  prefix: kd
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime:
    substrate: local
    rootVolumeSize: 20
    resources: {cpus: 0.5, memory: 256Mi, pids: 256, disk: 64Mi}
    additionalVolume: {size: 1, mountPoint: /data}
  execution:
    initCommands:
      - "python3 -c 'import sys; sys.stdout.write((\"x\" * 1023 + \"\\n\") * 20000)'"
YAML
SB="$(km create "$KM_HOME/small.yaml")"
expect_contains "$(km status "$SB")" "64 MiB (quota), from spec.runtime.resources.disk" "km status shows the disk limit"
expect_contains "$(km doctor || true)" "btrfs store" "doctor names the disk store"

for where in /workspace /home/sandbox; do
  out="$(km exec "$SB" -- dd if=/dev/zero of="$where/big" bs=1M count=200 2>&1 || true)"
  expect_contains "$out" "Disk quota exceeded" "a write past the limit fails in $where"
  km exec "$SB" -- rm -f "$where/big"
done
out="$(km exec --root "$SB" -- dd if=/dev/zero of=/var/big bs=1M count=200 2>&1 || true)"
expect_contains "$out" "Disk quota exceeded" "a write past the limit fails in the overlay"
km exec --root "$SB" -- rm -f /var/big
# Inodes count too: 200k empty files cannot all be made.
out="$(km exec "$SB" -- python3 -c '
import os, errno
os.mkdir("/workspace/many")
for i in range(200000):
    try:
        open("/workspace/many/%d" % i, "w").close()
    except OSError as e:
        print("stopped", i, errno.errorcode[e.errno]); break
else:
    print("all 200000")')"
expect_contains "$out" "stopped" "an inode flood stops"
expect_contains "$out" "EDQUOT" "… at the disk limit"
km exec "$SB" -- rm -rf /workspace/many
expect_eq "$(km exec "$SB" -- sh -c 'echo ok > /workspace/after; cat /workspace/after')" ok "the sandbox writes again once it freed space"

# The additional volume: mounted, the user's, a limit of its own (1 GiB).
expect_eq "$(km exec "$SB" -- stat -c %u /data)" "$(km exec "$SB" -- id -u)" "/data belongs to the sandbox user"
km exec "$SB" -- dd if=/dev/zero of=/data/f bs=1M count=100 2>/dev/null || fail "/data takes 100 MiB beyond the root disk's 64 MiB"
expect_contains "$(btrfs qgroup show -re "$KM_HOME/disk" 2>/dev/null)" "1.00GiB" "the volume's quota is 1 GiB"

# init.log is capped at 16 MiB (the init command printed 20 MiB).
size="$(stat -c %s "$KM_HOME/sandboxes/$SB/init.log")"
[ "$size" -le $(( (16 << 20) + 4096 )) ] || fail "init.log is $size bytes"
expect_contains "$(tail -c 200 "$KM_HOME/sandboxes/$SB/init.log")" "dropped" "init.log says what it dropped"

# A DNS flood for 5 s from the 0.5-CPU sandbox: the network log stays within 3 x 1 MiB, and
# the sandbox and its supervisor together use at most its 0.5 CPU.
cg_usage() {  # total CPU ns of the sandbox's cgroup directory (both leaves)
  local f; f="$(cg_file "$SB" cpuacct.usage .)"
  if [ -n "$f" ]; then cat "$f"; else echo $(( $(awk '/usage_usec/ {print $2}' "$(cg_file "$SB" cpu.stat .)") * 1000 )); fi
}
sup_usage() {
  local f; f="$(cg_file "$SB" cpuacct.usage supervisor)"
  if [ -n "$f" ]; then cat "$f"; else echo $(( $(awk '/usage_usec/ {print $2}' "$(cg_file "$SB" cpu.stat supervisor)") * 1000 )); fi
}
u0="$(cg_usage)"; s0="$(sup_usage)"; t0="$(date +%s%N)"
km exec "$SB" -- python3 -c '
import socket, time, struct, random
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False)
end = time.time() + 5; n = 0
while time.time() < end:
    q = struct.pack(">HHHHHH", random.randrange(65536), 0x100, 1, 0, 0, 0) + b"\x05flood\x07example\x00\x00\x01\x00\x01"
    try: s.sendto(q, (ns, 53)); n += 1
    except BlockingIOError: pass
    try:
        while True: s.recv(512)
    except BlockingIOError: pass
print(n)' > "$KM_HOME/flood.out"
t1="$(date +%s%N)"; u1="$(cg_usage)"; s1="$(sup_usage)"
sleep 1
total=0
for f in "$KM_HOME/sandboxes/$SB"/network.log*; do total=$((total + $(stat -c %s "$f"))); done
[ "$total" -le $((3 << 20)) ] || fail "network logs hold $total bytes (cap 3 MiB)"
[ -e "$KM_HOME/sandboxes/$SB/network.log.1" ] || fail "the flood rotated the network log"
on_disk=0
for f in "$KM_HOME/sandboxes/$SB"/network.log*; do on_disk=$((on_disk + $(grep -c flood.example "$f" || true))); done
expect_eq "$(km logs "$SB" --network --json | grep -c flood.example)" "$on_disk" "km logs reads every rotated file"
wall=$((t1 - t0)); used=$((u1 - u0)); sup=$((s1 - s0))
echo "flood: $(cat "$KM_HOME/flood.out") queries, sandbox+supervisor CPU $((used / 1000000)) ms (supervisor $((sup / 1000000)) ms) in $((wall / 1000000)) ms"
[ "$sup" -gt 0 ] || fail "the supervisor's work is charged to the sandbox's cgroup"
[ "$used" -le $(( wall / 2 * 12 / 10 )) ] || fail "sandbox+supervisor used $used ns in $wall ns (limit 0.5 CPU)"

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroy"
echo "PASS: disk limits"
