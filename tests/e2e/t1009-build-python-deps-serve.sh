#!/usr/bin/env bash
# image.python on a real Python base (Debian bookworm's python3, debootstrap-made
# and served by a local registry): the interpreter, site-packages and glibc are
# read from the base image, the wheels come from a loopback index, and the image
# runs in podman: the C extension imports, the console script runs, and an HTTP
# app served with a dependency answers curl.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

make_test_wheels "$T/wheels"
start_pyindex "$T/wheels"
start_registry plain
export MLDEPLOY_INSECURE_REGISTRIES="$REG_PLAIN_ADDR"
XDG_CACHE_HOME="$RIG_USER_CACHE" run_ok "$SRCDIR/scripts/python-base.sh" --insecure \
	"$REG_PLAIN_ADDR" library/python:3.11-slim

mkdir -p "$T/ctx/app"
cat >"$T/ctx/app/serve.py" <<'PY'
import mlmarker
mlmarker.serve()
PY
# three wheels built here, and Debian's real pip wheel (/usr/share/python-wheels)
printf '%s\n' 'mlcext==2.1.0' 'mlmarker[fast]==0.3.0' 'mlpure==1.0.0' 'pip==23.0.1' >"$T/ctx/requirements.txt"
cat >"$T/ctx/deploy.yaml" <<YAML
name: pyapp
image:
  base: $REG_PLAIN_ADDR/library/python:3.11-slim
  workdir: /app
  python:
    requirements: requirements.txt
    index: $PYINDEX_URL
  copy: ["app/:/app/"]
  env: { PORT: "8080" }
  cmd: ["python3", "serve.py"]
YAML

# validate reads the interpreter, the packages directory and glibc from the base
run_ok "$MLDEPLOY" -C "$T/ctx" validate
assert_eq "$(jq -r '.plan.python | "\(.version) \(.interpreter) \(.site_packages) \(.scripts)"' "$T/out")" \
	"3.11 /usr/bin/python3.11 /usr/local/lib/python3.11/dist-packages /usr/local/bin" "detected Python"
assert_eq "$(jq -r '.plan.python | "\(.libc) \(.libc_version) \(.best_tag)"' "$T/out")" \
	"glibc 2.36 cp311-cp311-manylinux_2_36_x86_64" "detected glibc"
assert_contains "$T/err" "python: CPython 3.11, glibc 2.36, x86_64"

run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/app.tar"
cp "$T/out" "$T/build.json"
assert_eq "$(jq -r '[.layers[] | select(.from_base | not) | .name] | join(",")' "$T/build.json")" \
	"python,app" "layers"
assert_eq "$(jq -r '.python.packages | length' "$T/build.json")" 4 "packages"
run_ok skopeo_inspect --config "oci-archive:$T/app.tar"

# the C extension imports and works, the console script runs
podman_setup
podman_run_archive "$T/app.tar" oci sh -c \
	'python3 -c "import mlcext._speed as s; print(s.add(2, 3))" && mlpure-hello && head -n 1 /usr/local/bin/mlpure-hello && pip --version' \
	>"$T/run.out"
assert_eq "$(cat "$T/run.out")" "5
hello from mlpure
#!/usr/bin/python3.11
pip 23.0.1 from /usr/local/lib/python3.11/dist-packages/pip (python 3.11)" "container output"

# the image's own command serves HTTP with its dependency; curl from outside
id=$(podman_load "$T/app.tar" oci)
port=$(free_port)
cid=$(podman run -d --network=host -e PORT="$port" "$id")
at_exit podman rm -f "$cid"
body=
for _ in $(seq 100); do
	body=$(curl -fsS "http://127.0.0.1:$port/" 2>/dev/null) && break
	sleep 0.1
done
[ -n "$body" ] || { podman logs "$cid" >&2 || true; fail "the app did not answer"; }
assert_eq "$body" "mlmarker hello from mlpure" "app answer"
podman rm -f "$cid" >/dev/null
