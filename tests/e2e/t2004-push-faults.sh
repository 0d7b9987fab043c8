#!/usr/bin/env bash
# A flaky network between mldeploy and the registry: connections reset in the
# middle of an upload (with and without the registry keeping what arrived),
# 500/503/429 answers, a reset after the registry took the manifest. The push
# completes with the same digest and -v shows the retries.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry reg
start_faultproxy flaky "$REG_REG_ADDR"
export MLDEPLOY_INSECURE_REGISTRIES="$PROXY_FLAKY_ADDR,$REG_REG_ADDR" MLDEPLOY_RETRY_BASE_MS=20

mkdir -p "$T/ctx/model" "$T/ctx/app"
head -c 24000000 /dev/urandom >"$T/ctx/model/weights.bin"
printf 'print(1)\n' >"$T/ctx/app/main.py"
cat >"$T/ctx/deploy.yaml" <<'YAML'
name: flaky
image:
  base: scratch
  copy:
    - { src: model/, dst: /model/, layer: model }
    - { src: app/, dst: /app/ }
YAML
run_ok "$MLDEPLOY" -C "$T/ctx" --json build --tag v1 -o "$T/img.tar"
digest=$(jq -r .digest "$T/out")
push() {	# REPO [ARGS...]: a cache of its own, so no blob is mounted from an earlier case
	local repo=$1
	shift
	MLDEPLOY_CACHE_DIR="$T/cache-${repo//\//-}" "$MLDEPLOY" -v --json push "$T/img.tar" --repository "$PROXY_FLAKY_ADDR/$repo" --tag v1 "$@"
}
check_pushed() {	# REPO
	run_ok skopeo_inspect "docker://$REG_REG_ADDR/$1:v1"
	assert_eq "$(jq -r .Digest "$T/out")" "$digest" "digest in $1"
	run_ok skopeo copy --quiet --src-tls-verify=false "docker://$REG_REG_ADDR/$1:v1" "oci:$T/back-${1//\//-}:v1"
}

# 1. the connection resets 1 MiB into the big PATCH; the registry keeps nothing:
#    mldeploy asks for the upload's Range and continues from there
proxy_rules flaky '[{"method": "PATCH", "path_regex": "/v2/ml/a/blobs/uploads/", "action": "reset_after_bytes", "bytes": 1048576}]'
run_ok push ml/a
assert_eq "$(jq -r .digest "$T/out")" "$digest" "digest after a reset"
assert_eq "$(jq -r '[.blobs[] | .resumes + .restarts] | add' "$T/out")" 1 "recoveries"
assert_contains "$T/err" "retrying"
[ "$(proxy_count flaky PATCH '^/v2/ml/a/blobs/uploads/')" -ge 2 ] || fail "the PATCH was not sent again"
check_pushed ml/a

# 2. the registry keeps the part that arrived and then drops the session:
#    a new session starts from zero
proxy_rules flaky '[{"method": "PATCH", "path_regex": "/v2/ml/b/blobs/uploads/", "action": "reset_after_bytes", "bytes": 3000000, "forward": true}]'
run_ok push ml/b
assert_contains "$T/err" "retrying"
check_pushed ml/b

# 3. 500 on the closing PUT, 503 on a HEAD, 429 with Retry-After on the session POST
proxy_rules flaky '[
 {"method": "PUT", "path_regex": "/v2/ml/c/blobs/uploads/.*digest=", "action": "status", "code": 500},
 {"method": "HEAD", "path_regex": "/v2/ml/c/blobs/", "action": "status", "code": 503},
 {"method": "POST", "path_regex": "/v2/ml/c/blobs/uploads/", "action": "status", "code": 429, "retry_after": 1}]'
run_ok push ml/c
assert_contains "$T/err" "retrying"
assert_eq "$(proxy_count flaky PUT '^/v2/ml/c/blobs/uploads/' status=500)" 1 "500 answered"
assert_eq "$(proxy_count flaky POST '^/v2/ml/c/blobs/uploads/' status=429)" 1 "429 answered"
check_pushed ml/c

# 4. the registry stores the manifest but the answer is lost: PUT again, same digest
proxy_rules flaky '[{"method": "PUT", "path_regex": "/v2/ml/d/manifests/", "action": "reset_before_response"}]'
run_ok push ml/d
assert_eq "$(proxy_count flaky PUT '^/v2/ml/d/manifests/')" 2 "manifest PUTs"
check_pushed ml/d

# 5. a registry that never recovers: a clear error naming the blob and the status, no tag
proxy_rules flaky '[{"method": "PATCH", "path_regex": "/v2/ml/e/", "nth": "every", "action": "status", "code": 503}]'
must_fail 1 push ml/e
assert_contains "$T/err" "HTTP 503"
assert_contains "$T/err" "giving up"
must_fail 1 skopeo_inspect --raw "docker://$REG_REG_ADDR/ml/e:v1"
assert_contains "$T/err" "manifest unknown"

# 6. a push killed with -9 midway leaves no tag, and running it again completes
proxy_rules flaky '[{"method": "PATCH", "path_regex": "/v2/ml/f/", "action": "delay_ms", "ms": 5000}]'
MLDEPLOY_CACHE_DIR="$T/cache-ml-f" "$MLDEPLOY" push "$T/img.tar" --repository "$PROXY_FLAKY_ADDR/ml/f" \
	--tag v1 >"$T/killed.out" 2>&1 &
pid=$!
# the big layer's PATCH is held for 5 s: the small blobs are in by then
sleep 2
kill -9 "$pid" 2>/dev/null || fail "the push ended before it could be killed"
wait "$pid" 2>/dev/null || true
must_fail 1 skopeo_inspect --raw "docker://$REG_REG_ADDR/ml/f:v1"
assert_contains "$T/err" "manifest unknown"
proxy_rules flaky '[]'
run_ok push ml/f
check_pushed ml/f
