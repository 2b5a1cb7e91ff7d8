#!/usr/bin/env bash
# Checks that each module includes only the modules it may depend on (STYLE R2).
# Arrows: core ← doc ← {profile, config} ← plan ← substrate ← supervisor ← cli ← main;
# core ← store ← supervisor ← fleet ← cli; core ← doc ← net ← supervisor. No cycles.
set -euo pipefail
cd "$(dirname "$0")/../src"

allowed() {
  case "$1" in
    core) echo "core" ;;
    doc) echo "core doc" ;;
    profile) echo "core doc profile" ;;
    config) echo "core doc config" ;;
    plan) echo "core doc profile plan" ;;
    store) echo "core store" ;;
    net) echo "core doc net" ;;
    substrate) echo "core doc profile plan substrate" ;;
    supervisor) echo "core doc profile plan store net substrate supervisor" ;;
    fleet) echo "core doc plan store net substrate supervisor fleet" ;;
    cli) echo "core doc profile config plan store net substrate supervisor fleet cli" ;;
    *) echo "" ;;
  esac
}

status=0
for dir in */; do
  module="${dir%/}"
  ok="$(allowed "$module")"
  if [ -z "$ok" ]; then
    echo "check-deps: module '$module' has no dependency rule in scripts/check-deps.sh" >&2
    status=1
    continue
  fi
  while IFS= read -r line; do
    file="${line%%:*}"
    inc="$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"$line")"
    case " $ok " in
      *" $inc "*) ;;
      *) echo "check-deps: $file includes \"$inc/...\" but $module may only use: $ok" >&2; status=1 ;;
    esac
  done < <(grep -rn '#include "[a-z_]*/' "$module" || true)
done
[ $status -eq 0 ] && echo "check-deps: module dependencies OK"
exit $status
