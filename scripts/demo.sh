#!/usr/bin/env bash
# The main job on the embedded default (local substrate, SQLite): a sandbox from a built-in
# profile, commands run inside it (web requests through its proxy to a stand-in internet:
# one allowed, one refused with its reason), the fleet listed and inspected, then destroyed. Uses a
# throwaway KM_HOME so it never touches a real fleet. Needs root (namespaces, cgroups).
set -euo pipefail
KM="${1:-build/release/src/km}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
demo_home="$(mktemp -d /tmp/km-demo-XXXXXX)"
export KM_HOME="$demo_home"
# A small disk store for this throwaway home (its image is preallocated), and the stand-in
# internet below as the sandboxes' DNS upstream.
printf 'disk:\n  size: 1Gi\ndns:\n  upstream: ["198.51.100.53:53"]\n' > "$demo_home/config.yaml"
export KM_CONFIG="$demo_home/config.yaml"
id=""
net_ns="kmdemo$$"
net_if="kmd$$"
pids=()
cleanup() {
  [ -n "$id" ] && "$KM" destroy --yes "$id" >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if ip netns pids "$net_ns" >/dev/null 2>&1; then
    for p in $(ip netns pids "$net_ns"); do kill -9 "$p" 2>/dev/null || true; done
  fi
  ip link del "$net_if" 2>/dev/null || true
  ip netns del "$net_ns" 2>/dev/null || true
  umount "$demo_home/disk" 2>/dev/null || true
  rm -rf "$demo_home"
}
trap cleanup EXIT

# A stand-in for the internet, so the demo needs none: a network namespace with a DNS server
# (198.51.100.53) that answers deb.debian.org and evil.example with documentation addresses,
# and a web server on them. Never routed anywhere real.
standin_internet() {
  ip netns add "$net_ns"
  ip link add "$net_if" type veth peer name eth0 netns "$net_ns"
  ip addr add 172.31.252.1/30 dev "$net_if"
  ip link set "$net_if" up
  ip netns exec "$net_ns" sh -c 'ip addr add 172.31.252.2/30 dev eth0 && ip link set eth0 up && ip link set lo up &&
    ip route add default via 172.31.252.1 && ip addr add 198.51.100.53/32 dev lo && ip addr add 203.0.113.81/32 dev lo &&
    ip addr add 203.0.113.66/32 dev lo'
  ip route add 198.51.100.53/32 via 172.31.252.2 dev "$net_if"
  ip route add 203.0.113.81/32 via 172.31.252.2 dev "$net_if"
  ip route add 203.0.113.66/32 via 172.31.252.2 dev "$net_if"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=demo \
    -keyout "$demo_home/web.key" -out "$demo_home/web.pem" 2>/dev/null
  ip netns exec "$net_ns" python3 "$ROOT/tests/fakes/fake_dns.py" 198.51.100.53 53 deb.debian.org=203.0.113.81 \
    evil.example=203.0.113.66 --log "$demo_home/dns.log" >/dev/null 2>&1 &
  pids+=($!)
  ip netns exec "$net_ns" python3 "$ROOT/tests/fakes/fake_web.py" --logs "$demo_home" --cert "$demo_home/web.pem" \
    --key "$demo_home/web.key" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do
    curl -s -m 1 -o /dev/null http://203.0.113.81/ && break
    sleep 0.1
  done
}

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$KM" --version
step "$KM" validate open-dev restricted-dev hardened sealed goose ao codex learn
if [ "$(id -u)" != 0 ]; then
  echo
  echo "demo: the sandbox part needs root (namespaces, cgroups, mounts); run 'sudo make demo'."
  exit 1
fi
step "$KM" doctor
standin_internet
printf '\n\033[1m$ %s\033[0m\n' "$KM create restricted-dev --alias demo"
id="$("$KM" create restricted-dev --alias demo)"
echo "$id"
step "$KM" exec demo -- sh -c 'echo "hello from $(hostname) as $(id -un), pid $$"; ls /workspace; cat /proc/1/comm'
step "$KM" exec --root demo -- sh -c 'echo written-inside > /etc/km-demo; cat /etc/km-demo'
printf '\n\033[1m$ %s\033[0m\n' "test -e /etc/km-demo   # on the host"
if [ -e /etc/km-demo ]; then echo "demo: FAILED, the write reached the host" >&2; exit 1; fi
echo "no such file on the host: the write stayed in the sandbox's overlay"
printf '\n\033[1m%s\033[0m\n' "# web traffic goes through the sandbox's proxy: an allowed host, then one not on the list"
step "$KM" exec demo -- curl -sS -m 10 http://deb.debian.org/debian/
step "$KM" exec demo -- curl -sS -m 10 -i http://evil.example/
sleep 0.2  # the proxy writes records within 0.1 s (at once after a quiet spell)
step "$KM" logs demo --network
if grep -q "203.0.113.66" "$demo_home/conn.log"; then cat "$demo_home/conn.log"; echo "demo: FAILED, the refused host was reached" >&2; exit 1; fi
step "$KM" list
step "$KM" status demo
step "$KM" destroy --yes demo
id=""
step "$KM" list
echo
echo "demo: created, used and destroyed a sandbox on the local substrate."
