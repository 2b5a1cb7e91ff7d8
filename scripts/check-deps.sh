#!/usr/bin/env bash
# Checks the module contracts (STYLE R1, R2) on every #include "module/…" under src/:
# 1. each module includes only the modules it may depend on (allowed below). Arrows:
#    core ← doc ← {profile, config} ← plan ← substrate ← supervisor ← fleet ← cli ← main;
#    core ← store ← supervisor; core ← doc ← audit ← net ← {plan, substrate, supervisor};
#    core ← doc ← meter ← net (the proxy meters AI calls); core ← doc ← profile ← agent ← cli;
#    core ← doc ← github ← net (the proxy filters GitHub); core ← doc ← secrets ← cli (SOPS bundles);
#    core ← doc ← image ← substrate (OS images: a local root's lower layers)
#    (a plan holds the typed net::NetworkSpec). No cycles.
# 2. of another module it includes only a public header (public below); every other header
#    is private to its module, which may include it anywhere inside itself.
set -euo pipefail
cd "$(dirname "$0")/../src"

allowed() {
  case "$1" in
    core) echo "core" ;;
    doc) echo "core doc" ;;
    profile) echo "core doc profile" ;;
    config) echo "core doc config" ;;
    agent) echo "core doc profile agent" ;;
    plan) echo "core doc profile audit meter net plan" ;;
    store) echo "core store" ;;
    audit) echo "core doc audit" ;;
    meter) echo "core doc meter" ;;
    github) echo "core doc github" ;;
    secrets) echo "core doc secrets" ;;
    image) echo "core doc image" ;;
    net) echo "core doc audit meter github net" ;;
    substrate) echo "core doc profile audit meter net plan image substrate" ;;
    supervisor) echo "core doc profile plan store audit meter net image substrate supervisor" ;;
    fleet) echo "core doc plan store audit meter net image substrate supervisor fleet" ;;
    cli) echo "core doc profile config plan store audit meter net image substrate supervisor fleet agent secrets github cli" ;;
    *) echo "" ;;
  esac
}

# A module's public headers, relative to src/: always <m>/<m>.h and, for a submodule,
# <m>/<sub>/<sub>.h; then the ones listed here. A header is private unless it is one of these.
public() {
  local extra=""
  case "$1" in
    core) extra="beneath.h check.h clock.h duration.h fs.h log.h log_reader.h money.h random.h result.h rotating_file.h subprocess.h
                 strings.h sys.h timeline.h tree.h warning_pacer.h" ;;
    doc) extra="describe.h diagnostic.h json_io.h node.h pattern.h pcre2_handles.h yaml_io.h" ;;
    meter) extra="request.h" ;;
    store) extra="ledger.h agent_runs.h action_quotas.h" ;;
    github) extra="app.h" ;;
    image) extra="reference.h store.h choose.h unpack.h push.h pin.h" ;;
    profile) extra="types.h" ;;
    audit) extra="exec_audit.h redact.h" ;;
    net) extra="address.h host_rule.h link.h nflog.h nft.h resolution_table.h secret_file.h service.h sigv4.h bpf/gate.h dns/resolver.h" ;;
  esac
  echo "$1/$1.h"
  for h in $extra; do echo "$1/$h"; done
}
# Submodules that are implementations behind their module's header: all of their headers are
# private (substrate/local implements substrate/substrate.h).
private_subs() {
  case "$1" in
    substrate) echo "local" ;;
  esac
}
is_public() {  # is_public HEADER: module/…/name.h
  local m="${1%%/*}" rest="${1#*/}"
  for sub in $(private_subs "$m"); do
    case "$rest" in "$sub"/*) return 1 ;; esac
  done
  case "$rest" in
    */*/*) ;;
    */*) [ "${rest%%/*}.h" == "${rest#*/}" ] && return 0 ;;  # <m>/<sub>/<sub>.h
  esac
  case " $(public "$m" | tr '\n' ' ') " in
    *" $1 "*) return 0 ;;
  esac
  return 1
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
    where="${line%%:#*}"
    header="$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$line")"
    inc="${header%%/*}"
    case " $ok " in
      *" $inc "*) ;;
      *) echo "check-deps: $file includes \"$inc/...\" but $module may only use: $ok" >&2; status=1; continue ;;
    esac
    if [ "$inc" != "$module" ] && ! is_public "$header"; then
      echo "check-deps: $where includes \"$header\", which is private to $inc (its public" \
           "headers: $(public "$inc" | tr '\n' ' ')and each public submodule's $inc/<sub>/<sub>.h)" >&2
      status=1
    fi
  done < <(grep -rn '#include "[a-z_]*/' "$module" || true)
done

# A header listed as public must not call itself private (the two would disagree).
for dir in */; do
  for header in $(public "${dir%/}"); do
    if [ ! -f "$header" ]; then
      [ "$header" == "${dir%/}/${dir%/}.h" ] && continue  # <m>/<m>.h need not exist yet
      echo "check-deps: $header is listed as public in scripts/check-deps.sh but does not exist" >&2
      status=1
    elif head -3 "$header" | grep -qi "private to"; then
      echo "check-deps: $header is listed as public but says it is private" >&2
      status=1
    fi
  done
done
[ $status -eq 0 ] && echo "check-deps: module dependencies and public headers OK"
exit $status
