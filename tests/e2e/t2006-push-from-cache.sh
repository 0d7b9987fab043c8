#!/usr/bin/env bash
# build --push pushes straight from the build cache: without -o it writes no
# image tarball (nothing new in the context) and reads none; a one-file code
# change then uploads only its layer and the config; with -o the file is written
# too and holds the same image; a cached layer found corrupt while it is pushed
# is removed, built again, and the push completes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry reg
make_busybox_image "$REG_REG_ADDR" tools/busybox 1.0
export MLDEPLOY_INSECURE_REGISTRIES="$REG_REG_ADDR"

mkdir -p "$T/ctx/app" "$T/ctx/model"
printf '#!/bin/sh\necho one\n' >"$T/ctx/app/run.sh"
chmod +x "$T/ctx/app/run.sh"
head -c 3000000 /dev/urandom >"$T/ctx/model/weights.bin"
cat >"$T/ctx/deploy.yaml" <<YAML
name: fromcache
image:
  repository: $REG_REG_ADDR/ml/fromcache
  tags: [latest]
  base: $REG_REG_ADDR/tools/busybox:1.0
  copy:
    - { src: model/, dst: /model/, layer: model }
    - { src: app/, dst: /app/ }
  cmd: ["/app/run.sh"]
YAML
context_files() { (cd "$T/ctx" && find . -print | LC_ALL=C sort); }

# first build --push: no tarball, nothing new in the context
context_files >"$T/files0"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v1 --push
cp "$T/out" "$T/v1.json"
context_files >"$T/files1"
cmp -s "$T/files0" "$T/files1" || fail "build --push changed the context: $(diff "$T/files0" "$T/files1")"
[ ! -e "$T/ctx/build" ] || fail "build --push made $T/ctx/build"
assert_eq "$(jq -r .output "$T/v1.json")" null "output of build --push without -o"
digest=$(jq -r .digest "$T/v1.json")
assert_eq "$(jq -r .push.digest "$T/v1.json")" "$digest" "pushed digest"
assert_eq "$(jq -r .push.reference "$T/v1.json")" "$REG_REG_ADDR/ml/fromcache@$digest" "reference"
run_ok skopeo_inspect "docker://$REG_REG_ADDR/ml/fromcache@$digest"
assert_eq "$(jq -r .Digest "$T/out")" "$digest" "skopeo inspect by digest"
run_ok skopeo_inspect "docker://$REG_REG_ADDR/ml/fromcache:latest"
assert_eq "$(jq -r .Digest "$T/out")" "$digest" "image.tags adds latest"

# the text output: the pushed reference on stdout, no "wrote" line
printf '#!/bin/sh\necho two\n' >"$T/ctx/app/run.sh"
run_ok "$MLDEPLOY" -C "$T/ctx" --no-progress build --tag v2 --push
ref=$(cat "$T/out")
case $ref in "$REG_REG_ADDR/ml/fromcache@sha256:"*) ;; *) fail "stdout is not the pushed reference: '$ref'" ;; esac
assert_not_contains "$T/err" "wrote "

# a one-file code change: only its layer and the config are uploaded, and
# the manifest is put once per tag
printf '#!/bin/sh\necho three\n' >"$T/ctx/app/run.sh"
uploads=$(registry_blob_uploads reg)
manifests=$(registry_count reg PUT '^/v2/ml/fromcache/manifests/' 201)
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v3 --push
cp "$T/out" "$T/v3.json"
assert_eq "$(registry_blob_uploads reg)" "$((uploads + 2))" "blobs uploaded after a code change"
assert_eq "$(registry_count reg PUT '^/v2/ml/fromcache/manifests/' 201)" "$((manifests + 2))" "manifest PUTs (v3, latest)"
assert_eq "$(jq -r '[.push.blobs[] | select(.action == "uploaded") | .kind] | sort | join(",")' "$T/v3.json")" \
	"config,layer" "uploaded kinds"
app=$(jq -r '.layers[] | select(.name == "app") | .digest' "$T/v3.json")
assert_eq "$(jq -r '.push.blobs[] | select(.action == "uploaded" and .kind == "layer") | .digest' "$T/v3.json")" \
	"$app" "the uploaded layer is the code layer"
digest3=$(jq -r .digest "$T/v3.json")
run_ok skopeo_inspect "docker://$REG_REG_ADDR/ml/fromcache@$digest3"
assert_eq "$(jq -r .Digest "$T/out")" "$digest3" "skopeo inspect after the code change"
[ ! -e "$T/ctx/build" ] || fail "a later build --push made $T/ctx/build"

# no change: nothing uploaded
uploads=$(registry_blob_uploads reg)
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v3 --push
assert_eq "$(jq -r .digest "$T/out")" "$digest3" "digest without a change"
assert_eq "$(jq -r '[.push.blobs[].bytes_sent] | add' "$T/out")" 0 "bytes sent without a change"
assert_eq "$(registry_blob_uploads reg)" "$uploads" "uploads without a change"

# with -o the file is written as well, and holds the same image
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v3 --push -o "$T/img.tar"
assert_eq "$(jq -r .output "$T/out")" "$T/img.tar" "output with -o"
assert_eq "$(jq -r .digest "$T/out")" "$digest3" "digest with -o"
run_ok skopeo_inspect "oci-archive:$T/img.tar"
assert_eq "$(jq -r .Digest "$T/out")" "$digest3" "the written archive's digest"

# a built layer corrupted in the cache (same size, other bytes) and not yet in
# the registry: the registry refuses it, the blob is removed, the layer built
# again and the push completes
printf '#!/bin/sh\necho four\n' >"$T/ctx/app/run.sh"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v4 -o "$T/v4.tar"
app=$(jq -r '.layers[] | select(.name == "app") | .digest' "$T/out")
digest4=$(jq -r .digest "$T/out")
blob="$XDG_CACHE_HOME/mldeploy/blobs/sha256/${app#sha256:}"
[ -f "$blob" ] || fail "no cached code layer at $blob"
head -c "$(stat -c %s "$blob")" /dev/zero >"$blob"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v4 --push
assert_contains "$T/err" "building again"
assert_eq "$(jq -r .push.digest "$T/out")" "$digest4" "digest pushed after the rebuild"
assert_eq "$(sha256sum "$blob" | cut -d' ' -f1)" "${app#sha256:}" "code layer built again"
run_ok skopeo_inspect "docker://$REG_REG_ADDR/ml/fromcache:v4"
assert_eq "$(jq -r .Digest "$T/out")" "$digest4" "skopeo inspect after the rebuild"

# no repository: the image is built, the push is a configuration error
sed -i '/^  repository:/d' "$T/ctx/deploy.yaml"
must_fail 2 "$MLDEPLOY" -C "$T/ctx" --json build --push
assert_contains "$T/err" "image.repository"
assert_eq "$(jq -r .digest "$T/out")" "$digest4" "build result printed when the push cannot start"
