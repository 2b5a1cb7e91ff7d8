#!/usr/bin/env bash
# The main job on the embedded default. Until the sandbox substrate lands this shows the
# profile system: every built-in profile validated, one shown resolved, the schema's size.
set -euo pipefail
KM="${1:-build/release/src/km}"
export KM_HOME="${KM_HOME:-$(mktemp -d /tmp/km-demo-XXXXXX)}"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$KM" --version
step "$KM" profile list
step "$KM" validate open-dev restricted-dev hardened sealed goose ao codex learn
step "$KM" profile show sealed --resolved
printf '\n\033[1m$ %s\033[0m\n' "$KM schema | head -c 400"
"$KM" schema | head -c 400; echo " ..."
echo
echo "demo: all built-in profiles are valid."
