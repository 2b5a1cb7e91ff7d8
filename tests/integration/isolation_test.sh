#!/usr/bin/env bash
# A local sandbox is isolated: writes stay in its overlay, it sees only its own processes,
# hostname and mounts, has no capabilities, seccomp refuses escapes, and its network is its
# own (loopback and a veth whose host end serves DNS only). Exec passes stdin/stdout and exit codes through.
source "$(dirname "$0")/lib.sh" "$@"
before="$(kernel_snapshot)"

id="$(km create --alias iso "$FIXTURES/local-test.yaml")"
[[ "$id" =~ ^kt-[0-9a-f]{8}$ ]] || fail "id format: $id"
expect_eq "$(km status --json iso | json_field status)" running "status after create"

# initCommands ran as root at create; configFiles were written; env reaches commands.
expect_eq "$(km exec iso -- cat /var/km-init-marker)" init-ran "init command marker"
expect_eq "$(km exec iso -- cat /etc/km-test.conf)" configured "config file"
expect_eq "$(km exec iso -- stat -c %U /home/sandbox/.km-test/settings.json)" sandbox "config file owner"
expect_eq "$(km exec iso -- sh -c 'echo $KM_TEST_ENV')" hello "profile env"
expect_eq "$(km exec --env X=1 iso -- sh -c 'echo $X')" 1 "--env"

# Files: writes land in the sandbox's upper dir, never on the host.
km exec --root iso -- sh -c 'echo sandboxed > /etc/km-isolation-probe; rm -f /etc/hostname.km-none'
[ ! -e /etc/km-isolation-probe ] || fail "a sandbox write reached the host's /etc"
[ -f "$KM_HOME/disk/$id/upper/etc/km-isolation-probe" ] || fail "write not in the upper dir"
expect_eq "$(km exec iso -- cat /etc/km-isolation-probe)" sandboxed "sandbox sees its own write"
host_passwd_sum="$(sha256sum /etc/passwd)"
expect_eq "$(sha256sum /etc/passwd)" "$host_passwd_sum" "host /etc/passwd unchanged"
expect_fail km exec iso -- sh -c 'echo x > /etc/km-user-write'   # the sandbox user cannot write /etc

# Identity: hostname is the id; an unprivileged uid with no capabilities at all.
expect_eq "$(km exec iso -- hostname)" "$id" "hostname"
uid="$(km exec iso -- id -u)"
[ "$uid" -ge $((0x4B4D0000)) ] && [ "$uid" -lt $((0x4B4E0000)) ] || fail "sandbox uid $uid should come from km's range"
expect_eq "$(km exec iso -- id -un)" sandbox "user name"
expect_eq "$(km exec iso -- sh -c 'grep CapEff /proc/self/status | tr -s "\t" " "')" "CapEff: 0000000000000000" "no effective caps"
expect_eq "$(km exec iso -- sh -c 'grep CapBnd /proc/self/status | tr -s "\t" " "')" "CapBnd: 0000000000000000" "empty bounding set"
expect_eq "$(km exec iso -- sh -c 'grep NoNewPrivs /proc/self/status | tr -s "\t" " "')" "NoNewPrivs: 1" "no_new_privs"
expect_eq "$(km exec iso -- sh -c 'grep ^Seccomp: /proc/self/status | tr -s "\t" " "')" "Seccomp: 2" "seccomp filter"
root_caps="$(km exec --root iso -- sh -c 'grep CapEff /proc/self/status | tr -s "\t" " "')"
[ "$root_caps" != "CapEff: 000001ffffffffff" ] || fail "--root must not have every capability"
expect_eq "$(km exec --root iso -- id -u)" 0 "--root uid"

# Seccomp refuses escapes even for root.
for cmd in "unshare --user true" "unshare --mount true" "mount -t tmpfs none /mnt" "nsenter -t 1 -m true"; do
  out="$(km exec --root iso -- $cmd 2>&1 || true)"
  grep -qiE "not permitted|permission denied" <<<"$out" || fail "seccomp refuses $cmd: got $out"
done
# Calls an unprivileged process may normally make are refused by the filter itself.
out="$(km exec iso -- python3 -c 'import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for name, nr in (("unshare", 272), ("ptrace", 101), ("keyctl", 250), ("bpf", 321)):
    rc = libc.syscall(nr, 0x10000000 if name == "unshare" else 0, 0, 0, 0)
    print(name, rc, os.strerror(ctypes.get_errno()))')"
expect_contains "$out" "unshare -1 Operation not permitted" "seccomp: unshare(CLONE_NEWUSER)"
expect_contains "$out" "ptrace -1 Operation not permitted" "seccomp: ptrace"
expect_contains "$out" "keyctl -1 Operation not permitted" "seccomp: keyctl"
expect_contains "$out" "bpf -1 Operation not permitted" "seccomp: bpf"

# Processes: PID 1 is km's init, and no host process is visible.
expect_eq "$(km exec iso -- cat /proc/1/comm)" km-init "pid 1"
nproc_inside="$(km exec iso -- sh -c 'ls /proc | grep -c "^[0-9]"')"
[ "$nproc_inside" -le 5 ] || fail "sandbox sees $nproc_inside processes (host processes leak in?)"
# The host cannot see the sandbox's mounts; the sandbox cannot see the host's km state.
if grep -q "$KM_HOME/sandboxes/$id/root" /proc/self/mountinfo; then fail "sandbox overlay visible on the host"; fi
km exec --root iso -- test ! -e "$KM_HOME/fleet.db" || fail "KM_HOME visible inside"
expect_eq "$(km exec iso -- ls /home)" sandbox "only the sandbox user's home in /home"

# Network: loopback and the sandbox's own veth end (policy: network_*_test.sh).
ifaces="$(km exec iso -- sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\n" " "')"
expect_eq "$ifaces" "eth0 lo " "loopback and eth0 only"
python3 -c 'import socket, time
s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(20)' > "$KM_HOME/port" &
srv=$!
for _ in $(seq 1 50); do [ -s "$KM_HOME/port" ] && break; sleep 0.1; done
port="$(cat "$KM_HOME/port")"
bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || fail "control: the host reaches its own listener"
expect_fail km exec iso -- bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
# The host end of the veth serves DNS only: a host service on all addresses stays out of reach.
host_end="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostAddress"])' "$KM_HOME/sandboxes/$id/net.json")"
expect_fail km exec iso -- bash -c "exec 3<>/dev/tcp/$host_end/$port"
expect_fail km exec --root iso -- bash -c "exec 3<>/dev/tcp/$host_end/$port"
kill $srv 2>/dev/null || true

# Exec: stdin in, stdout out, exit codes and signals propagated; unknown command → 127.
expect_eq "$(echo piped | km exec iso -- cat)" piped "stdin passthrough"
set +e
km exec iso -- sh -c 'exit 7'; rc=$?
km exec iso -- sh -c 'kill -TERM $$'; sig=$?
km exec iso -- /no/such/command 2>/dev/null; nf=$?
set -e
expect_eq "$rc" 7 "exit code"
expect_eq "$sig" 143 "signal exit code"
expect_eq "$nf" 127 "command not found"

km destroy --yes iso >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroy"
echo "PASS: isolation"
