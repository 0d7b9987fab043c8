#!/usr/bin/env bash
# `mldeploy deploy --provider local` of the bundled example on a real engine
# (`podman system service` on a unix socket, behind a proxy that counts the API
# calls), the way a user runs it: the URL answers /predict; a redeploy with no
# change is a no-op; --dry-run changes nothing; a code change replaces the
# container only once the new one is healthy; an image whose health path fails
# leaves the old container serving and exits 1; rollback serves the previous
# digest; `run --predict` leaves nothing running; destroy removes everything.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# the example's base (made from Debian packages, cached) as a read-only image store
base=$(XDG_CACHE_HOME="$RIG_USER_CACHE" "$SRCDIR/scripts/python-base.sh" --no-push)
start_engine --proxy --cache-image "$base"
port=$(free_port)

# the example, copied so that its app can change
mkdir -p "$T/proj/templates"
cp "$SRCDIR/deploy.example.yaml" "$T/proj/"
cp -r "$SRCDIR/templates/iris-flask" "$T/proj/templates/"
rm -rf "$T/proj/templates/iris-flask/app/__pycache__"
sed -i "s/^deploy:\$/deploy:\n  local: { port: $port }/" "$T/proj/deploy.example.yaml"
assert_contains "$T/proj/deploy.example.yaml" "local: { port: $port }"

example() {
	DOCKER_HOST=$ENGINE_HOST XDG_CACHE_HOME="$RIG_USER_CACHE" MLDEPLOY_EXAMPLE_OFFLINE=1 \
		"$SRCDIR/scripts/example.sh" "$@" -C "$T/proj"
}
features='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
predict() {
	curl -fsS -H 'Content-Type: application/json' -d "$features" "http://127.0.0.1:$port/predict"
}
ours() {
	engine_api GET "/containers/json?all=1&filters=$(jq -rn '{label: ["mldeploy.service=iris"]} | tojson | @uri')" |
		jq -r '[.[] | .Names[0] | ltrimstr("/")] | sort | join(",")'
}

say "first deploy"
run_ok example deploy --provider local --json
cp "$T/out" "$T/deploy1.json"
assert_eq "$(jq -r .url "$T/deploy1.json")" "http://127.0.0.1:$port" "URL"
assert_eq "$(jq -r .changed "$T/deploy1.json")" true "first deploy changed"
assert_eq "$(jq -r .health.ok "$T/deploy1.json")" true "health"
digest1=$(jq -r .digest "$T/deploy1.json")
predict >"$T/p1.json"
assert_eq "$(jq -c .predictions "$T/p1.json")" '["setosa","virginica"]' "predictions"
assert_eq "$(ours)" iris "one container serves"

say "no change: a no-op"
before=$(engine_mutations)
run_ok example deploy --provider local --json
assert_eq "$(jq -r .changed "$T/out")" false "redeploy changed nothing"
assert_eq "$(jq -r .digest "$T/out")" "$digest1" "same digest"
assert_eq "$(engine_mutations)" "$before" "no mutating engine call for an unchanged deploy"

say "a code change, dry run first"
sed -i 's/return jsonify(predictions=/return jsonify(version="v2", predictions=/' \
	"$T/proj/templates/iris-flask/app/app.py"
grep -q 'version="v2"' "$T/proj/templates/iris-flask/app/app.py" || fail "app.py edit did not apply"
before=$(engine_mutations)
run_ok example deploy --provider local --dry-run
assert_eq "$(engine_mutations)" "$before" "--dry-run made no mutating engine call"
assert_contains "$T/out" '"/containers/create?name=iris-next"'
predict >"$T/p.json"
assert_eq "$(jq -r '.version // "none"' "$T/p.json")" none "dry run changed nothing"

say "the code change deployed"
run_ok example deploy --provider local --json
cp "$T/out" "$T/deploy2.json"
digest2=$(jq -r .digest "$T/deploy2.json")
[ "$digest2" != "$digest1" ] || fail "a code change kept the digest"
assert_eq "$(jq -r .previous_digest "$T/deploy2.json")" "$digest1" "previous digest"
predict >"$T/p2.json"
assert_eq "$(jq -r .version "$T/p2.json")" v2 "the new code serves"
assert_eq "$(ours)" iris "the old container is gone"

say "a new image that fails its health check is not released"
cp "$T/proj/deploy.example.yaml" "$T/good.yaml"
sed -i 's|^  path: /healthz|  path: /no-such-path|' "$T/proj/deploy.example.yaml"
sed -i 's/"v2"/"v3"/' "$T/proj/templates/iris-flask/app/app.py"
must_fail 1 example deploy --provider local --timeout 15s
assert_contains "$T/err" "health check failed"
assert_contains "$T/err" "still serves"
predict >"$T/p.json"
assert_eq "$(jq -r .version "$T/p.json")" v2 "the old container still serves"
assert_eq "$(ours)" iris "the failed candidate was removed"
cp "$T/good.yaml" "$T/proj/deploy.example.yaml"
sed -i 's/"v3"/"v2"/' "$T/proj/templates/iris-flask/app/app.py"

say "status"
run_ok example status --provider local --json
assert_eq "$(jq -r .digest "$T/out")" "$digest2" "status digest"
assert_eq "$(jq -r .state "$T/out")" running "status state"
assert_eq "$(jq -r .health.ok "$T/out")" true "status health"

say "rollback"
run_ok example rollback --provider local --json
assert_eq "$(jq -r .digest "$T/out")" "$digest1" "rolled back to the first digest"
predict >"$T/p.json"
assert_eq "$(jq -r '.version // "none"' "$T/p.json")" none "the first code serves again"
assert_eq "$(ours)" iris "one container after rollback"

say "run --predict leaves nothing running"
run_ok example run --predict "$features"
assert_contains "$T/out" setosa
assert_eq "$(ours)" iris "the run container was removed"

say "destroy"
must_fail 2 example destroy --provider local </dev/null
assert_contains "$T/err" "--yes"
assert_eq "$(ours)" iris "destroy without --yes removed nothing"
run_ok example destroy --provider local --yes --json
assert_eq "$(ours)" "" "destroy removed every container"
assert_eq "$(engine_api GET '/images/json' | jq '[.[] | select(.Labels["org.opencontainers.image.title"] == "iris")] | length')" 0 \
	"destroy removed the images it loaded"
must_fail 7 curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz"
