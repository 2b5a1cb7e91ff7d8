# shellcheck shell=bash
# OS image fixtures for the image tests and benchmarks: a Debian root built from the Debian
# archive (the only network these tests may use), OCI image layouts made from it with umoci,
# an Amazon Linux 2023 stand-in, and a local TLS registry (Debian's docker-registry) to push
# them to. No public container registry is involved.
#
# Usage: source this file (callers run with `set -euo pipefail`, and as root). Every
# function keeps what it makes under a path the caller passes, so the caller's cleanup
# (`trap 'img_registry_stop; rm -rf "$dir"' EXIT`) removes it all; the only thing kept
# elsewhere is the Debian root's cache (see img_debian_rootfs_tar).
# Needs: mmdebstrap, umoci, skopeo, docker-registry, openssl, curl, python3, flock, unshare.

IMG_DEBIAN_SUITE=bookworm
# The host's apt sources for Debian (deb.debian.org), main only.
IMG_DEBIAN_MIRRORS=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
IMG_REGISTRY="${IMG_REGISTRY:-}"
IMG_CERT_DIR="${IMG_CERT_DIR:-}"
IMG_REGISTRY_PID="${IMG_REGISTRY_PID:-}"

# The host's architecture in OCI terms (amd64, arm64, ...).
img_host_arch() {
  if command -v dpkg >/dev/null; then
    dpkg --print-architecture
    return
  fi
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# img_debian_rootfs_tar OUT_TAR
# Writes a minimal Debian bookworm root (mmdebstrap --variant=minbase: dpkg, apt, bash,
# coreutils; no ca-certificates) as an uncompressed tar to OUT_TAR. Built once and cached in
# ${KM_TEST_IMAGE_CACHE:-/var/cache/km-test-images}/debian-bookworm-minbase.tar (delete it
# to rebuild); OUT_TAR is a hard link to the cache when they share a filesystem, else a copy,
# so treat it as read-only. A cold build downloads ~50 MB from deb.debian.org (35-55 s on a
# 2-CPU VM; the cached call is a hard link, ~0.05 s).
# The tar is mmdebstrap's: members are "./etc/...", /dev holds device nodes (the OCI layers
# made by img_oci_layout_from_tar leave them out, as real images do). The host's
# /etc/resolv.conf and /etc/hostname, which mmdebstrap copies in, are removed: images do not
# carry them, the runtime provides them. Concurrent callers share one build (flock). Bounded:
# 15 min for the build, 10 min waiting for another caller's.
img_debian_rootfs_tar() {
  local out="$1"
  local cache_dir="${KM_TEST_IMAGE_CACHE:-/var/cache/km-test-images}"
  local cache="$cache_dir/debian-bookworm-minbase.tar"
  mkdir -p "$cache_dir" "$(dirname "$out")"
  (
    flock -w 600 9 || { echo "img_debian_rootfs_tar: $cache.lock held for 10 min" >&2; exit 1; }
    [ -s "$cache" ] && exit 0
    # mmdebstrap's scratch root goes under the caller's directory; it runs in a mount
    # namespace of its own so that the /dev, /proc and /sys it mounts into that root vanish
    # with it however it ends, and never meet the caller's rm -rf.
    local scratch
    scratch="$(mktemp -d "$(dirname "$out")/.img-mmdebstrap.XXXXXX")"
    rm -f "$cache.partial"
    local start=$SECONDS
    # shellcheck disable=SC2016 # $1 is the hook's argument (the root), for mmdebstrap's sh
    if ! TMPDIR="$scratch" timeout 900 unshare --mount --propagation private \
        mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
        --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"' \
        "$IMG_DEBIAN_SUITE" "$cache.partial" "${IMG_DEBIAN_MIRRORS[@]}"; then
      rm -rf "$scratch" "$cache.partial"
      echo "img_debian_rootfs_tar: mmdebstrap failed" >&2
      exit 1
    fi
    rm -rf "$scratch"
    mv -f "$cache.partial" "$cache"
    echo "img_debian_rootfs_tar: built $cache in $((SECONDS - start)) s" >&2
  ) 9>"$cache.lock" || return 1
  rm -f "$out"
  ln "$cache" "$out" 2>/dev/null || cp "$cache" "$out"
}

# img_oci_layout_from_tar TAR LAYOUT TAG [OVERLAY_DIR...]
# Adds image TAG to the OCI image layout directory LAYOUT (created if missing; other tags
# stay): its first layer is TAR's content (device nodes under /dev left out), then one more
# layer per OVERLAY_DIR, that directory's files copied on top of what is below (a file
# replaces a symlink rather than writing through it; directories already there keep their
# modes). Layers are gzip tars written by umoci; the config says os linux, the host's
# architecture, PATH in Env and Cmd ["bash"] (as Debian's images). The same TAR gives the
# same first layer (digest) every time.
# Scratch space (an unpacked bundle, the size of the root) is LAYOUT.work.*, removed after.
img_oci_layout_from_tar() {
  local tar="$1" layout="$2" tag="$3"
  shift 3
  local image="$layout:$tag" overlay
  [ -f "$tar" ] || { echo "img_oci_layout_from_tar: no tar $tar" >&2; return 1; }
  for overlay in "$@"; do
    [ -d "$overlay" ] || { echo "img_oci_layout_from_tar: no directory $overlay" >&2; return 1; }
  done
  [ -d "$layout" ] || umoci init --layout "$layout"
  umoci new --image "$image"
  umoci config --image "$image" --no-history --os linux --architecture "$(img_host_arch)" \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.cmd bash
  local work
  work="$(mktemp -d "$layout.work.XXXXXX")"
  # umoci diffs the bundle's rootfs against the mtree it wrote at unpack time: unpack the
  # empty image, fill the rootfs, repack (layer 1); --refresh-bundle records the new state
  # so each overlay repacks as just its difference.
  umoci unpack --image "$image" "$work/bundle"
  tar --numeric-owner --same-permissions --anchored --exclude='./dev/*' --exclude='dev/*' \
    -xf "$tar" -C "$work/bundle/rootfs"
  umoci repack --refresh-bundle --image "$image" --history.created_by "km test: $(basename "$tar")" "$work/bundle"
  for overlay in "$@"; do
    # A tar pipe rather than cp -a: directories already in the root keep their modes and
    # times (--no-overwrite-dir), and a file replaces a symlink instead of writing through it.
    tar -C "$overlay" --numeric-owner -cf - . |
      tar -C "$work/bundle/rootfs" --numeric-owner --same-permissions --no-overwrite-dir -xf -
    umoci repack --refresh-bundle --image "$image" --history.created_by "km test: overlay $(basename "$overlay")" \
      "$work/bundle"
  done
  rm -rf "$work"
  # Each umoci step wrote a new config and manifest: drop the ones no tag refers to.
  umoci gc --layout "$layout"
}

# img_standin_al2023_overlay DIR
# Fills DIR with files that make a Debian root pass for Amazon Linux 2023 (to lay on top of
# img_debian_rootfs_tar's root with img_oci_layout_from_tar, for tests that map
# amazon-linux-2023 to a local image): /usr/lib/os-release with AL2023's fields and
# /etc/os-release linking to it (AL2023's own arrangement), /etc/system-release, and
# executable /usr/bin/dnf and /usr/bin/yum that only append "dnf ARGS" (resp. "yum ARGS") to
# /var/log/km-standin-pkg.log and exit 0.
img_standin_al2023_overlay() {
  local dir="$1" tool
  # Explicit modes: the caller's umask must not end up in the image.
  mkdir -p "$dir/etc" "$dir/usr/lib" "$dir/usr/bin"
  chmod 755 "$dir" "$dir/etc" "$dir/usr" "$dir/usr/lib" "$dir/usr/bin"
  cat >"$dir/usr/lib/os-release" <<'EOF'
# km test stand-in: a Debian root dressed as Amazon Linux 2023 (tests/integration/lib/images.sh)
NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.7.20250512"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"
SUPPORT_URL="https://aws.amazon.com/premiumsupport/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
VENDOR_NAME="AWS"
VENDOR_URL="https://aws.amazon.com/"
SUPPORT_END="2029-06-30"
EOF
  chmod 644 "$dir/usr/lib/os-release"
  ln -sfn ../usr/lib/os-release "$dir/etc/os-release"
  echo "Amazon Linux release 2023.7.20250512 (Amazon Linux)" >"$dir/etc/system-release"
  chmod 644 "$dir/etc/system-release"
  for tool in dnf yum systemctl; do
    cat >"$dir/usr/bin/$tool" <<EOF
#!/bin/sh
# km test stand-in for $tool: records the call, installs nothing.
echo "$tool \$*" >>/var/log/km-standin-pkg.log
exit 0
EOF
    chmod 755 "$dir/usr/bin/$tool"
  done
  # Amazon Linux's trust store, where its profiles append the sandbox's CA.
  mkdir -p "$dir/etc/pki/tls/certs" "$dir/etc/pki/ca-trust/source/anchors"
  chmod 755 "$dir/etc/pki" "$dir/etc/pki/tls" "$dir/etc/pki/tls/certs" "$dir/etc/pki/ca-trust" \
    "$dir/etc/pki/ca-trust/source" "$dir/etc/pki/ca-trust/source/anchors"
  : >"$dir/etc/pki/tls/certs/ca-bundle.crt"
  chmod 644 "$dir/etc/pki/tls/certs/ca-bundle.crt"
}

# True if PID is a live (not zombie) process.
_img_alive() {
  local state
  state="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# img_registry_start WORKDIR
# Starts a registry (docker-registry, distribution v2) on 127.0.0.1 at a free port, serving
# TLS with a certificate for IP 127.0.0.1 from a throwaway CA; its storage, keys, config and
# log (registry.log) are under WORKDIR. Returns once it answers GET /v2/ (10 s at most; 3
# tries at different ports). Exports IMG_REGISTRY (127.0.0.1:PORT), IMG_CERT_DIR (a
# directory holding only ca.crt: skopeo's --cert-dir/--src-cert-dir/--dest-cert-dir) and
# IMG_REGISTRY_PID. Call it in the script's own shell (not in $(...) or a pipeline) so that
# img_registry_stop can reap it; call img_registry_stop from the cleanup trap.
img_registry_start() {
  local dir="$1"
  if [ -n "$IMG_REGISTRY_PID" ] && _img_alive "$IMG_REGISTRY_PID"; then
    echo "img_registry_start: a registry is already running (pid $IMG_REGISTRY_PID)" >&2
    return 1
  fi
  mkdir -p "$dir/certs" "$dir/storage"
  dir="$(cd "$dir" && pwd)"
  # CA and server certificate, EC P-256, valid two days (a test that runs over midnight
  # still works; nothing outlives the test).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=km-test-registry-ca -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$dir/certs/ca.key" -out "$dir/certs/ca.pem" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$dir/certs/server.key" -out "$dir/certs/server.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/certs/server.ext"
  openssl x509 -req -in "$dir/certs/server.csr" -CA "$dir/certs/ca.pem" -CAkey "$dir/certs/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/certs/server.ext" -out "$dir/certs/server.crt" 2>/dev/null
  # skopeo treats every *.crt in a cert dir as a CA and *.cert/*.key as a client pair: the
  # directory it is given holds the CA alone.
  mkdir -p "$dir/cert-dir"
  cp "$dir/certs/ca.pem" "$dir/cert-dir/ca.crt"

  local port pid=""
  for _ in 1 2 3; do
    # A port the kernel just handed out and released; another process may take it before
    # the registry binds, hence the retries.
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $(openssl rand -hex 16)
  tls:
    certificate: $dir/certs/server.crt
    key: $dir/certs/server.key
EOF
    docker-registry serve "$dir/config.yml" </dev/null >>"$dir/registry.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      _img_alive "$pid" || break
      if curl -fsS --max-time 1 --cacert "$dir/cert-dir/ca.crt" "https://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
        export IMG_REGISTRY="127.0.0.1:$port" IMG_CERT_DIR="$dir/cert-dir" IMG_REGISTRY_PID="$pid"
        return 0
      fi
      sleep 0.1
    done
    # Not answering: end it (if it still runs) and try another port.
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "img_registry_start: docker-registry did not answer; last lines of $dir/registry.log:" >&2
  tail -n 20 "$dir/registry.log" >&2 || true
  return 1
}

# img_push LAYOUT TAG REF
# Pushes image TAG of OCI layout LAYOUT to the registry as REF (e.g.
# "$IMG_REGISTRY/km-test/debian:bookworm"), trusting IMG_CERT_DIR's CA.
img_push() {
  local layout="$1" tag="$2" ref="$3"
  [ -n "$IMG_CERT_DIR" ] || { echo "img_push: IMG_CERT_DIR is not set (img_registry_start)" >&2; return 1; }
  timeout 300 skopeo copy --quiet --dest-cert-dir "$IMG_CERT_DIR" "oci:$layout:$tag" "docker://$ref"
}

# img_registry_stop
# Ends the registry img_registry_start started (SIGTERM, SIGKILL after 5 s) and reaps it.
# Idempotent and safe in a trap (no-op when none runs; never fails).
img_registry_stop() {
  local pid="${IMG_REGISTRY_PID:-}"
  [ -n "$pid" ] || return 0
  # Only our registry: the pid might have been reused if it died long ago.
  if _img_alive "$pid" && grep -qa docker-registry "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      _img_alive "$pid" || break
      sleep 0.1
    done
    if _img_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  wait "$pid" 2>/dev/null || true
  IMG_REGISTRY_PID=""
  IMG_REGISTRY=""
  return 0
}
