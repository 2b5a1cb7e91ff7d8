#!/usr/bin/env bash
# The command line against real sandboxes: --json from every sandbox command (each parsed by
# python3 -m json.tool), exec's shell-like 126/127, the profile's shell (used by km shell,
# refused at create when the sandbox lacks it), completion of ids and aliases, and the one
# line that says why a profile written for another OS fails its initCommands here.
source "$(dirname "$0")/lib.sh" "$@"
P="$FIXTURES/local-test.yaml"
W="$(mktemp -d /tmp/km-cli.XXXXXX)"
extra_cleanup() { rm -rf "$W"; }
cp "$P" "$W/local-test.yaml"  # the profiles below extend it from their own directory

json_tool() { python3 -m json.tool >/dev/null <<<"$1" || fail "$2: not one JSON document: $1"; }
check() {  # check JSON PYTHON-EXPR MESSAGE
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert eval(sys.argv[2]), d' "$1" "$2" >/dev/null 2>&1 ||
    fail "$3: $2 is false of: $1"
}

# --- --json from each sandbox command ----------------------------------------------------
out="$(km --json create --alias cli --ttl 4h "$P")"
json_tool "$out" "create --json"
check "$out" 'd["alias"] == "cli" and d["status"] == "running"' "create --json"
id="$(json_field id <<<"$out")"
for step in "pause:paused" "resume:running" "stop:stopped" "resume:running" "lock:running" "unlock:running"; do
  cmd="${step%%:*}" want="${step#*:}"
  out="$(km "$cmd" cli --json)"
  json_tool "$out" "$cmd --json"
  check "$out" "d['id'] == '$id' and d['status'] == '$want'" "$cmd --json"
done
out="$(km --json lock cli)"
check "$out" 'd["locked"] is True' "lock --json shows the lock"
km unlock cli >/dev/null
out="$(km --json extend cli 1h30m)"
json_tool "$out" "extend --json"
check "$out" 'd["ttlExpiry"] is not None' "extend --json"
out="$(km --json status cli)"
json_tool "$out" "status --json"
out="$(km --json list)"
json_tool "$out" "list --json"
check "$out" "isinstance(d, list) and [s['id'] for s in d] == ['$id']" "list --json"
out="$(km --json clone cli --count 2 --alias twin)"
json_tool "$out" "clone --count 2 --json"
check "$out" "isinstance(d, list) and len(d) == 2 and all(c['clonedFrom'] == '$id' for c in d)" "clone --json"
out="$(km --json clone cli --alias solo)"
check "$out" "isinstance(d, list) and len(d) == 1 and d[0]['alias'] == 'solo'" "clone --json (one clone: still an array)"
out="$(km --json destroy --yes solo)"
json_tool "$out" "destroy --json"
check "$out" 'd["status"] == "destroyed" and d["id"].startswith("kt-")' "destroy --json"
out="$(km --json doctor || true)"
json_tool "$out" "doctor --json"
out="$(km --json logs cli || true)"
while IFS= read -r line; do
  [ -z "$line" ] || json_tool "$line" "logs --json line"
done <<<"$out"
# A failure in JSON mode is one object on stdout, with the exit status it would have had.
set +e
out="$(km --json pause nope 2>"$W/err")"
rc=$?
set -e
expect_eq "$rc" 1 "pause of a missing sandbox exits 1"
json_tool "$out" "error object"
check "$out" '"nope" in d["error"] and d["exitCode"] == 1' "error object"
expect_eq "$(cat "$W/err")" "" "nothing on stderr with the error object"

# --- exec: 127 not found, 126 not executable, as shells say ------------------------------
set +e
km exec cli -- no-such-command-here 2>"$W/err"
rc=$?
set -e
expect_eq "$rc" 127 "a command that is not there exits 127"
expect_contains "$(cat "$W/err")" "no-such-command-here: command not found in the sandbox" "127 message"
set +e
km exec cli -- /etc/km-test.conf 2>"$W/err"
rc=$?
km exec cli -- /workspace 2>/dev/null
rc_dir=$?
km exec cli -- sh -c 'exit 126'
rc_own=$?
km exec cli -- sh -c 'printf "#!/no/such/interpreter\n" > /workspace/s; chmod +x /workspace/s'
km exec cli -- /workspace/s 2>"$W/interp"
rc_interp=$?
set -e
expect_eq "$rc" 126 "a file that is not executable exits 126"
expect_contains "$(cat "$W/err")" "cannot execute" "126 message"
expect_eq "$rc_dir" 126 "a directory exits 126"
expect_eq "$rc_own" 126 "the command's own status passes through"
expect_eq "$rc_interp" 126 "a script whose interpreter is missing exits 126"
expect_contains "$(cat "$W/interp")" "/workspace/s: bad interpreter" "bad interpreter message"

# --- completion offers this home's sandboxes ---------------------------------------------
cands="$(km completion sandboxes)"
expect_contains "$cands" "$id" "completion lists the id"
expect_contains "$cands" "cli" "completion lists the alias"
expect_contains "$cands" "twin-1" "completion lists the clones' aliases"
"$KM" completion bash >"$W/km.bash"
got="$(PATH="$(dirname "$KM"):$PATH" bash -c 'source "$1"; COMP_WORDS=(km status tw); COMP_CWORD=2; _km; printf "%s\n" "${COMPREPLY[@]}"' _ "$W/km.bash")"
expect_eq "$(sort <<<"$got" | tr '\n' ' ')" "twin-1 twin-2 " "bash completes aliases for a sandbox argument"

# --- the profile's shell ------------------------------------------------------------------
cat >"$W/sh.yaml" <<EOF
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: with-sh
  prefix: ks
extends: local-test
spec:
  execution:
    shell: /usr/local/bin/km-test-shell
    initCommands:
      - "ln -sf /bin/sh /usr/local/bin/km-test-shell"
      - "printf 'last-init-line-without-newline'"
EOF
sb="$(km create --alias withsh "$W/sh.yaml")"
# A last line without its newline is still shown (nothing will complete it).
expect_contains "$(km logs withsh --init)" "last-init-line-without-newline" "km logs --init shows an unterminated last line"
expect_contains "$(km --json logs withsh --init | tail -1)" '{"line":"last-init-line-without-newline"}' "and as JSON"
expect_eq "$(echo 'echo "shell=$0"' | km shell withsh)" "shell=/usr/local/bin/km-test-shell" "km shell starts the profile's shell"
km destroy --yes "$sb" >/dev/null
sed -e 's|shell: .*|shell: /bin/km-no-such-shell|' -e '/initCommands/,$d' "$W/sh.yaml" >"$W/noshell.yaml"
before="$(ids | sort | tr '\n' ' ')"
set +e
km create "$W/noshell.yaml" >"$W/out" 2>"$W/err"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "create with a shell the sandbox lacks succeeded"
expect_contains "$(cat "$W/err")" "spec.execution.shell /bin/km-no-such-shell" "the create error names the shell"
expect_eq "$(ids | sort | tr '\n' ' ')" "$before" "no sandbox is left by the refused create"

# --- a profile written for another OS --------------------------------------------------------
if ! command -v yum >/dev/null && ! command -v dnf >/dev/null; then
  cat >"$W/al.yaml" <<EOF
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: al2023
  prefix: ka
extends: local-test
spec:
  runtime:
    ami: amazon-linux-2023
  execution:
    initCommands:
      - "yum install -y git"
EOF
  set +e
  km create "$W/al.yaml" >"$W/out" 2>"$W/err"
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "an AL2023 profile was created without its OS image"
  expect_eq "$(wc -l <"$W/err")" 1 "one error line"
  expect_contains "$(cat "$W/err")" "runtime.ami amazon-linux-2023" "the error names the profile's OS"
  expect_contains "$(cat "$W/err")" "km image pull docker.io/library/amazonlinux:2023" "the error says what to pull"
  expect_eq "$(ids | sort | tr '\n' ' ')" "$before" "no sandbox is left by the refused create"
  # Without runtime.ami, a package manager the host lacks means upstream's default OS.
  sed -i '/ami: amazon-linux-2023/d; /^  runtime:$/d' "$W/al.yaml"
  set +e
  km create "$W/al.yaml" >"$W/out" 2>"$W/err"
  set -e
  expect_contains "$(cat "$W/err")" "initCommands call yum, which this host lacks" "the error says why an image is needed"
  # A profile whose init commands fail for their own reasons is not sent to an image.
  cat >"$W/own.yaml" <<EOF
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: own-failure
  prefix: ko
extends: local-test
spec:
  execution:
    initCommands:
      - "exit 3"
EOF
  set +e
  km create "$W/own.yaml" >"$W/out" 2>"$W/err"
  set -e
  if grep -q 'image' "$W/err"; then fail "an image named for a failure that is not the OS's: $(cat "$W/err")"; fi
fi

echo "PASS: cli_sandbox"
