#!/usr/bin/env bash
# Rig self-test of tests/fakes/azurearm.py (the fake Azure Resource Manager for
# Container Instances), with curl only (no mldeploy), reached by its real host name
# over TLS (curl --connect-to, the rig CA): the official swagger example passes its
# validator; a missing, unknown or expired token is refused; api-version is required;
# bodies that break the swagger are refused naming the field (unknown member, wrong
# type, bad enum, missing required); a container group needs its resource group;
# a create answers 201 with Azure-AsyncOperation, its operation goes non-terminal ->
# Succeeded; the fake pulled the digest from a TLS registry with the credentials of
# imageRegistryCredentials and runs it: busybox httpd answers on the mapped port
# with both env values; wrong credentials end in InaccessibleImage; secrets never
# come back; an update replaces the container, a change ARM cannot make in place is
# 409; a crashing container shows Terminated, restartCount and events; lists page
# with nextLink; delete goes 202 -> 404 and removes the container; fault rules
# (429 with Retry-After, quota); the request log counts and never holds a secret.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SWAGGER=${RIG_API_MODELS:-$SRCDIR/../shared/api-models}
FAKE=$SRCDIR/tests/fakes/azurearm.py

say "the official example request passes the validator"
run_ok /usr/bin/python3 "$FAKE" --swagger "$SWAGGER/azure-containerinstance-2023-05-01.json" \
	--check-example "$SWAGGER/azure-containerinstance-2023-05-01-example-ContainerGroupsCreateOrUpdate.json"
assert_eq "$(cat "$T/out")" ok "example validation"

start_registry acr tls htpasswd puller pull-s3cret
make_busybox_image "$REG_ACR_ADDR" ml/app v1 tls
digest=$(skopeo_inspect "docker://$REG_ACR_ADDR/ml/app:v1" | jq -r .Digest)
# myacr.azurecr.io: a TLS front with a certificate for that name before the registry
front=$T/acrfront
rig_server_cert "$front" myacr.azurecr.io
printf '[]\n' >"$front/rules.json"
spawn_fake "$front/port" "$front/err" "registry front" /usr/bin/python3 \
	"$SRCDIR/tests/fakes/faultproxy.py" --upstream "https://$REG_ACR_ADDR" --upstream-ca "$RIG_CA" \
	--rules "$front/rules.json" --log "$front/requests.log" \
	--tls-cert "$front/server.crt" --tls-key "$front/server.key"
start_azure_arm --registry-route "myacr.azurecr.io=127.0.0.1:$SPAWNED_PORT" --retry-after 0
tok=$(arm_token)

SUB=/subscriptions/00000000-0000-0000-0000-0000000000aa
RG=$SUB/resourcegroups/ml
CGS=$SUB/resourceGroups/ml/providers/Microsoft.ContainerInstance/containerGroups
V=api-version=2023-05-01
RGV=api-version=2021-04-01
SECRET=sv-$RANDOM$RANDOM

# req METHOD PATH_OR_URL [BODY_FILE] [CURL_ARGS...]: prints the status; body in
# $T/body, headers in $T/headers. The bearer token is $auth (default: $tok), the
# body's Content-Type $ctype (default: application/json).
req() {
	local m=$1 url=$2 data=() a=()
	shift 2
	if [ "$#" -gt 0 ] && [ -n "$1" ]; then
		data=(-H "Content-Type: ${ctype:-application/json}" --data-binary "@$1")
	fi
	[ "$#" -gt 0 ] && shift
	case $url in
	https://*) ;;
	*) url=https://management.azure.com$url ;;
	esac
	[ -z "${auth-$tok}" ] || a=(-H "Authorization: Bearer ${auth-$tok}")
	if [ "$m" = HEAD ]; then
		a+=(-I)
	else
		a+=(-X "$m")
	fi
	: >"$T/body"
	curl -sS --max-time 30 --connect-to "$ARM_CONNECT_TO" --cacert "$RIG_CA" "${a[@]}" \
		"${data[@]}" "$@" -D "$T/headers" -o "$T/body" -w '%{http_code}' "$url"
}
header() {
	tr -d '\r' <"$T/headers" | awk -v n="${1,,}" '
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) v = substr($0, i + 2) }
		END { print v }'
}
# expect STATUS CODE METHOD PATH [BODY]: the answer's status and error code
expect() {
	local want=$1 code=$2 got
	shift 2
	got=$(req "$@")
	if [ "$got" != "$want" ]; then
		_rig_show "body" "$T/body"
		fail "$1 $2: status $got, expected $want"
	fi
	[ "$code" = - ] || assert_eq "$(jq -r .error.code "$T/body")" "$code" "$1 $2: error code"
}
# wait_op URL: poll an Azure-AsyncOperation URL until it is terminal; its last
# answer in $T/op.json, the number of non-terminal answers in $T/op.polls. The
# deadline is the fake's own for starting a group's containers (120 s): a loaded
# machine's podman may take that long.
wait_op() {
	local url=$1 s polls=0 end=$((SECONDS + 130))
	while ((SECONDS < end)); do
		[ "$(req GET "$url")" = 200 ] || fail "GET $url: $(cat "$T/body")"
		s=$(jq -r .status "$T/body")
		case $s in
		Succeeded | Failed | Canceled)
			cp "$T/body" "$T/op.json"
			echo "$polls" >"$T/op.polls"
			return 0 ;;
		Pending | InProgress) polls=$((polls + 1)) ;;
		*) fail "operation status '$s'" ;;
		esac
		sleep 0.1
	done
	fail "operation $url did not end"
}
# group NAME LABEL COMMAND [JQ_FILTER]: a container group body in $T/NAME.json, its
# image myacr.azurecr.io/ml/app@DIGEST
group() {
	local name=$1 label=$2 cmd=$3
	jq -n --arg img "myacr.azurecr.io/ml/app@$digest" --arg cmd "$cmd" --arg dns "$label" \
		--arg secret "$SECRET" '{
		location: "East US",
		tags: {"managed-by": "mldeploy"},
		properties: {
			osType: "Linux", restartPolicy: "Always",
			containers: [{name: "app", properties: {
				image: $img, command: ["/bin/sh", "-c", $cmd],
				ports: [{port: 8080, protocol: "TCP"}],
				environmentVariables: [{name: "GREETING", value: "hello"},
					{name: "TOKEN", secureValue: $secret}],
				resources: {requests: {cpu: 1, memoryInGB: 1.5}}}}],
			imageRegistryCredentials: [{server: "myacr.azurecr.io", username: "puller",
				password: "pull-s3cret"}],
			ipAddress: {type: "Public", ports: [{port: 8080, protocol: "TCP"}],
				dnsNameLabel: $dns}}}' | jq "${4:-.}" >"$T/$name.json"
}
# shellcheck disable=SC2016  # expanded by the container's shell
HTTPD='echo "$GREETING $TOKEN" >/tmp/index.html && exec httpd -f -p 8080 -h /tmp'

say "authentication"
auth='' expect 401 AuthenticationFailed GET "$RG?$RGV"
[ -n "$(header WWW-Authenticate)" ] || fail "401 without WWW-Authenticate"
auth=not-a-listed-token expect 401 InvalidAuthenticationToken GET "$RG?$RGV"
b64() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
expired="$(b64 '{"alg":"none"}').$(b64 '{"aud":"https://management.azure.com/","exp":1000}').sig"
arm_token "$expired" >/dev/null
auth=$expired expect 401 ExpiredAuthenticationToken GET "$RG?$RGV"
graph="$(b64 '{"alg":"none"}').$(b64 '{"aud":"https://graph.microsoft.com","exp":4000000000}').sig"
arm_token "$graph" >/dev/null
auth=$graph expect 401 InvalidAuthenticationTokenAudience GET "$RG?$RGV"

say "api-version"
expect 400 MissingApiVersionParameter GET "$RG"
expect 400 InvalidApiVersionParameter GET "$CGS/x?api-version=2019-12-01"

say "resource group"
group app mlapp "$HTTPD"
expect 404 ResourceGroupNotFound PUT "$CGS/app?$V" "$T/app.json"
expect 404 ResourceGroupNotFound GET "$CGS/app?$V"
assert_eq "$(req HEAD "$RG?$RGV")" 404 "HEAD of a missing group"
printf '{"location":"East US","tags":{"managed-by":"mldeploy"}}' >"$T/rg.json"
expect 201 - PUT "$RG?$RGV" "$T/rg.json"
assert_eq "$(jq -c '[.name, .location, .tags, .properties.provisioningState]' "$T/body")" \
	'["ml","eastus",{"managed-by":"mldeploy"},"Succeeded"]' "resource group"
expect 200 - PUT "$RG?$RGV" "$T/rg.json"
assert_eq "$(req HEAD "$RG?$RGV")" 204 "HEAD of the group"
printf '{"location":"westus"}' >"$T/rg2.json"
expect 409 InvalidResourceGroupLocation PUT "$RG?$RGV" "$T/rg2.json"
printf '{"tags":{}}' >"$T/rg3.json"
expect 400 InvalidRequestContent PUT "$RG?$RGV" "$T/rg3.json"

say "schema rejections name the field"
reject() { # JQ_FILTER TARGET WORDS
	jq "$1" "$T/app.json" >"$T/bad.json"
	expect 400 InvalidRequestContent PUT "$CGS/bad?$V" "$T/bad.json"
	assert_eq "$(jq -r .error.target "$T/body")" "$2" "target of $1"
	assert_contains "$T/body" "$3"
}
reject '.properties.containers[0].properties.gpuCount = 1' \
	'properties.containers[0].properties.gpuCount' "Could not find member 'gpuCount'"
reject '.properties.containers[0].properties.resources.requests.cpu = "1"' \
	'properties.containers[0].properties.resources.requests.cpu' "to type 'Double'"
reject '.properties.ipAddress.ports[0].port = "8080"' 'properties.ipAddress.ports[0].port' \
	"to type 'Int32'"
reject '.properties.restartPolicy = "Sometimes"' 'properties.restartPolicy' \
	"to type 'ContainerGroupRestartPolicy'"
reject 'del(.properties.osType)' 'properties.osType' "Required property 'osType' not found"
reject 'del(.properties.containers[0].properties.resources.requests.memoryInGB)' \
	'properties.containers[0].properties.resources.requests.memoryInGB' "Required property"
reject '.tags.n = 1' "tags['n']" "to type 'String'"
jq 'del(.location)' "$T/app.json" >"$T/bad.json"
expect 400 LocationRequired PUT "$CGS/bad?$V" "$T/bad.json"
jq '.properties.containers[0].properties.environmentVariables[0].name = "A.B"' "$T/app.json" >"$T/bad.json"
expect 400 InvalidContainerEnvironmentVariable PUT "$CGS/bad?$V" "$T/bad.json"
printf 'not json' >"$T/bad.json"
expect 400 InvalidRequestContent PUT "$CGS/bad?$V" "$T/bad.json"
ctype=text/plain expect 415 UnsupportedMediaType PUT "$CGS/bad?$V" "$T/app.json"
expect 404 ResourceNotFound GET "$CGS/bad?$V"
assert_eq "$(arm_count PUT '/containerGroups/bad$' 201)" 0 "no rejected body was created"

say "create: 201, Azure-AsyncOperation, operation -> Succeeded, the image runs"
# read-only members and lower-case enum values are accepted, as ARM does
jq '.properties.osType = "linux" | .properties.provisioningState = "Succeeded"
	| .properties.instanceView = {state: "Running"} | .id = "/x"' "$T/app.json" >"$T/app-in.json"
expect 201 - PUT "$CGS/app?$V" "$T/app-in.json"
op=$(header Azure-AsyncOperation)
case $op in
"https://management.azure.com$SUB/providers/Microsoft.ContainerInstance/locations/eastus/operations/"*"?api-version="*) ;;
*) fail "Azure-AsyncOperation: '$op'" ;;
esac
[ -n "$(header Retry-After)" ] || fail "no Retry-After on the create"
assert_eq "$(jq -r '[.properties.provisioningState, .properties.instanceView.state, .properties.osType] | join(" ")' "$T/body")" \
	"Pending Pending Linux" "create answer"
assert_not_contains "$T/body" "$SECRET"
assert_not_contains "$T/body" pull-s3cret
wait_op "$op"
assert_eq "$(jq -r .status "$T/op.json")" Succeeded "create operation"
[ "$(cat "$T/op.polls")" -ge 1 ] || fail "the operation was never in progress"
expect 200 - GET "$CGS/app?$V"
assert_eq "$(jq -r '[.properties.provisioningState, .properties.instanceView.state,
	.properties.containers[0].properties.instanceView.currentState.state,
	.properties.ipAddress.fqdn] | join(" ")' "$T/body")" \
	"Succeeded Running Running mlapp.eastus.azurecontainer.io" "GET after create"
assert_eq "$(jq -c '[.properties.containers[0].properties.instanceView.events[].name]' "$T/body")" \
	'["Pulling","Pulled","Created","Started"]' "events"
assert_eq "$(jq -c .properties.containers[0].properties.environmentVariables "$T/body")" \
	'[{"name":"GREETING","value":"hello"},{"name":"TOKEN"}]' "env in the answer"
assert_eq "$(jq -c .properties.imageRegistryCredentials "$T/body")" \
	'[{"server":"myacr.azurecr.io","username":"puller"}]' "credentials in the answer"
assert_eq "$(arm_host_port ml app)" "$ARM_APP_PORT" "host port of the first group"
page() {
	curl -sS --max-time 5 --connect-to "mlapp.eastus.azurecontainer.io:8080:127.0.0.1:$ARM_APP_PORT" \
		http://mlapp.eastus.azurecontainer.io:8080/index.html
}
wait_for 10 page || fail "the container does not answer on $ARM_APP_PORT"
assert_eq "$(page)" "hello $SECRET" "page served by the container"
[ "$(registry_count acr GET "^/v2/ml/app/manifests/$digest" 200)" -ge 1 ] ||
	fail "the fake did not pull the digest from the registry"
grep -q "^method=GET path=/v2/ml/app/manifests/$digest status=200 .* auth=basic " "$front/requests.log" ||
	fail "the pull did not go through myacr.azurecr.io's route with the credentials"

say "wrong registry credentials, or a registry without a route: InaccessibleImage"
group nopull nopull "$HTTPD" '.properties.imageRegistryCredentials[0].password = "wrong"'
expect 201 - PUT "$CGS/nopull?$V" "$T/nopull.json"
wait_op "$(header Azure-AsyncOperation)"
assert_eq "$(jq -r '[.status, .error.code] | join(" ")' "$T/op.json")" "Failed InaccessibleImage" \
	"operation of an image that cannot be pulled"
expect 200 - GET "$CGS/nopull?$V"
assert_eq "$(jq -r .properties.provisioningState "$T/body")" Failed "provisioningState"
jq -e '.properties.containers[0].properties.instanceView.events[] | select(.name == "Failed" and .type == "Warning")' \
	"$T/body" >/dev/null || fail "no Failed event: $(cat "$T/body")"
group noroute noroute "$HTTPD" '.properties.containers[0].properties.image |= sub("myacr"; "other")'
expect 201 - PUT "$CGS/noroute?$V" "$T/noroute.json"
wait_op "$(header Azure-AsyncOperation)"
assert_eq "$(jq -r '[.status, .error.code] | join(" ")' "$T/op.json")" "Failed InaccessibleImage" \
	"operation of an image on a registry without a route"

say "update in place replaces the container; a change ARM cannot make is 409"
group app mlapp "$HTTPD" '.properties.containers[0].properties.environmentVariables[0].value = "bonjour"
	| .properties.ipAddress.ports[0].protocol = "tcp"'
expect 200 - PUT "$CGS/app?$V" "$T/app.json"
wait_op "$(header Azure-AsyncOperation)"
assert_eq "$(jq -r .status "$T/op.json")" Succeeded "update operation"
wait_for 10 page || fail "the updated container does not answer"
assert_eq "$(page)" "bonjour $SECRET" "page after the update"
assert_eq "$(podman ps -a --filter label=io.mldeploy.fake=azurearm --format '{{.Names}}' | grep -c -- '-app-app-')" 1 \
	"containers of the group after the update"
for change in '.properties.restartPolicy = "Never"' '.properties.containers[0].properties.resources.requests.cpu = 2' \
	'.properties.osType = "Windows"'; do
	jq "$change" "$T/app.json" >"$T/app2.json"
	expect 409 InvalidContainerGroupUpdate PUT "$CGS/app?$V" "$T/app2.json"
	assert_contains "$T/body" "you must delete it first and then create a new one"
done
jq '.location = "westus"' "$T/app.json" >"$T/app2.json"
expect 409 InvalidResourceLocation PUT "$CGS/app?$V" "$T/app2.json"

say "a crashing container: Terminated, restartCount, events"
# straight from the registry's address this time, no route
group crash crash 'echo boom; exit 3' '.properties.restartPolicy = "OnFailure"
	| .properties.containers[0].properties.image |= sub("myacr.azurecr.io"; env.REG_ACR_ADDR)
	| .properties.imageRegistryCredentials[0].server = env.REG_ACR_ADDR'
expect 201 - PUT "$CGS/crash?$V" "$T/crash.json"
wait_op "$(header Azure-AsyncOperation)"
restarted() {
	req GET "$CGS/crash?$V" >/dev/null &&
		jq -e '.properties.containers[0].properties.instanceView | .restartCount >= 1
			and .previousState.state == "Terminated" and .previousState.exitCode == 3' "$T/body"
}
wait_for 15 restarted || fail "no restart seen: $(cat "$T/body")"
jq -e '.properties.containers[0].properties.instanceView.events[] | select(.name == "BackOff")' \
	"$T/body" >/dev/null || fail "no BackOff event"
expect 200 - GET "$CGS/crash/containers/app/logs?$V&tail=5"
assert_contains "$T/body" boom
group once once 'exit 3' '.properties.restartPolicy = "Never" | del(.properties.ipAddress)'
expect 201 - PUT "$CGS/once?$V" "$T/once.json"
wait_op "$(header Azure-AsyncOperation)"
terminated() {
	req GET "$CGS/once?$V" >/dev/null &&
		jq -e '.properties.instanceView.state == "Failed" and (.properties.containers[0].properties.instanceView
			| .restartCount == 0 and .currentState.state == "Terminated" and .currentState.exitCode == 3)' "$T/body"
}
wait_for 10 terminated || fail "not Terminated: $(cat "$T/body")"

say "list with nextLink"
names=()
url="$CGS?$V"
for ((i = 0; i < 5 && ${#url}; i++)); do
	expect 200 - GET "$url"
	mapfile -t -O "${#names[@]}" names < <(jq -r '.value[].name' "$T/body")
	url=$(jq -r '.nextLink // ""' "$T/body")
done
assert_eq "${names[*]}" "app crash nopull noroute once" "listed groups"
assert_eq "$(arm_count GET '/containerGroups$' 200)" 3 "pages"

say "fault rules: 429 with Retry-After, quota"
arm_rules '[{"method": "GET", "path_regex": "/containerGroups/app[?]", "action": "status", "code": 429, "retry_after": 3},
	{"method": "PUT", "path_regex": "/containerGroups/more[?]", "action": "quota"}]'
expect 429 TooManyRequests GET "$CGS/app?$V"
assert_eq "$(header Retry-After)" 3 "Retry-After of the 429"
expect 200 - GET "$CGS/app?$V"
group more more "$HTTPD"
expect 400 ContainerGroupQuotaReached PUT "$CGS/more?$V" "$T/more.json"
assert_contains "$T/body" "container group quota 'StandardCores' exceeded in region 'eastus'"
arm_rules '[]'

say "delete: 202, then 404, the container is gone"
expect 202 - DELETE "$CGS/app?$V"
loc=$(header Location)
if [ -z "$loc" ] || [ -z "$(header Azure-AsyncOperation)" ]; then
	fail "DELETE without Location or Azure-AsyncOperation"
fi
gone() { [ "$(req GET "$loc")" = 204 ]; }
wait_for 20 gone || fail "delete did not finish: $(cat "$T/body")"
expect 404 ResourceNotFound GET "$CGS/app?$V"
expect 204 - DELETE "$CGS/app?$V"
page >/dev/null 2>&1 && fail "the deleted group still answers"
assert_eq "$(podman ps -a --filter label=io.mldeploy.fake=azurearm --format '{{.Names}}' | grep -c -- '-app-app-' || true)" 0 \
	"containers of the deleted group"

say "deleting the resource group removes its container groups"
expect 202 - DELETE "$RG?$RGV"
loc=$(header Location)
rg_gone() { [ "$(req GET "$loc")" = 200 ]; }
wait_for 20 rg_gone || fail "resource group delete did not finish"
expect 404 ResourceGroupNotFound GET "$RG?$RGV"
assert_eq "$(podman ps -a --filter label=io.mldeploy.fake=azurearm -q | wc -l)" 0 "containers left"

say "the request log"
assert_eq "$(arm_count PUT '/containerGroups/app$' 201)" 1 "creates of app"
assert_eq "$(arm_count PUT '/containerGroups/app$' 200)" 1 "updates of app"
writes=$(jq -r 'select(.method != "GET" and .method != "HEAD") | .method' "$ARM_LOG" | wc -l)
assert_eq "$(arm_mutations)" "$writes" "arm_mutations"
[ "$writes" -ge 20 ] || fail "only $writes writes logged"
assert_eq "$(jq -r 'select(.changed) | .path' "$ARM_LOG" | grep -c '/containerGroups/bad$' || true)" 0 \
	"a rejected body changed nothing"
for f in "$ARM_LOG" "$ARM_DIR/azurearm.err" "$ARM_STATE"; do
	assert_not_contains "$f" "$tok"
	assert_not_contains "$f" "$SECRET"
	assert_not_contains "$f" pull-s3cret
done
say "ok"
