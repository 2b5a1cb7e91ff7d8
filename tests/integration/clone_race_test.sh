#!/usr/bin/env bash
# km clone against symlink-swap races, with the disk store (clones are btrfs snapshots).
source "$(dirname "$0")/lib.sh" "$@"
DISK_STORE=loop
source "$HERE/clone_race.sh"
echo "PASS: clone race (store)"
