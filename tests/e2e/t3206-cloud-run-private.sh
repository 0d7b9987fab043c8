#!/usr/bin/env bash
# A private Cloud Run service (deploy.gcp.allow_unauthenticated unset) on a fake
# Cloud Run whose router enforces IAM as the real one does (403 without an ID token
# for the service's URL): with a service account key, mldeploy's health check mints
# an ID token (the jwt-bearer grant with target_audience = the service's URL, one per
# audience and run) and the deploy passes; a request without one is refused. With
# CLOUDSDK_AUTH_ACCESS_TOKEN only, the credential cannot mint one: the check of the
# new revision's tag answers 403, the revision is not released, and the message says
# why. status checks the service with an ID token from gcloud's user credentials, from
# impersonation (generateIdToken) and from the metadata server; workload identity
# federation without impersonation cannot mint one. No ID token, access token or key
# appears in any output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gcp.sh"

export GOOGLE_CLOUD_PROJECT=private-proj
start_registry edge tls
start_google_auth --project "$GOOGLE_CLOUD_PROJECT"
start_cloud_run --startup-timeout 6 --enforce-invoker
busybox_layout
export GOOGLE_APPLICATION_CREDENTIALS=$GAUTH_SA_KEY
service=projects/$GOOGLE_CLOUD_PROJECT/locations/us-east1/services/web

mkdir -p "$T/ctx/www" "$T/outputs"
echo ok >"$T/ctx/www/healthz"
echo first >"$T/ctx/www/index.html"
cat >"$T/ctx/deploy.yaml" <<YAML
name: web
image:
  base: oci-layout:$BUSYBOX_LAYOUT:amd64
  repository: $REG_EDGE_ADDR/edge/web
  copy:
    - { src: www/, dst: /www/ }
  port: 8080
  cmd: ["httpd", "-f", "-p", "8080", "-h", "/www"]
deploy:
  gcp: { cpu: "1", memory: 256Mi, region: us-east1 }
health: { path: /healthz }
YAML
n=0
keep() {
	n=$((n + 1))
	cp "$T/out" "$T/outputs/$n.out"
	cp "$T/err" "$T/outputs/$n.err"
}
state() { jq -c --arg s "$service" ".services[\$s]$1" "$CLOUDRUN_STATE"; }
code_of() {	# URL [CURL_ARGS...]: the HTTP status of a GET through the fake router
	local url=$1
	shift
	curl -sS -o /dev/null -w '%{http_code}' --cacert "$RIG_CA" --connect-to "::$CLOUDRUN_ADDR" \
		"$@" "$url"
}

say "a private service, a service account key: the check sends an ID token and passes"
run_ok "$MLDEPLOY" -C "$T/ctx" deploy --provider gcp -v --json
keep
url=$(jq -r .url "$T/out")
rev1=$(jq -r .revision "$T/out")
assert_eq "$(jq -r .health.ok "$T/out")" true "health"
assert_eq "$(state '.policy.bindings // []')" '[]' "nobody else may invoke"
assert_eq "$(gauth_count '.route == "id_token" and .status == 200')" 1 \
	"one ID token (one audience) for the deploy"
assert_eq "$(gauth_count ".route == \"id_token\" and .audience == \"$url\"")" 1 \
	"the audience is the service's URL"
assert_eq "$(jq -c 'select(.kind == "app" and .status == 403)' "$CLOUDRUN_LOG" | wc -l)" 0 \
	"mldeploy's check was never refused"
assert_eq "$(code_of "$url/")" 403 "a request without an ID token is refused"
assert_eq "$(code_of "$url/" -H "Authorization: Bearer $(cloudrun_token "")")" 403 \
	"an access token is no ID token"
assert_eq "$(code_of "$url/" -H "Authorization: Bearer $(tail -n 1 "$CLOUDRUN_ID_TOKENS")")" \
	200 "the ID token mldeploy got is accepted"

say "status with the other credentials: user, impersonation, metadata server; federation alone"
status_as() {	# VAR=VALUE...: status --json with those credentials (no key)
	run_ok env -u GOOGLE_APPLICATION_CREDENTIALS HOME="$T/nohome" "$@" \
		"$MLDEPLOY" -C "$T/ctx" status --provider gcp --json
	keep
}
mkdir -p "$T/nohome"
status_as GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_ADC"
assert_eq "$(jq -r .health.ok "$T/out")" true "gcloud user credentials: the refresh grant's ID token"
assert_eq "$(gauth_count '.route == "token" and .grant == "refresh_token"')" 1 \
	"one refresh grant for the access and the ID token"
status_as GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_WIF_URL"
assert_eq "$(jq -r .health.ok "$T/out")" true "impersonation: generateIdToken"
assert_eq "$(gauth_count ".route == \"id_token\" and (.path | endswith(\":generateIdToken\")) and .audience == \"$url\" and .status == 200")" \
	1 "generateIdToken for the service's URL"
status_as GCE_METADATA_HOST="$GAUTH_METADATA_ADDR"
assert_eq "$(jq -r .health.ok "$T/out")" true "the metadata server's identity"
assert_eq "$(gauth_count ".route == \"id_token\" and (.path | endswith(\"/identity\")) and .audience == \"$url\"")" \
	1 "the metadata server's identity for the service's URL"
status_as GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_WIF"
assert_eq "$(jq -r .health.ok "$T/out")" false "federation without impersonation: no ID token"
assert_eq "$(jq -r .health.status "$T/out")" 403 "refused"

say "CLOUDSDK_AUTH_ACCESS_TOKEN only: no ID token; 403, not released, and why"
echo second >"$T/ctx/www/index.html"
ids=$(gauth_count '.route == "id_token"')
must_fail 1 env -u GOOGLE_APPLICATION_CREDENTIALS CLOUDSDK_AUTH_ACCESS_TOKEN="$(cloudrun_token "")" \
	"$MLDEPLOY" -C "$T/ctx" deploy --provider gcp --timeout 4
keep
assert_contains "$T/err" "the new revision was not released; what served before still serves"
assert_contains "$T/err" "403"
assert_contains "$T/err" "cannot mint an ID token"
assert_contains "$T/err" "allow_unauthenticated"
assert_eq "$(gauth_count '.route == "id_token"')" "$ids" "no ID token asked for"
assert_eq "$(state .routing)" "{\"$rev1\":100}" "the first revision still serves"

say "no ID token, access token or key in any output"
for f in "$T"/outputs/*; do
	assert_not_contains "$f" "PRIVATE KEY"
	assert_not_contains "$f" "eyJ"
	assert_not_contains "$f" "ya29."
	while read -r s; do
		[ -z "$s" ] || assert_not_contains "$f" "$s"
	done <"$CLOUDRUN_ID_TOKENS"
	while read -r s; do
		[ -z "$s" ] || assert_not_contains "$f" "$s"
	done <"$GAUTH_SECRETS"
done
