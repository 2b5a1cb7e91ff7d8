#!/usr/bin/env bash
# Host-side writes into a sandbox follow none of its symlinks (issue 11, item 4); binds of its
# writable trees are nosuid,nodev, inside and on the host (item 8); io_uring, TIOCSTI,
# FS_IOC_FSSETXATTR and btrfs ioctls are refused, also with high bits set in the request;
# init's command line is plain (item 9).
source "$(dirname "$0")/lib.sh" "$@"
before="$(kernel_snapshot)"
SB="$(km create "$FIXTURES/local-test.yaml")"
uid="$(km exec "$SB" -- id -u)"

# --- configFiles through symlinks (the clone writes them at its first start) ------------
km exec "$SB" -- sh -c 'rm /home/sandbox/.km-test/settings.json; ln -s /etc/passwd /home/sandbox/.km-test/settings.json'
km exec --root "$SB" -- sh -c 'rm -f /etc/km-test.conf; ln -s /etc/shadow /etc/km-test.conf; rm -f /etc/resolv.conf; ln -s /etc/gshadow /etc/resolv.conf'
CL="$(km clone "$SB")"
expect_eq "$(km exec "$CL" -- stat -c %u /etc/passwd)" 0 "the clone's /etc/passwd still belongs to root"
expect_eq "$(km exec "$CL" -- stat -c %F /home/sandbox/.km-test/settings.json)" "regular file" "settings.json replaced, not written through"
expect_eq "$(km exec "$CL" -- cat /home/sandbox/.km-test/settings.json)" '{"a": 1}' "settings.json content"
expect_eq "$(km exec "$CL" -- stat -c %u /home/sandbox/.km-test/settings.json)" "$(km exec "$CL" -- id -u)" "settings.json belongs to the clone's user"
expect_eq "$(km exec --root "$CL" -- stat -c %U:%a /etc/shadow)" "root:640" "/etc/shadow untouched by the km-test.conf write"
expect_eq "$(km exec "$CL" -- cat /etc/km-test.conf)" configured "km-test.conf replaced"
expect_eq "$(km exec --root "$CL" -- stat -c %F /etc/resolv.conf)" "regular file" "resolv.conf replaced at start"
[ "$(km exec --root "$CL" -- grep -c nameserver /etc/gshadow || true)" = 0 ] || fail "resolv.conf written through a symlink into /etc/gshadow"
# A directory swapped for a symlink: km refuses instead of following it.
km exec "$SB" -- sh -c 'rm -rf /home/sandbox/.km-test; ln -s /etc /home/sandbox/.km-test'
out="$(km clone "$SB" 2>&1 || true)"
expect_contains "$out" "symlink" "a symlinked config directory is refused, saying why"
expect_eq "$(km exec --root "$SB" -- stat -c %u /etc)" 0 "/etc untouched"
km destroy --yes "$CL" >/dev/null

# --- nosuid,nodev ------------------------------------------------------------------------
for m in /workspace /home/sandbox /root; do
  opts="$(km exec "$SB" -- awk -v m="$m" '$5 == m {print $6}' /proc/self/mountinfo)"
  expect_contains "$opts" nosuid "$m is nosuid inside"
  expect_contains "$opts" nodev "$m is nodev inside"
done
km exec --root "$SB" -- sh -c 'cp /bin/bash /workspace/rootsh; chmod 4755 /workspace/rootsh'
expect_eq "$(km exec "$SB" -- /workspace/rootsh -p -c 'id -u')" "$uid" "a setuid-root copy gives nothing inside"
host_opts="$(findmnt -n -o OPTIONS --target "$KM_HOME/disk/$SB/workspace/rootsh")"
expect_contains "$host_opts" nosuid "on the host the file sits on a nosuid mount"
expect_contains "$host_opts" nodev "… and nodev"

# --- seccomp surface ----------------------------------------------------------------------
out="$(km exec --root "$SB" -- python3 -c '
import ctypes, fcntl, os, termios
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *a):
    rc = libc.syscall(nr, *[ctypes.c_ulong(x) for x in a])
    return "%d %s" % (rc, os.strerror(ctypes.get_errno()) if rc < 0 else "")
print("io_uring_setup", call(425, 8, 0))
fd = os.open("/workspace", os.O_RDONLY)
args = ctypes.create_string_buffer(4096 + 8)
args[8:12] = b"sub\0"
print("btrfs_subvol_create", call(16, fd, 0x5008940e, ctypes.addressof(args)))
print("fssetxattr", call(16, fd, 0x401c5820, ctypes.addressof(args)))
print("tiocsti", call(16, 0, termios.TIOCSTI, ctypes.addressof(args)))
print("tiocsti_high", call(16, 0, (1 << 32) | termios.TIOCSTI, ctypes.addressof(args)))
# socket(2) is syscall 41: only AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK open.
print("vsock", call(41, 40, 1, 0))
print("vsock_high", call(41, (1 << 32) | 40, 1, 0))
print("inet_high", call(41, (1 << 32) | 2, 1, 0))
print("packet", call(41, 17, 3, 0))
print("alg", call(41, 38, 5, 0))
print("ipx", call(41, 4, 2, 0))
for fam, typ in ((1, 1), (2, 2), (10, 2), (16, 3)):
    rc = libc.syscall(41, fam, typ, 0)
    print("family_%d" % fam, "open" if rc >= 0 else os.strerror(ctypes.get_errno()))
' 2>&1)"
for what in io_uring_setup btrfs_subvol_create fssetxattr tiocsti tiocsti_high; do
  expect_contains "$(grep "^$what " <<<"$out")" "Operation not permitted" "$what refused"
done
for what in vsock vsock_high inet_high packet alg ipx; do
  expect_contains "$(grep "^$what " <<<"$out")" "Address family not supported" "socket family $what refused"
done
for fam in 1 2 10 16; do
  expect_eq "$(grep "^family_$fam " <<<"$out")" "family_$fam open" "socket family $fam opens"
done
[ ! -e "$KM_HOME/disk/$SB/workspace/sub" ] || fail "a subvolume was made inside the sandbox"

# --- device nodes on the host's root filesystem are dead inside (the overlay root is nodev)
devnode="/var/tmp/km-hardening-zero-$$"
mknod -m 666 "$devnode" c 1 5
extra_cleanup() { rm -f "$devnode"; }
out="$(km exec --root "$SB" -- head -c 1 "$devnode" 2>&1 | od -c | head -1 || true)"
[[ "$out" != *'\0'* ]] || fail "a host device node outside /dev is usable inside"
expect_contains "$(km exec "$SB" -- awk '$5 == "/" {print $6}' /proc/self/mountinfo)" "nosuid,nodev" "the root is nosuid,nodev"
rm -f "$devnode"

# --- the host's connection-tracking table is not the sandbox's to fill --------------------
ct_before="$(cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0)"
host_end="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostAddress"])' "$KM_HOME/sandboxes/$SB/net.json")"
sent="$(km exec "$SB" -- python3 -c '
import socket, struct, sys
ns = sys.argv[1]
n = 0
for port in range(20000, 23000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", port))
        s.sendto(struct.pack(">HHHHHH", port, 0x100, 1, 0, 0, 0) + b"\x01x\x07example\x00\x00\x01\x00\x01", (ns, 53))
        n += 1
    except OSError:
        pass
    s.close()
print(n)' "$host_end")"
ct_after="$(cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0)"
[ "$sent" -ge 2900 ] || fail "the burst sent $sent queries"
[ $((ct_after - ct_before)) -lt 500 ] || fail "$sent queries from distinct ports added $((ct_after - ct_before)) host conntrack entries"
# Not `nft … | grep -q`: under pipefail, grep leaving early fails the pipe with nft's SIGPIPE.
forward_chain="$(nft list chain inet km forward)"
[[ $forward_chain == *"ct count over"* ]] || fail "forwarded connections are capped per sandbox"

# --- init ends only when the supervisor says so ---------------------------------------------
km exec --root "$SB" -- python3 -c '
import ctypes, signal
libc = ctypes.CDLL(None, use_errno=True)
info = (ctypes.c_int * 32)()
info[0] = signal.SIGTERM; info[2] = -1   # si_signo, si_code SI_QUEUE; si_pid (info[4]) stays 0
print(libc.syscall(129, 1, signal.SIGTERM, ctypes.byref(info)))' >/dev/null || true
sleep 0.5
expect_eq "$(km status --json "$SB" | json_field status)" running "a forged signal does not end init"
expect_eq "$(km exec "$SB" -- echo alive)" alive "the sandbox still answers"

# --- init's command line ------------------------------------------------------------------
expect_eq "$(km exec "$SB" -- sh -c 'tr "\0" " " < /proc/1/cmdline')" "km-init " "init's command line is plain"
# The supervisor forked by km create says what it is, not `km create PROFILE`.
sup="$(km status --json "$SB" | json_field supervisor.pid)"
expect_eq "$(tr '\0' ' ' < "/proc/$sup/cmdline")" "km-supervise --home $KM_HOME $SB " "the supervisor's command line"

km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroy"
echo "PASS: hardening"
