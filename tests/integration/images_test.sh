#!/usr/bin/env bash
# OS images (issue 18): a small Debian root built with mmdebstrap, served by a local registry
# (Debian's docker-registry, TLS on loopback) and pulled by `km image pull` through skopeo, as
# from any public registry. Sandboxes created from it see the image's OS, run initCommands
# with its package manager (apt, on a .deb shipped in the image), keep their writes in their
# own upper dir and share one unpacked copy of the image. A bake of one sandbox starts
# another warm. An upstream Amazon Linux 2023 profile fails at create saying what to pull,
# and starts on a stand-in image mapped to amazon-linux-2023 in the operator config. rm,
# prune and list keep what sandboxes use.
source "$(dirname "$0")/lib.sh" "$@"
source "$HERE/lib/images.sh"
SHARED="${2:-}"
extra_cleanup() { img_registry_stop; }
before="$(kernel_snapshot)"
W="$KM_HOME/work"
mkdir -p "$W/extra/opt/debs" "$W/pkg/DEBIAN" "$W/pkg/usr/bin"

# A package for apt to install from the image itself (no network needed).
cat >"$W/pkg/DEBIAN/control" <<'CTRL'
Package: km-hello
Version: 1.0
Architecture: all
Maintainer: km tests <km@example.invalid>
Description: km image test package
CTRL
printf '#!/bin/sh\necho hello from the image\n' >"$W/pkg/usr/bin/km-hello"
chmod 755 "$W/pkg/usr/bin/km-hello"
dpkg-deb --root-owner-group --build "$W/pkg" "$W/extra/opt/debs/km-hello.deb" >/dev/null
echo "km-test-image" >"$W/extra/etc-marker"
# The image's own os-release (Debian's, marked), told apart from this Debian host's.
mkdir -p "$W/extra/usr/lib"
{ grep -v '^VARIANT_ID=' /usr/lib/os-release; echo 'VARIANT_ID=km-test-image'; } >"$W/extra/usr/lib/os-release"
cp "$FIXTURES/local-test.yaml" "$W/local-test.yaml"  # the profiles below extend it from their own directory

img_debian_rootfs_tar "$W/debian.tar"
img_oci_layout_from_tar "$W/debian.tar" "$W/oci" bookworm "$W/extra"
img_standin_al2023_overlay "$W/al"
img_oci_layout_from_tar "$W/debian.tar" "$W/oci" al2023 "$W/al"
img_registry_start "$W/registry"
DEB="$IMG_REGISTRY/km-test/debian:bookworm"
AL="$IMG_REGISTRY/km-test/al2023:standin"
img_push "$W/oci" bookworm "$DEB"
img_push "$W/oci" al2023 "$AL"
cat >"$KM_HOME/config.yaml" <<CFG
$KM_TEST_DISK_CONFIG
images:
  certDir: $IMG_CERT_DIR
CFG

# --- an upstream AL2023 profile without its image: one line saying what to pull -----------
if [ -n "$SHARED" ] && [ -f "$SHARED/reference/profiles/library/github.yaml" ]; then
  set +e
  km create "$SHARED/reference/profiles/library/github.yaml" >"$W/out" 2>"$W/err"
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "an AL2023 profile was created without its image"
  expect_contains "$(cat "$W/err")" "km image pull docker.io/library/amazonlinux:2023" "the error says what to pull"
  expect_eq "$(grep -c ERROR "$W/err")" 1 "one error line"
  expect_eq "$(ids | wc -l)" 0 "nothing was created"
fi

# --- pull: digests checked, layers unpacked once, progress on stderr -------------------------
km image pull "$DEB" >"$W/pull.out" 2>"$W/pull.err"
expect_contains "$(cat "$W/pull.err")" "unpacking layer 1/2" "progress is shown"
id="$(km image list --json | python3 -c 'import json,sys; print([i["id"] for i in json.load(sys.stdin) if "'"$DEB"'" in i["names"]][0])')"
expect_contains "$(cat "$W/pull.out")" "$id" "pull prints the id"
expect_eq "$(km image list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["osId"])')" debian "the image's OS"
layers_before="$(ls "$KM_HOME/images/layers" | sort)"
expect_eq "$(wc -l <<<"$layers_before")" 2 "two layers unpacked"
# Concurrent pulls of one name run once: the second waits and takes the first's result. (From
# scratch, so that the first is still unpacking when the second starts.)
km image rm "$DEB" >/dev/null
km image prune >/dev/null
expect_eq "$(ls "$KM_HOME/images/layers" | wc -l)" 0 "prune emptied the store"
km image pull "$DEB" >"$W/p1" 2>"$W/p1.err" & p1=$!
sleep 0.2
km image pull "$DEB" >"$W/p2" 2>"$W/p2.err" & p2=$!
wait $p1 || fail "first concurrent pull failed: $(cat "$W/p1.err")"
wait $p2 || fail "second concurrent pull failed: $(cat "$W/p2.err")"
expect_contains "$(cat "$W/p1.err" "$W/p2.err")" "waiting for it" "one pull waited for the other"
expect_eq "$(ls "$KM_HOME/images/layers" | sort)" "$layers_before" "no layer was unpacked twice"

# --- sandboxes from the image ----------------------------------------------------------------
cat >"$W/deb.yaml" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: debian-image
  prefix: ki
extends: local-test
spec:
  runtime:
    image: $DEB
  execution:
    initCommands:
      - "dpkg -s km-hello >/dev/null 2>&1 || apt-get install -y /opt/debs/km-hello.deb"
YAML
a="$(km create "$W/deb.yaml")"
b="$(km create "$W/deb.yaml")"
for sb in "$a" "$b"; do
  expect_eq "$(km exec "$sb" -- cat /etc-marker)" "km-test-image" "$sb sees the image's files"
  expect_eq "$(km exec "$sb" -- km-hello)" "hello from the image" "$sb: apt installed the package"
  expect_contains "$(km exec "$sb" -- dpkg -s km-hello)" "Status: install ok installed" "$sb: dpkg knows it"
  # The host's own tools are not there: the root is the image's, not the host's.
  if km exec "$sb" -- test -e /usr/bin/cmake; then fail "$sb sees the host's /usr/bin/cmake"; fi
  expect_eq "$(km exec "$sb" -- sh -c '. /etc/os-release; echo $ID $VERSION_ID $VARIANT_ID')" "debian 12 km-test-image" \
    "$sb's /etc/os-release is the image's"
  # Writes stay in the sandbox's own upper dir; the shared layers are untouched.
  [ -f "$KM_HOME/disk/$sb/upper/usr/bin/km-hello" ] || fail "$sb's install is not in its upper dir"
done
for l in $layers_before; do
  [ ! -e "$KM_HOME/images/layers/$l/usr/bin/km-hello" ] || fail "a sandbox wrote into shared layer $l"
done
expect_contains "$(km logs --init "$a" 2>&1)" "Setting up km-hello" "apt ran in initCommands"
# Both roots stack the same unpacked layers (one copy on disk).
lower_of() { grep -oE 'lowerdir=[^,]+' "/proc/$(cut -d' ' -f1 "$KM_HOME/sandboxes/$1/init")/mountinfo" | head -1; }
expect_eq "$(lower_of "$a")" "$(lower_of "$b")" "two sandboxes share one unpacked image"
expect_contains "$(lower_of "$a")" "$KM_HOME/images/layers/" "the lower layers are the image's"
expect_eq "$(ls "$KM_HOME/images/layers" | sort)" "$layers_before" "no layer was copied per sandbox"

# --- rm refused while in use; list shows who uses it -----------------------------------------
expect_fail km image rm "$DEB"
set +e; km image rm "$DEB" 2>"$W/rm.err"; set -e
expect_contains "$(cat "$W/rm.err")" "in use" "rm says why"
expect_contains "$(km image list)" "2" "list counts the sandboxes"

# --- bake: a warm start from a's writes ------------------------------------------------------
km exec --root "$a" -- sh -c 'echo baked-by-a > /opt/state'
km image bake "$a" hello-baked >/dev/null
c="$(km create --image hello-baked "$W/deb.yaml")"
expect_eq "$(km exec "$c" -- cat /opt/state)" "baked-by-a" "the baked image holds a's writes"
expect_eq "$(km exec "$c" -- km-hello)" "hello from the image" "the package is there"
expect_not_contains "$(km logs --init "$c" 2>&1)" "Setting up km-hello" "initCommands found their work done"
expect_eq "$(km exec "$c" -- sh -c '. /etc/os-release; echo $ID $VARIANT_ID')" "debian km-test-image" "the baked image's OS"
expect_eq "$(km exec "$a" -- cat /opt/state)" "baked-by-a" "a is left as it was (running)"
expect_eq "$(km status --json "$a" | json_field status)" "running" "a runs after the bake"
expect_fail km image rm "$DEB"   # the baked image's parent (and a's image)

# --- the stand-in for amazon-linux-2023 ------------------------------------------------------
# Upstream's own Amazon Linux fragment (runtime.ami and its yum, systemctl and CA init
# commands), unchanged, under the test's limits.
if [ -n "$SHARED" ] && [ -f "$SHARED/reference/profiles/library/base/os/redhat.yaml" ]; then
  mkdir -p "$W/base/os"
  cp "$SHARED/reference/profiles/library/base/os/redhat.yaml" "$W/base/os/redhat.yaml"
  parents="[base/os/redhat, local-test]"
  upstream=1
else
  parents="local-test"
  upstream=0
fi
cat >"$W/al.yaml" <<YAML
apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: al2023
  prefix: ka
extends: $parents
spec:
  runtime:
    ami: amazon-linux-2023
  execution:
    initCommands:
      - "dnf install -y jq"
YAML
set +e; km create "$W/al.yaml" >"$W/out" 2>"$W/err"; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "an AL2023 profile started without its image"
expect_contains "$(cat "$W/err")" "km image pull docker.io/library/amazonlinux:2023" "what to pull"
cat >>"$KM_HOME/config.yaml" <<CFG
  ami:
    amazon-linux-2023: $AL
CFG
set +e; km create "$W/al.yaml" >"$W/out" 2>"$W/err"; set -e
expect_contains "$(cat "$W/err")" "km image pull $AL" "the mapped image is the one to pull"
km image pull "$AL" >/dev/null 2>&1
expect_eq "$(ls "$KM_HOME/images/layers" | wc -l)" 4 "the stand-in shares its Debian layer (2 + 1 baked + 1 new)"
d="$(km create "$W/al.yaml")"
expect_eq "$(km exec "$d" -- sh -c '. /etc/os-release; echo $ID $VERSION_ID')" "amzn 2023" "the stand-in's OS"
log="$(km exec "$d" -- cat /var/log/km-standin-pkg.log | tr '\n' ';')"
expect_contains "$log" "dnf install -y jq;" "initCommands ran with the image's package manager"
if [ "$upstream" = 1 ]; then
  expect_contains "$log" "yum install -y git nodejs npm python3 python3-pip bzip2 jq tar gzip unzip tmux cronie;systemctl enable crond;systemctl start crond;" \
    "upstream's Amazon Linux init commands ran unchanged"
  # Its `cat /usr/local/share/ca-certificates/km-proxy-ca.crt >> /etc/pki/tls/certs/ca-bundle.crt`
  # found the sandbox's CA where upstream keeps it.
  expect_eq "$(km exec "$d" -- grep -c 'BEGIN CERTIFICATE' /etc/pki/tls/certs/ca-bundle.crt)" 2 \
    "the CA is in the store twice: km's and the profile's own append"
fi

# --- a bake interrupted by Ctrl-C leaves the sandbox thawed ----------------------------------
km exec --root "$a" -- sh -c 'head -c 200M /dev/urandom > /var/big'
km image bake "$a" interrupted >/dev/null 2>&1 & bake=$!
sleep 0.3
kill -INT "$bake" 2>/dev/null || true
wait "$bake" || true
expect_eq "$(km exec "$a" -- echo thawed)" "thawed" "the sandbox runs after an interrupted bake"
km exec --root "$a" -- rm /var/big
km image rm interrupted >/dev/null 2>&1 || true

# --- push: the baked image to the registry, pulled back and started -------------------------
PUSHED="$IMG_REGISTRY/km-test/hello:baked"
km image push hello-baked "$PUSHED" >"$W/push.out" 2>"$W/push.err"
expect_contains "$(cat "$W/push.out")" "$PUSHED sha256:" "push prints the destination and digest"
layers="$(skopeo inspect --cert-dir "$IMG_CERT_DIR" "docker://$PUSHED" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Layers"]))')"
expect_eq "$layers" 3 "the pushed image has the base's two layers and the baked one"
km image pull "$PUSHED" >/dev/null 2>&1
e="$(km create --image "$PUSHED" "$W/deb.yaml")"
expect_eq "$(km exec "$e" -- cat /opt/state)" "baked-by-a" "the pushed bake holds a's writes"
expect_eq "$(km exec "$e" -- km-hello)" "hello from the image" "and the package apt installed"
expect_not_contains "$(km logs --init "$e" 2>&1)" "Setting up km-hello" "a warm start from the registry too"
# A file deleted in the sandbox stays deleted through bake, push and pull (an OCI whiteout).
km exec --root "$a" -- rm /etc-marker
km image bake "$a" hello-deleted >/dev/null
km image push hello-deleted "$IMG_REGISTRY/km-test/hello:deleted" >/dev/null 2>&1
km image pull "$IMG_REGISTRY/km-test/hello:deleted" >/dev/null 2>&1
f="$(km create --image "$IMG_REGISTRY/km-test/hello:deleted" "$W/deb.yaml")"
if km exec "$f" -- test -e /etc-marker; then fail "a deleted file came back through push and pull"; fi

# --- destroy, rm, prune ----------------------------------------------------------------------
for sb in "$a" "$b" "$c" "$d" "$e" "$f"; do km destroy --yes "$sb" >/dev/null; done
km image rm "$IMG_REGISTRY/km-test/hello:deleted" "$PUSHED" hello-deleted >/dev/null
km image rm hello-baked >/dev/null
km image rm "$DEB" >/dev/null
km image rm "$AL" >/dev/null
expect_eq "$(km image list --json)" "[]" "no image is left"
km image prune >/dev/null
expect_eq "$(ls "$KM_HOME/images/layers" | wc -l)" 0 "prune removed every layer"
expect_eq "$(ls "$KM_HOME/images/blobs/sha256" | wc -l)" 0 "prune removed every blob"

after="$(kernel_snapshot)"
expect_eq "$after" "$before" "nothing of the sandboxes is left"
echo "PASS: images"
