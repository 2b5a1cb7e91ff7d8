#!/usr/bin/env bash
# The real agent CLIs (tests/sdk: @anthropic-ai/claude-code's `claude`, @openai/codex's `codex`)
# answered by the fake providers (tests/fakes/fake_providers.py, served by fake_web.py's
# handler) on loopback, without km and without root: an intercepting HTTPS proxy of this
# script's own (CONNECT to api.anthropic.com / api.openai.com only; every other host is
# refused and logged) hands the TLS to the fake, whose certificate comes from a throwaway CA
# the CLIs are told to trust, as km's proxy re-signs with its CA. Each CLI runs once with a
# fresh HOME, headless: `claude -p --output-format json` and `codex exec --json -` (prompt on
# stdin). Checked: the fake's answer text, the usage the fake reported (and claude's cost at
# list price), and the provider's error message when the fake answers an error
# (FAKE-ERROR-<status> in the prompt). Not named *_test.sh: run it by hand.
# Usage: tests/e2e/agent_cli_smoke.sh   (exit 77 when the CLIs are not installed)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
FAKES="$(cd "$HERE/../fakes" && pwd)"
BIN="$(cd "$HERE/../sdk" && pwd)/node_modules/.bin"
if [ ! -x "$BIN/claude" ] || [ ! -x "$BIN/codex" ]; then
  echo "SKIP: the agent CLIs are not installed: run scripts/install-deps.sh (npm ci in tests/sdk)"
  exit 77
fi
for tool in python3 openssl timeout; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing"; exit 77; }
done

TMP="$(mktemp -d /tmp/km-agent-cli.XXXXXX)"
SERVER_PID=""
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- requests the fake saw (https.log):" >&2; cat "$LOGS/https.log" >&2 || true
  echo "--- proxy.log:" >&2; cat "$LOGS/proxy.log" >&2 || true
  exit 1
}
LOGS="$TMP/logs"
mkdir -p "$LOGS"

# A throwaway CA and the providers' certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=km-agent-cli-smoke-ca \
  -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=fake-providers \
  -keyout "$TMP/web.key" -out "$TMP/web.csr" 2>/dev/null
printf 'subjectAltName=DNS:api.anthropic.com,DNS:api.openai.com\n' > "$TMP/web.ext"
openssl x509 -req -in "$TMP/web.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial -days 1 \
  -extfile "$TMP/web.ext" -out "$TMP/web.pem" 2>/dev/null

# The fake providers (fake_web.py's handler: https.log, conn.log, ai.log) on a loopback port,
# and the proxy in front of them (proxy.log: "CONNECT host:port", or "refused ...").
cat > "$TMP/fakenet.py" <<'PY'
import argparse, os, select, socket, socketserver, ssl, sys, threading
ap = argparse.ArgumentParser()
for name in ("--fakes", "--logs", "--cert", "--key"):
    ap.add_argument(name, required=True)
a = ap.parse_args()
sys.path.insert(0, a.fakes)
import fake_web  # noqa: E402
fake_web.ARGS = argparse.Namespace(logs=a.logs)
for n in ("http.log", "https.log", "conn.log", "ai.log", "proxy.log"):
    open(os.path.join(a.logs, n), "a").close()
FAKE_HOSTS = ("api.anthropic.com", "api.openai.com")


class Loopback(fake_web.Server):
    def __init__(self, ctx):
        self.scheme, self.ctx = "https", ctx
        socketserver.TCPServer.__init__(self, ("127.0.0.1", 0), fake_web.Handler)


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a.cert, a.key)
ctx.set_alpn_protocols(["http/1.1"])
fake = Loopback(ctx)


def plog(line):
    with open(os.path.join(a.logs, "proxy.log"), "a") as f:
        f.write(line + "\n")


class Proxy(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Tunnel(socketserver.StreamRequestHandler):
    rbufsize = 0  # nothing the client sends after the CONNECT head is left in a buffer

    def handle(self):
        self.connection.settimeout(30)
        try:
            head = self.rfile.readline(65536).decode("latin-1").split()
            while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                pass
        except OSError:
            return
        if len(head) < 2:
            return
        method, target = head[0], head[1]
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or host not in FAKE_HOSTS or port != "443":
            plog("refused %s %s" % (method, target))
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        plog("CONNECT %s" % target)
        up = socket.create_connection(fake.server_address, timeout=10)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        ends = [self.connection, up]
        try:
            while True:
                ready, _, _ = select.select(ends, [], [], 120)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is self.connection else self.connection).sendall(data)
        except OSError:
            return
        finally:
            up.close()


proxy = Proxy(("127.0.0.1", 0), Tunnel)
threading.Thread(target=fake.serve_forever, daemon=True).start()
print("ready %d" % proxy.server_address[1], flush=True)
proxy.serve_forever()
PY
python3 -u "$TMP/fakenet.py" --fakes "$FAKES" --logs "$LOGS" --cert "$TMP/web.pem" --key "$TMP/web.key" \
  > "$TMP/fakenet.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do grep -q '^ready' "$TMP/fakenet.out" && break; sleep 0.1; done
grep -q '^ready' "$TMP/fakenet.out" || fail "the fake did not start: $(cat "$TMP/fakenet.out")"
PROXY="http://127.0.0.1:$(awk '/^ready/ {print $2}' "$TMP/fakenet.out")"

# The environment both CLIs get (nothing else of ours leaks in): the proxy, the CA.
base_env=(PATH=/usr/local/bin:/usr/bin:/bin TERM=dumb LANG=C.UTF-8
          HTTPS_PROXY="$PROXY" HTTP_PROXY="$PROXY" NO_PROXY=)

# claude: API key auth, no nonessential traffic (telemetry, error reports, update checks),
# the CA added to its store. Model pinned (its default is whatever the release prefers).
claude_run() {  # prompt → $TMP/claude.json; exit code in CLAUDE_RC
  local home="$TMP/claude-home.$RANDOM"
  mkdir -p "$home/work"
  CLAUDE_RC=0
  (cd "$home/work" && printf '%s\n' "$1" | timeout -k 5 90 env -i "${base_env[@]}" HOME="$home" \
    ANTHROPIC_API_KEY=sk-ant-fake-key-0123456789 ANTHROPIC_MODEL=claude-sonnet-4-5 \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 NODE_EXTRA_CA_CERTS="$TMP/ca.pem" \
    "$BIN/claude" -p --output-format json) > "$TMP/claude.json" 2> "$TMP/claude.err" || CLAUDE_RC=$?
  echo "--- claude (exit $CLAUDE_RC):"; cat "$TMP/claude.json"; echo; cat "$TMP/claude.err"
}

# codex: a provider of its own for api.openai.com without the Responses WebSocket (the fake
# speaks HTTP SSE only), no analytics, no plugin sync (github.com, chatgpt.com).
codex_run() {  # prompt → $TMP/codex.jsonl; exit code in CODEX_RC
  local home="$TMP/codex-home.$RANDOM"
  mkdir -p "$home/work" "$home/.codex"
  cat > "$home/.codex/config.toml" <<'TOML'
model_provider = "openai-http"
check_for_update_on_startup = false

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
TOML
  CODEX_RC=0
  (cd "$home/work" && printf '%s\n' "$1" | timeout -k 5 90 env -i "${base_env[@]}" HOME="$home" \
    OPENAI_API_KEY=sk-fake-openai-key SSL_CERT_FILE="$TMP/ca.pem" \
    "$BIN/codex" exec --skip-git-repo-check --json -m gpt-5 -) > "$TMP/codex.jsonl" 2> "$TMP/codex.err" || CODEX_RC=$?
  echo "--- codex (exit $CODEX_RC):"; cat "$TMP/codex.jsonl"; grep -v '^WARNING: proceeding' "$TMP/codex.err" || true
}

# Checks a CLI's output against the fake's last ai.log entry with usage.
check() {  # which(claude|codex|claude-error|codex-error) output-file
  python3 - "$1" "$2" "$LOGS/ai.log" <<'PY'
import json, sys
which, out, ailog = sys.argv[1:]
entries = [json.loads(l) for l in open(ailog)]
last_usage = [e for e in entries if "usage" in e][-1]["usage"] if any("usage" in e for e in entries) else None
text = open(out).read()
if which == "claude":
    d = json.loads(text)
    assert d["type"] == "result" and d["is_error"] is False and d["subtype"] == "success", d
    assert d["result"].strip() == "word word word word word", d["result"]
    u = d["usage"]
    for k in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        assert u[k] == last_usage[k], "usage %s: claude %s, the fake %s" % (k, u[k], last_usage[k])
    want = last_usage["input_tokens"] * 3e-6 + last_usage["output_tokens"] * 15e-6  # sonnet 4.5 list price
    assert abs(d["total_cost_usd"] - want) < 1e-9, "cost %s, want %s" % (d["total_cost_usd"], want)
    print("claude: result %r, usage in %d out %d, cost $%s" % (d["result"], u["input_tokens"], u["output_tokens"],
                                                             d["total_cost_usd"]))
elif which == "codex":
    events = [json.loads(l) for l in text.splitlines() if l.strip()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "thread.started" and kinds[-1] == "turn.completed", kinds
    assert "error" not in kinds, [e for e in events if e["type"] == "error"]
    said = [e["item"]["text"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == "agent_message"]
    assert said and said[-1].strip() == ("word " * 30).strip(), said
    u = events[-1]["usage"]
    assert u["input_tokens"] == last_usage["input_tokens"], (u, last_usage)
    assert u["output_tokens"] == last_usage["output_tokens"], (u, last_usage)
    assert u["cached_input_tokens"] == last_usage["input_tokens_details"]["cached_tokens"], (u, last_usage)
    print("codex: events %s, usage in %d out %d" % (kinds, u["input_tokens"], u["output_tokens"]))
elif which == "claude-error":
    d = json.loads(text)
    assert d["is_error"] is True and d["api_error_status"] == 429, d
    assert "km: AI budget exhausted" in d["result"], d["result"]
    print("claude error: api_error_status %s, result %r" % (d["api_error_status"], d["result"]))
elif which == "codex-error":
    events = [json.loads(l) for l in text.splitlines() if l.strip()]
    assert events[-1]["type"] == "turn.failed", events[-1]
    msg = events[-1]["error"]["message"]
    assert "km: AI budget exhausted" in msg, msg
    print("codex error: turn.failed %r" % msg)
PY
}

claude_run "Say hello."
[ "$CLAUDE_RC" = 0 ] || fail "claude exited $CLAUDE_RC"
check claude "$TMP/claude.json" || fail "claude's answer does not match the fake"

codex_run "Say hello."
[ "$CODEX_RC" = 0 ] || fail "codex exited $CODEX_RC"
check codex "$TMP/codex.jsonl" || fail "codex's answer does not match the fake"

# The provider refuses (as km's proxy does when the AI budget is spent): the CLIs show its message.
claude_run "Say hello. FAKE-ERROR-429"
[ "$CLAUDE_RC" = 1 ] || fail "claude exited $CLAUDE_RC on an error answer"
check claude-error "$TMP/claude.json" || fail "claude did not show the provider's error"
codex_run "Say hello. FAKE-ERROR-403"  # codex retries a 403 5 times (about 8 s), then gives up
[ "$CODEX_RC" = 1 ] || fail "codex exited $CODEX_RC on an error answer"
check codex-error "$TMP/codex.jsonl" || fail "codex did not show the provider's error"

echo "--- requests the fake saw (https.log: client host path):"
sort "$LOGS/https.log" | uniq -c
echo "--- proxy.log (other hosts are refused):"
sort "$LOGS/proxy.log" | uniq -c
grep -q '^refused' "$LOGS/proxy.log" && fail "a CLI tried a host besides the providers'"
echo "PASS: agent_cli_smoke"
