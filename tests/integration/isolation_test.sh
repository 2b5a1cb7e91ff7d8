#!/usr/bin/env bash
# A local sandbox is isolated: writes stay in its overlay, it sees only its own processes,
# hostname and mounts, has no capabilities, seccomp refuses escapes, and its network is
# loopback only. Exec passes stdin/stdout and exit codes through.
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
[ -f "$KM_HOME/sandboxes/$id/upper/etc/km-isolation-probe" ] || fail "write not in the upper dir"
expect_eq "$(km exec iso -- cat /etc/km-isolation-probe)" sandboxed "sandbox sees its own write"
host_passwd_sum="$(sha256sum /etc/passwd)"
expect_eq "$(sha256sum /etc/passwd)" "$host_passwd_sum" "host /etc/passwd unchanged"
expect_fail km exec iso -- sh -c 'echo x > /etc/km-user-write'   # the sandbox user cannot write /etc

# Identity: hostname is the id; an unprivileged uid with no capabilities at all.
expect_eq "$(km exec iso -- hostname)" "$id" "hostname"
uid="$(km exec iso -- id -u)"
[ "$uid" -ge 60000 ] || fail "sandbox uid $uid should be an unused high id"
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
  expect_contains "$out" "Operation not permitted" "seccomp refuses: $cmd"
done

# Processes: PID 1 is km's init, and no host process is visible.
expect_eq "$(km exec iso -- cat /proc/1/comm)" km-init "pid 1"
nproc_inside="$(km exec iso -- sh -c 'ls /proc | grep -c "^[0-9]"')"
[ "$nproc_inside" -le 5 ] || fail "sandbox sees $nproc_inside processes (host processes leak in?)"
# The host cannot see the sandbox's mounts; the sandbox cannot see the host's km state.
grep -q "$KM_HOME/sandboxes/$id/root" /proc/self/mountinfo && fail "sandbox overlay visible on the host"
expect_eq "$(km exec --root iso -- sh -c "ls -A $KM_HOME | wc -l")" 0 "KM_HOME hidden inside"
km exec iso -- sh -c 'ls /home' | grep -qv '^sandbox$' && fail "host homes visible in /home"

# Network: loopback only.
ifaces="$(km exec iso -- sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "')"
expect_eq "$ifaces" lo "only loopback"
python3 -m http.server 0 --bind 127.0.0.1 >/dev/null 2>&1 &
srv=$!
sleep 0.5
port="$(ss -ltnpH 2>/dev/null | grep "pid=$srv," | awk '{print $4}' | sed 's/.*://' | head -1)"
if [ -n "$port" ]; then
  expect_fail km exec iso -- bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
fi
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
