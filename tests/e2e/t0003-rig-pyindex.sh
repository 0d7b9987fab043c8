#!/usr/bin/env bash
# The nested test script below is single-quoted on purpose.
# shellcheck disable=SC2016
#
# Rig self-test of tests/e2e/pywheels.sh and tests/fakes/pyindex.py, with real
# tools only (curl, Debian's pip; no mldeploy): the wheels build (and come from the
# cache the second time); the index negotiates JSON (PEP 691) and HTML (PEP 503),
# redirects non-normalized names, advertises the files' real sha256 (or a wrong one
# with --bad-hash), re-reads its directory, requires Basic auth with --auth, can put
# files on another origin, and logs requests without credentials; pip downloads
# through every variant; pip installs the wheels with their markers and extra, and
# the C extension, the console script and the web app of mlmarker work.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

JSON=application/vnd.pypi.simple.v1+json
PIP_ACCEPT="$JSON, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
PURE=mlpure-1.0.0-py3-none-any.whl
CEXT=mlcext-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CONFIG_FILE=/dev/null PIP_NO_INPUT=1 \
	PYTHONDONTWRITEBYTECODE=1

# header FILE NAME: the value of a response header in a curl -D dump.
header() {
	tr -d '\r' <"$1" | awk -v n="${2,,}" '
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) v = substr($0, i + 2) }
		END { print v }'
}

# get URL [CURL_ARGS...]: body to $T/body, headers to $T/head; prints the status.
get() {
	local url=$1
	shift
	curl -sS -D "$T/head" -o "$T/body" -w '%{http_code}' "$@" "$url"
}

sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

pip() {
	/usr/bin/python3 -m pip "$@"
}

say "the wheels build, twice the same (the second time from the rig cache)"
make_test_wheels "$T/wheels"
W=$T/wheels
assert_eq "$TEST_WHEELS" "$W" "TEST_WHEELS"
for f in "$PURE" "$CEXT" mlmarker-0.3.0-py3-none-any.whl mlevil-1.0-py3-none-any.whl \
	mlmac-1.0-cp311-cp311-macosx_11_0_arm64.whl; do
	[ -f "$W/$f" ] || fail "no $f in $(ls "$W")"
done
compgen -G "$W/pip-*-py3-none-any.whl" >/dev/null || fail "no pip wheel"
compgen -G "$W/setuptools-*-py3-none-any.whl" >/dev/null || fail "no setuptools wheel"
make_test_wheels "$T/wheels2"
for f in "$W"/*.whl; do
	cmp -s "$f" "$T/wheels2/${f##*/}" || fail "${f##*/} differs between two make_test_wheels"
done
run_ok /usr/bin/python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert "../../evil.txt" in z.namelist(), z.namelist()
assert "../../evil.txt,sha256=" in z.read("mlevil-1.0.dist-info/RECORD").decode()
w = zipfile.ZipFile(sys.argv[2]).read("mlcext-2.1.0.dist-info/WHEEL").decode()
assert "Tag: cp311-cp311-manylinux_2_17_x86_64\n" in w, w
m = zipfile.ZipFile(sys.argv[3]).read("mlmac-1.0.dist-info/WHEEL").decode()
assert "Tag: cp311-cp311-macosx_11_0_arm64\n" in m, m' \
	"$W/mlevil-1.0-py3-none-any.whl" "$W/$CEXT" "$W/mlmac-1.0-cp311-cp311-macosx_11_0_arm64.whl"

say "pip installs mlmarker[fast] from the files: markers skip mlnever and mlwin"
run_ok pip install --target "$T/t" --no-index --find-links "$W" 'mlmarker[fast]'
assert_contains "$T/out" "Successfully installed mlcext-2.1.0 mlmarker-0.3.0 mlpure-1.0.0"
assert_not_contains "$T/out" mlnever
run_ok env PYTHONPATH="$T/t" /usr/bin/python3 -c 'import mlcext._speed, mlcext
assert mlcext._speed.add(2, 40) == 42 and mlcext.add(-1, 1) == 0
print(mlcext._speed.__file__)'
assert_contains "$T/out" "/mlcext/_speed.cpython-311-x86_64-linux-gnu.so"
run_ok env PYTHONPATH="$T/t" "$T/t/bin/mlpure-hello"
assert_eq "$(cat "$T/out")" "hello from mlpure" "mlpure-hello"
port=$(free_port)
spawn "$T/app.out" "$T/app.err" env PYTHONPATH="$T/t" PORT="$port" /usr/bin/python3 -c \
	'import mlmarker; mlmarker.serve()'
wait_for 10 curl -fsS "http://127.0.0.1:$port/" || fail "mlmarker.serve did not answer: $(cat "$T/app.err")"
assert_eq "$(curl -fsS "http://127.0.0.1:$port/")" "mlmarker hello from mlpure" "mlmarker's answer"

say "JSON and HTML by the Accept header"
start_pyindex "$W"
case $PYINDEX_URL in http://127.0.0.1:[0-9]*/simple) ;; *) fail "PYINDEX_URL is '$PYINDEX_URL'" ;; esac
assert_eq "$PYINDEX_ADDR" "127.0.0.1:$PYINDEX_PORT" "PYINDEX_ADDR"
assert_eq "$PYINDEX_FILES" "$W" "PYINDEX_FILES"
assert_eq "$(get "$PYINDEX_URL/")" 200 "project list"
assert_eq "$(header "$T/head" Content-Type)" text/html "project list type without Accept"
assert_contains "$T/body" '<a href="mlpure/">mlpure</a>'
assert_eq "$(get "$PYINDEX_URL/" -H "Accept: $JSON")" 200 "JSON project list"
assert_eq "$(header "$T/head" Content-Type)" "$JSON" "JSON project list type"
assert_eq "$(jq -r '.meta["api-version"]' "$T/body")" 1.1 "api-version"
assert_eq "$(jq -r '[.projects[].name] | join(" ")' "$T/body")" \
	"mlcext mlevil mlmac mlmarker mlpure pip setuptools" "projects"

assert_eq "$(get "$PYINDEX_URL/mlpure/" -H "Accept: $JSON")" 200 "JSON project page"
assert_eq "$(header "$T/head" Content-Type)" "$JSON" "JSON project page type"
assert_eq "$(header "$T/head" Vary)" Accept "Vary"
assert_eq "$(jq -r .name "$T/body")" mlpure "name"
assert_eq "$(jq -c .versions "$T/body")" '["1.0.0"]' "versions"
assert_eq "$(jq -c '.files[0] | [.filename, .url, .yanked, .["core-metadata"], .size, has("requires-python")]' \
	"$T/body")" "[\"$PURE\",\"../../files/$PURE\",false,false,$(stat -c %s "$W/$PURE"),false]" "file entry"
assert_eq "$(jq -r '.files[0].hashes.sha256' "$T/body")" "$(sha "$W/$PURE")" "advertised sha256"
# The relative URL resolves against the page, like a client does.
assert_eq "$(get "$PYINDEX_URL/mlpure/../../files/$PURE")" 200 "file download"
assert_eq "$(header "$T/head" Content-Type)" application/octet-stream "file type"
cmp -s "$T/body" "$W/$PURE" || fail "downloaded file differs"

assert_eq "$(get "$PYINDEX_URL/mlpure/")" 200 "HTML project page"
assert_eq "$(header "$T/head" Content-Type)" text/html "HTML project page type without Accept"
assert_contains "$T/body" "<a href=\"../../files/$PURE#sha256=$(sha "$W/$PURE")\">$PURE</a>"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -H "Accept: $PIP_ACCEPT")" 200 "pip's Accept"
assert_eq "$(header "$T/head" Content-Type)" "$JSON" "pip's Accept gets JSON"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -H "Accept: text/html, $JSON; q=0.5")" 200 "HTML preferred"
assert_eq "$(header "$T/head" Content-Type)" text/html "q decides"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -H 'Accept: application/vnd.pypi.simple.v1+html')" 200 "v1+html"
assert_eq "$(header "$T/head" Content-Type)" application/vnd.pypi.simple.v1+html "v1+html type"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -H 'Accept: application/json')" 406 "nothing acceptable"

say "301 to the normalized name; 404 for unknown projects and files"
assert_eq "$(get "$PYINDEX_URL/MLPure/")" 301 "non-normalized name"
assert_eq "$(header "$T/head" Location)" /simple/mlpure/ "Location"
assert_eq "$(get "$PYINDEX_URL/Ml_Marker.x")" 301 "separators and no slash"
assert_eq "$(header "$T/head" Location)" /simple/ml-marker-x/ "Location of a normalized name"
assert_eq "$(get "$PYINDEX_URL/mlpure")" 301 "no final slash"
assert_eq "$(header "$T/head" Location)" /simple/mlpure/ "Location without the slash"
assert_eq "$(get "$PYINDEX_URL/MLPure/" -L -H "Accept: $JSON")" 200 "following the redirect"
assert_eq "$(jq -r .name "$T/body")" mlpure "name after the redirect"
assert_eq "$(get "$PYINDEX_URL/nosuch/")" 404 "unknown project"
assert_eq "$(get "http://$PYINDEX_ADDR/files/nosuch-1.0-py3-none-any.whl")" 404 "unknown file"

say "the directory is read on every request"
cp "$W/$PURE" "$W/mlpure-1.0.10-py3-none-any.whl"
printf 'x' >>"$W/mlpure-1.0.10-py3-none-any.whl"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -H "Accept: $JSON")" 200 "project page after adding a file"
assert_eq "$(jq -c .versions "$T/body")" '["1.0.0","1.0.10"]' "versions after adding a file"
assert_eq "$(jq -r '.files[] | select(.filename == "mlpure-1.0.10-py3-none-any.whl") | .hashes.sha256' \
	"$T/body")" "$(sha "$W/mlpure-1.0.10-py3-none-any.whl")" "sha256 of the added file"
rm "$W/mlpure-1.0.10-py3-none-any.whl"

say "pip downloads through the index (PEP 691 JSON)"
before=$(wc -l <"$PYINDEX_LOG")
run_ok pip download --no-deps --index-url "$PYINDEX_URL" -d "$T/dl" mlpure==1.0.0
cmp -s "$T/dl/$PURE" "$W/$PURE" || fail "pip downloaded another file"
tail -n +$((before + 1)) "$PYINDEX_LOG" >"$T/pip.log"
assert_eq "$(pyindex_count '"path":"/simple/mlpure/","accept":"application/vnd.pypi.simple.v1\+json, [^"]*","auth":false,"status":200' \
	"$T/pip.log")" 1 "pip's JSON request"
assert_eq "$(pyindex_count "\"path\":\"/files/$PURE\".*\"status\":200" "$T/pip.log")" 1 "pip's file download"
assert_eq "$(grep -c . "$T/pip.log")" 2 "pip's requests"
assert_eq "$(pyindex_count '"auth":true')" 0 "no Authorization anywhere"
plain_log=$PYINDEX_LOG

say "--html-only: text/html whatever the Accept; pip still downloads"
start_pyindex "$W" --html-only
[ "$PYINDEX_LOG" != "$plain_log" ] || fail "second index shares the first one's log"
assert_eq "$(get "$PYINDEX_URL/mlcext/" -H "Accept: $JSON")" 200 "HTML-only project page"
assert_eq "$(header "$T/head" Content-Type)" text/html "type of an HTML-only answer to JSON"
assert_contains "$T/body" "<a href=\"../../files/$CEXT#sha256=$(sha "$W/$CEXT")\">$CEXT</a>"
run_ok pip download --no-deps --index-url "$PYINDEX_URL" -d "$T/dl-html" mlcext==2.1.0 \
	--platform manylinux_2_17_x86_64 --python-version 3.11 --implementation cp --abi cp311
cmp -s "$T/dl-html/$CEXT" "$W/$CEXT" || fail "pip downloaded another mlcext"
assert_eq "$(pyindex_count '"path":"/simple/mlcext/".*"status":200')" 2 "project page requests"
assert_eq "$(pyindex_count '"path":"/simple/mlpure/"')" 0 "logs kept apart"

say "--auth: 401 without (or with wrong) credentials, 200 with; the log has no secret"
start_pyindex "$W" --auth alice:s3cr3t
assert_eq "$(get "$PYINDEX_URL/mlpure/")" 401 "no credentials"
assert_eq "$(header "$T/head" WWW-Authenticate)" 'Basic realm="pyindex"' "challenge"
assert_eq "$(get "http://$PYINDEX_ADDR/files/$PURE")" 401 "file without credentials"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -u alice:wrong)" 401 "wrong password"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -u alice:s3cr3t -H "Accept: $JSON")" 200 "credentials"
assert_eq "$(jq -r '.files[0].hashes.sha256' "$T/body")" "$(sha "$W/$PURE")" "sha256 behind auth"
assert_eq "$(get "http://$PYINDEX_ADDR/files/$PURE" -u alice:s3cr3t)" 200 "file with credentials"
run_ok pip download --no-deps --index-url "http://alice:s3cr3t@$PYINDEX_ADDR/simple" -d "$T/dl-auth" \
	mlpure==1.0.0
cmp -s "$T/dl-auth/$PURE" "$W/$PURE" || fail "pip downloaded another file behind auth"
must_fail 1 pip download --no-deps --index-url "$PYINDEX_URL" -d "$T/dl-noauth" mlpure==1.0.0
assert_eq "$(pyindex_count '"auth":false,"status":401')" 3 "401s without credentials (curl 2, pip 1)"
assert_eq "$(pyindex_count '"auth":true,"status":200')" 4 "answers with credentials (curl 2, pip 2)"
assert_eq "$(pyindex_count '"auth":true,"status":401')" 1 "401 with the wrong password"
[ "$(pyindex_count "\"path\":\"/files/$PURE\".*\"auth\":true,\"status\":200")" -ge 2 ] ||
	fail "authenticated file downloads"
assert_not_contains "$PYINDEX_LOG" s3cr3t
assert_not_contains "$PYINDEX_LOG" "$(printf alice:s3cr3t | base64)"
assert_not_contains "$PYINDEX_LOG" alice

say "--bad-hash: a wrong sha256 for one project, and pip refuses the file"
start_pyindex "$W" --bad-hash MLPure
assert_eq "$(get "$PYINDEX_URL/mlpure/" -H "Accept: $JSON")" 200 "bad-hash project page"
bad=$(jq -r '.files[0].hashes.sha256' "$T/body")
case $bad in
"$(sha "$W/$PURE")" | '' | null) fail "--bad-hash advertised '$bad'" ;;
esac
[ "${#bad}" = 64 ] || fail "bad hash '$bad' is not 64 hex digits"
assert_eq "$(get "$PYINDEX_URL/mlpure/")" 200 "bad-hash HTML page"
assert_contains "$T/body" "#sha256=$bad\""
assert_eq "$(get "$PYINDEX_URL/mlcext/" -H "Accept: $JSON")" 200 "another project"
assert_eq "$(jq -r '.files[0].hashes.sha256' "$T/body")" "$(sha "$W/$CEXT")" "other projects keep their hash"
must_fail 1 pip download --no-deps --index-url "$PYINDEX_URL" -d "$T/dl-bad" mlpure==1.0.0
assert_contains "$T/err" "HASHES"

say "--files-base: files on another origin; credentials stay at the index"
start_pyindex "$W"
store_addr=$PYINDEX_ADDR store_log=$PYINDEX_LOG
start_pyindex "$W" --auth bob:pw --files-base "http://localhost:${store_addr#127.0.0.1:}/files"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -u bob:pw -H "Accept: $JSON")" 200 "index page"
url=$(jq -r '.files[0].url' "$T/body")
assert_eq "$url" "http://localhost:${store_addr#127.0.0.1:}/files/$PURE" "absolute file URL"
assert_eq "$(get "$PYINDEX_URL/mlpure/" -u bob:pw)" 200 "HTML index page"
assert_contains "$T/body" "<a href=\"$url#sha256=$(sha "$W/$PURE")\">"
run_ok pip download --no-deps --index-url "http://bob:pw@$PYINDEX_ADDR/simple" -d "$T/dl-store" mlpure==1.0.0
cmp -s "$T/dl-store/$PURE" "$W/$PURE" || fail "pip downloaded another file from the store"
assert_eq "$(pyindex_count "\"path\":\"/files/$PURE\",\"accept\":[^,]*,\"auth\":false,\"status\":200" \
	"$store_log")" 1 "the file came from the other origin without Authorization"
assert_eq "$(pyindex_count '"path":"/files/')" 0 "no file requests at the index"
# Positive control: a client that does send it is seen.
curl -fsS -o /dev/null -u bob:pw "$url" || fail "GET with credentials at the store failed"
assert_eq "$(pyindex_count '"auth":true' "$store_log")" 1 "Authorization seen when sent"

say "a nested test's index stops with it"
run_ok env -u E2E_KEEP bash -c '. "$1"; mkdir "$T/w"; start_pyindex "$T/w"; echo "$T $PYINDEX_PID"' \
	_ "$SRCDIR/tests/e2e/lib.sh"
read -r inner_t inner_pid <"$T/out"
[ ! -e "$inner_t" ] || fail "nested test left $inner_t behind"
if kill -0 "$inner_pid" 2>/dev/null; then
	fail "nested test left the index ($inner_pid) running"
fi
must_fail 1 bash -c '. "$1"; start_pyindex "$T/nosuchdir"' _ "$SRCDIR/tests/e2e/lib.sh"
assert_contains "$T/err" "is not a directory"
say "done"
