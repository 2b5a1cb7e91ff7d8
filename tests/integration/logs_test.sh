#!/usr/bin/env bash
# km logs: a sandbox's events and its supervisor's log merged in time order (text and
# --json, --follow until destroy); TTL expiry; an OOM kill inside recorded as an event (last in
# km status); a failed create's logs kept where its message says (and pruned); a supervisor
# killed -9 and re-adopted by km doctor --fix shows in the log.
source "$(dirname "$0")/lib.sh" "$@"
P="$FIXTURES/local-test.yaml"
follow_pid=""
extra_cleanup() { [ -z "$follow_pid" ] || kill "$follow_pid" 2>/dev/null || true; }

# The times of km logs' text lines (those that start with one) never go back.
in_time_order() { python3 -c 'import re,sys
times=[m.group(0) for m in (re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", l) for l in sys.stdin) if m]
assert times, "no timed lines"
assert times == sorted(times), "out of order: %r" % times'; }
# Every line of stdin is one JSON object (python3 -m json.tool reads each).
each_line_json() {
  local n=0 line
  while IFS= read -r line; do
    printf '%s\n' "$line" | python3 -m json.tool >/dev/null || fail "not JSON: $line"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || fail "no JSON lines"
}
# Line number of the first line of $1 matching regex $2 (fails when none).
line_of() { local n; n="$(grep -nE -m1 -- "$2" <<<"$1" | cut -d: -f1)"; [ -n "$n" ] || fail "no line matching '$2' in: $1"; echo "$n"; }
# Waits (bounded) until `km logs $1` matches regex $2.
wait_log() {
  for _ in $(seq 1 100); do km logs "$1" 2>/dev/null | grep -qE -- "$2" && return 0; sleep 0.1; done
  fail "km logs $1 never showed '$2': $(km logs "$1" 2>&1)"
}

# --- create, stop, resume: events and supervisor lines, in time order ---------------------
a="$(km create --alias alpha "$P")"
km logs alpha > "$KM_HOME/follow.out" --follow &
follow_pid=$!
km stop alpha >/dev/null
km resume alpha >/dev/null
out="$(km logs alpha)"
echo "$out" | in_time_order || fail "km logs not in time order: $out"
created_ev="$(line_of "$out" 'Z  event    created  init pid')"
created_log="$(line_of "$out" "info     \[km.supervisor\] $a: created, init pid")"
ready_log="$(line_of "$out" "info     \[km.supervisor\] $a: ready, init pid")"
stopped_ev="$(line_of "$out" 'Z  event    stopped  requested')"
stopped_log="$(line_of "$out" "\[km.supervisor\] $a: stopped \(requested\)")"
started_ev="$(line_of "$out" 'Z  event    started  init pid')"
[ "$created_log" -lt "$ready_log" ] && [ "$ready_log" -lt "$stopped_ev" ] && [ "$created_ev" -lt "$stopped_ev" ] &&
  [ "$stopped_ev" -lt "$started_ev" ] && [ "$stopped_log" -lt "$started_ev" ] ||
  fail "create < stop < resume expected in km logs: $out"
km --json logs alpha | each_line_json
kinds="$(km --json logs alpha | python3 -c 'import json,sys
print(" ".join(d["kind"] for d in map(json.loads, sys.stdin) if d["source"] == "event"))')"
expect_contains "$kinds" "created stopped started" "event kinds in --json"
km logs alpha --init --json | each_line_json
expect_eq "$(km logs alpha --init --json | head -1 | json_field line)" '$ echo init-ran > /var/km-init-marker' "--init --json"
# --follow printed the same as it happened, and ends by itself once the sandbox is destroyed.
for _ in $(seq 1 100); do grep -q 'event    started' "$KM_HOME/follow.out" && break; sleep 0.1; done
grep -q 'event    stopped  requested' "$KM_HOME/follow.out" || fail "--follow missed the stop: $(cat "$KM_HOME/follow.out")"
grep -q 'event    started' "$KM_HOME/follow.out" || fail "--follow missed the resume: $(cat "$KM_HOME/follow.out")"
km destroy --yes alpha >/dev/null
for _ in $(seq 1 100); do kill -0 "$follow_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$follow_pid" 2>/dev/null && fail "km logs --follow still running after destroy"
wait "$follow_pid" || fail "km logs --follow failed"
follow_pid=""
grep -q 'event    destroyed  requested' "$KM_HOME/follow.out" || fail "--follow missed the destroy: $(cat "$KM_HOME/follow.out")"
cat "$KM_HOME/follow.out" | in_time_order

# --- TTL expiry (teardownPolicy stop, so the sandbox and its log stay) -------------------
stopper="$KM_HOME/stopper.yaml"
sed 's|teardownPolicy: destroy|teardownPolicy: stop|' "$P" > "$stopper"
t="$(km create --ttl 2s --idle 2s "$stopper")"  # ttl is checked first
wait_status "$t" 30 stopped
out="$(km logs "$t")"
expect_contains "$out" "event    ttl-expired  teardownPolicy stop" "ttl expiry event"
expect_contains "$out" "$t: ttl expired; teardownPolicy stop: stopping" "ttl expiry log line"
[ "$(line_of "$out" 'ttl-expired')" -lt "$(line_of "$out" 'event    stopped  ttl expired')" ] ||
  fail "expiry before its stop: $out"
km destroy --yes "$t" >/dev/null

# --- an OOM kill inside: an event, a warning, the last event of km status ----------------
small="$KM_HOME/small.yaml"
sed 's|memory: 256Mi|memory: 96Mi|' "$P" > "$small"
o="$(km create "$small")"
set +e
km exec "$o" -- python3 -c 'b = bytearray(1 << 30)' >/dev/null 2>&1
rc=$?
set -e
expect_eq "$rc" 137 "the hog was killed"
wait_log "$o" 'event    oom-kill'
out="$(km logs "$o")"
expect_contains "$out" "1 process killed by the OOM killer (1 since start); memory limit 96 MiB" "oom-kill event detail"
expect_contains "$out" "warning  [km.supervisor] $o: oom-kill: 1 process killed" "oom-kill warning"
km --json logs "$o" | each_line_json
expect_eq "$(km --json logs "$o" | python3 -c 'import json,sys
print(sum(1 for d in map(json.loads, sys.stdin) if d.get("kind") == "oom-kill"))')" 1 "one oom-kill object in --json"
expect_eq "$(km exec "$o" -- echo alive)" alive "the sandbox goes on after the OOM kill"
last="$(km status "$o" | tail -1)"
expect_contains "$last" "oom-kill  1 process killed by the OOM killer" "km status: last event"
expect_eq "$(km --json status "$o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recentEvents"][-1]["kind"])')" \
  oom-kill "km --json status: last event"
# A sandbox that OOM-kills its own processes in a loop adds at most one event a minute to the
# host's store: three more kills now are recorded together, at the latest when it stops.
for _ in 1 2 3; do km exec "$o" -- python3 -c 'b = bytearray(1 << 30)' >/dev/null 2>&1 || true; done
sleep 2  # two supervisor ticks: no new event yet
oom_events() { km --json logs "$o" | python3 -c 'import json,sys
print(sum(1 for d in map(json.loads, sys.stdin) if d.get("kind") == "oom-kill"))'; }
expect_eq "$(oom_events)" 1 "further kills within the minute are not an event each"
km stop "$o" >/dev/null
expect_eq "$(oom_events)" 2 "the kills since are recorded when the sandbox stops"
expect_contains "$(km logs "$o")" "3 processes killed by the OOM killer (4 since start)" "the coalesced event counts every kill"
km destroy --yes "$o" >/dev/null

# --- a failed create keeps its logs where the message says; old ones are pruned ----------
mkdir -p "$KM_HOME/failed"
for i in $(seq 1 5); do mkdir "$KM_HOME/failed/aged-$i"; touch -d '8 days ago' "$KM_HOME/failed/aged-$i"; done
for i in $(seq 10 29); do mkdir "$KM_HOME/failed/recent-$i"; touch -d "$((100 - i)) minutes ago" "$KM_HOME/failed/recent-$i"; done
failing="$KM_HOME/failing.yaml"
marker="marker-$$-$RANDOM"
sed "s|      - \"echo init-ran > /var/km-init-marker\"|      - \"echo $marker; exit 3\"|" "$P" > "$failing"
set +e; out="$(km create "$failing" 2>&1)"; rc=$?; set -e
expect_eq "$rc" 1 "failing init command exit code"
expect_contains "$out" "init command 1 failed (exit 3)" "names the command"
kept="$(grep -oE -- "last lines of $KM_HOME/failed/kt-[0-9a-f]{8}/init.log" <<<"$out" | head -1 | sed 's/^last lines of //')"
[ -n "$kept" ] || fail "the message names no kept init.log: $out"
[ -f "$kept" ] || fail "$kept does not exist"
grep -q "$marker" "$kept" || fail "$kept lacks the init command's output"
sup_log="$(dirname "$kept")/supervisor.log"
[ -f "$sup_log" ] || fail "$sup_log was not kept"
grep -q "create failed" "$sup_log" || fail "the kept supervisor log says nothing of the failure: $(cat "$sup_log")"
expect_eq "$(ids | wc -l)" 0 "no sandbox after the failed create"
expect_eq "$(ls "$KM_HOME/sandboxes" | wc -l)" 0 "no sandbox directory after the failed create"
expect_eq "$(ls "$KM_HOME/failed" | wc -l)" 20 "failed/ keeps the newest 20"
[ ! -e "$KM_HOME/failed/aged-1" ] || fail "kept logs older than 7 days were not pruned"
[ ! -e "$KM_HOME/failed/recent-10" ] || fail "the oldest beyond 20 was not pruned"
[ -e "$KM_HOME/failed/recent-11" ] || fail "a recent one was pruned"

# --- a supervisor killed -9 and re-adopted by km doctor --fix ------------------------------
d="$(km create "$P")"
sup="$(km status --json "$d" | json_field supervisor.pid)"
kill -9 "$sup"
km doctor --fix >/dev/null
out="$(km logs "$d")"
expect_contains "$out" "event    adopted  new supervisor pid" "adoption event"
expect_contains "$out" "adopted: the previous supervisor was gone" "adoption log line"
# Init gone too: the new supervisor restarts the sandbox and says so.
sup="$(km status --json "$d" | json_field supervisor.pid)"
init="$(km status --json "$d" | json_field init.pid)"
kill -9 "$sup" "$init"
for _ in $(seq 1 50); do kill -0 "$init" 2>/dev/null || break; sleep 0.1; done
km doctor --fix >/dev/null
out="$(km logs "$d")"
expect_contains "$out" "event    recovered  restarted after its init was lost" "recovery event"
expect_contains "$out" "$d: recovered: restarted after its init was lost" "recovery log line"
echo "$out" | in_time_order || fail "km logs after recovery not in time order: $out"
km destroy --yes "$d" >/dev/null
echo PASS
