#!/usr/bin/env bash
# The operator's terminal is never handed to a sandbox (issue 11, item 1): km exec on a
# terminal gives the command a pty of the sandbox's own devpts and relays it. A program that
# TIOCSTIs into "its" terminal after km exec returned, or keeps reading it, reaches nothing
# of the operator's; window size, Ctrl-C, exit codes and terminal modes work; the relay
# stays outside the sandbox's cgroups. Without a terminal, plain pipes.
source "$(dirname "$0")/lib.sh" "$@"
before="$(kernel_snapshot)"
SB="$(km create "$FIXTURES/local-test.yaml")"

python3 "$HERE/pty_harness.py" "$KM" "$SB" model resize tiocsti keylogger hangup escape || fail "terminal checks"

# Without a terminal: pipes (no fd of the caller's passes in), stdin relayed, exit codes.
fds="$(km exec "$SB" -- sh -c 'readlink /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2' </dev/null)"
expect_eq "$(grep -c '^pipe:' <<<"$fds")" 3 "stdin, stdout and stderr are pipes without a terminal"
expect_eq "$(printf 'a\nb\n' | km exec "$SB" -- wc -l)" 2 "stdin is relayed"
expect_eq "$(km exec "$SB" -- sh -c 'echo out; echo err >&2' 2>/dev/null)" out "stdout and stderr stay apart"
# A host file as stdin is relayed, not passed: --root cannot reopen it through /proc.
echo host-file > "$KM_HOME/stdin-file"
out="$(km exec --root "$SB" -- sh -c 'readlink /proc/self/fd/0; echo x >> /proc/self/fd/0' < "$KM_HOME/stdin-file" 2>&1 || true)"
expect_contains "$out" "pipe:" "a file on stdin reaches the command as a pipe"
expect_eq "$(cat "$KM_HOME/stdin-file")" host-file "the host file behind stdin is untouched"
# A closed reader ends the command as a pipeline would.
expect_eq "$(km exec "$SB" -- sh -c 'yes | head -c 1000000' | head -c 3)" "y
y" "km exec … | head"
# km exec returns even when the command ignores a closed stdout (SIGPIPE, SIGHUP, SIGTERM).
start=$(date +%s)
set +e
timeout 20 bash -c "'$KM' exec '$SB' -- python3 -c '
import signal
for s in (signal.SIGPIPE, signal.SIGHUP, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)
while True:
    try: print(\"y\", flush=True)
    except BrokenPipeError: pass' | head -1" >/dev/null
rc=$?
set -e
[ "$rc" != 124 ] || fail "km exec kept running after its reader went away"
[ $(( $(date +%s) - start )) -le 10 ] || fail "km exec took more than 10 s to give up"
# A sandbox holding all of its terminals: km exec into it still runs (with pipes), and km exec
# into another sandbox still gets a terminal.
OTHER="$(km create "$FIXTURES/local-test.yaml")"
held="$(km exec "$SB" -- python3 -c '
import os, time
fds = []
while True:
    try: fds.append(os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY))
    except OSError: break
if os.fork() == 0:
    os.setsid(); time.sleep(60); os._exit(0)
print(len(fds))')"
[ "$held" -le 64 ] || fail "a sandbox opened $held ptys (cap 64)"
python3 "$HERE/pty_harness.py" "$KM" "$OTHER" model >/dev/null || fail "another sandbox gets a terminal while one hogs its own"
out="$(script -qec "'$KM' exec '$SB' -- echo through-pipes" /dev/null 2>&1 | tr -d '\r')"
expect_contains "$out" "through-pipes" "km exec into the hogging sandbox still runs"
expect_contains "$out" "pipes instead" "… and says why it has no terminal"
km destroy --yes "$OTHER" >/dev/null
km exec --root "$SB" -- pkill -9 -f "import os, time" || true

# --tty on pipes: a pty anyway (output with CRLF), --no-tty refuses one on a terminal.
expect_contains "$(km exec -t "$SB" -- tty </dev/null | tr -d '\r')" "/dev/pts/" "--tty gives a terminal"
expect_eq "$(km exec -T "$SB" -- sh -c 'tty || true' </dev/null)" "not a tty" "--no-tty"

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroy"
echo "PASS: terminal"
