#!/usr/bin/env bash
# The local provider's edges, on a small busybox httpd image: `run` until Ctrl-C,
# a run whose health check never passes, a signal during the wait: nothing is left
# running on any path. Provider choice, engine errors, a container in the way that
# is not ours, status and destroy of nothing, and each command's --help.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_engine --proxy
busybox_layout
export DOCKER_HOST=$ENGINE_HOST
port=$(free_port)
mkdir -p "$T/ctx/www"
echo ok >"$T/ctx/www/healthz"
echo '{"predictions": ["static"]}' >"$T/ctx/www/index.html"
write_config() {	# HEALTH_PATH [DEPLOY_SECTION]
	local section="deploy: { local: { port: $port } }"
	[ "$#" -lt 2 ] || section=$2
	cat >"$T/ctx/deploy.yaml" <<YAML
name: web
image:
  base: oci-layout:$BUSYBOX_LAYOUT:amd64
  copy:
    - { src: www/, dst: /www/ }
  port: 8080
  cmd: ["httpd", "-f", "-p", "8080", "-h", "/www"]
$section
health: { path: $1 }
YAML
}
ours() {
	engine_api GET "/containers/json?all=1&filters=$(jq -rn '{label: ["mldeploy.service=web"]} | tojson | @uri')" |
		jq -r 'length'
}
write_config /healthz

say "--help describes every option, global options after the command"
for c in deploy status rollback destroy render run; do
	run_ok "$MLDEPLOY" "$c" --help
	assert_contains "$T/out" "mldeploy-$c(1)"
done
run_ok "$MLDEPLOY" deploy --help
assert_contains "$T/out" "--dry-run             print the plan"
run_ok "$MLDEPLOY" validate -C "$T/ctx" -f deploy.yaml --json
assert_eq "$(jq -r '.config.deploy.local.port' "$T/out")" "$port" "deploy.local in validate"

say "provider choice"
must_fail 2 "$MLDEPLOY" -C "$T/ctx" deploy --provider nosuch
assert_contains "$T/err" "unknown provider 'nosuch'"
must_fail 2 "$MLDEPLOY" -C "$T/ctx" deploy --provider gcp
assert_contains "$T/err" "no deploy.gcp section"
write_config /healthz ""
must_fail 2 "$MLDEPLOY" -C "$T/ctx" deploy
assert_contains "$T/err" "names no provider"
write_config /healthz

say "engine errors"
DOCKER_HOST=unix://$T/no-engine.sock must_fail 1 "$MLDEPLOY" -C "$T/ctx" status
assert_contains "$T/err" "podman system service"
DOCKER_HOST=http://nowhere must_fail 2 "$MLDEPLOY" -C "$T/ctx" status
assert_contains "$T/err" "unix:///PATH or tcp://HOST:PORT"

say "status and destroy of nothing"
run_ok "$MLDEPLOY" -C "$T/ctx" status
assert_contains "$T/out" "not deployed"
run_ok "$MLDEPLOY" -C "$T/ctx" destroy --yes
assert_contains "$T/err" "nothing of"

say "dry run on an empty engine"
run_ok "$MLDEPLOY" -C "$T/ctx" deploy --dry-run
assert_eq "$(engine_mutations)" 0 "no mutating call"
assert_contains "$T/out" '"/images/load"'
assert_contains "$T/out" '"/containers/create?name=web"'

say "deploy, then a container in the way that is not ours"
run_ok "$MLDEPLOY" -C "$T/ctx" deploy --json
assert_eq "$(jq -r .url "$T/out")" "http://127.0.0.1:$port" "URL"
img=$(engine_api GET '/containers/web/json' | jq -r .Image)
engine_api POST '/containers/create?name=web-next' \
	-d "{\"Image\": \"$img\", \"Cmd\": [\"sleep\", \"600\"]}" >/dev/null
echo changed >"$T/ctx/www/index.html"
must_fail 1 "$MLDEPLOY" -C "$T/ctx" deploy
assert_contains "$T/err" "did not create"
run_ok curl -fsS "http://127.0.0.1:$port/healthz"
assert_eq "$(engine_api GET '/images/json' | jq 'length')" 1 "the failed deploy took its image away"
engine_api DELETE '/containers/web-next?force=1' >/dev/null
run_ok "$MLDEPLOY" -C "$T/ctx" destroy --yes
assert_eq "$(ours)" 0 "destroy removed ours"
assert_eq "$(engine_api GET '/images/json' | jq 'length')" 0 "and its image"

say "settings: a port change is a change; the plan masks environment values"
section() { echo "deploy: { local: { port: $1, env: { API_TOKEN: s3cr3t-value } } }"; }
write_config /healthz "$(section "$port")"
run_ok "$MLDEPLOY" -C "$T/ctx" deploy --json
assert_eq "$(jq -r .changed "$T/out")" true "deployed"
port2=$(free_port)
write_config /healthz "$(section "$port2")"
run_ok "$MLDEPLOY" -C "$T/ctx" -vv deploy --dry-run
assert_contains "$T/out" 'API_TOKEN=***'
assert_not_contains "$T/out" s3cr3t-value
assert_not_contains "$T/err" s3cr3t-value
run_ok "$MLDEPLOY" -C "$T/ctx" deploy --json
assert_eq "$(jq -r .changed "$T/out")" true "a new port is a change"
assert_eq "$(jq -r .url "$T/out")" "http://127.0.0.1:$port2" "the new port"
run_ok curl -fsS "http://127.0.0.1:$port2/healthz"
must_fail 7 curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz"
must_fail 2 "$MLDEPLOY" -C "$T/ctx" deploy --traffic 50
assert_contains "$T/err" "cannot split traffic"
must_fail 2 "$MLDEPLOY" -C "$T/ctx" render app.yaml
assert_contains "$T/err" "no platform file"

say "--no-traffic starts the new revision beside the serving one"
echo '{"predictions": ["no-traffic"]}' >"$T/ctx/www/index.html"
run_ok "$MLDEPLOY" -C "$T/ctx" deploy --no-traffic --json
candidate=$(jq -r .candidate_url "$T/out")
[ "$candidate" != null ] || fail "no candidate URL reported"
run_ok curl -fsS "$candidate/"
assert_contains "$T/out" no-traffic
run_ok curl -fsS "http://127.0.0.1:$port2/"
assert_not_contains "$T/out" no-traffic
run_ok "$MLDEPLOY" -C "$T/ctx" deploy --json
run_ok curl -fsS "http://127.0.0.1:$port2/"
assert_contains "$T/out" no-traffic
assert_eq "$(ours)" 1 "the checked candidate was replaced, not left beside"
run_ok "$MLDEPLOY" -C "$T/ctx" destroy --yes
write_config /healthz
echo '{"predictions": ["static"]}' >"$T/ctx/www/index.html"

say "run until interrupted"
spawn "$T/run.out" "$T/run.err" "$MLDEPLOY" -C "$T/ctx" run
run_pid=$SPAWNED_PID
wait_for 60 grep -q 'serving at' "$T/run.err" || fail "run never served: $(cat "$T/run.err")"
url=$(sed -n 's/^serving at \([^ ]*\).*/\1/p' "$T/run.err")
run_ok curl -fsS "$url/healthz"
assert_eq "$(ours)" 1 "the run container runs"
kill -INT "$run_pid"
wait_for 30 sh -c "! kill -0 $run_pid 2>/dev/null" || fail "run did not stop on SIGINT"
assert_eq "$(ours)" 0 "the run container is gone after Ctrl-C"

say "run whose health check never passes"
write_config /nope
must_fail 1 "$MLDEPLOY" -C "$T/ctx" run --timeout 3s
assert_contains "$T/err" "health check failed"
assert_eq "$(ours)" 0 "nothing left after a failed run"

say "a signal during the health wait"
spawn "$T/run2.out" "$T/run2.err" "$MLDEPLOY" -C "$T/ctx" -v run --timeout 120s
run_pid=$SPAWNED_PID
wait_for 60 grep -q 'health: GET' "$T/run2.err" || fail "no health attempt: $(cat "$T/run2.err")"
kill -TERM "$run_pid"
wait_for 30 sh -c "! kill -0 $run_pid 2>/dev/null" || fail "run did not stop on SIGTERM"
assert_eq "$(ours)" 0 "nothing left after SIGTERM"
assert_eq "$(engine_api GET '/images/json' | jq '[.[] | select(.Labels["org.opencontainers.image.title"] == "mldeploy-test-busybox")] | length')" 0 \
	"the image run loaded is gone"
