#!/usr/bin/env bash
# Base images from everywhere a user keeps them: an index resolved to the
# configured platform, a mirror standing in for Docker Hub, a registry behind
# htpasswd, a local OCI layout and a `docker save` archive.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry hub
start_registry private htpasswd alice 's3cret-Pass'
make_busybox_index "$REG_HUB_ADDR" library/busybox latest
make_busybox_image "$REG_PRIVATE_ADDR" team/busybox 1 
export MLDEPLOY_INSECURE_REGISTRIES="$REG_HUB_ADDR,$REG_PRIVATE_ADDR"

mkdir -p "$T/ctx"
printf 'hello\n' >"$T/ctx/hello.txt"
write_config() {
	cat >"$T/ctx/deploy.yaml" <<YAML
name: bases
image:
  base: "$1"
  platform: ${2:-linux/amd64}
  copy:
    - { src: hello.txt, dst: /hello.txt }
YAML
}

# an index resolves to the platform's manifest
write_config "$REG_HUB_ADDR/library/busybox:latest"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/amd64.tar"
assert_eq "$(jq -r .base.resolved "$T/out")" "$REG_HUB_ADDR/library/busybox@$BUSYBOX_AMD64_DIGEST" "amd64 pick"
write_config "$REG_HUB_ADDR/library/busybox:latest" linux/arm64
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/arm64.tar"
assert_eq "$(jq -r .base.resolved "$T/out")" "$REG_HUB_ADDR/library/busybox@$BUSYBOX_ARM64_DIGEST" "arm64 pick"
run_ok skopeo_inspect --config "oci-archive:$T/arm64.tar"
assert_eq "$(jq -r .architecture "$T/out")" arm64 "arm64 config"
write_config "$REG_HUB_ADDR/library/busybox:latest" linux/s390x
must_fail 1 "$MLDEPLOY" -C "$T/ctx" build -o "$T/s390x.tar"
assert_contains "$T/err" "no image for platform linux/s390x"
assert_contains "$T/err" "linux/amd64"
# pinned by digest
write_config "$REG_HUB_ADDR/library/busybox@$BUSYBOX_AMD64_DIGEST"
run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/pinned.tar"

# Docker Hub names through a mirror: busybox -> docker.io/library/busybox
write_config busybox
MLDEPLOY_REGISTRY_MIRRORS="docker.io=http://$REG_HUB_ADDR" run_ok "$MLDEPLOY" -C "$T/ctx" -v --json build -o "$T/mirror.tar"
assert_eq "$(jq -r .base.resolved "$T/out")" "docker.io/library/busybox@$BUSYBOX_AMD64_DIGEST" "mirrored base"
assert_contains "$T/err" "using mirror http://$REG_HUB_ADDR"
# a plain-HTTP mirror must be listed as insecure
MLDEPLOY_INSECURE_REGISTRIES= MLDEPLOY_REGISTRY_MIRRORS="docker.io=http://$REG_HUB_ADDR" \
	must_fail 2 "$MLDEPLOY" -C "$T/ctx" build -o "$T/mirror2.tar"
assert_contains "$T/err" "MLDEPLOY_INSECURE_REGISTRIES"

# basic auth: refused without credentials, accepted with them
write_config "$REG_PRIVATE_ADDR/team/busybox:1"
must_fail 1 "$MLDEPLOY" -C "$T/ctx" build -o "$T/private.tar"
assert_contains "$T/err" "requires credentials"
MLDEPLOY_REGISTRY_USERNAME=alice MLDEPLOY_REGISTRY_PASSWORD=wrong-pass \
	must_fail 1 "$MLDEPLOY" -C "$T/ctx" -vv build -o "$T/private.tar"
assert_contains "$T/err" "refused the credentials"
assert_not_contains "$T/err" "wrong-pass"
MLDEPLOY_REGISTRY_USERNAME=alice MLDEPLOY_REGISTRY_PASSWORD='s3cret-Pass' \
	run_ok "$MLDEPLOY" -C "$T/ctx" -vv build -o "$T/private.tar"
assert_not_contains "$T/err" "s3cret-Pass"
assert_not_contains "$T/err" "$(printf 'alice:s3cret-Pass' | base64)"
assert_contains "$T/err" "Authorization: <redacted>"

# a local OCI layout, by tag, and a docker-archive made by skopeo
cp -r "$BUSYBOX_LAYOUT" "$T/layout"
tag=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/layout/index.json")
write_config "oci-layout:$T/layout:$tag"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/layout.tar"
assert_eq "$(jq -r '[.layers[] | select(.from_base)] | length' "$T/out")" 1 "layout base layers"
write_config "oci-layout:$T/layout:no-such-tag"
must_fail 1 "$MLDEPLOY" -C "$T/ctx" build -o "$T/x.tar"
assert_contains "$T/err" "no image tagged 'no-such-tag'"

run_ok skopeo copy --quiet "oci:$T/layout:$tag" "docker-archive:$T/saved.tar:busybox:saved"
write_config "docker-archive:$T/saved.tar"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/from-archive.tar"
cp "$T/out" "$T/archive.json"
run_ok skopeo_inspect "oci-archive:$T/from-archive.tar"
umoci_unpack "$T/from-archive.tar" "$T/bundle"
[ -x "$T/bundle/rootfs/bin/busybox" ] || fail "busybox missing from the unpacked image"
assert_eq "$(cat "$T/bundle/rootfs/hello.txt")" hello "copied file"
