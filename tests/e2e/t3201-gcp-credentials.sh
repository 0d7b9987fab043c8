#!/usr/bin/env bash
# Google credentials, each ending in a push to us-east1-docker.pkg.dev/PROJECT/ml
# (tests/fakes/artifactregistry.py's front of a real registry, by its real host name
# over TLS, taking user oauth2accesstoken with a token tests/fakes/googleauth.py
# issued): CLOUDSDK_AUTH_ACCESS_TOKEN, a service account key (an RS256 assertion the
# fake verifies), the ADC file of `gcloud auth application-default login` under
# CLOUDSDK_CONFIG, workload identity federation (a subject token file; a subject
# token URL with a header, then impersonation), an impersonated service account,
# the metadata server (whose project-id is the project when deploy.gcp.project is
# not set). -v names the source; one token per push; no key, assertion
# or token in any output (-vv included). Refusals: no credential (the chain listed),
# a malformed key, a revoked key, a revoked refresh token, a wrong audience, a
# subject token the provider does not trust, impersonation not granted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gcp.sh"

start_registry base
make_busybox_image "$REG_BASE_ADDR" tools/busybox 1.0
start_gcp_rig ml
unset GOOGLE_APPLICATION_CREDENTIALS
export MLDEPLOY_INSECURE_REGISTRIES="$REG_BASE_ADDR"
repo=us-east1-docker.pkg.dev/$GOOGLE_CLOUD_PROJECT/ml/iris
# nothing answers there: no metadata server unless a test names the fake's
closed=127.0.0.1:$(free_port)

mkdir -p "$T/ctx/app"
printf '#!/bin/sh\necho "served from artifact registry"\n' >"$T/ctx/app/run.sh"
chmod +x "$T/ctx/app/run.sh"
cat >"$T/ctx/deploy.yaml" <<YAML
name: iris
image:
  base: $REG_BASE_ADDR/tools/busybox:1.0
  copy:
    - { src: app/, dst: /app/ }
  cmd: ["/app/run.sh"]
YAML
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/img.tar"
digest=$(jq -r .digest "$T/out")

# push TAG [VAR=VALUE...]: mldeploy -vv push with only those Google variables set.
push() {
	local tag=$1
	shift
	env GCE_METADATA_HOST="$closed" "$@" "$MLDEPLOY" -vv --json push "$T/img.tar" \
		--repository "$repo" --tag "$tag"
}

# Nothing the fake saw or issued, nor any credential given, reaches the output.
secrets_absent() {
	local f s
	for f in "$T/out" "$T/err"; do
		assert_not_contains "$f" "PRIVATE KEY"
		assert_not_contains "$f" "ya29."
		# a JWT's header ({"alg"...) always starts so
		assert_not_contains "$f" "eyJ"
		while read -r s; do
			[ -z "$s" ] || assert_not_contains "$f" "$s"
		done <"$GAUTH_SECRETS"
		while read -r s; do
			[ -z "$s" ] || assert_not_contains "$f" "$s"
		done <"$GOOGLE_TOKENS"
	done
}

# pushed TAG: the image is in the registry behind the front, under TAG
pushed() {
	assert_eq "$(jq -r .digest "$T/out")" "$digest" "pushed digest"
	assert_eq "$(jq -r .reference "$T/out")" "$repo@$digest" "reference"
	run_ok skopeo_inspect "docker://$REG_GAR_ADDR/$GOOGLE_CLOUD_PROJECT/ml/iris:$1"
	assert_eq "$(jq -r .Digest "$T/out")" "$digest" "skopeo sees the digest under $1"
}

# issued ROUTE [EXTRA_JQ_CONDITION]: answered requests of the token fake
issued() {
	gauth_count ".route == \"$1\" and .status == 200 ${2:+and ($2)}"
}

say "CLOUDSDK_AUTH_ACCESS_TOKEN: taken as it is"
token=$(ar_token)
run_ok push e1 CLOUDSDK_AUTH_ACCESS_TOKEN="$token"
assert_contains "$T/err" "registry us-east1-docker.pkg.dev: credentials from a Google access token (CLOUDSDK_AUTH_ACCESS_TOKEN)"
assert_not_contains "$T/err" "$token"
secrets_absent
pushed e1
assert_eq "$(gauth_count 'true')" 0 "requests to the token services"
[ "$(ar_count token GET '^/v2/token$' 200)" -ge 1 ] || fail "no registry token with the access token"
[ "$(ar_count v2 PUT '/manifests/e1$' 201)" = 1 ] || fail "the manifest did not go through the front"

say "a service account key: an assertion the fake verifies"
run_ok push k1 GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_SA_KEY"
assert_contains "$T/err" "gcp: access token from service account key $GAUTH_SA_KEY ($GAUTH_SA_EMAIL, from GOOGLE_APPLICATION_CREDENTIALS)"
assert_contains "$T/err" "assertion=<redacted>"
secrets_absent
pushed k1
assert_eq "$(issued token ".grant == \"urn:ietf:params:oauth:grant-type:jwt-bearer\" and .principal == \"$GAUTH_SA_EMAIL\"")" 1 "jwt-bearer grants (one token per push)"

say "the ADC file under CLOUDSDK_CONFIG (authorized_user)"
mkdir -p "$T/gcloud"
cp "$GAUTH_ADC" "$T/gcloud/application_default_credentials.json"
run_ok push a1 CLOUDSDK_CONFIG="$T/gcloud"
assert_contains "$T/err" "gcp: access token from authorized_user credentials $T/gcloud/application_default_credentials.json (from the ADC file)"
assert_contains "$T/err" "refresh_token=<redacted>"
secrets_absent
pushed a1
assert_eq "$(issued token '.grant == "refresh_token"')" 1 "refresh grants"
# ~/.config/gcloud when CLOUDSDK_CONFIG is not set
mkdir -p "$HOME/.config/gcloud"
cp "$GAUTH_ADC" "$HOME/.config/gcloud/application_default_credentials.json"
run_ok push a2
assert_contains "$T/err" "authorized_user credentials $HOME/.config/gcloud/application_default_credentials.json (from the ADC file)"
pushed a2
# GOOGLE_APPLICATION_CREDENTIALS wins over the ADC file
run_ok push a3 GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_SA_KEY"
assert_contains "$T/err" "service account key $GAUTH_SA_KEY"
rm -r "$HOME/.config/gcloud"

say "workload identity federation: a subject token file, STS"
run_ok push w1 GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_WIF"
assert_contains "$T/err" "gcp: access token from workload identity federation $GAUTH_WIF (subject token file $GAUTH_SUBJECT_TOKEN_FILE, from GOOGLE_APPLICATION_CREDENTIALS)"
assert_contains "$T/err" "subject_token=<redacted>"
secrets_absent
pushed w1
assert_eq "$(issued sts)" 1 "STS exchanges"

say "workload identity federation: a subject token URL (json), STS, then impersonation"
run_ok push w2 GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_WIF_URL"
assert_contains "$T/err" "gcp: access token from workload identity federation $GAUTH_WIF_URL (subject token URL http://$GAUTH_METADATA_ADDR/subject-token, as $GAUTH_SA_EMAIL, from GOOGLE_APPLICATION_CREDENTIALS)"
secrets_absent
pushed w2
assert_eq "$(issued subject)" 1 "subject token requests"
assert_eq "$(issued sts)" 2 "STS exchanges"
assert_eq "$(issued generate ".principal | startswith(\"principal://\")")" 1 "impersonations"

say "an impersonated service account (gcloud's --impersonate-service-account ADC)"
run_ok push i1 GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_IMPERSONATED"
assert_contains "$T/err" "gcp: access token from impersonated service account $GAUTH_SA_EMAIL (source: authorized_user credentials in $GAUTH_IMPERSONATED"
secrets_absent
pushed i1
assert_eq "$(issued generate '.principal == "user:dev@example.com"')" 1 "impersonations by the user"

say "the metadata server (GCE_METADATA_HOST), probed once"
run_ok push m1 GCE_METADATA_HOST="$GAUTH_METADATA_ADDR"
assert_contains "$T/err" "gcp: the metadata server answered at http://$GAUTH_METADATA_ADDR"
assert_contains "$T/err" "gcp: access token from metadata server (http://$GAUTH_METADATA_ADDR)"
secrets_absent
pushed m1
assert_eq "$(issued metadata '.path == "/" and .flavor == "Google"')" 1 "probes"
assert_eq "$(issued metadata '.path | endswith("/default/token")')" 1 "metadata tokens"

say "the metadata server's project: the credential's, before GOOGLE_CLOUD_PROJECT"
# status with Cloud Run's endpoint on the metadata fake, which refuses the call:
# the project is known by then, and the path names it
mkdir -p "$T/md"
printf 'name: iris\nimage: {base: python:3.11-slim}\ndeploy:\n  gcp:\n    region: us-east1\n' >"$T/md/deploy.yaml"
md_status() {
	must_fail 1 env GCE_METADATA_HOST="$GAUTH_METADATA_ADDR" GOOGLE_CLOUD_PROJECT=env-project \
		MLDEPLOY_ENDPOINT_RUN="http://$GAUTH_METADATA_ADDR" "$MLDEPLOY" -C "$T/md" -v \
		status --provider gcp
}
md_status
assert_contains "$T/err" "gcp: project $GAUTH_PROJECT (from the metadata server)"
assert_contains "$T/err" "Cloud Run: GET /v2/projects/$GAUTH_PROJECT/locations/us-east1/services/iris:"
assert_eq "$(issued metadata '.path == "/computeMetadata/v1/project/project-id" and .flavor == "Google"')" 1 "project-id requests"
# deploy.gcp.project wins, and the metadata server is not asked for one
printf '    project: yaml-project\n' >>"$T/md/deploy.yaml"
md_status
assert_contains "$T/err" "gcp: project yaml-project (from deploy.gcp.project)"
assert_contains "$T/err" "Cloud Run: GET /v2/projects/yaml-project/locations/us-east1/services/iris:"
assert_eq "$(issued metadata '.path == "/computeMetadata/v1/project/project-id"')" 1 "project-id requests"

say "no credential: what was tried (-v), then the registry's refusal, exit 1"
must_fail 1 push n1
grep '^mldeploy: error:' "$T/err" >"$T/error-line" || fail "no error line"
assert_eq "$(wc -l <"$T/error-line")" 1 "error lines"
assert_contains "$T/error-line" "registry 'us-east1-docker.pkg.dev' requires credentials"
grep 'no google credentials' "$T/err" >"$T/tried" || fail "no line of what was tried"
assert_contains "$T/tried" "no google credentials: CLOUDSDK_AUTH_ACCESS_TOKEN and GOOGLE_APPLICATION_CREDENTIALS are not set"
assert_contains "$T/tried" "no application default credentials file '$HOME/.config/gcloud/application_default_credentials.json'"
assert_contains "$T/tried" "no metadata server answered at http://$closed"
assert_contains "$T/tried" "gcloud auth application-default login"
# gcloud's credential helper entry in the Docker config comes before the probe
mkdir -p "$HOME/.docker"
printf '{"auths": {"us-east1-docker.pkg.dev": {"auth": "%s"}}}\n' \
	"$(printf 'oauth2accesstoken:%s' "$(ar_token)" | base64 -w0)" >"$HOME/.docker/config.json"
run_ok push d1
assert_contains "$T/err" "credentials from $HOME/.docker/config.json (auths)"
assert_not_contains "$T/err" "metadata server"
pushed d1
rm -r "$HOME/.docker"

say "a malformed key: the file and the field, never its content"
jq 'del(.client_email)' "$GAUTH_SA_KEY" >"$T/no-email.json"
must_fail 1 push b1 GOOGLE_APPLICATION_CREDENTIALS="$T/no-email.json"
assert_contains "$T/err" "service account key '$T/no-email.json': field 'client_email' is missing"
secrets_absent
jq '.private_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"' \
	"$GAUTH_SA_KEY" >"$T/bad-pem.json"
must_fail 1 push b2 GOOGLE_APPLICATION_CREDENTIALS="$T/bad-pem.json"
assert_contains "$T/err" "field 'private_key'"
head -c 200 "$GAUTH_SA_KEY" >"$T/cut.json"
must_fail 1 push b3 GOOGLE_APPLICATION_CREDENTIALS="$T/cut.json"
assert_contains "$T/err" "credential file '$T/cut.json' (GOOGLE_APPLICATION_CREDENTIALS) is not JSON"
secrets_absent
must_fail 1 push b4 GOOGLE_APPLICATION_CREDENTIALS="$T/nowhere.json"
assert_contains "$T/err" "GOOGLE_APPLICATION_CREDENTIALS"
assert_contains "$T/err" "$T/nowhere.json"

say "a revoked key: Google's invalid_grant, one line with a hint"
jq '.service_accounts[].keys = {}' "$GAUTH_CONFIG" >"$GAUTH_CONFIG.new"
cp "$GAUTH_CONFIG" "$T/config.saved"
mv -f "$GAUTH_CONFIG.new" "$GAUTH_CONFIG"
must_fail 1 push r1 GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_SA_KEY"
grep '^mldeploy: error:' "$T/err" >"$T/error-line" || fail "no error line"
assert_eq "$(wc -l <"$T/error-line")" 1 "error lines"
assert_contains "$T/error-line" "invalid_grant: Invalid JWT Signature"
assert_contains "$T/error-line" "service account key $GAUTH_SA_KEY"
assert_contains "$T/error-line" "gcloud iam service-accounts keys create"
secrets_absent
cp "$T/config.saved" "$GAUTH_CONFIG"

say "a key signed by another key: the signature check"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
jq --rawfile k "$T/other.key" '.private_key = $k' "$GAUTH_SA_KEY" >"$T/other-key.json"
must_fail 1 push r2 GOOGLE_APPLICATION_CREDENTIALS="$T/other-key.json"
assert_contains "$T/err" "invalid_grant: Invalid JWT Signature"
secrets_absent

say "a wrong audience: the key's token_uri is not Google's token endpoint"
jq '.token_uri = "https://oauth2.googleapis.com/o/oauth2/token"' "$GAUTH_SA_KEY" >"$T/aud.json"
must_fail 1 push r3 GOOGLE_APPLICATION_CREDENTIALS="$T/aud.json"
assert_contains "$T/err" "Failed audience check"
assert_contains "$T/err" "token_uri should be https://oauth2.googleapis.com/token"
secrets_absent

say "a revoked refresh token"
jq '.users = {}' "$GAUTH_CONFIG" >"$GAUTH_CONFIG.new" && mv -f "$GAUTH_CONFIG.new" "$GAUTH_CONFIG"
must_fail 1 push r4 GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_ADC"
assert_contains "$T/err" "invalid_grant: Token has been expired or revoked"
assert_contains "$T/err" "run 'gcloud auth application-default login' again"
secrets_absent
cp "$T/config.saved" "$GAUTH_CONFIG"

say "a subject token the provider does not trust; impersonation not granted"
printf 'not-the-token\n' >"$T/subject"
jq --arg f "$T/subject" '.credential_source.file = $f' "$GAUTH_WIF" >"$T/wif-other.json"
must_fail 1 push r5 GOOGLE_APPLICATION_CREDENTIALS="$T/wif-other.json"
assert_contains "$T/err" "Google STS"
assert_contains "$T/err" "invalid_grant"
assert_contains "$T/err" "trusts the issuer of the subject token"
assert_not_contains "$T/err" "not-the-token"
jq '.service_accounts[].token_creators = []' "$GAUTH_CONFIG" >"$GAUTH_CONFIG.new" &&
	mv -f "$GAUTH_CONFIG.new" "$GAUTH_CONFIG"
must_fail 1 push r6 GOOGLE_APPLICATION_CREDENTIALS="$GAUTH_IMPERSONATED"
assert_contains "$T/err" "PERMISSION_DENIED"
assert_contains "$T/err" "roles/iam.serviceAccountTokenCreator"
secrets_absent
cp "$T/config.saved" "$GAUTH_CONFIG"

say "a token the registry does not accept: the front's refusal"
must_fail 1 push x1 CLOUDSDK_AUTH_ACCESS_TOKEN=ya29.not-issued-by-anyone
assert_not_contains "$T/err" "ya29.not-issued-by-anyone"
