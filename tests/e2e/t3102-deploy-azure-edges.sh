#!/usr/bin/env bash
# The Azure provider's edges, on a small busybox httpd image pushed to "ACR" and run
# by the fake ARM: no subscription; status of nothing (its token refused once with
# 401: a new token, the call again); a missing resource group (no
# mutating call) and one created on request (tagged managed-by); a dry run (no
# mutating call, secrets masked); quota exceeded; a 429 with Retry-After on the
# first PUT; rollback with nothing before, then after two deploys; a change ARM
# cannot make in place, then --recreate; a container that exits; destroy --all of
# a resource group mldeploy created, and of one it did not. Nothing secret appears
# in any output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fqdn=web-edge.eastus.azurecontainer.io
start_azure_rig "$fqdn"
busybox_layout
sub=$(cat /proc/sys/kernel/random/uuid)
secure_value="s3cure-$(_rig_random 12)"
arm_tok=$(arm_token)

mkdir -p "$T/ctx/www" "$T/outputs"
echo ok >"$T/ctx/www/healthz"
echo '{"predictions": ["first"]}' >"$T/ctx/www/index.html"
# write_config [AZURE_KEYS [CMD_JSON]]: resource group $rg (default edge); no
# subscription in the file (AZURE_SUBSCRIPTION_ID gives it).
write_config() {
	local keys="resource_group: ${rg:-edge}, ${1:-}"
	local cmd=${2:-'["httpd", "-f", "-p", "8080", "-h", "/www"]'}
	cat >"$T/ctx/deploy.yaml" <<YAML
name: web
image:
  base: oci-layout:$BUSYBOX_LAYOUT:amd64
  repository: myreg.azurecr.io/edge/web
  copy:
    - { src: www/, dst: /www/ }
  port: 8080
  cmd: $cmd
deploy:
  azure: { location: eastus, dns_label: web-edge, cpu: 0.5, memory_gb: 0.5,
           env: { API_TOKEN: $secure_value, GREETING: hello }, secure_env: [API_TOKEN],
           ${keys%, } }
health: { path: /healthz }
YAML
}
# Every command's output is kept, to look for secrets in at the end.
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
index() {	# what the FQDN serves at /
	curl -fsS --max-time 10 --connect-to "$fqdn:8080:127.0.0.1:$ARM_APP_PORT" "http://$fqdn:8080/"
}
arm() {	# METHOD PATH [CURL_ARGS...]: straight to the fake ARM, body on stdout
	local m=$1 p=$2
	shift 2
	curl -sS --max-time 30 --connect-to "$ARM_CONNECT_TO" --cacert "$RIG_CA" -X "$m" \
		-H "Authorization: Bearer $arm_tok" "$@" "https://management.azure.com$p"
}
one_error_line() {	# FILE TEXT: one error line, with TEXT; nothing after it
	assert_eq "$(grep -c '^mldeploy: error: ' "$1")" 1 "one error in $1"
	assert_eq "$(grep -cF -- "$2" "$1")" 1 "$2 once in $1"
	tail -n 1 "$1" >"$1.last"
	assert_contains "$1.last" "$2"
}
rg_path=/subscriptions/$sub/resourcegroups/edge
rgv=api-version=2021-04-01
cg='/containerGroups/web$'

say "no subscription: neither deploy.azure.subscription nor AZURE_SUBSCRIPTION_ID"
write_config
uploads=$(registry_blob_uploads acr)
bad 2 deploy --provider azure
assert_contains "$T/err" deploy.azure.subscription
assert_contains "$T/err" AZURE_SUBSCRIPTION_ID
assert_eq "$(arm_mutations)" 0 "no mutating ARM call"
assert_eq "$(registry_blob_uploads acr)" "$uploads" "nothing pushed for a deploy that cannot start"
bad 2 status --provider azure
assert_contains "$T/err" AZURE_SUBSCRIPTION_ID
export AZURE_SUBSCRIPTION_ID=$sub

say "status and rollback of a service not deployed (the token refused once: a new one)"
arm_rules '[{"method": "GET", "path_regex": "/containerGroups/web([?]|$)", "nth": 1, "action": "status", "code": 401}]'
tokens=$(entra_count '.route == "token"')
ok -v status --provider azure
arm_rules '[]'
assert_contains "$T/out" "azure: not deployed"
assert_contains "$T/err" "was refused (HTTP 401): getting a new one"
assert_eq "$(entra_count '.route == "token"')" $((tokens + 2)) "a new token after the 401"
bad 1 rollback --provider azure
assert_contains "$T/err" "web is not deployed"

say "the resource group does not exist, create_resource_group not set"
bad 1 -vv deploy --provider azure
assert_contains "$T/err" "resource group 'edge' does not exist"
assert_contains "$T/err" "deploy.azure.create_resource_group: true"
assert_eq "$(arm_mutations)" 0 "no mutating ARM call"

say "dry run: no mutating call, secrets masked"
write_config "create_resource_group: true"
ok -vv deploy --provider azure --dry-run
assert_eq "$(arm_mutations)" 0 "--dry-run made no mutating ARM call"
assert_contains "$T/out" '"secureValue": "***"'
assert_contains "$T/out" '"password": "***"'
assert_contains "$T/out" '"value": "hello"'
assert_eq "$(jq -r '.steps[] | select(.action == "create the resource group") | .body.tags["managed-by"]' "$T/out")" \
	mldeploy "the plan creates the resource group, tagged"

say "quota exceeded"
arm_rules '[{"method": "PUT", "path_regex": "/containerGroups/", "action": "quota"}]'
bad 1 deploy --provider azure
one_error_line "$T/err" ContainerGroupQuotaReached
assert_eq "$(arm_count PUT "$cg")" 1 "one PUT, not retried"
arm_rules '[]'

say "the resource group created, tagged; a 429 with Retry-After on the first PUT is retried"
arm_rules '[{"method": "PUT", "path_regex": "/containerGroups/", "action": "status", "code": 429, "retry_after": 1}]'
puts=$(arm_count PUT "$cg")
ok -v deploy --provider azure --json
assert_eq "$(jq -r .changed "$T/out")" true "deployed"
assert_eq "$(jq -r .url "$T/out")" "http://$fqdn:8080" "URL"
assert_eq "$(jq -r .health.ok "$T/out")" true "health"
assert_eq "$(($(arm_count PUT "$cg") - puts))" 2 "the PUT answered 429 was sent again"
assert_eq "$(arm_count PUT "$cg" 429)" 1 "one 429"
assert_contains "$T/err" "429"
arm_rules '[]'
arm GET "$rg_path?$rgv" >"$T/rg.json"
assert_eq "$(jq -r '.tags["managed-by"]' "$T/rg.json")" mldeploy "the resource group is tagged"
index >"$T/index1"
assert_contains "$T/index1" first

say "rollback with nothing before"
bad 1 rollback --provider azure
assert_contains "$T/err" "nothing to roll back to"

say "a second image, then rollback serves the first again"
echo '{"predictions": ["second"]}' >"$T/ctx/www/index.html"
ok deploy --provider azure --json
assert_eq "$(jq -r .changed "$T/out")" true "the second image deployed"
index >"$T/index2"
assert_contains "$T/index2" second
ok rollback --provider azure --json
assert_eq "$(jq -r .health.ok "$T/out")" true "health after the rollback"
index >"$T/index3"
assert_contains "$T/index3" first
echo '{"predictions": ["first"]}' >"$T/ctx/www/index.html"

say "a change ARM cannot make in place, then --recreate"
write_config "create_resource_group: true, restart_policy: Never"
deletes=$(arm_count DELETE "$cg")
bad 1 deploy --provider azure
assert_contains "$T/err" "--recreate"
assert_contains "$T/err" InvalidContainerGroupUpdate
assert_eq "$(arm_count DELETE "$cg")" "$deletes" "nothing deleted without --recreate"
index >"$T/index4"
assert_contains "$T/index4" first
lines=$(wc -l <"$ARM_LOG")
ok deploy --provider azure --recreate --json
assert_eq "$(jq -r .changed "$T/out")" true "recreated"
# the fake's log of this deploy, on the group: PUT refused, DELETE, GET until
# gone, PUT created
tail -n +"$((lines + 1))" "$ARM_LOG" |
	jq -r 'select(.path | test("/containerGroups/web$"; "i")) | "\(.method) \(.status)"' |
	uniq | tr '\n' ' ' >"$T/recreate.log"
assert_contains "$T/recreate.log" "PUT 409 DELETE 202 GET 200 GET 404 PUT 201 "
index >"$T/index5"
assert_contains "$T/index5" first

say "a container that exits"
write_config "create_resource_group: true, restart_policy: Never" '["false"]'
bad 1 deploy --provider azure --timeout 20s
one_error_line "$T/err" "container web is Terminated (exit code 1, "
assert_contains "$T/err" "events: "
assert_not_contains "$T/err" "health check failed"
say "a command that does not exist"
write_config "create_resource_group: true, restart_policy: Never" '["/no/such/file"]'
bad 1 deploy --provider azure --timeout 20s
one_error_line "$T/err" "/no/such/file"

say "destroy --all removes the container group and the resource group mldeploy created"
ok destroy --provider azure --all --yes --json
assert_eq "$(jq -c '[.removed[] | .kind]' "$T/out")" '["container group","resource group"]' "removed"
arm GET "$rg_path?$rgv" -o /dev/null -w '%{http_code}' >"$T/code"
assert_eq "$(cat "$T/code")" 404 "the resource group is gone"

say "destroy --all leaves a resource group mldeploy did not create"
arm PUT "/subscriptions/$sub/resourcegroups/theirs?$rgv" -H 'Content-Type: application/json' \
	-d '{"location": "eastus"}' -o /dev/null -w '%{http_code}' >"$T/code"
assert_eq "$(cat "$T/code")" 201 "their resource group created"
rg=theirs write_config
ok deploy --provider azure --json
assert_eq "$(jq -r .health.ok "$T/out")" true "deployed into their resource group"
ok destroy --provider azure --all --yes --json
assert_eq "$(jq -c '[.removed[] | .kind]' "$T/out")" '["container group"]' "only the container group"
assert_contains "$T/err" "resource group theirs was not created by mldeploy"
arm GET "/subscriptions/$sub/resourcegroups/theirs?$rgv" >"$T/theirs.json"
assert_eq "$(jq -r .name "$T/theirs.json")" theirs "their resource group stays"
ok status --provider azure
assert_contains "$T/out" "azure: not deployed"

say "nothing secret in any output"
[ "$(wc -l <"$ENTRA_SECRETS")" -gt 0 ] || fail "the Entra fake recorded no secret to look for"
while read -r s; do
	[ -n "$s" ] || continue
	for f in "$T"/outputs/*; do
		! grep -qF -- "$s" "$f" || fail "a secret reached $f"
	done
done < <(cat "$ENTRA_SECRETS"; echo "$ENTRA_SECRET"; echo "$secure_value")
