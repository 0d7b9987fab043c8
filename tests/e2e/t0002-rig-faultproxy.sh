#!/usr/bin/env bash
# The nested test script below is single-quoted on purpose.
# shellcheck disable=SC2016
#
# Rig self-test of tests/fakes/faultproxy.py, with real tools only (skopeo, curl,
# docker-registry; no mldeploy): the proxy forwards a skopeo push and its log sees
# every request; Location headers point back at the proxy; chunked bodies pass;
# each fault (status with Retry-After, reset_after_bytes with and without
# forwarding, reset_before_response, delay_ms) does what it says, on the counted
# request only, and the rules file is re-read on every request; the redirect mode
# sends blobs to another origin where curl no longer sends Authorization; a TLS
# and htpasswd registry works through the proxy; everything stops at exit.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CT='Content-Type: application/octet-stream'

# new_upload PROXY_ADDR REPO: POST an upload session, print its Location.
new_upload() {
	curl -fsS -D "$T/post.h" -o /dev/null -X POST "http://$1/v2/$2/blobs/uploads/" ||
		fail "POST upload session through $1 failed"
	tr -d '\r' <"$T/post.h" | sed -n 's/^[Ll]ocation: //p'
}

# header FILE NAME: the value of a response header in a curl -D dump.
header() {
	tr -d '\r' <"$1" | awk -v n="${2,,}" '
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) v = substr($0, i + 2) }
		END { print v }'
}

say "the proxy forwards a skopeo push; reset_after_bytes cuts its first PATCH"
start_registry reg
start_faultproxy front "$REG_REG_ADDR"
case $PROXY_FRONT_ADDR in 127.0.0.1:[0-9]*) ;; *) fail "PROXY_FRONT_ADDR is '$PROXY_FRONT_ADDR'" ;; esac
assert_eq "$(cat "$PROXY_FRONT_RULES")" "[]" "initial rules"
busybox_layout
proxy_rules front '[{"method": "PATCH", "path_regex": "/blobs/uploads/", "nth": 1,
	"action": "reset_after_bytes", "bytes": 65536}]'
# skopeo 1.9 does not retry a reset upload; a later one might (then it pushes).
rc=0
skopeo copy --dest-tls-verify=false "oci:$BUSYBOX_LAYOUT:amd64" \
	"docker://$PROXY_FRONT_ADDR/test/busybox:v1" >"$T/out" 2>"$T/err" || rc=$?
assert_eq "$(proxy_count front PATCH '^/v2/test/busybox/' status=reset bytes=65536 \
	fault=reset_after_bytes:65536 up=-)" 1 "the reset in the log"
if [ "$rc" = 0 ]; then
	[ "$(proxy_count front PATCH '^/v2/test/busybox/' status=202)" -ge 1 ] ||
		fail "skopeo succeeded without another PATCH"
else
	assert_contains "$T/err" "writing blob"
fi
# The rule fired once: the same push now goes through.
make_busybox_image "$PROXY_FRONT_ADDR" test/busybox v1
run_ok skopeo_inspect "docker://$PROXY_FRONT_ADDR/test/busybox:v1"
assert_eq "$(jq -r .Digest "$T/out")" "$BUSYBOX_AMD64_DIGEST" "digest through the proxy"
# Layer and config: one PATCH and one closing PUT each, then the manifest.
assert_eq "$(proxy_count front PATCH '^/v2/test/busybox/blobs/uploads/' status=202 fault=-)" 2 \
	"PATCHes in the proxy log"
assert_eq "$(proxy_count front PUT '^/v2/test/busybox/blobs/uploads/.*[?&]digest=' status=201 up=201)" 2 \
	"closing PUTs in the proxy log"
assert_eq "$(proxy_count front PUT '^/v2/test/busybox/manifests/v1$' status=201)" 1 "manifest PUT"
assert_eq "$(registry_blob_uploads reg)" 2 "uploads the registry saw"
assert_eq "$(registry_count reg PATCH '^/v2/test/busybox/')" 2 "PATCHes that reached the registry"
assert_eq "$(proxy_count front PATCH '' bytes=0)" 0 "PATCHes logged without their body bytes"
assert_eq "$(proxy_count front '*' '' auth=none)" "$(grep -c . "$PROXY_FRONT_LOG")" "auth=none everywhere"
assert_not_contains "$PROXY_FRONT_LOG" "$REG_REG_ADDR"

say "Location points at the proxy; chunked bodies are forwarded"
loc=$(new_upload "$PROXY_FRONT_ADDR" test/blob)
case $loc in
"http://$PROXY_FRONT_ADDR/v2/test/blob/blobs/uploads/"*) ;;
*) fail "upload Location not rewritten to the proxy: $loc" ;;
esac
head -c 300000 /dev/urandom >"$T/blob"
digest=sha256:$(sha256sum <"$T/blob" | cut -d' ' -f1)
curl -fsS -D "$T/patch.h" -o /dev/null -X PATCH -H "$CT" -H 'Transfer-Encoding: chunked' \
	--data-binary @"$T/blob" "$loc" || fail "chunked PATCH failed"
assert_eq "$(header "$T/patch.h" Range)" 0-299999 "Range after a chunked PATCH"
assert_eq "$(proxy_count front PATCH '^/v2/test/blob/' bytes=300000 range=0-299999)" 1 "chunked PATCH log"
loc=$(header "$T/patch.h" Location)
curl -fsS -o /dev/null -X PUT "$loc&digest=$digest" || fail "closing PUT failed"
curl -fsS -o "$T/blob.back" "http://$PROXY_FRONT_ADDR/v2/test/blob/blobs/$digest" || fail "GET blob failed"
cmp -s "$T/blob" "$T/blob.back" || fail "blob read back through the proxy differs"

say "reset_after_bytes is an RST; the upload resumes from the registry's Range"
head -c 1000000 /dev/urandom >"$T/big"
digest=sha256:$(sha256sum <"$T/big" | cut -d' ' -f1)
head -c 400000 "$T/big" >"$T/big.1"
tail -c +400001 "$T/big" >"$T/big.2"
proxy_rules front '[{"method": "PATCH", "path_regex": "^/v2/resume/", "nth": 2,
	"action": "reset_after_bytes", "bytes": 100000}]'
loc=$(new_upload "$PROXY_FRONT_ADDR" resume)
curl -fsS -D "$T/p1.h" -o /dev/null -X PATCH -H "$CT" --data-binary @"$T/big.1" "$loc" ||
	fail "first PATCH failed"
loc=$(header "$T/p1.h" Location)
rc=0
curl -sS -o /dev/null -X PATCH -H "$CT" --data-binary @"$T/big.2" "$loc" 2>"$T/curl.err" || rc=$?
case $rc in
55 | 56) ;;
*) fail "curl status $rc after a reset, expected 55 or 56 (send/recv failure): $(cat "$T/curl.err")" ;;
esac
assert_contains "$T/curl.err" "reset by peer"
curl -fsS -D "$T/status.h" -o /dev/null "$loc" || fail "GET upload status failed"
assert_eq "$(header "$T/status.h" Range)" 0-399999 "Range after the reset (nothing forwarded)"
curl -fsS -D "$T/p2.h" -o /dev/null -X PATCH -H "$CT" --data-binary @"$T/big.2" "$loc" ||
	fail "resumed PATCH failed"
loc=$(header "$T/p2.h" Location)
curl -fsS -o /dev/null -X PUT "$loc&digest=$digest" || fail "closing PUT after resuming failed"
assert_eq "$(proxy_count front PATCH '^/v2/resume/' status=reset bytes=100000)" 1 "reset logged"
assert_eq "$(proxy_count front PATCH '^/v2/resume/' status=202)" 2 "PATCHes answered"

say "reset_after_bytes with forward: the registry gets exactly N bytes"
proxy_rules front '[{"method": "PATCH", "path_regex": "^/v2/partial/", "action": "reset_after_bytes",
	"bytes": 300000, "forward": true}]'
loc=$(new_upload "$PROXY_FRONT_ADDR" partial)
rc=0
curl -sS -o /dev/null -X PATCH -H "$CT" --data-binary @"$T/big" "$loc" 2>"$T/curl.err" || rc=$?
[ "$rc" = 55 ] || [ "$rc" = 56 ] || fail "curl status $rc after a forwarded reset"
assert_eq "$(proxy_count front PATCH '^/v2/partial/' status=reset up=aborted bytes=300000)" 1 \
	"forwarded reset logged"
grep -q 'client disconnected during blob PATCH.*copied=300000 ' "$REG_REG_LOG" ||
	fail "the registry did not get exactly 300000 bytes"
# Registry 2.8 keeps the partial data: the client's last Location is stale now.
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "$loc")" 404 "status of a stale upload"

say "status: once per counted request, Retry-After, rules re-read on every request"
proxy_rules front '[{"method": "GET", "path_regex": "^/v2/$", "nth": [1, 3], "action": "status",
	"code": 503, "retry_after": 7}]'
codes=''
for i in 1 2 3 4; do
	codes+=$(curl -sS -D "$T/h$i" -o "$T/b$i" -w '%{http_code}' "http://$PROXY_FRONT_ADDR/v2/")" "
done
assert_eq "$codes" "503 200 503 200 " "answers to GET /v2/"
assert_eq "$(header "$T/h1" Retry-After)" 7 "Retry-After"
assert_eq "$(jq -r '.errors[0].code' "$T/b1")" UNAVAILABLE "error code of an injected 503"
assert_eq "$(proxy_count front GET '^/v2/$' fault=status:503 up=-)" 2 "injected 503s"
# A test may also write the file itself; the next request sees it.
printf '%s\n' '[{"path_regex": "^/v2/$", "nth": "every", "action": "status", "code": 429}]' \
	>"$PROXY_FRONT_RULES"
codes=''
for i in 1 2; do
	codes+=$(curl -sS -o /dev/null -w '%{http_code}' "http://$PROXY_FRONT_ADDR/v2/")" "
done
assert_eq "$codes" "429 429 " "every request"
proxy_rules front '[]'
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "http://$PROXY_FRONT_ADDR/v2/")" 200 "rules cleared"

say "status 500 on the manifest PUT: skopeo fails once, then pushes"
proxy_rules front '[{"method": "PUT", "path_regex": "/manifests/", "nth": 1, "action": "status", "code": 500}]'
must_fail 1 skopeo copy --dest-tls-verify=false "oci:$BUSYBOX_LAYOUT:amd64" \
	"docker://$PROXY_FRONT_ADDR/test/busybox:v2"
assert_contains "$T/err" "500"
assert_eq "$(registry_count reg PUT '^/v2/test/busybox/manifests/v2$')" 0 "manifest PUTs that reached the registry"
make_busybox_image "$PROXY_FRONT_ADDR" test/busybox v2
assert_eq "$(proxy_count front PUT '^/v2/test/busybox/manifests/v2$' fault=status:500 status=500)" 1 "failed PUT"
assert_eq "$(proxy_count front PUT '^/v2/test/busybox/manifests/v2$' status=201)" 1 "PUT after the fault"
run_ok skopeo_inspect "docker://$REG_REG_ADDR/test/busybox:v2"

say "status before the body: 100-continue is not sent, the connection closes"
proxy_rules front '[{"method": "PATCH", "nth": "every", "action": "status", "code": 500}]'
loc=$(new_upload "$PROXY_FRONT_ADDR" expect)
curl -sS -v -o /dev/null -H 'Expect: 100-continue' -X PATCH -H "$CT" --data-binary @"$T/big" "$loc" \
	2>"$T/curl.err" || true
assert_contains "$T/curl.err" "< HTTP/1.1 500"
assert_not_contains "$T/curl.err" "100 Continue"
assert_eq "$(proxy_count front PATCH '^/v2/expect/' status=500 bytes=0)" 1 "body not read"
# Without Expect the body is read and dropped, and the connection stays open.
curl -sS -v -o /dev/null -H 'Expect:' -X PATCH -H "$CT" --data-binary @"$T/big" "$loc" \
	-o /dev/null "http://$PROXY_FRONT_ADDR/v2/test/busybox/tags/list" 2>"$T/curl.err" || true
assert_contains "$T/curl.err" "Re-using existing connection"
assert_eq "$(proxy_count front PATCH '^/v2/expect/' status=500 bytes=1000000)" 1 "body dropped"

say "reset_before_response: the registry has the blob, the client hears nothing"
proxy_rules front '[{"method": "PUT", "path_regex": "[?&]digest=", "action": "reset_before_response"}]'
head -c 5000 /dev/urandom >"$T/small"
digest=sha256:$(sha256sum <"$T/small" | cut -d' ' -f1)
loc=$(new_upload "$PROXY_FRONT_ADDR" rbr)
rc=0
curl -sS -o /dev/null -X PUT -H "$CT" --data-binary @"$T/small" "$loc&digest=$digest" 2>"$T/curl.err" || rc=$?
[ "$rc" = 56 ] || fail "curl status $rc, expected 56 (reset instead of an answer): $(cat "$T/curl.err")"
assert_eq "$(proxy_count front PUT '^/v2/rbr/' status=reset up=201 fault=reset_before_response bytes=5000)" 1 \
	"reset_before_response logged"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -I "http://$PROXY_FRONT_ADDR/v2/rbr/blobs/$digest")" 200 \
	"HEAD of the blob the client never heard about"

say "delay_ms"
proxy_rules front '[{"path_regex": "^/v2/$", "action": "delay_ms", "ms": 400}]'
secs=$(curl -fsS -o /dev/null -w '%{time_total}' "http://$PROXY_FRONT_ADDR/v2/")
awk -v s="$secs" 'BEGIN { exit !(s >= 0.4) }' || fail "delayed answer took $secs s"
secs=$(curl -fsS -o /dev/null -w '%{time_total}' "http://$PROXY_FRONT_ADDR/v2/")
awk -v s="$secs" 'BEGIN { exit !(s < 0.4) }' || fail "second answer (not counted) took $secs s"
assert_eq "$(proxy_count front GET '^/v2/$' fault=delay_ms:400 status=200)" 1 "delay logged"

say "bad rules are refused, and answered 500 when written behind the rig's back"
must_fail 1 bash -c '. "$1"; start_registry r; start_faultproxy p "$REG_R_ADDR"
	proxy_rules p "[{\"action\": \"reset_after_bytes\"}]"' _ "$SRCDIR/tests/e2e/lib.sh"
assert_contains "$T/err" "needs bytes"
printf '%s\n' '[{"action": "status", "code": 500, "cde": 1}]' >"$PROXY_FRONT_RULES"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' "http://$PROXY_FRONT_ADDR/v2/")" 500 "bad rules"
assert_eq "$(proxy_count front GET '^/v2/$' fault=bad_rules)" 1 "bad rules logged"
proxy_rules front '[]'

say "redirect mode: blobs on another origin get no Authorization"
start_faultproxy store "$REG_REG_ADDR"
start_faultproxy redir "$REG_REG_ADDR" --redirect-blobs-to store
assert_eq "$PROXY_REDIR_REDIRECT_URL" "http://localhost:${PROXY_STORE_ADDR#127.0.0.1:}" "redirect target"
layer=$(skopeo_inspect --raw "docker://$REG_REG_ADDR/test/busybox:v1" | jq -r '.layers[0].digest')
curl -fsS -L -H 'Authorization: Bearer x' -o "$T/layer" "http://$PROXY_REDIR_ADDR/v2/test/busybox/blobs/$layer" ||
	fail "GET blob through the redirect failed"
assert_eq "sha256:$(sha256sum <"$T/layer" | cut -d' ' -f1)" "$layer" "layer fetched through the redirect"
assert_eq "$(proxy_count redir GET '/blobs/sha256:' status=307 fault=redirect auth=bearer)" 1 "redirect answered"
assert_eq "$(proxy_count store GET "^/v2/test/busybox/blobs/$layer\$" status=200 auth=none)" 1 \
	"no Authorization at the redirect target"
# Positive control: with --location-trusted curl does send it, and the log says so.
curl -fsS -L --location-trusted -H 'Authorization: Bearer x' -o /dev/null \
	"http://$PROXY_REDIR_ADDR/v2/test/busybox/blobs/$layer" || fail "trusted redirect failed"
assert_eq "$(proxy_count store GET '/blobs/sha256:' auth=bearer)" 1 "Authorization seen when sent"
# HEAD is answered by the front itself.
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -I "http://$PROXY_REDIR_ADDR/v2/test/busybox/blobs/$layer")" \
	200 "HEAD through the front"
assert_eq "$(proxy_count redir HEAD '/blobs/sha256:' status=200 fault=-)" 1 "HEAD forwarded"
# Uploads: the session starts at the front, the PUT with the data is redirected.
digest=sha256:$(sha256sum <"$T/small" | cut -d' ' -f1)
loc=$(new_upload "$PROXY_REDIR_ADDR" redirected)
curl -fsS -L -H 'Authorization: Bearer x' -o /dev/null -X PUT -H "$CT" --data-binary @"$T/small" \
	"$loc&digest=$digest" || fail "redirected upload failed"
assert_eq "$(proxy_count redir PUT '^/v2/redirected/' status=307 auth=bearer)" 1 "upload redirected"
assert_eq "$(proxy_count store PUT '^/v2/redirected/' status=201 auth=none bytes=5000)" 1 \
	"upload stored without Authorization"
assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' -I "http://$REG_REG_ADDR/v2/redirected/blobs/$digest")" 200 \
	"redirected blob in the registry"

say "TLS and htpasswd registry through the proxy"
start_registry sec tls htpasswd alice s3cret
start_faultproxy secp "$REG_SEC_ADDR"
assert_eq "$PROXY_SECP_URL" "https://$PROXY_SECP_ADDR" "TLS front"
make_busybox_image "$PROXY_SECP_ADDR" test/busybox v1
run_ok skopeo_inspect "docker://$PROXY_SECP_ADDR/test/busybox:v1"
assert_eq "$(jq -r .Digest "$T/out")" "$BUSYBOX_AMD64_DIGEST" "digest through the TLS proxy"
assert_eq "$(proxy_count secp PUT '/manifests/v1$' status=201 auth=basic)" 1 "authenticated manifest PUT"
assert_not_contains "$PROXY_SECP_LOG" s3cret
assert_not_contains "$PROXY_SECP_LOG" "$(printf 'alice:s3cret' | base64)"
curl -fsS --cacert "$RIG_CA" -u alice:s3cret -D "$T/post.h" -o /dev/null -X POST \
	"https://localhost:${PROXY_SECP_ADDR#127.0.0.1:}/v2/x/blobs/uploads/" || fail "POST via localhost failed"
case $(header "$T/post.h" Location) in
"https://localhost:${PROXY_SECP_ADDR#127.0.0.1:}/v2/x/blobs/uploads/"*) ;;
*) fail "Location not rewritten to the origin the client used: $(header "$T/post.h" Location)" ;;
esac

say "a nested test's proxy stops with it"
run_ok env -u E2E_KEEP bash -c '. "$1"; start_registry r; start_faultproxy p "$REG_R_ADDR"
	echo "$T $PROXY_P_PID"' _ "$SRCDIR/tests/e2e/lib.sh"
read -r inner_t inner_pid <"$T/out"
[ ! -e "$inner_t" ] || fail "nested test left $inner_t behind"
if kill -0 "$inner_pid" 2>/dev/null; then
	fail "nested test left the proxy ($inner_pid) running"
fi
say "done"
