#!/usr/bin/env bash
# Budgets that suspend: a used-up compute pool (running time at the price table's hourly rate)
# stops the sandbox, or pauses it with hibernation; a locked sandbox keeps running; `km resume`
# is refused while the pool is used up, and `km budget add` tops it up and resumes the sandbox.
# A used-up AI pool (what is left pays for no call) stops the sandbox too.
# The operator's pricing.file makes a t3.small dear here ($36/h: 10,000 µ$ a second), so a
# $0.10 budget lasts 10 seconds.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up
cat > "$KM_HOME/prices.yaml" <<'YAML'
compute:
  instances:
    t3.small: {onDemand: 36, spot: 36}
YAML
echo "pricing: {file: $KM_HOME/prices.yaml}" >> "$KM_CONFIG"
DB="$KM_HOME/fleet.db"

profile() {  # name compute-usd hibernation [ai-usd]
  local ai=""
  [ -n "${4:-}" ] && ai="    ai: {maxSpendUSD: $4}"
  cat > "$KM_HOME/$1.yaml" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: $1, prefix: km}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local, instanceType: t3.small, hibernation: $3}
  budget:
    compute: {maxSpendUSD: $2}
$ai
    warningThreshold: 0.5
  network:
    enforcement: proxy
    egress: {allowedDNSSuffixes: [], allowedHosts: []}
YAML
  echo "$KM_HOME/$1.yaml"
}
pool() {  # sandbox pool → "limit spent"
  python3 - "$DB" "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
r = db.execute("SELECT limit_micros, spent_micros FROM budget_pools WHERE sandbox_id=? AND pool=?", (sys.argv[2], sys.argv[3])).fetchone()
print(*r)
PY
}
kinds() {  # sandbox → its events' kinds, one line
  python3 - "$DB" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(" ".join(k for (k,) in db.execute("SELECT kind FROM events WHERE sandbox_id=? ORDER BY id", (sys.argv[2],))))
PY
}

# 1. Compute used up: stopped on time, warned at half, charged to the limit (not past it by
# more than the timer's lateness), and `km resume` refused saying how to go on. ($36/h: $0.10
# is 10 s of running, room for the CLI's own steps on a loaded machine; lateness allowed 1.5 s.)
out="$(km create "$(profile dear 0.10 false)" 2>&1)"
SB="$(tail -1 <<<"$out")"
expect_eq "$(km status --json "$SB" | json_field status)" running "created running"
wait_status "$SB" 30 stopped
read -r limit spent <<<"$(pool "$SB" compute)"
expect_eq "$limit" 100000 "the compute pool has the profile's limit"
[ "$spent" -ge 100000 ] && [ "$spent" -le 115000 ] || fail "compute spent $spent, wanted 100000 (+ at most 1.5 s late)"
expect_contains "$(kinds "$SB")" "budget-warning budget-exhausted stopped suspended" "warned, used up, stopped, suspended"
st="$(km status "$SB")"
expect_contains "$st" "Compute:" "km status shows the compute pool"
expect_contains "$st" 'at $36.00/h (t3.small spot)' "and its rate"
out="$(km resume "$SB" 2>&1)" && fail "km resume of a sandbox with its compute budget used up succeeded"
expect_contains "$out" "compute budget is used up" "km resume says why"
expect_contains "$out" "km budget add $SB --compute" "and how to go on"

# 2. A top-up resumes it; it runs until the new money is used up too.
out="$(km budget add "$SB" --compute 0.06)"
expect_contains "$out" "\$0.06 added to the compute budget" "the top-up is said"
expect_contains "$out" "$SB: resumed" "and the sandbox resumed"
expect_eq "$(km status --json "$SB" | json_field status)" running "running again"
expect_eq "$(km exec "$SB" -- echo alive)" alive "its processes run"
wait_status "$SB" 30 stopped
read -r limit spent <<<"$(pool "$SB" compute)"
expect_eq "$limit" 160000 "limit raised by the top-up"
[ "$spent" -ge 160000 ] && [ "$spent" -le 175000 ] || fail "compute spent $spent after the top-up, wanted 160000"
# A stop by hand is not a suspension: a top-up then does not start the sandbox.
km budget add "$SB" --compute 1 >/dev/null
wait_status "$SB" 10 running
km stop "$SB" >/dev/null
out="$(km budget add "$SB" --compute 1)"
[[ "$out" != *resumed* ]] || fail "a top-up started a sandbox stopped by hand: $out"
expect_eq "$(km status --json "$SB" | json_field status)" stopped "stopped by hand stays stopped"
km destroy --yes "$SB" >/dev/null

# 3. With hibernation: paused (memory kept), then resumed by the top-up with its processes.
SB="$(km create "$(profile sleepy 0.06 true)" | tail -1)"
km exec "$SB" -- sh -c 'sleep 1000 >/dev/null 2>&1 &'
wait_status "$SB" 30 paused
expect_contains "$(kinds "$SB")" "paused suspended" "paused for the budget"
km budget add "$SB" --compute 1 >/dev/null
expect_eq "$(km status --json "$SB" | json_field status)" running "resumed from the pause"
expect_contains "$(km exec "$SB" -- ps -eo comm)" "sleep" "the paused process is still there"
km destroy --yes "$SB" >/dev/null

# 4. Locked: keeps running, the skip recorded.
SB="$(km create "$(profile kept 0.06 false)" | tail -1)"
km lock "$SB" >/dev/null
sleep 8
expect_eq "$(km status --json "$SB" | json_field status)" running "a locked sandbox is not suspended"
expect_contains "$(kinds "$SB")" "budget-suspend-skipped" "the skip is recorded"
sleep 2
expect_eq "$(kinds "$SB" | grep -o budget-suspend-skipped | wc -l)" 1 "the skip is said once"
charges="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM usage_events WHERE sandbox_id=? AND pool=\"compute\"", (sys.argv[2],)).fetchone()[0])' "$DB" "$SB")"
[ "$charges" -le 4 ] || fail "a locked sandbox past its compute budget was charged $charges times in 7 s (a minute at a time expected)"
# Unlocked, it is suspended at once (not at the next minute's charge).
km unlock --yes "$SB" >/dev/null 2>&1 || km unlock "$SB" >/dev/null
wait_status "$SB" 10 stopped
expect_contains "$(kinds "$SB")" "unlocked stopped suspended" "suspended when unlocked"
km destroy --yes "$SB" >/dev/null

# 5. AI used up: calls spend until what is left pays for no call (a sonnet call costs at least
# $0.028 as km bounds it); that call gets Anthropic's 403 and the sandbox stops.
SB="$(km create "$(profile thrifty 100 false 0.05)" | tail -1)"
BODY='{"model":"claude-sonnet-4-5","max_tokens":1000,"messages":[{"role":"user","content":"go"}]}'
refusal=""
for i in $(seq 1 8); do
  out="$(km exec "$SB" -- curl -sS -m 20 -w '\nstatus=%{http_code}' https://api.anthropic.com/v1/messages \
    -H 'content-type: application/json' -H 'x-api-key: sk-ant-fake' -H 'anthropic-version: 2023-06-01' \
    -H 'X-Fake-Output-Tokens: 64000' --data-binary "$BODY" 2>&1 || true)"
  if [[ "$out" == *'"type":"error"'* ]]; then refusal="$out"; break; fi
done
expect_contains "$refusal" "status=403" "the call past what the budget pays for gets 403"
expect_contains "$refusal" "km budget add" "naming km budget add"
wait_status "$SB" 40 stopped
expect_contains "$(kinds "$SB")" "budget-exhausted stopped suspended" "the AI pool counted as used up, the sandbox stopped"
read -r limit spent <<<"$(pool "$SB" ai)"
[ "$spent" -le "$limit" ] || fail "AI spent $spent passed its limit $limit"
# A compute top-up resumes it (the AI pool still holds a few micro-dollars, too few for any
# call); the next AI call is refused and suspends it again: a pool still used up is reported
# anew after every resume.
out="$(km budget add "$SB" --compute 1)"
expect_contains "$out" "$SB: resumed" "the compute top-up resumes the sandbox"
out="$(km exec "$SB" -- curl -sS -m 20 -w '\nstatus=%{http_code}' https://api.anthropic.com/v1/messages \
  -H 'content-type: application/json' -H 'x-api-key: sk-ant-fake' -H 'anthropic-version: 2023-06-01' \
  --data-binary "$BODY" 2>&1 || true)"
expect_contains "$out" "status=403" "the AI pool still refuses"
wait_status "$SB" 40 stopped
expect_eq "$(kinds "$SB" | grep -o budget-exhausted | wc -l)" 2 "used up again after the resume: suspended again"
out="$(km budget add "$SB" --ai 1)"
expect_contains "$out" "$SB: resumed" "the AI top-up resumes the sandbox"
out="$(km exec "$SB" -- curl -sS -m 20 https://api.anthropic.com/v1/messages -H 'content-type: application/json' \
  -H 'x-api-key: sk-ant-fake' -H 'anthropic-version: 2023-06-01' --data-binary "$BODY")"
expect_contains "$out" '"type": "message"' "AI calls go through after the top-up"
km destroy --yes "$SB" >/dev/null

expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: budget_suspend"
