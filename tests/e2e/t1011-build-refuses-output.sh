#!/usr/bin/env bash
# `build -o PATH` replaces only a regular file or creates a new one: a symbolic
# link, a FIFO, a device node or a directory is refused before any work (exit 2),
# and left as it was; an empty -o is a usage error up front.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/ctx/app"
printf 'print(1)\n' >"$T/ctx/app/main.py"
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /app/ }\n' >"$T/ctx/deploy.yaml"
# a cache of its own: "before any work" means it is never even opened
export MLDEPLOY_CACHE_DIR="$T/cache-refused"
refused() {	# PATH KIND: build -o PATH fails with exit 2 naming PATH and KIND
	must_fail 2 "$MLDEPLOY" -C "$T/ctx" build -o "$1"
	assert_contains "$T/err" "refusing to replace '$1', $2, with the image"
	[ ! -e "$MLDEPLOY_CACHE_DIR" ] || fail "the build started before refusing $1"
}

# a symbolic link: neither replaced nor followed
ln -s "$T/target.tar" "$T/link.tar"
refused "$T/link.tar" "a symbolic link"
[ -L "$T/link.tar" ] || fail "the symbolic link was replaced"
[ ! -e "$T/target.tar" ] || fail "the symbolic link was followed"
ln -s /etc/hostname "$T/link2.tar"
refused "$T/link2.tar" "a symbolic link"
# a FIFO
mkfifo "$T/fifo"
refused "$T/fifo" "a FIFO"
[ -p "$T/fifo" ] || fail "the FIFO was replaced"
# a directory
mkdir "$T/dir.tar"
refused "$T/dir.tar" "a directory"
# a device node of the test's own (never the system's /dev/null): the null device
if mknod "$T/null" c 1 3 2>/dev/null; then
	refused "$T/null" "a character device"
	[ -c "$T/null" ] || fail "the device node was replaced"
else
	say "cannot make a device node here: the device case is left out"
fi
# an empty name is a usage error before anything is read
must_fail 2 "$MLDEPLOY" -C "$T/ctx" build -o ""
assert_contains "$T/err" "-o takes a file name, not an empty string"
must_fail 2 "$MLDEPLOY" -C "$T/ctx" build --output=
assert_contains "$T/err" "-o takes a file name"
[ ! -e "$MLDEPLOY_CACHE_DIR" ] || fail "the build started with an empty -o"

# a regular file is replaced, a new name created, as before
printf 'old\n' >"$T/old.tar"
run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/old.tar"
run_ok tar -tf "$T/old.tar" index.json
run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/new/dir/new.tar"
run_ok tar -tf "$T/new/dir/new.tar" index.json
