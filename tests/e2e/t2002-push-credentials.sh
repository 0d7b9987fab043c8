#!/usr/bin/env bash
# Push with credentials from everywhere a user keeps them: ~/.docker/config.json
# auths, a docker-credential helper (credHelpers and credsStore), the
# environment; basic (htpasswd) and bearer-token registries. No password, token
# or base64 form of them ever appears in the output, -vv included.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry basic htpasswd pusher 'Basic-Pa55word'
start_registry tok token pusher 'Token-Pa55word'
export MLDEPLOY_INSECURE_REGISTRIES="$REG_BASIC_ADDR,$REG_TOK_ADDR"

mkdir -p "$T/ctx/app" "$T/bin"
printf 'v1\n' >"$T/ctx/app/version.txt"
printf 'name: creds\nimage:\n  base: scratch\n  copy:\n    - { src: app/, dst: /app/ }\n' >"$T/ctx/deploy.yaml"
run_ok "$MLDEPLOY" -C "$T/ctx" build --tag v1 -o "$T/img.tar"
push() { "$MLDEPLOY" -vv push "$T/img.tar" --repository "$1" --tag v1; }
secrets_absent() {
	local f
	for f in "$T/out" "$T/err"; do
		assert_not_contains "$f" 'Basic-Pa55word'
		assert_not_contains "$f" 'Token-Pa55word'
		assert_not_contains "$f" "$(printf 'pusher:Basic-Pa55word' | base64)"
		assert_not_contains "$f" "$(printf 'pusher:Token-Pa55word' | base64)"
	done
}

# no credentials: refused with a hint
must_fail 1 push "$REG_BASIC_ADDR/team/app"
assert_contains "$T/err" "requires credentials"
must_fail 1 skopeo_inspect --raw "docker://$REG_BASIC_ADDR/team/app:v1"
assert_contains "$T/err" "manifest unknown"

# a wrong password from the environment: refused, and never shown
MLDEPLOY_REGISTRY_USERNAME=pusher MLDEPLOY_REGISTRY_PASSWORD='Wrong-Pa55word' \
	must_fail 1 push "$REG_BASIC_ADDR/team/app"
assert_contains "$T/err" "refused the credentials"
assert_not_contains "$T/err" 'Wrong-Pa55word'
assert_not_contains "$T/err" "$(printf 'pusher:Wrong-Pa55word' | base64)"

# ~/.docker/config.json auths
mkdir -p "$HOME/.docker"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$REG_BASIC_ADDR" \
	"$(printf 'pusher:Basic-Pa55word' | base64)" >"$HOME/.docker/config.json"
run_ok push "$REG_BASIC_ADDR/team/app"
assert_contains "$T/err" "credentials from $HOME/.docker/config.json (auths)"
assert_contains "$T/err" "Authorization: <redacted>"
secrets_absent
run_ok skopeo_inspect "docker://$REG_BASIC_ADDR/team/app:v1"

# a credential helper named in credHelpers
cat >"$T/bin/docker-credential-rigtest" <<SH
#!/bin/sh
[ "\$1" = get ] || exit 2
read -r server
echo "\$server" >>"$T/helper.log"
case \$server in
$REG_BASIC_ADDR) printf '{"ServerURL":"%s","Username":"pusher","Secret":"Basic-Pa55word"}' "\$server" ;;
$REG_TOK_ADDR) printf '{"ServerURL":"%s","Username":"pusher","Secret":"Token-Pa55word"}' "\$server" ;;
*) echo "credentials not found in native keychain"; exit 1 ;;
esac
SH
chmod +x "$T/bin/docker-credential-rigtest"
export PATH="$T/bin:$PATH"
printf '{"credHelpers": {"%s": "rigtest"}}\n' "$REG_BASIC_ADDR" >"$HOME/.docker/config.json"
run_ok push "$REG_BASIC_ADDR/team/app2"
assert_contains "$T/err" "credentials from credential helper docker-credential-rigtest"
assert_contains "$T/helper.log" "$REG_BASIC_ADDR"
secrets_absent

# credsStore for every registry, against a bearer-token registry
printf '{"credsStore": "rigtest"}\n' >"$HOME/.docker/config.json"
run_ok push "$REG_TOK_ADDR/team/app"
secrets_absent
[ "$(token_count tok auth=basic status=200 sub=pusher)" -ge 1 ] || fail "no token issued to pusher"
run_ok skopeo_inspect "docker://$REG_TOK_ADDR/team/app:v1"
# the helper has nothing for this host: anonymous, and the token server refuses to push
printf '{"credHelpers": {"%s": "rigtest"}}\n' "no-such-host.example" >"$HOME/.docker/config.json"
must_fail 1 push "$REG_TOK_ADDR/team/app3"
secrets_absent
# a helper that is not installed is a clear error
printf '{"credsStore": "not-installed"}\n' >"$HOME/.docker/config.json"
must_fail 1 push "$REG_TOK_ADDR/team/app3"
assert_contains "$T/err" "docker-credential-not-installed"

# A slow helper runs once for the whole push, however many blobs go up at once,
# and the other requests are not held up meanwhile.
mkdir -p "$T/multi"
for d in a b c d e; do
	mkdir "$T/multi/$d"
	printf '%s\n' "$d" >"$T/multi/$d/f.txt"
done
{
	printf 'name: multi\nimage:\n  base: scratch\n  copy:\n'
	for d in a b c d e; do
		printf '    - { src: %s/, dst: /%s/ }\n' "$d" "$d"
	done
} >"$T/multi/deploy.yaml"
run_ok "$MLDEPLOY" -C "$T/multi" build --tag v1 -o "$T/multi.tar"
cat >"$T/bin/docker-credential-slow" <<SH
#!/bin/sh
echo run >>"$T/slow.count"
read -r server
sleep 2
printf '{"ServerURL":"%s","Username":"pusher","Secret":"Basic-Pa55word"}' "\$server"
SH
chmod +x "$T/bin/docker-credential-slow"
printf '{"credHelpers": {"%s": "slow"}}\n' "$REG_BASIC_ADDR" >"$HOME/.docker/config.json"
run_ok "$MLDEPLOY" -vv push "$T/multi.tar" --repository "$REG_BASIC_ADDR/team/multi" --jobs 6
assert_eq "$(wc -l <"$T/slow.count")" 1 "runs of the slow helper"
assert_eq "$(grep -c 'credentials from credential helper docker-credential-slow' "$T/err")" 1 \
	"credential source lines"
secrets_absent
run_ok skopeo_inspect "docker://$REG_BASIC_ADDR/team/multi:v1"

# A failing helper is run once, not once per blob, and says what failed.
cat >"$T/bin/docker-credential-fails" <<SH
#!/bin/sh
echo run >>"$T/fails.count"
echo "keychain locked"
exit 3
SH
chmod +x "$T/bin/docker-credential-fails"
printf '{"credHelpers": {"%s": "fails"}}\n' "$REG_BASIC_ADDR" >"$HOME/.docker/config.json"
must_fail 1 "$MLDEPLOY" -vv push "$T/multi.tar" --repository "$REG_BASIC_ADDR/team/multi2" --jobs 6
assert_eq "$(wc -l <"$T/fails.count")" 1 "runs of the failing helper"
assert_contains "$T/err" "credentials for registry '$REG_BASIC_ADDR': credential helper docker-credential-fails failed (exit 3): keychain locked"

# A helper that hangs costs the time limit once per run, not once per blob, and
# the message names the helper and the limit.
cat >"$T/bin/docker-credential-hangs" <<SH
#!/bin/sh
echo run >>"$T/hangs.count"
sleep 300
SH
chmod +x "$T/bin/docker-credential-hangs"
printf '{"credHelpers": {"%s": "hangs"}}\n' "$REG_BASIC_ADDR" >"$HOME/.docker/config.json"
start=$SECONDS
MLDEPLOY_CREDHELPER_TIMEOUT_S=2 must_fail 1 "$MLDEPLOY" push "$T/multi.tar" \
	--repository "$REG_BASIC_ADDR/team/multi3" --jobs 6
[ $((SECONDS - start)) -lt 60 ] || fail "a hanging helper took $((SECONDS - start)) s"
assert_eq "$(wc -l <"$T/hangs.count")" 1 "runs of the hanging helper"
assert_contains "$T/err" "credential helper docker-credential-hangs did not answer within 2 s"
assert_contains "$T/err" "MLDEPLOY_CREDHELPER_TIMEOUT_S"
# the limit's variable is checked
MLDEPLOY_CREDHELPER_TIMEOUT_S=2s must_fail 2 "$MLDEPLOY" push "$T/multi.tar" \
	--repository "$REG_BASIC_ADDR/team/multi3"
assert_contains "$T/err" "MLDEPLOY_CREDHELPER_TIMEOUT_S takes a whole number of seconds"
assert_eq "$(wc -l <"$T/hangs.count")" 1 "runs of the hanging helper"

# A Docker config that is not valid JSON: the error says where, and never quotes
# the file (the password sits right where the parser stopped), even with -vv.
broken_config() {	# the file's content, then the fragments that must not be shown
	printf '%s' "$1" >"$HOME/.docker/config.json"
	shift
	must_fail 1 "$MLDEPLOY" -vv push "$T/img.tar" --repository "$REG_BASIC_ADDR/team/broken" --tag v1
	assert_contains "$T/err" "$HOME/.docker/config.json: invalid JSON at line "
	local f s
	for s in "$@"; do
		for f in "$T/out" "$T/err"; do
			assert_not_contains "$f" "$s"
		done
	done
}
broken_config "{\"auths\": {\"$REG_BASIC_ADDR\": {\"username\": \"pusher\", \"password\": \"Newline
Pa55-secret\"}}}" Newline Pa55-secret
assert_contains "$T/err" "unexpected newline"
broken_config "{\"auths\": {\"$REG_BASIC_ADDR\": {\"username\": \"pusher\", \"password\": \"Tab	Pa55-secret\"}}}" \
	Tab Pa55-secret
assert_contains "$T/err" "control character"
broken_config "{\"auths\": {\"$REG_BASIC_ADDR\": {\"username\": \"pusher\", \"password\": \"Trunc-Pa55-secret" \
	Trunc Pa55-secret
broken_config "{\"auths\": {\"$REG_BASIC_ADDR\": {\"auth\": \"$(printf 'pusher:Basic-Pa55word' | base64)" \
	"$(printf 'pusher:Basic-Pa55word' | base64 | cut -c1-8)"
broken_config "{\"auths\": {\"$REG_BASIC_ADDR\": {\"username\": \"pusher\", \"password\": \"Esc\\qPa55-secret\"}}}" \
	Esc 'qPa55' Pa55-secret
# a helper's answer that is not JSON is not quoted either
cat >"$T/bin/docker-credential-garbled" <<'SH'
#!/bin/sh
printf '{"Username":"pusher","Secret":"Garbled\nPa55-secret"}'
SH
chmod +x "$T/bin/docker-credential-garbled"
printf '{"credHelpers": {"%s": "garbled"}}\n' "$REG_BASIC_ADDR" >"$HOME/.docker/config.json"
must_fail 1 "$MLDEPLOY" -vv push "$T/img.tar" --repository "$REG_BASIC_ADDR/team/broken" --tag v1
assert_contains "$T/err" "credential helper docker-credential-garbled answered something that is not JSON: invalid JSON at line 1"
assert_not_contains "$T/err" "Garbled"
assert_not_contains "$T/err" "Pa55-secret"
