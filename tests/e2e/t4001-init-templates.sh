#!/usr/bin/env bash
# `mldeploy init` the way a user starts: in an empty directory, each template gives
# a project that `mldeploy build` builds (offline: the base and the wheels made from
# Debian packages, as `make example` does) and whose image answers /predict with the
# template's model under `mldeploy run --predict`; `make -C DIR build run` does the
# same through the generated Makefile, leaving its --json results in build/. The
# fastapi app serves /docs and refuses a bad request with 422. For every provider
# and CI system the workflow file is valid YAML whose steps call Makefile targets
# that exist, with the provider's OIDC login, and deploy.yaml's ${...} placeholders
# stop `validate` until they are set.
# The pytorch template is only checked here (init, model check, validate,
# Dockerfile): t4004 builds and runs it on python-base.sh --torch's base.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-init.sh"

start_engine --cache-image "$(XDG_CACHE_HOME="$RIG_USER_CACHE" "$SRCDIR/scripts/python-base.sh" --no-push)"
start_python_hub
features='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'

# init DIR ARGS..., then check that the project is the template's
scaffold() {
	local dir=$1
	shift
	run_ok "$MLDEPLOY" init "$@" "$dir"
	assert_contains "$T/err" "next: cd $dir && make build run"
	for f in deploy.yaml Makefile requirements.txt .mldeployignore app/app.py; do
		[ -f "$dir/$f" ] || fail "init wrote no $f"
	done
	if grep -rn '@[A-Z]*@' "$dir" --include='*.py' --include='*.yaml' --include='*.yml' --include=Makefile; then
		fail "a placeholder was left in $dir"
	fi
}

# build and predict: TEMPLATE, then the Debian-made wheels' index
predict_template() {
	local t=$1 dir=$T/$1-app
	say "$t: build, run --predict, make build run"
	export MLDEPLOY_PYTHON_INDEX=$2
	run_ok "$MLDEPLOY" -C "$dir" --json build
	cp "$T/out" "$T/$t-build.json"
	assert_eq "$(jq -r '[.layers[] | select(.from_base | not) | .name] | join(",")' "$T/$t-build.json")" \
		"python,model,app" "$t layers"
	run_ok skopeo_inspect --config "oci-archive:$dir/build/$t-app.tar"
	assert_eq "$(jq -r .config.User "$T/out")" 65534 "$t runs as nobody"
	DOCKER_HOST=$ENGINE_HOST run_ok "$MLDEPLOY" -C "$dir" run --predict "$features"
	assert_eq "$(jq -c .predictions "$T/out")" '["setosa","virginica"]' "$t predictions"

	DOCKER_HOST=$ENGINE_HOST run_ok make -C "$dir" MLDEPLOY="$MLDEPLOY" build run
	assert_eq "$(jq -r .digest "$dir/build/build.json")" "$(jq -r .digest "$T/$t-build.json")" \
		"make build: the same image"
	assert_eq "$(jq -c .details.predict.predictions "$dir/build/run.json")" '["setosa"]' \
		"make run: the Makefile's example"
	unset MLDEPLOY_PYTHON_INDEX
}

say "sklearn-flask: init in an empty directory"
mkdir "$T/sklearn-flask-app"
scaffold "$T/sklearn-flask-app" --template sklearn-flask
cmp "$T/sklearn-flask-app/model.pkl" "$SRCDIR/templates/iris-flask/model/model.pkl" ||
	fail "the bundled model was not copied"
serve_wheels "$SRCDIR/templates/iris-flask/requirements.txt"
predict_template sklearn-flask "$WHEELS_URL"

say "sklearn-flask: the Makefile's CI targets (CI=true): deploy, status, a failing health check, destroy"
dir=$T/sklearn-flask-app
port=$(free_port)
sed -i "s/^    port: 8080 .*/    port: $port/" "$dir/deploy.yaml"
assert_contains "$dir/deploy.yaml" "    port: $port"
export MLDEPLOY_PYTHON_INDEX=$WHEELS_URL CI=true
DOCKER_HOST=$ENGINE_HOST run_ok make -C "$dir" MLDEPLOY="$MLDEPLOY" deploy status
assert_eq "$(jq -r .url "$dir/build/deploy.json")" "http://127.0.0.1:$port" "make deploy: the URL for CI"
assert_eq "$(jq -r .health.ok "$dir/build/deploy.json")" true "make deploy: health"
digest=$(jq -r .digest "$dir/build/deploy.json")
assert_eq "$(jq -r .digest "$dir/build/status.json")" "$digest" "make status: what serves"
curl -fsS -H 'Content-Type: application/json' -d "$features" "http://127.0.0.1:$port/predict" >"$T/p.json"
assert_eq "$(jq -c .predictions "$T/p.json")" '["setosa","virginica"]' "the deployed app"
# an app whose health check fails fails the job, and what served still serves
sed -i 's/return "ok", 200,/return "broken", 503,/' "$dir/app/app.py"
assert_contains "$dir/app/app.py" 'return "broken", 503,'
DOCKER_HOST=$ENGINE_HOST must_fail 2 make -C "$dir" MLDEPLOY="$MLDEPLOY" DEPLOY_FLAGS="--timeout 8s" deploy
assert_eq "$(jq -r .health.ok "$dir/build/deploy.json")" false "the failed check in deploy.json"
[ -n "$(jq -r .error "$dir/build/deploy.json")" ] || fail "deploy.json has no error"
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "the previous deploy stopped serving"
# no terminal, CI=true: the Makefile answers destroy's question with --yes
DOCKER_HOST=$ENGINE_HOST run_ok make -C "$dir" MLDEPLOY="$MLDEPLOY" destroy </dev/null
assert_contains "$T/out" "destroy --provider local --yes"
must_fail 7 curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz"
unset MLDEPLOY_PYTHON_INDEX CI

say "fastapi: init with --model, the pydantic schema and /docs"
cp "$SRCDIR/templates/iris-flask/model/model.pkl" "$T/iris.joblib"
scaffold "$T/fastapi-app" --template fastapi --model "$T/iris.joblib"
assert_contains "$T/fastapi-app/deploy.yaml" "- { src: iris.joblib, dst: /app/iris.joblib, layer: model }"
assert_contains "$T/fastapi-app/deploy.yaml" "MODEL_PATH: /app/iris.joblib"
# Debian runs fastapi 0.92.0 with starlette 0.26.1; PyPI's fastapi 0.92.0 asks for <0.26
sed -i 's/^starlette==0.25.0$/starlette==0.26.1/' "$T/fastapi-app/requirements.txt"
assert_contains "$T/fastapi-app/requirements.txt" "starlette==0.26.1"
serve_wheels "$T/fastapi-app/requirements.txt"
predict_template_fastapi() {
	local dir=$T/fastapi-app port
	export MLDEPLOY_PYTHON_INDEX=$WHEELS_URL
	run_ok "$MLDEPLOY" -C "$dir" --json build
	assert_eq "$(jq -r '[.layers[] | select(.from_base | not) | .name] | join(",")' "$T/out")" \
		"python,model,app" "fastapi layers"
	port=$(free_port)
	DOCKER_HOST=$ENGINE_HOST spawn "$T/serve.out" "$T/serve.err" "$MLDEPLOY" -C "$dir" run --port "$port"
	wait_for 120 curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" || {
		_rig_show "run" "$T/serve.err"
		fail "the fastapi app did not answer /healthz"
	}
	curl -fsS "http://127.0.0.1:$port/docs" >"$T/docs.html"
	assert_contains "$T/docs.html" "swagger-ui"
	curl -fsS "http://127.0.0.1:$port/openapi.json" >"$T/openapi.json"
	assert_eq "$(jq -r '.paths["/predict"].post.requestBody.content["application/json"].schema["$ref"]' \
		"$T/openapi.json")" "#/components/schemas/PredictRequest" "the request schema"
	curl -fsS -H 'Content-Type: application/json' -d "$features" \
		"http://127.0.0.1:$port/predict" >"$T/p.json"
	assert_eq "$(jq -c .predictions "$T/p.json")" '["setosa","virginica"]' "fastapi predictions"
	assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-d '{"features": [[1, 2]]}' "http://127.0.0.1:$port/predict")" 422 "a short row"
	assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-d '{"rows": []}' "http://127.0.0.1:$port/predict")" 422 "no features"
	kill -INT "$SPAWNED_PID"
	wait_for 30 sh -c "! kill -0 $SPAWNED_PID 2>/dev/null" || fail "run did not stop on Ctrl-C"
	assert_contains "$T/serve.err" "loaded NearestCentroid from /app/iris.joblib (4 features)"
	DOCKER_HOST=$ENGINE_HOST run_ok make -C "$dir" MLDEPLOY="$MLDEPLOY" build run
	assert_eq "$(jq -c .details.predict.predictions "$dir/build/run.json")" '["setosa"]' \
		"fastapi: make run"
	unset MLDEPLOY_PYTHON_INDEX
}
predict_template_fastapi

say "pytorch: init checks the model is TorchScript (built and run by t4004)"
mkdir -p "$T/ts/tiny/code/__torch__"
echo x >"$T/ts/tiny/data.pkl"
echo 'def forward(self, x): return x' >"$T/ts/tiny/code/__torch__/m.py"
(cd "$T/ts" && /usr/bin/python3 -c 'import shutil; shutil.make_archive("tiny", "zip", ".", "tiny")')
mv "$T/ts/tiny.zip" "$T/tiny.pt"
scaffold "$T/pytorch-app" --template pytorch --model "$T/tiny.pt" --provider gcp
cmp "$T/tiny.pt" "$T/pytorch-app/tiny.pt" || fail "the model was not copied"
assert_contains "$T/pytorch-app/requirements.txt" "torch=="
assert_contains "$T/pytorch-app/app/app.py" "torch.jit.load(MODEL_PATH"
/usr/bin/python3 -m py_compile "$T/pytorch-app/app/app.py" "$T/pytorch-app/export_model.py"
GOOGLE_CLOUD_PROJECT=p run_ok "$MLDEPLOY" -C "$T/pytorch-app" render Dockerfile
assert_contains "$T/out" 'COPY ["tiny.pt","/app/tiny.pt"]'

say "every provider and CI system: workflows call existing targets, placeholders stop validate"
declare -A need=([local]="" [gcp]="GOOGLE_CLOUD_PROJECT" [aws]="AWS_ACCOUNT_ID"
	[azure]="AZURE_REGISTRY AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP")
declare -A login=([local]="" [gcp]="google-github-actions/auth" [aws]="aws-actions/configure-aws-credentials"
	[azure]="make oidc-token")
for p in local gcp aws azure; do
	for ci in github gitlab; do
		dir=$T/wf-$p-$ci
		scaffold "$dir" --provider "$p" --ci "$ci"
		wf=$dir/.github/workflows/deploy.yml
		[ "$ci" = github ] || wf=$dir/.gitlab-ci.yml
		/usr/bin/python3 - "$wf" "$ci" "$p" >"$T/steps" <<'PY' || fail "$wf: not a workflow"
import sys, yaml
path, ci, provider = sys.argv[1:]
doc = yaml.safe_load(open(path))
runs, uses = [], []
if ci == "github":
    assert doc["on"] if "on" in doc else doc[True], "no trigger"
    for job in doc["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                runs.append(step["run"])
            else:
                uses.append(step["uses"])
    perms = doc.get("permissions", {})
    if provider != "local":
        assert perms.get("id-token") == "write", "OIDC needs id-token: write"
    assert "secrets." not in open(path).read(), "no stored secret"
else:
    for name, job in doc.items():
        if isinstance(job, dict) and "script" in job:
            runs += job.get("before_script", []) + job["script"]
            if provider != "local":
                assert "MLDEPLOY_ID_TOKEN" in job["id_tokens"], "no id_tokens"
for r in runs:
    print("run", r)
for u in uses:
    print("uses", u)
PY
		grep -q '^run make build$' "$T/steps" || fail "$wf: no make build step"
		[ "$p" = local ] || grep -q '^run make deploy$' "$T/steps" || fail "$wf: no make deploy step"
		[ "$p" != local ] || grep -q '^run make run$' "$T/steps" || fail "$wf: no make run step"
		[ -z "${login[$p]}" ] || [ "$ci" = gitlab ] || grep -q "${login[$p]}" "$T/steps" ||
			fail "$wf: no ${login[$p]}"
		sed -n 's/^run make \([a-z-]*\).*/\1/p' "$T/steps" | sort -u | while read -r target; do
			make -n -C "$dir" "$target" >/dev/null 2>"$T/make.err" ||
				fail "$wf calls 'make $target', which the Makefile lacks: $(cat "$T/make.err")"
		done
		if [ -n "${need[$p]}" ] && [ "$ci" = github ]; then
			must_fail 2 "$MLDEPLOY" -C "$dir" validate
			assert_contains "$T/err" "variable '${need[$p]%% *}'"
			# shellcheck disable=SC2046  # one NAME=x1 word per variable
			run_ok env $(for v in ${need[$p]}; do printf '%s=x1 ' "$v"; done) "$MLDEPLOY" -C "$dir" validate
		fi
	done
done
