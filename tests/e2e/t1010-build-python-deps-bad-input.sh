#!/usr/bin/env bash
# image.python against a loopback index, on an empty base (the interpreter given in
# deploy.yaml): index kinds (PEP 691 JSON, PEP 503 HTML, find-links, basic auth,
# ~/.netrc), determinism, and bad inputs that must give a clear error, the
# documented exit status, and nothing half-written.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

make_test_wheels "$T/wheels"
start_pyindex "$T/wheels"
INDEX=$PYINDEX_URL
export MLDEPLOY_CACHE_DIR="$T/cache"

mkdir -p "$T/ctx/app"
printf 'print("app")\n' >"$T/ctx/app/main.py"
cfg() {	# [EXTRA YAML LINES under python:]
	{
		cat <<YAML
name: pydeps
image:
  base: scratch
  platform: linux/amd64
  copy: ["app/:/app/"]
  python:
    requirements: requirements.txt
    version: "3.11"
    site_packages: /usr/local/lib/python3.11/site-packages
    platform_tags: [manylinux_2_36_x86_64, manylinux_2_17_x86_64, manylinux2014_x86_64]
YAML
		printf '    %s\n' "$@"
	} >"$T/ctx/deploy.yaml"
}
reqs() { printf '%s\n' "$@" >"$T/ctx/requirements.txt"; }
build() { "$MLDEPLOY" -C "$T/ctx" build -o "$T/out.tar" "$@"; }
expect() {	# STATUS TEXT...: build fails with STATUS, stderr holds every TEXT
	local status=$1
	shift
	must_fail "$status" build
	local t
	for t in "$@"; do
		assert_contains "$T/err" "$t"
	done
	[ ! -e "$T/out.tar" ] || fail "a failed build left $T/out.tar (line ${BASH_LINENO[0]})"
	if [ -d "$T/cache/tmp" ] && [ -n "$(ls -A "$T/cache/tmp")" ]; then
		fail "a failed build left files in the cache's tmp/: $(ls "$T/cache/tmp")"
	fi
	return 0
}

# ---- a complete set from the JSON API: packages, entry points, RECORD
cfg "index: $INDEX"
reqs '# pip-compile style' 'mlmarker[fast]==0.3.0' '    # via -r requirements.in' \
	'mlcext==2.1.0 ; sys_platform == "linux"' 'mlpure==1.0.0' 'mlnever==9.9 ; python_version < "3"'
run_ok build --json
cp "$T/out" "$T/first.json"
assert_eq "$(jq -r '[.layers[] | select(.from_base | not) | .name] | join(",")' "$T/first.json")" \
	"python,app" "layer names"
assert_eq "$(jq -r '[.python.packages[] | "\(.name)==\(.version) \(.wheel)"] | join(";")' "$T/first.json")" \
	"mlcext==2.1.0 mlcext-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl;mlmarker==0.3.0 mlmarker-0.3.0-py3-none-any.whl;mlpure==1.0.0 mlpure-1.0.0-py3-none-any.whl" \
	"resolved packages"
for w in mlcext-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl mlpure-1.0.0-py3-none-any.whl; do
	assert_eq "$(jq -r --arg w "$w" '.python.packages[] | select(.wheel == $w) | .digest' "$T/first.json")" \
		"sha256:$(sha256sum "$T/wheels/$w" | cut -d' ' -f1)" "digest of $w"
done
assert_eq "$(pyindex_count '"accept":"application/vnd.pypi.simple.v1\+json')" 3 "JSON API pages asked"
py_digest=$(jq -r '.layers[] | select(.name == "python") | .digest' "$T/first.json")

umoci_unpack "$T/out.tar" "$T/unpacked"
rootfs="$T/unpacked/rootfs"
sp="$rootfs/usr/local/lib/python3.11/site-packages"
[ -f "$sp/mlpure/__init__.py" ] || fail "mlpure not installed"
ls "$sp"/mlcext/_speed*.so >/dev/null || fail "mlcext's extension not installed"
assert_eq "$(cat "$sp/mlpure-1.0.0.dist-info/INSTALLER")" "mldeploy" "INSTALLER"
assert_eq "$(head -n 1 "$rootfs/usr/local/bin/mlpure-hello")" "#!/usr/local/bin/python3.11" "entry point #!"
[ -x "$rootfs/usr/local/bin/mlpure-hello" ] || fail "entry point is not executable"
grep -q '^mlpure/__init__.py,sha256=' "$sp/mlpure-1.0.0.dist-info/RECORD" || fail "RECORD lacks hashes"
grep -q '^\.\./\.\./\.\./bin/mlpure-hello,sha256=' "$sp/mlpure-1.0.0.dist-info/RECORD" ||
	fail "RECORD lacks the entry point: $(cat "$sp/mlpure-1.0.0.dist-info/RECORD")"
# every RECORD row with a hash is the installed file's
(cd "$sp" && /usr/bin/python3 - mlpure-1.0.0.dist-info/RECORD mlcext-2.1.0.dist-info/RECORD <<'PY'
import base64, csv, hashlib, sys
for rec in sys.argv[1:]:
    for path, h, size in csv.reader(open(rec)):
        if not h:
            continue
        data = open(path, "rb").read()
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert h == want and int(size) == len(data), (rec, path)
PY
) || fail "RECORD does not describe the installed files"

# a staging directory left by a build that died is removed by the next one
sleep 0 &
dead=$!
wait "$dead"
mkdir -p "$T/cache/tmp/stage-$dead-abcdef/usr/lib"
printf 'x' >"$T/cache/tmp/stage-$dead-abcdef/usr/lib/f"
run_ok build
[ ! -e "$T/cache/tmp/stage-$dead-abcdef" ] || fail "an abandoned staging directory was not removed"

# ---- determinism: the same set gives the same layer; a code change reuses it
rm -rf "$T/cache"
run_ok build --json --no-cache
assert_eq "$(jq -r '.layers[] | select(.name == "python") | .digest' "$T/out")" "$py_digest" \
	"python layer after a cold rebuild"
printf 'print("app v2")\n' >"$T/ctx/app/main.py"
asked=$(pyindex_count .)
run_ok build --json
assert_eq "$(jq -r '.layers[] | select(.name == "python") | "\(.digest) \(.cached)"' "$T/out")" \
	"$py_digest true" "python layer after a code change"
assert_eq "$(jq -r '.python.resolved_from_cache' "$T/out")" true "resolution reused"
assert_eq "$(pyindex_count .)" "$asked" "index requests for an unchanged requirements file"
# a requirements change rebuilds only the python layer
reqs 'mlpure==1.0.0'
run_ok build --json
assert_eq "$(jq -r '[.layers[] | select(.from_base | not) | "\(.name):\(.cached)"] | join(",")' "$T/out")" \
	"python:false,app:true" "requirements change"
rm -f "$T/out.tar"

# ---- PEP 503 HTML only, and a directory of wheels
start_pyindex "$T/wheels" --html-only
cfg "index: $PYINDEX_URL"
reqs 'mlmarker==0.3.0' 'mlpure==1.0.0'
run_ok build --json --no-cache
assert_eq "$(jq -r '[.python.packages[].source] | unique | join(",")' "$T/out")" "$PYINDEX_URL" "html index used"
mkdir -p "$T/ctx/wheelhouse"
cp "$T/wheels/mlpure-1.0.0-py3-none-any.whl" "$T/ctx/wheelhouse/"
cfg "find_links: [wheelhouse]"
reqs '--no-index' 'mlpure==1.0.0'
run_ok build --json
assert_eq "$(jq -r '.python.packages[0].source' "$T/out")" "$T/ctx/wheelhouse" "find-links directory"
rm -f "$T/out.tar"

# ---- bad requirements files
cfg "index: $INDEX"
reqs 'mlpure==1.0.0' 'mlmarker>=0.3'
expect 2 "requirements.txt:2:1:" "mlmarker" "pin"
reqs 'mlpure' 
expect 2 "requirements.txt:1:1:" "not pinned"
reqs '-e ./src'
expect 2 "requirements.txt:1:"
reqs 'mlpure==1.0.0' 'mlpure==1.0.0'
expect 2 "requirements.txt:2:" "listed twice, on lines 1 and 2"
# a missing dependency (mlmarker needs mlpure; its extra needs mlcext)
reqs 'mlmarker[fast]==0.3.0'
expect 2 "not a complete set" "mlpure" "mlcext" "mlmarker 0.3.0 requires"
# no wheel for the image
reqs 'mlmac==1.0'
expect 1 "no wheel of mlmac==1.0 for the image" "CPython 3.11" "mlmac-1.0-cp311-cp311-macosx_11_0_arm64.whl" \
	"cp311-cp311-manylinux_2_36_x86_64, " "py3-none-any" "source distributions are not built"
reqs 'mlpure==7.7.7'
expect 1 "no wheel of mlpure==7.7.7" "1.0.0"
reqs 'nosuchproject==1.0'
expect 1 "no wheel of 'nosuchproject'"
# a hash pin that does not match, and an index serving a file that does not match its hash
reqs "mlpure==1.0.0 --hash=sha256:$(printf '0%.0s' $(seq 64))"
expect 1 "mlpure==1.0.0" "--hash"
reqs "mlpure==1.0.0 --hash=sha256:$(sha256sum "$T/wheels/mlpure-1.0.0-py3-none-any.whl" | cut -d' ' -f1)"
run_ok build
rm -f "$T/out.tar"
start_pyindex "$T/wheels" --bad-hash mlpure
cfg "index: $PYINDEX_URL"
reqs 'mlpure==1.0.0'
rm -rf "$T/cache"
expect 1 "mlpure-1.0.0-py3-none-any.whl" "does not match the index's hash"
# a wheel whose members escape site-packages
cfg "index: $INDEX"
reqs 'mlevil==1.0'
expect 2 "mlevil-1.0-py3-none-any.whl" "../../evil.txt"
[ ! -e "$T/evil.txt" ] && [ ! -e "$T/cache/evil.txt" ] || fail "the evil wheel wrote outside its directory"
# an index that does not answer
port=$(free_port)
cfg "index: http://127.0.0.1:$port/simple"
reqs 'mlpure==1.0.0'
rm -rf "$T/cache"
expect 1 "package index http://127.0.0.1:$port/simple unreachable" "could not connect"

# ---- basic auth: from the URL (never printed), from ~/.netrc; never sent to another origin
start_pyindex "$T/wheels"
files_url="http://localhost:$PYINDEX_PORT/files"
open_log=$PYINDEX_LOG
start_pyindex "$T/wheels" --auth alice:s3cr3t-pw --files-base "$files_url"
cfg "index: http://alice:s3cr3t-pw@$PYINDEX_ADDR/simple"
rm -rf "$T/cache"
run_ok build -vv --json
assert_not_contains "$T/err" "s3cr3t-pw"
assert_not_contains "$T/out" "s3cr3t-pw"
run_ok "$MLDEPLOY" -C "$T/ctx" -vv validate
assert_not_contains "$T/out" "s3cr3t-pw"
assert_not_contains "$T/err" "s3cr3t-pw"
assert_eq "$(pyindex_count '"path":"/files/mlpure' "$open_log")" 1 "download from the other origin"
assert_eq "$(pyindex_count '"path":"/files/mlpure[^"]*","accept":[^,]*,"auth":true' "$open_log")" 0 \
	"credentials sent to another origin"
rm -f "$T/out.tar"
cfg "index: $PYINDEX_URL"
rm -rf "$T/cache"
expect 1 "refused access" "netrc"
printf 'machine 127.0.0.1 login alice password s3cr3t-pw\n' >"$T/netrc"
chmod 600 "$T/netrc"
NETRC="$T/netrc" run_ok build -vv
assert_not_contains "$T/err" "s3cr3t-pw"
rm -f "$T/out.tar"

# ---- deploy.yaml errors point at the key
cfg "index: ftp://example.com/simple"
expect 2 "deploy.yaml:11:12:" "image.python.index"
printf 'name: x\nimage:\n  base: scratch\n  python:\n    requirements: missing.txt\n    version: "3.11"\n' >"$T/ctx/deploy.yaml"
expect 2 "deploy.yaml:5:19:" "missing.txt"
printf 'name: x\nimage:\n  base: scratch\n  python:\n    requirements: ../requirements.txt\n' >"$T/ctx/deploy.yaml"
expect 2 "deploy.yaml:5:19:" "inside the context"
printf 'name: x\nimage:\n  base: scratch\n  python:\n    requirements: requirements.txt\n' >"$T/ctx/deploy.yaml"
expect 2 "no Python 3 interpreter found" "image.python.version"
