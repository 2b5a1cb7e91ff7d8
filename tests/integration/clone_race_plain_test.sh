#!/usr/bin/env bash
# km clone against symlink-swap races without the disk store (clones are fd-relative copies
# made while the source is frozen).
source "$(dirname "$0")/lib.sh" "$@"
DISK_STORE=none
source "$HERE/clone_race.sh"
echo "PASS: clone race (plain directories)"
