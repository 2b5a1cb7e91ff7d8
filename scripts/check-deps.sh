#!/usr/bin/env bash
# Checks that each module includes only the modules it may depend on (STYLE R2).
# Arrows: core ← doc ← {profile, config} ← plan ← substrate ← supervisor ← cli ← main;
# core ← doc ← audit ← net ← plan (a plan holds the typed net::NetworkSpec);
# core ← store ← supervisor ← fleet ← cli; core ← doc ← audit ← net ← supervisor. No cycles.
set -euo pipefail
cd "$(dirname "$0")/../src"

allowed() {
  case "$1" in
    core) echo "core" ;;
    doc) echo "core doc" ;;
    profile) echo "core doc profile" ;;
    config) echo "core doc config" ;;
    plan) echo "core doc profile audit net plan" ;;
    store) echo "core store" ;;
    audit) echo "core doc audit" ;;
    net) echo "core doc audit net" ;;
    substrate) echo "core doc profile audit net plan substrate" ;;
    supervisor) echo "core doc profile plan store audit net substrate supervisor" ;;
    fleet) echo "core doc plan store audit net substrate supervisor fleet" ;;
    cli) echo "core doc profile config plan store audit net substrate supervisor fleet cli" ;;
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
