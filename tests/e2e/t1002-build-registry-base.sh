#!/usr/bin/env bash
# A base image pulled from a real registry (plain HTTP listed as insecure, and
# TLS with a private CA), cached content-addressed; the built image runs in
# podman from both output formats.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry plain
start_registry secure tls
make_busybox_image "$REG_PLAIN_ADDR" tools/busybox 1.0
make_busybox_image "$REG_SECURE_ADDR" tools/busybox 1.0 tls

mkdir -p "$T/ctx/app"
printf '#!/bin/sh\necho "model says: $GREETING from $(pwd)"\n' >"$T/ctx/app/run.sh"
chmod +x "$T/ctx/app/run.sh"
write_config() {
	cat >"$T/ctx/deploy.yaml" <<YAML
name: hello
image:
  base: $1/tools/busybox:1.0
  workdir: /app
  copy:
    - { src: app/, dst: /app/ }
  env: { GREETING: hi }
  cmd: ["/app/run.sh"]
YAML
}

# plain HTTP is refused unless the registry is listed as insecure
write_config "$REG_PLAIN_ADDR"
must_fail 1 "$MLDEPLOY" -C "$T/ctx" build -o "$T/out.tar"
assert_contains "$T/err" "$REG_PLAIN_ADDR"
[ ! -e "$T/out.tar" ] || fail "a failed build left an output file"

export MLDEPLOY_INSECURE_REGISTRIES="$REG_PLAIN_ADDR"
run_ok "$MLDEPLOY" -C "$T/ctx" -v --json build -o "$T/plain.tar"
cp "$T/out" "$T/plain.json"
assert_eq "$(jq -r '.base.resolved' "$T/plain.json")" \
	"$REG_PLAIN_ADDR/tools/busybox@$BUSYBOX_AMD64_DIGEST" "resolved base"
assert_eq "$(jq -r '[.layers[] | select(.from_base)] | length' "$T/plain.json")" 1 "base layers"
run_ok skopeo_inspect "oci-archive:$T/plain.tar"
podman_setup
podman_run_archive "$T/plain.tar" oci >"$T/run.out"
assert_eq "$(cat "$T/run.out")" "model says: hi from /app" "oci image output"

run_ok "$MLDEPLOY" -C "$T/ctx" --json build --format docker -o "$T/docker.tar"
tar -tf "$T/docker.tar" >"$T/list"
assert_contains "$T/list" manifest.json
podman_run_archive "$T/docker.tar" docker >"$T/run.out"
assert_eq "$(cat "$T/run.out")" "model says: hi from /app" "docker-archive image output"
run_ok skopeo_inspect "docker-archive:$T/docker.tar"

# the base blobs are cached: a fresh output needs no blob from the registry
before=$(registry_count plain GET '/v2/tools/busybox/blobs/')
run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/plain2.tar"
assert_eq "$(registry_count plain GET '/v2/tools/busybox/blobs/')" "$before" "blob GETs after caching"
cmp "$T/plain.tar" "$T/plain2.tar" || fail "rebuild differs"

# TLS: the private CA must be trusted explicitly
unset MLDEPLOY_INSECURE_REGISTRIES
write_config "$REG_SECURE_ADDR"
must_fail 1 "$MLDEPLOY" -C "$T/ctx" build -o "$T/tls.tar"
assert_contains "$T/err" "SSL_CERT_FILE"
SSL_CERT_FILE="$REG_SECURE_CA" run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/tls.tar"
# the same image config and layers; only the base.name annotation differs
assert_eq "$(jq -r .config_digest "$T/out")" "$(jq -r .config_digest "$T/plain.json")" "config from either registry"
# listed as insecure, TLS is used without verification
MLDEPLOY_INSECURE_REGISTRIES="$REG_SECURE_ADDR" run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/tls2.tar"
