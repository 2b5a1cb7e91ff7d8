#!/usr/bin/env bash
# km's command surface: --version, help, usage errors (exit 2 with a hint), schema and
# shell completion. Usage: bash cli_basics_test.sh <path-to-km> <path-to-shared>
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KM=${1:?usage: $0 <path-to-km> <path-to-shared>}
[[ -x $KM ]] || { echo "FAIL: km binary not found at $KM" >&2; exit 1; }
KM=$(realpath "$KM")

e2e_setup

# --version
km --version
expect_rc 0
[[ $OUT =~ ^km\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "version line looks wrong: $OUT"

# help, in its three spellings
km help
expect_rc 0
has "$OUT" "Usage: km [OPTIONS]"
for c in validate profile schema config completion; do has "$OUT" "$c"; done
km --help
expect_rc 0
has "$OUT" "Usage: km [OPTIONS]"
km help validate
expect_rc 0
has "$OUT" "Usage: km validate"
has "$OUT" "FILE|NAME"
km validate --help
expect_rc 0
has "$OUT" "Usage: km validate"
has "$OUT" "Exit status 1"
km help profile show
expect_rc 0
has "$OUT" "Usage: km profile show"
has "$OUT" "--resolved"

# A named command gets only its own options declared (faster start); global options before
# it (with their values), aliases and help must still work as with the whole table.
km --home "$TMP/h" --config "$TMP/missing.yaml" --profile-path "$TMP" help validate
expect_rc 0
has "$OUT" "Usage: km validate"
km --home="$TMP/h" create --help
expect_rc 0
has "$OUT" "Usage: km create"
has "$OUT" "--dry-run"
km --home "$TMP/h" ls --json
expect_rc 0
has "$OUT" "["
km --home "$TMP/h" list --bogus
expect_rc 2
has "$ERR" "--bogus"
has "$ERR" "km list --help"
km --json validate  # in JSON mode the usage error is an object on stdout
expect_rc 2
has "$OUT" "km validate --help"
json_check "$OUT" 'd["exitCode"] == 2' '"profiles is required" in d["error"]'
# An option's value that happens to be a command's name is still the value.
pushd "$TMP" >/dev/null
km --home create list
expect_rc 0
has "$OUT" "SANDBOX ID"
popd >/dev/null

# usage errors: exit 2 and a hint on stderr
km frobnicate
expect_rc 2
has "$ERR" "frobnicate"
has "$ERR" "km --help"
km validate --bogus-flag x.yaml
expect_rc 2
has "$ERR" "--bogus-flag"
has "$ERR" "km validate --help"
km --no-such-global validate x.yaml
expect_rc 2
has "$ERR" "--no-such-global"
km validate
expect_rc 2
has "$ERR" "km validate --help"
km profile
expect_rc 2
has "$ERR" "km profile --help"
km help nope
expect_rc 2
has "$ERR" "nope"
km completion fish
expect_rc 2
has "$ERR" "fish"
km profile show sealed -o xml
expect_rc 2
km
expect_rc 2
has "$OUT" "Usage: km"

# schema: valid JSON with $schema; `schema config` too; neither needs a config file
km --config "$TMP/missing.yaml" schema
expect_rc 0
# shellcheck disable=SC2016  # "$schema" is a JSON key, not a shell variable
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert "$schema" in d, d.keys(); assert "spec" in d["properties"]' "$OUT" ||
  fail "km schema is not a JSON Schema"
km schema config
expect_rc 0
# shellcheck disable=SC2016
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert "$schema" in d' "$OUT" || fail "km schema config is not JSON"
km schema nonsense
expect_rc 2

# completion: bash script parses and completes commands and subcommands
km completion bash
expect_rc 0
printf '%s\n' "$OUT" >"$TMP/km.bash"
bash -n "$TMP/km.bash" || fail "bash completion script has syntax errors"
has "$OUT" "validate"
has "$OUT" "profile"
has "$OUT" "complete "
completions() {  # words... → the completion candidates for the last word
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _km; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$TMP/km.bash" "$@"
}
CTX="bash completion"
has "$(completions km val)" "validate"
has "$(completions km profile s)" "show"
lacks "$(completions km profile s)" "validate"
has "$(completions km --json profile "")" "list"
has "$(completions km validate --)" "--help"

km completion zsh
expect_rc 0
has "$OUT" "#compdef km"
has "$OUT" "validate"
if command -v zsh >/dev/null 2>&1; then
  printf '%s\n' "$OUT" >"$TMP/_km"
  zsh -n "$TMP/_km" || fail "zsh completion script has syntax errors"
fi

echo "PASS: cli_basics"
