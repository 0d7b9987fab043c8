#!/usr/bin/env bash
# Push to a real registry (plain HTTP listed as insecure, and TLS with a private
# CA), verified with skopeo; a second push sends no blob; a new repository
# mounts instead of uploading; a code change uploads only its layer; the base
# image's layers are mounted from its repository on the same registry.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry reg
start_registry secure tls
make_busybox_image "$REG_REG_ADDR" tools/busybox 1.0
export MLDEPLOY_INSECURE_REGISTRIES="$REG_REG_ADDR"

mkdir -p "$T/ctx/app" "$T/ctx/model"
printf '#!/bin/sh\necho served\n' >"$T/ctx/app/run.sh"
chmod +x "$T/ctx/app/run.sh"
head -c 12000000 /dev/urandom >"$T/ctx/model/weights.bin"
write_config() {
	cat >"$T/ctx/deploy.yaml" <<YAML
name: pusher
image:
  repository: $1
  tags: [latest]
  base: $REG_REG_ADDR/tools/busybox:1.0
  copy:
    - { src: model/, dst: /model/, layer: model }
    - { src: app/, dst: /app/ }
  cmd: ["/app/run.sh"]
YAML
}
write_config "$REG_REG_ADDR/ml/pusher"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v1
digest=$(jq -r .digest "$T/out")

# first push: the base layer is mounted from tools/busybox, the others uploaded
uploads0=$(registry_blob_uploads reg)
run_ok "$MLDEPLOY" -C "$T/ctx" --json push
cp "$T/out" "$T/push1.json"
assert_eq "$(jq -r .digest "$T/push1.json")" "$digest" "pushed digest"
assert_eq "$(jq -r .reference "$T/push1.json")" "$REG_REG_ADDR/ml/pusher@$digest" "reference"
assert_eq "$(jq -r '[.blobs[] | select(.action == "mounted")] | length' "$T/push1.json")" 1 "mounted blobs"
assert_eq "$(jq -r '[.blobs[] | select(.action == "mounted")][0].mounted_from' "$T/push1.json")" tools/busybox "mount source"
assert_eq "$(jq -r '[.blobs[] | select(.action == "uploaded")] | length' "$T/push1.json")" 3 "uploaded blobs"
assert_eq "$(registry_blob_uploads reg)" "$((uploads0 + 3))" "uploads in the registry's log"
run_ok skopeo_inspect "docker://$REG_REG_ADDR/ml/pusher:v1"
assert_eq "$(jq -r .Digest "$T/out")" "$digest" "skopeo sees the digest under v1"
run_ok skopeo_inspect "docker://$REG_REG_ADDR/ml/pusher:latest"
assert_eq "$(jq -r .Digest "$T/out")" "$digest" "image.tags adds latest"
run_ok skopeo copy --quiet --src-tls-verify=false "docker://$REG_REG_ADDR/ml/pusher:v1" "oci:$T/back:v1"
umoci_unpack "$T/back" "$T/bundle" v1
cmp "$T/bundle/rootfs/model/weights.bin" "$T/ctx/model/weights.bin" || fail "model differs after the round trip"
[ -x "$T/bundle/rootfs/bin/busybox" ] || fail "base layer missing after the round trip"

# second push: nothing to send
uploads1=$(registry_blob_uploads reg)
run_ok "$MLDEPLOY" -C "$T/ctx" --json push
assert_eq "$(jq -r '[.blobs[].bytes_sent] | add' "$T/out")" 0 "bytes sent by a second push"
assert_eq "$(jq -r '[.blobs[] | select(.action == "exists")] | length' "$T/out")" 4 "blobs found"
assert_eq "$(registry_blob_uploads reg)" "$uploads1" "uploads by a second push"
assert_eq "$(registry_count reg PATCH '^/v2/ml/pusher/blobs/uploads/')" 1 "PATCH requests (one large layer, once)"

# a new repository on the same registry: every blob is mounted
mounts=$(registry_blob_mounts reg)
run_ok "$MLDEPLOY" -C "$T/ctx" --json push --repository "$REG_REG_ADDR/ml/pusher-copy" --tag v1
assert_eq "$(jq -r '[.blobs[] | select(.action == "mounted")] | length' "$T/out")" 4 "mounted into a new repository"
assert_eq "$(registry_blob_mounts reg)" "$((mounts + 4))" "mounts in the registry's log"
assert_eq "$(registry_blob_uploads reg)" "$uploads1" "uploads into a new repository"

# a code change: only the code layer (and the small config) travel
printf '#!/bin/sh\necho served v2\n' >"$T/ctx/app/run.sh"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v2 --push
cp "$T/out" "$T/v2.json"
assert_eq "$(jq -r '[.push.blobs[] | select(.action == "uploaded") | .kind] | sort | join(",")' "$T/v2.json")" \
	"config,layer" "uploaded after a code change"
model=$(jq -r '.layers[] | select(.name == "model") | .digest' "$T/v2.json")
assert_eq "$(jq -r --arg d "$model" '.push.blobs[] | select(.digest == $d) | .action' "$T/v2.json")" exists "model layer"
run_ok skopeo_inspect "docker://$REG_REG_ADDR/ml/pusher:v2"
assert_eq "$(jq -r .Digest "$T/out")" "$(jq -r .digest "$T/v2.json")" "v2 digest"

# TLS: the private CA must be trusted; then the same image lands there, from the
# archive a build without --push writes (build --push wrote none)
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v2
assert_eq "$(jq -r .digest "$T/out")" "$(jq -r .digest "$T/v2.json")" "digest built with and without --push"
write_config "$REG_SECURE_ADDR/ml/pusher"
must_fail 1 "$MLDEPLOY" -C "$T/ctx" push "$T/ctx/build/pusher.tar" --tag v2
assert_contains "$T/err" "SSL_CERT_FILE"
SSL_CERT_FILE="$REG_SECURE_CA" run_ok "$MLDEPLOY" -C "$T/ctx" --json push --tag v2
assert_eq "$(jq -r '[.blobs[] | select(.action == "uploaded")] | length' "$T/out")" 4 "uploads to the TLS registry"
run_ok skopeo_inspect "docker://$REG_SECURE_ADDR/ml/pusher:v2"
assert_eq "$(jq -r .Digest "$T/out")" "$(jq -r .digest "$T/v2.json")" "digest on the TLS registry"

# usage errors
must_fail 2 "$MLDEPLOY" -C "$T/ctx" push --tag 'no good'
must_fail 2 "$MLDEPLOY" -C "$T/ctx" push "$T/missing.tar" --repository "$REG_REG_ADDR/x/y" --tag v1
assert_contains "$T/err" "missing.tar"
