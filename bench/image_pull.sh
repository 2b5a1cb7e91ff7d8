#!/usr/bin/env bash
# Pulling an OS image from a registry, side by side in one run: km against doing it by hand.
# The image (built here, offline but for the Debian archive): ~SIZE_MIB MiB uncompressed in
# 4 gzip layers, a Debian bookworm minbase root (tests/integration/lib/images.sh, cached in
# /var/cache/km-test-images) and 3 layers of files copied from the host's /usr/lib and
# /usr/share (binaries, libraries, text, locales: realistic compressibility), pushed to a
# local TLS registry (docker-registry on 127.0.0.1, a throwaway CA).
#   * by hand: `skopeo copy --src-cert-dir CA docker://REF oci:L:tag` then
#     `umoci unpack --image L:tag BUNDLE` (as root).
#   * km: `km image pull REF` with a fresh KM_HOME and an operator config (KM_CONFIG) that
#     gives the CA (images.certDir). Skipped, with a note, if the km binary has no
#     `image pull`.
# Each round starts from nothing on both sides (fresh layout/bundle, fresh KM_HOME; the
# registry's files stay in the page cache for both); rounds alternate which goes first;
# medians are printed, with MiB/s of uncompressed image and the ratio km/by-hand.
# Usage: bench/image_pull.sh KM_BINARY [ROUNDS (3)] [SIZE_MIB (200)]   (root)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 KM_BINARY [ROUNDS (3)] [SIZE_MIB (200)]" >&2; exit 2; }
km="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
rounds="${2:-3}"
size_mib="${3:-200}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$(id -u)" != 0 ]; then echo "image_pull: needs root"; exit 77; fi
for tool in skopeo umoci mmdebstrap docker-registry openssl curl python3; do
  command -v "$tool" >/dev/null || {
    echo "image_pull: $tool missing (apt-get install --no-install-recommends skopeo umoci mmdebstrap docker-registry)"
    exit 1
  }
done
# shellcheck source=SCRIPTDIR/../tests/integration/lib/images.sh
source "$root/tests/integration/lib/images.sh"

work="$(mktemp -d /tmp/km-imgbench.XXXXXX)"
# Anything mounted under DIR (a km home's disk store, should km make one), innermost first.
unmount_under() {
  local m
  awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  img_registry_stop
  unmount_under "$work"
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }

# --- The image -------------------------------------------------------------------------
t0=$(now)
img_debian_rootfs_tar "$work/debian.tar"
base_bytes=$(stat -c %s "$work/debian.tar")
extra_bytes=$((size_mib * 1024 * 1024 - base_bytes))
[ "$extra_bytes" -gt 0 ] || extra_bytes=0
# Three more layers of host files, each about a third of what is left, under
# /opt/km-bench/layerN (no layer overwrites another's files). The candidates (regular files
# of 1 KiB to 16 MiB) are shuffled with a fixed seed so each layer mixes kinds of content.
python3 - "$work" "$extra_bytes" /usr/lib /usr/share <<'EOF'
import os, random, sys
work, extra, roots = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
files = []
for r in roots:
    for d, _, names in os.walk(r):
        for n in names:
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if os.path.isfile(p) and not os.path.islink(p) and 1024 <= st.st_size <= 16 << 20 \
                    and os.access(p, os.R_OK):
                files.append((p, st.st_size))
files.sort()
random.Random(42).shuffle(files)
it = iter(files)
for layer in (2, 3, 4):
    budget, total = extra // 3, 0
    with open(f"{work}/layer{layer}.list", "wb") as out:
        for p, size in it:
            if total >= budget:
                break
            out.write(p.lstrip("/").encode() + b"\0")
            total += size
EOF
for layer in 2 3 4; do
  mkdir -p "$work/layer$layer/opt/km-bench/layer$layer"
  tar -C / --null -T "$work/layer$layer.list" -cf - |
    tar -C "$work/layer$layer/opt/km-bench/layer$layer" -xf -
done
img_oci_layout_from_tar "$work/debian.tar" "$work/layout" bench "$work/layer2" "$work/layer3" "$work/layer4"
rm -rf "$work"/layer[234] "$work"/layer*.list "$work/debian.tar"
# Sizes from the layout itself: compressed blobs and their uncompressed tars.
read -r nlayers gz_bytes tar_bytes < <(python3 - "$work/layout" <<'EOF'
import gzip, json, sys, zlib
lay = sys.argv[1]
blob = lambda d: f"{lay}/blobs/sha256/{d.split(':', 1)[1]}"
idx = json.load(open(f"{lay}/index.json"))
man = json.load(open(blob(idx["manifests"][0]["digest"])))
gz = raw = 0
for l in man["layers"]:
    gz += l["size"]
    with gzip.open(blob(l["digest"])) as f:
        while chunk := f.read(1 << 20):
            raw += len(chunk)
print(len(man["layers"]), gz, raw)
EOF
)
mib() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 2**20))' "$1"; }
echo "image: $nlayers layers, $(mib "$tar_bytes") MiB uncompressed, $(mib "$gz_bytes") MiB gzip (built in $(elapsed "$t0" "$(now)") s)"

img_registry_start "$work/registry"
ref="$IMG_REGISTRY/km-bench/image:${size_mib}m"
img_push "$work/layout" bench "$ref"
rm -rf "$work/layout"
echo "registry: $ref (TLS, CA in $IMG_CERT_DIR)"

# --- The contenders --------------------------------------------------------------------
cfg="$work/km-config.yaml"
printf 'images:\n  certDir: %s\n' "$IMG_CERT_DIR" >"$cfg"
km_ok=1
mkdir -m 700 "$work/km-probe"
if ! KM_HOME="$work/km-probe" KM_CONFIG="$cfg" timeout 30 "$km" image pull --help >/dev/null 2>&1; then
  km_ok=0
fi
unmount_under "$work/km-probe"
rm -rf "$work/km-probe"

hand_times=()
km_times=()
run_hand() {
  local d="$work/hand-$1" t0 tm t1
  mkdir -p "$d"
  t0=$(now)
  timeout 600 skopeo copy --quiet --src-cert-dir "$IMG_CERT_DIR" "docker://$ref" "oci:$d/layout:tag"
  tm=$(now)
  timeout 600 umoci unpack --image "$d/layout:tag" "$d/bundle" >/dev/null
  t1=$(now)
  [ -x "$d/bundle/rootfs/usr/bin/apt-get" ] || { echo "image_pull: by hand: no root unpacked" >&2; exit 1; }
  hand_times+=("$(elapsed "$t0" "$t1")")
  echo "  round $1 by hand: ${hand_times[-1]} s (skopeo copy $(elapsed "$t0" "$tm") s, umoci unpack $(elapsed "$tm" "$t1") s)"
  rm -rf "$d"
}
run_km() {
  local h="$work/km-home-$1" t0 t1 rc=0
  mkdir -m 700 "$h"
  t0=$(now)
  KM_HOME="$h" KM_CONFIG="$cfg" timeout 600 "$km" image pull "$ref" >"$work/km-pull.log" 2>&1 || rc=$?
  t1=$(now)
  if [ "$rc" != 0 ]; then
    echo "image_pull: km image pull failed (exit $rc):" >&2
    tail -n 20 "$work/km-pull.log" >&2
    exit 1
  fi
  km_times+=("$(elapsed "$t0" "$t1")")
  echo "  round $1 km: ${km_times[-1]} s"
  unmount_under "$h"
  rm -rf "$h"
}

echo "rounds ($rounds each, alternating order):"
for r in $(seq 1 "$rounds"); do
  # Dirty pages of the previous round are written out before this one starts.
  sync
  if [ $((r % 2)) = 1 ] || [ "$km_ok" = 0 ]; then
    run_hand "$r"; sync
    [ "$km_ok" = 0 ] || run_km "$r"
  else
    run_km "$r"; sync
    run_hand "$r"
  fi
done

# --- Results ---------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -g | python3 -c 'import statistics, sys; print("%.2f" % statistics.median(float(l) for l in sys.stdin))'; }
rate() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 2**20 / float(sys.argv[2])))' "$tar_bytes" "$1"; }
hand_med=$(median "${hand_times[@]}")
echo
echo "results ($(mib "$tar_bytes") MiB uncompressed, $nlayers layers; median of $rounds):"
printf '  %-40s %7s s  %7s MiB/s   (%s)\n' "by hand (skopeo copy + umoci unpack)" "$hand_med" "$(rate "$hand_med")" "${hand_times[*]}"
if [ "$km_ok" = 1 ]; then
  km_med=$(median "${km_times[@]}")
  printf '  %-40s %7s s  %7s MiB/s   (%s)\n' "km image pull" "$km_med" "$(rate "$km_med")" "${km_times[*]}"
  echo "  ratio km/by-hand: $(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$km_med" "$hand_med")"
else
  echo "  km image pull: skipped ($km has no \`image pull\`)"
fi
