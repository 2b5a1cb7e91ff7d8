#!/usr/bin/env python3
"""km destroy alone, side by side: each km binary creates a sandbox, waits 0.7 s (the create's
background work done), and its `km destroy --yes` is timed; binaries take turns each round so
background load hits all alike. Prints each binary's median and every run.

Usage (root): bench/destroy_bench.py RUNS KM_BINARY [KM_BINARY...]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PROFILE = """apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: bench, prefix: kb}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "1h", teardownPolicy: destroy}
  runtime: {substrate: local}
"""


def main():
    if os.geteuid() != 0:
        sys.exit("destroy_bench: needs root (namespaces, cgroups)")
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    runs = int(sys.argv[1])
    bins = [os.path.abspath(b) for b in sys.argv[2:]]
    homes = {}
    for b in bins:
        home = tempfile.mkdtemp(prefix="km-dbench.")
        with open(os.path.join(home, "config.yaml"), "w") as f:
            f.write("disk:\n  size: 2Gi\n")
        with open(os.path.join(home, "bench.yaml"), "w") as f:
            f.write(PROFILE)
        homes[b] = home
    res = {b: [] for b in bins}
    try:
        for _ in range(runs):
            for b in bins:
                env = dict(os.environ, KM_HOME=homes[b])
                env.pop("KM_CONFIG", None)
                sb = subprocess.run([b, "create", os.path.join(homes[b], "bench.yaml")], env=env, check=True,
                                    stdout=subprocess.PIPE, text=True).stdout.strip()
                time.sleep(0.7)
                t = time.perf_counter()
                subprocess.run([b, "destroy", "--yes", sb], env=env, check=True, stdout=subprocess.DEVNULL)
                res[b].append((time.perf_counter() - t) * 1000)
    finally:
        for b in bins:
            subprocess.run(["umount", os.path.join(homes[b], "disk")], stderr=subprocess.DEVNULL)
            shutil.rmtree(homes[b], ignore_errors=True)
    for b in bins:
        print(f"{b}: median {statistics.median(res[b]):.1f} ms  runs " + " ".join(f"{x:.1f}" for x in res[b]))


if __name__ == "__main__":
    main()
