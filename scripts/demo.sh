#!/usr/bin/env bash
# The main job on the embedded default. Until the sandbox substrate lands this shows the
# profile system: every built-in profile validated, one shown resolved, the schema's size.
set -euo pipefail
KM="${1:-build/release/src/km}"
demo_home="$(mktemp -d /tmp/km-demo-XXXXXX)"
trap 'rm -rf "$demo_home"' EXIT
export KM_HOME="${KM_HOME:-$demo_home}"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$KM" --version
step "$KM" profile list
step "$KM" validate open-dev restricted-dev hardened sealed goose ao codex learn
step "$KM" profile show sealed --resolved
printf '\n\033[1m$ %s\033[0m\n' "$KM schema | head -c 400"
"$KM" schema > "$demo_home/schema.json"
head -c 400 "$demo_home/schema.json"; echo " ..."
echo
echo "demo: all built-in profiles are valid."
