#!/usr/bin/env bash
# --json from every command that runs without a sandbox (each document parsed by
# python3 -m json.tool; failures as objects), and completion candidates: commands, each option
# once, profile names. (Sandboxes: tests/integration/cli_sandbox_test.sh.)
# Usage: bash cli_json_test.sh <path-to-km> [<path-to-shared>]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KM=${1:?usage: $0 <path-to-km> [<path-to-shared>]}
[[ -x $KM ]] || { echo "FAIL: km binary not found at $KM" >&2; exit 1; }
KM=$(realpath "$KM")

e2e_setup

write_cli_profiles  # lib/mine.yaml, lib/team/dev.yaml, lib/short.yaml (an invalid merge)

# --- --json: one shape, failures as objects --------------------------------------------
for args in "--version" "validate sealed" "validate sealed open-dev" "profile list" "profile show sealed" \
  "config show" "schema" "list" "doctor" "create sealed --dry-run"; do
  # shellcheck disable=SC2086  # words on purpose
  km --json $args
  json_tool
done
km --json validate sealed
json_check "$OUT" 'isinstance(d, list) and d[0]["file"] == "sealed" and d[0]["valid"]'
km --json --version
json_check "$OUT" 'd["version"].count(".") == 2'
km --json create ./missing.yaml
expect_rc 1
json_tool
json_check "$OUT" 'd["exitCode"] == 1' '"./missing.yaml" in d["error"]' 'd["validation"]["valid"] is False'
[[ -z $ERR ]] || fail "a JSON failure prints nothing on stderr, got: $ERR"
km --json create lib/short.yaml
expect_rc 1
json_tool
json_check "$OUT" 'd["validation"]["file"] == "lib/short.yaml"' \
  'any(e["path"] == "spec.lifecycle.ttl" for e in d["validation"]["errors"])' '"nothing was created" in d["error"]'
for cmd in status stop resume pause lock unlock destroy clone logs "extend nope 1h"; do
  # shellcheck disable=SC2086
  km --json $cmd nope
  [[ $RC -ne 0 ]] || fail "km --json $cmd nope succeeded"
  json_tool
  json_check "$OUT" 'd["exitCode"] in (1, 2)' '"nope" in d["error"]'
done
# Text that reaches the error object is escaped as on a terminal: no C1 control or bidi
# override passes through as UTF-8 (a sandbox's init output can be in a create's error).
km --json create "$(printf 'x\xe2\x80\xae\xc2\x9b.yaml')"
expect_rc 1
json_check "$OUT" 'all(ord(c) < 128 for c in d["error"])' '"\\u{202e}" in d["error"]' '"\\u{009b}" in d["error"]'
km --json list --bogus
expect_rc 2
json_check "$OUT" 'd["exitCode"] == 2' '"--bogus" in d["error"]'
km --json exec nope -- true
expect_rc 1
json_check "$OUT" '"nope" in d["error"]'
km --json profile migrate lib/mine.yaml -o "$TMP/copy.yaml"
expect_rc 0
json_check "$OUT" 'd == {"file": "lib/mine.yaml", "output": "'"$TMP"'/copy.yaml", "migrated": False}'

# --- completion candidates ----------------------------------------------------------------
km completion bash
expect_rc 0
printf '%s\n' "$OUT" >"$TMP/km.bash"
completions() {
  PATH="$(dirname "$KM"):$PATH" bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _km; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$TMP/km.bash" "$@"
}
[[ $(basename "$KM") == km ]] || fail "the completion test needs the binary to be named km"
CTX="completion"
has "$(completions km create "")" "sealed"
has "$(completions km create "")" "goose"
has "$(completions km --profile-path lib create m)" "mine"
has "$(completions km validate --profile-path lib t)" "team/dev"
lacks "$(completions km exec sb "")" "--root"  # after the sandbox: the command's files
has "$(completions km profile "")" "show"
lacks "$(completions km profile "")" "--help"  # options only for a word that starts with -
dup=$(completions km create -- | sort | uniq -d)
[[ -z $dup ]] || fail "options offered twice: $dup"
dup=$(completions km -- | sort | uniq -d)
[[ -z $dup ]] || fail "root options offered twice: $dup"
lacks "$(completions km create --dry-run --)" "--dry-run"
has "$(completions km create --dry-run --)" "--alias"
has "$(completions km exec -e A=1 --)" "--env"  # repeatable
lacks "$(completions km "")" "supervise"
has "$(completions km "")" "ls"
# zsh: the script installed as _km in $fpath (as make install does) completes on the very
# first Tab of a new shell, driven through a real terminal (zpty).
if command -v zsh >/dev/null 2>&1; then
  mkdir -p "$TMP/zfp" "$TMP/zhome"
  "$KM" completion zsh >"$TMP/zfp/_km"
  printf 'fpath=(%s $fpath)\nautoload -Uz compinit && compinit -u\nPS1="%%%% "\n' "$TMP/zfp" >"$TMP/zhome/.zshrc"
  cat >"$TMP/drive.zsh" <<'ZEOF'
zmodload zsh/zpty
zpty -b z "PATH=$1:\$PATH ZDOTDIR=$2 zsh -i"
zpty -w -n z $'km val\t'
sleep 2
zpty -w -n z $'\C-a: \C-e; echo "<$(fc -ln -1)>"\n'
sleep 1
out=""
while zpty -r -t z line; do out+="$line"; done
zpty -d z
print -r -- "$out"
ZEOF
  CTX="zsh first Tab"
  got=$(timeout 30 zsh -f "$TMP/drive.zsh" "$(dirname "$KM")" "$TMP/zhome" 2>&1 | tr -d '\r' || true)
  has "$got" "<: km validate"
else
  echo "SKIP: zsh is not installed (scripts/install-deps.sh installs it)"
fi

km completion sandboxes
expect_rc 0
[[ -z $OUT ]] || fail "no sandboxes in a fresh home, got: $OUT"
km completion profiles
has "$OUT" "sealed"

echo "PASS: cli_json"
