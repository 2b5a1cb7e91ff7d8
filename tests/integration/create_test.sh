#!/usr/bin/env bash
# km create: invalid profiles and failing init commands create nothing; --dry-run prints the
# plan; --json prints the status object; the substrate note; exec keeps a terminal a terminal.
source "$(dirname "$0")/lib.sh" "$@"
before="$(kernel_snapshot)"
P="$FIXTURES/local-test.yaml"

# An invalid profile: located errors, exit 1, nothing created.
bad="$KM_HOME/bad.yaml"
sed 's/teardownPolicy: destroy/teardownPolicy: explode/' "$P" > "$bad"
set +e; out="$(km create "$bad" 2>&1)"; rc=$?; set -e
expect_eq "$rc" 1 "invalid profile exit code"
expect_contains "$out" "spec.lifecycle.teardownPolicy" "error names the field"
expect_contains "$out" "nothing was created" "says nothing was created"
expect_eq "$(ids | wc -l)" 0 "no sandbox after an invalid profile"
# The supervisor and the init staged while the profile loaded end with the CLI.
left=1
for _ in $(seq 1 50); do
  left="$( (pgrep -f -- "create $bad" || true) | wc -l)"
  [ "$left" == 0 ] && break
  sleep 0.1
done
expect_eq "$left" 0 "no staged supervisor or init left after an invalid profile"

# A failing init command fails the create, shows the log's tail, and leaves nothing.
failing="$KM_HOME/failing.yaml"
sed 's|      - "echo init-ran > /var/km-init-marker"|      - "echo about-to-fail; exit 3"|' "$P" > "$failing"
set +e; out="$(km create "$failing" 2>&1)"; rc=$?; set -e
expect_eq "$rc" 1 "failing init command exit code"
expect_contains "$out" "init command 1 failed (exit 3)" "names the command and its exit"
expect_contains "$out" "about-to-fail" "shows the init log tail"
expect_eq "$(ids | wc -l)" 0 "no sandbox after a failed init command"
expect_eq "$(kernel_snapshot)" "$before" "nothing left after a failed create"

# Bad flag values are usage errors.
set +e; km create --ttl soon "$P" >/dev/null 2>&1; rc=$?; set -e
expect_eq "$rc" 2 "bad --ttl is a usage error"

# --dry-run prints the plan and creates nothing.
plan="$(km create --dry-run -o json "$P")"
expect_eq "$(echo "$plan" | json_field resources.memoryBytes)" $((256 << 20)) "plan memory"
expect_eq "$(echo "$plan" | json_field substrate)" local "plan substrate"
expect_eq "$(ids | wc -l)" 0 "dry run creates nothing"

# An upstream-style profile (substrate ec2) runs locally, saying so in one line.
json="$(km --json create hardened 2>"$KM_HOME/note")"
expect_contains "$(cat "$KM_HOME/note")" "local" "substrate note"
id="$(echo "$json" | json_field id)"
[[ "$id" =~ ^sb-[0-9a-f]{8}$ ]] || fail "default prefix sb: $id"
expect_eq "$(echo "$json" | json_field status)" running "--json status object"
expect_eq "$(echo "$json" | json_field resources.cpuMillis)" 2000 "t3.small → 2 CPUs"
# Neither init nor supervisor stays in the creator's session (a Ctrl-C or hangup there must
# not reach the sandbox). Field 6 of /proc/PID/stat is the session id.
own_sid="$(awk '{print $6}' /proc/$$/stat)"
for who in init supervisor; do
  pid="$(echo "$json" | json_field "$who.pid")"
  sid="$(awk '{print $6}' "/proc/$pid/stat")"
  [[ "$sid" != "$own_sid" ]] || fail "the sandbox's $who (pid $pid) is in the creator's session $own_sid"
done

# A terminal stays a terminal; without one, stdin is a pipe.
tty_out="$(script -qec "$KM exec $id -- sh -c '[ -t 0 ] && [ -t 1 ] && echo tty-yes'" /dev/null | tr -d '\r')"
expect_contains "$tty_out" "tty-yes" "exec under a terminal"
expect_eq "$(echo x | km exec "$id" -- sh -c '[ -t 0 ] || echo not-a-tty')" not-a-tty "exec from a pipe"

# km list --wide has upstream's columns.
header="$(km list --wide | head -1)"
for col in "#" ALIAS "SANDBOX ID" PROFILE SUBSTRATE REGION STATUS TTL IDLE UP SPEND "CLONED FROM"; do
  expect_contains "$header" "$col" "wide column $col"
done
km destroy --yes "$id" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: create"
