#!/usr/bin/env python3
"""Side-by-side sandbox start, exec and teardown: km vs bubblewrap vs unshare+nsenter.

Usage (root): bench/sandbox_bench.py KM_BINARY [RUNS [BASELINE_KM_BINARY]]
Each case runs RUNS times in one session, interleaved round-robin so background load hits
all of them alike (after each create the script waits for km's CA pool filler, which runs
once the create has answered, and reports that wait as "(pool refill)"); prints medians and
the ratios the issue sets as targets. With a baseline km (an older build) its create,
destroy and exec run in the same rounds, in a home of its own, the two builds taking turns
at going first in a round:
  km create (to ready)  <= 2   x  bwrap --unshare-all --ro-bind / / true
  km exec SB -- true    <= 1.5 x  nsenter --all -t PID true
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


def timed(cmd, **kw):
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, **kw).stdout
    return (time.perf_counter() - t) * 1000, out


def settle():
    """Waits (at most 2 s) until no CA pool filler runs: km create leaves one behind to make
    the next create's spare CA, at idle priority once the create has answered; it must not
    land in the next case's timing. Returns how long it still ran, in ms."""
    t = time.perf_counter()
    while time.perf_counter() - t < 2 and filler_running():
        time.sleep(0.002)
    return (time.perf_counter() - t) * 1000


def filler_running():
    """Whether a km-ca-pool process runs (an exited one waiting to be reaped does not count)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.find("(") + 1:stat.rfind(")")]
        state = stat[stat.rfind(")") + 2:][:1]
        if name == "km-ca-pool" and state != "Z":
            return True
    return False


def main():
    if os.geteuid() != 0:
        sys.exit("sandbox_bench: needs root (namespaces, cgroups)")
    km = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    base = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
    home = tempfile.mkdtemp(prefix="km-bench.")
    env = dict(os.environ, KM_HOME=home)
    env.pop("KM_CONFIG", None)
    profile = os.path.join(home, "bench.yaml")
    with open(profile, "w") as f:
        f.write(PROFILE)
    # The home's disk store is made by the first create below (not timed), then reused as
    # in everyday use; a small one, since its image is preallocated.
    with open(os.path.join(home, "config.yaml"), "w") as f:
        f.write("disk:\n  size: 2Gi\n")
    # A long-lived namespace set for nsenter, made the way unshare users do it.
    holder = subprocess.Popen(["unshare", "-m", "-p", "-n", "-u", "-i", "-C", "-f",
                               "--mount-proc", "sleep", "infinity"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    target = subprocess.run(["pgrep", "-P", str(holder.pid)], stdout=subprocess.PIPE,
                            text=True).stdout.split()[0]
    _, out = timed([km, "create", profile], env=env)
    resident = out.decode().strip()
    cases = ["bwrap", "unshare", "km create", "km destroy", "nsenter", "km exec"]
    if base:
        base_home = tempfile.mkdtemp(prefix="km-bench-base.")
        base_env = dict(env, KM_HOME=base_home)
        _, out = timed([base, "create", profile], env=base_env)
        base_resident = out.decode().strip()
        cases += ["base create", "base destroy", "base exec"]
    res = {k: [] for k in cases}
    try:
        def km_cases():
            ms, out = timed([km, "create", profile], env=env)
            res["km create"].append(ms)
            res.setdefault("(pool refill)", []).append(settle())
            res["km destroy"].append(timed([km, "destroy", "--yes", out.decode().strip()], env=env)[0])
            res["nsenter"].append(timed(["nsenter", "-a", "-t", target, "true"])[0])
            res["km exec"].append(timed([km, "exec", resident, "--", "true"], env=env)[0])

        def base_cases():
            ms, out = timed([base, "create", profile], env=base_env)
            res["base create"].append(ms)
            settle()
            res["base destroy"].append(timed([base, "destroy", "--yes", out.decode().strip()], env=base_env)[0])
            res["base exec"].append(timed([base, "exec", base_resident, "--", "true"], env=base_env)[0])

        for i in range(runs):
            res["bwrap"].append(timed(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"])[0])
            res["unshare"].append(timed(["unshare", "-m", "-p", "-n", "-u", "-i", "-C", "-f", "true"])[0])
            # With a baseline the two builds take turns going first: a destroy measured
            # right after the round's other create ran 4-5 ms slower, whichever build it was.
            if base and i % 2:
                base_cases()
                km_cases()
            else:
                km_cases()
                if base:
                    base_cases()
        if base:
            # Creates alone, 50 ms apart, destroyed afterwards: the create path's own cost,
            # without the previous sandbox's teardown finishing in the background.
            made = {"km": [], "base": []}
            for _ in range(runs):
                for name, binary, e in (("km", km, env), ("base", base, base_env)):
                    ms, out = timed([binary, "create", profile], env=e)
                    res.setdefault(name + " create alone", []).append(ms)
                    made[name].append(out.decode().strip())
                    settle()
                    time.sleep(0.05)
            for name, binary, e in (("km", km, env), ("base", base, base_env)):
                for sb in made[name]:
                    subprocess.run([binary, "destroy", "--yes", sb], env=e, stdout=subprocess.DEVNULL)
    finally:
        subprocess.run([km, "destroy", "--yes", resident], env=env, stdout=subprocess.DEVNULL)
        if base:
            subprocess.run([base, "destroy", "--yes", base_resident], env=base_env, stdout=subprocess.DEVNULL)
            subprocess.run(["umount", os.path.join(base_home, "disk")], stderr=subprocess.DEVNULL)
            shutil.rmtree(base_home, ignore_errors=True)
        # unshare -f forks: the sleep is PID 1 of its namespace and must be killed itself.
        subprocess.run(["kill", "-9", target], stderr=subprocess.DEVNULL)
        holder.kill()
        holder.wait()
        subprocess.run(["umount", os.path.join(home, "disk")], stderr=subprocess.DEVNULL)
        shutil.rmtree(home, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"{'case':<19} {'median ms':>10} {'p90 ms':>8}   ({runs} runs each, interleaved)")
    for k, v in res.items():
        p90 = sorted(v)[int(len(v) * 0.9) - 1]
        print(f"{k:<19} {med[k]:>10.2f} {p90:>8.2f}")
    create_ratio = med["km create"] / med["bwrap"]
    exec_ratio = med["km exec"] / med["nsenter"]
    print(f"km create / bwrap   = {create_ratio:.2f}  (target <= 2.0)")
    print(f"km exec / nsenter   = {exec_ratio:.2f}  (target <= 1.5)")
    if base:
        print(f"baseline: create / bwrap = {med['base create'] / med['bwrap']:.2f}, "
              f"exec / nsenter = {med['base exec'] / med['nsenter']:.2f}, "
              f"destroy {med['base destroy']:.2f} ms")


if __name__ == "__main__":
    main()
