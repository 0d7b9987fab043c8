#!/usr/bin/env bash
# Push to Amazon ECR (123456789012.dkr.ecr.us-east-1.amazonaws.com: tests/fakes/
# ecrfront.py in front of a real registry and of moto's ECR API, reached by the real
# host names over TLS, moto checking every SigV4 signature): the login is ECR's
# GetAuthorizationToken with the environment's keys, one per push; a missing
# repository names itself and how to create it; a user without ecr permissions gets
# a message naming ecr:GetAuthorizationToken; a wrong secret is moto's
# SignatureDoesNotMatch; without any AWS credential the Docker config's login
# applies; no key, secret, token, password or signature in any output, -vv included.
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

mkdir -p "$T/ctx/app"
printf '#!/bin/sh\necho "served from ecr"\n' >"$T/ctx/app/run.sh"
chmod +x "$T/ctx/app/run.sh"
cat >"$T/ctx/deploy.yaml" <<YAML
name: ecrpush
image:
  base: $REG_BASE_ADDR/tools/busybox:1.0
  copy:
    - { src: app/, dst: /app/ }
  cmd: ["/app/run.sh"]
YAML
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/img.tar"
digest=$(jq -r .digest "$T/out")

# push REPO TAG [VAR=VALUE...]: mldeploy -vv push with those variables changed.
push() {
	local repo=$1 tag=$2
	shift 2
	env "$@" "$MLDEPLOY" -vv --json push "$T/img.tar" --repository "$ECR_HOST/$repo" --tag "$tag"
}

# pushed TAG: the image is in the registry behind the front, under TAG
pushed() {
	assert_eq "$(jq -r .digest "$T/out")" "$digest" "pushed digest"
	assert_eq "$(jq -r .reference "$T/out")" "$ECR_HOST/app@$digest" "reference"
	run_ok skopeo_inspect "docker://$REG_ECR_ADDR/app:$1"
	assert_eq "$(jq -r .Digest "$T/out")" "$digest" "skopeo sees the digest under $1"
}

tokens() {
	ecr_count '.target == "GetAuthorizationToken" and .status == 200'
}

# Nothing the front issued, nor any key or signature, reaches the output.
secrets_absent() {
	local f s
	for f in "$T/out" "$T/err"; do
		assert_not_contains "$f" "$AWS_SECRET_ACCESS_KEY"
		assert_not_contains "$f" "$AWS_ACCESS_KEY_ID"
		assert_not_contains "$f" "${NOECR_SECRET:-no-such-secret}"
		assert_not_contains "$f" "Signature="
		# base64 of "AWS:", how every authorization token starts
		assert_not_contains "$f" "QVdTO"
		while read -r s; do
			assert_not_contains "$f" "$s"
		done < <(cat "$ECR_SECRETS" "$MOTO_SECRETS")
	done
}

say "the environment's keys: GetAuthorizationToken, Basic AWS:<password>"
run_ok push app t1
assert_contains "$T/err" "registry $ECR_HOST: credentials from ECR GetAuthorizationToken (AWS credentials: environment"
pushed t1
assert_eq "$(tokens)" 1 "GetAuthorizationToken calls in one push"
[ "$(ecr_count '.route == "v2" and .login == "ok" and .status == 201')" -ge 3 ] ||
	fail "no upload accepted with the ECR login"
assert_eq "$(ecr_count '.route == "v2" and .login == "unknown_password"')" 0 "refused logins"
secrets_absent

say "a second push is a second process: one more token; the region is the host's"
run_ok push app t2 -u AWS_REGION -u AWS_DEFAULT_REGION
assert_eq "$(tokens)" 2 "GetAuthorizationToken calls after two pushes"
run_ok skopeo_inspect "docker://$REG_ECR_ADDR/app:t2"
secrets_absent

say "a repository that does not exist: named, with how to create it"
must_fail 1 push nope t1
assert_contains "$T/err" "NAME_UNKNOWN"
assert_contains "$T/err" "'nope'"
assert_contains "$T/err" "create_repository"
[ "$(ecr_count '.route == "v2" and .repo == "nope" and .status == 404')" -ge 1 ] ||
	fail "the front never refused the missing repository"
secrets_absent

say "an IAM user without ecr permissions: AccessDenied names the action"
read -r NOECR_ID NOECR_SECRET < <(moto_user s3only \
	'{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}')
must_fail 1 push app t3 AWS_ACCESS_KEY_ID="$NOECR_ID" AWS_SECRET_ACCESS_KEY="$NOECR_SECRET"
assert_contains "$T/err" "may not call ecr:GetAuthorizationToken"
assert_contains "$T/err" "is not authorized to perform: ecr:GetAuthorizationToken"
assert_not_contains "$T/err" "$NOECR_ID"
secrets_absent

say "a wrong secret: moto's SignatureDoesNotMatch, one line"
must_fail 1 push app t4 AWS_SECRET_ACCESS_KEY="wrong$AWS_SECRET_ACCESS_KEY"
assert_contains "$T/err" "SignatureDoesNotMatch"
assert_eq "$(grep -c '^mldeploy: error: .*SignatureDoesNotMatch' "$T/err")" 1 "error lines with the refusal"
secrets_absent

say "no AWS credential at all: the Docker config's login (as from get-login-password)"
before=$(tokens)
password=$(tail -n 1 "$ECR_SECRETS")
mkdir -p "$T/docker"
jq -n --arg h "$ECR_HOST" --arg a "$(printf 'AWS:%s' "$password" | base64 -w0)" \
	'{auths: {($h): {auth: $a}}}' >"$T/docker/config.json"
run_ok env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_EC2_METADATA_DISABLED=true \
	DOCKER_CONFIG="$T/docker" "$MLDEPLOY" -v --json push "$T/img.tar" \
	--repository "$ECR_HOST/app" --tag t5
assert_contains "$T/err" "credentials from $T/docker/config.json"
assert_eq "$(tokens)" "$before" "GetAuthorizationToken calls without AWS credentials"
run_ok skopeo_inspect "docker://$REG_ECR_ADDR/app:t5"
secrets_absent
