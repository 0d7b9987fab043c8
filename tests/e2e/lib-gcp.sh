# shellcheck shell=bash
# tests/e2e/lib-gcp.sh — rig functions for the Google Cloud tests (t2102, t32xx),
# sourced after lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/lib-gcp.sh"
#
# App Engine flexible (tests/fakes/appengine.py: the Admin API v1 and the apps it
# serves, one HTTPS server answering by Host; every request checked against the
# discovery document in ../shared/api-models; it runs what it is given with podman;
# its docstring has the routes, the checks and the answers):
#   start_app_engine [--project P]... [--denied-project P]... [--min-polls N]
#                    [--ready-timeout S] [--page-size N] [--region-code RC]
#                    [--registry-route HOST=ADDR]...
#       HTTPS on 127.0.0.1 with the rig CA (SAN DNS:appengine.googleapis.com and
#       DNS:*.RC.r.appspot.com; RC default ue), in $T/appengine; podman as
#       start_engine sets it up. --project: the projects that have an App Engine
#       application (default: $GOOGLE_CLOUD_PROJECT, else my-project). Appends
#       appengine.googleapis.com:443 AND a catch-all ":443:127.0.0.1:PORT" (the
#       versions' host names are only known once deployed) to MLDEPLOY_CONNECT_TO
#       and sets MLDEPLOY_CA_BUNDLE=$RIG_CA: call it after every other start_* that
#       appends a host on port 443. Exports GAE_ADDR, GAE_PORT, GAE_DIR, GAE_PID,
#       GAE_TOKENS (accepted bearer tokens, one a line, re-read on every request;
#       starts empty: see gae_token), GAE_RULES (fault rules, re-read on every
#       request), GAE_LOG (one JSON line per API request: {"method","path","query",
#       "status","mutating","id","code","fault","auth","t"}), GAE_APP_LOG (one JSON
#       line per request to an app: {"host","path","status","version","t"}), GAE_STATE
#       (services, splits and versions with their containers), GAE_REGION_CODE.
#       An image on a rig registry (127.0.0.1:PORT, started with tls) is pulled
#       directly; --registry-route routes a registry host name as start_azure_arm's.
#   gae_token [TOKEN]               add TOKEN (default: a new random one) to GAE_TOKENS;
#                                   prints it
#   gae_rules 'JSON'                validate and swap in the fault rules (counts restart);
#                                   actions status, fail_operation, reset, delay_ms, e.g.
#                                   '[{"method": "POST", "path_regex": "/versions$",
#                                      "action": "status", "code": 429, "retry_after": 1}]'
#   gae_count METHOD PATH_REGEX [STATUS]
#                                   number of API requests (METHOD "*" = any; PATH_REGEX an
#                                   awk ERE on the path alone), e.g.
#                                   gae_count PATCH '/services/default$' 200
#   gae_mutations                   number of POST/PATCH/PUT/DELETE API requests (0 after
#                                   a --dry-run)
#   gae_split PROJECT SERVICE       the service's allocations as compact JSON ({} when absent)
#   gae_curl URL [CURL_ARGS...]     curl to an app URL (https://...appspot.com) through the
#                                   fake, with the rig CA; body on stdout, fails on >= 400
#   gae_show                        the fake's request logs and stderr (last 40 lines)

# ---------------------------------------------------------------- App Engine

# start_app_engine [options]: see the header.
start_app_engine() {
	local dir="$T/appengine" args=() projects=() routes=() rc=ue
	while [ "$#" -gt 0 ]; do
		case $1 in
		--project | --denied-project | --min-polls | --ready-timeout | --page-size | \
			--region-code | --registry-route)
			[ "$#" -ge 2 ] || fail "start_app_engine: $1 needs a value"
			case $1 in
			--project) projects+=("$2") ;;
			--region-code) rc=$2 ;;
			--registry-route) routes+=("$2") ;;
			*) args+=("$1" "$2") ;;
			esac
			shift 2 ;;
		*) fail "start_app_engine: unknown option '$1'" ;;
		esac
	done
	[ ! -e "$dir" ] || fail "start_app_engine: already started"
	local doc=${RIG_API_MODELS:-$SRCDIR/../shared/api-models}/google-appengine-v1.json
	[ -f "$doc" ] || fail "start_app_engine: no discovery document at $doc (set RIG_API_MODELS)"
	[ "${#projects[@]}" -gt 0 ] || projects=("${GOOGLE_CLOUD_PROJECT:-my-project}")
	[ "${CONTAINERS_CONF:-}" = "$T/podman/containers.conf" ] || podman_setup --driver overlay
	local p
	for p in "${projects[@]}"; do
		args+=(--project "$p")
	done
	mkdir -p "$dir/work"
	rig_server_cert "$dir/tls" appengine.googleapis.com "*.$rc.r.appspot.com"
	: >"$dir/tokens"
	: >"$dir/requests.log"
	: >"$dir/apps.log"
	printf '[]\n' >"$dir/rules.json"
	printf '%s\n' "${routes[@]}" >"$dir/registry-routes"
	spawn_fake "$dir/port" "$dir/appengine.err" "fake App Engine" \
		/usr/bin/python3 "$SRCDIR/tests/fakes/appengine.py" --discovery "$doc" \
		--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key" \
		--tokens "$dir/tokens" --log "$dir/requests.log" --app-log "$dir/apps.log" \
		--rules "$dir/rules.json" --state "$dir/state.json" --work-dir "$dir/work" \
		--region-code "$rc" --registry-cert-dir "$RIG_CA_DIR" \
		--registry-routes "$dir/registry-routes" "${args[@]}"
	export GAE_PID=$SPAWNED_PID GAE_PORT=$SPAWNED_PORT GAE_ADDR=127.0.0.1:$SPAWNED_PORT
	export GAE_DIR="$dir" GAE_TOKENS="$dir/tokens" GAE_RULES="$dir/rules.json"
	export GAE_LOG="$dir/requests.log" GAE_APP_LOG="$dir/apps.log" GAE_STATE="$dir/state.json"
	export GAE_REGION_CODE=$rc
	export MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}appengine.googleapis.com:443:$GAE_ADDR,:443:$GAE_ADDR"
	export MLDEPLOY_CA_BUNDLE=$RIG_CA
}

gae_token() {
	[ -n "${GAE_TOKENS:-}" ] || fail "gae_token: no fake App Engine (start_app_engine first)"
	local token=${1:-}
	[ -n "$token" ] || token=ya29.$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	printf '%s\n' "$token" >>"$GAE_TOKENS"
	printf '%s\n' "$token"
}

# gae_rules JSON: validated, then swapped in whole (rename).
gae_rules() {
	[ "$#" = 1 ] || fail "gae_rules: usage: gae_rules 'JSON'"
	[ -n "${GAE_RULES:-}" ] || fail "gae_rules: no fake App Engine (start_app_engine first)"
	printf '%s\n' "$1" >"$GAE_RULES.new"
	if ! /usr/bin/python3 "$SRCDIR/tests/fakes/appengine.py" --check-rules "$GAE_RULES.new" \
		2>"$GAE_RULES.err"; then
		fail "gae_rules: $(cat "$GAE_RULES.err")"
	fi
	mv -f "$GAE_RULES.new" "$GAE_RULES"
}

gae_count() {
	case $# in
	2 | 3) ;;
	*) fail "gae_count: usage: gae_count METHOD PATH_REGEX [STATUS]" ;;
	esac
	[ -n "${GAE_LOG:-}" ] || fail "gae_count: no fake App Engine (start_app_engine first)"
	jq -r '[.method, .path, (.status | tostring)] | @tsv' "$GAE_LOG" |
		awk -F'\t' -v m="$1" -v re="$2" -v st="${3:-}" '
			(m == "*" || $1 == m) && $2 ~ re && (st == "" || $3 == st) { n++ }
			END { print n + 0 }'
}

gae_mutations() {
	[ -n "${GAE_LOG:-}" ] || fail "gae_mutations: no fake App Engine (start_app_engine first)"
	jq -r 'select(.mutating) | .method' "$GAE_LOG" | awk 'END { print NR + 0 }'
}

gae_split() {
	[ "$#" = 2 ] || fail "gae_split: usage: gae_split PROJECT SERVICE"
	[ -n "${GAE_STATE:-}" ] || fail "gae_split: no fake App Engine (start_app_engine first)"
	jq -c --arg k "$1/$2" '.services[$k].split // {}' "$GAE_STATE"
}

gae_curl() {
	[ "$#" -ge 1 ] || fail "gae_curl: usage: gae_curl URL [CURL_ARGS...]"
	[ -n "${GAE_ADDR:-}" ] || fail "gae_curl: no fake App Engine (start_app_engine first)"
	local url=$1
	shift
	curl -fsS --cacert "$RIG_CA" --connect-to "::$GAE_ADDR" "$@" "$url"
}

gae_show() {
	[ -z "${GAE_LOG:-}" ] || _rig_show "fake App Engine requests" "$GAE_LOG"
	[ -z "${GAE_APP_LOG:-}" ] || _rig_show "fake App Engine app requests" "$GAE_APP_LOG"
	[ -z "${GAE_DIR:-}" ] || _rig_show "fake App Engine stderr" "$GAE_DIR/appengine.err"
}
