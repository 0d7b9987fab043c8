#!/usr/bin/env bash
# The Elastic Beanstalk deploy's edges, on a small busybox httpd image pushed to
# "ECR" (moto with signature checks, its ECR front, the Elastic Beanstalk fake):
# status and rollback of nothing; no Amazon Linux 2023 Docker stack (no mutating
# call); AccessDenied on CreateApplicationVersion; a dry run that shows the
# instance profile it would create; a Throttling answer retried; deploy.aws.env in
# the container; a settings change that sends only what differs; a wrong secret
# (the fake computes the signature again); an assumed role's session token; an
# image that does not serve turns the environment Red with an ERROR event (its
# message, exit 1) while the old one keeps serving; destroy --all, a new deploy and
# its destroy. No key, secret, session token, password, signature or secret-named
# environment value in any output, -vv included.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-aws.sh"

start_moto
moto_route elasticbeanstalk-us-east-1-123456789012.s3.us-east-1.amazonaws.com
start_registry ecr
start_ecr_front ecr
BEANSTALK_ENVIRONMENTS=web-edge start_beanstalk --s3-endpoint "$MOTO_URL" --health-s 15 \
	--registry-route "$ECR_HOST=$ECR_ADDR"
busybox_layout
cname=web-edge.us-east-1.elasticbeanstalk.com

api_token="tok-$(_rig_random 16)"
mkdir -p "$T/ctx/www" "$T/outputs"
echo ok >"$T/ctx/www/healthz"
# write_config [CMD_JSON]
write_config() {
	local cmd=${1:-'["sh", "-c", "echo \"$GREETING\" >/www/greeting; exec httpd -f -p 8080 -h /www"]'}
	cat >"$T/ctx/deploy.yaml" <<YAML
name: web
image:
  base: oci-layout:$BUSYBOX_LAYOUT:amd64
  repository: $ECR_HOST/edge/web
  copy:
    - { src: www/, dst: /www/ }
  port: 8080
  cmd: $cmd
deploy:
  aws: { region: us-east-1, application: edge, environment: web-edge,
         env: { GREETING: hello, API_TOKEN: $api_token } }
health: { path: /healthz }
YAML
}
write_config
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
get() {	# PATH: what the CNAME serves there
	curl -fsS --max-time 10 --connect-to "$cname:80:127.0.0.1:$BEANSTALK_APP_PORT" "http://$cname$1"
}

say "status and rollback of nothing"
ok status --provider aws --json
assert_eq "$(jq -r .state "$T/out")" absent "nothing deployed"
bad 1 rollback --provider aws
assert_contains "$T/err" "web is not deployed on Elastic Beanstalk"

say "no Amazon Linux 2023 Docker stack: a clear error, no mutating call"
beanstalk_rules '[{"path_regex": "^ListAvailableSolutionStacks$", "action": "no_docker_stack", "nth": "every"}]'
bad 1 deploy --provider aws
assert_contains "$T/err" "offers no solution stack '64bit Amazon Linux 2023 v... running Docker'"
assert_eq "$(beanstalk_mutations)" 0 "no mutating call"

say "AccessDenied on CreateApplicationVersion: the action named"
beanstalk_rules '[{"path_regex": "^CreateApplicationVersion$", "action": "status", "code": 403,
  "error_code": "AccessDenied", "message": "User: arn:aws:iam::123456789012:user/admin is not authorized to perform: elasticbeanstalk:CreateApplicationVersion"}]'
bad 1 deploy --provider aws
assert_contains "$T/err" "CreateApplicationVersion"
assert_contains "$T/err" "AccessDenied"
assert_contains "$T/err" "not authorized to perform: elasticbeanstalk:CreateApplicationVersion"
assert_eq "$(beanstalk_count '^CreateEnvironment$')" 0 "no environment"
beanstalk_rules '[]'

say "dry run: the instance profile it would create, no mutating call"
before=$(beanstalk_mutations)
ok deploy --provider aws --dry-run
assert_eq "$(beanstalk_mutations)" "$before" "--dry-run made no mutating call"
assert_contains "$T/out" "create the instance profile aws-elasticbeanstalk-ec2-role"
assert_contains "$T/out" '"Action": "CreateEnvironment"'
assert_contains "$T/out" '"SolutionStackName": "64bit Amazon Linux 2023 v4.4.1 running Docker"'
assert_contains "$T/out" '"OptionSettings.member.5.OptionName": "API_TOKEN"'
assert_contains "$T/out" '"OptionSettings.member.5.Value": "***"'

say "deploy, a Throttling answer retried on the way"
beanstalk_rules '[{"path_regex": "^DescribeEnvironments$", "action": "status", "code": 400,
  "error_code": "Throttling", "message": "Rate exceeded"}]'
ok deploy --provider aws --json
assert_eq "$(jq -r .url "$T/out")" "http://$cname" "URL"
assert_eq "$(beanstalk_count '^DescribeEnvironments$' 400)" 1 "one Throttling answer"
assert_eq "$(get /greeting)" hello "deploy.aws.env reaches the container"
first=$(jq -r .revision "$T/out")
beanstalk_rules '[]'

say "a settings change (dry run): only the options that differ, GREETING removed"
sed -i "s/env: { GREETING: hello, API_TOKEN: $api_token }/load_balanced: true, env: { API_TOKEN: $api_token }/" \
	"$T/ctx/deploy.yaml"
assert_contains "$T/ctx/deploy.yaml" "load_balanced: true"
ok deploy --provider aws --dry-run
assert_contains "$T/out" '"Action": "UpdateEnvironment"'
assert_contains "$T/out" '"OptionSettings.member.1.OptionName": "EnvironmentType"'
assert_contains "$T/out" '"OptionSettings.member.1.Value": "LoadBalanced"'
assert_contains "$T/out" '"OptionSettings.member.2.OptionName": "HealthCheckPath"'
assert_contains "$T/out" '"OptionSettings.member.2.Value": "/healthz"'
assert_not_contains "$T/out" '"OptionSettings.member.3.'
assert_not_contains "$T/out" 'IamInstanceProfile'
assert_contains "$T/out" '"OptionsToRemove.member.1.OptionName": "GREETING"'
write_config

say "a wrong secret: SignatureDoesNotMatch on one line"
must_fail 1 env AWS_SECRET_ACCESS_KEY=wrong-secret "$MLDEPLOY" -C "$T/ctx" status --provider aws
keep
assert_contains "$T/err" "SignatureDoesNotMatch"
assert_eq "$(grep -c . "$T/err")" 1 "one line"

say "temporary credentials (an assumed role's session token), -vv"
python3 - >"$T/session" <<'PY' || fail "cannot assume moto's role"
import os
import boto3
sts = boto3.client("sts", endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1")
c = sts.assume_role(RoleArn=os.environ["MOTO_ROLE_ARN"], RoleSessionName="t3304")["Credentials"]
print(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
PY
read -r tmp_id tmp_secret tmp_token <"$T/session"
cat "$T/session" >>"$BEANSTALK_DIR/keys"
run_ok env AWS_ACCESS_KEY_ID="$tmp_id" AWS_SECRET_ACCESS_KEY="$tmp_secret" \
	AWS_SESSION_TOKEN="$tmp_token" "$MLDEPLOY" -C "$T/ctx" -vv status --provider aws --json
keep
assert_eq "$(jq -r .state "$T/out")" Ready "status with a session token"
assert_eq "$(jq -r .details.health "$T/out")" Green "health"

say "an image that does not serve: Red, the ERROR event's message, the old one serves"
write_config '["sh", "-c", "echo boom >&2; exit 3"]'
bad 1 deploy --provider aws
assert_contains "$T/err" "exited with code 3"
assert_contains "$T/err" "boom"
assert_eq "$(jq -r '.environments[0].health' "$BEANSTALK_STATE")" Red "the environment is Red"
assert_eq "$(get /greeting)" hello "the previous container still serves"
ok status --provider aws --json
assert_eq "$(jq -r .revision "$T/out")" "$first" "the previous version is still the environment's"
assert_eq "$(jq -r .details.health "$T/out")" Red "status says Red"

say "destroy --all: the environment and the application"
ok destroy --provider aws --yes --all --json
assert_eq "$(jq -c '[.removed[].kind]' "$T/out")" '["environment","application"]' "both removed"
assert_eq "$(beanstalk_count '^DeleteApplication$' 200)" 1 "DeleteApplication"
ok status --provider aws --json
assert_eq "$(jq -r .state "$T/out")" absent "gone"

say "deployed again after destroy --all, then destroyed: the wait is on the new environment"
write_config
ok deploy --provider aws --json
assert_eq "$(get /greeting)" hello "serves again"
ok destroy --provider aws --yes --json
assert_eq "$(jq -c '[.environments[] | select(.name == "web-edge") | .status]' "$BEANSTALK_STATE")" \
	'["Terminated","Terminated"]' "both environments terminated when destroy returned"

say "nothing secret in any output"
for f in "$T"/outputs/*; do
	while read -r s; do
		[ -n "$s" ] || continue
		! grep -qF -- "$s" "$f" || fail "a secret reached $f"
	done < <(cat "$MOTO_SECRETS" "$ECR_SECRETS"
		printf '%s\n' "$AWS_SECRET_ACCESS_KEY" "$tmp_secret" "$tmp_token" "$api_token")
	! grep -qF -- "$AWS_ACCESS_KEY_ID" "$f" || fail "the key id reached $f"
	! grep -qF -- "$tmp_id" "$f" || fail "the temporary key id reached $f"
	! grep -qiE 'Signature=[0-9a-f]{64}|X-Amz-Security-Token: [^<]' "$f" ||
		fail "a signature or session token reached $f"
done
