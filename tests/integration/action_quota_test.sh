#!/usr/bin/env bash
# Action quotas (issue 17, spec.limits): GitHub actions made through km's proxy with curl
# against the fake GitHub API are counted in the fleet store per hour; past the limit,
# onBreach block refuses (429, the fake never sees it), freeze refuses and freezes every counted
# action until `km unlock`, warn lets it through and logs it. GraphQL mutations count as their
# REST twins. `km freeze` freezes by hand; `km status` shows the counts. The token here is a
# static one (operator config github.tokenFile), which also checks that path.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up

GH="$FI_DIR/github"
mkdir -p "$GH/repos"
: > "$GH/github.log"
echo "ghp_statictokenfortests0123456789" > "$GH/tokens"
install -m 600 "$GH/tokens" "$KM_HOME/github-token"
cat >> "$KM_HOME/config.yaml" <<YAML
github:
  tokenFile: $KM_HOME/github-token
YAML
cat > "$KM_HOME/q.yaml" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: quotas, prefix: qa}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  sourceAccess:
    mode: allowlist
    github: {allowedRepos: [o/r], allowedRefs: [main]}
  network:
    enforcement: proxy
    egress: {allowedDNSSuffixes: [], allowedHosts: []}
  limits:
    github_pr: {perHour: 2, onBreach: block}
    github_comment: {perHour: 1, onBreach: freeze}
    github_review: {perHour: 1, onBreach: warn}
YAML
SB="$(km create "$KM_HOME/q.yaml")"
api() {  # api PATH [JSON] → "CODE BODY"
  km exec "$SB" -- curl -sS -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "${2:-{\}}" "https://api.github.com$1"
}
code() { echo "${1##* }"; }
posts() { grep -c "api POST $1 auth=ok" "$GH/github.log" || true; }

# block: two pull requests an hour; the third is refused before GitHub sees it.
expect_eq "$(code "$(api /repos/o/r/pulls '{"title":"a"}')")" 201 "first PR"
expect_eq "$(code "$(api /repos/o/r/pulls '{"title":"b"}')")" 201 "second PR"
out="$(api /repos/o/r/pulls '{"title":"c"}')"
expect_eq "$(code "$out")" 429 "the third PR in the hour"
expect_contains "$out" '"message":"km: github_pr quota reached: 2 per hour (spec.limits.github_pr.perHour)"' "GitHub-shaped refusal"
expect_eq "$(posts /repos/o/r/pulls)" 2 "the fake saw two PRs"
# A GraphQL createPullRequest is a PR too.
gq='{"query":"mutation { createPullRequest(input: {repositoryId: \"R_1\", baseRefName: \"main\", headRefName: \"f\", title: \"t\"}) { pullRequest { id } } }"}'
expect_eq "$(code "$(api /graphql "$gq")")" 429 "a GraphQL createPullRequest past the limit"
expect_eq "$(posts /graphql)" 0 "the GraphQL mutation never reached GitHub"

# warn: over the limit, let through, logged.
expect_eq "$(code "$(api /repos/o/r/pulls/1/reviews)")" 201 "first review"
expect_eq "$(code "$(api /repos/o/r/pulls/1/reviews)")" 201 "second review (warn)"
expect_eq "$(posts /repos/o/r/pulls/1/reviews)" 2 "both reviews reached GitHub"
LOG="$KM_HOME/sandboxes/$SB/network.log"
expect_log '"path":"/repos/o/r/pulls/1/reviews"' 'warning: github_review quota reached: 1 per hour'

# freeze: the second comment is refused and freezes every counted action.
expect_eq "$(code "$(api /repos/o/r/issues/1/comments)")" 201 "first comment"
out="$(api /repos/o/r/issues/1/comments)"
expect_eq "$(code "$out")" 429 "the second comment"
out="$(api /repos/o/r/pulls/1/reviews)"
expect_eq "$(code "$out")" 429 "a review while frozen (warn alone would let it through)"
expect_contains "$out" "outbound actions are frozen: github_comment quota reached" "the freeze says why"
# Reads are not actions: they still go.
expect_eq "$(km exec "$SB" -- curl -sS -o /dev/null -w '%{http_code}' https://api.github.com/repos/o/r)" 200 "a read while frozen"
status="$(km status "$SB")"
expect_contains "$status" "FROZEN since" "km status shows the freeze"
expect_contains "$status" "github_pr: 2 (2 this hour, 2 today), limit 2 per hour, on breach block" "km status shows the counts"
expect_eq "$(km --json status "$SB" | python3 -c 'import json,sys; a=json.load(sys.stdin)["actions"]; print([c["hour"] for c in a["counts"] if c["action"]=="github_comment"][0], a["frozen"] is not None)')" \
  "1 True" "km status --json: counts and the freeze"
expect_contains "$(km logs "$SB")" "actions-frozen" "the freeze is an event"

# km unlock lifts it; km freeze freezes by hand, with its reason.
km unlock "$SB" >/dev/null
expect_eq "$(code "$(api /repos/o/r/pulls/2/reviews)")" 201 "a review after km unlock"
km freeze "$SB" --reason "incident 42" >/dev/null
out="$(api /repos/o/r/pulls/3/reviews)"
expect_eq "$(code "$out")" 429 "a review after km freeze"
expect_contains "$out" "incident 42" "the refusal gives km freeze's reason"
km unlock "$SB" >/dev/null
expect_eq "$(code "$(api /repos/o/r/pulls/3/reviews)")" 201 "after km unlock again"
# Every counted call carried the static token, never held by the sandbox.
expect_eq "$(grep -c 'auth=bad\|auth=none' "$GH/github.log" || true)" 0 "every call reached GitHub with the token"
expect_not_contains "$(km exec "$SB" -- sh -c 'cat /proc/[0-9]*/environ 2>/dev/null | tr "\0" "\n"')" "ghp_statictoken" "the token is not in the sandbox"

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing of this home is left"
echo "PASS: action quotas"
