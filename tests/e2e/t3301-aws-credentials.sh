#!/usr/bin/env bash
# The AWS credential chain, each source ending in a call moto checks: `mldeploy push`
# to ECR (tests/fakes/ecrfront.py relaying api.ecr to moto, which verifies the SigV4
# signature of GetAuthorizationToken and the caller's IAM permission). The sources:
# the environment's keys, a profile's keys, a profile's role (STS AssumeRole signed
# with its source_profile's keys), web identity (AssumeRoleWithWebIdentity, not
# signed), credential_process, the container credentials endpoint (with its
# authorization token) and IMDSv2 (session token, role, credentials); -v names each.
# Refusals: a wrong secret is moto's SignatureDoesNotMatch as one error line; an
# expired credential_process answer and a session token moto does not know are clear
# errors; no credential anywhere is one message listing the chain. No key, secret,
# session token or signature in any output, -vv included.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-aws.sh"

start_registry base
make_busybox_image "$REG_BASE_ADDR" tools/busybox 1.0
export MLDEPLOY_INSECURE_REGISTRIES="$REG_BASE_ADDR"
start_moto
start_registry ecr
start_ecr_front ecr
ecr_create_repository app
start_awsmeta --container-token "container-$RANDOM-token"
container_token=$(jq -r .container_token "$AWSMETA_CONFIG")
printf '%s\n' "$container_token" >>"$MOTO_SECRETS"

mkdir -p "$T/ctx/app"
printf '#!/bin/sh\necho "signed"\n' >"$T/ctx/app/run.sh"
chmod +x "$T/ctx/app/run.sh"
cat >"$T/ctx/deploy.yaml" <<YAML
name: awscreds
image:
  base: $REG_BASE_ADDR/tools/busybox:1.0
  copy:
    - { src: app/, dst: /app/ }
  cmd: ["/app/run.sh"]
YAML
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/img.tar"

# push TAG: mldeploy -vv push to ECR with the AWS environment set by aws_env.
push() {
	"$MLDEPLOY" -vv --json push "$T/img.tar" --repository "$ECR_HOST/app" --tag "$1"
}

tokens() {
	ecr_count '.target == "GetAuthorizationToken" and .status == 200'
}

# signed_push TAG SOURCE: the push works, its one GetAuthorizationToken accepted by
# moto, with credentials from SOURCE (what -v says).
signed_push() {
	local before
	before=$(tokens)
	run_ok push "$1"
	assert_contains "$T/err" "aws: credentials from $2"
	assert_contains "$T/err" "(AWS credentials: $2"
	assert_eq "$(tokens)" "$((before + 1))" "GetAuthorizationToken accepted by moto"
	cp "$T/out" "$T/push.out"
	cp "$T/err" "$T/push.err"
	run_ok skopeo_inspect "docker://$REG_ECR_ADDR/app:$1"
}

# Nothing secret the rig made, nor any signature, reaches the output (of the last
# mldeploy run: signed_push keeps it in push.out and push.err).
secrets_absent() {
	local f s
	for f in "$T/out" "$T/err" "$T/push.out" "$T/push.err"; do
		[ -e "$f" ] || continue
		assert_not_contains "$f" "$MOTO_SECRET_ACCESS_KEY"
		assert_not_contains "$f" "$MOTO_ACCESS_KEY_ID"
		assert_not_contains "$f" "Signature="
		# moto's session tokens all start so (the ones mldeploy got from STS too)
		assert_not_contains "$f" "FQoGZXIvYXdzEBYaD"
		if grep 'X-Amz-Security-Token' "$f" | grep -v 'X-Amz-Security-Token: <redacted>' >&2; then
			fail "a session token header in $f"
		fi
		while read -r s; do
			[ -z "$s" ] || assert_not_contains "$f" "$s"
		done < <(cat "$MOTO_SECRETS" "$ECR_SECRETS")
	done
}

say "the environment's keys"
aws_env keys
signed_push env "environment (AWS_ACCESS_KEY_ID)"
secrets_absent

say "a profile's keys (AWS_PROFILE, the credentials file), its region from the config file"
mkdir -p "$T/home/.aws"
cat >"$T/home/.aws/credentials" <<EOF
# the rig's admin
[dev]
aws_access_key_id = $MOTO_ACCESS_KEY_ID
AWS_Secret_Access_Key = $MOTO_SECRET_ACCESS_KEY
EOF
cat >"$T/home/.aws/config" <<EOF
[profile dev]
region = us-east-1
[profile deployer]
role_arn = $MOTO_ROLE_ARN
source_profile = dev
role_session_name = t3301
[profile proc]
credential_process = "$T/bin/cred process" --json
EOF
aws_env AWS_PROFILE=dev AWS_REGION=
signed_push profile "profile dev (~/.aws/credentials)"
assert_contains "$T/push.err" "aws: region us-east-1 (from profile dev)"
secrets_absent

say "a profile's role: AssumeRole signed with its source profile's keys"
aws_env AWS_PROFILE=deployer
before=$(moto_count '.action == "AssumeRole" and .status == 200')
signed_push role "role $MOTO_ROLE_ARN of profile deployer (assumed with profile dev"
assert_eq "$(moto_count ".action == \"AssumeRole\" and .status == 200 and .auth == \"sigv4\" and .key_id == \"$MOTO_ACCESS_KEY_ID\" and .host == \"sts.us-east-1.amazonaws.com\"")" \
	"$((before + 1))" "AssumeRole calls signed with the source profile's key"
# -vv shows STS's answer, without what it gave
assert_contains "$T/push.err" "<AssumeRoleResult><Credentials><redacted></Credentials>"
secrets_absent

say "web identity: AssumeRoleWithWebIdentity, not signed"
printf '%s\n' "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl" >"$T/web-token"
aws_env AWS_WEB_IDENTITY_TOKEN_FILE="$T/web-token" AWS_ROLE_ARN="$MOTO_ROLE_ARN"
signed_push web "web identity (AWS_ROLE_ARN)"
assert_eq "$(moto_count '.action == "AssumeRoleWithWebIdentity" and .status == 200 and .auth == "none"')" \
	1 "unsigned AssumeRoleWithWebIdentity calls"
assert_not_contains "$T/err" "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9"
secrets_absent

say "credential_process (a quoted path with a space), its output never shown"
mkdir -p "$T/bin"
cat >"$T/bin/cred process" <<EOF
#!/bin/sh
[ "\$1" = --json ] || exit 9
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "Expiration": "%s"}\n' \
	"$MOTO_ACCESS_KEY_ID" "$MOTO_SECRET_ACCESS_KEY" "\${EXPIRES:-2099-01-01T00:00:00Z}"
EOF
chmod +x "$T/bin/cred process"
aws_env AWS_PROFILE=proc
signed_push process "credential_process of profile proc (~/.aws/config)"
secrets_absent

say "an expired credential_process answer: refused before any call"
before=$(ecr_count '.route == "api"')
aws_env AWS_PROFILE=proc EXPIRES=2001-01-01T00:00:00Z
must_fail 1 push expired
assert_contains "$T/err" "aws credentials from credential_process of profile proc (~/.aws/config) have expired"
assert_eq "$(ecr_count '.route == "api"')" "$before" "ECR API calls with expired credentials"
unset EXPIRES
secrets_absent

say "the container credentials endpoint (FULL_URI, authorization token from a file)"
printf '%s\n' "$container_token" >"$T/container-token"
aws_env AWS_CONTAINER_CREDENTIALS_FULL_URI="$AWSMETA_URL/v2/credentials/task" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/container-token"
signed_push container "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)"
assert_eq "$(awsmeta_count '.route == "container" and .auth == "ok" and .status == 200')" 1 \
	"container endpoint calls with the token"
secrets_absent

say "a wrong container token: the endpoint's refusal"
printf 'not-the-token\n' >"$T/container-token"
must_fail 1 push container-bad
assert_contains "$T/err" "container credentials endpoint"
assert_contains "$T/err" "HTTP 403"
secrets_absent

say "IMDSv2: a session token (TTL header), the role, its credentials"
aws_env AWS_EC2_METADATA_DISABLED= AWS_EC2_METADATA_SERVICE_ENDPOINT="$AWSMETA_URL/"
signed_push imds "EC2 instance metadata (AWS_EC2_METADATA_SERVICE_ENDPOINT)"
assert_eq "$(awsmeta_count '.route == "imds_token" and .ttl == "21600" and .status == 200')" 1 "IMDS tokens"
assert_eq "$(awsmeta_count '.route == "imds_credentials" and .token == "ok" and .status == 200')" 1 \
	"IMDS credentials asked with the session token"
assert_eq "$(awsmeta_count '.token == "missing" or .token == "unknown"')" 0 "IMDS calls without the token"
secrets_absent

say "a wrong secret: moto's SignatureDoesNotMatch, one error line with a hint"
aws_env keys AWS_SECRET_ACCESS_KEY="wrong$MOTO_SECRET_ACCESS_KEY"
must_fail 1 push wrong
assert_contains "$T/err" "SignatureDoesNotMatch"
assert_contains "$T/err" "hint: the secret access key does not match the access key id"
assert_eq "$(grep -c '^mldeploy: error: ' "$T/err")" 1 "error lines"
assert_not_contains "$T/err" "wrong$MOTO_SECRET_ACCESS_KEY"
secrets_absent

say "a session token moto does not know"
read -r sid ssecret stoken < <(python3 - <<'EOF'
import os
import boto3
sts = boto3.client("sts", endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1",
                   aws_access_key_id=os.environ["MOTO_ACCESS_KEY_ID"],
                   aws_secret_access_key=os.environ["MOTO_SECRET_ACCESS_KEY"])
c = sts.assume_role(RoleArn=os.environ["MOTO_ROLE_ARN"], RoleSessionName="t3301")["Credentials"]
print(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
EOF
)
printf '%s\n%s\n' "$ssecret" "$stoken" >>"$MOTO_SECRETS"
aws_env AWS_ACCESS_KEY_ID="$sid" AWS_SECRET_ACCESS_KEY="$ssecret" AWS_SESSION_TOKEN="x$stoken"
must_fail 1 push badtoken
assert_contains "$T/err" "GetAuthorizationToken: ECR: POST /: InvalidClientTokenId: "
assert_contains "$T/err" "hint: the access key id, or its session token, is not known"
assert_eq "$(grep -c '^mldeploy: error: ' "$T/err")" 1 "error lines"
assert_not_contains "$T/err" "x$stoken"
secrets_absent
say "the same session token as issued works"
aws_env AWS_ACCESS_KEY_ID="$sid" AWS_SECRET_ACCESS_KEY="$ssecret" AWS_SESSION_TOKEN="$stoken"
signed_push session "environment (AWS_ACCESS_KEY_ID)"
secrets_absent

say "no credential anywhere: one message listing the chain"
rm -f "$T/home/.aws/credentials" "$T/home/.aws/config"
aws_env
must_fail 1 push none
assert_contains "$T/err" "no aws credentials: tried environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set), web identity"
assert_contains "$T/err" "profile default in ~/.aws/credentials and ~/.aws/config (none)"
assert_contains "$T/err" "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"
assert_contains "$T/err" "hint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
assert_eq "$(grep -c '^mldeploy: error: ' "$T/err")" 1 "error lines"
secrets_absent

say "an IMDS with no instance profile: said so in the chain's message"
jq '.role_name = null' "$AWSMETA_CONFIG" >"$T/meta.json" && mv "$T/meta.json" "$AWSMETA_CONFIG"
aws_env AWS_EC2_METADATA_DISABLED= AWS_EC2_METADATA_SERVICE_ENDPOINT="$AWSMETA_URL"
must_fail 1 push norole
assert_contains "$T/err" "EC2 instance metadata at $AWSMETA_URL (IMDS: no instance profile role is attached to this instance)"
secrets_absent
