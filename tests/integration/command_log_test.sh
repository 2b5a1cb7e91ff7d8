#!/usr/bin/env bash
# The command log: every program executed in a sandbox — by km exec, a script, its children,
# a root shell, the init commands — is recorded with pid/ppid inside, uid, argv, cwd and its
# exit; secrets are redacted (patterns and the profile's secret env values); nothing run on
# the host appears; control bytes never reach the terminal; an exec storm is recorded or
# counted as lost, never silently dropped; the audit resumes with the sandbox; km logs merges
# commands with the rest in time order.
source "$(dirname "$0")/lib.sh" "$@"
P="$KM_HOME/profile.yaml"
TOKEN="ghp_CommandLogTest0123456789abcdefghijklmn"
ENV_SECRET="plain-secret-value-$$"
python3 - "$FIXTURES/local-test.yaml" "$P" "$TOKEN" "$ENV_SECRET" <<'EOF'
import sys
src, dst, token, env_secret = sys.argv[1:]
text = open(src).read().replace("      KM_TEST_ENV: hello\n",
    "      KM_TEST_ENV: hello\n      GITHUB_TOKEN: %s\n      DEPLOY_PASSWORD: %s\n" % (token, env_secret))
text = text.replace("      pids: 128", "      pids: 256")
open(dst, "w").write(text)
EOF

sb="$(km create --alias cmdlog "$P")"
sb2="$(km create --alias cmdlog2 "$P")"
# A script that starts children; a marker per command so each is found.
km exec cmdlog -- sh -c 'mkdir -p /tmp/w/deep && cat > /tmp/w/run.sh <<"S"
#!/bin/sh
cd /tmp/w/deep
/bin/echo script-child-marker
sh -c "/bin/echo grandchild-marker; exit 3"
exit 0
S
chmod +x /tmp/w/run.sh' >/dev/null
km exec cmdlog -- /tmp/w/run.sh >/dev/null
km exec --root cmdlog -- /bin/sh -c '/usr/bin/id -u >/dev/null; /bin/echo root-marker' >/dev/null
# Secrets on command lines: a token pattern, a password in a URL, the profile's values.
km exec cmdlog -- /bin/echo "token=$TOKEN" "https://u:pw-in-url-123@git.example/r" "$ENV_SECRET" \
  "--api-key" "flag-secret-value" >/dev/null
# Control bytes in an argument, and a long directory.
km exec cmdlog -- /bin/echo $'esc-marker\x1b[31m\x07' >/dev/null
deep="/tmp/$(printf 'd%.0s/' $(seq 1 60))"
km exec cmdlog -- sh -c "mkdir -p $deep && cd $deep && /bin/true deep-marker" >/dev/null
# A name padded past what is kept, and a copy of sh named ls: the file's own path says what ran.
km exec cmdlog -- python3 -c 'import os; os.execv("/" + "./" * 300 + "bin/true", ["true", "pad-marker"])' >/dev/null
km exec cmdlog -- sh -c 'mkdir -p /tmp/F/bin && cp /bin/dash /tmp/F/bin/ls && cd /tmp/F/bin && ./ls -c "echo lookalike-marker"' >/dev/null
km exec cmdlog -- sh -c 'sleep 30 & echo $! > /tmp/sleeper; wait' >/dev/null &
sleeper=$!
for _ in $(seq 1 50); do km exec cmdlog -- test -s /tmp/sleeper 2>/dev/null && break; sleep 0.1; done
km exec --root cmdlog -- sh -c 'kill -9 "$(cat /tmp/sleeper)"' >/dev/null
wait "$sleeper" || true
# The host runs a program of its own meanwhile: never in the sandbox's log.
/bin/echo "host-marker-$$" >/dev/null
sleep 0.5  # the audit reads every 100 ms

log="$KM_HOME/commands.json"
km logs cmdlog --commands --json > "$log"
python3 - "$log" "$TOKEN" "$ENV_SECRET" "$$" <<'EOF' || fail "command log: see above; log: $(cat "$log")"
import json, sys
path, token, env_secret, mypid = sys.argv[1:]
recs = [json.loads(l) for l in open(path)]
execs = [r for r in recs if r["layer"] == "exec"]
exits = {r["hostPid"]: r for r in recs if r["layer"] == "exit"}
def find(marker):
    hits = [r for r in execs if any(marker in a for a in r["argv"])]
    assert hits, "no exec with %r in %s" % (marker, [r["argv"] for r in execs])
    return hits[0]
raw = open(path).read()
assert token not in raw and env_secret not in raw, "a secret was written"
assert "pw-in-url-123" not in raw and "flag-secret-value" not in raw, "a secret was written"
assert "host-marker-" + mypid not in raw, "a host command was recorded"
# The init command ran as root at create.
init = find("init-ran")
assert init["uid"] == 0 and init["argv"][0].endswith("bash"), init
# The script, its child and grandchild: parents chain inside the sandbox's pid namespace.
script = [r for r in execs if r["path"] == "/tmp/w/run.sh"][0]
child = [r for r in execs if r["argv"] == ["/bin/echo", "script-child-marker"]][0]
grand_sh = [r for r in execs if r["argv"] == ["sh", "-c", "/bin/echo grandchild-marker; exit 3"]][0]
grand = [r for r in execs if r["argv"] == ["/bin/echo", "grandchild-marker"]][0]
assert script["argv"] == ["/bin/sh", "/tmp/w/run.sh"], script  # a #! script: its interpreter's line
assert child["ppid"] == script["pid"] and grand_sh["ppid"] == script["pid"] and grand["ppid"] == grand_sh["pid"], (script, child, grand_sh, grand)
assert child["cwd"] == "/tmp/w/deep", child
assert 0 < script["pid"] < 1000, script  # a pid inside, not the host's
assert script["hostPid"] != script["pid"]
assert exits[grand_sh["hostPid"]]["status"] == 3, exits.get(grand_sh["hostPid"])
assert exits[script["hostPid"]]["status"] == 0
# Root: uid 0.
root = find("root-marker")
assert root["uid"] == 0, root
assert child["uid"] != 0, child
# Redacted in place, the rest kept.
sec = [r for r in execs if r["argv"][0] == "/bin/echo" and r["argv"][1].startswith("token=")][0]
assert sec["argv"] == ["/bin/echo", "token=[REDACTED]", "https://u:[REDACTED]@git.example/r", "[REDACTED]",
                       "--api-key", "[REDACTED]"], sec["argv"]
# The long directory is cut and says so.
deep = [r for r in execs if r["argv"] == ["/bin/true", "deep-marker"]][0]
assert deep["truncated"] and deep["cwd"].startswith(".../d/d/"), deep
# The file's own path, whatever name the caller used.
assert child["exe"] == "/usr/bin/echo", child
assert script["exe"] == "/usr/bin/dash" and script["path"] == "/tmp/w/run.sh", script  # a script: its interpreter ran
pad = [r for r in execs if r["argv"] == ["true", "pad-marker"]][0]
assert pad["path"].endswith("...") and pad["truncated"] and pad["exe"] == "/usr/bin/true", pad
look = [r for r in execs if r["argv"][:2] == ["./ls", "-c"]][0]
assert look["exe"] == "/tmp/F/bin/ls", look
# The killed sleeper: signal 9.
sleeps = [r for r in execs if r["argv"][:2] == ["sleep", "30"]]
assert sleeps and exits[sleeps[0]["hostPid"]].get("signal") == 9, (sleeps, exits)
print("ok: %d execs, %d exits" % (len(execs), len(exits)))
EOF

# Text output: control bytes escaped, never raw; the file that ran is shown.
text="$(km logs cmdlog --commands)"
expect_contains "$text" "./ls -c 'echo lookalike-marker'  (/tmp/F/bin/ls)" "the look-alike's own path in the text view"
expect_contains "$text" 'esc-marker\x1b[31m\x07' "control bytes shown escaped"
grep -q $'\x1b' <<<"$text" && fail "an escape byte reached km logs --commands"
# The merged view has commands among the events and supervisor lines.
merged="$(km logs cmdlog)"
expect_contains "$merged" "event    created" "merged view: events"
expect_contains "$merged" "exec     [pid" "merged view: commands"
km --json logs cmdlog | python3 -c 'import json,sys
kinds = {(d["source"], d.get("kind")) for d in map(json.loads, sys.stdin)}
assert ("commands", "exec") in kinds and ("event", "created") in kinds, kinds' || fail "merged --json"

# An exec storm (bounded): every exec is recorded, or counted in a gap record.
km exec cmdlog -- sh -c 'i=0; while [ $i -lt 3000 ]; do /bin/true storm-marker; i=$((i+1)); done' >/dev/null
sleep 0.5
km logs cmdlog --commands --json | python3 -c 'import json,sys
recs = [json.loads(l) for l in sys.stdin]
storm = sum(1 for r in recs if r["layer"] == "exec" and r["argv"] == ["/bin/true", "storm-marker"])
lost = sum(r["count"] for r in recs if r["layer"] == "gap")
assert storm + lost >= 3000, (storm, lost)
print("storm: %d recorded, %d lost" % (storm, lost))' || fail "exec storm"

# Two sandboxes share the host's programs, each with a ring of its own: neither sees the
# other's commands.
km exec cmdlog2 -- /bin/echo second-sandbox-marker >/dev/null
sleep 0.5
log1="$(km logs cmdlog --commands)"
log2="$(km logs cmdlog2 --commands)"
expect_contains "$log2" "second-sandbox-marker" "the second sandbox's command log"
expect_not_contains "$log1" "second-sandbox-marker" "one sandbox's command in another's log"
expect_not_contains "$log2" "script-child-marker" "one sandbox's command in another's log"
# The registrations, by cgroup id (the inode of the sandbox's cgroup2 directory).
v2_dir() { find /sys/fs/cgroup -mindepth 4 -maxdepth 7 -type d -path "*/km/$(km_home_tag)/$1/sandbox" 2>/dev/null |
  while read -r d; do [ "$(stat -f -c %T "$d")" = cgroup2fs ] && echo "$d"; done | head -1; }
registered() {  # whether cgroup id $1 is in the exec audit's sandboxes map
  for m in /sys/fs/bpf/km/exec-audit-*/sandboxes; do
    [ -e "$m" ] || continue
    bpftool -j map dump pinned "$m" | python3 -c 'import json,sys
want = int(sys.argv[1])
for e in json.load(sys.stdin):
    k = e.get("formatted", e)["key"]
    if isinstance(k, list): k = int.from_bytes(bytes(int(b, 16) for b in k), "little")
    if int(k) == want: sys.exit(0)
sys.exit(1)' "$1" && return 0
  done
  return 1
}
id1="$(stat -c %i "$(v2_dir "$sb")")"
id2="$(stat -c %i "$(v2_dir "$sb2")")"
registered "$id1" || fail "the first sandbox is registered with the exec audit"
registered "$id2" || fail "the second sandbox is registered with the exec audit"
[ "$(bpftool prog list | grep -c 'name km_on_exec')" -ge 1 ] || fail "the audit program is loaded"
# Destroyed without its supervisor (killed first): its registration goes with its cgroup; the
# other sandbox is still audited.
sup2="$(km status --json cmdlog2 | json_field supervisor.pid)"
kill -9 "$sup2"
for _ in $(seq 1 50); do kill -0 "$sup2" 2>/dev/null || break; sleep 0.1; done
km destroy --yes cmdlog2 >/dev/null
registered "$id2" && fail "a destroyed sandbox's registration stays"
registered "$id1" || fail "the other sandbox's registration went with it"
km exec cmdlog -- /bin/echo still-audited-marker >/dev/null
sleep 0.5
expect_contains "$(km logs cmdlog --commands)" "still-audited-marker" "the audit of the remaining sandbox"

# Stopped and resumed: a new supervisor audits again.
km stop cmdlog >/dev/null
km resume cmdlog >/dev/null
km exec cmdlog -- /bin/echo after-resume-marker >/dev/null
sleep 0.5
expect_contains "$(km logs cmdlog --commands)" "after-resume-marker" "the audit after resume"

# Its supervisor killed: km exec still runs, but says nothing records it; doctor --fix
# brings a supervisor (and the audit) back.
sup="$(km status --json cmdlog | json_field supervisor.pid)"
kill -9 "$sup"
for _ in $(seq 1 50); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
err="$(km exec cmdlog -- /bin/echo unsupervised-marker 2>&1 >/dev/null)"
expect_contains "$err" "has no supervisor running: commands are not audited" "km exec warns without a supervisor"
km doctor --fix >/dev/null
err="$(km exec cmdlog -- /bin/echo readopted-marker 2>&1 >/dev/null)"
expect_eq "$err" "" "no warning once a supervisor runs again"
sleep 0.5
expect_contains "$(km logs cmdlog --commands)" "readopted-marker" "the audit after km doctor --fix"

id1="$(stat -c %i "$(v2_dir "$sb")")"  # a new cgroup since the resume
registered "$id1" || fail "the resumed sandbox is registered with the exec audit"
km destroy --yes cmdlog >/dev/null
registered "$id1" && fail "a destroyed sandbox's registration stays"
echo "PASS command_log_test"
