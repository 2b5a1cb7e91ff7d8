#!/usr/bin/env bash
# Every sandbox has a uid of its own (issue 11, item 6), claimed host-wide from km's range and
# released on destroy: per-user kernel limits are not shared. An inotify hog in one sandbox
# (all 128 instances of its user) leaves another sandbox's inotify_init working.
source "$(dirname "$0")/lib.sh" "$@"
before="$(kernel_snapshot)"
A="$(km create "$FIXTURES/local-test.yaml")"
B="$(km create "$FIXTURES/local-test.yaml")"
ua="$(km exec "$A" -- id -u)"; ub="$(km exec "$B" -- id -u)"
[ "$ua" != "$ub" ] || fail "two sandboxes share uid $ua"
for u in "$ua" "$ub"; do
  [ "$u" -ge $((0x4B4D0000)) ] && [ "$u" -lt $((0x4B4E0000)) ] || fail "uid $u is outside km's range"
  ! getent passwd "$u" >/dev/null || fail "uid $u belongs to a host account"
done
home="$(cd "$KM_HOME" && pwd)"
expect_eq "$(cat "/var/lib/km-uids/$ua")" "$home	$A" "the claim names the home and sandbox"
expect_eq "$(km exec "$A" -- id -g)" "$ua" "the group is the sandbox's own too"

limit="$(cat /proc/sys/fs/inotify/max_user_instances)"
km exec "$A" -- python3 -c '
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while libc.inotify_init() >= 0: n += 1
if os.fork() == 0:
    os.setsid(); time.sleep(60); os._exit(0)
print(n)' > "$KM_HOME/hog.out"
[ "$(cat "$KM_HOME/hog.out")" -ge $((limit - 2)) ] || fail "the hog took $(cat "$KM_HOME/hog.out") of $limit instances"
expect_fail km exec "$A" -- python3 -c 'import ctypes, sys; sys.exit(ctypes.CDLL(None).inotify_init() < 0)'
km exec "$B" -- python3 -c 'import ctypes, sys; sys.exit(ctypes.CDLL(None).inotify_init() < 0)' \
  || fail "inotify_init fails in another sandbox while the first one hogs its instances"

km destroy --yes "$A" >/dev/null
[ ! -e "/var/lib/km-uids/$ua" ] || fail "destroy releases the uid"
# A claim left behind (a crash between steps) is found and released by doctor.
echo "$home	kt-0ld0ld00" > "/var/lib/km-uids/$((0x4B4DFFFF))"
expect_contains "$(km doctor || true)" "kt-0ld0ld00" "doctor finds a stale uid claim"
km doctor --fix >/dev/null || true
[ ! -e "/var/lib/km-uids/$((0x4B4DFFFF))" ] || fail "doctor --fix releases the stale claim"
km destroy --yes "$B" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroy"
echo "PASS: uids"
