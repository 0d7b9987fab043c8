#!/usr/bin/env bash
# Bad input gets a clear error, the documented exit status, and no output file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/ctx/app"
printf 'print(1)\n' >"$T/ctx/app/main.py"
cfg() { cat >"$T/ctx/deploy.yaml"; }
expect() {	# STATUS TEXT...: build fails with STATUS, stderr holds every TEXT
	local status=$1
	shift
	must_fail "$status" "$MLDEPLOY" -C "$T/ctx" build -o "$T/out.tar"
	local t
	for t in "$@"; do
		assert_contains "$T/err" "$t"
	done
	[ ! -e "$T/out.tar" ] || fail "failed build left $T/out.tar"
	ls "$T" | grep -q 'out.tar.tmp' && fail "failed build left a temporary file"
	return 0
}

# malformed YAML, with file:line:column
printf 'name: x\nimage:\n  base: scratch\n  copy: [ { src: a\n' | cfg
expect 2 "deploy.yaml:"
# unknown key with a suggestion
printf 'name: x\nimage:\n  base: scratch\n  platfrom: linux/amd64\n' | cfg
expect 2 "deploy.yaml:4:3:" "platfrom" "did you mean 'platform'"
# wrong type
printf 'name: x\nimage:\n  base: scratch\n  port: eighty\n' | cfg
expect 2 "deploy.yaml:4:" "port"
# missing required key
printf 'image:\n  base: scratch\n' | cfg
expect 2 "deploy.yaml:1:1:" "name"
# not DNS-safe
printf 'name: My_App\nimage:\n  base: scratch\n' | cfg
expect 2 "deploy.yaml:1:7:" "My_App"
# unset variable
printf 'name: x\nimage:\n  base: ${NO_SUCH_VARIABLE_HERE}\n' | cfg
expect 2 "NO_SUCH_VARIABLE_HERE"
# a path that escapes the context
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: ../etc/passwd, dst: /x }\n' | cfg
expect 2 "deploy.yaml:5:"
# a symlink pointing outside the context
ln -s /etc/passwd "$T/ctx/app/passwd"
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /app/ }\n' | cfg
expect 2 "app/passwd" "points outside the build context"
rm "$T/ctx/app/passwd"
ln -s ../../outside "$T/ctx/app/up"
expect 2 "app/up" "outside the build context"
rm "$T/ctx/app/up"
# a src that is a symlinked directory leading out
ln -s /etc "$T/ctx/etc-link"
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: etc-link/, dst: /etc2/ }\n' | cfg
expect 2 "outside the build context"
rm "$T/ctx/etc-link"
# credential files are refused unless allowed
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /app/ }\n' | cfg
printf 'AWS_SECRET_ACCESS_KEY=abc\n' >"$T/ctx/app/.env"
expect 2 "app/.env" "looks like a credential" "allow_credentials"
rm "$T/ctx/app/.env"
printf '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----"}\n' >"$T/ctx/app/sa.json"
expect 2 "app/sa.json" "looks like a credential"
printf 'name: x\nimage:\n  base: scratch\n  allow_credentials: ["app/sa.json"]\n  copy:\n    - { src: app/, dst: /app/ }\n' | cfg
run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/allowed.tar"
printf 'app/sa.json\n' >"$T/ctx/.dockerignore"
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /app/ }\n' | cfg
run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/ignored.tar"
tar -xOf "$T/ignored.tar" index.json >/dev/null
rm "$T/ctx/app/sa.json" "$T/ctx/.dockerignore"
# a dst with doubled and "." segments lands where it means
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /srv//./code/ }\n' | cfg
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --compression none -o "$T/dst.tar"
layer=$(jq -r '.layers[0].digest' "$T/out")
tar -xOf "$T/dst.tar" "blobs/sha256/${layer#sha256:}" | tar -t >"$T/names"
printf 'srv/\nsrv/code/\nsrv/code/main.py\n' >"$T/want"
diff -u "$T/want" "$T/names" || fail "layer entries for a dst with // and /./"
# missing src
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: nope/, dst: /app/ }\n' | cfg
expect 2 "deploy.yaml:5:" "'nope'" "does not exist"
# a dst ending in "/.": a file copied there would replace the image's root
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: app/main.py, dst: "/." }\n' | cfg
expect 2 "deploy.yaml:5:32:" "invalid path '/.'" "must not end in '/.'"
# a file name that is not UTF-8, and a symlink to one: escaped, at the copy entry
bad=$(printf 'bad\377name.py')
printf 'x\n' >"$T/ctx/app/$bad"
printf 'name: x\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /app/ }\n' | cfg
expect 2 "deploy.yaml:5:7:" "file name 'app/bad\\xffname.py' is not utf-8" ".dockerignore"
printf 'app/bad*\n' >"$T/ctx/.dockerignore"
run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/ignored.tar"
rm "$T/ctx/app/$bad" "$T/ctx/.dockerignore" "$T/ignored.tar"
ln -s "$bad" "$T/ctx/app/link"
expect 2 "deploy.yaml:5:7:" "symlink 'app/link' points to 'bad\\xffname.py', which is not utf-8"
rm "$T/ctx/app/link"
# bad command-line values
must_fail 2 "$MLDEPLOY" -C "$T/ctx" build --compression lzma
assert_contains "$T/err" "--compression"
must_fail 2 "$MLDEPLOY" -C "$T/ctx" build --level 99
must_fail 2 "$MLDEPLOY" nosuchcommand
assert_contains "$T/err" "unknown command"
SOURCE_DATE_EPOCH=yesterday must_fail 2 "$MLDEPLOY" -C "$T/ctx" build -o "$T/out.tar"
assert_contains "$T/err" "SOURCE_DATE_EPOCH"

# an unreachable registry
port=$(free_port)
printf 'name: x\nimage:\n  base: 127.0.0.1:%s/nothing/here:1\n' "$port" | cfg
MLDEPLOY_RETRY_BASE_MS=10 MLDEPLOY_INSECURE_REGISTRIES="127.0.0.1:$port" expect 1 "127.0.0.1:$port"

# a registry that lies: served content does not match the digest asked for
start_registry reg
make_busybox_image "$REG_REG_ADDR" lib/bb 1
export MLDEPLOY_INSECURE_REGISTRIES="$REG_REG_ADDR"
printf 'name: x\nimage:\n  base: %s/lib/bb:1\n' "$REG_REG_ADDR" | cfg
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/good.tar"
layer=$(jq -r '.layers[0].digest' "$T/out")
hex=${layer#sha256:}
# a corrupted cached blob (same size, other bytes) is detected and fetched again
blob="$XDG_CACHE_HOME/mldeploy/blobs/sha256/$hex"
[ -f "$blob" ] || fail "no cached base blob at $blob"
size=$(stat -c %s "$blob")
head -c "$size" /dev/zero >"$blob"
rm -f "$T/good.tar"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/good.tar"
assert_contains "$T/err" "was corrupt"
assert_contains "$T/err" "; building again"
assert_eq "$(sha256sum "$blob" | cut -d' ' -f1)" "$hex" "blob fetched again"
# the registry's copy is corrupted: the pull fails on the digest check
rm -rf "$XDG_CACHE_HOME/mldeploy"
data=$(find "$REG_REG_DIR" -path "*/blobs/sha256/${hex:0:2}/$hex/data")
[ -f "$data" ] || fail "registry blob not found"
printf 'garbage' | dd of="$data" bs=1 seek=100 conv=notrunc 2>/dev/null
expect 1 "$layer" "hashes to"
# a pinned base digest that does not match what the tag serves
printf 'name: x\nimage:\n  base: %s/lib/bb@sha256:%s\n' "$REG_REG_ADDR" "$(printf %064d 0)" | cfg
expect 1 "manifest"
