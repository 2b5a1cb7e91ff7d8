# Shared helpers for the e2e scripts (sourced, not run: the name does not match *_test.sh).
# Each script sets KM (the km binary, absolute) and, when it uses have_shared, SHARED.
# shellcheck shell=bash

# A scratch directory as cwd, with KM_HOME and HOME inside it, removed on exit.
e2e_setup() {
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  export KM_HOME=$TMP/home HOME=$TMP/user
  unset KM_CONFIG
  mkdir -p "$KM_HOME" "$HOME"
  cd "$TMP"
}

# The upstream reference profiles live in ../shared beside a checkout (CI has them); a bare
# clone runs everything else and says which checks it skipped.
have_shared() { [[ -n $SHARED && -d $SHARED/reference/profiles ]]; }

CTX=""
fail() { echo "FAIL [$CTX]: $*" >&2; exit 1; }
# km ARGS... → RC, OUT (stdout), ERR (stderr); never aborts the script.
km() {
  CTX="km $*"
  set +e
  "$KM" "$@" >"$TMP/.out" 2>"$TMP/.err"
  RC=$?
  set -e
  OUT=$(cat "$TMP/.out")
  ERR=$(cat "$TMP/.err")
}
expect_rc() { [[ $RC -eq $1 ]] || fail "exit $RC, want $1
--- stdout:
$OUT
--- stderr:
$ERR"; }
has() { grep -qF -- "$2" <<<"$1" || fail "expected to find '$2' in:
$1"; }
lacks() { ! grep -qF -- "$2" <<<"$1" || fail "did not expect '$2' in:
$1"; }
has_line() { grep -qE -- "$2" <<<"$1" || fail "expected a line matching /$2/ in:
$1"; }
line_of() { grep -nF -- "$2" "$1" | head -1 | cut -d: -f1; }
json_check() {  # json_check TEXT PYTHON-EXPR-ON-d... (one python3 run per document: it is slow to start)
  python3 - "$@" <<'PY' || fail "JSON check failed (see above)"
import json, sys
d = json.loads(sys.argv[1])
for expr in sys.argv[2:]:
    assert eval(expr), "false: " + expr
PY
}

json_tool() {  # the documented check: the whole of stdout is one JSON document
  python3 -m json.tool <<<"$OUT" >/dev/null || fail "stdout is not one JSON document:
$OUT"
}

# Profiles of the CLI tests, in ./lib of the scratch directory: mine (extends sealed),
# team/dev (a catalog name with a /), and short, whose merge does not validate (its ttl is
# shorter than the idle timeout it inherits).
write_cli_profiles() {
  mkdir -p lib/team
  cat >lib/mine.yaml <<'EOF'
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: mine
extends: sealed
spec:
  lifecycle:
    ttl: 2h
    idleTimeout: 30m
EOF
  cat >lib/team/dev.yaml <<'EOF'
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: dev
extends: sealed
EOF
  cat >lib/short.yaml <<'EOF'
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: short
extends: sealed
spec:
  lifecycle:
    ttl: 1m
    idleTimeout: 2h
EOF
}
