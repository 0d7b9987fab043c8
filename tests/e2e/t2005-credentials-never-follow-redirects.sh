#!/usr/bin/env bash
# Registries hand blobs to other hosts (blob storage) with redirects. The
# registry's credentials must never follow: a front that redirects blob
# downloads and uploads to another origin sees Authorization, the other origin
# never does.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry locked htpasswd alice 'Redirect-Pa55'
start_registry open
make_busybox_image "$REG_LOCKED_ADDR" team/busybox 1
make_busybox_image "$REG_OPEN_ADDR" team/busybox 1
# "storage" answers what the front redirects to it (localhost:PORT: another origin)
start_faultproxy storage "$REG_OPEN_ADDR"
start_faultproxy front "$REG_LOCKED_ADDR" --redirect-blobs-to storage
export MLDEPLOY_INSECURE_REGISTRIES="$PROXY_FRONT_ADDR,$REG_LOCKED_ADDR"
export MLDEPLOY_REGISTRY_USERNAME=alice MLDEPLOY_REGISTRY_PASSWORD='Redirect-Pa55'

mkdir -p "$T/ctx"
printf 'x\n' >"$T/ctx/x.txt"
cat >"$T/ctx/deploy.yaml" <<YAML
name: redirected
image:
  repository: $PROXY_FRONT_ADDR/team/app
  base: $PROXY_FRONT_ADDR/team/busybox:1
  copy:
    - { src: x.txt, dst: /x.txt }
YAML

# pulling the base: manifests from the front with credentials, blobs from storage without
run_ok "$MLDEPLOY" -C "$T/ctx" -vv build --tag v1
[ "$(proxy_count front GET '^/v2/team/busybox/manifests/' auth=basic)" -ge 1 ] ||
	fail "the front never saw the credentials"
[ "$(proxy_count front GET '^/v2/team/busybox/blobs/' status=307)" -ge 1 ] ||
	fail "no blob download was redirected"
[ "$(proxy_count storage GET '^/v2/team/busybox/blobs/')" -ge 1 ] ||
	fail "storage served no blob"
assert_eq "$(proxy_count storage '*' '.' auth=basic)" 0 "requests with credentials at storage"
assert_eq "$(proxy_count storage '*' '.' auth=bearer)" 0 "requests with tokens at storage"
assert_not_contains "$T/err" 'Redirect-Pa55'

# pushing: uploads redirected to storage arrive there without credentials, so
# the locked registry behind it refuses them; the push fails cleanly
must_fail 1 "$MLDEPLOY" -C "$T/ctx" -vv push
[ "$(proxy_count front '*' '/blobs/uploads/' status=307)" -ge 1 ] || fail "no upload was redirected"
[ "$(proxy_count storage '*' '/blobs/uploads/')" -ge 1 ] || fail "storage saw no upload"
assert_eq "$(proxy_count storage '*' '.' auth=basic)" 0 "uploads with credentials at storage"
assert_not_contains "$T/err" 'Redirect-Pa55'
must_fail 1 skopeo_inspect --raw "docker://$REG_LOCKED_ADDR/team/app:v1"
assert_contains "$T/err" "manifest unknown"
