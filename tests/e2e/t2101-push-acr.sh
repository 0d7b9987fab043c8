#!/usr/bin/env bash
# Push to an Azure Container Registry (myreg.azurecr.io: tests/fakes/entra.py in
# front of a real token-auth registry, reached by its real host name over TLS) with
# each Entra ID credential source: a client secret, a client certificate (a signed
# assertion the fake verifies), a federated token file, App Service's managed
# identity and IMDS. -v names the source; one token and one exchange per push; a
# refused secret is one line with its AADSTS code; no credential at all leaves the
# Docker config's admin user or the registry's own "requires credentials"; no
# secret, assertion or token is ever printed, -vv included.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry base
make_busybox_image "$REG_BASE_ADDR" tools/busybox 1.0
start_registry acr token rigadmin 'Rig-Pa55word'
start_entra acr myreg acr
export MLDEPLOY_INSECURE_REGISTRIES="$REG_BASE_ADDR"

mkdir -p "$T/ctx/app"
printf '#!/bin/sh\necho "served from acr"\n' >"$T/ctx/app/run.sh"
chmod +x "$T/ctx/app/run.sh"
cat >"$T/ctx/deploy.yaml" <<YAML
name: acrpush
image:
  base: $REG_BASE_ADDR/tools/busybox:1.0
  copy:
    - { src: app/, dst: /app/ }
  cmd: ["/app/run.sh"]
YAML
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/img.tar"
digest=$(jq -r .digest "$T/out")

# push TAG [VAR=VALUE...]: mldeploy -vv push with only those Azure variables set.
push() {
	local tag=$1
	shift
	env "$@" "$MLDEPLOY" -vv --json push "$T/img.tar" --repository myreg.azurecr.io/app --tag "$tag"
}
sp=(AZURE_TENANT_ID="$ENTRA_TENANT" AZURE_CLIENT_ID="$ENTRA_CLIENT_ID")

# Nothing the fake saw or issued, nor any credential given, reaches the output.
secrets_absent() {
	local f s
	for f in "$T/out" "$T/err"; do
		assert_not_contains "$f" "$ENTRA_SECRET"
		assert_not_contains "$f" "$ENTRA_IDENTITY_HEADER"
		assert_not_contains "$f" "$ENTRA_ACR_ADMIN_PASS"
		assert_not_contains "$f" "$(cat "$ENTRA_FEDERATED_TOKEN_FILE")"
		assert_not_contains "$f" "PRIVATE KEY"
		# a JWT's header ({"alg"...) always starts so
		assert_not_contains "$f" "eyJ"
		while read -r s; do
			assert_not_contains "$f" "$s"
		done <"$ENTRA_SECRETS"
	done
}

# pushed TAG: the image is in the registry behind the front, under TAG
pushed() {
	assert_eq "$(jq -r .digest "$T/out")" "$digest" "pushed digest"
	assert_eq "$(jq -r .reference "$T/out")" "myreg.azurecr.io/app@$digest" "reference"
	run_ok skopeo_inspect "docker://$REG_ACR_ADDR/app:$1"
	assert_eq "$(jq -r .Digest "$T/out")" "$digest" "skopeo sees the digest under $1"
}

# count ROUTE [EXTRA_JQ_CONDITION]: answered requests of the fake
count() {
	entra_count ".route == \"$1\" and .status == 200 ${2:+and $2}"
}

say "client secret"
run_ok push s1 "${sp[@]}" AZURE_CLIENT_SECRET="$ENTRA_SECRET"
assert_contains "$T/err" "registry myreg.azurecr.io: credentials from the ACR token exchange (Entra ID: environment (AZURE_CLIENT_SECRET))"
assert_contains "$T/err" "client_secret=<redacted>"
secrets_absent
pushed s1
assert_eq "$(count token '.proof == "secret"')" 1 "token requests with the secret"
assert_eq "$(count exchange ".tenant == \"$ENTRA_TENANT\"")" 1 "exchanges (with the tenant)"
[ "$(count acr_token '.auth == "refresh_token"')" -ge 1 ] || fail "no registry token for the refresh token"
[ "$(entra_count '.route == "v2" and .auth == "bearer" and .status == 201')" -ge 3 ] ||
	fail "the uploads did not go through the front"

say "client certificate: an assertion the fake verifies"
run_ok push c1 "${sp[@]}" AZURE_CLIENT_CERTIFICATE_PATH="$ENTRA_CERT"
assert_contains "$T/err" "(Entra ID: environment (AZURE_CLIENT_CERTIFICATE_PATH))"
assert_contains "$T/err" "client_assertion=<redacted>"
secrets_absent
pushed c1
assert_eq "$(count token '.proof == "certificate"')" 1 "token requests with an assertion"
assert_eq "$(count exchange)" 2 "exchanges so far"

say "a federated token file (workload identity)"
run_ok push f1 "${sp[@]}" AZURE_FEDERATED_TOKEN_FILE="$ENTRA_FEDERATED_TOKEN_FILE"
assert_contains "$T/err" "(Entra ID: workload identity (AZURE_FEDERATED_TOKEN_FILE))"
secrets_absent
pushed f1
assert_eq "$(count token '.proof == "federated"')" 1 "token requests with the federated token"

say "App Service managed identity (IDENTITY_ENDPOINT)"
run_ok push m1 IDENTITY_ENDPOINT="$ENTRA_IDENTITY_ENDPOINT" IDENTITY_HEADER="$ENTRA_IDENTITY_HEADER"
assert_contains "$T/err" "(Entra ID: managed identity (IDENTITY_ENDPOINT))"
secrets_absent
pushed m1
assert_eq "$(count msi '.resource == "https://management.azure.com"')" 1 "managed identity requests"

say "IMDS (its address overridden), a user-assigned identity"
run_ok push i1 MLDEPLOY_ENDPOINT_IMDS="$ENTRA_IMDS_URL" AZURE_CLIENT_ID="$ENTRA_MI_CLIENT_ID"
assert_contains "$T/err" "(Entra ID: managed identity (IMDS))"
secrets_absent
pushed i1
# the probe without the Metadata header, then the token
assert_eq "$(entra_count '.route == "imds" and .status == 400')" 1 "IMDS probes"
assert_eq "$(count imds ".client_id == \"$ENTRA_MI_CLIENT_ID\"")" 1 "IMDS token requests"
assert_eq "$(count exchange)" 5 "one exchange per push"

say "a wrong secret: one line with the AADSTS code, exit 1"
must_fail 1 push s2 "${sp[@]}" AZURE_CLIENT_SECRET='wr0ng~Secret-value'
assert_contains "$T/err" "AADSTS7000215: Invalid client secret provided"
assert_contains "$T/err" "environment (AZURE_CLIENT_SECRET)"
grep '^mldeploy: error:' "$T/err" >"$T/error-line" || fail "no error line"
assert_eq "$(wc -l <"$T/error-line")" 1 "error lines"
assert_contains "$T/error-line" "AADSTS7000215"
# the first line of the description: not Entra ID's trace and correlation ids
assert_not_contains "$T/error-line" "Trace ID"
assert_not_contains "$T/err" 'wr0ng~Secret-value'
secrets_absent
# without -v, stderr is that one line
must_fail 1 env "${sp[@]}" AZURE_CLIENT_SECRET='wr0ng~Secret-value' \
	"$MLDEPLOY" push "$T/img.tar" --repository myreg.azurecr.io/app --tag s2
assert_eq "$(wc -l <"$T/err")" 1 "lines on stderr without -v"
assert_contains "$T/err" "AADSTS7000215"

say "a certificate the app registration does not have"
openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$T/other.key" -out "$T/other.crt" -days 1 \
	-subj "/CN=another app" 2>/dev/null
cat "$T/other.key" "$T/other.crt" >"$T/other.pem"
must_fail 1 push c2 "${sp[@]}" AZURE_CLIENT_CERTIFICATE_PATH="$T/other.pem"
assert_contains "$T/err" "AADSTS700027"
secrets_absent

say "half a credential: named, not used"
must_fail 1 push s3 AZURE_CLIENT_SECRET="$ENTRA_SECRET"
assert_contains "$T/err" "AZURE_CLIENT_SECRET is set without AZURE_TENANT_ID and AZURE_CLIENT_ID"
assert_not_contains "$T/err" "$ENTRA_SECRET"

say "no Azure credential, no Docker config: the registry's own refusal"
tokens=$(entra_count '.route == "token" or .route == "msi" or .route == "imds"')
must_fail 1 push n1
assert_contains "$T/err" "registry 'myreg.azurecr.io' requires credentials"
assert_contains "$T/err" "no instance metadata service at http://169.254.169.254"
assert_eq "$(entra_count '.route == "token" or .route == "msi" or .route == "imds"')" "$tokens" \
	"token requests without a credential"
[ "$(entra_count '.route == "acr_token" and .auth == "none" and .status == 401')" -ge 1 ] ||
	fail "no anonymous registry token request"

say "IMDS named but silent: what was tried, and that az's cache is not read"
must_fail 1 push n2 MLDEPLOY_ENDPOINT_IMDS="http://127.0.0.1:$(free_port)"
assert_contains "$T/err" "no azure credentials"
assert_contains "$T/err" "AZURE_FEDERATED_TOKEN_FILE"
assert_contains "$T/err" "the token cache of a logged-in az is not read"

say "the admin user from the Docker config when no Entra ID credential is set"
mkdir -p "$HOME/.docker"
printf '{"auths": {"myreg.azurecr.io": {"auth": "%s"}}}\n' \
	"$(printf 'myreg:%s' "$ENTRA_ACR_ADMIN_PASS" | base64 -w0)" >"$HOME/.docker/config.json"
exchanges=$(count exchange)
run_ok push a1
assert_contains "$T/err" "credentials from $HOME/.docker/config.json (auths)"
assert_not_contains "$T/err" "instance metadata service"
secrets_absent
pushed a1
assert_eq "$(count exchange)" "$exchanges" "exchanges with the admin user"
[ "$(count acr_token '.auth == "admin"')" -ge 1 ] || fail "no registry token for the admin user"
# an Entra ID credential in the environment comes first
run_ok push s4 "${sp[@]}" AZURE_CLIENT_SECRET="$ENTRA_SECRET"
assert_contains "$T/err" "(Entra ID: environment (AZURE_CLIENT_SECRET))"
pushed s4
