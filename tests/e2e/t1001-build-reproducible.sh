#!/usr/bin/env bash
# Reproducible layers from scratch: same inputs in two places give the same
# digests; the rootfs holds exactly what deploy.yaml says; the layer cache and
# the up-to-date check skip work; a code change touches only the code layer.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

make_context() {
	local d=$1 mask=$2
	(
		umask "$mask"
		mkdir -p "$d/app/pkg" "$d/model"
		printf 'print("serving")\n' >"$d/app/main.py"
		printf '#!/bin/sh\necho run\n' >"$d/app/run.sh"
		chmod +x "$d/app/run.sh"
		printf 'x = 1\n' >"$d/app/pkg/__init__.py"
		ln -s main.py "$d/app/entry.py"
		head -c 300000 /dev/zero | tr '\0' 'm' >"$d/model/model.pkl"
		mkdir -p "$d/app/__pycache__"
		printf 'junk' >"$d/app/__pycache__/main.cpython-311.pyc"
		printf '**/__pycache__\n' >"$d/.dockerignore"
		cat >"$d/deploy.yaml" <<'YAML'
name: repro
image:
  base: scratch
  workdir: /srv
  copy:
    - { src: model/model.pkl, dst: /srv/model/, layer: model }
    - { src: app/, dst: /srv/app/ }
  env: { MODEL_PATH: /srv/model/model.pkl, GREETING: "hello world" }
  port: 8080
  user: "1000"
  cmd: ["python3", "-m", "app.main"]
  labels: { team: ml }
YAML
	)
}

export SOURCE_DATE_EPOCH=1700000000
make_context "$T/a" 022
sleep 1
make_context "$T/b" 077
touch -d '2001-02-03 04:05:06' "$T/b/app/main.py"

run_ok "$MLDEPLOY" -C "$T/a" --json build -o "$T/a.tar"
cp "$T/out" "$T/a.json"
run_ok "$MLDEPLOY" -C "$T/b" --json --no-progress build -o "$T/b.tar"
cp "$T/out" "$T/b.json"
assert_eq "$(jq -r .digest "$T/a.json")" "$(jq -r .digest "$T/b.json")" "manifest digest of two builds"
cmp "$T/a.tar" "$T/b.tar" || fail "the two output tarballs differ"
assert_eq "$(jq -r '.layers | length' "$T/a.json")" 2 "layer count"
assert_eq "$(jq -r '.layers[0].name' "$T/a.json")" model "first layer"
assert_eq "$(jq -r '.layers[1].name' "$T/a.json")" app "second layer"

# independent verifiers accept it
run_ok skopeo_inspect "oci-archive:$T/a.tar"
assert_eq "$(jq -r .Digest "$T/out")" "$(jq -r .digest "$T/a.json")" "skopeo's digest"
run_ok skopeo_inspect --config "oci-archive:$T/a.tar"
cp "$T/out" "$T/config.json"
assert_eq "$(jq -c .config.Cmd "$T/config.json")" '["python3","-m","app.main"]' "Cmd"
assert_eq "$(jq -r .config.WorkingDir "$T/config.json")" /srv "WorkingDir"
assert_eq "$(jq -r .config.User "$T/config.json")" 1000 "User"
assert_eq "$(jq -c '.config.ExposedPorts' "$T/config.json")" '{"8080/tcp":{}}' "ExposedPorts"
assert_contains "$T/config.json" '"GREETING=hello world"'
assert_contains "$T/config.json" '"MODEL_PATH=/srv/model/model.pkl"'
assert_eq "$(jq -r .config.Labels.team "$T/config.json")" ml "label"
assert_eq "$(jq -r .created "$T/config.json")" 2023-11-14T22:13:20Z "created"
assert_eq "$(jq -r '.rootfs.diff_ids | length' "$T/config.json")" 2 "diff_ids"

umoci_unpack "$T/a.tar" "$T/bundle"
r="$T/bundle/rootfs"
( cd "$r" && find . -mindepth 1 | sort ) >"$T/files"
printf '%s\n' ./srv ./srv/app ./srv/app/entry.py ./srv/app/main.py ./srv/app/pkg \
	./srv/app/pkg/__init__.py ./srv/app/run.sh ./srv/model ./srv/model/model.pkl >"$T/want"
diff -u "$T/want" "$T/files" || fail "rootfs files differ from deploy.yaml"
assert_eq "$(stat -c '%a %u %g %Y' "$r/srv/app/main.py")" "644 0 0 1700000000" "main.py mode/owner/mtime"
assert_eq "$(stat -c '%a' "$r/srv/app/run.sh")" 755 "run.sh mode"
assert_eq "$(stat -c '%a %Y' "$r/srv/app/pkg")" "755 1700000000" "directory mode/mtime"
assert_eq "$(readlink "$r/srv/app/entry.py")" main.py "symlink"
cmp "$r/srv/model/model.pkl" "$T/a/model/model.pkl" || fail "model content"

# second build: layers reused, output left alone
run_ok "$MLDEPLOY" -C "$T/a" --json build -o "$T/a.tar"
assert_eq "$(jq -r '[.layers[].cached] | all' "$T/out")" true "layers reused"
assert_eq "$(jq -r .up_to_date "$T/out")" true "output up to date"

# a code change changes only the code layer
printf 'print("serving v2")\n' >"$T/a/app/main.py"
run_ok "$MLDEPLOY" -C "$T/a" --json build -o "$T/a.tar"
cp "$T/out" "$T/c.json"
assert_eq "$(jq -r '.layers[0].digest' "$T/c.json")" "$(jq -r '.layers[0].digest' "$T/a.json")" "model layer after a code change"
assert_eq "$(jq -r '.layers[0].cached' "$T/c.json")" true "model layer reused"
[ "$(jq -r '.layers[1].digest' "$T/c.json")" != "$(jq -r '.layers[1].digest' "$T/a.json")" ] ||
	fail "code layer digest did not change"
[ "$(jq -r .digest "$T/c.json")" != "$(jq -r .digest "$T/a.json")" ] || fail "image digest did not change"

# --no-cache rebuilds to the same bytes; zstd and uncompressed layers are accepted too
run_ok "$MLDEPLOY" -C "$T/a" --json build --no-cache -o "$T/a2.tar"
assert_eq "$(jq -r .digest "$T/out")" "$(jq -r .digest "$T/c.json")" "digest with --no-cache"
run_ok "$MLDEPLOY" -C "$T/a" --json build --compression zstd -o "$T/z.tar"
assert_eq "$(jq -r '.layers[0].media_type' "$T/out")" application/vnd.oci.image.layer.v1.tar+zstd "zstd media type"
run_ok skopeo_inspect "oci-archive:$T/z.tar"
run_ok "$MLDEPLOY" -C "$T/a" --json build --compression none -o "$T/n.tar"
assert_eq "$(jq -r '.layers[1].diff_id == .layers[1].digest' "$T/out")" true "uncompressed digest = diff_id"
umoci_unpack "$T/n.tar" "$T/bundle-n"
cmp "$T/bundle-n/rootfs/srv/app/main.py" "$T/a/app/main.py" || fail "uncompressed layer content"
