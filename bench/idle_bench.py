#!/usr/bin/env python3
"""What idle sandboxes cost the host: supervisor CPU per sandbox-second, RSS, threads.

Usage (root): bench/idle_bench.py KM_BINARY [COUNT [WINDOW_SECONDS [IDLE_TIMEOUT [ENFORCEMENT]]]]
Creates COUNT sandboxes (default 200) from the built-in hardened profile (idleTimeout
IDLE_TIMEOUT, default 1h; ttl 0; network enforcement ENFORCEMENT, default the profile's
proxy; ebpf and both add the eBPF programs whose records the resolver thread reads) in a home
of its own, lets them settle, then measures over WINDOW_SECONDS
(default 60) the CPU time their supervisors' cgroups used (cpu.stat usage_usec: the
supervisor's every thread, resolver included), and each supervisor's VmRSS, Pss
(smaps_rollup: shared pages divided among their users) and thread count. Destroys them all.
Prints milliseconds of CPU per sandbox-second (the issue's goal: <= 0.1) and the medians.
"""
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PROFILE = """apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: idle, prefix: ki}
extends: hardened
spec:
  lifecycle: {ttl: "0", idleTimeout: "%s", teardownPolicy: destroy}
  runtime: {substrate: local}
  network: {enforcement: %s}
"""


def supervisor_dirs(ids):
    """Each sandbox's supervisor cgroup where CPU time is counted: the v2 hierarchy when it
    has the cpu controller, else v1's cpuacct."""
    found = []
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"):
        for d in glob.glob(os.path.join(root, "km", "*", "*", "supervisor")):
            if d.split("/")[-2] in ids and (os.path.exists(os.path.join(d, "cpuacct.usage")) or
                                            "usage_usec" in open(os.path.join(d, "cpu.stat")).read()
                                            if os.path.exists(os.path.join(d, "cpu.stat")) else
                                            os.path.exists(os.path.join(d, "cpuacct.usage"))):
                found.append(d)
        if len(found) == len(ids):
            return found
        found = []
    return found


def usage_usec(d):
    acct = os.path.join(d, "cpuacct.usage")
    if os.path.exists(acct):
        with open(acct) as f:
            return int(f.read()) // 1000
    with open(os.path.join(d, "cpu.stat")) as f:
        for line in f:
            k, v = line.split()
            if k == "usage_usec":
                return int(v)
    return 0


def status_field(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def main():
    if os.geteuid() != 0:
        sys.exit("idle_bench: needs root (namespaces, cgroups)")
    km = os.path.abspath(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    window = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    idle = sys.argv[4] if len(sys.argv) > 4 else "1h"
    enforcement = sys.argv[5] if len(sys.argv) > 5 else "proxy"
    home = tempfile.mkdtemp(prefix="km-idle.")
    env = dict(os.environ, KM_HOME=home)
    env.pop("KM_CONFIG", None)
    profile = os.path.join(home, "idle.yaml")
    with open(profile, "w") as f:
        f.write(PROFILE % (idle, enforcement))
    with open(os.path.join(home, "config.yaml"), "w") as f:
        f.write("disk:\n  size: 4Gi\n")
    ids = []
    try:
        t = time.perf_counter()
        for _ in range(count):
            ids.append(subprocess.run([km, "create", profile], env=env, check=True,
                                      stdout=subprocess.PIPE, text=True).stdout.strip())
        created_s = time.perf_counter() - t
        dirs = supervisor_dirs(set(ids))
        if len(dirs) != count:
            sys.exit(f"idle_bench: found {len(dirs)} supervisor cgroups for {count} sandboxes")
        time.sleep(5)  # settle: first looks, resolver start-up
        before = sum(usage_usec(d) for d in dirs)
        t0 = time.perf_counter()
        time.sleep(window)
        elapsed = time.perf_counter() - t0
        used_us = sum(usage_usec(d) for d in dirs) - before
        pids = []
        for d in dirs:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids += [int(p) for p in f.read().split()]
        rss = [status_field(p, "VmRSS") for p in pids]
        pss = [pss_kib(p) for p in pids]
        threads = [status_field(p, "Threads") for p in pids]
        per = used_us / 1000 / (count * elapsed)
        print(f"{count} idle sandboxes (idleTimeout {idle}, enforcement {enforcement}), created in {created_s:.1f} s; "
              f"window {elapsed:.1f} s")
        print(f"  supervisor CPU: {used_us / 1000:.1f} ms in total = {per:.4f} ms per sandbox-second "
              f"({100 * used_us / 1e6 / elapsed / os.cpu_count():.2f} % of {os.cpu_count()} CPUs)")
        print(f"  supervisor RSS median {statistics.median(rss) / 1024:.1f} MiB "
              f"(max {max(rss) / 1024:.1f}), PSS median {statistics.median(pss) / 1024:.1f} MiB, "
              f"threads median {statistics.median(threads):.0f} (max {max(threads)})")
    finally:
        for i in ids:
            subprocess.run([km, "destroy", "--yes", i], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["umount", os.path.join(home, "disk")], stderr=subprocess.DEVNULL)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
