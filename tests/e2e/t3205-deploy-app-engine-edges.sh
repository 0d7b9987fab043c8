#!/usr/bin/env bash
# App Engine flexible's edges, on a small busybox httpd image in service "web"
# (deploy.gcp.target: appengine, manual scaling): secret_env refused before the
# build; no credential, a token the API refuses, a project without an App Engine
# application and one the caller may not use fail with one clear line and no
# mutating call; a 429 with Retry-After on the version's creation is retried; a
# version whose own URL fails the health check is removed and the split stays; an
# operation that fails, and a version App Engine finds unhealthy, leave the split
# alone too; --traffic 50 splits, and a deploy of the same image then gives its
# version all the traffic without making another, warning that the old one keeps
# billing; status and rollback of nothing; destroy deletes the service, which
# holds only mldeploy's versions. The access token appears in no output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gcp.sh"

project=edge-$(_rig_random 8 | tr '[:upper:]' '[:lower:]')
busybox_layout
start_registry gar tls
start_app_engine --project "$project" --denied-project locked-proj --ready-timeout 6
token=$(gae_token)
export CLOUDSDK_AUTH_ACCESS_TOKEN=$token GCE_METADATA_HOST=127.0.0.1:9
svc_url=https://web-dot-$project.$GAE_REGION_CODE.r.appspot.com

mkdir -p "$T/ctx/www" "$T/outputs"
echo ok >"$T/ctx/www/healthz"
echo first >"$T/ctx/www/index.html"
# write_config [GCP_KEYS]
write_config() {
	cat >"$T/ctx/deploy.yaml" <<YAML
name: web
image:
  base: oci-layout:$BUSYBOX_LAYOUT:amd64
  repository: $REG_GAR_ADDR/edge/web
  copy:
    - { src: www/, dst: /www/ }
  port: 8080
  cmd: ["httpd", "-f", "-p", "8080", "-h", "/www"]
deploy:
  gcp: { project: ${gcp_project:-$project}, target: appengine, appengine_service: web,
         cpu: "1", memory: 1Gi, instances: 1${1:+, $1} }
health: { path: /healthz }
YAML
}
n=0
keep() {
	n=$((n + 1))
	cp "$T/out" "$T/outputs/$n.out"
	cp "$T/err" "$T/outputs/$n.err"
}
ok() { run_ok "$MLDEPLOY" -C "$T/ctx" "$@" && keep; }
bad() {
	local status=$1
	shift
	must_fail "$status" "$MLDEPLOY" -C "$T/ctx" "$@" && keep
}
one_error_line() {	# FILE TEXT
	assert_eq "$(grep -c '^mldeploy: error: ' "$1")" 1 "one error in $1"
	assert_contains "$1" "$2"
}
index() { gae_curl "$svc_url/"; }
split() { gae_split "$project" web; }

say "secret_env: refused before the build"
write_config 'secret_env: { API_KEY: api-key:latest }'
bad 2 deploy --provider gcp
one_error_line "$T/err" "deploy.gcp.secret_env is not supported by App Engine flexible"
assert_eq "$(registry_blob_uploads gar)" 0 "nothing pushed"

say "credentials and projects: one line each, no mutating call"
write_config
(
	unset CLOUDSDK_AUTH_ACCESS_TOKEN
	must_fail 1 "$MLDEPLOY" -C "$T/ctx" status --provider gcp
)
keep
assert_eq "$(grep -c '^mldeploy: error: ' "$T/err")" 1 "one error without credentials"
CLOUDSDK_AUTH_ACCESS_TOKEN=ya29.not-a-token bad 1 status --provider gcp
one_error_line "$T/err" "invalid authentication credentials"
gcp_project=no-app-here write_config
bad 1 deploy --provider gcp
one_error_line "$T/err" "gcloud app create"
gcp_project=locked-proj write_config
bad 1 status --provider gcp
one_error_line "$T/err" "does not have permission"
assert_eq "$(gae_mutations)" 0 "no mutating call so far"

say "status and rollback of nothing"
write_config
ok status --provider gcp --json
assert_eq "$(jq -r .state "$T/out")" absent "nothing deployed"
bad 1 rollback --provider gcp
one_error_line "$T/err" "is not deployed on App Engine"

say "first deploy, through a 429 on the version's creation"
write_config
gae_rules '[{"method": "POST", "path_regex": "/versions$", "action": "status", "code": 429,
             "retry_after": 1}]'
ok deploy --provider gcp --json
v1=$(jq -r .revision "$T/out")
assert_eq "$(jq -r .target "$T/out")" appengine "target from deploy.gcp.target"
assert_eq "$(jq -r .url "$T/out")" "$svc_url" "service URL"
assert_eq "$(gae_count POST '/services/web/versions$')" 2 "the 429 was retried"
assert_eq "$(index)" first "v1 serves"
jq -e --arg v "$v1" '.services[]?.versions[$v] | select(.image | contains("@sha256:"))' \
	"$GAE_STATE" >/dev/null || fail "the version does not run the image by digest"
gae_rules '[]'

say "a version whose own URL fails the health check: removed, the split stays"
echo second >"$T/ctx/www/index.html"
gae_rules '[{"method": "GET", "path_regex": "^//ml-[^/]*-dot-web-dot-[^/]*/healthz",
             "action": "status", "code": 503, "nth": "every"}]'
bad 1 deploy --provider gcp --timeout 3s
one_error_line "$T/err" "what served before still serves"
assert_eq "$(split)" "{\"$v1\":1}" "split unchanged"
assert_eq "$(jq -r '.services["'"$project"'/web"].versions | length' "$GAE_STATE")" 1 \
	"the candidate was deleted"
assert_eq "$(index)" first "v1 still serves"
gae_rules '[]'

say "an operation that fails"
gae_rules '[{"method": "POST", "path_regex": "/versions$", "action": "fail_operation",
             "code": 8, "message": "The zone does not have enough resources available."}]'
bad 1 deploy --provider gcp
one_error_line "$T/err" "does not have enough resources"
assert_eq "$(split)" "{\"$v1\":1}" "split unchanged"
gae_rules '[]'

say "a version App Engine finds unhealthy (no /healthz in the image)"
rm "$T/ctx/www/healthz"
bad 1 deploy --provider gcp
one_error_line "$T/err" "failed to become healthy"
assert_eq "$(split)" "{\"$v1\":1}" "split unchanged"
echo ok >"$T/ctx/www/healthz"

say "--traffic 50"
ok deploy --provider gcp --traffic 50 --json
v2=$(jq -r .revision "$T/out")
assert_eq "$(split)" "$(jq -cnS --arg a "$v1" --arg b "$v2" '{($a): 0.5, ($b): 0.5}')" \
	"half and half"
assert_eq "$(gae_curl "https://$v2-dot-web-dot-$project.$GAE_REGION_CODE.r.appspot.com/")" second \
	"the new version's own URL"

say "all the traffic to the version that has half: no new version; the old one keeps billing"
before=$(gae_count POST '/versions$')
ok deploy --provider gcp --json
assert_eq "$(jq -r .revision "$T/out")" "$v2" "the same version"
assert_eq "$(gae_count POST '/versions$')" "$before" "no version created"
assert_eq "$(split)" "{\"$v2\":1}" "all to v2"
assert_contains "$T/err" "1 older App Engine flexible version(s) of service web keep running"

say "destroy: the service holds only mldeploy's versions, so it goes"
ok destroy --provider gcp --yes --json
assert_eq "$(jq -r '[.removed[] | .kind] | sort | join(" ")' "$T/out")" "service version version" \
	"service and versions removed"
assert_eq "$(gae_count DELETE '/services/web$' 200)" 1 "service deleted"
assert_eq "$(split)" "{}" "nothing left"

say "the access token appears in no output"
for f in "$T"/outputs/*; do
	! grep -qF -- "$token" "$f" || fail "the access token reached $f"
done
