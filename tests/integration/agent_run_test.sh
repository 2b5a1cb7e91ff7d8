#!/usr/bin/env bash
# km agent with the real agent CLIs from npm (@anthropic-ai/claude-code, @openai/codex; pinned
# in tests/sdk, installed by scripts/install-deps.sh), found inside the sandbox through the
# profile's PATH (the host root is the sandbox's lower layer), talking to the fake providers
# on the fake internet through km's intercepting proxy:
#   - claude and codex runs return the agent's result; km's measured tokens equal the fake's
#     usage and its cost the ledger's;
#   - a run outlives the CLI and `km agent results` fetches it later;
#   - --interactive attaches and detaches (driven through a tmux of the test's own);
#   - --auto-start wakes a paused sandbox; km create --prompt creates and runs;
#   - a run whose budget is gone ends with the agent's own error naming the budget;
#   - the command log lists what the runs started; a run's files the sandbox turned into links
#     to root's files are refused.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
TMUX_SOCKET="km-agent-test-$$" TMUX_SOCKET2="km-agent-test2-$$" TMUX_SOCKET3="km-agent-test3-$$"
extra_cleanup() {
  for s in "$TMUX_SOCKET" "$TMUX_SOCKET2" "$TMUX_SOCKET3"; do
    tmux -L "$s" kill-server 2>/dev/null || true
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$s"
  done
  fake_internet_down
}
SDK="$(cd "$HERE/../sdk" && pwd)"
[ -x "$SDK/node_modules/.bin/claude" ] && [ -x "$SDK/node_modules/.bin/codex" ] ||
  fail "the agent CLIs are not installed: run scripts/install-deps.sh"
command -v tmux >/dev/null || fail "tmux is not installed: run scripts/install-deps.sh"
fake_internet_up
# The providers' keys are the operator's (config secrets): each sandbox holds only sentinels,
# the proxy puts the real keys in on the way to the providers.
ANTHROPIC_KEY="sk-ant-api03-agent-test-key-0000000000000000000000"
OPENAI_KEY="sk-proj-agent-test-key-00000000000000000000"
mkdir -p "$KM_HOME/keys"
printf '%s\n' "$ANTHROPIC_KEY" > "$KM_HOME/keys/anthropic"
printf '%s\n' "$OPENAI_KEY" > "$KM_HOME/keys/openai"
chmod 600 "$KM_HOME/keys/anthropic" "$KM_HOME/keys/openai"
cat >> "$KM_HOME/config.yaml" <<YAML
secrets:
  - {name: ANTHROPIC_API_KEY, file: $KM_HOME/keys/anthropic, hosts: [api.anthropic.com]}
  - {name: OPENAI_API_KEY, file: $KM_HOME/keys/openai, hosts: [api.openai.com]}
YAML
AILOG="$FI_DIR/ai.log"
DB="$KM_HOME/fleet.db"

profile() {  # name ai-usd
  cat > "$KM_HOME/$1.yaml" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: $1, prefix: ka}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local, hibernation: true}
  budget:
    ai: {maxSpendUSD: $2}
  network:
    enforcement: proxy
    egress: {allowedDNSSuffixes: [], allowedHosts: []}
  execution:
    env:
      PATH: "$SDK/node_modules/.bin:/usr/local/bin:/usr/bin:/bin"
      ANTHROPIC_MODEL: claude-sonnet-4-5
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
      DISABLE_AUTOUPDATER: "1"
    configFiles:
      /home/sandbox/.codex/config.toml: |
        model_provider = "openai-http"
        check_for_update_on_startup = false
        web_search = "disabled"
        [analytics]
        enabled = false
        [features]
        plugins = false
        [model_providers.openai-http]
        name = "OpenAI (HTTP SSE)"
        base_url = "https://api.openai.com/v1"
        env_key = "OPENAI_API_KEY"
        wire_api = "responses"
        supports_websockets = false
    workingDir: /home/sandbox
  agent:
    claude: {trustedDirectories: [/home/sandbox]}
    codex: {args: ["-m", "gpt-5"]}
YAML
  echo "$KM_HOME/$1.yaml"
}
q() {
  python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for r in db.execute(sys.argv[2]): print(*r)' "$DB" "$1"
}
# The fake's usage of the calls logged after line $1 of ai.log, summed: "calls in out".
fake_usage() {
  python3 - "$AILOG" "$1" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
calls = [json.loads(l) for l in lines]
calls = [c for c in calls if c.get("usage")]
print(len(calls), sum(c["usage"]["input_tokens"] for c in calls), sum(c["usage"]["output_tokens"] for c in calls))
PY
}
ailines() { [ -f "$AILOG" ] && wc -l < "$AILOG" || echo 0; }

SB="$(km create --alias ag "$(profile agents 5)")"
# Agents see only masked keys.
for k in ANTHROPIC_API_KEY OPENAI_API_KEY; do
  v="$(km exec ag -- printenv "$k")"
  expect_contains "$v" "km-sentinel-" "$k inside the sandbox is a sentinel"
  expect_not_contains "$v" "agent-test-key" "$k inside the sandbox"
done

# 1. Claude Code: its result with km's measurement; the tokens are the fake's.
mark="$(ailines)"
out="$(km agent run ag --prompt "Say hello" --wait --json)" || fail "claude run: $out"
python3 - "$out" "$(fake_usage "$mark")" <<'PY' || fail "claude's result"
import json, sys
r = json.loads(sys.argv[1]); calls, fin, fout = map(int, sys.argv[2].split())
assert r["type"] == "result" and r["is_error"] is False, r
assert r["result"].strip().startswith("word"), r["result"]
m = r["km"]["measured"]
assert r["km"]["agent"] == "claude" and r["km"]["exitStatus"] == 0, r["km"]
assert m["calls"] == calls >= 1 and m["inputTokens"] == fin and m["outputTokens"] == fout, (m, calls, fin, fout)
assert m["costMicros"] > 0 and "total_cost_usd" in r, r
print("claude: %r, %d in / %d out, km measured $%s" % (r["result"].strip(), fin, fout, m["costUSD"]))
PY
ledger="$(q "SELECT sum(cost_micros) FROM usage_events WHERE sandbox_id='$SB' AND pool='ai'")"
expect_eq "$(km agent results ag 1 | json_field km.measured.costMicros)" "$ledger" "measured cost = the ledger's"
expect_contains "$(km agent results ag | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])')" "word" \
  "results (the last run) | .result"

# Every call reached the provider with the operator's real key, put in by the proxy.
keys_since() { python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l).get("key","") for l in open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):] if "usage" in l})))' "$AILOG" "$1"; }
expect_eq "$(keys_since "$mark")" "$ANTHROPIC_KEY" "claude's calls carried the real key"

# 2. Codex.
mark="$(ailines)"
out="$(km agent run ag --codex --prompt "Say hello" --wait --json)" || fail "codex run: $out"
python3 - "$out" "$(fake_usage "$mark")" <<'PY' || fail "codex's result"
import json, sys
r = json.loads(sys.argv[1]); calls, fin, fout = map(int, sys.argv[2].split())
assert r["km"]["agent"] == "codex" and r["km"]["exitStatus"] == 0 and r["is_error"] is False, r
assert "word" in r["result"], r["result"]
m = r["km"]["measured"]
assert m["calls"] == calls == 1 and m["inputTokens"] == fin and m["outputTokens"] == fout, (m, calls, fin, fout)
assert r["usage"]["input_tokens"] == fin, r["usage"]
print("codex: %r, %d in / %d out" % (r["result"].strip(), fin, fout))
PY
expect_eq "$(keys_since "$mark")" "$OPENAI_KEY" "codex's calls carried the real key"
# Without --json: the text on stdout, the summary on stderr.
text="$(km agent run ag --agent 'wc -c' --prompt "12345" --wait 2>"$KM_HOME/err")"
expect_eq "$text" "5" "a command's result text"
expect_contains "$(cat "$KM_HOME/err")" "exited (exit 0)" "the summary line"

# 3. A run outlives the CLI that started it.
n="$(km agent run ag --agent 'sleep 2; echo long-run-done' --prompt x)"
expect_contains "$(km agent list ag)" "running" "the long run is listed as running"
sleep 3
expect_contains "$(km agent results ag "$n" --text 2>/dev/null)" "long-run-done" "the long run's result fetched later"
expect_eq "$(km agent list ag --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[3]["state"])')" "exited" \
  "list sees it ended"

# 4. --interactive: attached to the run's session, then detached (Ctrl-B d); the run goes on.
tmux -L "$TMUX_SOCKET" new-session -d -x 160 -y 40 \
  "KM_HOME=$KM_HOME KM_CONFIG=$KM_CONFIG $KM agent run ag --interactive --prompt x --agent 'for i in 1 2 3 4 5 6; do echo tick-\$i; sleep 1; done; echo ticks-done'; echo KM-EXIT=\$?; sleep 60"
for _ in $(seq 1 50); do tmux -L "$TMUX_SOCKET" capture-pane -p | grep -q tick-1 && break; sleep 0.2; done
tmux -L "$TMUX_SOCKET" capture-pane -p | grep -q tick-1 || fail "the attached session shows the run"
tmux -L "$TMUX_SOCKET" send-keys C-b d
for _ in $(seq 1 50); do tmux -L "$TMUX_SOCKET" capture-pane -p | grep -q KM-EXIT && break; sleep 0.2; done
screen="$(tmux -L "$TMUX_SOCKET" capture-pane -p)"
expect_contains "$screen" "goes on" "detached"
expect_contains "$screen" "KM-EXIT=0" "km exits 0 on detach"
n="$(km agent list ag --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["run"])')"
sleep 6
expect_contains "$(km agent results ag "$n" --text 2>/dev/null)" "ticks-done" "the detached run finished"

# 4b. What the sandbox does to a run's files does not decide its answer, its end or its spend
# window (the runner's exit comes from the command log, the kernel's):
next_run() { km agent list ag --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)) + 1)'; }
#   an answer planted before the run starts is gone when it starts;
n="$(next_run)"
km exec ag -- sh -c "mkdir -p ~/.km/runs/$n && echo PLANTED > ~/.km/runs/$n/output && echo '0 1' > ~/.km/runs/$n/exit"
expect_eq "$(km agent run ag --prompt x --agent 'sleep 1; echo REAL' --wait 2>/dev/null)" "REAL" "a planted answer"
#   an end time written early does not shorten the run;
n="$(km agent run ag --prompt x --agent 'echo "0 1" > "$HOME/.km/runs/'"$(next_run)"'/exit"; sleep 2; echo late')"
sleep 3
dur="$(km agent results ag "$n" | json_field km.durationMs)"
[ "$dur" -ge 2000 ] || fail "an early end time written by the agent shortened the run to $dur ms"
#   a runner that dies without its status is lost, not running for ever.
out="$(timeout 60 "$KM" agent run ag --prompt x --agent 'mkdir "$HOME/.km/runs/'"$(next_run)"'/exit.tmp"; echo bye' --wait 2>&1)" && fail "a run without status succeeded"
expect_contains "$out" "lost" "a runner gone without its status"

# 4c. A run that takes tmux's keys away (no prefix, nothing bound) cannot hold the operator's
# terminal: Enter ~ . disconnects from km's side; the run goes on.
n="$(km agent run ag --prompt x --agent 'tmux set -g prefix None; tmux set -g prefix2 None; tmux unbind -a; tmux unbind -a -T root; sleep 20; echo trapped-done')"
sleep 1
tmux -L "$TMUX_SOCKET2" new-session -d -x 160 -y 40 \
  "KM_HOME=$KM_HOME KM_CONFIG=$KM_CONFIG $KM agent attach ag $n; echo KM-EXIT=\$?; sleep 60"
sleep 2
tmux -L "$TMUX_SOCKET2" send-keys C-b d
sleep 1
expect_not_contains "$(tmux -L "$TMUX_SOCKET2" capture-pane -p)" "KM-EXIT" "Ctrl-B d with the keys unbound"
tmux -L "$TMUX_SOCKET2" send-keys Enter "~."
for _ in $(seq 1 50); do tmux -L "$TMUX_SOCKET2" capture-pane -p | grep -q KM-EXIT && break; sleep 0.2; done
screen="$(tmux -L "$TMUX_SOCKET2" capture-pane -p)"
expect_contains "$screen" "disconnected (~.)" "Enter ~. disconnects"
expect_contains "$screen" "KM-EXIT=255" "km's exit code after ~."
expect_contains "$(km agent list ag)" "running" "the run goes on after ~."
km exec ag -- tmux -L km kill-server 2>/dev/null || true

# 5. --auto-start wakes a paused sandbox.
km pause ag >/dev/null
expect_fail km agent run ag --prompt x --agent 'echo no'
expect_eq "$(km agent run ag --auto-start --prompt x --agent 'echo woke' --wait 2>/dev/null)" "woke" "--auto-start"
expect_eq "$(km status --json ag | json_field status)" "running" "resumed"

# 6. The run's files are the sandbox's: links to root's files are not read.
n="$(km agent run ag --prompt x --agent 'sleep 2; echo plain')"
km exec ag -- sh -c "cd ~/.km/runs/$n && ln -sf /etc/shadow output && ln -sf /etc/shadow stderr"
sleep 3
res="$(km agent results ag "$n" 2>&1)" || true
expect_not_contains "$res" "root:" "a link to /etc/shadow read as the output"

# 7. The command log has what the runs started (the agents, tmux, the runner), redacted.
sleep 0.5
cmds="$(km logs ag --commands)"
for want in "claude -p --output-format json" "codex exec --json" "tmux -L km new-session" "long-run-done" "echo woke"; do
  expect_contains "$cmds" "$want" "the command log lists '$want'"
done

# 8. km agent SB --claude: Claude Code's own session in tmux, no first-start dialog (onboarding,
# folder trust and the API key answered by the files spec.agent.claude wrote); a prompt typed
# into it is answered; Ctrl-B d detaches and the session stays.
tmux -L "$TMUX_SOCKET3" new-session -d -x 160 -y 40 \
  "KM_HOME=$KM_HOME KM_CONFIG=$KM_CONFIG $KM agent ag --claude; echo KM-EXIT=\$?; sleep 60"
screen_has() {  # text seconds
  for _ in $(seq 1 $(( $2 * 5 ))); do tmux -L "$TMUX_SOCKET3" capture-pane -p | grep -qF -- "$1" && return 0; sleep 0.2; done
  return 1
}
screen_has "? for shortcuts" 40 || fail "Claude Code's prompt did not come up: $(tmux -L "$TMUX_SOCKET3" capture-pane -p)"
for dialog in "trust" "Do you want to use this API key" "Choose the text style"; do
  expect_not_contains "$(tmux -L "$TMUX_SOCKET3" capture-pane -p)" "$dialog" "a first-start dialog"
done
tmux -L "$TMUX_SOCKET3" send-keys "Say hello" Enter
screen_has "word word" 40 || fail "the interactive session's answer: $(tmux -L "$TMUX_SOCKET3" capture-pane -p)"
tmux -L "$TMUX_SOCKET3" send-keys C-b d
screen_has "KM-EXIT=0" 10 || fail "km agent --claude after detaching: $(tmux -L "$TMUX_SOCKET3" capture-pane -p)"
expect_contains "$(km exec ag -- tmux -L km ls)" "km-claude" "the session stays after detaching"
km exec ag -- tmux -L km kill-session -t km-claude

# 9. km create --prompt: create and run in one step.
out="$(km create --alias ag2 --prompt "from-create" --agent cat --wait "$(profile agents2 5)" 2>"$KM_HOME/err")"
expect_eq "$out" "from-create" "km create --prompt --wait"
km destroy --yes ag2 >/dev/null

# 10. A budget used up: the agent's own error names it.
km create --alias poor "$(profile poor 0.000001)" >/dev/null
out="$(km agent run poor --prompt "Say hello" --wait --json)" && fail "a run without budget succeeded: $out"
python3 - "$out" <<'PY' || fail "the error names the budget"
import json, sys
r = json.loads(sys.argv[1])
assert r["is_error"] is True, r
assert "budget" in r["result"].lower(), r["result"]
print("out of budget: %s" % r["result"][:160])
PY
km destroy --yes poor >/dev/null
# Codex: it tries five times (a few seconds), then fails with km's message.
km create --alias poor2 "$(profile poor2 0.000001)" >/dev/null
out="$(timeout 120 "$KM" agent run poor2 --codex --prompt "Say hello" --wait --json)" && fail "a codex run without budget succeeded: $out"
python3 - "$out" <<'PY' || fail "codex's error names the budget"
import json, sys
r = json.loads(sys.argv[1])
assert r["is_error"] is True, r
assert "budget" in r["result"].lower(), r["result"]
# Web search off: km bounds the call by its size, not by a model's whole context.
assert "web_search" not in r["result"], r["result"]
print("codex out of budget: %s" % r["result"][:400])
PY
km destroy --yes poor2 >/dev/null
km destroy --yes ag >/dev/null
echo "PASS agent_run_test"
