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
expect_eq "$(ls -d /sys/fs/cgroup/*/km/kt-*/ 2>/dev/null | wc -l)" "$(( N * $(ls -d /sys/fs/cgroup/*/km 2>/dev/null | wc -l) ))" "one cgroup per hierarchy per sandbox"
for id in $(ids); do km destroy --yes "$id" >/dev/null; done
done_ns=$(date +%s%N)
expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroying $N"
echo "created $N in $(( (created - start) / 1000000 )) ms, destroyed in $(( (done_ns - created) / 1000000 )) ms"
echo "PASS: scale"
