# The body of clone_race_test.sh and clone_race_plain_test.sh (sourced after lib.sh, with
# DISK_STORE set): km clone copies a running sandbox whose processes swap directories of
# its workspace and home for symlinks to host paths as fast as they can
# (renameat2 RENAME_EXCHANGE). Nothing of the host may land in a clone, and the host paths
# are untouched. Also: clones get a user of their own and own their copied files.
before="$(kernel_snapshot)"
printf '%s\n  store: %s\n' "$KM_TEST_DISK_CONFIG" "$DISK_STORE" > "$KM_HOME/config.yaml"

# A host directory the sandbox cannot see, with a marker the clones must never contain.
secret_dir="/root/km-clone-secret-$$"
mkdir -p "$secret_dir/sub"
marker="HOST-SECRET-$$-$RANDOM"
echo "$marker" > "$secret_dir/secret.txt"
echo "$marker" > "$secret_dir/sub/secret.txt"
chmod 644 "$secret_dir/secret.txt"
extra_cleanup() { rm -rf "$secret_dir"; }

SB="$(km create "$FIXTURES/local-test.yaml")"
src_uid="$(km exec "$SB" -- id -u)"
km exec "$SB" -- sh -c 'echo mine > /workspace/owned; mkdir -p /home/sandbox/dir; echo h > /home/sandbox/dir/f'
# The traps: 16 pairs per tree, each a real directory (with a file) and a symlink to the
# host's secret directory, swapped continuously by one process per tree.
km exec "$SB" -- python3 - "$secret_dir" <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2
SYS_renameat2 = 316
target = sys.argv[1]
for top in ("/workspace", "/home/sandbox"):
    for i in range(16):
        d = "%s/trap%d" % (top, i)
        os.makedirs(d + "/inner", exist_ok=True)
        open(d + "/inner/file", "w").write("sandbox data\n")
        if not os.path.lexists(d + ".lnk"):
            os.symlink(target, d + ".lnk")
    if os.fork() == 0:
        os.setsid()
        deadline = time.time() + 120
        while time.time() < deadline:
            for i in range(16):
                a = ("%s/trap%d" % (top, i)).encode()
                libc.syscall(SYS_renameat2, -100, a, -100, a + b".lnk", RENAME_EXCHANGE)
        os._exit(0)
print("traps set")
PY
sleep 0.5
km exec "$SB" -- pgrep -c python3 >/dev/null || fail "the swapping processes run"

clones=()
for round in 1 2 3 4; do
  while read -r c; do clones+=("$c"); done < <(km clone "$SB" --count 3)
done
expect_eq "${#clones[@]}" 12 "twelve clones made while the traps ran"
for c in "${clones[@]}"; do
  disk="$KM_HOME/disk/$c"
  if grep -rqF "$marker" "$disk" 2>/dev/null; then fail "$c: a host file was copied into the clone"; fi
  # Whatever state each trap was caught in: of each pair one is the symlink (still a
  # symlink) and the other the directory with the sandbox's data.
  for top in workspace home; do
    for i in $(seq 0 15); do
      a="$disk/$top/trap$i"; b="$a.lnk"; real="$a"
      if [ -L "$a" ]; then real="$b"; [ ! -L "$b" ] || fail "$c: both $a and $b are links"; fi
      [ -L "$a" ] || [ -L "$b" ] || fail "$c: neither $a nor $b is the symlink"
      expect_eq "$(cat "$real/inner/file")" "sandbox data" "$c: $real holds the sandbox's data"
    done
  done
  # The clone's own user owns what the source's user owned.
  c_uid="$(km exec "$c" -- id -u)"
  [ "$c_uid" != "$src_uid" ] || fail "$c shares the source's uid $src_uid"
  expect_eq "$(km exec "$c" -- stat -c %u /workspace/owned)" "$c_uid" "$c owns the copied workspace file"
  expect_eq "$(km exec "$c" -- cat /home/sandbox/dir/f)" h "$c has the source's home"
done
expect_eq "$(cat "$secret_dir/secret.txt")" "$marker" "the host's secret is untouched"
expect_eq "$(stat -c %u "$secret_dir/secret.txt")" 0 "the host's secret keeps its owner"

for c in "${clones[@]}"; do km destroy --yes "$c" >/dev/null; done
km destroy --yes "$SB" >/dev/null
expect_eq "$(kernel_snapshot)" "$before" "nothing left after destroy"
