#!/usr/bin/env bash
# Self-test of images.sh, end to end: Debian root tar → OCI layouts (Debian; the AL2023
# stand-in as a second layer) → local TLS registry → pulled back with skopeo and unpacked
# with umoci, checking layer counts, os/arch, os-release and the stand-in's dnf; then that
# the registry is gone and nothing is left mounted.
# Usage (root): tests/integration/lib/images_selftest.sh   (exit 77: skipped)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/images.sh
source "$here/images.sh"

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (mmdebstrap --mode=root, umoci as root)"; exit 77; fi
for tool in mmdebstrap umoci skopeo docker-registry openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"; }

work="$(mktemp -d /tmp/km-img-selftest.XXXXXX)"
cleanup() {
  local rc=$?
  img_registry_stop
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# Field FIELD of os-release file $1 (quotes removed), read as a shell would.
# shellcheck disable=SC1090
os_field() { (set +u; . "$1"; eval "echo \"\${$2}\""); }
# skopeo inspect's FIELD (Architecture, Os, len(Layers), Env).
inspect_field() {
  python3 -c 'import json,sys; d=json.load(sys.stdin); f=sys.argv[1]
print(len(d["Layers"]) if f=="layers" else (" ".join(d[f]) if isinstance(d[f], list) else d[f]))' "$1"
}

start=$SECONDS
img_debian_rootfs_tar "$work/debian.tar"
echo "rootfs tar: $((SECONDS - start)) s ($(du -m "$work/debian.tar" | cut -f1) MiB)"
tar -tf "$work/debian.tar" ./usr/bin/apt-get >/dev/null || fail "no apt-get in the root tar"
start=$SECONDS
img_debian_rootfs_tar "$work/debian-again.tar"
echo "rootfs tar again (cached): $((SECONDS - start)) s"
cmp -s "$work/debian.tar" "$work/debian-again.tar" || fail "cached tar differs"

img_standin_al2023_overlay "$work/al2023"
for tool in dnf yum; do [ -x "$work/al2023/usr/bin/$tool" ] || fail "stand-in $tool not executable"; done
expect_eq "$(os_field "$work/al2023/etc/os-release" ID)" amzn "stand-in os-release ID"

start=$SECONDS
img_oci_layout_from_tar "$work/debian.tar" "$work/layout" bookworm
img_oci_layout_from_tar "$work/debian.tar" "$work/layout" al2023 "$work/al2023"
echo "layouts: $((SECONDS - start)) s"
expect_eq "$(umoci ls --layout "$work/layout" | sort | tr '\n' ' ')" "al2023 bookworm " "layout tags"
! compgen -G "$work/layout.work*" >/dev/null || fail "scratch bundle left: $(ls "$work")"

img_registry_start "$work/registry"
echo "registry: $IMG_REGISTRY (pid $IMG_REGISTRY_PID), CA in $IMG_CERT_DIR"
expect_eq "$(ls "$IMG_CERT_DIR")" ca.crt "cert dir content"
reg_pid="$IMG_REGISTRY_PID"
reg_addr="$IMG_REGISTRY"
debian_ref="$IMG_REGISTRY/km-test/debian:bookworm"
al_ref="$IMG_REGISTRY/km-test/amazonlinux:2023"
img_push "$work/layout" bookworm "$debian_ref"
img_push "$work/layout" al2023 "$al_ref"

# Check REF: LAYERS layers, linux/host arch, PATH set; pulled back and unpacked, its
# os-release has ID ID and VERSION_ID VERSION.
check_ref() {
  local ref="$1" layers="$2" id="$3" version="$4" name="$5" json
  json="$(skopeo inspect --cert-dir "$IMG_CERT_DIR" "docker://$ref")"
  expect_eq "$(inspect_field layers <<<"$json")" "$layers" "$ref layer count"
  expect_eq "$(inspect_field Architecture <<<"$json")" "$(img_host_arch)" "$ref architecture"
  expect_eq "$(inspect_field Os <<<"$json")" linux "$ref os"
  [[ "$(inspect_field Env <<<"$json")" == *PATH=/usr/local/sbin* ]] || fail "$ref: no PATH in Env"
  skopeo copy --quiet --src-cert-dir "$IMG_CERT_DIR" "docker://$ref" "oci:$work/back-$name:t"
  umoci unpack --image "$work/back-$name:t" "$work/bundle-$name" >/dev/null
  local root="$work/bundle-$name/rootfs"
  expect_eq "$(os_field "$root/etc/os-release" ID)" "$id" "$ref os-release ID"
  expect_eq "$(os_field "$root/etc/os-release" VERSION_ID)" "$version" "$ref os-release VERSION_ID"
  [ -x "$root/usr/bin/apt-get" ] || fail "$ref: no apt-get"
  [ -z "$(ls -A "$root/dev")" ] || fail "$ref: /dev not empty: $(ls -A "$root/dev")"
  [ ! -e "$root/etc/resolv.conf" ] || fail "$ref: carries the host's resolv.conf"
}
check_ref "$debian_ref" 1 debian 12 debian
check_ref "$al_ref" 2 amzn 2023 al2023
al_root="$work/bundle-al2023/rootfs"
expect_eq "$(os_field "$al_root/etc/os-release" NAME)" "Amazon Linux" "stand-in NAME"
[[ "$(os_field "$al_root/etc/os-release" PRETTY_NAME)" == "Amazon Linux 2023"* ]] || fail "stand-in PRETTY_NAME"
# The stand-in's package managers run inside its root (/bin/sh is Debian's dash).
chroot "$al_root" /usr/bin/dnf install -y git >/dev/null
chroot "$al_root" yum -q makecache
expect_eq "$(cat "$al_root/var/log/km-standin-pkg.log")" $'dnf install -y git\nyum -q makecache' "stand-in package log"
[ ! -e "$work/bundle-debian/rootfs/usr/bin/dnf" ] || fail "the Debian image has the stand-in's dnf"

# Stopping: the registry is gone (reaped), a second stop is harmless, nothing is mounted.
img_registry_stop
img_registry_stop
[ ! -e "/proc/$reg_pid" ] || fail "registry pid $reg_pid still exists"
pgrep -af "docker-registry serve $work/" && fail "a docker-registry of this test still runs"
curl -fsS --max-time 2 --cacert "$work/registry/cert-dir/ca.crt" "https://$reg_addr/v2/" >/dev/null 2>&1 &&
  fail "registry still answers"
grep -F " $work" /proc/self/mountinfo && fail "mounts left under $work"
echo "PASS images_selftest"
