#!/usr/bin/env bash
# `make install`: the binary lands in PREFIX/bin and runs from the PATH, the bash and zsh
# completions land where those shells look and are exactly what km prints, DESTDIR stages
# an install, and uninstall removes it. Runs scripts/install.sh — what `make install` runs
# after its build — on the km under test, so nothing is rebuilt.
# Usage: bash install_test.sh <path-to-km> <path-to-shared>
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KM=${1:?usage: $0 <path-to-km> <path-to-shared>}
[[ -x $KM ]] || { echo "FAIL: km binary not found at $KM" >&2; exit 1; }
KM=$(realpath "$KM")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
INSTALL=$ROOT/scripts/install.sh

e2e_setup

# The Makefile's install and uninstall targets are this script with PREFIX and DESTDIR.
if command -v make >/dev/null; then
  CTX="make -n install"
  plan=$(make -s -n -C "$ROOT" install uninstall PREFIX=/opt/kmp DESTDIR=/stage 2>&1) || fail "make -n: $plan"
  has_line "$plan" '^DESTDIR="/stage" scripts/install\.sh build/release/src/km "/opt/kmp"$'
  has_line "$plan" '^DESTDIR="/stage" scripts/install\.sh --uninstall "/opt/kmp"$'
  has_line "$plan" 'cmake --build build/release'   # install builds the release km first
fi

# Into a fresh prefix (its directories do not exist yet).
prefix=$TMP/prefix
CTX="install.sh KM $prefix"
out=$("$INSTALL" "$KM" "$prefix") || fail "install failed: $out"
for f in bin/km share/bash-completion/completions/km share/zsh/site-functions/_km; do
  [[ -f $prefix/$f ]] || fail "$prefix/$f not installed"
  has "$out" "installed $prefix/$f"
done
[[ $(stat -c %a "$prefix/bin/km") == 755 ]] || fail "km is not mode 755"
[[ $(stat -c %a "$prefix/share/bash-completion/completions/km") == 644 ]] || fail "completion is not mode 644"
# Installed without its debug information (the build tree keeps it), otherwise the same.
strip --strip-debug -o "$TMP/km-stripped" "$KM"
cmp -s "$TMP/km-stripped" "$prefix/bin/km" || fail "the installed km is not $KM stripped of debug information"
readelf -S "$KM" >"$TMP/sections-built"
readelf -S "$prefix/bin/km" >"$TMP/sections-installed"
grep -q '\.debug_info' "$TMP/sections-built" || fail "the build's km has no debug information to strip (test proves nothing)"
if grep -q '\.debug_' "$TMP/sections-installed"; then fail "the installed km still has debug sections"; fi

# km from the PATH, in a shell that has only the prefix and the system directories.
CTX="km --version from the PATH"
found=$(env PATH="$prefix/bin:/usr/bin:/bin" bash -c 'command -v km')
[[ $found == "$prefix/bin/km" ]] || fail "km on the PATH is '$found'"
version=$(env PATH="$prefix/bin:/usr/bin:/bin" km --version) || fail "km --version failed"
[[ $version =~ ^km\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "version line looks wrong: $version"
[[ $version == "$("$KM" --version)" ]] || fail "installed km reports '$version'"

# The completion files are the scripts the binary prints.
CTX="completion files"
cmp -s <("$KM" completion bash) "$prefix/share/bash-completion/completions/km" || fail "bash completion differs"
cmp -s <("$KM" completion zsh) "$prefix/share/zsh/site-functions/_km" || fail "zsh completion differs"
head -1 "$prefix/share/zsh/site-functions/_km" | grep -qx '#compdef km' || fail "_km does not start with #compdef km"
# bash-completion's loader sources completions/km on the first <TAB> after `km`: that must
# register _km for km and complete the command names.
words=$(env PATH="$prefix/bin:/usr/bin:/bin" bash --norc --noprofile -c '
  source "$1"; complete -p km
  COMP_WORDS=(km val); COMP_CWORD=1; _km; echo "${COMPREPLY[*]}"' _ "$prefix/share/bash-completion/completions/km")
has "$words" "complete -o default -F _km km"
has "$words" "validate"

# The rest needs no real km (copying the sanitizer build is what takes time here): a stand-in
# that prints its arguments as its "completion script".
fake=$TMP/fake-km
printf '#!/bin/sh\necho "fake $*"\n' >"$fake"; chmod +x "$fake"

# Installing again over an existing install replaces the files (no leftovers beside them).
CTX="reinstall"
"$INSTALL" "$fake" "$prefix" >/dev/null || fail "second install failed"
left=$(find "$prefix" -type f | sort)
[[ $(wc -l <<<"$left") -eq 3 ]] || fail "expected exactly the three files, got:
$left"
cmp -s "$fake" "$prefix/bin/km" || fail "reinstall did not replace km"
[[ $(cat "$prefix/share/zsh/site-functions/_km") == "fake completion zsh" ]] || fail "reinstall did not replace _km"

# DESTDIR stages the same layout under another root; nothing is written to PREFIX itself.
CTX="DESTDIR"
DESTDIR=$TMP/stage "$INSTALL" "$fake" /usr/local-km-test >/dev/null || fail "DESTDIR install failed"
for f in bin/km share/bash-completion/completions/km share/zsh/site-functions/_km; do
  [[ -f $TMP/stage/usr/local-km-test/$f ]] || fail "DESTDIR: $f not staged"
done
[[ ! -e /usr/local-km-test ]] || fail "DESTDIR install wrote outside DESTDIR"

# A binary that cannot run installs nothing.
CTX="broken binary"
printf '#!/bin/sh\nexit 3\n' >"$TMP/broken"; chmod +x "$TMP/broken"
if "$INSTALL" "$TMP/broken" "$TMP/none" >/dev/null 2>&1; then fail "installing a failing binary succeeded"; fi
[[ ! -e $TMP/none ]] || fail "a failing binary left files in $TMP/none"
if "$INSTALL" "$TMP/missing" "$TMP/none" >/dev/null 2>&1; then fail "installing a missing binary succeeded"; fi
if "$INSTALL" "$KM" >/dev/null 2>&1; then fail "install without a prefix succeeded"; fi

# Uninstall removes the three files and nothing else.
CTX="uninstall"
touch "$prefix/bin/other"
"$INSTALL" --uninstall "$prefix" >/dev/null || fail "uninstall failed"
left=$(cd "$prefix" && find . -type f)
[[ $left == "./bin/other" ]] || fail "uninstall left: $left"
DESTDIR=$TMP/stage "$INSTALL" --uninstall /usr/local-km-test >/dev/null || fail "DESTDIR uninstall failed"
[[ -z $(find "$TMP/stage" -type f) ]] || fail "DESTDIR uninstall left files"

echo "PASS: install"
