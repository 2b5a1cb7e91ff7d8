#!/usr/bin/env bash
# AI metering end to end: curl inside a sandbox with an AI budget calls the fake Anthropic
# Messages API on the fake internet (tests/fakes/fake_providers.py, the documented JSON and SSE
# wire formats) through km's intercepting proxy. The ledger's tokens must equal the fake's
# usage exactly and its costs the price table's arithmetic; a $1 budget clamps max_tokens
# 64000 instead of refusing; the warning and exhaustion are recorded once; past the ceiling
# calls get 403 in Anthropic's error shape; spend never passes the limit.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up

cat > "$KM_HOME/ai.yaml" <<'YAML'
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: metered, prefix: km}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  budget:
    ai: {maxSpendUSD: 1}
    warningThreshold: 0.8
  network:
    enforcement: proxy
    httpsOnly: false   # so that the AI provider's own refusal of plain HTTP is what answers
    egress:
      allowedDNSSuffixes: []
      allowedHosts: []
YAML
SB="$(km create "$KM_HOME/ai.yaml")"
DB="$KM_HOME/fleet.db"
AILOG="$FI_DIR/ai.log"

# Reads the ledger (python's sqlite3: the same file km writes, read-only here).
ledger() {
  python3 - "$DB" "$SB" "$1" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
sb, what = sys.argv[2], sys.argv[3]
if what == "events":
    rows = db.execute("SELECT model, request_id, input_tokens, output_tokens, cache_write_5m_tokens,"
                      " cache_read_tokens, cost_micros, note FROM usage_events WHERE sandbox_id=? ORDER BY id", (sb,))
    for r in rows:
        print(json.dumps(list(r)))
elif what == "pool":
    r = db.execute("SELECT limit_micros, spent_micros, reserved_micros, warned FROM budget_pools"
                   " WHERE sandbox_id=? AND pool='ai'", (sb,)).fetchone()
    print(json.dumps(list(r) if r else None))
elif what == "fleet-events":
    for (k,) in db.execute("SELECT kind FROM events WHERE sandbox_id=? ORDER BY id", (sb,)):
        print(k)
PY
}
# claude-sonnet-4-5: $3 in, $15 out, $3.75 5m cache writes, $0.30 cache reads per million.
expected_cost() {  # in out cache_write cache_read
  python3 -c "import sys; i,o,w,r=map(int,sys.argv[1:]); t=i*3000000+o*15000000+w*3750000+r*300000; print(-(-t//1000000))" "$@"
}
call() {  # extra curl args...; body from $BODY
  km exec "$SB" -- curl -sS -m 20 -D /tmp/h https://api.anthropic.com/v1/messages \
    -H 'content-type: application/json' -H 'x-api-key: sk-ant-fake' -H 'anthropic-version: 2023-06-01' \
    "$@" --data-binary "$BODY"
}

expect_eq "$(ledger pool)" "[1000000, 0, 0, 0]" "the pool is made at start with the profile's limit"

# 1. JSON: tokens and cost exactly as the fake reported.
BODY='{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hello"}]}'
out="$(call -H 'X-Fake-Output-Tokens: 40' -H 'X-Fake-Cache-Read: 1000' -H 'X-Fake-Cache-Write: 200')"
expect_contains "$out" '"stop_reason": "end_turn"' "JSON call answered"
want="$(tail -1 "$AILOG" | python3 -c 'import json,sys; u=json.load(sys.stdin)["usage"]; print(u["input_tokens"], u["output_tokens"], u["cache_creation_input_tokens"], u["cache_read_input_tokens"])')"
read -r in out_t cw cr <<<"$want"
expect_eq "$(tail -1 "$AILOG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_tokens"])')" 100 \
  "a request far from the ceiling keeps its max_tokens"
cost="$(expected_cost "$in" "$out_t" "$cw" "$cr")"
row="$(ledger events | tail -1)"
expect_eq "$row" "[\"claude-sonnet-4-5\", \"msg_fake000001\", $in, $out_t, $cw, $cr, $cost, \"\"]" "JSON call in the ledger"
expect_eq "$(ledger pool)" "[1000000, $cost, 0, 0]" "spent = the call's cost, nothing held"
# A client that accepts gzip and names Accept-Encoding as hop-by-hop still gets km's identity
# through (the meter reads the answer: an exact charge, not "charged as reserved").
out="$(call -H 'X-Fake-Gzip: 1' -H 'Accept-Encoding: gzip' -H 'Connection: Accept-Encoding' -H 'X-Fake-Output-Tokens: 3')"
expect_contains "$out" '"stop_reason": "end_turn"' "answered uncompressed"
expect_contains "$(ledger events | tail -1)" ', 3, 0, 0, ' "charged the 3 output tokens it reported"
expect_contains "$(ledger events | tail -1)" '""]' "with no note"

# A path a server could resolve to another API (dot segments, raw or encoded) is refused: the
# free telemetry prefix must not carry a Messages call past the meter.
for p in /api/event_logging/../../v1/messages /api/event_logging/%2e%2e/%2E%2E/v1/messages /v1/./messages \
         '/api/event_logging/..;/..;/v1/messages' /api/event_logging/%252e%252e/%252e%252e/v1/messages \
         /api/event_logging%2f..%2f..%2fv1/messages; do
  out="$(km exec "$SB" -- curl -sS -m 20 --path-as-is -w '\nstatus=%{http_code}' "https://api.anthropic.com$p" \
    -H 'content-type: application/json' -H 'x-api-key: sk-ant-fake' -H 'anthropic-version: 2023-06-01' \
    --data-binary '{"model":"claude-opus-4-1","max_tokens":64000,"messages":[{"role":"user","content":"x"}]}')"
  expect_contains "$out" "status=400" "$p refused"
  expect_contains "$out" "which servers may resolve to another API" "$p: the refusal says why"
done
expect_eq "$(grep -c '"max_tokens": 64000' "$AILOG")" 0 "nothing reached the provider unmetered"

# 2. SSE: the stream reaches the client event by event; usage from message_start + message_delta.
BODY='{"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"stream please"}]}'
out="$(call -N -H 'X-Fake-Output-Tokens: 25')"
expect_contains "$out" "event: message_stop" "SSE relayed to its end"
read -r in out_t cw cr <<<"$(tail -1 "$AILOG" | python3 -c 'import json,sys; u=json.load(sys.stdin)["usage"]; print(u["input_tokens"], u["output_tokens"], u["cache_creation_input_tokens"], u["cache_read_input_tokens"])')"
expect_eq "$out_t" 25 "the fake streamed 25 output tokens"
cost2="$(expected_cost "$in" "$out_t" 0 0)"
expect_eq "$(ledger events | tail -1)" "[\"claude-sonnet-4-5\", \"msg_fake000003\", $in, 25, 0, 0, $cost2, \"\"]" "SSE call in the ledger"

# 3. A cut-short stream is charged at least its reserved output (the provider may have produced it).
BODY='{"model":"claude-sonnet-4-5","max_tokens":60,"stream":true,"messages":[{"role":"user","content":"cut"}]}'
call -N -H 'X-Fake-Output-Tokens: 60' -H 'X-Fake-Cut: 2' >/dev/null 2>&1 || true
row="$(ledger events | tail -1)"
expect_contains "$row" ', 60, 0, 0, ' "a cut stream is charged its 60 reserved output tokens"
expect_contains "$row" "cut short" "and the ledger says why"

# 4. A $1 budget still serves max_tokens 64000 of opus ($75 per million output tokens: $4.80):
# clamped, not refused, and the header says so.
BODY='{"model":"claude-opus-4-1","max_tokens":64000,"messages":[{"role":"user","content":"long"}]}'
out="$(call -H 'X-Fake-Output-Tokens: 10')"
expect_contains "$out" '"type": "message"' "the 64000 request was served"
clamped="$(km exec "$SB" -- cat /tmp/h | tr -d '\r' | sed -n 's/^[Xx]-[Kk]m-[Mm]ax-[Tt]okens-[Cc]lamped: //p')"
sent="$(tail -1 "$AILOG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_tokens"])')"
expect_eq "$clamped" "64000->$sent" "X-Km-Max-Tokens-Clamped names what the provider got"
[ "$sent" -lt 64000 ] && [ "$sent" -gt 256 ] || fail "clamped to $sent"

# 5. Spend up to the ceiling with calls that use all the output they may: one warning, never
# past the limit; the call that what is left cannot pay for gets 403 in Anthropic's error
# shape, the pool counts as used up, and the sandbox is suspended (stopped) moments later.
BODY='{"model":"claude-sonnet-4-5","max_tokens":64000,"messages":[{"role":"user","content":"all"}]}'
out=""
for i in $(seq 1 12); do
  out="$(call -w '\nstatus=%{http_code}' -H 'X-Fake-Output-Tokens: 64000' 2>&1 || true)"
  [[ "$out" == *'"type":"error"'* ]] && break
done
expect_contains "$out" '"type":"error"' "past the ceiling: Anthropic's error shape"
expect_contains "$out" '"permission_error"' "as a permission error (SDKs do not retry it)"
expect_contains "$out" "km budget add" "naming how to raise it"
expect_contains "$out" "status=403" "with status 403"
read -r limit spent reserved warned <<<"$(ledger pool | tr -d '[],')"
[ "$spent" -le "$limit" ] || fail "spent $spent passed the limit $limit"
expect_eq "$reserved" 0 "nothing held after the calls ended"
expect_eq "$warned" 1 "the pool is past its warning threshold"
expect_eq "$(ledger fleet-events | grep -c '^budget-warning$')" 1 "one warning event"
wait_status "$SB" 40 stopped
expect_eq "$(ledger fleet-events | grep -c '^budget-exhausted$')" 1 "used up, said once"
expect_eq "$(ledger fleet-events | tail -1)" suspended "then suspended"

# 6. What the CLI shows: km status's Budget lines and JSON, km list --wide's SPEND column.
dollars() { python3 -c 'import sys; from decimal import Decimal; t=format(Decimal(int(sys.argv[1]))/10**6,"f"); t=t.rstrip("0") if "." in t else t+".00"; t=t+"0" if len(t.split(".")[1])<2 else t; print(t)' "$1"; }
st="$(km status "$SB")"
expect_contains "$st" "Budget:" "km status has its Budget section"
expect_contains "$(grep '^  AI:' <<<"$st")" " \$$(dollars "$spent") / \$1.00 (" "km status shows AI spend / limit"
expect_contains "$st" "anthropic/claude-sonnet-4-5: " "km status has a row per model"
expect_contains "$st" "anthropic/claude-opus-4-1: 1 call, " "the opus call counted once"
km status --json "$SB" | python3 -c '
import json, sys
from decimal import Decimal
j = json.load(sys.stdin, parse_float=Decimal)
ai = j["budget"]["ai"]
assert ai["limitUSD"] == Decimal("1"), ai
assert ai["spentUSD"] * 10**6 == int(sys.argv[1]), (ai, sys.argv[1])
assert ai["reservedUSD"] == 0, ai
assert j["budget"]["compute"] is None, j["budget"]
models = {m["model"]: m for m in j["spend"]["byModel"]}
assert set(models) == {"claude-sonnet-4-5", "claude-opus-4-1"}, models
assert sum(m["costUSD"] for m in models.values()) * 10**6 == int(sys.argv[1])
' "$spent" || fail "km status --json budget and spend"
expect_contains "$(km list --wide)" "ai \$$(dollars "$spent")/\$1.00" "km list --wide fills SPEND"

# 7. km budget add lifts the block at once and resumes the sandbox.
out="$(km budget add "$SB" --ai 2)"
expect_contains "$out" "\$2.00 added to the ai budget" "km budget add says what it did"
expect_contains "$out" "$SB: resumed" "and resumes the suspended sandbox"
expect_eq "$(ledger pool | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')" 3000000 "the limit is now \$3"
BODY='{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"again"}]}'
expect_contains "$(call -H 'X-Fake-Output-Tokens: 5')" '"type": "message"' "calls go through again after the top-up"
expect_eq "$(ledger fleet-events | grep -c '^budget-added$')" 1 "the top-up is in the sandbox's history"
out="$(km budget add "$SB" --ai 0 2>&1)" && fail "a top-up of 0 was accepted"
expect_contains "$out" "more than \$0" "a zero top-up is refused, saying why"
out="$(km budget add "$SB" --compute 1 2>&1)" && fail "a compute top-up without a compute pool was accepted"
expect_contains "$out" "no compute budget" "no compute pool: said so"

# 8. What km cannot meter is refused while the sandbox has an AI budget.
out="$(km exec "$SB" -- curl -sS -m 10 -X POST https://api.anthropic.com/v1/messages/batches -d '{}' 2>&1 || true)"
expect_contains "$out" "not an API km can meter" "the batch API is refused"
out="$(km exec "$SB" -- curl -sS -m 10 http://api.anthropic.com/v1/messages -d '{}' 2>&1 || true)"
expect_contains "$out" "plain HTTP to an AI provider is refused" "plain HTTP to the provider is refused"

out="$(km exec "$SB" -- python3 - <<'PY'
import socket, ssl
s = ssl.create_default_context().wrap_socket(socket.create_connection(("api.anthropic.com", 443), 5), server_hostname="api.anthropic.com")
s.sendall(b"GET /v1/realtime HTTP/1.1\r\nHost: api.anthropic.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: eA==\r\nSec-WebSocket-Version: 13\r\n\r\n")
s.settimeout(5)
data = b""
try:
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except TimeoutError:
    pass
print(data.decode(errors="replace"))
PY
)"
expect_contains "$out" "WebSocket APIs (realtime) are not metered" "a WebSocket upgrade to the provider is refused"

# Trailer fields after a metered chunked body are refused (km would send them on as headers
# it never checked), and an endless trailer section ends the request without growing the
# supervisor's memory (its read buffer is bounded).
out="$(km exec "$SB" -- python3 - <<'PY'
import socket, ssl, time
def conn():
    s = ssl.create_default_context().wrap_socket(socket.create_connection(("api.anthropic.com", 443), 5),
                                                 server_hostname="api.anthropic.com")
    s.settimeout(10)
    return s
body = b'{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"t"}]}'
head = b"POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
s = conn()
s.sendall(head + b"%x\r\n%s\r\n0\r\nContent-Encoding: deflate\r\n\r\n" % (len(body), body))
print("trailer:", s.recv(4096).split(b"\r\n")[0].decode(), flush=True)
s = conn()
s.sendall(head + b"%x\r\n%s\r\n0\r\n" % (len(body), body))
line = b"X-Pad: " + b"a" * 8000 + b"\r\n"
sent, end = 0, time.time() + 20
try:
    while sent < (64 << 20) and time.time() < end:
        s.sendall(line * 64)
        sent += len(line) * 64
    print("endless: sent", sent, flush=True)
except OSError as e:
    print("endless: cut after", sent, "bytes:", type(e).__name__, flush=True)
PY
)"
expect_contains "$out" "trailer: HTTP/1.1 400" "a metered request with trailers is refused"
expect_contains "$out" "endless: cut after" "an endless trailer section ends the connection"
[[ "$(km status --json "$SB" | json_field supervisor.alive)" == True ]] || fail "the supervisor died of the trailers"
echo "metering: spent $spent of $limit µ$, clamped 64000->$sent"

# Access log: the metered call's model, tokens and cost.
expect_contains "$(cat "$KM_HOME/sandboxes/$SB/network.log")" "ai claude-sonnet-4-5 in" "the access log has the metered calls"

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: metering"
