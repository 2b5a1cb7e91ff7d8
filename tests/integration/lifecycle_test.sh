#!/usr/bin/env bash
# Every lifecycle command and its refusals: stop/resume keep files, pause freezes, lock
# refuses destroy/stop/pause, extend moves the deadline, clone copies files, references by
# alias and number, and TTL/idle expiry with each teardownPolicy (locked sandboxes skipped).
source "$(dirname "$0")/lib.sh" "$@"
P="$FIXTURES/local-test.yaml"
a="$(km create --alias alpha "$P")"
expect_eq "$(km status --json '#1' | json_field id)" "$a" "#1 resolves"
expect_eq "$(km status --json 1 | json_field id)" "$a" "1 resolves"
expect_eq "$(km status --json alpha | json_field id)" "$a" "alias resolves"
expect_fail km create --alias alpha "$P"      # alias taken
expect_fail km status nope

# stop keeps files; resume brings the sandbox back with them.
km exec alpha -- sh -c 'echo kept > /workspace/file; echo upper > /home/sandbox/h'
km stop alpha >/dev/null
expect_eq "$(km status --json alpha | json_field status)" stopped "stopped"
expect_eq "$(km status --json alpha | json_field init.alive)" False "no processes when stopped"
expect_fail km exec alpha -- true
out="$(km exec "$a" -- true 2>&1 || true)"     # by id: the no-database path agrees
expect_contains "$out" "is stopped" "exec by id of a stopped sandbox"
km resume alpha >/dev/null
expect_eq "$(km exec "$a" -- cat /workspace/file)" kept "exec by id after resume"
expect_eq "$(km exec alpha -- cat /workspace/file)" kept "workspace kept across stop"
expect_eq "$(km exec alpha -- cat /home/sandbox/h)" upper "home kept across stop"
expect_eq "$(km exec alpha -- cat /var/km-init-marker)" init-ran "overlay kept across stop"
# Each stop reaps the init it ended: no zombies pile up under the supervisor.
for _ in 1 2 3; do km stop alpha >/dev/null; km resume alpha >/dev/null; done
sup="$(km status --json alpha | json_field supervisor.pid)"
expect_eq "$(ps --ppid "$sup" -o stat= | grep -c '^Z' || true)" 0 "no defunct init under the supervisor after stop/resume"

# pause freezes (memory kept), resume thaws; exec refuses while paused.
km exec alpha -- sh -c 'sleep 1000 >/dev/null 2>&1 &'
pid_before="$(km exec alpha -- pgrep -o sleep)"
km pause alpha >/dev/null
expect_eq "$(km status --json alpha | json_field status)" paused "paused"
expect_fail km exec alpha -- true
out="$(km exec "$a" -- true 2>&1 || true)"
expect_contains "$out" "paused" "exec by id of a paused sandbox"
km resume alpha >/dev/null
expect_eq "$(km exec alpha -- pgrep -o sleep)" "$pid_before" "process kept across pause"

# lock refuses destroy, stop and pause; unlock allows them again.
km lock alpha >/dev/null
for cmd in "destroy --yes" stop pause; do
  out="$(km $cmd alpha 2>&1 || true)"
  expect_contains "$out" "locked" "locked refuses $cmd"
done
expect_eq "$(km status --json alpha | json_field status)" running "still running while locked"
km list | grep -q "🔒" || fail "km list marks locked rows"
km unlock alpha >/dev/null

# extend: only with a deadline; moves it later.
expect_fail km extend alpha 1h           # ttl 0 never expires
b="$(km create --ttl 1h --alias beta "$P")"
t1="$(km status --json beta | json_field ttlExpiry)"
km extend beta 2h >/dev/null
t2="$(km status --json beta | json_field ttlExpiry)"
[[ "$t2" > "$t1" ]] || fail "extend did not move the deadline ($t1 → $t2)"
expect_fail km extend beta nonsense

# clone copies the upper dir and workspace; count and alias suffixes.
out="$(km clone alpha --alias twin --count 2)"
expect_eq "$(echo "$out" | wc -l)" 2 "two clones"
expect_eq "$(km exec twin-1 -- cat /workspace/file)" kept "clone has the workspace"
expect_eq "$(km exec twin-2 -- cat /var/km-init-marker)" init-ran "clone has the overlay"
expect_eq "$(km status --json twin-1 | json_field clonedFrom)" "$a" "cloned from"
km exec twin-1 -- sh -c 'echo mine > /workspace/file'
expect_eq "$(km exec alpha -- cat /workspace/file)" kept "clone writes do not reach the source"
# --no-copy: the source's profile, an empty disk.
fresh="$(km clone alpha --no-copy)"
expect_fail km exec "$fresh" -- test -e /workspace/file
expect_eq "$(km exec "$fresh" -- cat /var/km-init-marker)" init-ran "a --no-copy clone ran its init commands"
expect_eq "$(km status --json "$fresh" | json_field clonedFrom)" "$a" "--no-copy clone records its source"
km destroy --yes "$fresh" >/dev/null

# TTL expiry: destroy policy removes the sandbox without any CLI running.
c="$(km create --ttl 2s --idle 1s "$P")"
for _ in $(seq 1 60); do km status "$c" >/dev/null 2>&1 || break; sleep 0.1; done
expect_fail km status "$c"
[ ! -d "$KM_HOME/sandboxes/$c" ] || fail "TTL destroy left files"

# A locked sandbox is skipped by the TTL trigger. The lock must come first: on a loaded
# machine (tests run side by side) a create and a lock have taken over 5 s, and the TTL (or
# the idle timeout, which also destroys) won that race; both grow until the lock wins it.
for pair in "5 1" "15 3" "40 8"; do
  read -r ttl idle <<<"$pair"
  d="$(km create --ttl ${ttl}s --idle ${idle}s --alias locked-one "$P")"
  locked_at=$(date +%s%N)
  if km lock locked-one >/dev/null 2>&1; then break; fi
  km destroy --yes "$d" >/dev/null 2>&1 || true
done
sleep "$(python3 -c "import sys, time; print(max(0.0, $ttl + 1.5 - (time.time_ns() - $locked_at) / 1e9))")"
expect_eq "$(km status --json locked-one | json_field status)" running "locked sandbox survives its TTL"
km unlock locked-one >/dev/null
# Unlocked, its idle timeout (policy destroy) applies again.
for _ in $(seq 1 $((idle * 10 + 50))); do km status locked-one >/dev/null 2>&1 || break; sleep 0.1; done
expect_fail km status locked-one

# Idle timeout with teardownPolicy stop: an idle sandbox is stopped, not destroyed.
stop_profile="$KM_HOME/stop.yaml"
sed 's/teardownPolicy: destroy/teardownPolicy: stop/' "$P" > "$stop_profile"
e="$(km create --idle 2s --alias idler "$stop_profile")"
wait_status idler 8 stopped
expect_eq "$(km status --json idler | json_field status)" stopped "idle → stopped"

# Activity keeps a sandbox alive past its idle timeout.
f="$(km create --idle 2s --alias busy "$stop_profile")"
km exec busy -- timeout 4 sh -c 'while :; do :; done' &
sleep 3
expect_eq "$(km status --json busy | json_field status)" running "busy sandbox is not idle"
wait || true

for x in alpha beta twin-1 twin-2 idler busy; do km destroy --yes "$x" >/dev/null; done
expect_eq "$(ids | wc -l)" 0 "all destroyed"
echo "PASS: lifecycle"
