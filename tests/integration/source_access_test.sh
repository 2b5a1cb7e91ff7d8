#!/usr/bin/env bash
# Source access (issue 17): the real git client in a sandbox, through km's proxy, against a
# fake GitHub on the fake internet (git http-backend behind tests/fakes/fake_github.py, every
# repository private). The sandbox holds no credential at all: the proxy adds a GitHub App
# installation token (minted from the App's JWT, verified by the fake with the App's public key)
# for allowed repositories only. Checks clone and fetch, a refused repository, pushes to allowed
# and refused refs, a deletion and a mixed push (the remote unchanged), the REST API, token
# renewal before expiry and after a revocation, and that no token is anywhere in the sandbox.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/fake_internet.sh"
extra_cleanup() { fake_internet_down; }
before="$(kernel_snapshot)"
fake_internet_up

GH="$FI_DIR/github"
mkdir -p "$GH/repos/whereiskurt" "$GH/repos/other"
: > "$GH/tokens"; : > "$GH/github.log"
# The App's key pair: the private key where km reads it (KM_HOME, 0600), the public one for the fake.
openssl genrsa -out "$KM_HOME/github-app.pem" 2048 2>/dev/null
chmod 600 "$KM_HOME/github-app.pem"
openssl rsa -in "$KM_HOME/github-app.pem" -pubout -out "$GH/app.pub.pem" 2>/dev/null
# The remote repositories: main, feature/x and protected in an allowed one; a secret elsewhere.
seed="$KM_HOME/seed"
git init -q -b main "$seed"
git -C "$seed" -c user.name=t -c user.email=t@e commit -q --allow-empty -m first
git -C "$seed" branch feature/x
git -C "$seed" branch protected
for r in whereiskurt/allowed other/secret; do
  git clone -q --bare "$seed" "$GH/repos/$r.git"
  git -C "$GH/repos/$r.git" config http.receivepack true
done
remote_ref() { git -C "$GH/repos/whereiskurt/allowed.git" rev-parse -q --verify "$1" 2>/dev/null || echo none; }
# The operator stores the App with km configure github: checked, then written into the config
# (which keeps its dns and tls blocks).
out="$(km configure github --token-file /etc/hostname 2>&1)" && fail "a token file sandboxes can read was accepted"
expect_contains "$out" "is where sandboxes can read it" "km configure refuses a visible file"
km configure github --app-id 4242 --private-key "$KM_HOME/github-app.pem" --installation whereiskurt=77 >/dev/null ||
  fail "km configure github"
expect_contains "$(cat "$KM_HOME/config.yaml")" "extraCAFile" "km configure kept the rest of the config"
expect_contains "$(km config show)" "appId: 4242" "the App is in the config"

cat > "$KM_HOME/src.yaml" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: source, prefix: sa}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
  sourceAccess:
    mode: allowlist
    github: {allowedRepos: [whereiskurt/allowed], allowedRefs: [main, "feature/*"]}
  network:
    enforcement: proxy
    egress: {allowedDNSSuffixes: [], allowedHosts: []}
YAML
SB="$(km create "$KM_HOME/src.yaml")"
in_sb() { km exec "$SB" -- "$@"; }
git_sb() { km exec "$SB" -- sh -c "cd /workspace && $1" 2>&1; }
tokens() { wc -l < "$GH/tokens"; }

# Clone of an allowed repository: no credential in the sandbox, the proxy's token lets it in.
out="$(git_sb 'git clone https://github.com/whereiskurt/allowed.git a')" || fail "clone of an allowed repository: $out"
expect_contains "$(cat "$GH/github.log")" "token installation=77 repos=allowed iss=4242 jwt=ok" "the App's JWT verified and the token scoped to the repository"
expect_contains "$(cat "$GH/github.log")" "git git-upload-pack whereiskurt/allowed auth=ok" "git authenticated by the proxy's token"
expect_eq "$(tokens)" 1 "one token minted"
git_sb 'cd a && git fetch -q origin && git rev-parse origin/feature/x' >/dev/null || fail "fetch"
expect_eq "$(tokens)" 1 "the token is reused (cached)"

# A repository outside the list: refused by the proxy, even though GitHub would take the token.
: > "$GH/github.log"
out="$(git_sb 'git clone https://github.com/other/secret.git s')" && fail "clone of a refused repository worked"
expect_contains "$out" "other/secret is not in this sandbox's spec.sourceAccess.github.allowedRepos" "git shows why"
expect_eq "$(grep -c other/secret "$GH/github.log" || true)" 0 "the refused repository never reached GitHub"
out="$(in_sb curl -sS -o /dev/null -w '%{http_code}' https://api.github.com/repos/other/secret)"
expect_eq "$out" 403 "the API of a refused repository"
out="$(in_sb curl -sS https://api.github.com/repos/whereiskurt/allowed)"
expect_contains "$out" '"full_name": "whereiskurt/allowed"' "the API of an allowed repository, with the proxy's token"
out="$(in_sb curl -sS -o /dev/null -w '%{http_code}' https://github.com/whereiskurt/allowed/../../other/secret/info/refs)"
expect_eq "$out" 403 "a dot-dot path does not slip past"

# Pushes. An allowed branch: pushed.
gitc='git -c user.name=a -c user.email=a@e'
git_sb "cd a && $gitc commit -q --allow-empty -m two && git push -q origin main" >/dev/null || fail "push to main"
expect_eq "$(remote_ref main)" "$(git_sb 'cd a && git rev-parse HEAD' | tail -1)" "main was pushed"
# A refused branch: git prints km's reason; the remote is unchanged.
before_protected="$(remote_ref protected)"
out="$(git_sb "cd a && git push origin main:protected")" && fail "push to a refused ref worked"
expect_contains "$out" "refs/heads/protected is not in spec.sourceAccess.github.allowedRefs" "git shows the refused ref"
expect_eq "$(remote_ref protected)" "$before_protected" "protected is unchanged"
# Deleting an allowed ref: refused (allowRefDeletion is off).
out="$(git_sb "cd a && git push origin :feature/x")" && fail "deleting a ref worked"
expect_contains "$out" "needs spec.sourceAccess.github.allowRefDeletion" "git shows why the deletion is refused"
[ "$(remote_ref feature/x)" != none ] || fail "feature/x was deleted"
# A push mixing an allowed and a refused ref: nothing of it lands.
before_main="$(remote_ref main)"
out="$(git_sb "cd a && $gitc commit -q --allow-empty -m three && git push origin main HEAD:protected")" && fail "a mixed push worked"
expect_contains "$out" "nothing was pushed" "the mixed push is refused whole"
expect_eq "$(remote_ref main)" "$before_main" "main is unchanged after the mixed push"
expect_eq "$(remote_ref protected)" "$before_protected" "protected is unchanged after the mixed push"
# A tag: refused unless an entry names refs/tags/.
out="$(git_sb "cd a && git tag v1 && git push origin v1")" && fail "a tag push worked"
expect_contains "$out" "refs/tags/v1 is not in spec.sourceAccess.github.allowedRefs" "tags are refused"
expect_eq "$(remote_ref v1)" none "no tag on the remote"
# Another spelling of the push endpoint is still read as a push (a trailing slash, case), and a
# push sent by hand with curl meets the same check: the body git would send is captured first.
git_sb "cd a && git update-ref refs/heads/protected HEAD" >/dev/null
body="$(km exec "$SB" -- sh -c 'cd /workspace/a && old=$(git ls-remote origin refs/heads/protected | cut -f1) &&
  new=$(git rev-parse HEAD) && { printf "%04x%s %s refs/heads/protected\0 report-status\n" $((4 + 118)) "$old" "$new";
  printf 0000; git pack-objects --stdout --revs --thin <<EOF 2>/dev/null
$new
^$old
EOF
} | base64 -w0')"
for path in git-receive-pack/ GIT-RECEIVE-PACK; do
  out="$(km exec "$SB" -- sh -c "echo $body | base64 -d | curl -sS -H 'Content-Type: application/x-git-receive-pack-request' --data-binary @- https://github.com/whereiskurt/allowed.git/$path")"
  expect_contains "$out" "refs/heads/protected is not in spec.sourceAccess.github.allowedRefs" "a push to .../$path is read as a push"
  expect_eq "$(remote_ref protected)" "$before_protected" "protected is unchanged after a push to .../$path"
done
# A GET with a body could carry a second request a lenient server reads unjudged: refused.
out="$(in_sb curl -sS -o /dev/null -w '%{http_code}' -X GET --data-binary 'GET /other/secret/info/refs HTTP/1.1' https://github.com/whereiskurt/allowed/info/refs)"
expect_eq "$out" 400 "a GET with a body to GitHub"
# REST calls that change refs are judged like pushes; ones km cannot judge are refused.
api() { km exec "$SB" -- curl -sS -o /tmp/api.out -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' --data "$3" "https://api.github.com$2"; }
expect_eq "$(api POST /repos/whereiskurt/allowed/git/refs '{"ref":"refs/heads/protected","sha":"0"}')" 403 "creating a refused ref through the API"
expect_eq "$(api PATCH /repos/whereiskurt/allowed/git/refs/heads/protected '{"sha":"0"}')" 403 "moving a refused ref through the API"
expect_eq "$(api DELETE /repos/whereiskurt/allowed/git/refs/heads/main '')" 403 "deleting a ref through the API"
expect_eq "$(api PUT /repos/whereiskurt/allowed/contents/x.txt '{"message":"m","content":"eA=="}')" 403 "a contents write without its branch"
expect_eq "$(api PUT /repos/whereiskurt/allowed/contents/x.txt '{"message":"m","content":"eA==","branch":"protected"}')" 403 "a contents write to a refused branch"
expect_eq "$(api PUT /repos/whereiskurt/allowed/contents/x.txt '{"message":"m","content":"eA==","branch":"feature/y"}')" 201 "a contents write to an allowed branch"
expect_eq "$(api PUT /repos/whereiskurt/allowed/pulls/1/merge '{}')" 403 "merging a pull request through the API"
expect_eq "$(api PATCH /repos/whereiskurt/allowed '{"default_branch":"x"}')" 403 "changing the repository through the API"
gq='{"query":"mutation { updateRef(input: {refId: \"R\", oid: \"0\"}) { ref { name } } }"}'
code="$(api POST /graphql "$gq")"
[ "$code" = 403 ] || fail "a GraphQL mutation that writes a ref: $code $(km exec "$SB" -- cat /tmp/api.out)"
gq='{"query":"mutation { ...F } fragment F on Mutation { createPullRequest(input: {repositoryId: \"R\", baseRefName: \"main\", headRefName: \"f\", title: \"t\"}) { pullRequest { id } } }"}'
expect_eq "$(api POST /graphql "$gq")" 403 "a GraphQL mutation through a fragment"
# A compressed push body cannot hide its commands.
out="$(in_sb sh -c 'printf x | gzip | curl -sS -o /dev/null -w "%{http_code}" -H "Content-Encoding: gzip" -H "Content-Type: application/x-git-receive-pack-request" --data-binary @- https://github.com/whereiskurt/allowed.git/git-receive-pack')"
expect_eq "$out" 403 "a gzip push body is refused"
# Plain HTTP to GitHub: refused (GitHub is filtered over HTTPS only).
out="$(in_sb curl -sS -o /dev/null -w '%{http_code}' http://github.com/whereiskurt/allowed.git/info/refs)"
expect_eq "$out" 403 "GitHub in clear text"

# Revocation: GitHub refuses the cached token; the proxy gets a fresh one and sends the
# request again, once. New tokens now live 301 s: within the proxy's five-minute margin.
echo 301 > "$GH/token_ttl"
: > "$GH/tokens"
: > "$GH/github.log"
git_sb 'cd a && git ls-remote origin >/dev/null' >/dev/null || fail "ls-remote after the token was revoked"
expect_contains "$(cat "$GH/github.log")" "git git-upload-pack whereiskurt/allowed auth=bad" "GitHub refused the revoked token"
expect_contains "$(cat "$GH/github.log")" "git git-upload-pack whereiskurt/allowed auth=ok" "the request was sent again with a fresh token"
expect_eq "$(tokens)" 1 "one fresh token after the revocation"
# Renewal before expiry: a token within five minutes of its end is replaced before use.
sleep 1.2
git_sb 'cd a && git ls-remote origin >/dev/null' >/dev/null || fail "ls-remote with a token about to expire"
expect_eq "$(tokens)" 2 "a token about to expire is renewed before use"
echo 3600 > "$GH/token_ttl"
sleep 1.2
git_sb 'cd a && git ls-remote origin >/dev/null' >/dev/null
expect_eq "$(tokens)" 3 "renewed again (the last one was about to expire too)"
git_sb 'cd a && git ls-remote origin >/dev/null' >/dev/null
expect_eq "$(tokens)" 3 "an hour-long token is reused"

# No token anywhere in the sandbox: env of every process, files it can read, /proc.
scan="$(km exec --root "$SB" -- sh -c 'cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" "\n"; grep -rIhE "gh[s]_[0-9a-f]" /workspace /home /root /tmp /etc /run 2>/dev/null' 2>/dev/null || true)"
while read -r t; do
  [ -n "$t" ] || continue
  expect_not_contains "$scan" "$t" "a token in the sandbox"
done < "$GH/tokens"
expect_not_contains "$scan" "ghs_" "no installation token in the sandbox"
expect_not_contains "$(in_sb cat /workspace/a/.git/config)" "x-access-token" "no credential in git's config"
# The App's key is where the sandbox cannot read it, even as root.
expect_fail km exec --root "$SB" -- cat "$KM_HOME/github-app.pem"
# The network log says which requests got a token, never the token.
LOG="$KM_HOME/sandboxes/$SB/network.log"
expect_log '"host":"github.com"' 'GitHub token put in'
while read -r t; do [ -z "$t" ] || expect_not_contains "$(cat "$LOG")" "$t" "a token in the network log"; done < "$GH/tokens"

# km doctor checks the App's key and asks the installation for a token, as sandboxes reach GitHub.
out="$(km doctor 2>&1 || true)"
expect_contains "$out" "github App 4242: its key signs a JWT" "km doctor checks the key"
expect_contains "$out" "github App 4242 installation 77 (whereiskurt): issued a token" "km doctor asks the installation"

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing of this home is left"
echo "PASS: source access"
