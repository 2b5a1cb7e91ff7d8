#!/usr/bin/env python3
"""km create from a cached OS image vs from the host's root, side by side in one run.

Usage (root): bench/image_create.py KM_BINARY [ROUNDS]
Builds a Debian bookworm minbase image (tests/integration/lib/images.sh: mmdebstrap, cached),
serves it from a local TLS registry on loopback, pulls it once with `km image pull`, then in
each round creates one sandbox with `--image host` and one with `--image REF` (order
alternating), waits for km's CA pool filler after each, and destroys both outside the timing.
Prints medians and the ratio image/host (goal: within 10 %).
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_bench import PROFILE, settle, timed  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(HERE, "..", "tests", "integration", "lib", "images.sh")


def main():
    km = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    work = tempfile.mkdtemp(prefix="km-bench-img.")
    home = os.path.join(work, "home")
    os.makedirs(home, mode=0o700)
    env = dict(os.environ, KM_HOME=home)
    env.pop("KM_CONFIG", None)
    setup = f"""
set -euo pipefail
source {LIB}
img_debian_rootfs_tar {work}/debian.tar
img_oci_layout_from_tar {work}/debian.tar {work}/oci bench
img_registry_start {work}/registry
img_push {work}/oci bench "$IMG_REGISTRY/km-bench/debian:bench"
printf 'images:\\n  certDir: %s\\n' "$IMG_CERT_DIR" > {home}/config.yaml
{km} image pull "$IMG_REGISTRY/km-bench/debian:bench" >/dev/null 2>&1
echo "$IMG_REGISTRY/km-bench/debian:bench $IMG_REGISTRY_PID"
"""
    out = subprocess.run(["bash", "-c", setup], check=True, stdout=subprocess.PIPE, env=env, text=True).stdout
    ref, registry_pid = out.split()[-2:]
    os.kill(int(registry_pid), 15)  # pulled: the registry is not needed any more
    profile = os.path.join(work, "bench.yaml")
    with open(profile, "w") as f:
        f.write(PROFILE)
    times = {"host": [], "image": []}
    try:
        for i in range(rounds):
            order = ["host", "image"] if i % 2 == 0 else ["image", "host"]
            made = []
            for case in order:
                arg = "host" if case == "host" else ref
                ms, sb = timed([km, "create", "--image", arg, profile], env=env)
                settle()
                times[case].append(ms)
                made.append(sb.decode().strip())
            for sb in made:
                subprocess.run([km, "destroy", "--yes", sb], check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        subprocess.run([km, "doctor", "--fix"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", os.path.join(home, "disk")], stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", work])
    host = statistics.median(times["host"])
    image = statistics.median(times["image"])
    print(f"rounds: {rounds}")
    print(f"km create --image host   median {host:.1f} ms  p90 {sorted(times['host'])[int(rounds * 0.9) - 1]:.1f} ms")
    print(f"km create --image {ref}  median {image:.1f} ms  p90 {sorted(times['image'])[int(rounds * 0.9) - 1]:.1f} ms")
    print(f"ratio image/host: {image / host:.3f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
