#!/usr/bin/env bash
# cgroup limits are enforced: a memory hog is OOM-killed inside the sandbox while the sandbox
# and the host carry on; a fork storm stops at pids.max; the cpu quota is written.
source "$(dirname "$0")/lib.sh" "$@"
id="$(km create "$FIXTURES/local-test.yaml")"

# The limits landed in the kernel, in whichever hierarchy this host offers.
mem_limit="$(cat "$(cg_file "$id" memory.limit_in_bytes)" 2>/dev/null || cat "$(cg_file "$id" memory.max)")"
expect_eq "$mem_limit" $((256 << 20)) "memory limit"
pids_limit="$(cat "$(cg_file "$id" pids.max)")"
expect_eq "$pids_limit" 128 "pids limit"
# CPU on the sandbox's directory, above its processes and its supervisor (charged to it).
cpu_quota="$(cat "$(cg_file "$id" cpu.cfs_quota_us .)" 2>/dev/null || cut -d' ' -f1 "$(cg_file "$id" cpu.max .)")"
expect_eq "$cpu_quota" 100000 "cpu quota (1 CPU)"
# The supervisor's own limits, and it sits in its own leaf (it moves there right after it
# reports the sandbox ready, off the create path).
for _ in $(seq 1 50); do
  f="$(cg_file "$id" cgroup.procs supervisor)"
  [ -n "$f" ] && grep -q . "$f" && break
  sleep 0.1
done
sup_mem="$(cat "$(cg_file "$id" memory.limit_in_bytes supervisor)" 2>/dev/null || cat "$(cg_file "$id" memory.max supervisor)")"
expect_eq "$sup_mem" $((512 << 20)) "supervisor memory limit"
sup_pid="$(km status --json "$id" | json_field supervisor.pid)"
grep -q "$(cat "$(cg_file "$id" cgroup.procs supervisor)")" <<<"$sup_pid" || fail "the supervisor is in its cgroup"

# 1 GiB in a 256 MiB box: the kernel kills the hog (SIGKILL → 137), not the sandbox.
set +e
km exec "$id" -- python3 -c 'b = bytearray(1 << 30); print(len(b))' >/dev/null 2>&1
rc=$?
set -e
expect_eq "$rc" 137 "memory hog killed"
expect_eq "$(km exec "$id" -- echo alive)" alive "sandbox survives its OOM"
expect_eq "$(km status --json "$id" | json_field status)" running "still running"

# Fork storm: pids.max stops it; the sandbox still answers afterwards.
out="$(km exec "$id" -- bash -c 'n=0; for i in $(seq 1 300); do sleep 3 & n=$((n+1)); done 2>/dev/null; echo started' 2>&1 || true)"
running_pids="$(cat "$(cg_file "$id" pids.current)")"
[ "$running_pids" -le 128 ] || fail "pids.current $running_pids above the limit"
sleep 3.5
expect_eq "$(km exec "$id" -- echo ok)" ok "sandbox answers after the fork storm"

# km doctor reports which limits this host can enforce.
doc="$(km doctor --json)"
for c in memory cpu pids; do
  v="$(echo "$doc" | json_field limits.$c)"
  [[ "$v" == "cgroup v1" || "$v" == "cgroup v2" ]] || fail "doctor: $c limit is '$v'"
done
echo "PASS: limits"
