#!/usr/bin/env bash
# `mldeploy render Dockerfile` (no provider involved) of a project made by init:
# its instructions match, field by field, the config of the image `mldeploy build`
# makes (skopeo inspect --config: base digest, Env, WorkingDir, User, ExposedPorts,
# Cmd, Entrypoint, and one RUN/COPY per layer in the history's order), and
# `podman build` of it (offline: the base from the local registry through a
# registries.conf mirror, the Debian-made wheels from a local index, --network
# host) gives an image with the same configuration and number of layers that
# answers /predict. The base carries pip, as Docker Hub's python image does.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-init.sh"

podman_setup --driver overlay
start_python_hub --with-pip
app=$T/iris-app
run_ok "$MLDEPLOY" init --template sklearn-flask "$app"
serve_wheels "$app/requirements.txt"
export MLDEPLOY_PYTHON_INDEX=$WHEELS_URL

say "build, then render"
run_ok "$MLDEPLOY" -C "$app" --json build
cp "$T/out" "$T/build.json"
run_ok skopeo_inspect --config "oci-archive:$app/build/iris-app.tar"
cp "$T/out" "$T/config.json"
run_ok skopeo_inspect --raw "oci-archive:$app/build/iris-app.tar"
cp "$T/out" "$T/manifest.json"
# no provider in deploy.yaml's way: render a Dockerfile with deploy.local only
run_ok "$MLDEPLOY" -C "$app" render Dockerfile -o "$app/Dockerfile"
[ ! -s "$T/out" ] || fail "render -o printed on stdout"
run_ok "$MLDEPLOY" -C "$app" render Dockerfile
cmp "$T/out" "$app/Dockerfile" || fail "render -o and stdout differ"

say "the Dockerfile's instructions against the image's config"
/usr/bin/python3 - "$app/Dockerfile" "$T/config.json" "$T/manifest.json" "$T/build.json" <<'PY' || fail "Dockerfile and image differ"
import json, re, sys

lines, cur = [], ""
for raw in open(sys.argv[1]).read().splitlines():
    if not cur and (raw.startswith("#") or not raw.strip()):
        continue
    if raw.endswith("\\"):
        cur += raw[:-1] + " "
        continue
    lines.append(cur + raw)
    cur = ""
ins = [(l.split(None, 1)[0], l.split(None, 1)[1]) for l in lines]
config = json.load(open(sys.argv[2]))
manifest = json.load(open(sys.argv[3]))
c = config["config"]
def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: Dockerfile {got!r}, image {want!r}")

froms = [a for i, a in ins if i == "FROM"]
check("one FROM", len(froms), 1)
ann = manifest["annotations"]
check("FROM by digest", froms[0].rsplit("@", 1)[1], ann["org.opencontainers.image.base.digest"])
check("FROM repository", froms[0].rsplit("@", 1)[0], "docker.io/library/python")

env = {}
for i, a in ins:
    if i == "ENV":
        k, v = a.split("=", 1)
        env[k] = json.loads(v)
image_env = dict(e.split("=", 1) for e in c["Env"])
for k, v in env.items():
    check(f"ENV {k}", v, image_env.get(k))
check("ENV count", len(env), 3)
single = {i: a for i, a in ins if i in ("WORKDIR", "USER", "EXPOSE")}
check("WORKDIR", single["WORKDIR"], c["WorkingDir"])
check("USER", single["USER"], c["User"])
check("EXPOSE", [single["EXPOSE"] + "/tcp"], sorted(c["ExposedPorts"]))
check("CMD", json.loads([a for i, a in ins if i == "CMD"][0]), c["Cmd"])
check("ENTRYPOINT", [a for i, a in ins if i == "ENTRYPOINT"], [])
check("no Entrypoint", c.get("Entrypoint"), None)

# one RUN (the python layer) or COPY per layer mldeploy added, in the same order
nbase = sum(1 for l in json.load(open(sys.argv[4]))["layers"] if l["from_base"])
ours = [h["created_by"] for h in config["history"] if not h.get("empty_layer")][nbase:]
steps = [(i, a) for i, a in ins if i in ("RUN", "COPY")]
check("layers", len(steps), len(ours))
check("layers", len(config["rootfs"]["diff_ids"]), nbase + len(steps))
for (i, a), created_by in zip(steps, ours):
    if i == "RUN":
        m = re.search(r"-r /mnt/mldeploy-context/(\S+)", a)
        if not m or not created_by.startswith(m.group(1) + " ("):
            sys.exit(f"RUN {a!r} is not the layer {created_by!r}")
        if "pip install" not in a or "--no-deps" not in a or "--mount=type=bind" not in a:
            sys.exit(f"RUN {a!r}: expected pip install --no-deps from the mounted context")
    else:
        src, dst = json.loads(a)
        check("COPY", f"{src} -> {dst}", created_by)
print(f"{len(ins)} instructions match the config; layers: {ours}")
PY

say "podman build of the Dockerfile answers /predict"
# the base's digest through the registries.conf mirror; pip's index on 127.0.0.1
if ! podman build --network host --pull=missing -q -t localhost/rendered:1 \
	--build-arg "PIP_INDEX_URL=$WHEELS_URL" -f "$app/Dockerfile" "$app" \
	>"$T/pbuild.out" 2>"$T/pbuild.err"; then
	_rig_show "podman build" "$T/pbuild.err"
	fail "podman build of the rendered Dockerfile failed"
fi
podman image inspect localhost/rendered:1 >"$T/pimage.json"
jq '.[0].Config' "$T/pimage.json" >"$T/pconfig.json"
for f in WorkingDir User; do
	assert_eq "$(jq -r ".$f" "$T/pconfig.json")" "$(jq -r ".config.$f" "$T/config.json")" "podman image $f"
done
assert_eq "$(jq -c .Cmd "$T/pconfig.json")" "$(jq -c .config.Cmd "$T/config.json")" "podman image Cmd"
assert_eq "$(jq -c '.Env | sort' "$T/pconfig.json")" "$(jq -c '.config.Env | sort' "$T/config.json")" \
	"podman image Env"
assert_eq "$(jq -c '.ExposedPorts | keys' "$T/pconfig.json")" \
	"$(jq -c '.config.ExposedPorts | keys' "$T/config.json")" "podman image ExposedPorts"
assert_eq "$(jq '.[0].RootFS.Layers | length' "$T/pimage.json")" \
	"$(jq '.rootfs.diff_ids | length' "$T/config.json")" "podman image: as many layers"

port=$(free_port)
podman run -d --name rendered -p "127.0.0.1:$port:8080" localhost/rendered:1 >"$T/cid" 2>"$T/prun.err" ||
	{ _rig_show "podman run" "$T/prun.err"; fail "podman run failed"; }
at_exit podman rm -f rendered
wait_for 60 curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" || {
	podman logs rendered >&2 || true
	fail "the image podman built does not answer /healthz"
}
curl -fsS -H 'Content-Type: application/json' -d '{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}' \
	"http://127.0.0.1:$port/predict" >"$T/p.json"
assert_eq "$(jq -c .predictions "$T/p.json")" '["setosa","virginica"]' "predictions from podman's image"
podman logs rendered >"$T/logs.out" 2>"$T/logs.err"
# the app logs on stdout (gunicorn.conf.py), stderr stays empty
assert_contains "$T/logs.out" "loaded NearestCentroid from /app/model.pkl"
assert_contains "$T/logs.out" '"POST /predict HTTP/1.1" 200'
