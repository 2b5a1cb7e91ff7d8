#!/usr/bin/env bash
# The main job on the embedded default (local substrate, SQLite): a sandbox from a built-in
# profile, a command run inside it, the fleet listed and inspected, then destroyed. Uses a
# throwaway KM_HOME so it never touches a real fleet. Needs root (namespaces, cgroups).
set -euo pipefail
KM="${1:-build/release/src/km}"
demo_home="$(mktemp -d /tmp/km-demo-XXXXXX)"
export KM_HOME="$demo_home"
# A small disk store for this throwaway home (its image is preallocated).
printf 'disk:\n  size: 1Gi\n' > "$demo_home/config.yaml"
id=""
cleanup() {
  [ -n "$id" ] && "$KM" destroy --yes "$id" >/dev/null 2>&1 || true
  umount "$demo_home/disk" 2>/dev/null || true
  rm -rf "$demo_home"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$KM" --version
step "$KM" validate open-dev restricted-dev hardened sealed goose ao codex learn
if [ "$(id -u)" != 0 ]; then
  echo
  echo "demo: the sandbox part needs root (namespaces, cgroups, mounts); run 'sudo make demo'."
  exit 1
fi
step "$KM" doctor
printf '\n\033[1m$ %s\033[0m\n' "$KM create restricted-dev --alias demo"
id="$("$KM" create restricted-dev --alias demo)"
echo "$id"
step "$KM" exec demo -- sh -c 'echo "hello from $(hostname) as $(id -un), pid $$"; ls /workspace; cat /proc/1/comm'
step "$KM" exec --root demo -- sh -c 'echo written-inside > /etc/km-demo; cat /etc/km-demo'
printf '\n\033[1m$ %s\033[0m\n' "test -e /etc/km-demo   # on the host"
if [ -e /etc/km-demo ]; then echo "demo: FAILED, the write reached the host" >&2; exit 1; fi
echo "no such file on the host: the write stayed in the sandbox's overlay"
step "$KM" list
step "$KM" status demo
step "$KM" destroy --yes demo
id=""
step "$KM" list
echo
echo "demo: created, used and destroyed a sandbox on the local substrate."
