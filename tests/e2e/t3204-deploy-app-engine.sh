#!/usr/bin/env bash
# `mldeploy deploy --provider gcp --target appengine` of the bundled example, end to
# end on the fake App Engine Admin API v1 (every request checked against the
# discovery document; each version really runs, pulled by digest with podman,
# behind an HTTPS router that serves the versions' own URLs and the service's URL
# by its split): build -> push -> a version created without
# traffic -> its own URL checked -> the split moved -> the service URL answers
# /predict. Then: a redeploy with no change makes no mutating call and uploads
# nothing; --dry-run changes nothing; a code change gets the split only after its
# health check, --stop-previous stops the old version; status; rollback; render
# app.yaml; destroy. The rig is Google's: a service account key exchanged at the
# fake token endpoint, the image pushed to us-east1-docker.pkg.dev (Artifact
# Registry's front of a real registry), from which App Engine pulls it with a token
# of its own. No key or token appears in any output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gcp.sh"

GOOGLE_CLOUD_PROJECT=iris-$(_rig_random 8 | tr '[:upper:]' '[:lower:]')
export GOOGLE_CLOUD_PROJECT
start_gcp_rig ml
start_app_engine --project "$GOOGLE_CLOUD_PROJECT" --registry-route "us-east1-docker.pkg.dev=$AR_ADDR"
export MLDEPLOY_EXAMPLE_REPOSITORY=$GCP_IMAGE_REPO/iris
host=$GOOGLE_CLOUD_PROJECT.$GAE_REGION_CODE.r.appspot.com

mkdir -p "$T/proj/templates"
cp "$SRCDIR/deploy.example.yaml" "$T/proj/"
cp -r "$SRCDIR/templates/iris-flask" "$T/proj/templates/"
rm -rf "$T/proj/templates/iris-flask/app/__pycache__"
sed -i 's/^    max_instances: 3$/    max_instances: 3\n    env: { GREETING: hello }/' "$T/proj/deploy.example.yaml"
assert_contains "$T/proj/deploy.example.yaml" "env: { GREETING: hello }"

example() {
	XDG_CACHE_HOME="$RIG_USER_CACHE" MLDEPLOY_EXAMPLE_OFFLINE=1 \
		"$SRCDIR/scripts/example.sh" "$@" -C "$T/proj"
}
gae() {	# CMD [ARGS...]: the example's mldeploy CMD on App Engine
	local cmd=$1
	shift
	example "$cmd" --provider gcp --target appengine "$@"
}
features='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
predict() {
	gae_curl "https://$host/predict" -H 'Content-Type: application/json' -d "$features"
}
no_secrets() {	# FILE...: no key, assertion or token of the Google fakes
	local s f
	while read -r s; do
		[ -n "$s" ] || continue
		for f in "$@"; do
			! grep -qF -- "$s" "$f" || fail "a secret reached $f"
		done
	done < <(cat "$GAUTH_SECRETS" "$GOOGLE_TOKENS")
}

say "render app.yaml (no API call)"
run_ok gae render -o "$T/app.yaml" app.yaml
assert_eq "$(gae_mutations)" 0 "render made no mutating call"
python3 - "$T/app.yaml" <<'PY' || fail "app.yaml does not match the configuration"
import json, sys
doc = json.loads(json.dumps(__import__("yaml").safe_load(open(sys.argv[1]))))
want = {"runtime": "custom", "env": "flex", "service": "default",
        "resources": {"cpu": 1.0, "memory_gb": 0.5},
        "automatic_scaling": {"min_num_instances": 1, "max_num_instances": 3},
        "liveness_check": {"path": "/healthz"}, "readiness_check": {"path": "/healthz"},
        "env_variables": {"MODEL_PATH": "/app/model.pkl", "PYTHONUNBUFFERED": "1",
                          "GREETING": "hello"}}
if doc != want:
    sys.exit("got %s" % json.dumps(doc, sort_keys=True))
PY
must_fail 1 gae render Dockerrun.aws.json
assert_contains "$T/err" "app.yaml"

say "first deploy: a new service, its version serves"
run_ok gae deploy -v --json
cp "$T/out" "$T/deploy1.json"
cp "$T/err" "$T/deploy1.err"
assert_eq "$(jq -r .url "$T/deploy1.json")" "https://$host" "service URL"
assert_eq "$(jq -r .health.ok "$T/deploy1.json")" true "health"
v1=$(jq -r .revision "$T/deploy1.json")
case $v1 in ml-*) ;; *) fail "version id '$v1'" ;; esac
assert_eq "$(gae_split "$GOOGLE_CLOUD_PROJECT" default)" "{\"$v1\":1}" "split after deploy 1"
predict >"$T/p1.json"
assert_eq "$(jq -c .predictions "$T/p1.json")" '["setosa","virginica"]' "predictions"
assert_contains "$T/deploy1.err" "$GAUTH_SA_EMAIL"
no_secrets "$T/deploy1.json" "$T/deploy1.err"

say "no change: no mutating call, no upload"
uploads=$(registry_blob_uploads gar)
before=$(gae_mutations)
run_ok gae deploy -vv --json
assert_eq "$(jq -r .changed "$T/out")" false "redeploy changed nothing"
assert_eq "$(gae_mutations)" "$before" "no mutating App Engine call"
assert_eq "$(registry_blob_uploads gar)" "$uploads" "no blob uploaded"
no_secrets "$T/out" "$T/err"

say "dry run of a code change"
sed -i 's/return jsonify(predictions=/return jsonify(version="v2", predictions=/' \
	"$T/proj/templates/iris-flask/app/app.py"
before=$(gae_mutations)
run_ok gae deploy --dry-run
assert_eq "$(gae_mutations)" "$before" "--dry-run made no mutating call"
assert_contains "$T/out" '"POST"'
assert_contains "$T/out" "updateMask=split"

say "the code change: a new version, released only after its own URL passed"
run_ok gae deploy --stop-previous --json
cp "$T/out" "$T/deploy2.json"
v2=$(jq -r .revision "$T/deploy2.json")
[ "$v2" != "$v1" ] || fail "the code change made no new version"
assert_eq "$(jq -r .changed "$T/deploy2.json")" true "changed"
assert_eq "$(gae_split "$GOOGLE_CLOUD_PROJECT" default)" "{\"$v2\":1}" "split after deploy 2"
# the candidate's own URL answered its health check before the split moved to it
t_check=$(jq -r --arg v "$v2" 'select(.status == 200 and .path == "/healthz" and
	(.host | startswith($v + "-dot-"))) | .t' "$GAE_APP_LOG" | head -n 1)
t_split=$(jq -r 'select(.method == "PATCH" and .query == "updateMask=split") | .t' "$GAE_LOG" |
	tail -n 1)
[ -n "$t_check" ] || fail "the new version's own URL was never checked"
awk -v a="$t_check" -v b="$t_split" 'BEGIN { exit !(a < b) }' ||
	fail "the split moved ($t_split) before the new version's check passed ($t_check)"
predict >"$T/p2.json"
assert_eq "$(jq -r .version "$T/p2.json")" v2 "the new code serves"
assert_eq "$(jq -r --arg v "$v1" '.services[]?.versions[$v].servingStatus' "$GAE_STATE" | grep -v null)" \
	STOPPED "--stop-previous stopped the old version"
assert_eq "$(gae_count PATCH "/versions/$v1\$" 200)" 1 "one stop call"

say "status"
run_ok gae status --json
assert_eq "$(jq -r .state "$T/out")" serving "status state"
assert_eq "$(jq -r .revision "$T/out")" "$v2" "status version"
assert_eq "$(jq -r .health.ok "$T/out")" true "status health"
assert_eq "$(jq -r '.details.versions | length' "$T/out")" 2 "two versions listed"

say "rollback: the old version started again and given the split"
run_ok gae rollback --json
assert_eq "$(jq -r .revision "$T/out")" "$v1" "rolled back to v1"
assert_contains "$T/err" "version $v2 of service default keeps running without traffic"
assert_eq "$(gae_split "$GOOGLE_CLOUD_PROJECT" default)" "{\"$v1\":1}" "split after rollback"
predict >"$T/p3.json"
assert_eq "$(jq -r '.version // "v1"' "$T/p3.json")" v1 "the old code serves again"

say "destroy: our versions (default keeps its last one, stopped)"
run_ok gae destroy --yes --json
assert_eq "$(jq -r '[.removed[].name] | join(" ")' "$T/out")" "$v2" "the unused version removed"
assert_contains "$T/err" "stopped"
no_secrets "$T/out" "$T/err"
