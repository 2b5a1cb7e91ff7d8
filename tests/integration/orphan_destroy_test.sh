#!/usr/bin/env bash
# One teardown (issue 13): a sandbox whose supervisor was killed with SIGKILL is removed by
# `km destroy --yes` alone (the CLI tears it down itself), and nothing of it is left: no
# process, cgroup, mount, network namespace, veth, eBPF pin, disk, uid claim or file under
# KM_HOME. Checked for networked sandboxes (enforcement ebpf, both and proxy), each with a
# process started by `km exec` still running inside, running and paused; the veth and eBPF
# pins must be gone when destroy returns, not some time later.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"  # net_profile only: no traffic leaves the sandbox here
execs=()
extra_cleanup() { for p in "${execs[@]}"; do kill "$p" 2>/dev/null || true; done; }
before="$(kernel_snapshot)"
TAG="$(km_home_tag)"

# Field N of /proc/PID/stat counted after the command name (1: state, 20: start time).
stat_field() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"  # the command name may hold spaces and parentheses
  cut -d' ' -f"$2" <<<"$stat"
}
# "PID STARTTIME" of every process in sandbox $1's cgroups (either part, any hierarchy).
cgroup_procs() {
  local f p
  for f in $(find /sys/fs/cgroup -path "*/km/$TAG/$1/*" -name cgroup.procs 2>/dev/null); do
    while read -r p; do
      [ -n "$p" ] && echo "$p $(stat_field "$p" 20)"
    done <"$f"
  done | sort -u
}
# Whether process "PID STARTTIME" still runs (a reused pid has another start time). A
# zombie has ended: the supervisor it belonged to is gone, so the host's init reaps it. So has
# a task in state X (dead): one reaped at once (its parent ignores SIGCHLD) shows it for the
# moment before the kernel releases it.
alive() {
  local pid="${1%% *}" start="${1##* }" state
  state="$(stat_field "$pid" 1)"
  [ -n "$(stat_field "$pid" 20)" ] && [ "$(stat_field "$pid" 20)" == "$start" ] && [ "$state" != Z ] && [ "$state" != X ]
}
# Anything on the host that still refers to network namespace $1 (net:[INODE]): a process
# in it, an fd of it, or a bind mount of it.
netns_users() {
  local ino="$1"
  local l d
  for l in /proc/[0-9]*/ns/net; do
    if [ "$(readlink "$l" 2>/dev/null)" == "net:[$ino]" ]; then
      d="${l%/ns/net}"
      # Enough to tell which process it is when this fails.
      echo "process $d ($(tr '\0' ' ' <"$d/cmdline" 2>/dev/null | head -c 200); $(grep -E '^(State|PPid|Tgid):' "$d/status" 2>/dev/null | tr '\n\t' '  '))"
    fi
  done
  find /proc/[0-9]*/fd -lname "net:\[$ino\]" 2>/dev/null | { grep -v "/fd/${nsfd:-none}$" || true; } | sed 's/^/fd /'
  awk -v ino="$ino" '$9 == "nsfs" && $4 ~ "\\[" ino "\\]" { print "mount " $5 }' /proc/self/mountinfo
}

check_orphan_destroy() {  # check_orphan_destroy ENFORCEMENT PAUSE(yes|no)
  local enforcement="$1" pause="$2" what="$1, paused: $2"
  net_profile "$KM_HOME/net.yaml" "orphan-$enforcement" ko "$enforcement" "[.example.com]" "[]"
  local sb
  sb="$(km create "$KM_HOME/net.yaml")"
  local dir="$KM_HOME/sandboxes/$sb"
  # A process inside, started from outside; its `km exec` relay stays on the host.
  km exec "$sb" -- sleep 1000 >/dev/null 2>&1 &
  execs+=($!)
  for _ in $(seq 1 50); do km exec "$sb" -- pgrep -x sleep >/dev/null 2>&1 && break; sleep 0.1; done
  km exec "$sb" -- pgrep -x sleep >/dev/null || fail "$what: the exec'd process runs"
  [ "$pause" == no ] || km pause "$sb" >/dev/null

  # What it has now, to look for after the destroy.
  local veth init sup netns pins procs
  veth="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["veth"])' "$dir/net.json")"
  [ -e "/sys/class/net/$veth" ] || fail "$what: its veth $veth exists"
  init="$(km --json status "$sb" | json_field init.pid)"
  sup="$(km --json status "$sb" | json_field supervisor.pid)"
  netns="$(stat -L -c %i "/proc/$init/ns/net")"
  # Held open by this test until checked: freed, its inode number would go to the next network
  # namespace made on the host (another test's sandbox), whose processes would look like
  # leftovers. The test's own descriptor (number $nsfd, inherited by its subshells) is not one.
  exec {nsfd}<"/proc/$init/ns/net"
  pins="/sys/fs/bpf/km/$TAG-$sb"
  if [ "$enforcement" != proxy ]; then
    [ -d "$pins" ] || fail "$what: its eBPF maps are pinned in $pins"
  fi
  procs="$(cgroup_procs "$sb")"
  expect_contains "$procs" "$init " "$what: init is in the sandbox's cgroup"
  [ "$(echo "$procs" | wc -l)" -ge 3 ] || fail "$what: init, sleep and the supervisor are in its cgroups: $procs"
  [ -n "$(km_cgroups | grep -F "/$sb/")" ] || fail "$what: its cgroups exist"

  kill -9 "$sup"
  for _ in $(seq 1 50); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$sup" 2>/dev/null && fail "$what: the supervisor died"
  [ "$(km --json status "$sb" | json_field supervisor.alive)" == False ] ||
    fail "$what: status sees no supervisor"
  km destroy --yes "$sb" >/dev/null || fail "$what: km destroy without a supervisor"

  # Nothing left, right when destroy returns.
  expect_fail km status "$sb"
  local p
  while read -r p; do
    [ -z "$p" ] || ! alive "$p" || fail "$what: process $p ($(cat "/proc/${p%% *}/comm" 2>/dev/null)) is left"
  done <<<"$procs"
  expect_eq "$(km_cgroups | grep -F "/$sb" || true)" "" "$what: no cgroup left"
  expect_eq "$(netns_users "$netns")" "" "$what: nothing holds its network namespace"
  exec {nsfd}<&-
  [ ! -e "/sys/class/net/$veth" ] || fail "$what: its veth $veth is left"
  [ ! -e "$pins" ] || fail "$what: its eBPF pins $pins are left"
  expect_eq "$(findmnt -rn -o TARGET | grep -F "$sb" || true)" "" "$what: no mount left"
  expect_eq "$(grep -F "$sb" /proc/self/mountinfo || true)" "" "$what: no mount left (mountinfo)"
  expect_eq "$(find "$KM_HOME" -name "*$sb*" 2>/dev/null)" "" "$what: no file left under KM_HOME"
  expect_eq "$(grep -lF "$sb" /var/lib/km-uids/* 2>/dev/null || true)" "" "$what: its uid is released"
  # Its `km exec` relay ended with the sandbox.
  local relay="${execs[-1]}"
  for _ in $(seq 1 50); do kill -0 "$relay" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$relay" 2>/dev/null && fail "$what: the km exec of the killed process returned"
  wait "$relay" 2>/dev/null || true
}

for enforcement in ebpf both proxy; do
  check_orphan_destroy "$enforcement" no
done
check_orphan_destroy ebpf yes
check_orphan_destroy proxy yes
expect_eq "$(kernel_snapshot)" "$before" "nothing of this home is left"
echo "PASS: orphan destroy"
