#!/usr/bin/env bash
# `mldeploy deploy --provider gcp` (Cloud Run) of the bundled example, end to end on
# the fakes of Google's token endpoint (a service account key), Artifact Registry
# (its API and the us-east1-docker.pkg.dev front of a real registry) and the Cloud
# Run Admin API v2 (every request checked against the discovery document; each
# revision really runs, pulled by digest through that front): build -> push ->
# create the service -> its URL answers /predict. Then: a redeploy
# with no change makes no mutating call and uploads nothing; --dry-run of a code
# change changes nothing; the code change makes a new revision that gets traffic
# only after its tag's URL passed the health check; status; rollback to the first
# revision; destroy (the images stay). One token request per deploy (the push and
# the API calls share it); a token refused with 401 is dropped and the call made
# again with a new one. No token or key appears in any output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gcp.sh"

export GOOGLE_CLOUD_PROJECT=ml-demo-4711
start_gcp_rig ml
start_cloud_run --registry-route "us-east1-docker.pkg.dev=$AR_ADDR" --page-size 1
export MLDEPLOY_EXAMPLE_REPOSITORY=$GCP_IMAGE_REPO/iris

mkdir -p "$T/proj/templates" "$T/outputs"
cp "$SRCDIR/deploy.example.yaml" "$T/proj/"
cp -r "$SRCDIR/templates/iris-flask" "$T/proj/templates/"
rm -rf "$T/proj/templates/iris-flask/app/__pycache__"

n=0
example() {
	XDG_CACHE_HOME="$RIG_USER_CACHE" MLDEPLOY_EXAMPLE_OFFLINE=1 \
		"$SRCDIR/scripts/example.sh" "$@" -C "$T/proj"
}
ok() {
	run_ok example "$@"
	n=$((n + 1))
	cp "$T/out" "$T/outputs/$n.out"
	cp "$T/err" "$T/outputs/$n.err"
}
features='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
predict() {
	cloudrun_curl "$1/predict" -H 'Content-Type: application/json' -d "$features"
}
service=projects/$GOOGLE_CLOUD_PROJECT/locations/us-east1/services/iris
spec() { jq -c --arg s "$service" ".services[\$s].spec$1" "$CLOUDRUN_STATE"; }

say "first deploy: the service is created and its URL answers /predict"
ok deploy --provider gcp -v --json
cp "$T/out" "$T/deploy1.json"
url=$(jq -r .url "$T/deploy1.json")
case $url in
https://iris-??????????-ue.a.run.app) ;;
*) fail "unexpected service URL '$url'" ;;
esac
assert_eq "$(jq -r .health.ok "$T/deploy1.json")" true "health"
assert_eq "$(jq -r .changed "$T/deploy1.json")" true "changed"
rev1=$(jq -r .revision "$T/deploy1.json")
digest1=$(jq -r .digest "$T/deploy1.json")
assert_contains "$T/err" "$GAUTH_SA_EMAIL"
assert_contains "$T/err" "creating service iris"
# one credential for the push and the API calls: one token per deploy
assert_eq "$(gauth_count '.route == "token"')" 1 "token requests of a deploy"
assert_eq "$(spec .labels)" '{"managed-by":"mldeploy"}' "managed-by label"
assert_eq "$(spec '.template.containers[0].image')" "\"$GCP_IMAGE_REPO/iris@$digest1\"" \
	"deployed by digest"
assert_eq "$(spec '.template.containers[0].startupProbe.httpGet.path')" '"/healthz"' "probe"
assert_eq "$(spec '.template.scaling')" '{"maxInstanceCount":3,"minInstanceCount":0}' "scaling"
assert_eq "$(jq -c --arg s "$service" '.services[$s].policy.bindings' "$CLOUDRUN_STATE")" \
	'[{"members":["allUsers"],"role":"roles/run.invoker"}]' "allUsers may invoke"
predict "$url" >"$T/p1.json"
assert_eq "$(jq -c .predictions "$T/p1.json")" '["setosa","virginica"]' "predictions"

say "no change: no mutating call, no upload, no new revision"
uploads=$(registry_blob_uploads gar)
before=$(cloudrun_mutations)
ok deploy --provider gcp --json
assert_eq "$(jq -r .changed "$T/out")" false "redeploy changed nothing"
assert_eq "$(jq -r .revision "$T/out")" "$rev1" "same revision"
assert_eq "$(cloudrun_mutations)" "$before" "no mutating Cloud Run call"
assert_eq "$(registry_blob_uploads gar)" "$uploads" "no blob uploaded"
assert_eq "$(gauth_count '.route == "token"')" 2 "token requests of two deploys"

say "dry run of a code change: a plan, no mutating call"
sed -i 's/return jsonify(predictions=/return jsonify(version="v2", predictions=/' \
	"$T/proj/templates/iris-flask/app/app.py"
ok deploy --provider gcp --dry-run
assert_eq "$(cloudrun_mutations)" "$before" "--dry-run made no mutating call"
assert_contains "$T/out" '"method": "PATCH"'
assert_contains "$T/out" '"tag": "ml-'

say "the code change: a new revision, released only after its health check"
ok deploy --provider gcp -v --json
cp "$T/out" "$T/deploy2.json"
rev2=$(jq -r .revision "$T/deploy2.json")
[ "$rev2" != "$rev1" ] || fail "no new revision"
assert_eq "$(jq -r .previous_digest "$T/deploy2.json")" "$digest1" "previous digest"
assert_eq "$(jq -r .url "$T/deploy2.json")" "$url" "same URL"
predict "$url" >"$T/p2.json"
assert_eq "$(jq -r .version "$T/p2.json")" v2 "the new code serves"
# the first request the new revision answered came through its tag, before any
# routing gave it traffic
first=$(jq -sc --arg r "$rev2" '[.[] | select((.kind == "app" and .revision == $r) or
	(.kind == "traffic" and (.routing[$r] // 0) > 0))][0]' "$CLOUDRUN_LOG")
assert_eq "$(jq -r .kind <<<"$first")" app "health check before the traffic moved"
case $(jq -r .host <<<"$first") in
ml-*---iris-*.a.run.app) ;;
*) fail "the health check did not go to the tag's URL: $first" ;;
esac
assert_eq "$(jq -r .path <<<"$first")" /healthz "health path on the tag"
assert_eq "$(jq -c --arg s "$service" '.services[$s].routing' "$CLOUDRUN_STATE")" \
	"{\"$rev2\":100}" "all traffic on the new revision"
assert_eq "$(jq -c --arg s "$service" '.services[$s].tags' "$CLOUDRUN_STATE")" '{}' \
	"the candidate's tag is gone"

say "status; its token refused once (HTTP 401): a new token, the request again"
cloudrun_rules '[{"method": "GET", "path_regex": "/services/iris$", "nth": 1, "action": "status",
	"code": 401, "message": "Request had invalid authentication credentials."}]'
tokens=$(gauth_count '.route == "token"')
ok status --provider gcp -v --json
cloudrun_rules '[]'
assert_contains "$T/err" "was refused (HTTP 401): getting a new one"
assert_eq "$(gauth_count '.route == "token"')" $((tokens + 2)) "a new token after the 401"
assert_eq "$(cloudrun_count GET '/services/iris$' 401)" 1 "refused requests"
assert_eq "$(jq -r .state "$T/out")" ready "status state"
assert_eq "$(jq -r .revision "$T/out")" "$rev2" "serving revision"
assert_eq "$(jq -r '.details.revisions | length' "$T/out")" 2 "two revisions (two pages)"
assert_eq "$(cloudrun_count GET '/services/iris/revisions$' 200)" 2 "both pages read"
assert_eq "$(jq -r --arg r "$rev1" '.details.revisions[] | select(.name == $r) | "\(.percent) \(.digest)"' \
	"$T/out")" "0 $digest1" "the first revision, without traffic"
assert_eq "$(jq -r .health.ok "$T/out")" true "status health"

say "rollback: all traffic back to the first revision"
before=$(cloudrun_mutations)
ok rollback --provider gcp --json
assert_eq "$(jq -r .revision "$T/out")" "$rev1" "rolled back to the first revision"
assert_eq "$(cloudrun_mutations)" $((before + 1)) "one PATCH"
predict "$url" >"$T/p3.json"
assert_eq "$(jq -r '.version // "none"' "$T/p3.json")" none "the old code serves again"

say "destroy: the service goes, its images stay"
ok destroy --provider gcp --yes --json
assert_eq "$(jq -r '.removed | length' "$T/out")" 1 "one service removed"
assert_eq "$(cloudrun_count DELETE "/v2/$service\$" 200)" 1 "one DELETE"
ok status --provider gcp --json
assert_eq "$(jq -r .state "$T/out")" absent "gone"
skopeo_inspect "docker://$REG_GAR_ADDR/$GOOGLE_CLOUD_PROJECT/ml/iris@$digest1" >/dev/null ||
	fail "the image was deleted from the registry"

say "no token or key in any output"
while read -r s; do
	[ -n "$s" ] || continue
	for f in "$T"/outputs/*; do
		! grep -qF -- "$s" "$f" || fail "a secret reached $f"
	done
done <"$GAUTH_SECRETS"
