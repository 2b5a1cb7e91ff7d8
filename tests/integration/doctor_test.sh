#!/usr/bin/env bash
# After kill -9 of a supervisor, status says so and doctor --fix re-adopts the running
# sandbox; leaked cgroups and orphan directories are found and removed.
source "$(dirname "$0")/lib.sh" "$@"
id="$(km create --alias doc "$FIXTURES/local-test.yaml")"
sup="$(km status --json doc | json_field supervisor.pid)"
kill -9 "$sup"
sleep 0.2
expect_contains "$(km status doc)" "supervisor is not running" "status says the supervisor died"
expect_contains "$(km list)" "unsupervised" "list marks it"
expect_eq "$(km exec doc -- echo still)" still "the sandbox keeps running without its supervisor"
set +e; km doctor >/dev/null; rc=$?; set -e
expect_eq "$rc" 1 "doctor exit code with open findings"
km doctor --fix | grep -q "adopted" || fail "doctor --fix should adopt"
new_sup="$(km status --json doc | json_field supervisor.pid)"
[ "$new_sup" != "$sup" ] || fail "no new supervisor"
expect_eq "$(km status --json doc | json_field supervisor.alive)" True "new supervisor alive"
km stop doc >/dev/null   # the new supervisor answers
km resume doc >/dev/null
expect_eq "$(km exec doc -- echo back)" back "works after adoption"

# km resume of a running sandbox whose supervisor died starts one, which adopts it.
sup="$(km status --json doc | json_field supervisor.pid)"
init="$(km status --json doc | json_field init.pid)"
kill -9 "$sup"
sleep 0.2
km resume doc >/dev/null
expect_eq "$(km status --json doc | json_field supervisor.alive)" True "resume started a supervisor"
[ "$(km status --json doc | json_field supervisor.pid)" != "$sup" ] || fail "resume: no new supervisor"
expect_eq "$(km status --json doc | json_field init.pid)" "$init" "resume adopted the running sandbox"

# Both gone (supervisor and init killed): doctor --fix restarts the sandbox.
init="$(km status --json doc | json_field init.pid)"
sup="$(km status --json doc | json_field supervisor.pid)"
kill -9 "$sup"; kill -9 "$init"
sleep 0.3
expect_eq "$(km list | grep -c lost)" 1 "list shows the lost sandbox"
km doctor --fix >/dev/null
expect_eq "$(km exec doc -- cat /var/km-init-marker)" init-ran "recovered with its files"

# Leaks with no sandbox in the store.
leak="kt-deadbeef"
group_dir="$(dirname "$(dirname "$(dirname "$(cg_file "$id" cgroup.procs)")")")"   # this home's km/<tag> in one hierarchy
mkdir -p "$group_dir/$leak" "$KM_HOME/sandboxes/kt-0rphan00"
pins="/sys/fs/bpf/km/$(km_home_tag)-kt-0ldpin00"
mkdir -p "$pins"
out="$(km doctor || true)"
expect_contains "$out" "$leak" "doctor finds the leaked cgroup"
expect_contains "$out" "kt-0rphan00" "doctor finds the orphan directory"
expect_contains "$out" "kt-0ldpin00" "doctor finds eBPF pins of no sandbox"
km doctor --fix >/dev/null || true
[ ! -d "$group_dir/$leak" ] || fail "leaked cgroup still there"
[ ! -d "$KM_HOME/sandboxes/kt-0rphan00" ] || fail "orphan dir still there"
[ ! -d "$pins" ] || fail "stale pins still there"
km doctor >/dev/null || fail "doctor clean after --fix"
echo "PASS: doctor"
