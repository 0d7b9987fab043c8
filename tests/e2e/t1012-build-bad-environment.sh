#!/usr/bin/env bash
# Settings in the environment are checked like options: a malformed
# MLDEPLOY_HTTP_STALL_S, MLDEPLOY_RETRY_BASE_MS or MLDEPLOY_REGISTRY_MIRRORS is a
# usage error (exit 2) that names the variable, the value and the expected form,
# never silently ignored. A login in a mirror's URL is that mirror's credential:
# it works (also with the mirror listed as insecure by host:port) and is never
# printed, whatever the verbosity.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_registry mirror htpasswd mirroruser 'Mirr0r-Pa55word'
make_busybox_image "$REG_MIRROR_ADDR" library/busybox latest
export MLDEPLOY_INSECURE_REGISTRIES="$REG_MIRROR_ADDR"
login="mirroruser:Mirr0r-Pa55word"
login64=$(printf '%s' "$login" | base64)

mkdir -p "$T/ctx"
printf 'hello\n' >"$T/ctx/hello.txt"
cat >"$T/ctx/deploy.yaml" <<YAML
name: envcheck
image:
  base: busybox
  copy:
    - { src: hello.txt, dst: /hello.txt }
YAML
no_secret() {	# the mirror's password is in no output
	local f
	for f in "$T/out" "$T/err"; do
		assert_not_contains "$f" 'Mirr0r-Pa55word'
		assert_not_contains "$f" "$login64"
	done
}

# the mirror's login is used (the registry refuses anonymous pulls) and never shown
export MLDEPLOY_REGISTRY_MIRRORS="docker.io=http://$login@$REG_MIRROR_ADDR"
run_ok "$MLDEPLOY" -C "$T/ctx" -q --json build -o "$T/q.tar"
no_secret
run_ok "$MLDEPLOY" -C "$T/ctx" -vv --json build -o "$T/vv.tar"
no_secret
assert_contains "$T/err" "using mirror http://$REG_MIRROR_ADDR (with the login its URL gives)"
assert_contains "$T/err" "Authorization: <redacted>"
[ "$(registry_count mirror GET '^/v2/library/busybox/manifests/' 200)" -ge 1 ] ||
	fail "the mirror served no manifest"
# without the login the mirror refuses: the login above was what got in
MLDEPLOY_REGISTRY_MIRRORS="docker.io=http://$REG_MIRROR_ADDR" \
	must_fail 1 "$MLDEPLOY" -C "$T/ctx" build -o "$T/anon.tar"
assert_contains "$T/err" "requires credentials"
# a mirror that is not there: the error names it without the login
port=$(free_port)
MLDEPLOY_INSECURE_REGISTRIES="127.0.0.1:$port" MLDEPLOY_RETRY_BASE_MS=10 \
	MLDEPLOY_REGISTRY_MIRRORS="docker.io=http://$login@127.0.0.1:$port" \
	must_fail 1 "$MLDEPLOY" -C "$T/ctx" -q build -o "$T/gone.tar"
assert_contains "$T/err" "127.0.0.1:$port"
no_secret
# a plain-HTTP mirror not listed as insecure: refused, without the login
MLDEPLOY_INSECURE_REGISTRIES= must_fail 2 "$MLDEPLOY" -C "$T/ctx" -q build -o "$T/plain.tar"
assert_contains "$T/err" "mirror 'http://$REG_MIRROR_ADDR' for 'docker.io' uses plain HTTP"
no_secret

# malformed mirror lists
bad_mirrors() {	# VALUE TEXT...
	local value=$1
	shift
	MLDEPLOY_REGISTRY_MIRRORS=$value must_fail 2 "$MLDEPLOY" -C "$T/ctx" build -o "$T/bad.tar"
	assert_contains "$T/err" "MLDEPLOY_REGISTRY_MIRRORS"
	local t
	for t in "$@"; do
		assert_contains "$T/err" "$t"
	done
	no_secret
}
bad_mirrors "docker.io" "'docker.io' is not REGISTRY=URL" "docker.io=https://mirror.example"
bad_mirrors "docker.io=ftp://$REG_MIRROR_ADDR" "is not REGISTRY=URL"
bad_mirrors "=http://$REG_MIRROR_ADDR" "is not REGISTRY=URL"
bad_mirrors "docker.io=http://" "is not REGISTRY=URL"
bad_mirrors "ghcr.io=http://$REG_MIRROR_ADDR,docker.io=https://$login@" "is not REGISTRY=URL"
bad_mirrors "docker.io=http://$REG_MIRROR_ADDR,docker.io=http://$REG_MIRROR_ADDR" \
	"names 'docker.io' twice"
unset MLDEPLOY_REGISTRY_MIRRORS

# malformed HTTP limits, for build (a base from a registry) and push
bad_limit() {	# VAR VALUE TEXT CMD...
	local var=$1 value=$2 text=$3
	shift 3
	env "$var=$value" "$MLDEPLOY" -C "$T/ctx" "$@" >"$T/out" 2>"$T/err" && rc=0 || rc=$?
	[ "$rc" = 2 ] || { cat "$T/err" >&2; fail "$var=$value: exit $rc, not 2"; }
	assert_contains "$T/err" "$var: '$value' is not a number of $text"
}
cat >"$T/ctx/deploy.yaml" <<YAML
name: envcheck
image:
  base: $REG_MIRROR_ADDR/library/busybox:latest
  repository: $REG_MIRROR_ADDR/team/app
  copy:
    - { src: hello.txt, dst: /hello.txt }
YAML
export MLDEPLOY_REGISTRY_USERNAME=mirroruser MLDEPLOY_REGISTRY_PASSWORD='Mirr0r-Pa55word'
for v in 10s 0 -1 86401 abc; do
	bad_limit MLDEPLOY_HTTP_STALL_S "$v" "seconds (expected a whole number from 1 to 86400)" \
		build -o "$T/bad.tar"
done
for v in fast -5 10001 200ms; do
	bad_limit MLDEPLOY_RETRY_BASE_MS "$v" "milliseconds (expected a whole number from 0 to 10000)" \
		build -o "$T/bad.tar"
done
[ ! -e "$T/bad.tar" ] || fail "a failed build left its output"
run_ok "$MLDEPLOY" -C "$T/ctx" build -o "$T/image.tar" --tag v1
bad_limit MLDEPLOY_HTTP_STALL_S 1m "seconds" push "$T/image.tar"
bad_limit MLDEPLOY_RETRY_BASE_MS 1.5 "milliseconds" push "$T/image.tar"
# the limits' bounds and an empty value (unset) are accepted
MLDEPLOY_HTTP_STALL_S=86400 MLDEPLOY_RETRY_BASE_MS= run_ok "$MLDEPLOY" -C "$T/ctx" push "$T/image.tar"
