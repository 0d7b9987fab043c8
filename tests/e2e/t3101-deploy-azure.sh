#!/usr/bin/env bash
# `mldeploy deploy --provider azure` of the bundled example, end to end on the fakes
# of Entra ID (service principal with a client secret), ACR (its token exchange in
# front of a real token-auth registry) and ARM (every body checked against the ACI
# 2023-05-01 swagger; the container group really runs, pulled by digest with the
# credentials mldeploy gave): build -> push to "ACR" -> create the resource group and
# the container group -> the FQDN answers /predict. Then: a redeploy with no change
# makes no mutating call and uploads nothing; --dry-run changes nothing and masks the
# secure value; status; a wrong secret and no credentials fail clearly; destroy.
# Nothing secret appears in any output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fqdn=iris-demo.eastus.azurecontainer.io
start_azure_rig "$fqdn"
AZURE_SUBSCRIPTION_ID=$(cat /proc/sys/kernel/random/uuid)
export AZURE_SUBSCRIPTION_ID
export MLDEPLOY_EXAMPLE_REPOSITORY=myreg.azurecr.io/ml/iris
secure_value="s3cure-$(_rig_random 12)"

mkdir -p "$T/proj/templates"
cp "$SRCDIR/deploy.example.yaml" "$T/proj/"
cp -r "$SRCDIR/templates/iris-flask" "$T/proj/templates/"
rm -rf "$T/proj/templates/iris-flask/app/__pycache__"
sed -i "s/^    memory_gb: 1.5\$/    memory_gb: 1.5\n    create_resource_group: true\n    env: { API_TOKEN: $secure_value }\n    secure_env: [API_TOKEN]/" \
	"$T/proj/deploy.example.yaml"
assert_contains "$T/proj/deploy.example.yaml" "secure_env: [API_TOKEN]"

example() {
	XDG_CACHE_HOME="$RIG_USER_CACHE" MLDEPLOY_EXAMPLE_OFFLINE=1 \
		"$SRCDIR/scripts/example.sh" "$@" -C "$T/proj"
}
features='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
predict() {
	curl -fsS --connect-to "$fqdn:8080:127.0.0.1:$ARM_APP_PORT" \
		-H 'Content-Type: application/json' -d "$features" "http://$fqdn:8080/predict"
}
no_secrets() {	# FILE...: nothing the fakes consider secret was printed
	local s f
	while read -r s; do
		[ -n "$s" ] || continue
		for f in "$@"; do
			! grep -qF -- "$s" "$f" || fail "a secret reached $f"
		done
	done < <(cat "$ENTRA_SECRETS"; echo "$ENTRA_SECRET"; echo "$secure_value")
}

say "first deploy"
run_ok example deploy --provider azure -v --json
cp "$T/out" "$T/deploy1.json"
cp "$T/err" "$T/deploy1.err"
assert_eq "$(jq -r .url "$T/deploy1.json")" "http://$fqdn:8080" "URL"
assert_eq "$(jq -r .health.ok "$T/deploy1.json")" true "health"
assert_contains "$T/deploy1.err" "AZURE_CLIENT_SECRET"
predict >"$T/p1.json"
assert_eq "$(jq -c .predictions "$T/p1.json")" '["setosa","virginica"]' "predictions"
no_secrets "$T/deploy1.json" "$T/deploy1.err"

say "no change: no mutating call, no upload"
uploads=$(registry_blob_uploads acr)
before=$(arm_mutations)
run_ok example deploy --provider azure -vv --json
assert_eq "$(jq -r .changed "$T/out")" false "redeploy changed nothing"
assert_eq "$(arm_mutations)" "$before" "no mutating ARM call"
assert_eq "$(registry_blob_uploads acr)" "$uploads" "no blob uploaded"
no_secrets "$T/out" "$T/err"

say "dry run of a code change"
sed -i 's/return jsonify(predictions=/return jsonify(version="v2", predictions=/' \
	"$T/proj/templates/iris-flask/app/app.py"
before=$(arm_mutations)
run_ok example deploy --provider azure --dry-run
assert_eq "$(arm_mutations)" "$before" "--dry-run made no mutating ARM call"
assert_contains "$T/out" '"secureValue": "***"'
assert_contains "$T/out" '"password": "***"'
no_secrets "$T/out" "$T/err"

say "the code change deployed (ACI replaces the container in place)"
run_ok example deploy --provider azure --json
assert_eq "$(jq -r .changed "$T/out")" true "changed"
predict >"$T/p2.json"
assert_eq "$(jq -r .version "$T/p2.json")" v2 "the new code serves"

say "status"
run_ok example status --provider azure --json
assert_eq "$(jq -r .state "$T/out")" Running "status state"
assert_eq "$(jq -r .health.ok "$T/out")" true "status health"

say "bad credentials"
AZURE_CLIENT_SECRET=wrong-secret must_fail 1 example status --provider azure
assert_contains "$T/err" AADSTS
no_secrets "$T/err"
(
	unset AZURE_CLIENT_SECRET AZURE_CLIENT_ID AZURE_TENANT_ID
	MLDEPLOY_ENDPOINT_IMDS=http://127.0.0.1:9 must_fail 1 example status --provider azure
)
assert_contains "$T/err" AZURE_CLIENT_SECRET

say "destroy"
run_ok example destroy --provider azure --yes --json
assert_eq "$(jq -r '.removed | length' "$T/out")" 1 "one container group removed"
run_ok example status --provider azure --json
assert_eq "$(jq -r .state "$T/out")" absent "gone"
