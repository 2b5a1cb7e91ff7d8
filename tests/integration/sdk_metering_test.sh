#!/usr/bin/env bash
# AI metering with the official SDKs as clients (@anthropic-ai/sdk, openai,
# @aws-sdk/client-bedrock-runtime; pinned in tests/sdk, installed by scripts/install-deps.sh)
# running inside a sandbox against the fake providers on the fake internet
# (tests/fakes/fake_providers.py: Anthropic Messages, OpenAI Chat Completions and Responses,
# Bedrock InvokeModel / InvokeModelWithResponseStream / Converse / ConverseStream, with the AWS
# event-stream framing and its CRCs). The SDKs ignore the proxy env and dial the providers
# directly: km's transparent proxy catches them. For every call the ledger's tokens must equal
# what the fake reported and its cost the price table's arithmetic. Near the ceiling a large
# request's input is counted by the provider (count_tokens) instead of bounded by its size.
# Then 100 streamed calls at once near the ceiling: spend ends at or under the limit, every
# admitted call settled.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
SDK="$(cd "$HERE/../sdk" && pwd)"
[ -f "$SDK/node_modules/@anthropic-ai/sdk/package.json" ] || fail "the SDKs are not installed: run scripts/install-deps.sh"
before="$(kernel_snapshot)"
fake_internet_up
DB="$KM_HOME/fleet.db"
AILOG="$FI_DIR/ai.log"

profile() {  # name ai-usd
  cat > "$KM_HOME/$1.yaml" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: $1, prefix: km}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  budget:
    ai: {maxSpendUSD: $2}
  network:
    enforcement: proxy
    egress: {allowedDNSSuffixes: [], allowedHosts: []}
YAML
  echo "$KM_HOME/$1.yaml"
}
q() {  # SQL → rows, fields space-separated (read-only; python's sqlite3 on km's database)
  python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for r in db.execute(sys.argv[2]): print(*r)' "$DB" "$1"
}
sdk() {  # sandbox case [headers-json] [n]
  km exec "$1" -- env FAKE_HEADERS="${3:-{\}}" node "$SDK/clients.mjs" "$2" ${4:+"$4"}
}

# Checks the newest usage event against the fake's newest ai.log entry: tokens by kind and the
# cost as the price table's arithmetic (prices per million tokens, micro-dollars, rounded up).
check_last() {  # sandbox what
  python3 - "$DB" "$1" "$AILOG" "$2" <<'PY' || fail "$2: the ledger does not match the fake"
import json, sqlite3, sys
db_path, sb, ailog, what = sys.argv[1:]
fake = [json.loads(l) for l in open(ailog) if '"usage"' in l][-1]
db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
row = db.execute("SELECT provider, model, input_tokens, output_tokens, cache_read_tokens, reasoning_tokens,"
                 " cost_micros, note FROM usage_events WHERE sandbox_id=? AND pool='ai' ORDER BY id DESC LIMIT 1",
                 (sb,)).fetchone()
provider, model, tin, tout, tcache, treason, cost, note = row
u = fake["usage"]
prices = {"gpt-4o": (2.50, 10, 1.25), "gpt-5": (1.25, 10, 0.125), "claude-sonnet-4-5": (3, 15, 0.30),
          "claude-opus-4-1": (15, 75, 1.50),
          "anthropic.claude-sonnet-4-5": (3, 15, 0.30)}
if provider == "openai":
    if "prompt_tokens" in u:
        cached = u["prompt_tokens_details"]["cached_tokens"]
        want = (u["prompt_tokens"] - cached, u["completion_tokens"], cached, u["completion_tokens_details"]["reasoning_tokens"])
    else:
        cached = u["input_tokens_details"]["cached_tokens"]
        want = (u["input_tokens"] - cached, u["output_tokens"], cached, u["output_tokens_details"]["reasoning_tokens"])
else:
    want = (u["input_tokens"], u["output_tokens"], u.get("cache_read_input_tokens", 0), 0)
got = (tin, tout, tcache, treason)
assert got == want, "%s: tokens %s, fake reported %s" % (what, got, want)
pin, pout, pcache = prices[model]
micro = lambda d: round(d * 10**6)
exact = tin * micro(pin) + tout * micro(pout) + tcache * micro(pcache)
assert cost == -(-exact // 10**6), "%s: cost %d, the table says %d" % (what, cost, -(-exact // 10**6))
assert note == "", "%s: charged with a note: %s" % (what, note)
print("%s: %s/%s in %d out %d cached %d reasoning %d = %d µ$" % (what, provider, model, tin, tout, tcache, treason, cost))
PY
}

SB="$(km create "$(profile sdks 5)" | tail -1)"
km exec "$SB" -- node --version >/dev/null || fail "node does not run in the sandbox"

# 1. Every API with its SDK: the SDK gets its answer, the ledger matches the fake.
for c in anthropic-json anthropic-stream openai-chat-json openai-chat-stream openai-responses-json \
         openai-responses-stream bedrock-invoke bedrock-invoke-stream bedrock-converse bedrock-converse-stream; do
  out="$(sdk "$SB" "$c" '{"X-Fake-Output-Tokens":"17","X-Fake-Cache-Read":"40","X-Fake-Reasoning":"5"}')" \
    || fail "$c: the SDK failed: $out"
  expect_contains "$out" '"ok":true' "$c answered"
  check_last "$SB" "$c"
done
# The SDK read the usage km charged: Anthropic's stream and OpenAI's usage chunk (which km asked for).
out="$(sdk "$SB" openai-chat-stream)"
expect_contains "$out" '"completion_tokens":30' "the OpenAI SDK saw the usage chunk km asked for"
out="$(sdk "$SB" anthropic-count)"
expect_contains "$out" '"input_tokens":' "count_tokens answered through the proxy"
n_events="$(q "SELECT count(*) FROM usage_events WHERE sandbox_id='$SB' AND pool='ai'")"
expect_eq "$n_events" 11 "count_tokens is free (no usage event)"

# 2. Near the ceiling the provider's own count replaces the bound from the body's size: a
# 200 KB conversation to opus ($30/M for 1-hour cache writes, the dearest input) is bounded
# at 204,896 input tokens ($6.15, more than the $5 budget: refused unless counted); counted
# (about 20,000 tokens: $0.60) it goes out, its max_tokens clamped to what is left.
python3 -c 'import json; print(json.dumps({"model":"claude-opus-4-1","max_tokens":64000,"messages":[{"role":"user","content":"x" * 200000}]}))' \
  > "$KM_HOME/big.json"
out="$(km exec "$SB" -- curl -sS -m 30 -D - -o /dev/null https://api.anthropic.com/v1/messages -H 'content-type: application/json' \
  -H 'x-api-key: sk-ant-fake' -H 'anthropic-version: 2023-06-01' -H 'X-Fake-Output-Tokens: 10' --data-binary @- < "$KM_HOME/big.json")"
expect_contains "$out" "200" "the large request near the ceiling was served"
expect_contains "$(tr -d '\r' <<<"$out" | tr 'A-Z' 'a-z')" "x-km-max-tokens-clamped: 64000->" "its max_tokens clamped to what is left"
counted="$(grep '"api": "count_tokens"' "$AILOG" | tail -1 | json_field input_tokens)"
[ "$counted" -gt 15000 ] && [ "$counted" -lt 25000 ] || fail "count_tokens said $counted"
check_last "$SB" "counted opus call"
km destroy --yes "$SB" >/dev/null

# 3. 100 streamed calls at once near the ceiling: a $0.60 budget, each call asking for
# max_tokens 3000 (at most $0.045 of sonnet output) and using all it is allowed, so about a
# dozen fit at once. Reservations are sized to what is left, so spend never passes the limit;
# every admitted call is settled; the others get 403.
SB="$(km create "$(profile burst 0.60)" | tail -1)"
out="$(km exec "$SB" -- env FAKE_HEADERS='{"X-Fake-Output-Tokens":"64000","X-Fake-Delay-Ms":"50"}' MAX_TOKENS=3000 \
  node "$SDK/clients.mjs" anthropic-parallel 100)" || true
echo "burst: ${out:0:300}"
served="$(json_field served <<<"$out")"
refused="$(json_field refused <<<"$out")"
expect_eq "$((served + refused))" 100 "every call answered"
[ "$served" -ge 5 ] || fail "only $served of 100 calls were served"
expect_contains "$out" '"statuses":[403]' "the refused ones got 403"
read -r limit spent reserved <<<"$(q "SELECT limit_micros, spent_micros, reserved_micros FROM budget_pools WHERE sandbox_id='$SB' AND pool='ai'")"
[ "$spent" -le "$limit" ] || fail "spent $spent passed the limit $limit"
expect_eq "$reserved" 0 "every reservation settled or released"
settled="$(q "SELECT count(*) FROM usage_events WHERE sandbox_id='$SB' AND pool='ai'")"
expect_eq "$settled" "$served" "one usage event per served call"
echo "burst: $served served, $refused refused, spent $spent of $limit µ$"
km destroy --yes "$SB" >/dev/null

# 4. Bedrock's requests are signed by the client (AWS SigV4 covers the body): the fake Bedrock
# verifies every signature as AWS does, so km may not change a signed body. Without operator
# credentials a call the budget cannot pay for whole is refused, not clamped (which AWS would
# reject); with ai.bedrock.credentialsFile km counts the input with Bedrock's CountTokens and
# signs the clamped call itself.
SB="$(km create "$(profile signed 0.50)" | tail -1)"
out="$(km exec "$SB" -- env MAX_TOKENS=64000 node "$SDK/clients.mjs" bedrock-invoke)" && fail "a 64k signed call under \$0.50 was served: $out"
expect_contains "$out" '"name":"AccessDeniedException"' "the SDK raised Bedrock's own error"
expect_contains "$out" "the client signed the body" "the refusal says why it was not clamped"
out="$(km exec "$SB" -- env MAX_TOKENS=20000 FAKE_HEADERS='{"X-Fake-Output-Tokens":"12"}' node "$SDK/clients.mjs" bedrock-invoke)" \
  || fail "a signed call the budget pays for whole failed: $out"
check_last "$SB" "signed invoke paid for whole"
km destroy --yes "$SB" >/dev/null

printf '[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = x\n[km]\naws_access_key_id = AKIAKMOPERATOR\naws_secret_access_key = km/operator/secret\n' \
  > "$KM_HOME/aws-credentials"
chmod 644 "$KM_HOME/aws-credentials"
printf 'ai:\n  bedrock:\n    credentialsFile: %s\n    profile: km\n' "$KM_HOME/aws-credentials" >> "$KM_HOME/config.yaml"
out="$(km create "$(profile loose 1)" 2>&1)" && fail "a credentials file others can read was accepted: $out"
expect_contains "$out" "chmod 600" "a readable credentials file is refused at create"
chmod 600 "$KM_HOME/aws-credentials"
SB="$(km create "$(profile resign 1)" | tail -1)"
# 200 KB of prompt to sonnet with max_tokens 64000 under $1: bounded by its size (about 204,900
# input tokens at the 1-hour cache write rate, $1.23) it would be refused; counted (about
# 20,000 tokens) it is served with its limit lowered, and signed by km.
for c in bedrock-invoke bedrock-converse; do
  out="$(km exec "$SB" -- env PAD=200000 MAX_TOKENS=64000 FAKE_HEADERS='{"X-Fake-Output-Tokens":"9"}' \
    node "$SDK/clients.mjs" "$c")" || fail "$c near the ceiling with km's signature failed: $out"
  count="$(grep '"api": "bedrock-count-tokens"' "$AILOG" | tail -1)"
  expect_contains "$count" '"signed_by": "AKIAKMOPERATOR"' "$c: CountTokens signed with the operator's key"
  expect_contains "$count" '"model": "anthropic.claude-sonnet-4-5-20250929-v1:0"' "$c: counted as the foundation model"
  call="$(grep '"usage"' "$AILOG" | tail -1)"
  limit="$(json_field max_tokens <<<"$call")"
  [ "$limit" -lt 64000 ] && [ "$limit" -gt 1000 ] || fail "$c: the call went out with max_tokens $limit"
  check_last "$SB" "$c counted and signed by km"
done
# km signs the Host it sends (canonical), however the client wrote it; a client's own
# signature (here a bogus one) is replaced.
bedrock_curl() {  # model host-field → "body\nstatus=N"
  km exec "$SB" -- curl -sS -m 20 -w '\nstatus=%{http_code}' \
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/$1/invoke" -H "Host: $2" \
    -H 'content-type: application/json' -H 'X-Amz-Date: 20260101T000000Z' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIAFAKEFAKEFAKEFAKE/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00' \
    --data-binary '{"anthropic_version":"bedrock-2023-05-31","max_tokens":64000,"messages":[{"role":"user","content":"hi"}]}' 2>&1 || true
}
out="$(bedrock_curl anthropic.claude-sonnet-4-5-20250929-v1:0 'BEDROCK-RUNTIME.us-east-1.amazonaws.com:443')"
expect_contains "$out" "status=200" "a Host in another spelling is signed as sent: $out"
# InvokeModel is metered for Anthropic models only (others name their limits elsewhere).
out="$(bedrock_curl us.amazon.nova-pro-v1:0 bedrock-runtime.us-east-1.amazonaws.com)"
expect_contains "$out" "status=400" "InvokeModel of a non-Anthropic model refused"
expect_contains "$out" "through Converse" "the refusal says what to use"
grep -q '"api": "bedrock-auth"' "$AILOG" && fail "a Bedrock signature failed: $(grep '"bedrock-auth"' "$AILOG" | head -3)"
km destroy --yes "$SB" >/dev/null

expect_eq "$(kernel_snapshot)" "$before" "nothing left"
echo "PASS: sdk_metering"
