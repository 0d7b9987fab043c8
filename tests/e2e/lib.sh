# shellcheck shell=bash
# tests/e2e/lib.sh — sourced by every end-to-end test (tests/e2e/tNNNN-*.sh).
#
# A test script starts with:
#   #!/usr/bin/env bash
#   set -euo pipefail
#   . "$(dirname "$0")/lib.sh"
#
# Environment after sourcing:
#   SRCDIR      repository root
#   MLDEPLOY    binary under test (env MLDEPLOY, default $SRCDIR/mldeploy)
#   T           fresh temp dir of this test; removed at exit (E2E_KEEP=1 keeps it)
#   RIG_CACHE   rig cache shared between runs (${XDG_CACHE_HOME:-$HOME/.cache}/mldeploy-tests)
#   RIG_USER_CACHE  the caller's XDG cache dir (scripts/python-base.sh caches there)
#   HOME, XDG_{CACHE,CONFIG,DATA}_HOME, XDG_RUNTIME_DIR, TMPDIR point into $T, and
#   cloud credentials and MLDEPLOY_* settings of the caller are unset, so neither
#   the binary nor skopeo/podman read the user's credentials or caches.
#
# Assertions and running the binary under test:
#   say MSG...                      progress note in the test log
#   fail MSG...                     print "FAIL: MSG" with the caller's line, exit 1
#   run_ok CMD...                   run; stdout -> $T/out, stderr -> $T/err; fail unless status 0
#   must_fail STATUS CMD...         run likewise; fail unless it exits with STATUS (1..125);
#                                   success, a signal or a status >= 126 is never accepted
#   assert_contains FILE TEXT       fixed-string match
#   assert_not_contains FILE TEXT
#   assert_eq A B MSG
#   at_exit CMD...                  run CMD at teardown (last registered runs first)
# Processes:
#   free_port                       print a free TCP port on 127.0.0.1
#   spawn OUT ERR CMD...            start CMD in the background, killed (with its
#                                   children) at exit; sets SPAWNED_PID
#   wait_for SECS CMD...            retry CMD every 0.05 s until it succeeds (status 0)
#                                   or SECS (whole seconds) pass (status 1)
# Registries (docker-registry 2.8, storage in $T/registry-NAME):
#   start_registry NAME [tls] [htpasswd USER PASS | token USER PASS]
#       exports REG_<NAME>_ADDR (127.0.0.1:PORT), REG_<NAME>_URL, REG_<NAME>_DIR,
#       REG_<NAME>_ACCESSLOG (combined log format, one line per request),
#       REG_<NAME>_LOG (registry's own log), REG_<NAME>_PID; with tls also
#       REG_<NAME>_CA (= $RIG_CA); with htpasswd or token REG_<NAME>_USER, REG_<NAME>_PASS
#       token: bearer tokens from tests/fakes/tokenserver.py (RS256 JWTs, x5c header;
#       RIG_TOKEN_HEADER=kid sends the libtrust kid instead). USER may pull, push and
#       delete everywhere, anonymous clients may pull public/*. Also exports
#       REG_<NAME>_TOKEN_URL (the realm, http://127.0.0.1:PORT/token; https with tls),
#       REG_<NAME>_TOKEN_SERVICE (<name>-registry), REG_<NAME>_TOKEN_USERS (the users
#       JSON, re-read on every request: edit it to change users and grants),
#       REG_<NAME>_TOKEN_LOG (one line per token request, see token_count),
#       REG_<NAME>_TOKEN_PID, REG_<NAME>_TOKEN_CERT (the signing certificate)
#   token_count NAME [FIELD=VALUE...]
#                                   count token requests to registry NAME's token server
#                                   whose log line has every FIELD=VALUE; fields: method,
#                                   path (raw, query included), auth (none|basic|bearer|
#                                   other; never the credential), status, sub (user or -),
#                                   scope, granted (decoded, one field per scope), e.g.
#                                   token_count main auth=none scope=repository:public/x:pull
#   rig_ca                          create the test's CA once; exports RIG_CA=$T/ca/ca.crt and
#                                   RIG_CA_DIR=$T/ca (usable as skopeo --cert-dir)
#   registry_count NAME METHOD PATH_REGEX [STATUS]
#                                   count access-log lines of that request; PATH_REGEX is an
#                                   awk ERE on path?query (write [?], not \?), e.g.
#                                   registry_count main PUT '^/v2/app/blobs/uploads/' 201
#   registry_blob_uploads NAME      number of completed blob uploads (PUT ... 201)
#   registry_blob_mounts NAME       number of successful cross-repository mounts
# Fault proxy (tests/fakes/faultproxy.py: a reverse proxy in front of a registry that
# injects faults by rules; its docstring has the details):
#   start_faultproxy NAME UPSTREAM [--redirect-blobs-to NAME2]
#       UPSTREAM: a rig registry's ADDR (a TLS upstream gets a TLS front; the
#       registry's TLS and credentials carry over to the proxy's address for the
#       skopeo helpers) or an http[s]:// URL. Exports PROXY_<NAME>_ADDR (127.0.0.1:PORT),
#       PROXY_<NAME>_URL, PROXY_<NAME>_LOG, PROXY_<NAME>_RULES (JSON list, starts as
#       [], re-read on every request), PROXY_<NAME>_DIR, PROXY_<NAME>_PID and
#       PROXY_<NAME>_REDIRECT_URL. --redirect-blobs-to NAME2: GET blob and PUT/PATCH
#       upload requests are answered 307 to proxy NAME2 as http[s]://localhost:PORT2
#       (another origin), whose log shows whether Authorization followed.
#       Forwarded: everything, Host set to the upstream's, Location rewritten back.
#   proxy_rules NAME 'JSON'         validate and swap in the rules (counts restart), e.g.
#       '[{"method": "PATCH", "path_regex": "/blobs/uploads/", "nth": 1,
#          "action": "reset_after_bytes", "bytes": 1048576}]'
#       keys: method ("*"), path_regex (Python re.search on path?query), nth (N, [N...]
#       or "every"; default 1), action: status (code, retry_after, headers, error_code),
#       reset_after_bytes (bytes, forward), reset_before_response, delay_ms (ms)
#   proxy_count NAME METHOD PATH_REGEX [FIELD=VALUE...]
#                                   count log lines (METHOD "*" = any; PATH_REGEX an awk
#                                   ERE on path?query) having every FIELD=VALUE; fields:
#                                   status (code|reset|client_gone), bytes (request body
#                                   received), auth (none|basic|bearer|other), up (the
#                                   upstream's status|-|aborted|error), fault (-|status:N|
#                                   reset_after_bytes:N|reset_before_response|delay_ms:N|
#                                   redirect|bad_rules, one field each), content_range,
#                                   range (answer's Range), conn, ms, e.g.
#                                   proxy_count front PATCH '/blobs/uploads/' status=reset
#   proxy_show NAME                 the proxy's log (last 40 lines) on stderr
# Microsoft Entra ID, managed identity and Azure Container Registry (tests/fakes/entra.py;
# its docstring has the routes, the checks and the error bodies):
#   start_entra [acr NAME REGNAME]...
#       two instances of the fake sharing one config and signing key, in $T/entra:
#       HTTPS with the rig CA (SAN DNS:login.microsoftonline.com and each
#       DNS:NAME.azurecr.io), and plain HTTP for managed identity. acr NAME REGNAME:
#       NAME.azurecr.io fronts rig registry REGNAME (started with token auth; tls or
#       not): /oauth2/exchange, /oauth2/token (registry tokens signed with REGNAME's
#       token key) and /v2/ proxied, its challenge pointing at NAME.azurecr.io.
#       Appends login.microsoftonline.com:443 and NAME.azurecr.io:443 to
#       MLDEPLOY_CONNECT_TO and sets MLDEPLOY_CA_BUNDLE=$RIG_CA (exported: every
#       mldeploy of the test reaches the fakes by the real host names). Exports
#       ENTRA_TENANT, ENTRA_CLIENT_ID and its credentials ENTRA_SECRET, ENTRA_CERT (a PEM
#       file with the key and the certificate) and ENTRA_FEDERATED_TOKEN_FILE (an OIDC
#       token from another issuer), ENTRA_MI_CLIENT_ID, ENTRA_IDENTITY_ENDPOINT and
#       ENTRA_IDENTITY_HEADER (App Service managed identity), ENTRA_IMDS_URL (give it
#       to mldeploy as MLDEPLOY_ENDPOINT_IMDS), ENTRA_ACR_ADMIN_PASS (the admin user of
#       every ACR is NAME), ENTRA_ADDR and ENTRA_MI_ADDR (127.0.0.1:PORT of each),
#       ENTRA_CONFIG (the JSON config, re-read on every request: edit it with jq to
#       rotate a secret or take the managed identity away), ENTRA_LOG (one JSON object
#       per request, see the fake), ENTRA_SECRETS (every client assertion received and
#       token issued, one a line: look for them in what mldeploy printed), ENTRA_DIR.
#       With ARM_TOKENS set (start_azure_arm first), every access token issued is
#       added there, so the ARM fake takes it.
#   entra_count JQ_CONDITION        number of log lines for which the jq condition holds,
#                                   e.g. entra_count '.route == "token" and
#                                   .proof == "certificate" and .status == 200'
#   entra_show                      the fake's log and stderr (last 40 lines) on stderr
# Images (skopeo, umoci; no mldeploy involved):
#   busybox_layout                  build (or reuse from $RIG_CACHE) the busybox OCI layout;
#                                   sets BUSYBOX_LAYOUT (read-only: copy it before changing it)
#                                   and BUSYBOX_{AMD64,ARM64,INDEX}_DIGEST
#   make_busybox_image ADDR REPO TAG [tls]   push the linux/amd64 busybox image
#   make_busybox_index ADDR REPO TAG [tls]   push an OCI index: linux/amd64 + linux/arm64
#   skopeo ...                      skopeo with its blob-info cache kept under $T
#   skopeo_inspect ARGS...          skopeo inspect; TLS/credential flags added for rig registries
#   umoci_unpack ARCHIVE_OR_LAYOUT DIR [REF]
#                                   unpack (umoci, as root) into DIR/rootfs; see the function
# Podman (private config and storage under $T/podman):
#   podman_setup [--driver vfs|overlay] [--image-store DIR]...
#                                   exports CONTAINERS_CONF, CONTAINERS_STORAGE_CONF,
#                                   CONTAINERS_REGISTRIES_CONF (storage driver vfs unless
#                                   told; DIRs: read-only additional image stores)
#   podman_load ARCHIVE FORMAT      podman load (FORMAT oci|docker); prints the image ID
#   podman_run_archive ARCHIVE FORMAT [CMD...]
#                                   load, then run with --rm --network=none; prints the
#                                   container's stdout; extra run options in PODMAN_RUN_OPTS=()
# Container engine (the Docker Engine API of `podman system service`, for the local
# provider; see the facts below):
#   start_engine [--proxy] [--cache-image LAYOUT[:REF]]...
#       podman_setup --driver overlay (unless podman is set up already: then its
#       storage), then `podman system service --time=0 unix://$T/engine/podman.sock`,
#       ready when GET /_ping answers OK (0.15-0.6 s). Exports ENGINE_SOCK (that
#       socket), ENGINE_HOST (unix://ENGINE_SOCK; give it to mldeploy as DOCKER_HOST),
#       ENGINE_DIR ($T/engine: service.log is the engine's stderr), ENGINE_PID,
#       ENGINE_DRIVER, ENGINE_API_VERSION (1.41); the CONTAINERS_* above, so `podman
#       ps`, `podman images` see the same storage. Containers are on CNI's "podman"
#       bridge; published ports answer on 127.0.0.1.
#       --proxy: tests/fakes/engineproxy.py in front, on $T/engine/proxy.sock:
#       ENGINE_HOST points at it; exports ENGINE_PROXY_SOCK, ENGINE_PROXY_PID and
#       ENGINE_LOG (one JSON line per request, written before the client gets the
#       answer: {"method":"POST","path":"/v1.41/containers/create","query":"name=x",
#       "status":201}; query raw; status null if the engine never answered).
#       --cache-image: an OCI layout's image (REF: one of its ref names; may be left
#       out when there is one) kept in a read-only image store in the rig cache
#       ($RIG_CACHE/engine-store-DRIVER-KEY, built once, KEY from podman's version,
#       the driver and the manifest digest) and given to podman as an additional
#       image store: a load that shares its layers reuses them (the example's
#       python base layer: 6 s less for its first load). GET /images/json lists it as
#       localhost/rig-cache/NAME:REF and cannot be removed; a loaded image with the
#       same id shows up twice. The example's base:
#         base=$(XDG_CACHE_HOME="$RIG_USER_CACHE" "$SRCDIR/scripts/python-base.sh" --no-push)
#         start_engine --proxy --cache-image "$base"
#       At exit the teardown removes every container (podman rm -a -f, which also
#       drops their port rules), stops the proxy and the service, unmounts and
#       deletes $T with the storage and its images.
#   engine_api METHOD PATH [CURL_ARGS...]
#                                   a request straight to the engine (never through the
#                                   proxy, so not counted); PATH without /vN gets
#                                   /v1.41; Content-Type: application/json unless a
#                                   CURL_ARGS header sets one; body on stdout; status 0
#                                   for 2xx and 304, else 1 (body still printed)
#   engine_count METHOD PATH_REGEX [STATUS]
#                                   number of proxied requests (METHOD "*" = any;
#                                   PATH_REGEX an awk ERE on the path alone, version
#                                   prefix included; STATUS "-" = never answered), e.g.
#                                   engine_count POST '/containers/create$' 201
#   engine_mutations                number of proxied requests other than GET and HEAD
#                                   (0 after a --dry-run)
#   engine_show                     the proxy's log and the engine's stderr (last 40 lines)
# Facts of the engine's compat API (podman 4.3.1 here, measured; t0004 pins most):
#   - Version: any /vX.Y prefix is served (v1.24..v1.44, none at all); /version says
#     ApiVersion 1.41, MinAPIVersion 1.24; headers Api-Version: 1.41, Server:
#     Libpod/4.3.1 (linux). Use /v1.41/. Errors are JSON {"cause","message","response"}.
#   - A request body needs its own Content-Type: as application/x-www-form-urlencoded
#     (curl -d's and libcurl POSTFIELDS' default) the engine eats it as a form:
#     create answers 500 "decode(): EOF", load 500 "payload does not match any of the
#     supported image formats". Any other type, or none, works.
#   - POST /images/load (Content-Type: application/x-tar; Content-Length or chunked)
#     takes an OCI archive and a docker-archive alike and answers 200 with one JSON
#     object, no image id: {"stream":"Loaded image: localhost/NAME:TAG"} for an OCI
#     archive whose ref name is NAME:TAG (a bare ref "v1" is taken as a name:
#     localhost/v1:latest), {"stream":"Loaded image: docker.io/NAME:TAG"} for a
#     docker-archive (short names get docker.io/), {"stream":"Loaded image:
#     sha256:<config digest>"} without a name. Loading it again: 200, the same
#     answer, ~0.3 s, no layer stored twice. A first load is slow: the example's 89 MB
#     image takes 5-12 s with overlay, 24 s with vfs (creating the files).
#   - The image Id is "sha256:" + the config digest. After an OCI archive load,
#     RepoDigests holds NAME@<manifest digest> (the registry's digest) and "Digest"
#     in GET /images/json is it; a docker-archive gives a digest podman computes, not
#     the registry's. GET /images/NAME@sha256:M/json and create with Image
#     NAME@sha256:M work (any NAME: podman matches the digest alone); GET
#     /images/sha256:M/json (M a manifest digest) is 404; sha256:<config digest> works.
#   - POST /containers/create?name=N: 201 {"Id":"<64 hex>","Warnings":[]}; names
#     match [a-zA-Z0-9][a-zA-Z0-9_.-]*, else 500 "invalid argument"; a taken name is
#     500 (not 409) "...that name is already in use"; an unknown image 404 "no such
#     image". Inspect shows Name "/N", the list Names ["/N"]. POST
#     /containers/ID/rename?name=N2: 204, 409 when N2 is taken.
#   - HostConfig.PortBindings {"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"0"}]}
#     ("0", "" or no HostPort alike; HostIp "" or none: 0.0.0.0) get a free port
#     at create already; read it from GET /containers/ID/json
#     NetworkSettings.Ports["8080/tcp"][0].HostPort (a string; podman also writes it
#     into HostConfig.PortBindings, Docker does not and fills Ports only once started)
#     or from the list's Ports [{"IP":"127.0.0.1","PrivatePort":8080,"PublicPort":N,
#     "Type":"tcp"}].
#   - RestartPolicy {"Name":"unless-stopped"}: kept as {"Name":"unless-stopped",
#     "MaximumRetryCount":0}; "", "no", "always", "on-failure" (+MaximumRetryCount) are
#     accepted, others 500 "... is not a valid restart policy". Docker's Healthcheck is
#     accepted but never runs here (no systemd timers): Health stays "starting".
#   - GET /containers/json?all=1&filters={"label":["managed-by=mldeploy"]} (URL-encoded)
#     filters; several labels AND; "managed-by" alone matches the key; without all=1
#     only running containers.
#   - POST /containers/ID/start 204; /stop?t=N 204, 304 when already stopped; DELETE
#     /containers/ID 204, 500 (not 409) "container state improper" when running
#     without ?force=1, 404 "no such container"; POST /containers/ID/wait
#     {"StatusCode":137,"Error":null} (killed by SIGKILL).
#   - DELETE /images/X: by name untags ([{"Untagged":"..."}]) while other names are
#     left; by id with several names 500 "...please force removal"; in use 409 "image
#     is in use by a container"; ?force=1 (200 [{"Deleted":ID},{"Untagged":...}])
#     ALSO REMOVES EVERY CONTAINER USING THE IMAGE, running or not (Docker does not).
#   - GET /containers/ID/logs?stdout=1&stderr=1: 200 chunked, Content-Type
#     application/octet-stream, Docker's multiplexed frames when the container has no
#     TTY: 8-byte header [stream 1=stdout 2=stderr, 0, 0, 0, uint32 big-endian size]
#     then the bytes; with Tty:true raw text (text/plain, "\r\n" line ends). follow=1
#     streams, tail=N, timestamps=1 (RFC 3339 + space before each line).
#   - POST /containers/ID/attach?stream=1&stdout=1&stderr=1 with "Connection: Upgrade",
#     "Upgrade: tcp": "101 UPGRADED", then frames as above; without Upgrade: 200
#     application/vnd.docker.raw-stream, no length, the connection hijacked.
# Azure Resource Manager (tests/fakes/azurearm.py: Container Instances 2023-05-01 and
# resource groups 2021-04-01, every request checked against the official swagger in
# ../shared/api-models; it runs what it is given with podman; its docstring has the
# request and answer shapes):
#   start_azure_arm [--app-port N] [--registry-route HOST=ADDR]... [--subscription S]...
#                   [--page-size N] [--retry-after S] [--min-polls N]
#                   [--restart-backoff-ms MS]
#       HTTPS on 127.0.0.1 with the rig CA (SAN DNS:management.azure.com), in
#       $T/azurearm; podman as start_engine sets it up (podman_setup --driver overlay
#       unless podman is set up already). Exports ARM_ADDR (127.0.0.1:PORT), ARM_PORT,
#       ARM_CONNECT_TO (management.azure.com:443:127.0.0.1:PORT: append it to
#       MLDEPLOY_CONNECT_TO, with MLDEPLOY_CA_BUNDLE=$RIG_CA), ARM_TOKENS (the accepted
#       bearer tokens, one a line, re-read on every request; starts empty: add with
#       arm_token or have the Entra fake write what it issues), ARM_RULES (fault rules,
#       JSON list, starts [], re-read on every request), ARM_LOG (one JSON line per
#       request: {"method","path","query","status","mutating","changed","code",
#       "fault","auth","t"}), ARM_STATE (the container groups it runs: fqdn, ports
#       {"CONTAINER_PORT": HOST_PORT}, podman names), ARM_APP_PORT (the host port of
#       the first public port of a group, while free; a group created while another
#       holds it gets a free port, see ARM_STATE), ARM_DIR, ARM_PID.
#       --registry-route HOST=ADDR (or arm_registry_route later): podman's pulls of
#       images named HOST/... (e.g. myacr.azurecr.io, with the credentials of the
#       imageRegistryCredentials entry for HOST) connect to ADDR (127.0.0.1:PORT)
#       through the fake's CONNECT proxy; TLS is verified for HOST with the rig CA, so
#       ADDR serves a certificate for HOST (start_entra's ACR front does). An image
#       on a rig registry itself (127.0.0.1:PORT/...) needs no route; ACI pulls over
#       verified HTTPS only, so start that registry with tls. The FQDN of a group is
#       {dnsNameLabel}.{location}.azurecontainer.io: map FQDN:PORT to
#       127.0.0.1:$ARM_APP_PORT in MLDEPLOY_CONNECT_TO. Defaults: --page-size 2,
#       --retry-after 1, --min-polls 1 (an operation answers non-terminal at least
#       once), --restart-backoff-ms 500. Its containers go at teardown.
#   arm_token [TOKEN]               add TOKEN (default: a new random one) to ARM_TOKENS;
#                                   prints it
#   arm_registry_route HOST ADDR    route podman's pulls from HOST to ADDR (see above)
#   arm_rules 'JSON'                validate and swap in the fault rules (counts restart),
#                                   e.g. '[{"method": "PUT", "path_regex": "/containerGroups/",
#                                   "action": "status", "code": 429, "retry_after": 1}]';
#                                   actions status, quota, fail_operation, reset, delay_ms
#   arm_count METHOD PATH_REGEX [STATUS]
#                                   number of requests (METHOD "*" = any; PATH_REGEX an
#                                   awk ERE on the path alone, matched case-insensitively),
#                                   e.g. arm_count PUT '/containerGroups/app$' 201
#   arm_mutations                   number of PUT/PATCH/POST/DELETE requests, answered or
#                                   not (0 after a --dry-run)
#   arm_host_port RG NAME [CONTAINER_PORT]
#                                   the host port that publishes the group's CONTAINER_PORT
#                                   (default: its lowest published one); fails when none
#   arm_show                        the fake's request log and stderr (last 40 lines)
#   start_azure_rig FQDN [start_azure_arm options]
#                                   what a deploy to Azure runs on: rig registry acr (tls,
#                                   token auth), start_azure_arm, then start_entra acr
#                                   myreg acr, with podman's pulls from myreg.azurecr.io
#                                   routed to its ACR front; appends ARM_CONNECT_TO and
#                                   FQDN:8080 -> 127.0.0.1:$ARM_APP_PORT to
#                                   MLDEPLOY_CONNECT_TO and exports AZURE_TENANT_ID,
#                                   AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (Entra's client)
#
# Rules: lib.sh owns the EXIT/INT/TERM/HUP/ERR traps (use at_exit for cleanup);
# inherit_errexit is on; the teardown kills what spawn/start_registry/start_engine
# started, removes podman containers, unmounts leftovers under $T, deletes $T and keeps
# the test's exit status. A failing top-level command is reported with its line.

if [ -n "${RIG_LIB_LOADED:-}" ]; then
	return 0
fi
RIG_LIB_LOADED=1
# set -e also inside $(...), so x=$(helper) stops the test when helper fails.
shopt -s inherit_errexit

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MLDEPLOY=${MLDEPLOY:-$SRCDIR/mldeploy}
RIG_USER_CACHE=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}
RIG_CACHE=$RIG_USER_CACHE/mldeploy-tests
export SRCDIR MLDEPLOY RIG_CACHE RIG_USER_CACHE

# Bump when the recipe of a cached rig artefact changes.
RIG_RECIPE=1
RIG_IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

T=$(mktemp -d "${TMPDIR:-/tmp}/mldeploy-e2e.XXXXXX")
export T

_rig_pids=()
_rig_exit_hooks=()
_rig_engine_pid=
declare -A _rig_reg_tls=()
declare -A _rig_reg_creds=()
PODMAN_RUN_OPTS=()

# ---------------------------------------------------------------- output

say() {
	printf '# %s\n' "$*"
}

fail() {
	# Report the first caller outside this file: the test's own line.
	local i where=''
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [ "${BASH_SOURCE[i]}" != "${BASH_SOURCE[0]}" ]; then
			where="${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
			break
		fi
	done
	printf 'FAIL: %s%s\n' "$*" "${where:+ ($where)}" >&2
	_rig_failed=1
	exit 1
}

# Show a captured file in the log, indented and bounded.
_rig_show() {
	local label=$1 file=$2
	[ -s "$file" ] || return 0
	printf '%s:\n' "$label" >&2
	tail -n 40 "$file" | sed 's/^/    /' >&2
}

# ---------------------------------------------------------------- isolation

_rig_isolate() {
	mkdir -p "$T/home" "$T/cache" "$T/config" "$T/data" "$T/run" "$T/tmp"
	chmod 0700 "$T/run"
	export HOME="$T/home" XDG_CACHE_HOME="$T/cache" XDG_CONFIG_HOME="$T/config"
	export XDG_DATA_HOME="$T/data" XDG_RUNTIME_DIR="$T/run" TMPDIR="$T/tmp"
	export LC_ALL=C.UTF-8 TZ=UTC
	local v
	for v in $(compgen -e); do
		case $v in
		MLDEPLOY_* | AWS_* | AZURE_* | GOOGLE_* | CLOUDSDK_* | DOCKER_* | REGISTRY_* | \
			CONTAINERS_* | ENGINE_* | SOURCE_DATE_EPOCH | SSL_CERT_FILE | SSL_CERT_DIR | CURL_CA_BUNDLE | \
			http_proxy | https_proxy | HTTP_PROXY | HTTPS_PROXY | all_proxy | ALL_PROXY)
			unset "$v" ;;
		esac
	done
	export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
	# A sanitizer report must look like a crash (SIGABRT, status 134), never like
	# the binary's ordinary failure status 1.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-abort_on_error=1:halt_on_error=1:print_stacktrace=1}
}

# ---------------------------------------------------------------- teardown

at_exit() {
	local q
	printf -v q '%q ' "$@"
	_rig_exit_hooks+=("$q")
}

# Descendants first, so a parent cannot respawn what we already killed.
_rig_tree() {
	local pid=$1 child
	for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
		_rig_tree "$child"
	done
	printf '%s\n' "$pid"
}

_rig_kill_all() {
	local pid victims=() i
	for pid in "${_rig_pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		mapfile -t -O "${#victims[@]}" victims < <(_rig_tree "$pid")
	done
	[ "${#victims[@]}" -gt 0 ] || return 0
	kill -TERM "${victims[@]}" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		local alive=0
		for pid in "${victims[@]}"; do
			if kill -0 "$pid" 2>/dev/null; then
				alive=1
				break
			fi
		done
		[ "$alive" = 1 ] || break
		sleep 0.1
	done
	kill -KILL "${victims[@]}" 2>/dev/null
	for pid in "${_rig_pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	return 0
}

# Mounts left under $T (a container killed mid-run keeps its /dev/shm tmpfs).
_rig_umount_all() {
	_rig_umount_under "$T"
}

_rig_umount_under() {
	local m
	awk -v t="$1" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
}

_rig_teardown() {
	local rc=$?
	set +eu
	trap - ERR
	trap '' HUP INT TERM
	local i
	for ((i = ${#_rig_exit_hooks[@]} - 1; i >= 0; i--)); do
		eval "${_rig_exit_hooks[i]}" >/dev/null 2>&1
	done
	if [ -f "$T/podman/containers.conf" ]; then
		CONTAINERS_CONF="$T/podman/containers.conf" \
			CONTAINERS_STORAGE_CONF="$T/podman/storage.conf" \
			CONTAINERS_REGISTRIES_CONF="$T/podman/registries.conf" \
			timeout 30 podman rm -a -f -t 0 >/dev/null 2>&1
	fi
	_rig_kill_all
	_rig_umount_all
	if [ "$rc" != 0 ] && [ -z "${_rig_failed:-}" ]; then
		printf 'FAIL: test exited with status %s\n' "$rc" >&2
	fi
	if [ -n "${E2E_KEEP:-}" ]; then
		printf '# kept %s\n' "$T" >&2
	else
		rm -rf "$T" 2>/dev/null || {
			chmod -R u+rwX "$T" 2>/dev/null
			rm -rf "$T" 2>/dev/null
		}
	fi
	exit "$rc"
}

_rig_on_err() {
	_rig_failed=1
	printf 'error: %s:%s: command exited with status %s: %s\n' "$2" "$3" "$1" "$4" >&2
}

trap _rig_teardown EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap '_rig_on_err "$?" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND"' ERR

_rig_isolate

# ---------------------------------------------------------------- running commands

# Fails the test when the last command's stderr carries a sanitizer report.
_rig_check_sanitizers() {
	if grep -qE '^(==[0-9]+==ERROR: |SUMMARY: (Address|Undefined|Leak)Sanitizer)|:[0-9]+:[0-9]+: runtime error: ' "$T/err"; then
		_rig_show "stderr" "$T/err"
		fail "sanitizer report from: $*"
	fi
}

run_ok() {
	[ "$#" -ge 1 ] || fail "run_ok: no command"
	local rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" != 0 ]; then
		_rig_show "stdout" "$T/out"
		_rig_show "stderr" "$T/err"
		fail "exit status $rc, expected 0: $*"
	fi
	_rig_check_sanitizers "$@"
}

must_fail() {
	[ "$#" -ge 2 ] || fail "must_fail: usage: must_fail STATUS CMD..."
	local want=$1 rc=0
	shift
	case $want in
	'' | *[!0-9]*) fail "must_fail: status '$want' is not a number" ;;
	esac
	if [ "$want" -lt 1 ] || [ "$want" -gt 125 ]; then
		fail "must_fail: expected status must be 1..125, not $want"
	fi
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" = 0 ]; then
		_rig_show "stdout" "$T/out"
		fail "succeeded, expected status $want: $*"
	fi
	if [ "$rc" -ge 126 ]; then
		_rig_show "stderr" "$T/err"
		if [ "$rc" -gt 128 ]; then
			fail "killed by signal $((rc - 128)) ($(kill -l "$((rc - 128))" 2>/dev/null)), expected status $want: $*"
		fi
		fail "exit status $rc (not runnable), expected $want: $*"
	fi
	_rig_check_sanitizers "$@"
	if [ "$rc" != "$want" ]; then
		_rig_show "stderr" "$T/err"
		fail "exit status $rc, expected $want: $*"
	fi
}

assert_contains() {
	[ -f "$1" ] || fail "assert_contains: no file $1"
	if ! grep -qF -- "$2" "$1"; then
		_rig_show "${1##*/}" "$1"
		fail "${1##*/} does not contain '$2'"
	fi
}

assert_not_contains() {
	[ -f "$1" ] || fail "assert_not_contains: no file $1"
	if grep -qF -- "$2" "$1"; then
		_rig_show "${1##*/}" "$1"
		fail "${1##*/} contains '$2'"
	fi
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-values differ}: got '$1', expected '$2'"
}

# ---------------------------------------------------------------- processes

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

spawn() {
	[ "$#" -ge 3 ] || fail "spawn: usage: spawn OUT ERR CMD..."
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err" </dev/null &
	SPAWNED_PID=$!
	_rig_pids+=("$SPAWNED_PID")
}

# spawn_fake PORTFILE ERRFILE WHAT CMD...: spawn a loopback fake that prints its
# port on stdout; waits for it and sets SPAWNED_PID and SPAWNED_PORT, or shows
# ERRFILE and fails with "WHAT did not start".
spawn_fake() {
	[ "$#" -ge 4 ] || fail "spawn_fake: usage: spawn_fake PORTFILE ERRFILE WHAT CMD..."
	local portfile=$1 errfile=$2 what=$3 i
	shift 3
	spawn "$portfile" "$errfile" "$@"
	SPAWNED_PORT=
	for ((i = 0; i < 200; i++)); do
		kill -0 "$SPAWNED_PID" 2>/dev/null || break
		if grep -qx '[0-9][0-9]*' "$portfile" 2>/dev/null; then
			SPAWNED_PORT=$(cat "$portfile")
			return 0
		fi
		sleep 0.05
	done
	_rig_show "$what" "$errfile"
	fail "$what did not start"
}

wait_for() {
	local secs=$1 i n
	shift
	case $secs in
	'' | *[!0-9]*) fail "wait_for: SECS must be a whole number, not '$secs'" ;;
	esac
	n=$((secs * 20))
	for ((i = 0; i < n; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------- TLS

rig_ca() {
	export RIG_CA_DIR="$T/ca" RIG_CA="$T/ca/ca.crt"
	[ -f "$RIG_CA" ] && return 0
	# The key sits in a subdirectory: containers/image treats every *.key in a
	# --cert-dir as a client key and refuses one without its *.cert.
	mkdir -p "$T/ca/private"
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$T/ca/private/ca.key" -out "$RIG_CA" -days 2 \
		-subj "/CN=mldeploy test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$T/ca/openssl.log" ||
		fail "cannot create the test CA (see $T/ca/openssl.log)"
}

# rig_server_cert DIR [DNSNAME...]: DIR/server.{crt,key} for 127.0.0.1, localhost
# and each DNSNAME (a real host name reached through MLDEPLOY_CONNECT_TO).
rig_server_cert() {
	local dir=$1 san="IP:127.0.0.1,DNS:localhost" name
	shift
	for name in "$@"; do
		san="$san,DNS:$name"
	done
	rig_ca
	mkdir -p "$dir"
	printf '%s\n' "subjectAltName=$san" \
		"extendedKeyUsage=serverAuth" "basicConstraints=CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" >"$dir/ext.cnf"
	{
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=127.0.0.1" &&
			openssl x509 -req -in "$dir/server.csr" -CA "$RIG_CA" \
				-CAkey "$T/ca/private/ca.key" -CAcreateserial -days 2 \
				-extfile "$dir/ext.cnf" -out "$dir/server.crt"
	} 2>"$dir/openssl.log" || fail "cannot create a server certificate (see $dir/openssl.log)"
}

# ---------------------------------------------------------------- registry

# The variants only differ in the http.tls and auth sections of config.yml
# (htpasswd: realm/path; token: realm/service/issuer/rootcertbundle, with
# _rig_token_server started first so the realm's port is known).
start_registry() {
	[ "$#" -ge 1 ] || fail "start_registry: usage: start_registry NAME [tls] [htpasswd USER PASS | token USER PASS]"
	local name=$1 tls=0 user='' pass='' token=0
	shift
	case $name in
	'' | *[!A-Za-z0-9_]*) fail "start_registry: name '$name' must be [A-Za-z0-9_]+" ;;
	esac
	while [ "$#" -gt 0 ]; do
		case $1 in
		tls) tls=1; shift ;;
		htpasswd)
			[ "$#" -ge 3 ] || fail "start_registry: htpasswd needs USER PASS"
			[ "$token" = 0 ] || fail "start_registry: htpasswd and token exclude each other"
			user=$2 pass=$3
			shift 3 ;;
		token)
			[ "$#" -ge 3 ] || fail "start_registry: token needs USER PASS"
			[ -z "$user" ] || fail "start_registry: htpasswd and token exclude each other"
			[ -n "$2" ] || fail "start_registry: token needs a non-empty USER"
			token=1 user=$2 pass=$3
			shift 3 ;;
		*) fail "start_registry: unknown option '$1'" ;;
		esac
	done

	local dir="$T/registry-$name" var="REG_${name^^}"
	[ ! -e "$dir" ] || fail "start_registry: registry '$name' already started"
	mkdir -p "$dir/storage"
	local tls_yaml='' auth_yaml='' scheme=http
	if [ "$tls" = 1 ]; then
		rig_server_cert "$dir/tls"
		scheme=https
		tls_yaml="  tls:
    certificate: $dir/tls/server.crt
    key: $dir/tls/server.key"
	fi
	if [ "$token" = 1 ]; then
		_rig_token_server "$dir" "$name" "$user" "$pass" "$scheme"
		auth_yaml="auth:
  token:
    realm: $scheme://127.0.0.1:$_rig_token_port/token
    service: $name-registry
    issuer: mldeploy-test-issuer
    rootcertbundle: $dir/token/signing.crt"
	elif [ -n "$user" ]; then
		htpasswd -Bbn "$user" "$pass" >"$dir/htpasswd" 2>"$dir/htpasswd.log" ||
			fail "htpasswd failed (see $dir/htpasswd.log)"
		auth_yaml="auth:
  htpasswd:
    realm: mldeploy-test
    path: $dir/htpasswd"
	fi

	local attempt port pid ok=0
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: mldeploy-test-secret
  headers:
    X-Content-Type-Options: [nosniff]
$tls_yaml
$auth_yaml
EOF
		# docker-registry writes the access log to stdout, its own log to stderr.
		spawn "$dir/access.log" "$dir/registry.log" docker-registry serve "$dir/config.yml"
		pid=$SPAWNED_PID
		if _rig_wait_registry "$pid" "$port" "$scheme" "$dir/registry.log"; then
			ok=1
			break
		fi
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		if ! grep -q 'address already in use' "$dir/registry.log"; then
			break
		fi
		say "port $port taken, retrying (attempt $attempt)"
	done
	if [ "$ok" != 1 ]; then
		_rig_show "registry log" "$dir/registry.log"
		fail "registry '$name' did not start"
	fi

	local addr="127.0.0.1:$port"
	export "${var}_ADDR=$addr" "${var}_URL=$scheme://$addr" "${var}_DIR=$dir" \
		"${var}_ACCESSLOG=$dir/access.log" "${var}_LOG=$dir/registry.log" "${var}_PID=$pid"
	if [ "$tls" = 1 ]; then
		export "${var}_CA=$RIG_CA"
		_rig_reg_tls[$addr]=1
	fi
	if [ -n "$user" ]; then
		export "${var}_USER=$user" "${var}_PASS=$pass"
		_rig_reg_creds[$addr]="$user:$pass"
	fi
	if [ "$token" = 1 ]; then
		export "${var}_TOKEN_URL=$scheme://127.0.0.1:$_rig_token_port/token" \
			"${var}_TOKEN_SERVICE=$name-registry" "${var}_TOKEN_USERS=$dir/token/users.json" \
			"${var}_TOKEN_LOG=$dir/token/requests.log" "${var}_TOKEN_PID=$_rig_token_pid" \
			"${var}_TOKEN_CERT=$dir/token/signing.crt"
	fi
}

# _rig_token_server DIR NAME USER PASS SCHEME: the signing key and certificate,
# the users file and a running tokenserver.py in DIR/token; sets _rig_token_port
# and _rig_token_pid. With SCHEME https it serves TLS with DIR/tls/server.*.
_rig_token_server() {
	local dir=$1 name=$2 user=$3 pass=$4 scheme=$5 t="$1/token" tls_args=() i
	local header=${RIG_TOKEN_HEADER:-x5c}
	case $header in
	x5c | kid) ;;
	*) fail "RIG_TOKEN_HEADER must be x5c or kid, not '$header'" ;;
	esac
	mkdir -p "$t"
	# The registry trusts the signing certificate itself (rootcertbundle): a
	# self-signed leaf that is its own root.
	openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$t/signing.key" \
		-out "$t/signing.crt" -days 2 -subj "/CN=mldeploy test token signer" \
		2>"$t/openssl.log" || fail "cannot create the token signing key (see $t/openssl.log)"
	jq -n --arg u "$user" --arg p "$pass" \
		'{users: {($u): {password: $p, access: {"*": ["pull", "push", "delete"]}}},
		  anonymous: {"public/*": ["pull"]}}' >"$t/users.json" ||
		fail "cannot write $t/users.json"
	[ "$scheme" != https ] || tls_args=(--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key")
	spawn_fake "$t/port" "$t/server.log" "token server for registry '$name'" \
		/usr/bin/python3 "$SRCDIR/tests/fakes/tokenserver.py" \
		--key "$t/signing.key" --cert "$t/signing.crt" --issuer mldeploy-test-issuer \
		--users "$t/users.json" --log "$t/requests.log" --header "$header" \
		--realm "$name-registry token server" "${tls_args[@]}"
	_rig_token_pid=$SPAWNED_PID
	_rig_token_port=$SPAWNED_PORT
}

token_count() {
	[ "$#" -ge 1 ] || fail "token_count: usage: token_count NAME [FIELD=VALUE...]"
	local var="REG_${1^^}_TOKEN_LOG"
	local log=${!var:-}
	[ -n "$log" ] || fail "token_count: registry '$1' has no token server"
	shift
	local w
	for w in "$@"; do
		case $w in
		*=*) ;;
		*) fail "token_count: '$w' is not FIELD=VALUE" ;;
		esac
	done
	# The wanted fields go in through the environment, untouched by awk's escapes.
	_RIG_TOKEN_WANT=$(printf '%s\n' "$@") awk '
		BEGIN { n = split(ENVIRON["_RIG_TOKEN_WANT"], want, "\n") }
		{
			delete have
			for (i = 1; i <= NF; i++) have[$i] = 1
			ok = 1
			for (j = 1; j <= n; j++) if (want[j] != "" && !(want[j] in have)) { ok = 0; break }
			if (ok) c++
		}
		END { print c + 0 }' "$log"
}

# Ready = our process is alive, says it listens on PORT, and /v2/ answers
# (401 counts: an auth variant answers before credentials).
_rig_wait_registry() {
	local pid=$1 port=$2 scheme=$3 log=$4 i code curl_tls=()
	[ "$scheme" = https ] && curl_tls=(--cacert "$RIG_CA")
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		if grep -q "listening on 127.0.0.1:$port" "$log" 2>/dev/null; then
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${curl_tls[@]}" \
				"$scheme://127.0.0.1:$port/v2/" 2>/dev/null) || code=000
			case $code in
			200 | 401) kill -0 "$pid" 2>/dev/null && return 0 ;;
			esac
		fi
		sleep 0.05
	done
	return 1
}

registry_count() {
	[ "$#" -ge 3 ] || fail "registry_count: usage: registry_count NAME METHOD PATH_REGEX [STATUS]"
	local var="REG_${1^^}_ACCESSLOG"
	local log=${!var:-}
	[ -n "$log" ] || fail "registry_count: no registry '$1'"
	awk -v m="\"$2" -v re="$3" -v st="${4:-}" '
		$6 == m && $7 ~ re && (st == "" || $9 == st) { n++ }
		END { print n + 0 }' "$log"
}

# Completed uploads: the closing PUT of an upload session (or a monolithic
# POST answered 201); cross-repository mounts are not uploads.
registry_blob_uploads() {
	local put post
	put=$(registry_count "$1" PUT '^/v2/.+/blobs/uploads/' 201)
	post=$(registry_count "$1" POST '^/v2/.+/blobs/uploads/[?](.*&)?digest=' 201)
	printf '%s\n' "$((put + post))"
}

registry_blob_mounts() {
	registry_count "$1" POST '^/v2/.+/blobs/uploads/[?](.*&)?mount=' 201
}

# ---------------------------------------------------------------- skopeo

# containers/image keeps a blob-info cache in /var/lib/containers/cache when
# euid is 0; a non-zero _CONTAINERS_ROOTLESS_UID moves it to
# $XDG_DATA_HOME/containers/cache, inside $T.
skopeo() {
	if [ "$(id -u)" = 0 ]; then
		_CONTAINERS_ROOTLESS_UID=65534 command skopeo "$@"
	else
		command skopeo "$@"
	fi
}

# _rig_skopeo_flags PREFIX ADDR [tls]: TLS and credential flags for a rig
# registry, one per line. PREFIX is "src-", "dest-" or "" (inspect).
_rig_skopeo_flags() {
	local prefix=$1 addr=$2 tls=${3:-}
	if [ "$tls" = tls ] || [ -n "${_rig_reg_tls[$addr]:-}" ]; then
		printf '%s\n' "--${prefix}cert-dir=$RIG_CA_DIR"
	else
		printf '%s\n' "--${prefix}tls-verify=false"
	fi
	if [ -n "${_rig_reg_creds[$addr]:-}" ]; then
		printf '%s\n' "--${prefix}creds=${_rig_reg_creds[$addr]}"
	fi
}

# The address of a docker://ADDR/REPO reference.
_rig_ref_addr() {
	local r=${1#docker://}
	printf '%s\n' "${r%%/*}"
}

skopeo_inspect() {
	local flags=() a
	for a in "$@"; do
		case $a in
		--tls-verify* | --cert-dir* | --creds* | --no-creds | --username* | --password*)
			flags=()
			break ;;
		docker://*) mapfile -t flags < <(_rig_skopeo_flags "" "$(_rig_ref_addr "$a")") ;;
		esac
	done
	skopeo inspect "${flags[@]}" "$@"
}

# ---------------------------------------------------------------- busybox image

# Layout tags: amd64, arm64 (same layer, config architecture arm64), latest
# (= amd64) and index (an OCI image index of amd64 and arm64).
busybox_layout() {
	local ver key
	ver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) ||
		fail "busybox-static is not installed (apt-get install busybox-static)"
	key="busybox-static-${ver//[^A-Za-z0-9.+-]/_}-r$RIG_RECIPE"
	BUSYBOX_LAYOUT="$RIG_CACHE/$key"
	if [ ! -f "$BUSYBOX_LAYOUT/index.json" ]; then
		mkdir -p "$RIG_CACHE"
		local work
		work=$(mktemp -d "$RIG_CACHE/.build.XXXXXX")
		if ! _rig_build_busybox "$work" >"$T/busybox-build.log" 2>&1; then
			rm -rf "$work"
			_rig_show "busybox build" "$T/busybox-build.log"
			fail "building the busybox image failed"
		fi
		# Another test may have won the race; its layout is as good as ours.
		mv -T "$work/layout" "$BUSYBOX_LAYOUT" 2>/dev/null || true
		rm -rf "$work"
		[ -f "$BUSYBOX_LAYOUT/index.json" ] || fail "busybox layout missing after build"
	fi
	BUSYBOX_AMD64_DIGEST=$(_rig_layout_digest "$BUSYBOX_LAYOUT" amd64)
	BUSYBOX_ARM64_DIGEST=$(_rig_layout_digest "$BUSYBOX_LAYOUT" arm64)
	BUSYBOX_INDEX_DIGEST=$(_rig_layout_digest "$BUSYBOX_LAYOUT" index)
	export BUSYBOX_LAYOUT BUSYBOX_AMD64_DIGEST BUSYBOX_ARM64_DIGEST BUSYBOX_INDEX_DIGEST
}

_rig_layout_digest() {
	jq -er --arg r "$2" \
		'[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r)][0].digest' \
		"$1/index.json"
}

# Runs in an "if": errexit is off here, hence the explicit returns.
_rig_build_busybox() {
	local work=$1 l="$1/layout" r="$1/bundle/rootfs" epoch=946684800
	local created=2000-01-01T00:00:00Z applet
	umoci init --layout "$l" || return 1
	umoci new --image "$l:amd64" || return 1
	umoci unpack --image "$l:amd64" "$work/bundle" || return 1
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/home/user" "$r/usr/bin" "$r/sbin" \
		"$r/usr/sbin" || return 1
	chmod 1777 "$r/tmp" && chmod 0700 "$r/root" || return 1
	install -m 0755 "$(command -v busybox)" "$r/bin/busybox" || return 1
	for applet in $(busybox --list); do
		case $applet in
		busybox | '[[' | */*) ;;
		*) ln -s busybox "$r/bin/$applet" || return 1 ;;
		esac
	done
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/home/user:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd" || return 1
	printf '%s\n' 'root:x:0:' 'user:x:1000:' 'nogroup:x:65534:' >"$r/etc/group" || return 1
	chown 1000:1000 "$r/home/user" || return 1
	find "$r" -exec touch -h -d "@$epoch" {} + || return 1
	umoci repack --no-history --image "$l:amd64" "$work/bundle" || return 1
	umoci config --image "$l:amd64" --no-history --created "$created" \
		--author mldeploy-tests --os linux --architecture amd64 \
		--config.env "PATH=$RIG_IMAGE_PATH" --config.cmd /bin/sh \
		--config.label "org.opencontainers.image.title=mldeploy-test-busybox" || return 1
	umoci config --image "$l:amd64" --tag arm64 --no-history --created "$created" \
		--architecture arm64 || return 1
	umoci tag --image "$l:amd64" latest || return 1
	umoci gc --layout "$l" || return 1
	_rig_add_index "$l"
}

# Writes an OCI image index over the amd64 and arm64 manifests and tags it "index".
_rig_add_index() {
	local l=$1 amd arm idx sum size
	amd=$(jq -ec '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "amd64")
		| {mediaType, digest, size, platform: {architecture: "amd64", os: "linux"}}' "$l/index.json") ||
		return 1
	arm=$(jq -ec '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "arm64")
		| {mediaType, digest, size, platform: {architecture: "arm64", os: "linux", variant: "v8"}}' \
		"$l/index.json") || return 1
	idx=$(jq -cn --argjson a "$amd" --argjson b "$arm" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [$a, $b]}') ||
		return 1
	printf '%s' "$idx" >"$l/index.tmp" || return 1
	sum=$(sha256sum "$l/index.tmp") || return 1
	sum=${sum%% *}
	size=$(stat -c %s "$l/index.tmp") || return 1
	mv "$l/index.tmp" "$l/blobs/sha256/$sum" || return 1
	jq --arg d "sha256:$sum" --argjson s "$size" \
		'.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
			annotations: {"org.opencontainers.image.ref.name": "index"}}]' \
		"$l/index.json" >"$l/index.json.new" || return 1
	mv "$l/index.json.new" "$l/index.json"
}

# _rig_push LAYOUT:REF ADDR REPO TAG [tls] [--all]: copy a layout image into a
# rig registry (TLS and credentials as that registry was started).
_rig_push() {
	local src=$1 addr=$2 repo=$3 tag=$4 tls=${5:-} all=() flags=()
	[ -z "${6:-}" ] || all=("$6")
	case $tls in
	'' | tls) ;;
	*) fail "unknown option '$tls' (expected tls)" ;;
	esac
	[ "$tls" != tls ] || rig_ca
	mapfile -t flags < <(_rig_skopeo_flags dest- "$addr" "$tls")
	if ! skopeo copy --quiet "${all[@]}" "${flags[@]}" "oci:$src" "docker://$addr/$repo:$tag" \
		>"$T/skopeo-copy.log" 2>&1; then
		_rig_show "skopeo copy" "$T/skopeo-copy.log"
		fail "skopeo copy oci:$src docker://$addr/$repo:$tag failed"
	fi
}

make_busybox_image() {
	[ "$#" -ge 3 ] || fail "make_busybox_image: usage: ADDR REPO TAG [tls]"
	busybox_layout
	_rig_push "$BUSYBOX_LAYOUT:amd64" "$1" "$2" "$3" "${4:-}" ""
}

make_busybox_index() {
	[ "$#" -ge 3 ] || fail "make_busybox_index: usage: ADDR REPO TAG [tls]"
	busybox_layout
	_rig_push "$BUSYBOX_LAYOUT:index" "$1" "$2" "$3" "${4:-}" --all
}

# ---------------------------------------------------------------- umoci

# umoci_unpack ARCHIVE_OR_LAYOUT DIR [REF]
# Unpacks an image into DIR (DIR/rootfs + DIR/config.json) as root.
# ARCHIVE_OR_LAYOUT: an OCI layout directory, an oci-archive tarball (extracted
# first), or a docker-archive tarball (converted with skopeo to a layout tagged
# "image"). umoci finds images only by the org.opencontainers.image.ref.name
# annotation of index.json, so an OCI archive must carry one: REF defaults to
# the only ref name there ("latest", "v1", or a full "name:tag" are all fine).
umoci_unpack() {
	[ "$#" -ge 2 ] || fail "umoci_unpack: usage: umoci_unpack ARCHIVE_OR_LAYOUT DIR [REF]"
	local src=$1 dir=$2 ref=${3:-} layout
	if [ -d "$src" ]; then
		layout=$src
	elif [ -f "$src" ]; then
		layout=$(mktemp -d "$T/umoci-layout.XXXXXX")
		tar -xf "$src" -C "$layout" || fail "umoci_unpack: cannot extract $src"
		if [ ! -f "$layout/oci-layout" ] && [ -f "$layout/manifest.json" ]; then
			rm -rf "$layout"
			layout=$(mktemp -d "$T/umoci-layout.XXXXXX")
			skopeo copy --quiet "docker-archive:$src" "oci:$layout:image" >"$T/skopeo-copy.log" 2>&1 || {
				_rig_show "skopeo copy" "$T/skopeo-copy.log"
				fail "umoci_unpack: cannot convert docker archive $src"
			}
			[ -n "$ref" ] || ref=image
		fi
	else
		fail "umoci_unpack: no such file or directory: $src"
	fi
	[ -f "$layout/index.json" ] || fail "umoci_unpack: $src is not an OCI layout (no index.json)"
	if [ -z "$ref" ]; then
		local refs
		refs=$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"] // empty] | .[]' \
			"$layout/index.json") || fail "umoci_unpack: unreadable index.json in $src"
		[ -n "$refs" ] || fail "umoci_unpack: index.json of $src has no org.opencontainers.image.ref.name annotation"
		[ "$(printf '%s\n' "$refs" | wc -l)" = 1 ] ||
			fail "umoci_unpack: $src has several ref names, pass one: $(printf '%s ' "$refs")"
		ref=$refs
	fi
	if ! umoci unpack --image "$layout:$ref" "$dir" >"$T/umoci.log" 2>&1; then
		_rig_show "umoci" "$T/umoci.log"
		fail "umoci unpack $src ($ref) failed"
	fi
}

# ---------------------------------------------------------------- podman

# Everything podman writes goes under $T/podman, configured by
# tests/podman-conf.sh (shared with bench/deploy.sh; its header says what goes
# where and what podman keeps elsewhere).
# podman_setup [--driver vfs|overlay] [--image-store DIR]...: the storage driver
# (default vfs) and read-only additional image stores (see start_engine);
# podman-conf.sh checks the options. Once set up, podman_setup again takes only
# the same driver and no image store.
podman_setup() {
	local p="$T/podman" driver
	if [ -f "$p/containers.conf" ]; then
		# the storage cannot change under the images already there
		driver=$(sed -n 's/^driver = "\(.*\)"$/\1/p' "$p/storage.conf")
		[ "$*" = "--driver $driver" ] || { [ "$#" = 0 ] && [ "$driver" = vfs ]; } ||
			fail "podman_setup: podman is already set up in $p, with other options"
	else
		"$SRCDIR/tests/podman-conf.sh" "$p" "$@" ||
			fail "podman_setup: cannot write the podman configuration in $p"
	fi
	export CONTAINERS_CONF="$p/containers.conf" CONTAINERS_STORAGE_CONF="$p/storage.conf"
	export CONTAINERS_REGISTRIES_CONF="$p/registries.conf"
}

_rig_need_podman() {
	if [ "${CONTAINERS_CONF:-}" != "$T/podman/containers.conf" ]; then
		fail "${FUNCNAME[1]}: call podman_setup first"
	fi
}

# podman_load ARCHIVE FORMAT: prints the loaded image's ID.
podman_load() {
	[ "$#" = 2 ] || fail "podman_load: usage: podman_load ARCHIVE oci|docker"
	local archive=$1 format=$2 list
	_rig_need_podman
	[ -f "$archive" ] || fail "podman_load: no archive $archive"
	list=$(tar -tf "$archive" 2>/dev/null | sed 's,^\./,,') || fail "podman_load: $archive is not a tar archive"
	case $format in
	oci)
		if ! grep -qx 'oci-layout' <<<"$list" || ! grep -qx 'index.json' <<<"$list"; then
			fail "podman_load: $archive is not an OCI archive (no oci-layout/index.json)"
		fi ;;
	docker)
		grep -qx 'manifest.json' <<<"$list" ||
			fail "podman_load: $archive is not a docker archive (no manifest.json)" ;;
	*) fail "podman_load: format must be oci or docker, not '$format'" ;;
	esac
	if ! podman load -q -i "$archive" >"$T/podman-load.out" 2>"$T/podman-load.err"; then
		_rig_show "podman load" "$T/podman-load.err"
		fail "podman load -i $archive failed"
	fi
	# "Loaded image: NAME" (or "Loaded image(s): NAME,..."); an archive without
	# a name loads as "sha256:ID". Either resolves to the image ID.
	local name id
	name=$(sed -n -e 's/^Loaded image: *//p' -e 's/^Loaded image(s): *//p' "$T/podman-load.out" |
		head -n 1 | cut -d, -f1)
	[ -n "$name" ] || fail "podman_load: no image name in podman's output: $(cat "$T/podman-load.out")"
	id=$(podman image inspect --format '{{.Id}}' "$name" 2>"$T/podman-load.err") ||
		fail "podman_load: cannot inspect the loaded image '$name'"
	printf '%s\n' "$id"
}

podman_run_archive() {
	[ "$#" -ge 2 ] || fail "podman_run_archive: usage: ARCHIVE oci|docker [CMD...]"
	local archive=$1 format=$2 id
	shift 2
	[ "${CONTAINERS_CONF:-}" = "$T/podman/containers.conf" ] || podman_setup
	id=$(podman_load "$archive" "$format") || fail "podman_load $archive failed"
	if ! podman run --rm --network=none "${PODMAN_RUN_OPTS[@]}" "$id" "$@" 2>"$T/podman-run.err"; then
		_rig_show "podman run" "$T/podman-run.err"
		fail "podman run of $archive failed"
	fi
}

# ---------------------------------------------------------------- container engine

# start_engine [--proxy] [--cache-image LAYOUT[:REF]]...: see the header.
start_engine() {
	local proxy=0 images=() stores=() a store driver dir="$T/engine" ppid=''
	while [ "$#" -gt 0 ]; do
		case $1 in
		--proxy) proxy=1; shift ;;
		--cache-image)
			[ "$#" -ge 2 ] || fail "start_engine: --cache-image needs an OCI layout"
			images+=("$2")
			shift 2 ;;
		*) fail "start_engine: unknown option '$1'" ;;
		esac
	done
	[ -z "${_rig_engine_pid:-}" ] || fail "start_engine: the engine is already started"
	# sun_path holds 107 bytes
	[ "${#dir}" -le 90 ] || fail "start_engine: $dir is too long for a unix socket (set a shorter TMPDIR)"
	if [ "${CONTAINERS_CONF:-}" = "$T/podman/containers.conf" ]; then
		[ "${#images[@]}" = 0 ] ||
			fail "start_engine: --cache-image must come before podman_setup (it sets the image stores)"
		driver=$(sed -n 's/^driver = "\(.*\)"$/\1/p' "$T/podman/storage.conf")
	else
		driver=overlay
		for a in "${images[@]}"; do
			store=$(_rig_engine_store "$a" "$driver")
			stores+=(--image-store "$store")
		done
		podman_setup --driver "$driver" "${stores[@]}"
	fi
	mkdir -p "$dir"
	spawn "$dir/service.out" "$dir/service.log" podman system service --time=0 "unix://$dir/podman.sock"
	_rig_engine_pid=$SPAWNED_PID
	if [ "$proxy" = 1 ]; then
		# started alongside: it connects to the engine per client connection
		: >"$dir/requests.log"
		spawn "$dir/proxy.out" "$dir/proxy.err" /usr/bin/python3 "$SRCDIR/tests/fakes/engineproxy.py" \
			--listen "$dir/proxy.sock" --upstream "$dir/podman.sock" --log "$dir/requests.log"
		ppid=$SPAWNED_PID
	fi
	_rig_wait_engine "$_rig_engine_pid" "$dir/podman.sock" ||
		{ _rig_show "podman system service" "$dir/service.log"; fail "the engine did not start"; }
	export ENGINE_DIR="$dir" ENGINE_SOCK="$dir/podman.sock" ENGINE_HOST="unix://$dir/podman.sock"
	export ENGINE_PID="$_rig_engine_pid" ENGINE_API_VERSION=1.41 ENGINE_DRIVER="$driver"
	[ "$proxy" = 1 ] || return 0
	_rig_wait_engine "$ppid" "$dir/proxy.sock" ||
		{ _rig_show "engine proxy" "$dir/proxy.err"; fail "the engine proxy did not start"; }
	# the rig's own ping is not the test's
	: >"$dir/requests.log"
	export ENGINE_HOST="unix://$dir/proxy.sock" ENGINE_PROXY_SOCK="$dir/proxy.sock"
	export ENGINE_PROXY_PID="$ppid" ENGINE_LOG="$dir/requests.log"
}

# _rig_wait_engine PID SOCKET: PID alive and GET /_ping on SOCKET answers "OK".
_rig_wait_engine() {
	local pid=$1 sock=$2 i out
	for ((i = 0; i < 1000; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		if [ -S "$sock" ] &&
			out=$(curl -sf --max-time 2 --unix-socket "$sock" http://d/_ping 2>/dev/null) &&
			[ "$out" = OK ]; then
			return 0
		fi
		sleep 0.02
	done
	return 1
}

# _rig_engine_store LAYOUT[:REF] DRIVER: prints the cached read-only image store
# holding that image, built the first time as localhost/rig-cache/NAME:REF.
_rig_engine_store() {
	local arg=$1 driver=$2 layout ref='' digest key store name work ver
	layout=$arg
	if [ ! -d "$layout" ] && [ -d "${arg%:*}" ]; then
		layout=${arg%:*} ref=${arg##*:}
	fi
	[ -f "$layout/index.json" ] || fail "start_engine: --cache-image '$arg' is not an OCI layout"
	if [ -z "$ref" ]; then
		ref=$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"] // empty] |
			if length == 1 then .[0] else "" end' "$layout/index.json") || ref=''
		[ -n "$ref" ] || fail "start_engine: --cache-image '$arg': name one of the layout's refs (LAYOUT:REF)"
	fi
	digest=$(_rig_layout_digest "$layout" "$ref") ||
		fail "start_engine: --cache-image '$arg': no ref '$ref' in the layout"
	ver=$(podman --version) || fail "start_engine: podman does not run"
	key=$(printf 'recipe %s\n%s\n%s\n%s\n' "$RIG_RECIPE" "$ver" "$driver" "$digest" | sha256sum | cut -c1-16)
	store="$RIG_CACHE/engine-store-$driver-$key"
	if [ ! -f "$store/.done" ]; then
		name=${layout%/}
		name=${name##*/}
		name=$(printf '%s' "${name,,}" | tr -c 'a-z0-9._-' '-')
		mkdir -p "$RIG_CACHE"
		work=$(mktemp -d "$RIG_CACHE/.engine-store.XXXXXX")
		printf '[storage]\ndriver = "%s"\ngraphroot = "%s"\nrunroot = "%s"\n' \
			"$driver" "$work/store" "$work/run" >"$work/storage.conf"
		# not the rig's skopeo: a rootless uid would change the storage's defaults
		if ! CONTAINERS_STORAGE_CONF="$work/storage.conf" command skopeo copy --quiet \
			"oci:$layout:$ref" "containers-storage:localhost/rig-cache/$name:${ref//[^A-Za-z0-9_.-]/-}" \
			>"$T/engine-store.log" 2>&1; then
			_rig_umount_under "$work"
			rm -rf "$work"
			_rig_show "skopeo copy" "$T/engine-store.log"
			fail "start_engine: cannot store $arg in an image store"
		fi
		_rig_umount_under "$work"
		touch "$work/store/.done"
		# Another test may have won the race; its store is as good as ours.
		mv -T "$work/store" "$store" 2>/dev/null || true
		rm -rf "$work"
		[ -f "$store/.done" ] || fail "start_engine: image store $store missing after its build"
	fi
	printf '%s\n' "$store"
}

engine_api() {
	[ "$#" -ge 2 ] || fail "engine_api: usage: engine_api METHOD PATH [CURL_ARGS...]"
	local method=$1 path=$2 code out a ctype=(-H 'Content-Type: application/json')
	shift 2
	[ -n "${ENGINE_SOCK:-}" ] || fail "engine_api: no engine (start_engine first)"
	case $path in
	/v[0-9]*) ;;
	/*) path=/v$ENGINE_API_VERSION$path ;;
	*) fail "engine_api: PATH must start with /, not '$path'" ;;
	esac
	for a in "$@"; do
		case ${a,,} in
		content-type:*) ctype=() ;;
		esac
	done
	out=$(mktemp "$ENGINE_DIR/api.XXXXXX")
	code=$(curl -sS --max-time 300 --unix-socket "$ENGINE_SOCK" -X "$method" "${ctype[@]}" \
		-o "$out" -w '%{http_code}' "$@" "http://d$path") || {
		rm -f "$out"
		fail "engine_api: $method $path: curl failed"
	}
	cat "$out"
	rm -f "$out"
	case $code in
	2?? | 304) return 0 ;;
	esac
	return 1
}

engine_count() {
	case $# in
	2 | 3) ;;
	*) fail "engine_count: usage: engine_count METHOD PATH_REGEX [STATUS]" ;;
	esac
	[ -n "${ENGINE_LOG:-}" ] || fail "engine_count: no engine proxy (start_engine --proxy)"
	jq -r '[.method, .path, (.status // "-" | tostring)] | @tsv' "$ENGINE_LOG" |
		awk -F'\t' -v m="$1" -v re="$2" -v st="${3:-}" '
			(m == "*" || $1 == m) && $2 ~ re && (st == "" || $3 == st) { n++ }
			END { print n + 0 }'
}

engine_mutations() {
	[ -n "${ENGINE_LOG:-}" ] || fail "engine_mutations: no engine proxy (start_engine --proxy)"
	jq -r .method "$ENGINE_LOG" | awk '$1 != "GET" && $1 != "HEAD" { n++ } END { print n + 0 }'
}

engine_show() {
	[ -z "${ENGINE_LOG:-}" ] || _rig_show "engine requests" "$ENGINE_LOG"
	[ -z "${ENGINE_DIR:-}" ] || _rig_show "podman system service" "$ENGINE_DIR/service.log"
}

# ---------------------------------------------------------------- fault proxy

# start_faultproxy NAME UPSTREAM [--redirect-blobs-to NAME2]
# tests/fakes/faultproxy.py in $T/faultproxy-NAME. UPSTREAM is a rig registry's
# ADDR (its TLS and credentials carry over to the proxy's address, so the skopeo
# helpers work through it) or an http[s]:// URL. A TLS upstream gets a TLS front
# (rig CA, SAN 127.0.0.1 and localhost).
start_faultproxy() {
	[ "$#" -ge 2 ] || fail "start_faultproxy: usage: start_faultproxy NAME UPSTREAM_ADDR [--redirect-blobs-to NAME2]"
	local name=$1 upstream=$2 redirect='' up_url up_addr scheme=http args=() i
	shift 2
	case $name in
	'' | *[!A-Za-z0-9_]*) fail "start_faultproxy: name '$name' must be [A-Za-z0-9_]+" ;;
	esac
	while [ "$#" -gt 0 ]; do
		case $1 in
		--redirect-blobs-to)
			[ "$#" -ge 2 ] || fail "start_faultproxy: --redirect-blobs-to needs a proxy NAME"
			local rvar="PROXY_${2^^}_URL"
			[ -n "${!rvar:-}" ] || fail "start_faultproxy: no fault proxy '$2' (start it first)"
			# Another host string is another origin: clients drop credentials there.
			redirect=${!rvar/:\/\/127.0.0.1:/://localhost:}
			shift 2 ;;
		*) fail "start_faultproxy: unknown option '$1'" ;;
		esac
	done
	case $upstream in
	http://* | https://*) up_url=${upstream%/} ;;
	*)
		if [ -n "${_rig_reg_tls[$upstream]:-}" ]; then
			up_url=https://$upstream
		else
			up_url=http://$upstream
		fi ;;
	esac
	up_addr=${up_url#*://}
	local dir="$T/faultproxy-$name" var="PROXY_${name^^}"
	[ ! -e "$dir" ] || fail "start_faultproxy: proxy '$name' already started"
	mkdir -p "$dir"
	printf '[]\n' >"$dir/rules.json"
	if [ "${up_url%%://*}" = https ]; then
		rig_server_cert "$dir/tls"
		scheme=https
		args+=(--upstream-ca "$RIG_CA" --tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key")
	fi
	[ -z "$redirect" ] || args+=(--redirect-blobs-to "$redirect")
	spawn_fake "$dir/port" "$dir/proxy.err" "fault proxy '$name'" \
		/usr/bin/python3 "$SRCDIR/tests/fakes/faultproxy.py" \
		--upstream "$up_url" --rules "$dir/rules.json" --log "$dir/requests.log" "${args[@]}"
	local pid=$SPAWNED_PID port=$SPAWNED_PORT
	local addr="127.0.0.1:$port"
	[ "$scheme" != https ] || _rig_reg_tls[$addr]=1
	[ -z "${_rig_reg_creds[$up_addr]:-}" ] || _rig_reg_creds[$addr]=${_rig_reg_creds[$up_addr]}
	export "${var}_ADDR=$addr" "${var}_URL=$scheme://$addr" "${var}_DIR=$dir" \
		"${var}_LOG=$dir/requests.log" "${var}_RULES=$dir/rules.json" "${var}_PID=$pid" \
		"${var}_REDIRECT_URL=$redirect"
}

# proxy_rules NAME JSON: validated, then swapped in whole (rename), so the proxy
# never reads half a file and every rule's count starts again.
proxy_rules() {
	[ "$#" = 2 ] || fail "proxy_rules: usage: proxy_rules NAME 'JSON'"
	local var="PROXY_${1^^}_RULES"
	local file=${!var:-}
	[ -n "$file" ] || fail "proxy_rules: no fault proxy '$1'"
	printf '%s\n' "$2" >"$file.new"
	if ! /usr/bin/python3 "$SRCDIR/tests/fakes/faultproxy.py" --check-rules "$file.new" \
		2>"$file.err"; then
		fail "proxy_rules: $(cat "$file.err")"
	fi
	mv -f "$file.new" "$file"
}

proxy_count() {
	[ "$#" -ge 3 ] || fail "proxy_count: usage: proxy_count NAME METHOD PATH_REGEX [FIELD=VALUE...]"
	local var="PROXY_${1^^}_LOG"
	local log=${!var:-} method=$2 re=$3
	[ -n "$log" ] || fail "proxy_count: no fault proxy '$1'"
	shift 3
	local w
	for w in "$@"; do
		case $w in
		*=*) ;;
		*) fail "proxy_count: '$w' is not FIELD=VALUE" ;;
		esac
	done
	_RIG_PROXY_WANT=$(printf '%s\n' "$@") awk -v m="$method" -v re="$re" '
		BEGIN { n = split(ENVIRON["_RIG_PROXY_WANT"], want, "\n") }
		{
			delete have
			path = ""
			for (i = 1; i <= NF; i++) {
				have[$i] = 1
				if (substr($i, 1, 5) == "path=") path = substr($i, 6)
			}
			if (m != "*" && !(("method=" m) in have)) next
			if (path !~ re) next
			for (j = 1; j <= n; j++) if (want[j] != "" && !(want[j] in have)) next
			c++
		}
		END { print c + 0 }' "$log"
}

# proxy_show NAME: the proxy's request log (last 40 lines) on stderr.
proxy_show() {
	local var="PROXY_${1^^}_LOG"
	[ -n "${!var:-}" ] || fail "proxy_show: no fault proxy '$1'"
	_rig_show "fault proxy $1" "${!var}"
}

# ---------------------------------------------------------------- Entra ID and ACR

_rig_random() {
	head -c "$1" /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='
}

# _rig_b64url_json JSON: the URL-safe unpadded base64 of JSON, a part of a JWT.
_rig_b64url_json() {
	printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='
}

# _rig_entra_acr NAME REGNAME: the config's entry for NAME.azurecr.io (JSON).
_rig_entra_acr() {
	local name=$1 var="REG_${2^^}"
	local url="${var}_URL" service="${var}_TOKEN_SERVICE" cert="${var}_TOKEN_CERT" dir="${var}_DIR"
	[ -n "${!url:-}" ] || fail "start_entra: no registry '$2'"
	[ -n "${!service:-}" ] || fail "start_entra: registry '$2' was not started with token auth"
	jq -n --arg upstream "${!url}" --arg service "${!service}" --arg key "${!dir}/token/signing.key" \
		--arg cert "${!cert}" --arg user "$name" --arg pass "$ENTRA_ACR_ADMIN_PASS" \
		--arg ca "${RIG_CA:-}" \
		'{upstream: $upstream, service: $service, issuer: "mldeploy-test-issuer", key: $key,
		  cert: $cert, admin: {username: $user, password: $pass}, upstream_ca: $ca}'
}

start_entra() {
	local dir="$T/entra" names=() acrs='{}' now fed hosts=() i
	[ ! -e "$dir" ] || fail "start_entra: already started"
	while [ "$#" -gt 0 ]; do
		case $1 in
		acr)
			[ "$#" -ge 3 ] || fail "start_entra: acr needs NAME REGNAME"
			case $2 in
			'' | *[!a-z0-9]*) fail "start_entra: ACR name '$2' must be [a-z0-9]+" ;;
			esac
			names+=("$2" "$3")
			shift 3 ;;
		*) fail "start_entra: unknown option '$1'" ;;
		esac
	done
	mkdir -p "$dir"
	for ((i = 0; i < ${#names[@]}; i += 2)); do
		hosts+=("${names[i]}.azurecr.io")
	done
	rig_server_cert "$dir/tls" login.microsoftonline.com "${hosts[@]}"
	{
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/issuer.key" &&
			openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$dir/client.key" \
				-out "$dir/client.crt" -days 2 -subj "/CN=mldeploy test app registration"
	} 2>"$dir/openssl.log" || fail "cannot create the Entra fake's keys (see $dir/openssl.log)"
	cat "$dir/client.key" "$dir/client.crt" >"$dir/client.pem"
	chmod 0600 "$dir/client.pem" "$dir/client.key" "$dir/issuer.key"
	now=$(date +%s)
	fed="$(_rig_b64url_json '{"alg":"RS256","typ":"JWT","kid":"gha"}').$(_rig_b64url_json \
		"{\"iss\":\"https://token.actions.githubusercontent.com\",\"sub\":\"repo:example/app:ref:refs/heads/main\",\"aud\":\"api://AzureADTokenExchange\",\"iat\":$now,\"exp\":$((now + 3600))}").$(_rig_random 64)"
	printf '%s' "$fed" >"$dir/federated-token"
	ENTRA_SECRET="Ent8Q~$(_rig_random 30)"
	ENTRA_IDENTITY_HEADER=$(_rig_random 24)
	ENTRA_ACR_ADMIN_PASS=$(_rig_random 24)
	export ENTRA_DIR="$dir" ENTRA_TENANT ENTRA_CLIENT_ID ENTRA_MI_CLIENT_ID ENTRA_SECRET \
		ENTRA_CERT="$dir/client.pem" ENTRA_FEDERATED_TOKEN_FILE="$dir/federated-token" \
		ENTRA_IDENTITY_HEADER ENTRA_ACR_ADMIN_PASS ENTRA_CONFIG="$dir/config.json" \
		ENTRA_LOG="$dir/requests.log" ENTRA_SECRETS="$dir/secrets"
	: >"$ENTRA_SECRETS"
	ENTRA_TENANT=$(cat /proc/sys/kernel/random/uuid)
	ENTRA_CLIENT_ID=$(cat /proc/sys/kernel/random/uuid)
	ENTRA_MI_CLIENT_ID=$(cat /proc/sys/kernel/random/uuid)
	for ((i = 0; i < ${#names[@]}; i += 2)); do
		acrs=$(jq --arg h "${names[i]}.azurecr.io" --argjson e "$(_rig_entra_acr "${names[i]}" "${names[i + 1]}")" \
			'. + {($h): $e}' <<<"$acrs")
	done
	jq -n --arg tenant "$ENTRA_TENANT" --arg client "$ENTRA_CLIENT_ID" --arg secret "$ENTRA_SECRET" \
		--arg cert "$dir/client.crt" --arg fed "$fed" --arg mi "$ENTRA_MI_CLIENT_ID" \
		--arg header "$ENTRA_IDENTITY_HEADER" --argjson acr "$acrs" --arg arm "${ARM_TOKENS:-}" \
		--arg secrets "$ENTRA_SECRETS" \
		'{tenant: $tenant,
		  clients: {($client): {secret: $secret, certificate: $cert, federated_token: $fed}},
		  managed_identity: {identity_header: $header, client_id: $mi, imds: true},
		  acr: $acr, secrets_file: $secrets} +
		 (if $arm == "" then {} else {arm_tokens_file: $arm} end)' \
		>"$ENTRA_CONFIG" || fail "start_entra: cannot write $ENTRA_CONFIG"
	spawn_fake "$dir/tls.port" "$dir/tls.err" "Entra fake (TLS)" /usr/bin/python3 \
		"$SRCDIR/tests/fakes/entra.py" --config "$ENTRA_CONFIG" --key "$dir/issuer.key" \
		--log "$ENTRA_LOG" --tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key"
	export ENTRA_ADDR="127.0.0.1:$SPAWNED_PORT"
	spawn_fake "$dir/plain.port" "$dir/plain.err" "Entra fake (managed identity)" /usr/bin/python3 \
		"$SRCDIR/tests/fakes/entra.py" --config "$ENTRA_CONFIG" --key "$dir/issuer.key" \
		--log "$ENTRA_LOG"
	export ENTRA_MI_ADDR="127.0.0.1:$SPAWNED_PORT"
	export ENTRA_IDENTITY_ENDPOINT="http://$ENTRA_MI_ADDR/msi/token" \
		ENTRA_IMDS_URL="http://$ENTRA_MI_ADDR"
	local to="login.microsoftonline.com:443:$ENTRA_ADDR" h
	for h in "${hosts[@]}"; do
		to="$to,$h:443:$ENTRA_ADDR"
	done
	export MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}$to"
	export MLDEPLOY_CA_BUNDLE="$RIG_CA"
}

entra_count() {
	[ "$#" = 1 ] || fail "entra_count: usage: entra_count JQ_CONDITION"
	[ -n "${ENTRA_LOG:-}" ] || fail "entra_count: the Entra fake is not started"
	jq -c "select($1)" "$ENTRA_LOG" | wc -l
}

entra_show() {
	[ -n "${ENTRA_DIR:-}" ] || fail "entra_show: the Entra fake is not started"
	_rig_show "Entra fake log" "$ENTRA_LOG"
	_rig_show "Entra fake stderr (TLS)" "$ENTRA_DIR/tls.err"
	_rig_show "Entra fake stderr (managed identity)" "$ENTRA_DIR/plain.err"
}

# ---------------------------------------------------------------- Python package index
#
# make_test_wheels DIR
#   puts the test wheels of tests/e2e/pywheels.sh into DIR (created; a copy the test
#   may change) and exports TEST_WHEELS=DIR. Built once and kept in
#   $RIG_CACHE/pywheels-KEY (KEY: pywheels.sh, tests/e2e/pypkgs/** and the versions of
#   Debian's python3.11, pip, setuptools, wheel); without a usable cache, built in DIR.
#   Files: mlpure-1.0.0-py3-none-any.whl, mlcext-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl,
#   mlmarker-0.3.0-py3-none-any.whl, mlevil-1.0-py3-none-any.whl (member ../../evil.txt),
#   mlmac-1.0-cp311-cp311-macosx_11_0_arm64.whl, pip-*.whl, setuptools-*.whl
#   (see tests/e2e/pywheels.sh and tests/e2e/pypkgs/README.md).
# start_pyindex DIR [pyindex.py options...]
#   tests/fakes/pyindex.py serving DIR (re-read on every request) in $T/pyindex-N;
#   options: --html-only, --auth USER:PASS, --bad-hash NAME, --files-base URL,
#   --tls-cert F --tls-key F (see the fake's docstring; --dir and --log are the rig's).
#   Exports, for the index started last: PYINDEX_URL (http://127.0.0.1:PORT/simple, no
#   final slash; https with --tls-cert), PYINDEX_ADDR (127.0.0.1:PORT), PYINDEX_PORT,
#   PYINDEX_LOG (one compact JSON line per request:
#   {"method":"GET","path":"/simple/x/","accept":"..."|null,"auth":true|false,"status":200};
#   "auth" says whether an Authorization header came, never its value), PYINDEX_PID,
#   PYINDEX_FILES (= DIR). Save them before starting another index. Stopped at exit.
# pyindex_count PATTERN [LOG]
#   number of lines of LOG (default $PYINDEX_LOG) matching the extended regex PATTERN,
#   e.g. pyindex_count '"path":"/files/mlpure-[^"]*","accept":[^,]*,"auth":false'

_rig_pyindex_n=0

make_test_wheels() {
	[ "$#" = 1 ] || fail "make_test_wheels: usage: make_test_wheels DIR"
	local dir=$1 script="$SRCDIR/tests/e2e/pywheels.sh" key cache work
	mkdir -p "$dir"
	key=$(
		cd "$SRCDIR/tests/e2e" &&
			{
				printf 'recipe %s\n' "$RIG_RECIPE"
				find pywheels.sh pypkgs -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
					xargs -0 sha256sum
				dpkg-query -W -f='${Package} ${Version}\n' python3.11 python3.11-dev python3-pip \
					python3-setuptools python3-wheel python3-pip-whl python3-setuptools-whl 2>&1 || true
				ls -l /usr/share/python-wheels/ 2>&1 || true
			} | sha256sum | cut -c1-16
	) || fail "make_test_wheels: cannot compute the cache key"
	cache="$RIG_CACHE/pywheels-$key"
	if [ ! -f "$cache/.done" ] && mkdir -p "$RIG_CACHE" 2>/dev/null &&
		work=$(mktemp -d "$RIG_CACHE/.pywheels.XXXXXX" 2>/dev/null); then
		if ! "$script" "$work/wheels" >"$T/pywheels.log" 2>&1; then
			rm -rf "$work"
			_rig_show "pywheels.sh" "$T/pywheels.log"
			fail "building the test wheels failed"
		fi
		touch "$work/wheels/.done"
		# Another test may have won the race; its wheels are as good as ours.
		mv -T "$work/wheels" "$cache" 2>/dev/null || true
		rm -rf "$work"
	fi
	if [ -f "$cache/.done" ]; then
		cp -- "$cache"/*.whl "$dir/" || fail "make_test_wheels: cannot copy the wheels to $dir"
	elif ! "$script" "$dir" >"$T/pywheels.log" 2>&1; then
		_rig_show "pywheels.sh" "$T/pywheels.log"
		fail "building the test wheels failed"
	fi
	[ -f "$dir/mlpure-1.0.0-py3-none-any.whl" ] || fail "make_test_wheels: no wheels in $dir"
	TEST_WHEELS=$(cd "$dir" && pwd)
	export TEST_WHEELS
}

start_pyindex() {
	[ "$#" -ge 1 ] || fail "start_pyindex: usage: start_pyindex DIR [pyindex.py options...]"
	local files=$1 scheme=http a i port='' dir
	shift
	[ -d "$files" ] || fail "start_pyindex: $files is not a directory"
	for a in "$@"; do
		case $a in
		--dir | --dir=* | --log | --log=*) fail "start_pyindex: $a is set by the rig" ;;
		--tls-cert | --tls-cert=*) scheme=https ;;
		esac
	done
	_rig_pyindex_n=$((_rig_pyindex_n + 1))
	dir="$T/pyindex-$_rig_pyindex_n"
	mkdir -p "$dir"
	: >"$dir/requests.log"
	spawn_fake "$dir/port" "$dir/pyindex.err" "package index for $files" \
		/usr/bin/python3 "$SRCDIR/tests/fakes/pyindex.py" --dir "$files" --log "$dir/requests.log" "$@"
	local pid=$SPAWNED_PID
	port=$SPAWNED_PORT
	PYINDEX_ADDR=127.0.0.1:$port
	PYINDEX_PORT=$port
	PYINDEX_URL=$scheme://$PYINDEX_ADDR/simple
	PYINDEX_LOG=$dir/requests.log
	PYINDEX_PID=$pid
	PYINDEX_FILES=$(cd "$files" && pwd)
	export PYINDEX_ADDR PYINDEX_PORT PYINDEX_URL PYINDEX_LOG PYINDEX_PID PYINDEX_FILES
}

pyindex_count() {
	case $# in
	1 | 2) ;;
	*) fail "pyindex_count: usage: pyindex_count PATTERN [LOG]" ;;
	esac
	local log=${2:-${PYINDEX_LOG:-}}
	[ -n "$log" ] || fail "pyindex_count: no package index (start_pyindex first)"
	if [ ! -s "$log" ]; then
		echo 0
		return 0
	fi
	grep -cE -- "$1" "$log" || [ "$?" = 1 ] || fail "pyindex_count: bad pattern '$1'"
}

# ---------------------------------------------------------------- Azure Resource Manager

# start_azure_arm [options]: see the header.
start_azure_arm() {
	local dir="$T/azurearm" args=() app_port='' routes=()
	while [ "$#" -gt 0 ]; do
		case $1 in
		--app-port | --registry-route | --subscription | --page-size | --retry-after | \
			--min-polls | --restart-backoff-ms)
			[ "$#" -ge 2 ] || fail "start_azure_arm: $1 needs a value"
			case $1 in
			--app-port) app_port=$2 ;;
			--registry-route)
				case $2 in
				?*=?*) routes+=("$2") ;;
				*) fail "start_azure_arm: --registry-route takes HOST=ADDR, not '$2'" ;;
				esac ;;
			*) args+=("$1" "$2") ;;
			esac
			shift 2 ;;
		*) fail "start_azure_arm: unknown option '$1'" ;;
		esac
	done
	[ ! -e "$dir" ] || fail "start_azure_arm: already started"
	local swagger=${RIG_API_MODELS:-$SRCDIR/../shared/api-models}/azure-containerinstance-2023-05-01.json
	[ -f "$swagger" ] || fail "start_azure_arm: no ACI swagger at $swagger (set RIG_API_MODELS)"
	[ "${CONTAINERS_CONF:-}" = "$T/podman/containers.conf" ] || podman_setup --driver overlay
	[ -n "$app_port" ] || app_port=$(free_port)
	mkdir -p "$dir/work"
	rig_server_cert "$dir/tls" management.azure.com
	: >"$dir/tokens"
	: >"$dir/requests.log"
	printf '[]\n' >"$dir/rules.json"
	printf '%s\n' "${routes[@]}" >"$dir/registry-routes"
	spawn_fake "$dir/port" "$dir/azurearm.err" "fake Azure Resource Manager" \
		/usr/bin/python3 "$SRCDIR/tests/fakes/azurearm.py" --swagger "$swagger" \
		--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key" \
		--tokens "$dir/tokens" --log "$dir/requests.log" --rules "$dir/rules.json" \
		--state "$dir/state.json" --work-dir "$dir/work" --app-port "$app_port" \
		--registry-cert-dir "$RIG_CA_DIR" --registry-routes "$dir/registry-routes" "${args[@]}"
	export ARM_PID=$SPAWNED_PID ARM_PORT=$SPAWNED_PORT ARM_ADDR=127.0.0.1:$SPAWNED_PORT
	export ARM_CONNECT_TO=management.azure.com:443:127.0.0.1:$SPAWNED_PORT ARM_DIR="$dir"
	export ARM_TOKENS="$dir/tokens" ARM_RULES="$dir/rules.json" ARM_LOG="$dir/requests.log"
	export ARM_STATE="$dir/state.json" ARM_APP_PORT=$app_port
}

arm_token() {
	[ -n "${ARM_TOKENS:-}" ] || fail "arm_token: no fake ARM (start_azure_arm first)"
	local token=${1:-}
	[ -n "$token" ] || token=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	printf '%s\n' "$token" >>"$ARM_TOKENS"
	printf '%s\n' "$token"
}

arm_registry_route() {
	[ "$#" = 2 ] || fail "arm_registry_route: usage: arm_registry_route HOST ADDR"
	[ -n "${ARM_DIR:-}" ] || fail "arm_registry_route: no fake ARM (start_azure_arm first)"
	printf '%s=%s\n' "$1" "$2" >>"$ARM_DIR/registry-routes"
}

# arm_rules JSON: validated, then swapped in whole (rename), so the fake never
# reads half a file and every rule's count starts again.
arm_rules() {
	[ "$#" = 1 ] || fail "arm_rules: usage: arm_rules 'JSON'"
	[ -n "${ARM_RULES:-}" ] || fail "arm_rules: no fake ARM (start_azure_arm first)"
	printf '%s\n' "$1" >"$ARM_RULES.new"
	if ! /usr/bin/python3 "$SRCDIR/tests/fakes/azurearm.py" --check-rules "$ARM_RULES.new" \
		2>"$ARM_RULES.err"; then
		fail "arm_rules: $(cat "$ARM_RULES.err")"
	fi
	mv -f "$ARM_RULES.new" "$ARM_RULES"
}

arm_count() {
	case $# in
	2 | 3) ;;
	*) fail "arm_count: usage: arm_count METHOD PATH_REGEX [STATUS]" ;;
	esac
	[ -n "${ARM_LOG:-}" ] || fail "arm_count: no fake ARM (start_azure_arm first)"
	jq -r '[.method, .path, (.status | tostring)] | @tsv' "$ARM_LOG" |
		awk -F'\t' -v m="$1" -v re="$2" -v st="${3:-}" '
			BEGIN { re = tolower(re) }
			(m == "*" || $1 == m) && tolower($2) ~ re && (st == "" || $3 == st) { n++ }
			END { print n + 0 }'
}

arm_mutations() {
	[ -n "${ARM_LOG:-}" ] || fail "arm_mutations: no fake ARM (start_azure_arm first)"
	jq -r 'select(.mutating) | .method' "$ARM_LOG" | awk 'END { print NR + 0 }'
}

arm_host_port() {
	[ "$#" -ge 2 ] || fail "arm_host_port: usage: arm_host_port RG NAME [CONTAINER_PORT]"
	[ -n "${ARM_STATE:-}" ] || fail "arm_host_port: no fake ARM (start_azure_arm first)"
	jq -er --arg rg "${1,,}" --arg n "${2,,}" --arg p "${3:-}" '
		[.groups[] | select((.resourceGroup | ascii_downcase) == $rg and
			(.name | ascii_downcase) == $n)][0].ports as $ports
		| if $p == "" then ($ports | to_entries | sort_by(.key | tonumber) | .[0].value)
		  else $ports[$p] end' "$ARM_STATE" ||
		fail "arm_host_port: group $1/$2 publishes no port${3:+ $3}"
}

arm_show() {
	[ -z "${ARM_LOG:-}" ] || _rig_show "fake ARM requests" "$ARM_LOG"
	[ -z "${ARM_DIR:-}" ] || _rig_show "fake ARM stderr" "$ARM_DIR/azurearm.err"
}

# start_azure_rig FQDN [start_azure_arm options]: see the header.
start_azure_rig() {
	[ "$#" -ge 1 ] || fail "start_azure_rig: usage: start_azure_rig FQDN [start_azure_arm options]"
	local fqdn=$1
	shift
	start_registry acr tls token acruser "$(_rig_random 16)"
	start_azure_arm "$@"
	start_entra acr myreg acr
	arm_registry_route myreg.azurecr.io "$ENTRA_ADDR"
	export MLDEPLOY_CONNECT_TO="$MLDEPLOY_CONNECT_TO,$ARM_CONNECT_TO,$fqdn:8080:127.0.0.1:$ARM_APP_PORT"
	export AZURE_TENANT_ID=$ENTRA_TENANT AZURE_CLIENT_ID=$ENTRA_CLIENT_ID
	export AZURE_CLIENT_SECRET=$ENTRA_SECRET
}
