#!/usr/bin/env bash
# km profile list|show and km config show end to end: built-in listing, resolved output,
# and where the operator config comes from (--config, KM_CONFIG, $KM_HOME/config.yaml).
# Usage: bash profile_config_test.sh <path-to-km> <path-to-shared>
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KM=${1:?usage: $0 <path-to-km> <path-to-shared>}
SHARED=${2:-}
[[ -x $KM ]] || { echo "FAIL: km binary not found at $KM" >&2; exit 1; }
KM=$(realpath "$KM")
if have_shared; then SHARED=$(realpath "$SHARED"); else echo "SKIP: no reference profiles under '$SHARED'; skipping the checks that need them"; fi
LIB=$SHARED/reference/profiles/library

e2e_setup

# profile list: the 8 built-ins in upstream's order, all valid -------------------------------
km profile list
expect_rc 0
names=$(awk 'NR > 1 { print $1 }' <<<"$OUT" | tr '\n' ' ')
[[ $names == "open-dev restricted-dev hardened sealed goose ao codex learn " ]] ||
  fail "built-ins listed as: $names"
has_line "$OUT" '^sealed +built-in +1h +30m +proxy +valid$'
has_line "$OUT" '^open-dev +built-in +24h'
km --json profile list
expect_rc 0
json_check "$OUT" '[p["name"] for p in d] == "open-dev restricted-dev hardened sealed goose ao codex learn".split()' \
  'all(p["status"] == "valid" and p["source"] == "built-in" for p in d)' \
  '{p["name"]: p["ttl"] for p in d}["hardened"] == "4h"'

# with a search path, files are listed after the built-ins; fragments show as abstract
if have_shared; then
km --profile-path "$LIB" --json profile list
expect_rc 0
json_check "$OUT" 'len([p for p in d if not p["name"].startswith("checks/")]) == 8 + 15 + 8' \
  '{p["name"]: p["status"] for p in d}["base/platform"] == "abstract"' \
  '{p["name"]: p["status"] for p in d}["learner"] == "valid"'
# (checks/ holds a km-config snippet, not a profile: listed, but not as valid)
json_check "$OUT" 'all(p["status"] in ("valid", "abstract") for p in d if not p["name"].startswith("checks/"))'
fi

# profile show ------------------------------------------------------------------------------
km profile show sealed
expect_rc 0
has "$OUT" "name: sealed"
has "$OUT" "allowedHosts:"
km profile show sealed --resolved -o json
expect_rc 0
json_check "$OUT" 'd["spec"]["network"]["enforcement"] == "proxy"' \
  'd["metadata"]["prefix"] == "sb"' \
  'd["spec"]["network"]["egress"]["allowedHosts"] == [] or "allowedHosts" not in d["spec"]["network"]["egress"]' \
  'd["spec"]["runtime"]["vscode"]["enabled"] is True'
km --json profile show sealed
expect_rc 0
json_check "$OUT" 'd["metadata"]["name"] == "sealed"'

# a resolved library leaf: extends gone, bases merged, defaults filled
if have_shared; then
km --profile-path "$LIB" profile show learner --resolved -o json
expect_rc 0
json_check "$OUT" '"extends" not in d' \
  '"abstract" not in d["metadata"]' \
  'd["spec"]["runtime"]["ami"] == "amazon-linux-2023"' \
  'd["spec"]["execution"]["initCommands"][0].startswith("yum install")' \
  'd["spec"]["network"]["egress"]["allowedHosts"] == ["*"]' \
  'd["spec"]["budget"]["compute"]["maxSpendUSD"] == 10'
# unresolved: as written, extends kept
km --profile-path "$LIB" --json profile show learner
expect_rc 0
json_check "$OUT" 'len(d["extends"]) == 5'
km --profile-path "$LIB" profile show base/platform --resolved
expect_rc 1
has "$ERR" "abstract"
fi
km profile show no-such-profile
expect_rc 1
grep -qiE 'not found|no profile' <<<"$ERR" || fail "missing profile message: $ERR"

# config show -------------------------------------------------------------------------------
km config show  # no config anywhere: all defaults
expect_rc 0
has "$OUT" "defaultSubstrate: local"
has "$OUT" "./profiles"
# shellcheck disable=SC2088  # km prints the default literally, tilde and all
has "$OUT" "~/.km/profiles"
has "$OUT" "10.213.0.0/16"

cat >"$TMP/site.yaml" <<'EOF'
defaultSubstrate: docker
profileSearchPaths:
  - /srv/km/profiles
network:
  subnetPool: 10.50.0.0/16
EOF
km --config "$TMP/site.yaml" --json config show
expect_rc 0
json_check "$OUT" 'd["defaultSubstrate"] == "docker"' \
  'd["profileSearchPaths"] == ["/srv/km/profiles"]' \
  'd["network"]["subnetPool"] == "10.50.0.0/16"'

CTX="KM_CONFIG"
set +e
OUT=$(KM_CONFIG=$TMP/site.yaml "$KM" config show 2>"$TMP/.err")
RC=$?
set -e
ERR=$(cat "$TMP/.err")
expect_rc 0
has "$OUT" "defaultSubstrate: docker"

cp "$TMP/site.yaml" "$KM_HOME/config.yaml"  # the default location under KM_HOME
km config show
expect_rc 0
has "$OUT" "/srv/km/profiles"
km --home "$TMP/elsewhere" config show  # --home moves the default location
expect_rc 0
has "$OUT" "defaultSubstrate: local"
rm "$KM_HOME/config.yaml"

km --config "$TMP/missing.yaml" config show
expect_rc 1
has "$ERR" "$TMP/missing.yaml"
grep -qiE 'no such file|not found|missing' <<<"$ERR" || fail "unclear missing-config message: $ERR"
km --config "$TMP/missing.yaml" validate sealed  # commands that need the config fail too
expect_rc 1

cat >"$TMP/broken.yaml" <<'EOF'
defaultSubstrate: mainframe
network:
  subnetPool: 10.50.0.0/30
surprise: 1
EOF
km --config "$TMP/broken.yaml" config show
expect_rc 1
has_line "$ERR" '^ERROR: .*broken\.yaml:1:[0-9]+: defaultSubstrate: '
has_line "$ERR" '^ERROR: .*broken\.yaml:3:[0-9]+: network\.subnetPool: '
has_line "$ERR" '^ERROR: .*broken\.yaml:4:1: surprise: .*unknown field'

printf 'network: [unclosed\n' >"$TMP/syntax.yaml"
km --config "$TMP/syntax.yaml" config show
expect_rc 1
has_line "$ERR" '^ERROR: .*syntax\.yaml:[0-9]+:[0-9]+: '

echo "PASS: profile_config"
