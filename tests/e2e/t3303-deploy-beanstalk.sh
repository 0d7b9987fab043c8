#!/usr/bin/env bash
# `mldeploy deploy --provider aws` of the bundled example, end to end: moto as S3,
# IAM and ECR's API (signatures checked), ECR's registry host in front of a rig
# registry, the Elastic Beanstalk fake (every request checked against botocore's
# model; it reads the source bundle from moto's S3, pulls the image of its
# Dockerrun.aws.json from "ECR" with podman and runs it), all by their real host
# names over TLS: build -> push to ECR (the repository created) -> bucket, bundle,
# application, version, instance profile,
# environment -> events streamed -> the CNAME answers /predict. Then: render
# Dockerrun.aws.json is the file the bundle holds; a redeploy with no change makes
# no mutating call; a dry run of a code change makes none either; the code change
# deployed (UpdateEnvironment); status; rollback to the first version; destroy.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-aws.sh"

start_moto
moto_route elasticbeanstalk-us-east-1-123456789012.s3.us-east-1.amazonaws.com
start_registry ecr
start_ecr_front ecr
BEANSTALK_ENVIRONMENTS=iris-prod start_beanstalk --s3-endpoint "$MOTO_URL" \
	--registry-route "$ECR_HOST=$ECR_ADDR"
cname=iris-prod.us-east-1.elasticbeanstalk.com
export MLDEPLOY_EXAMPLE_REPOSITORY=$ECR_HOST/ml/iris

mkdir -p "$T/proj/templates"
cp "$SRCDIR/deploy.example.yaml" "$T/proj/"
cp -r "$SRCDIR/templates/iris-flask" "$T/proj/templates/"
rm -rf "$T/proj/templates/iris-flask/app/__pycache__"

example() {
	XDG_CACHE_HOME="$RIG_USER_CACHE" MLDEPLOY_EXAMPLE_OFFLINE=1 \
		"$SRCDIR/scripts/example.sh" "$@" -C "$T/proj"
}
features='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
predict() {
	curl -fsS --max-time 20 --connect-to "$cname:80:127.0.0.1:$BEANSTALK_APP_PORT" \
		-H 'Content-Type: application/json' -d "$features" "http://$cname/predict"
}
no_secrets() {	# FILE...: no key, secret, password or signature printed
	local f s
	for f in "$@"; do
		while read -r s; do
			[ -n "$s" ] || continue
			! grep -qF -- "$s" "$f" || fail "a secret reached $f"
		done < <(cat "$MOTO_SECRETS" "$ECR_SECRETS")
		! grep -qF -- "$AWS_ACCESS_KEY_ID" "$f" || fail "the key id reached $f"
		! grep -qiE 'Signature=[0-9a-f]{64}' "$f" || fail "a signature reached $f"
	done
}

say "first deploy: every step, the events streamed"
run_ok example deploy --provider aws -v --json
cp "$T/out" "$T/deploy1.json"
cp "$T/err" "$T/deploy1.err"
assert_eq "$(jq -r .url "$T/deploy1.json")" "http://$cname" "URL"
assert_eq "$(jq -r .health.ok "$T/deploy1.json")" true "health"
assert_eq "$(jq -r .changed "$T/deploy1.json")" true "changed"
label1=$(jq -r .revision "$T/deploy1.json")
case $label1 in mldeploy-????????????-????????) ;; *) fail "version label '$label1'" ;; esac
assert_contains "$T/deploy1.err" "Elastic Beanstalk: INFO createEnvironment is starting"
assert_contains "$T/deploy1.err" "Successfully launched environment: iris-prod"
assert_contains "$T/deploy1.err" "instance profile aws-elasticbeanstalk-ec2-role does not exist: creating it"
for action in CreateStorageLocation CreateApplication CreateApplicationVersion CreateEnvironment; do
	assert_eq "$(beanstalk_count "^$action\$" 200)" 1 "one $action"
done
ecr_repository ml/iris >/dev/null || fail "the ECR repository was not created"
predict >"$T/p1.json"
assert_eq "$(jq -c .predictions "$T/p1.json")" '["setosa","virginica"]' "predictions"
no_secrets "$T/deploy1.json" "$T/deploy1.err"

say "render Dockerrun.aws.json: the file the source bundle holds"
run_ok example render --provider aws Dockerrun.aws.json
cp "$T/out" "$T/Dockerrun.aws.json"
assert_eq "$(jq -r .AWSEBDockerrunVersion "$T/Dockerrun.aws.json")" 1 "version"
assert_eq "$(jq -r .Image.Name "$T/Dockerrun.aws.json")" \
	"$ECR_HOST/ml/iris@$(jq -r .digest "$T/deploy1.json")" "image by digest"
assert_eq "$(jq -r .Image.Update "$T/Dockerrun.aws.json")" false "no pull of a newer image"
assert_eq "$(jq -r '.Ports[0].ContainerPort' "$T/Dockerrun.aws.json")" 8080 "container port"
python3 - "$MOTO_URL" "$T/Dockerrun.aws.json" <<'PY' || fail "the bundle in S3 differs from render"
import io, sys, zipfile
import boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
objs = [o["Key"] for b in s3.list_buckets()["Buckets"]
        for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", [])]
assert len(objs) == 1 and objs[0].startswith("mldeploy/iris/"), objs
body = s3.get_object(Bucket="elasticbeanstalk-us-east-1-123456789012", Key=objs[0])["Body"].read()
with zipfile.ZipFile(io.BytesIO(body)) as z:
    assert z.namelist() == ["Dockerrun.aws.json"], z.namelist()
    assert z.read("Dockerrun.aws.json") == open(sys.argv[2], "rb").read()
PY

say "no change: no mutating call"
before=$(beanstalk_mutations)
run_ok example deploy --provider aws --json
assert_eq "$(jq -r .changed "$T/out")" false "redeploy changed nothing"
assert_eq "$(jq -r .revision "$T/out")" "$label1" "same version"
assert_eq "$(beanstalk_mutations)" "$before" "no mutating Elastic Beanstalk call"

say "dry run of a code change: reads only"
sed -i 's/return jsonify(predictions=/return jsonify(version="v2", predictions=/' \
	"$T/proj/templates/iris-flask/app/app.py"
before=$(beanstalk_mutations)
run_ok example deploy --provider aws --dry-run
assert_eq "$(beanstalk_mutations)" "$before" "--dry-run made no mutating call"
assert_contains "$T/out" '"Action": "UpdateEnvironment"'
assert_contains "$T/out" '"Action": "CreateApplicationVersion"'
assert_not_contains "$T/out" '"Action": "CreateEnvironment"'

say "the code change deployed (UpdateEnvironment)"
run_ok example deploy --provider aws -v --json
assert_eq "$(jq -r .changed "$T/out")" true "changed"
assert_eq "$(jq -r .previous_digest "$T/out")" "$(jq -r .digest "$T/deploy1.json")" "previous digest"
label2=$(jq -r .revision "$T/out")
[ "$label2" != "$label1" ] || fail "the version label did not change"
assert_eq "$(beanstalk_count '^UpdateEnvironment$' 200)" 1 "one UpdateEnvironment"
assert_eq "$(beanstalk_count '^CreateApplication$')" 1 "the application is not created again"
assert_contains "$T/err" "Environment update completed successfully"
predict >"$T/p2.json"
assert_eq "$(jq -r .version "$T/p2.json")" v2 "the new code serves"
no_secrets "$T/out" "$T/err"

say "status"
run_ok example status --provider aws --json
assert_eq "$(jq -r .state "$T/out")" Ready "status state"
assert_eq "$(jq -r .revision "$T/out")" "$label2" "status version"
assert_eq "$(jq -r .details.health "$T/out")" Green "status health"
assert_eq "$(jq -r .health.ok "$T/out")" true "status health check"
[ "$(jq -r '.details.events | length' "$T/out")" -gt 0 ] || fail "status shows no events"

say "rollback to the first version"
run_ok example rollback --provider aws --json
assert_eq "$(jq -r .revision "$T/out")" "$label1" "rolled back"
assert_eq "$(jq -r .digest "$T/out")" "$(jq -r .digest "$T/deploy1.json")" "first digest"
predict >"$T/p3.json"
assert_eq "$(jq -r '.version // "none"' "$T/p3.json")" none "the first code serves again"

say "destroy"
run_ok example destroy --provider aws --yes --json
assert_eq "$(jq -r '.removed | length' "$T/out")" 1 "one environment removed"
assert_eq "$(jq -r '.removed[0].name' "$T/out")" iris-prod "the environment"
run_ok example status --provider aws --json
assert_eq "$(jq -r .state "$T/out")" absent "gone"
! curl -fsS --max-time 5 --connect-to "$cname:80:127.0.0.1:$BEANSTALK_APP_PORT" \
	"http://$cname/healthz" >/dev/null 2>&1 || fail "the CNAME still answers"
