#!/usr/bin/env bash
# What `mldeploy deploy --provider aws` does around Elastic Beanstalk, on a busybox
# httpd image, with moto checking every signature (start_moto) and reached by the
# real host names over TLS: the ECR repository image.repository names (a dry run
# only plans CreateRepository; create_repository false stops before the build with
# the repository named; a deploy creates it with immutable tags, scan on push and
# managed-by), the source bundle in S3 (virtual-hosted bucket host; the object's
# bytes are the zip whose SHA-256 names it, holding the Dockerrun.aws.json render
# writes), and the instance profile (the role for ec2.amazonaws.com with its two
# managed policies, made once). The fake Beanstalk pulls the image from "ECR" with
# a GetAuthorizationToken password, and the CNAME serves it. No key, secret, token
# or signature in any output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-aws.sh"

# AttachRolePolicy needs AWS's managed policies in moto's IAM
export MOTO_IAM_LOAD_MANAGED_POLICIES=true
start_moto
aws_env keys
bucket=elasticbeanstalk-us-east-1-$MOTO_ACCOUNT
moto_route "$bucket.s3.us-east-1.amazonaws.com"
start_registry ecr
start_ecr_front ecr
cname=web-env.us-east-1.elasticbeanstalk.com
BEANSTALK_ENVIRONMENTS=web-env start_beanstalk --s3-endpoint "$MOTO_URL" \
	--registry-route "$ECR_HOST=$ECR_ADDR" --health-s 30
busybox_layout

mkdir -p "$T/ctx/www" "$T/outputs"
echo '{"predictions": ["from ecr"]}' >"$T/ctx/www/index.html"
# write_config [AWS_KEYS]
write_config() {
	cat >"$T/ctx/deploy.yaml" <<YAML
name: web
image:
  base: oci-layout:$BUSYBOX_LAYOUT:amd64
  repository: $ECR_HOST/ml/web
  copy:
    - { src: www/, dst: /www/ }
  port: 8080
  cmd: ["httpd", "-f", "-p", "8080", "-h", "/www"]
deploy:
  aws: { region: us-east-1, ${1:-} }
health: { path: / }
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
ecr_calls() {	# OPERATION: answered ECR API calls
	ecr_count ".route == \"api\" and .target == \"$1\" and .status == 200"
}
iam_calls() {	# ACTION: IAM calls moto answered through its front
	moto_count ".action == \"$1\" and .status == 200"
}

say "create_repository false: the missing repository named, nothing built or pushed"
write_config "create_repository: false"
bad 1 deploy --provider aws
assert_contains "$T/err" "ECR repository 'ml/web' does not exist in registry '$ECR_HOST'"
assert_contains "$T/err" "aws ecr create-repository --repository-name ml/web --region us-east-1"
assert_contains "$T/err" "deploy.aws.create_repository"
assert_eq "$(ecr_calls DescribeRepositories)" 0 "DescribeRepositories that succeeded"
assert_eq "$(ecr_count '.target == "DescribeRepositories" and .status == 400')" 1 "lookups"
assert_eq "$(ecr_count '.route == "v2"')" 0 "registry requests"
assert_eq "$(ecr_calls CreateRepository)" 0 "CreateRepository calls"

say "a dry run only plans CreateRepository and the instance profile"
write_config "immutable_tags: true, scan_on_push: true"
ok --json deploy --provider aws --dry-run
jq -e '.plan.steps // .steps' "$T/out" >"$T/steps.json" || fail "no plan steps in the dry run"
jq -e --arg h "$ECR_HOST" 'map(select(.action | startswith("create the ECR repository ml/web")))
	| length == 1 and .[0].method == "POST" and .[0].mutates == true and
	  .[0].body.repositoryName == "ml/web" and .[0].body.imageTagMutability == "IMMUTABLE" and
	  .[0].body.imageScanningConfiguration.scanOnPush == true and
	  .[0].url == "https://api.ecr.us-east-1.amazonaws.com"' "$T/steps.json" >/dev/null ||
	fail "the plan has no CreateRepository step: $(cat "$T/steps.json")"
jq -e 'map(select(.action | startswith("create the instance profile"))) | length == 1' \
	"$T/steps.json" >/dev/null || fail "the plan does not create the instance profile"
assert_eq "$(ecr_calls CreateRepository)" 0 "CreateRepository calls after the dry run"
assert_eq "$(iam_calls CreateRole)" 0 "CreateRole calls after the dry run"
assert_eq "$(beanstalk_mutations)" 0 "Beanstalk mutations after the dry run"
ecr_repository ml/web >/dev/null 2>&1 && fail "the dry run made the repository"

say "a user who may push but not create repositories: the IAM action named"
read -r pusher_id pusher_secret < <(moto_user pusher '{"Version": "2012-10-17", "Statement":
	[{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:DescribeRepositories"],
	  "Resource": "*"}]}')
must_fail 1 env AWS_ACCESS_KEY_ID="$pusher_id" AWS_SECRET_ACCESS_KEY="$pusher_secret" \
	"$MLDEPLOY" -C "$T/ctx" deploy --provider aws
keep
assert_contains "$T/err" "the AWS credentials may not call ecr:CreateRepository"
assert_contains "$T/err" "is not authorized to perform: ecr:CreateRepository"
assert_not_contains "$T/err" "$pusher_id"
assert_eq "$(ecr_count '.route == "v2"')" 0 "registry requests"

say "deploy: the repository, the bundle in S3, the instance profile, the CNAME serves"
ok -v --json deploy --provider aws
cp "$T/out" "$T/deploy.json"
cp "$T/err" "$T/deploy.err"
digest=$(jq -r .digest "$T/deploy.json")
assert_contains "$T/deploy.err" "creating ECR repository $ECR_HOST/ml/web (immutable tags, scan on push)"
assert_eq "$(ecr_calls CreateRepository)" 1 "CreateRepository calls"
ecr_repository ml/web >"$T/repo.json" || fail "no repository ml/web in moto"
assert_eq "$(jq -r .imageTagMutability "$T/repo.json")" IMMUTABLE "tag mutability"
assert_eq "$(jq -r .imageScanningConfiguration.scanOnPush "$T/repo.json")" true "scan on push"
assert_eq "$(ecr_calls GetAuthorizationToken)" 1 "GetAuthorizationToken calls of the deploy"
run_ok skopeo_inspect "docker://$REG_ECR_ADDR/ml/web@$digest"
# the bundle: key mldeploy/web/<its SHA-256>.zip, put by the virtual-hosted host
[ "$(moto_count ".method == \"PUT\" and .host == \"$bucket.s3.us-east-1.amazonaws.com\" and .status == 200")" = 1 ] ||
	fail "the bundle was not put once through the bucket's host"
python3 - "$MOTO_URL" "$bucket" "$ECR_HOST/ml/web@$digest" <<'EOF' || fail "the bundle in S3 is wrong"
import hashlib, io, json, sys, zipfile
import boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[2]).get("Contents", [])]
assert len(keys) == 1 and keys[0].startswith("mldeploy/web/"), keys
data = s3.get_object(Bucket=sys.argv[2], Key=keys[0])["Body"].read()
assert keys[0] == "mldeploy/web/%s.zip" % hashlib.sha256(data).hexdigest(), keys
run = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("Dockerrun.aws.json"))
assert run["Image"]["Name"] == sys.argv[3], run
assert str(run["Ports"][0]["ContainerPort"]) == "8080", run
EOF
# the instance profile, as the eb CLI makes it
assert_contains "$T/deploy.err" "instance profile aws-elasticbeanstalk-ec2-role does not exist: creating it"
for action in CreateRole CreateInstanceProfile AddRoleToInstanceProfile; do
	assert_eq "$(iam_calls "$action")" 1 "$action calls"
done
assert_eq "$(iam_calls AttachRolePolicy)" 2 "AttachRolePolicy calls"
python3 - "$MOTO_URL" <<'EOF' || fail "the instance profile in IAM is wrong"
import json, sys
import boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
n = "aws-elasticbeanstalk-ec2-role"
p = iam.get_instance_profile(InstanceProfileName=n)["InstanceProfile"]
assert [r["RoleName"] for r in p["Roles"]] == [n], p
doc = iam.get_role(RoleName=n)["Role"]["AssumeRolePolicyDocument"]
doc = json.loads(doc) if isinstance(doc, str) else doc
assert doc["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}, doc
arns = {a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=n)["AttachedPolicies"]}
assert arns == {"arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"}, arns
EOF
assert_eq "$(jq -r .url "$T/deploy.json")" "http://$cname" "URL"
curl -fsS --max-time 20 --connect-to "$cname:80:127.0.0.1:$BEANSTALK_APP_PORT" \
	"http://$cname/" >"$T/index.json" || fail "the CNAME does not answer"
assert_eq "$(jq -r '.predictions[0]' "$T/index.json")" "from ecr" "what the CNAME serves"

say "a second deploy: the repository and the profile are there, nothing made again"
ok --json deploy --provider aws
assert_eq "$(jq -r .changed "$T/out")" false "changed"
assert_eq "$(ecr_calls CreateRepository)" 1 "CreateRepository calls"
assert_eq "$(iam_calls CreateRole)" 1 "CreateRole calls"
assert_eq "$(ecr_calls DescribeRepositories)" 1 "DescribeRepositories that found it"

say "nothing secret in any output"
for f in "$T"/outputs/*; do
	assert_not_contains "$f" "$AWS_SECRET_ACCESS_KEY"
	assert_not_contains "$f" "$AWS_ACCESS_KEY_ID"
	assert_not_contains "$f" "Signature="
	assert_not_contains "$f" "QVdTO"
	while read -r s; do
		assert_not_contains "$f" "$s"
	done < <(cat "$ECR_SECRETS" "$MOTO_SECRETS")
done
