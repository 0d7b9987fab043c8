#!/usr/bin/env bash
# Cloud Run's edges, on a small busybox httpd image run by the fake Cloud Run: no
# region, a malformed one, a reserved env name; a refused token and none at all; a
# project the token may not use; 429 with Retry-After retried; a new
# revision whose health path fails its startup probe, and one that Cloud Run starts
# but that fails mldeploy's check of its tag's URL (both leave the traffic where it
# was, untagged, exit 1 and say why); --no-traffic, then the same deploy releasing
# it without a new revision; --traffic 50; allow_unauthenticated through a stale
# etag; secret_env as secretKeyRef; no right to read the IAM policy with nothing to
# grant; permission denied; an operation that fails and
# one that never finishes (--timeout); a new service whose first revision fails. No
# token appears in any output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gcp.sh"

export GOOGLE_CLOUD_PROJECT=edge-proj
start_registry edge tls
start_cloud_run --startup-timeout 6
busybox_layout
CLOUDSDK_AUTH_ACCESS_TOKEN=$(cloudrun_token "")
export CLOUDSDK_AUTH_ACCESS_TOKEN
service=projects/$GOOGLE_CLOUD_PROJECT/locations/us-east1/services/web

mkdir -p "$T/ctx/www" "$T/outputs"
echo ok >"$T/ctx/www/healthz"
echo first >"$T/ctx/www/index.html"
# write_config [GCP_KEYS [HEALTH_PATH]]
write_config() {
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
  gcp: { cpu: "1", memory: 256Mi, ${1:-region: us-east1} }
health: { path: ${2:-/healthz} }
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
state() { jq -c --arg s "$service" ".services[\$s]$1" "$CLOUDRUN_STATE"; }
index() { cloudrun_curl "$url/"; }
one_error_line() {	# FILE TEXT: one error line, with TEXT
	assert_eq "$(grep -c '^mldeploy: error: ' "$1")" 1 "one error in $1"
	assert_contains "$1" "$2"
}
serving_only() {	# REV: all traffic on REV, no tag left
	assert_eq "$(state .routing)" "{\"$1\":100}" "all traffic on $1"
	assert_eq "$(state .tags)" '{}' "no tag left"
}

say "no region: a configuration error before the build"
write_config "project: $GOOGLE_CLOUD_PROJECT"
bad 2 deploy --provider gcp
one_error_line "$T/err" "deploy.gcp.region is required"
write_config "region: us-east-1"
bad 2 deploy --provider gcp
one_error_line "$T/err" "deploy.gcp.region 'us-east-1' is not a Google Cloud region"
write_config "region: us-east1, env: { PORT: \"9090\" }"
bad 2 deploy --provider gcp
one_error_line "$T/err" "Cloud Run sets 'PORT' itself"
assert_eq "$(registry_blob_uploads edge)" 0 "nothing pushed"
assert_eq "$(cloudrun_count '*' .)" 0 "no Cloud Run call"

say "a project the token may not use: 403 PERMISSION_DENIED, one line"
write_config "region: us-east1, project: someone-elses"
bad 1 status --provider gcp
one_error_line "$T/err" "Permission 'run.services.get' denied on resource 'projects/someone-elses/"

say "a token Cloud Run refuses, and no credential at all"
write_config
CLOUDSDK_AUTH_ACCESS_TOKEN=ya29.revoked-$(_rig_random 12) bad 1 status --provider gcp
one_error_line "$T/err" "UNAUTHENTICATED: Request had invalid authentication credentials"
CLOUDSDK_AUTH_ACCESS_TOKEN='' GCE_METADATA_HOST=127.0.0.1:9 bad 1 status --provider gcp
one_error_line "$T/err" "no google credentials"
assert_eq "$(cloudrun_count '*' . 200)" 0 "nothing answered"

say "a dry run of the first deploy: the create planned with its body, nothing made"
write_config
ok deploy --provider gcp --dry-run
assert_contains "$T/out" "/v2/projects/$GOOGLE_CLOUD_PROJECT/locations/us-east1/services?serviceId=web"
assert_contains "$T/out" '"containerPort": 8080'
assert_eq "$(cloudrun_mutations)" 0 "no mutating call"

say "first deploy, status through a 429 with Retry-After"
ok deploy --provider gcp --json
url=$(jq -r .url "$T/out")
rev1=$(jq -r .revision "$T/out")
assert_eq "$(index)" first "the service serves"
cloudrun_rules '[{"method": "GET", "path_regex": "/services/web$", "action": "status",
	"code": 429, "retry_after": 1, "message": "Quota exceeded for quota metric"}]'
ok status --provider gcp --json
assert_eq "$(jq -r .revision "$T/out")" "$rev1" "status after the retry"
assert_eq "$(cloudrun_count GET '/services/web$' 429)" 1 "the 429 was answered once"
cloudrun_rules '[]'

say "a health path that fails the startup probe: traffic stays, exit 1 says why"
write_config "" /missing
bad 1 deploy --provider gcp
one_error_line "$T/err" "failed the configured startup probe checks"
assert_contains "$T/err" "what served before still serves"
serving_only "$rev1"
assert_eq "$(index)" first "the old revision still serves"

say "Cloud Run starts it, but its tag's URL fails mldeploy's check: not released"
echo second >"$T/ctx/www/index.html"
write_config
cloudrun_rules '[{"path_regex": "^//ml-[^/]*/healthz", "nth": "every", "action": "status",
	"code": 503}]'
bad 1 deploy --provider gcp --timeout 12
one_error_line "$T/err" "the new revision was not released; what served before still serves"
assert_contains "$T/err" "503"
serving_only "$rev1"
assert_eq "$(index)" first "the old revision still serves"
cloudrun_rules '[]'

say "--no-traffic: tagged, no traffic; the same deploy then releases it"
ok deploy --provider gcp --no-traffic --json
rev2=$(jq -r .revision "$T/out")
assert_eq "$(state .routing)" "{\"$rev1\":100}" "traffic untouched"
tag=$(state .tags | jq -r 'keys[0]')
assert_eq "$(cloudrun_curl "https://$tag---${url#https://}/")" second "the tag serves the new revision"
revisions=$(state '.revisions | length')
ok deploy --provider gcp --json
assert_eq "$(jq -r .revision "$T/out")" "$rev2" "the same revision"
assert_eq "$(state '.revisions | length')" "$revisions" "no new revision"
serving_only "$rev2"
assert_eq "$(index)" second "released"

say "--traffic 50"
echo third >"$T/ctx/www/index.html"
ok deploy --provider gcp --traffic 50 --json
rev3=$(jq -r .revision "$T/out")
assert_eq "$(state .routing)" "{\"$rev2\":50,\"$rev3\":50}" "split"

say "allow_unauthenticated through a stale etag; secret_env as a reference"
printf '{"api-key:3": "v3ry-s3cret-value"}\n' >"$CLOUDRUN_SECRETS"
write_config "region: us-east1, allow_unauthenticated: true, secret_env: { API_KEY: api-key:3 }"
cloudrun_rules '[{"method": "GET", "path_regex": ":getIamPolicy[?]", "nth": 2, "action": "bump_etag"}]'
ok deploy --provider gcp -v --json
assert_eq "$(cloudrun_count POST ':setIamPolicy$' 409)" 1 "one stale etag"
assert_eq "$(cloudrun_count POST ':setIamPolicy$' 200)" 1 "then set"
assert_eq "$(state .policy.bindings)" '[{"members":["allUsers"],"role":"roles/run.invoker"}]' \
	"allUsers may invoke"
assert_eq "$(state '.spec.template.containers[0].env')" \
	'[{"name":"API_KEY","valueSource":{"secretKeyRef":{"secret":"api-key","version":"3"}}}]' \
	"a secretKeyRef, no value"
cloudrun_rules '[]'
ok deploy --provider gcp --dry-run
assert_not_contains "$T/out" "v3ry-s3cret-value"
write_config "region: us-east1, allow_unauthenticated: false, secret_env: { API_KEY: api-key:3 }"
ok deploy --provider gcp --json
assert_eq "$(state .policy.bindings)" '[]' "allUsers taken out again"
cloudrun_rules '[{"method": "GET", "path_regex": ":getIamPolicy[?]", "nth": "every", "action": "status",
	"code": 403, "message": "Permission '"'run.services.getIamPolicy'"' denied on resource"}]'
ok deploy --provider gcp --json
assert_eq "$(jq -r .changed "$T/out")" false "no IAM rights, nothing to grant: no change"
assert_contains "$T/err" "cannot read the IAM policy of Cloud Run service web"
cloudrun_rules '[]'

say "permission denied on the update: nothing changed"
echo fourth >"$T/ctx/www/index.html"
routing=$(state .routing)
cloudrun_rules '[{"method": "PATCH", "nth": "every", "action": "status", "code": 403,
	"message": "Permission '"'run.services.update'"' denied on resource"}]'
bad 1 deploy --provider gcp
one_error_line "$T/err" "Permission 'run.services.update' denied"
assert_eq "$(state .routing)" "$routing" "traffic untouched"
cloudrun_rules '[]'

say "an operation that fails, one that never finishes"
cloudrun_rules '[{"method": "PATCH", "action": "op_fail", "message": "Internal error while deploying."}]'
bad 1 deploy --provider gcp
one_error_line "$T/err" "Internal error while deploying"
cloudrun_rules '[{"method": "PATCH", "action": "op_stuck"}]'
bad 1 deploy --provider gcp --timeout 3
one_error_line "$T/err" "not finished after 3 s"
assert_eq "$(state .tags)" '{}' "no tag left"
cloudrun_rules '[]'

say "a new service whose first revision fails is deleted again"
sed -e 's/^name: web$/name: web2/' -e 's|path: /healthz|path: /missing|' "$T/ctx/deploy.yaml" \
	>"$T/ctx/web2.yaml"
bad 1 -f web2.yaml deploy --provider gcp --no-traffic
one_error_line "$T/err" "the new service is removed; nothing serves: "
assert_contains "$T/err" "its first revision gets all the traffic"
assert_contains "$T/err" "failed the configured startup probe checks"
assert_eq "$(cloudrun_count DELETE '/services/web2$' 200)" 1 "deleted"
ok -f web2.yaml status --provider gcp --json
assert_eq "$(jq -r .state "$T/out")" absent "nothing left"

say "the fake refuses what the discovery document does not allow"
code=$(curl -sS -o "$T/bad.json" -w '%{http_code}' --cacert "$RIG_CA" --connect-to "::$CLOUDRUN_ADDR" \
	-X PATCH -H "Authorization: Bearer $CLOUDSDK_AUTH_ACCESS_TOKEN" -H 'Content-Type: application/json' \
	-d '{"templat": {"containers": [{"image": "x"}]}}' "https://run.googleapis.com/v2/$service")
assert_eq "$code" 400 "unknown member refused"
assert_eq "$(jq -r .error.status "$T/bad.json")" INVALID_ARGUMENT "Google's status"
assert_contains "$T/bad.json" templat

say "no token in any output"
for f in "$T"/outputs/*; do
	assert_not_contains "$f" "$CLOUDSDK_AUTH_ACCESS_TOKEN"
	assert_not_contains "$f" "v3ry-s3cret-value"
done
