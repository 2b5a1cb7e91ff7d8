#!/usr/bin/env bash
# 100 sandboxes at once on a small machine: create all, list, destroy all; nothing leaks.
source "$(dirname "$0")/lib.sh" "$@"
N="${KM_SCALE_COUNT:-100}"
before="$(kernel_snapshot)"
minimal="$KM_HOME/min.yaml"
grep -v 'km-init-marker\|initCommands' "$FIXTURES/local-test.yaml" > "$minimal"
start=$(date +%s%N)
for i in $(seq 1 "$N"); do km create "$minimal" >/dev/null; done
created=$(date +%s%N)
expect_eq "$(km list | tail -n +2 | grep -c running)" "$N" "all running"
per_sandbox="$(km_cgroups | grep -cE "/$(ids | head -1)(/|$)")"
expect_eq "$(km_cgroups | wc -l)" "$(( N * per_sandbox ))" "the same cgroups for every sandbox"
# Concurrent CLI invocations: ten creates at once all succeed with distinct numbers.
pids=()
for i in $(seq 1 10); do km create --alias "par-$i" "$minimal" >/dev/null & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent create failed"; done
expect_eq "$(km list --json | python3 -c 'import json,sys; n=[s["number"] for s in json.load(sys.stdin)]; print(len(n), len(set(n)))')" "$((N + 10)) $((N + 10))" "distinct numbers"
for id in $(ids); do km destroy --yes "$id" >/dev/null; done
done_ns=$(date +%s%N)
expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroying $((N + 10))"
echo "created $N in $(( (created - start) / 1000000 )) ms, destroyed in $(( (done_ns - created) / 1000000 )) ms"
echo "PASS: scale"
