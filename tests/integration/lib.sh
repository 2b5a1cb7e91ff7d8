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
# A small disk store (its image is preallocated): tests that write their own config.yaml
# keep this line in it.
KM_TEST_DISK_CONFIG=$'disk:\n  size: 2Gi'
echo "$KM_TEST_DISK_CONFIG" > "$KM_HOME/config.yaml"

fail() { echo "FAIL: $*" >&2; exit 1; }
# Every km run also notes the veths this home's sandboxes were given (see km_veths).
km() { local rc=0; "$KM" "$@" || rc=$?; remember_veths; return $rc; }
ids() { km list --json | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)]'; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); 
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"; }
expect_eq() { [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_contains() { [[ "$1" == *"$2"* ]] || fail "$3: expected to contain '$2', got: $1"; }
expect_not_contains() { [[ "$1" != *"$2"* ]] || fail "$3: expected not to contain '$2', got: $1"; }
expect_fail() { if "$@" >/dev/null 2>&1; then fail "expected failure: $*"; fi; }

# Sandbox cgroup directories: <hierarchy>/km/<home tag>/<id>/{sandbox,supervisor}.
km_cgroups() { find /sys/fs/cgroup -mindepth 3 -maxdepth 6 -type d -path "*/km/$(km_home_tag)/*" 2>/dev/null | sort; }
# This home's group dirs too (km/<tag>), which must go when its last sandbox does; other
# homes' (tests and sandboxes running beside this one) are not this test's business.
km_cgroup_dirs() { find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -path "*/km/$(km_home_tag)*" 2>/dev/null | sort; }
# The first existing FILE of sandbox ID's cgroups (whichever hierarchy has it), in PART:
# sandbox (default: its processes), supervisor, or . (the sandbox's directory above both).
cg_file() {
  local pattern="*/km/$(km_home_tag)/$1/${3:-sandbox}/$2"
  [ "${3:-}" != . ] || pattern="*/km/$(km_home_tag)/$1/$2"
  find /sys/fs/cgroup -mindepth 4 -maxdepth 7 -path "$pattern" 2>/dev/null | head -1
}

# The home's disk store (btrfs, loop-mounted at $KM_HOME/disk) stays mounted while the home
# exists; it is not a per-sandbox resource.
store_mount_line() { grep -F " $KM_HOME/disk " /proc/self/mountinfo || true; }

# This home's tag (the 8 hex digits in its cgroup group and eBPF pin names).
km_home_tag() { python3 -c 'import sys
h=2166136261
for c in sys.argv[1].encode(): h=((h^c)*16777619)&0xffffffff
print("%08x"%h)' "$(cd "$KM_HOME" && pwd)"; }

# The host ends of the veths this home's sandboxes were given. Their names are random
# (km<8 hex>), so the only way to tell ours from other homes' is to note each one while its
# sandbox runs ($KM_HOME/sandboxes/ID/net.json, read after every km run into
# $KM_HOME/.veths as "ID VETH"). A veth goes with its sandbox's network namespace, which the
# kernel tears down asynchronously: those of sandboxes that are gone get up to 3 s.
remember_veths() {
  { grep -HoE '"veth": *"km[0-9a-f]+"' "$KM_HOME"/sandboxes/*/net.json 2>/dev/null || true; } |
    sed -E 's|^.*/sandboxes/([^/]+)/net\.json:.*"(km[0-9a-f]+)"$|\1 \2|' >>"$KM_HOME/.veths"
}
km_veths() {
  [ -f "$KM_HOME/.veths" ] || return 0
  local id veth
  sort -u "$KM_HOME/.veths" | while read -r id veth; do
    if [ ! -d "$KM_HOME/sandboxes/$id" ]; then
      for _ in $(seq 1 30); do [ -e "/sys/class/net/$veth" ] || break; sleep 0.1; done
    fi
    [ ! -e "/sys/class/net/$veth" ] || echo "veth $veth"
  done
}

# Processes in this home's cgroups (km-init's argv is plain, so they are found by cgroup),
# and this home's supervisors by their command line (`km --home H supervise ID`, or
# `km-supervise --home H ID` for one forked by km create).
km_processes() {
  local f pid
  for f in $(grep -lE "/km/$(km_home_tag)/" /proc/[0-9]*/cgroup 2>/dev/null || true); do
    pid=${f#/proc/}
    pid=${pid%/cgroup}
    # One that has exited but is not reaped yet (its cgroup already removed, or a zombie) is
    # not left behind: its parent or init reaps it.
    grep -qF "(deleted)" "$f" 2>/dev/null && continue
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] || continue
    [ -e "/proc/$pid" ] && echo "pid $pid"
  done
  # A supervisor ends moments after it answers `km destroy`: give it that moment.
  local sup=""
  for _ in $(seq 1 20); do
    sup="$(pgrep -f "supervise" -a 2>/dev/null | grep -F -- "--home $KM_HOME " || true)"
    [ -n "$sup" ] || break
    sleep 0.1
  done
  [ -z "$sup" ] || echo "$sup"
}

# Everything this home made on the host, for before/after comparisons: its cgroups, mounts
# (the disk store aside), sandbox directories and disks, uid claims, processes, eBPF pins
# and veths. Only this home's: other homes (tests, benchmarks or real sandboxes running
# beside this one) may come and go meanwhile. The nftables table `inet km` is shared by
# every home and stays after the last sandbox, so it is not compared; each sandbox's own
# table lives in its network namespace and goes with it.
kernel_snapshot() {
  { km_cgroup_dirs
    grep -F " $KM_HOME/" /proc/self/mountinfo | grep -vF " $KM_HOME/disk " || true
    ls "$KM_HOME/sandboxes" 2>/dev/null || true
    ls "$KM_HOME/disk" 2>/dev/null || true
    grep -lF "$(cd "$KM_HOME" && pwd)	" /var/lib/km-uids/* 2>/dev/null || true
    km_processes
    ls /sys/fs/bpf/km 2>/dev/null | grep -F -- "$(km_home_tag)-" || true
    km_veths; } | sort
}

cleanup() {
  local rc=$?
  # A failed test shows what its supervisors said last.
  if [ "$rc" != 0 ] && [ -n "${KM_HOME:-}" ]; then
    for f in "$KM_HOME"/sandboxes/*/supervisor.log; do
      [ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -n ${KM_TEST_LOG_LINES:-40} "$f" >&2; }
    done
  fi
  for id in $(ids 2>/dev/null || true); do
    km unlock "$id" >/dev/null 2>&1 || true
    km destroy --yes "$id" >/dev/null 2>&1 || true
  done
  km doctor --fix >/dev/null 2>&1 || true
  if declare -F extra_cleanup >/dev/null; then extra_cleanup || true; fi
  # Supervisors started for this home and still around (a failed test) are ended too.
  pkill -9 -f -- "--home $KM_HOME supervise" 2>/dev/null || true
  pkill -9 -f -- "^km-supervise --home $KM_HOME " 2>/dev/null || true
  # The disk store's mount (its loop device detaches with it), then the uid claims of this
  # home that a failed test may have left.
  umount "$KM_HOME/disk" 2>/dev/null || umount -l "$KM_HOME/disk" 2>/dev/null || true
  { grep -lF "$(cd "$KM_HOME" && pwd)	" /var/lib/km-uids/* 2>/dev/null || true; } | xargs -r rm -f
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
