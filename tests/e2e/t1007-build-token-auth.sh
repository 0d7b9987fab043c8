#!/usr/bin/env bash
# Base images behind a bearer-token registry (distribution's token authentication,
# tests/fakes/tokenserver.py): anonymous tokens for public repositories, the
# credentials going to the token server and never into the output, refused
# credentials reported as such, and one token per scope for a whole pull.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pass='Tok3n-s3cret-Pass'
bad_pass='wr0ng-Pass-77'
start_registry auth token alice "$pass"
make_busybox_image "$REG_AUTH_ADDR" public/busybox 1
make_busybox_image "$REG_AUTH_ADDR" team/busybox 1
# The realm is plain HTTP: accepted because the registry is listed as insecure.
export MLDEPLOY_INSECURE_REGISTRIES="$REG_AUTH_ADDR"
public_scope=repository:public/busybox:pull
team_scope=repository:team/busybox:pull

mkdir -p "$T/ctx"
printf 'hello\n' >"$T/ctx/hello.txt"
write_config() {
	cat >"$T/ctx/deploy.yaml" <<YAML
name: token-auth
image:
  base: "$1"
  platform: linux/amd64
  copy:
    - { src: hello.txt, dst: /hello.txt }
YAML
}

# No output file, not even a partial one, next to OUT.
assert_no_output() {
	local f
	for f in "$1" "$1".*; do
		[ ! -e "$f" ] || fail "output left behind after a failed build: $f"
	done
}

# Secrets that must never appear in what mldeploy prints.
assert_no_secret() {
	local file=$1 secret=$2
	assert_not_contains "$file" "$secret"
	assert_not_contains "$file" "$(printf 'alice:%s' "$secret" | base64 -w0)"
}

# (a) anonymous bearer pull from public/*: a token request without credentials
write_config "$REG_AUTH_ADDR/public/busybox:1"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/public.tar"
assert_eq "$(jq -r .base.resolved "$T/out")" "$REG_AUTH_ADDR/public/busybox@$BUSYBOX_AMD64_DIGEST" \
	"anonymous base"
run_ok skopeo_inspect "oci-archive:$T/public.tar"
n=$(token_count auth auth=none status=200 "scope=$public_scope" "granted=$public_scope")
[ "$n" -ge 1 ] || fail "no anonymous token request for $public_scope in the token log"
assert_eq "$(token_count auth auth=basic "scope=$public_scope" sub=-)" 0 "refused token requests"
# the scope went out URL-encoded, as the protocol asks
assert_contains "$REG_AUTH_TOKEN_LOG" "scope=repository%3Apublic%2Fbusybox%3Apull"
assert_contains "$REG_AUTH_TOKEN_LOG" "service=$REG_AUTH_TOKEN_SERVICE"

# (b) team/* without credentials: the anonymous token grants nothing
write_config "$REG_AUTH_ADDR/team/busybox:1"
anon_before=$(token_count auth auth=none "scope=$team_scope")
must_fail 1 "$MLDEPLOY" -C "$T/ctx" build -o "$T/team-anon.tar"
assert_contains "$T/err" "requires credentials"
assert_contains "$T/err" "MLDEPLOY_REGISTRY_USERNAME"
assert_no_output "$T/team-anon.tar"
n=$(token_count auth auth=none "scope=$team_scope")
[ "$n" -gt "$anon_before" ] || fail "no anonymous token request for $team_scope"

# (c) with credentials: Basic to the token server, nothing secret in the -vv trace
basic_before=$(token_count auth auth=basic sub=alice "scope=$team_scope" "granted=$team_scope")
MLDEPLOY_REGISTRY_USERNAME=alice MLDEPLOY_REGISTRY_PASSWORD="$pass" \
	run_ok "$MLDEPLOY" -C "$T/ctx" -vv --json build -o "$T/team.tar"
cp "$T/err" "$T/team.err"
assert_eq "$(jq -r .base.resolved "$T/out")" "$REG_AUTH_ADDR/team/busybox@$BUSYBOX_AMD64_DIGEST" \
	"authenticated base"
n=$(token_count auth auth=basic sub=alice "scope=$team_scope" "granted=$team_scope")
[ "$n" -gt "$basic_before" ] || fail "no authenticated token request for $team_scope"
assert_contains "$T/team.err" "Authorization: <redacted>"
assert_no_secret "$T/team.err" "$pass"
# Every token of this server starts with the same header (alg, typ, x5c): a
# token fetched here shares it with the ones mldeploy received.
run_ok curl -sSf -u "alice:$pass" \
	"$REG_AUTH_TOKEN_URL?service=$REG_AUTH_TOKEN_SERVICE&scope=$team_scope"
token=$(jq -er .token "$T/out")
jwt_header=${token%%.*}
[ "${#jwt_header}" -gt 100 ] || fail "unexpected token shape from the token server"
assert_not_contains "$T/team.err" "$token"
assert_not_contains "$T/team.err" "$jwt_header"

# (d) a wrong password: refused by the token server, reported, never shown
refused_before=$(token_count auth auth=basic status=401)
MLDEPLOY_REGISTRY_USERNAME=alice MLDEPLOY_REGISTRY_PASSWORD="$bad_pass" \
	must_fail 1 "$MLDEPLOY" -C "$T/ctx" -vv build -o "$T/team-bad.tar"
assert_contains "$T/err" "refused the credentials"
assert_no_secret "$T/err" "$bad_pass"
assert_no_output "$T/team-bad.tar"
n=$(token_count auth auth=basic status=401)
[ "$n" -gt "$refused_before" ] || fail "the token server saw no refused request"

# (e) one token per scope: manifest, config and layer all ride on the first token
# (a fresh blob cache, so both blobs really come from the registry)
tokens_before=$(token_count auth "scope=$team_scope")
blobs_before=$(registry_count auth GET '^/v2/team/busybox/blobs/sha256:' 200)
challenges_before=$(registry_count auth GET '^/v2/team/busybox/' 401)
MLDEPLOY_CACHE_DIR="$T/fresh-cache" MLDEPLOY_REGISTRY_USERNAME=alice MLDEPLOY_REGISTRY_PASSWORD="$pass" \
	run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/team-fresh.tar"
blobs=$(($(registry_count auth GET '^/v2/team/busybox/blobs/sha256:' 200) - blobs_before))
assert_eq "$blobs" 2 "blobs (config + layer) pulled with the token"
assert_eq "$(($(token_count auth "scope=$team_scope") - tokens_before))" 1 \
	"token requests for $team_scope during one build"
assert_eq "$(($(registry_count auth GET '^/v2/team/busybox/' 401) - challenges_before))" 1 \
	"401 challenges during one build"
umoci_unpack "$T/team-fresh.tar" "$T/bundle"
assert_eq "$(cat "$T/bundle/rootfs/hello.txt")" hello "copied file"
