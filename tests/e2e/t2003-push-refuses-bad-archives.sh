#!/usr/bin/env bash
# Registry 2.8 does not check descriptor sizes, so mldeploy does: an archive
# whose manifest gives a layer the wrong size, or whose blob does not match its
# name, is refused before anything is sent, and no tag appears.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry reg
export MLDEPLOY_INSECURE_REGISTRIES="$REG_REG_ADDR"
mkdir -p "$T/ctx/app"
printf 'hello\n' >"$T/ctx/app/hello.txt"
printf 'name: bad\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /app/ }\n' >"$T/ctx/deploy.yaml"
run_ok "$MLDEPLOY" -C "$T/ctx" build --tag v1 -o "$T/good.tar"

# rebuild the archive with a manifest that lies about the layer's size
mkdir "$T/x"
tar -xf "$T/good.tar" -C "$T/x"
old=$(jq -r '.manifests[0].digest' "$T/x/index.json")
jq -c '.layers[0].size += 1' "$T/x/blobs/sha256/${old#sha256:}" >"$T/manifest.json"
new=sha256:$(sha256sum "$T/manifest.json" | cut -d' ' -f1)
cp "$T/manifest.json" "$T/x/blobs/sha256/${new#sha256:}"
jq -c --arg d "$new" --argjson s "$(stat -c %s "$T/manifest.json")" \
	'.manifests[0].digest = $d | .manifests[0].size = $s' "$T/x/index.json" >"$T/index.json"
mv "$T/index.json" "$T/x/index.json"
(cd "$T/x" && tar -cf "$T/lying.tar" .)
# a fresh cache, so the blobs come from the archive itself
export MLDEPLOY_CACHE_DIR="$T/cache2"
must_fail 1 "$MLDEPLOY" push "$T/lying.tar" --repository "$REG_REG_ADDR/ml/bad" --tag v1
assert_contains "$T/err" "but the manifest says"
assert_contains "$T/err" "nothing was pushed"
assert_eq "$(registry_count reg POST '^/v2/ml/bad/')" 0 "upload sessions opened"
assert_eq "$(registry_count reg PUT '^/v2/ml/bad/manifests/')" 0 "manifests sent"

# a blob whose bytes do not match its name
rm -rf "$T/cache2"
cp -r "$T/x" "$T/y"
jq -c '.' "$T/x/index.json" >/dev/null
layer=$(jq -r '.layers[0].digest' "$T/x/blobs/sha256/${old#sha256:}")
printf 'tampered' >>"$T/y/blobs/sha256/${layer#sha256:}"
cp "$T/x/blobs/sha256/${old#sha256:}" "$T/y/blobs/sha256/${old#sha256:}"
jq -c --arg d "$old" '.manifests[0].digest = $d' "$T/x/index.json" >"$T/y/index.json"
jq -c --argjson s "$(stat -c %s "$T/x/blobs/sha256/${old#sha256:}")" '.manifests[0].size = $s' \
	"$T/y/index.json" >"$T/index2.json"
mv "$T/index2.json" "$T/y/index.json"
(cd "$T/y" && tar -cf "$T/tampered.tar" .)
must_fail 1 "$MLDEPLOY" push "$T/tampered.tar" --repository "$REG_REG_ADDR/ml/bad" --tag v1
assert_contains "$T/err" "hashes to"
assert_eq "$(registry_count reg PUT '^/v2/ml/bad/manifests/')" 0 "manifests sent"

# the honest archive goes through
run_ok "$MLDEPLOY" push "$T/good.tar" --repository "$REG_REG_ADDR/ml/bad" --tag v1
run_ok skopeo_inspect "docker://$REG_REG_ADDR/ml/bad:v1"
# a legacy docker-archive (no index.json) is refused with a hint
run_ok skopeo copy --quiet "oci-archive:$T/good.tar" "docker-archive:$T/legacy.tar:bad:v1"
tar -tf "$T/legacy.tar" >"$T/list"
if grep -qx 'index.json' "$T/list"; then
	say "skopeo wrote an index.json: the legacy case does not apply"
else
	must_fail 2 "$MLDEPLOY" push "$T/legacy.tar" --repository "$REG_REG_ADDR/ml/bad" --tag v2
	assert_contains "$T/err" "not an OCI image archive"
fi

# what is not an image archive at all is bad input (exit 2), as the man page says,
# and nothing is sent
not_archive() {	# FILE: push fails with 2 and says the file is not an archive
	must_fail 2 "$MLDEPLOY" push "$1" --repository "$REG_REG_ADDR/ml/notar" --tag v1
	assert_contains "$T/err" "'$1' is not a readable OCI image archive"
}
not_archive /etc/passwd
printf '' >"$T/empty.tar"
not_archive "$T/empty.tar"
mkdir "$T/a-directory"
not_archive "$T/a-directory"
# cut short inside a blob, and inside a tar header
rm -rf "$T/cache3"
export MLDEPLOY_CACHE_DIR="$T/cache3"
head -c "$(($(stat -c %s "$T/good.tar") / 2))" "$T/good.tar" >"$T/half.tar"
not_archive "$T/half.tar"
head -c 700 "$T/good.tar" >"$T/cut.tar"
not_archive "$T/cut.tar"
# an index.json that is not JSON
mkdir "$T/z"
printf '{"manifests": [' >"$T/z/index.json"
(cd "$T/z" && tar -cf "$T/badindex.tar" index.json)
not_archive "$T/badindex.tar"
assert_contains "$T/err" "index.json: invalid JSON"
assert_eq "$(registry_count reg HEAD '^/v2/ml/notar/')" 0 "blob checks for the refused archives"
assert_eq "$(registry_count reg POST '^/v2/ml/notar/')" 0 "uploads for the refused archives"
