#!/usr/bin/env bash
# The pytorch template the way a user starts, offline: `mldeploy init` in an empty
# directory (no model yet), the template's export_model.py writes the TorchScript
# model, `mldeploy build` builds it and `mldeploy run --predict` answers with the
# model's probabilities (checked against the fixed weights) after /healthz.
# Offline means Debian's torch: the wheel scripts/debian-wheels.py makes from
# python3-torch needs libtorch1.13 and the libraries it links (OpenCV, FFmpeg, ...),
# which only python-base.sh --torch's base carries (cached; ~1 min the first time),
# so the model is exported in that base with the torch wheel unpacked, not on the
# host. The requirements differ from the template's (PyTorch's CPU index, torch
# 2.2.2+cpu): Debian ships torch 1.13.1, which calls itself 1.13.0a0+gitunknown and
# needs none of torch 2's filelock, fsspec, Jinja2, MarkupSafe, mpmath, networkx,
# sympy; typing_extensions 4.4.0; starlette 0.26.1 as in t4001.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-init.sh"

base=$(XDG_CACHE_HOME="$RIG_USER_CACHE" "$SRCDIR/scripts/python-base.sh" --no-push --torch)
start_engine --cache-image "$base"
start_python_hub --torch
features='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'

say "init in an empty directory: no model yet"
dir=$T/pytorch-app
mkdir "$dir"
run_ok "$MLDEPLOY" init --template pytorch "$dir"
assert_contains "$T/err" "no model yet: save your TorchScript model as $dir/model.pt"
[ ! -e "$dir/model.pt" ] || fail "init wrote a model"
assert_contains "$dir/deploy.yaml" "MODEL_PATH: /app/model.pt"

say "the offline pins: Debian's (see the header)"
grep -v -E '^(--|(filelock|fsspec|Jinja2|MarkupSafe|mpmath|networkx|sympy)==)' "$dir/requirements.txt" |
	sed -e 's/^torch==2\.2\.2+cpu$/torch==1.13.0a0+gitunknown/' \
		-e 's/^typing_extensions==4\.10\.0$/typing_extensions==4.4.0/' \
		-e 's/^starlette==0\.25\.0$/starlette==0.26.1/' >"$T/requirements.txt"
cp "$T/requirements.txt" "$dir/requirements.txt"
for pin in torch==1.13.0a0+gitunknown typing_extensions==4.4.0 starlette==0.26.1 fastapi==0.92.0; do
	assert_contains "$dir/requirements.txt" "$pin"
done
serve_wheels "$dir/requirements.txt"

say "export_model.py writes the model (the Debian-made torch, in the stand-in base)"
mkdir "$T/site" "$T/model"
for w in "$WHEELS_DIR"/torch-*.whl "$WHEELS_DIR"/typing_extensions-*.whl; do
	/usr/bin/python3 -m zipfile -e "$w" "$T/site"
done
name=${base%/}
name=${name##*/}
podman run --rm --network=none -v "$T/site:/site:ro" -v "$dir:/src:ro" -v "$T/model:/out" \
	-e PYTHONPATH=/site "localhost/rig-cache/$name:latest" \
	python3 /src/export_model.py /out/model.pt >"$T/export.out" 2>"$T/export.err" || {
	_rig_show "export_model.py" "$T/export.err"
	fail "export_model.py failed"
}
assert_contains "$T/export.out" "wrote /out/model.pt"
cp "$T/model/model.pt" "$dir/model.pt"

say "build, run --predict: the model's probabilities, /healthz"
export MLDEPLOY_PYTHON_INDEX=$WHEELS_URL
run_ok "$MLDEPLOY" -C "$dir" --json build
assert_eq "$(jq -r '[.layers[] | select(.from_base | not) | .name] | join(",")' "$T/out")" \
	"python,model,app" "pytorch layers"
run_ok skopeo_inspect --config "oci-archive:$dir/build/pytorch-app.tar"
assert_eq "$(jq -r .config.User "$T/out")" 65534 "runs as nobody"
DOCKER_HOST=$ENGINE_HOST run_ok "$MLDEPLOY" -C "$dir" --json run --predict "$features"
cp "$T/out" "$T/run.json"
assert_eq "$(jq -r .health.ok "$T/run.json")" true "/healthz"
assert_eq "$(jq -r .details.predict_status "$T/run.json")" 200 "predict status"
# softmax(W x + b) of export_model.py's fixed weights
/usr/bin/python3 - "$T/run.json" <<'PY' || fail "the predictions are not the model's"
import json, math, sys
got = json.load(open(sys.argv[1]))["details"]["predict"]["predictions"]
W = [[0, 0, -1, -1], [0, 0, 0.5, -0.5], [0, 0, 1, 1]]
b = [2.5, 0, -3]
rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
want = []
for x in rows:
    z = [sum(w * v for w, v in zip(wr, x)) + bi for wr, bi in zip(W, b)]
    e = [math.exp(v) for v in z]
    want.append([v / sum(e) for v in e])
print("predictions", got, "expected", want)
assert len(got) == 2 and all(len(r) == 3 for r in got), got
assert all(abs(g - w) < 1e-5 for gr, wr in zip(got, want) for g, w in zip(gr, wr)), (got, want)
PY
unset MLDEPLOY_PYTHON_INDEX
