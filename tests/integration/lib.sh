# Shared helpers for the root integration tests: each test gets its own KM_HOME and leaves
# nothing behind (sandboxes destroyed, doctor --fix, directory removed) even when it fails.
# Usage: source lib.sh "$@"   (args: KM_BINARY SHARED_DIR)
set -euo pipefail
KM="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIXTURES="$HERE/fixtures"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the local substrate needs root"
  exit 77
fi
export KM_HOME
KM_HOME="$(mktemp -d /tmp/km-it.XXXXXX)"
chmod 700 "$KM_HOME"
unset KM_CONFIG

fail() { echo "FAIL: $*" >&2; exit 1; }
km() { "$KM" "$@"; }
ids() { km list --json | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)]'; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); 
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"; }
expect_eq() { [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_contains() { [[ "$1" == *"$2"* ]] || fail "$3: expected to contain '$2', got: $1"; }
expect_fail() { if "$@" >/dev/null 2>&1; then fail "expected failure: $*"; fi; }

# Sandbox cgroup directories: <hierarchy>/km/<home tag>/<id>.
km_cgroups() { find /sys/fs/cgroup -mindepth 3 -maxdepth 5 -type d -path '*/km/????????/*' 2>/dev/null | sort; }
# This home's group dirs too (km/<tag>), which must go when its last sandbox does.
km_cgroup_dirs() { find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d -path '*/km/*' 2>/dev/null | sort; }
# The first existing FILE of sandbox ID's cgroups (whichever hierarchy has it).
cg_file() { find /sys/fs/cgroup -mindepth 4 -maxdepth 6 -path "*/km/*/$1/$2" 2>/dev/null | head -1; }

# This home's tag (the 8 hex digits in its cgroup group and eBPF pin names).
km_home_tag() { python3 -c 'import sys
h=2166136261
for c in sys.argv[1].encode(): h=((h^c)*16777619)&0xffffffff
print("%08x"%h)' "$(cd "$KM_HOME" && pwd)"; }

# Every km cgroup, mount, sandbox directory, process and eBPF pin of this home (for
# before/after comparisons).
kernel_snapshot() {
  { km_cgroup_dirs
    grep -F "$KM_HOME" /proc/self/mountinfo || true
    ls "$KM_HOME/sandboxes" 2>/dev/null || true
    pgrep -f "km-init|supervise" -a 2>/dev/null | grep -F -- "$KM_HOME" || true
    ls /sys/fs/bpf/km 2>/dev/null | grep -F -- "$(km_home_tag)-" || true; } | sort
}

cleanup() {
  local rc=$?
  for id in $(ids 2>/dev/null || true); do
    km unlock "$id" >/dev/null 2>&1 || true
    km destroy --yes "$id" >/dev/null 2>&1 || true
  done
  km doctor --fix >/dev/null 2>&1 || true
  if declare -F extra_cleanup >/dev/null; then extra_cleanup || true; fi
  # Supervisors started for this home and still around (a failed test) are ended too.
  pkill -9 -f -- "--home $KM_HOME supervise" 2>/dev/null || true
  rm -rf "$KM_HOME"
  exit $rc
}
trap cleanup EXIT

# Waits up to $2 seconds for `km status $1 --json` field status to become $3.
wait_status() {
  local id="$1" secs="$2" want="$3" got=""
  for _ in $(seq 1 $((secs * 10))); do
    got="$(km status --json "$id" 2>/dev/null | json_field status 2>/dev/null || echo gone)"
    [ "$got" == "$want" ] && return 0
    sleep 0.1
  done
  fail "$id: status '$got' after ${secs}s, wanted '$want'"
}
