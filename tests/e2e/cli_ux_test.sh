#!/usr/bin/env bash
# The command line as a new user meets it: global flags after the command, unknown and
# not-yet commands, the `--` hint for exec, files versus names, profile show of an invalid
# merge, durations, create -o without --dry-run. (--json and completion: cli_json_test.sh.)
# Usage: bash cli_ux_test.sh <path-to-km> [<path-to-shared>]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KM=${1:?usage: $0 <path-to-km> [<path-to-shared>]}
[[ -x $KM ]] || { echo "FAIL: km binary not found at $KM" >&2; exit 1; }
KM=$(realpath "$KM")

e2e_setup

write_cli_profiles  # lib/mine.yaml, lib/team/dev.yaml, lib/short.yaml (an invalid merge)

# --- global flags before, after and between the command's arguments -------------------
km validate --profile-path lib mine
expect_rc 0
has "$OUT" "mine: valid"
km validate mine --profile-path lib
expect_rc 0
km validate --profile-path lib mine team/dev
expect_rc 0
has "$OUT" "team/dev: valid"
km --profile-path lib --profile-path "$TMP" validate mine
expect_rc 0
km validate --profile-path "$TMP/nowhere" sealed
expect_rc 2
has "$ERR" "--profile-path $TMP/nowhere: no such directory"
km validate --profile-path lib/mine.yaml sealed
expect_rc 2
has "$ERR" "not a directory"
km list --home "$TMP/h2" --json
expect_rc 0
json_tool

# --- unknown commands, commands upstream has, the -- hint ------------------------------
km crate x.yaml
expect_rc 2
has "$ERR" 'no command "crate"; did you mean "create"?'
lacks "$ERR" "x.yaml"
km statsu sb
expect_rc 2
has "$ERR" 'did you mean "status"?'
km frobnicate
expect_rc 2
has "$ERR" 'no command "frobnicate"'
lacks "$ERR" "did you mean"
km at 'every day at 11pm' kill dev
expect_rc 2
has "$ERR" '"at" is a command of upstream'"'"'s km that this km does not have yet'
lacks "$ERR" "destroy"
km slack status dev
expect_rc 2
has "$ERR" '"slack" is a command of upstream'
km --json crate x.yaml
expect_rc 2
json_tool
json_check "$OUT" 'd["exitCode"] == 2' '"did you mean" in d["error"]'
km exec dev ls -la
expect_rc 2
has "$ERR" "km exec dev -- ls -la"
km exec -e A=1 dev ls -la
expect_rc 2
has "$ERR" "km exec -e A=1 dev -- ls -la"
km exec dev -- ls -la  # with the -- it parses: what fails is the missing sandbox
expect_rc 1
lacks "$ERR" "hint:"

# --- files and names --------------------------------------------------------------------
km validate ./missing.yaml
expect_rc 1
has "$ERR" "no profile file ./missing.yaml (looked for ./missing.yaml)"
lacks "$ERR" ".yaml.yaml"
lacks "$ERR" "profiles/./"
km --profile-path lib validate mine.yaml  # a bare file name: the cwd, then the search path
expect_rc 0
has "$OUT" "mine.yaml: valid"
km --profile-path lib validate missing.yml
expect_rc 1
has "$ERR" "lib/missing.yml"
lacks "$ERR" "missing.yml.yaml"
km --profile-path lib validate nosuch
expect_rc 1
has "$ERR" "lib/nosuch.yaml"
lacks "$ERR" "nosuch.yaml.yaml"
cp lib/mine.yaml ./here.yaml
km validate here.yaml
expect_rc 0
mkdir -p sub && cp lib/team/dev.yaml sub/p.yml
km --profile-path lib validate sub/p.yml ./sub/p.yml "$TMP/sub/p.yml"
expect_rc 0
km validate ./team/dev  # explicit paths are only that path
expect_rc 1
has "$ERR" "check the path"

# --- profile show --resolved of a merge that does not validate -------------------------
km --profile-path lib profile show --resolved short
expect_rc 1
has "$OUT" "name: short"
has "$OUT" "ttl: 1m"
has "$ERR" "spec.lifecycle.ttl"
has "$ERR" "not valid"
km --profile-path lib profile show --resolved -o json short
expect_rc 1
json_tool
json_check "$OUT" 'd["spec"]["lifecycle"]["ttl"] == "1m"'
km --profile-path lib --json profile show --resolved short
expect_rc 1
json_tool
json_check "$OUT" 'd["exitCode"] == 1' 'd["document"]["metadata"]["name"] == "short"' \
  'd["validation"]["valid"] is False' 'any(e["path"] == "spec.lifecycle.ttl" for e in d["validation"]["errors"])'

# --- durations ----------------------------------------------------------------------------
km create sealed --dry-run --json --ttl 1h30m --idle 45m
expect_rc 0
json_check "$OUT" 'd["ttlSeconds"] == 5400' 'd["idleTimeoutSeconds"] == 2700'
km create sealed --dry-run --json --ttl 1.5h --idle 90s
expect_rc 0
json_check "$OUT" 'd["ttlSeconds"] == 5400' 'd["idleTimeoutSeconds"] == 90'
km create sealed --dry-run --json --ttl 2d
expect_rc 0
json_check "$OUT" 'd["ttlSeconds"] == 172800'
for bad in 99999999999d 3000000h -1h "1h 30m" 5x h 1..5h; do
  km create sealed --dry-run --ttl "$bad"
  expect_rc 2
  has "$ERR" "--ttl"
  lacks "$OUT" "ttlExpiry"
done
km create sealed --dry-run --ttl 99999999999d
has "$ERR" "too long"
km extend nope 1h30m  # parsed, then the sandbox is missing
expect_rc 1
has "$ERR" "no sandbox"
km extend nope 99999999999d
expect_rc 2
has "$ERR" "too long"
km create sealed -o json
expect_rc 2
has "$ERR" "--dry-run"

echo "PASS: cli_ux"
