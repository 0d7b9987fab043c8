#!/usr/bin/env bash
# The nested test scripts below are single-quoted on purpose.
# shellcheck disable=SC2016
#
# Rig self-test: the real tools the other tests lean on work here, without mldeploy.
# Plain-HTTP, TLS and htpasswd registries start; the busybox base image (single
# and multi-arch) is pushed with skopeo and inspected back; the access log
# records the uploads; umoci unpacks the image; podman runs it from an
# oci-archive and from a docker-archive; the helpers report failures correctly.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

say "helpers"
run_ok sh -c 'echo out; echo err >&2'
assert_contains "$T/out" out
assert_contains "$T/err" err
assert_not_contains "$T/out" err
must_fail 2 sh -c 'echo usage >&2; exit 2'
assert_contains "$T/err" usage
# A crash, a wrong status or a success is never an expected failure.
must_fail 1 bash -c '. "$1"; must_fail 1 sh -c "kill -SEGV \$\$"' _ "$SRCDIR/tests/e2e/lib.sh"
assert_contains "$T/err" "killed by signal 11"
must_fail 1 bash -c '. "$1"; must_fail 2 sh -c "exit 1"' _ "$SRCDIR/tests/e2e/lib.sh"
assert_contains "$T/err" "exit status 1, expected 2"
must_fail 1 bash -c '. "$1"; must_fail 1 true' _ "$SRCDIR/tests/e2e/lib.sh"
assert_contains "$T/err" "succeeded, expected status 1"
must_fail 1 bash -c '. "$1"; must_fail 1 sh -c "exit 127"' _ "$SRCDIR/tests/e2e/lib.sh"
must_fail 1 bash -c '. "$1"; run_ok sh -c "echo boom >&2; exit 3"' _ "$SRCDIR/tests/e2e/lib.sh"
assert_contains "$T/err" "boom"
must_fail 1 bash -c '. "$1"; run_ok sh -c "echo \"==1==ERROR: AddressSanitizer: x\" >&2"' _ \
	"$SRCDIR/tests/e2e/lib.sh"
assert_contains "$T/err" "sanitizer report"
# A nested test's temp dir and its background process are gone after it exits.
run_ok env -u E2E_KEEP bash -c '. "$1"; spawn "$T/s.out" "$T/s.err" sleep 300; echo "$T $SPAWNED_PID"' _ \
	"$SRCDIR/tests/e2e/lib.sh"
read -r inner_t inner_pid <"$T/out"
[ ! -e "$inner_t" ] || fail "nested test left $inner_t behind"
if kill -0 "$inner_pid" 2>/dev/null; then
	fail "nested test left process $inner_pid running"
fi
case $HOME in "$T"/*) ;; *) fail "HOME is not isolated: $HOME" ;; esac

say "plain HTTP registry"
start_registry plain
curl -fsS "http://$REG_PLAIN_ADDR/v2/" >"$T/v2.json" || fail "GET /v2/ failed"
make_busybox_image "$REG_PLAIN_ADDR" test/busybox v1
run_ok skopeo_inspect "docker://$REG_PLAIN_ADDR/test/busybox:v1"
assert_eq "$(jq -r .Architecture "$T/out")" amd64 "architecture"
assert_eq "$(jq -r .Digest "$T/out")" "$BUSYBOX_AMD64_DIGEST" "pushed manifest digest"
run_ok skopeo_inspect --config "docker://$REG_PLAIN_ADDR/test/busybox:v1"
assert_eq "$(jq -c .config.Cmd "$T/out")" '["/bin/sh"]' "config Cmd"
assert_contains "$T/out" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
uploads=$(registry_blob_uploads plain)
assert_eq "$uploads" 2 "blob uploads (layer + config) in the access log"
assert_eq "$(registry_count plain PUT '^/v2/test/busybox/manifests/v1$' 201)" 1 "manifest PUTs"
# Pushing again uploads nothing: skopeo finds the blobs with HEAD.
make_busybox_image "$REG_PLAIN_ADDR" test/busybox v2
assert_eq "$(registry_blob_uploads plain)" 2 "blob uploads after a re-push"
# Into another repository skopeo mounts the layer (and uploads the small config again).
make_busybox_image "$REG_PLAIN_ADDR" other/busybox v1
assert_eq "$(registry_blob_mounts plain)" 1 "cross-repository mounts"
assert_eq "$(registry_blob_uploads plain)" 3 "blob uploads after mounting"

say "multi-arch index"
make_busybox_index "$REG_PLAIN_ADDR" test/multi latest
run_ok skopeo_inspect --raw "docker://$REG_PLAIN_ADDR/test/multi:latest"
assert_eq "$(jq -r .mediaType "$T/out")" application/vnd.oci.image.index.v1+json "index media type"
assert_eq "$(jq -r '[.manifests[].platform.architecture] | join(",")' "$T/out")" amd64,arm64 "platforms"
assert_eq "sha256:$(sha256sum <"$T/out" | cut -d' ' -f1)" "$BUSYBOX_INDEX_DIGEST" "index digest"
run_ok skopeo_inspect --override-arch arm64 "docker://$REG_PLAIN_ADDR/test/multi:latest"
assert_eq "$(jq -r .Architecture "$T/out")" arm64 "arm64 entry"

say "TLS registry"
start_registry secure tls
assert_eq "$REG_SECURE_CA" "$T/ca/ca.crt" "CA path"
curl -fsS --cacert "$REG_SECURE_CA" "https://$REG_SECURE_ADDR/v2/" >/dev/null ||
	fail "GET https /v2/ with the test CA failed"
must_fail 60 curl -sS "https://$REG_SECURE_ADDR/v2/"
make_busybox_image "$REG_SECURE_ADDR" test/busybox v1 tls
run_ok skopeo_inspect "docker://$REG_SECURE_ADDR/test/busybox:v1"
assert_eq "$(jq -r .Digest "$T/out")" "$BUSYBOX_AMD64_DIGEST" "digest over TLS"
must_fail 1 skopeo inspect "docker://$REG_SECURE_ADDR/test/busybox:v1"
assert_contains "$T/err" "certificate"
assert_eq "$(registry_blob_uploads secure)" 2 "blob uploads over TLS"

say "htpasswd registry"
start_registry locked htpasswd alice s3cret
must_fail 22 curl -fsS "http://$REG_LOCKED_ADDR/v2/"
curl -fsS -u alice:s3cret "http://$REG_LOCKED_ADDR/v2/" >/dev/null || fail "basic auth refused"
make_busybox_image "$REG_LOCKED_ADDR" test/busybox v1
run_ok skopeo_inspect "docker://$REG_LOCKED_ADDR/test/busybox:v1"
must_fail 1 skopeo inspect --tls-verify=false "docker://$REG_LOCKED_ADDR/test/busybox:v1"
assert_contains "$T/err" "authentication required"

say "umoci unpacks an oci-archive"
run_ok skopeo copy "oci:$BUSYBOX_LAYOUT:amd64" "oci-archive:$T/busybox.tar:latest"
umoci_unpack "$T/busybox.tar" "$T/unpacked"
[ -x "$T/unpacked/rootfs/bin/busybox" ] || fail "no /bin/busybox in the unpacked image"
assert_eq "$(readlink "$T/unpacked/rootfs/bin/sh")" busybox "/bin/sh symlink"
assert_contains "$T/unpacked/rootfs/etc/passwd" "user:x:1000:1000"
run_ok skopeo copy "oci:$BUSYBOX_LAYOUT:amd64" "oci-archive:$T/noref.tar"
must_fail 1 bash -c '. "$1"; umoci_unpack "$2" "$T/x"' _ "$SRCDIR/tests/e2e/lib.sh" "$T/noref.tar"
assert_contains "$T/err" "org.opencontainers.image.ref.name"

say "podman runs the image"
podman_setup
run_ok skopeo copy "docker://$REG_PLAIN_ADDR/test/busybox:v1" "oci-archive:$T/pulled.tar" \
	--src-tls-verify=false
out=$(podman_run_archive "$T/pulled.tar" oci /bin/echo hello-from-busybox)
assert_eq "$out" hello-from-busybox "container output (oci-archive)"
run_ok skopeo copy "oci:$BUSYBOX_LAYOUT:amd64" "docker-archive:$T/docker.tar:test/busybox:docker"
PODMAN_RUN_OPTS=(--user 1000 -e GREETING=hi)
out=$(podman_run_archive "$T/docker.tar" docker sh -c 'echo "$GREETING $(id -u) $PATH"')
assert_eq "$out" "hi 1000 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	"container output (docker-archive, user 1000)"
PODMAN_RUN_OPTS=()
must_fail 1 bash -c '. "$1"; podman_setup; podman_load "$2" docker' _ \
	"$SRCDIR/tests/e2e/lib.sh" "$T/pulled.tar"
assert_contains "$T/err" "not a docker archive"
say "done"
