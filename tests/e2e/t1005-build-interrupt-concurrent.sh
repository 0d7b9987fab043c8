#!/usr/bin/env bash
# A build killed midway leaves no output and no temporary file behind, and the
# next build completes; two builds at once share the cache without tearing it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/ctx/model"
# ~256 MiB of poorly compressible data keeps the build busy long enough to kill it
head -c $((256 << 20)) /dev/urandom >"$T/ctx/model/weights.bin"
cat >"$T/ctx/deploy.yaml" <<'YAML'
name: big
image:
  base: scratch
  copy:
    - { src: model/, dst: /model/, layer: model }
YAML

for sig in INT TERM KILL; do
	"$MLDEPLOY" -C "$T/ctx" --no-progress build --compression gzip --level 9 --threads 1 \
		-o "$T/out.tar" >"$T/kill.out" 2>"$T/kill.err" &
	pid=$!
	# wait until the layer is being written into the cache
	wait_for 20 sh -c "ls '$XDG_CACHE_HOME/mldeploy/tmp/' | grep -q blob-" ||
		fail "the build did not start writing"
	kill -s "$sig" "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" != 0 ] || fail "build survived SIG$sig"
	[ ! -e "$T/out.tar" ] || fail "SIG$sig left an output file"
	if [ "$sig" != KILL ]; then
		leftovers=$(ls "$XDG_CACHE_HOME/mldeploy/tmp/")
		assert_eq "$leftovers" "" "temporary files after SIG$sig"
	fi
done
# what a kill -9 leaves in tmp/ is never mistaken for a blob, and is swept
# once it is a day old
stale=$(ls "$XDG_CACHE_HOME/mldeploy/tmp/")
[ -n "$stale" ] || fail "kill -9 left no temporary file to sweep"
touch -d '2 days ago' "$XDG_CACHE_HOME/mldeploy/tmp/"*
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/out.tar"
assert_eq "$(ls "$XDG_CACHE_HOME/mldeploy/tmp/")" "" "stale temporary files after a build"
digest=$(jq -r .digest "$T/out")
run_ok skopeo_inspect "oci-archive:$T/out.tar"

# two builds at once, from an empty cache, in two copies of the context
rm -rf "$XDG_CACHE_HOME/mldeploy"
cp -r "$T/ctx" "$T/ctx2"
"$MLDEPLOY" -C "$T/ctx" --json build -o "$T/c1.tar" >"$T/c1.json" 2>"$T/c1.err" &
p1=$!
"$MLDEPLOY" -C "$T/ctx2" --json build -o "$T/c2.tar" >"$T/c2.json" 2>"$T/c2.err" &
p2=$!
wait "$p1" || { cat "$T/c1.err" >&2; fail "first concurrent build failed"; }
wait "$p2" || { cat "$T/c2.err" >&2; fail "second concurrent build failed"; }
assert_eq "$(jq -r .digest "$T/c1.json")" "$digest" "first concurrent build digest"
assert_eq "$(jq -r .digest "$T/c2.json")" "$digest" "second concurrent build digest"
for f in "$XDG_CACHE_HOME"/mldeploy/blobs/sha256/*; do
	assert_eq "$(sha256sum "$f" | cut -d' ' -f1)" "$(basename "$f")" "cache blob $f"
done
