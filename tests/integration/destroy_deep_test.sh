#!/usr/bin/env bash
# A sandbox cannot make itself undestroyable (issue 11, item 3): a directory chain far deeper
# than km's fd limit (and longer than PATH_MAX) in its workspace, home and overlay is removed
# by km destroy running with `ulimit -n 64`, with the disk store and with plain directories.
# A teardown that fails part-way leaves the row `destroying`; doctor reports it, and
# km destroy / km doctor --fix finish it; the supervisor does not linger.
source "$(dirname "$0")/lib.sh" "$@"
before="$(kernel_snapshot)"

deep_chain() {  # deep_chain SB: 3000 levels in three trees of the sandbox
  km exec --root "$1" -- python3 -c '
import os
for top in ("/workspace", "/home/sandbox", "/opt"):
    os.chdir(top)
    for i in range(3000):
        os.mkdir("a"); os.chdir("a")
    open("leaf", "w").write("x")
print("ok")' >/dev/null || fail "making the chain in $1"
}

for store in loop none; do
  printf '%s\n  store: %s\n' "$KM_TEST_DISK_CONFIG" "$store" > "$KM_HOME/config.yaml"
  if [ "$store" = none ]; then
    # A home decides its store once: start over with a fresh one for plain directories.
    umount "$KM_HOME/disk"; rm -rf "$KM_HOME/disk" "$KM_HOME/disk.img" "$KM_HOME/disk.unenforced"
    before="$(kernel_snapshot)"
  fi
  SB="$(km create "$FIXTURES/local-test.yaml")"
  deep_chain "$SB"
  (ulimit -n 64; km destroy --yes "$SB" >/dev/null) || fail "destroy of a deep tree ($store)"
  [ ! -e "$KM_HOME/disk/$SB" ] || fail "the deep disk is gone ($store)"
  expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroying a deep tree ($store)"
done

# A teardown that fails part-way: a file km cannot remove (made immutable on the host).
SB="$(km create "$FIXTURES/local-test.yaml")"
sup="$(km status --json "$SB" | json_field supervisor.pid)"
chattr +i "$KM_HOME/sandboxes/$SB/plan.json"
extra_cleanup() { chattr -i "$KM_HOME/sandboxes/"*/plan.json 2>/dev/null || true; }
expect_fail km destroy --yes "$SB"
expect_eq "$(km status --json "$SB" | json_field status)" destroying "the row stays destroying"
for _ in $(seq 1 50); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
kill -0 "$sup" 2>/dev/null && fail "the supervisor lingers after a failed destroy"
out="$(km doctor || true)"
expect_contains "$out" "$SB" "doctor reports the half-destroyed sandbox"
expect_fail km destroy --yes "$SB"        # still failing: still retryable
chattr -i "$KM_HOME/sandboxes/$SB/plan.json"
km destroy --yes "$SB" >/dev/null
expect_fail km status "$SB"
expect_eq "$(kernel_snapshot)" "$before" "a retried destroy leaves nothing"

# The same through doctor: a failed TTL teardown is finished by km doctor --fix.
SB="$(km create --ttl 2s --idle 2s "$FIXTURES/local-test.yaml")"
chattr +i "$KM_HOME/sandboxes/$SB/plan.json"
for _ in $(seq 1 100); do
  st="$(km status --json "$SB" | json_field status 2>/dev/null || echo gone)"
  [ "$st" = destroying ] && break; sleep 0.1
done
expect_eq "$st" destroying "TTL expiry began the teardown"
chattr -i "$KM_HOME/sandboxes/$SB/plan.json"
sleep 0.5
km doctor --fix >/dev/null || true
expect_fail km status "$SB"
expect_eq "$(kernel_snapshot)" "$before" "doctor --fix finished the teardown"
echo "PASS: destroy deep"
