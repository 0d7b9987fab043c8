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
#       directly; --registry-route routes a registry host name as start_azure_arm's
#       (us-east1-docker.pkg.dev=$AR_ADDR: Artifact Registry's front, which the fake
#       logs in to with the newest token of GAE_TOKENS). With start_google_auth
#       before, every token it issues is accepted.
#   gae_token [TOKEN]               add TOKEN (default: a new random one) to GAE_TOKENS;
#                                   prints it
#   gae_rules 'JSON'                validate and swap in the fault rules (counts restart);
#                                   actions status, fail_operation, reset, delay_ms, e.g.
#                                   '[{"method": "POST", "path_regex": "/versions$",
#                                      "action": "status", "code": 429, "retry_after": 1}]'
#                                   (requests to the apps match on //HOST/PATH)
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
	[ -z "${GAUTH_CONFIG:-}" ] || gauth_accept "$GAE_TOKENS"
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
	jq -cS --arg k "$1/$2" '.services[$k].split // {}' "$GAE_STATE"
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

# ---------------------------------------------------------------- Cloud Run
#
# Cloud Run (tests/fakes/cloudrun.py: the Admin API v2 and the services' URLs, one
# HTTPS server answering by Host; every request checked against the discovery
# document in ../shared/api-models; it runs what it is given with podman; its
# docstring has the routes, the checks, the faults and the answers):
#   start_cloud_run [--project P]... [--min-polls N] [--startup-timeout S]
#                   [--page-size N] [--registry-route HOST=ADDR]... [--enforce-invoker]
#       HTTPS on 127.0.0.1 with the rig CA (SAN DNS:run.googleapis.com and
#       DNS:*.a.run.app), in $T/cloudrun; podman as start_engine sets it up.
#       --project: the projects the caller may use (others: 403 PERMISSION_DENIED;
#       default: $GOOGLE_CLOUD_PROJECT, else my-project). Appends
#       run.googleapis.com:443 and a catch-all ":443:127.0.0.1:PORT" (tag URLs are
#       only known once deployed) to MLDEPLOY_CONNECT_TO and sets
#       MLDEPLOY_CA_BUNDLE=$RIG_CA: call it after every other start_* that appends
#       a host on port 443. Exports CLOUDRUN_ADDR, CLOUDRUN_PORT, CLOUDRUN_DIR,
#       CLOUDRUN_PID, CLOUDRUN_TOKENS (accepted bearer tokens, one a line, re-read on
#       every request; starts empty: see cloudrun_token; with start_google_auth
#       before, every token it issues), CLOUDRUN_RULES (fault
#       rules), CLOUDRUN_LOG (one JSON line per request, "kind" api or app, and one
#       "kind":"traffic" line per routing change), CLOUDRUN_STATE (services with
#       their spec, routing, tags and revisions), CLOUDRUN_SECRETS (Secret Manager:
#       {"SECRET[:VERSION]": "value"}, re-read at every revision; starts {}).
#       An image on a rig registry (127.0.0.1:PORT, started with tls) is pulled
#       directly; --registry-route routes a registry host name as start_azure_arm's
#       (us-east1-docker.pkg.dev=$AR_ADDR: Artifact Registry's front, which the fake
#       logs in to with the newest token of CLOUDRUN_TOKENS).
#       --enforce-invoker: the service URLs answer 403 as Cloud Run's IAM does unless
#       allUsers may invoke or the request carries an ID token for the service's URL
#       from CLOUDRUN_ID_TOKENS (exported; one a line; with start_google_auth before,
#       every ID token it issues).
#   cloudrun_token [TOKEN]          add TOKEN (default: a new random one) to CLOUDRUN_TOKENS;
#                                   prints it
#   cloudrun_rules 'JSON'           validate and swap in the fault rules (counts restart);
#                                   actions status, op_fail, op_stuck, bump_etag, e.g.
#                                   '[{"method": "PATCH", "path_regex": "/services/iris$",
#                                      "action": "status", "code": 429, "retry_after": 1}]'
#                                   (app requests match on //HOST/PATH)
#   cloudrun_count METHOD PATH_REGEX [STATUS]
#                                   number of API requests (METHOD "*" = any; PATH_REGEX an
#                                   awk ERE on the path alone), e.g.
#                                   cloudrun_count PATCH '/services/iris$' 200
#   cloudrun_mutations              number of POST/PATCH/PUT/DELETE API requests
#   cloudrun_curl URL [CURL_ARGS...]
#                                   curl to a service or tag URL (https://...a.run.app)
#                                   through the fake with the rig CA; fails on >= 400
#   cloudrun_show                   the fake's request log and stderr (last 40 lines)

# start_cloud_run [options]: see above.
start_cloud_run() {
	local dir="$T/cloudrun" args=() projects=() routes=() p enforce=
	while [ "$#" -gt 0 ]; do
		case $1 in
		--enforce-invoker)
			enforce=1
			shift ;;
		--project | --min-polls | --startup-timeout | --page-size | --registry-route)
			[ "$#" -ge 2 ] || fail "start_cloud_run: $1 needs a value"
			case $1 in
			--project) projects+=("$2") ;;
			--registry-route) routes+=("$2") ;;
			*) args+=("$1" "$2") ;;
			esac
			shift 2 ;;
		*) fail "start_cloud_run: unknown option '$1'" ;;
		esac
	done
	[ ! -e "$dir" ] || fail "start_cloud_run: already started"
	local doc=${RIG_API_MODELS:-$SRCDIR/../shared/api-models}/google-run-v2.json
	[ -f "$doc" ] || fail "start_cloud_run: no discovery document at $doc (set RIG_API_MODELS)"
	[ "${#projects[@]}" -gt 0 ] || projects=("${GOOGLE_CLOUD_PROJECT:-my-project}")
	[ "${CONTAINERS_CONF:-}" = "$T/podman/containers.conf" ] || podman_setup --driver overlay
	for p in "${projects[@]}"; do
		args+=(--project "$p")
	done
	mkdir -p "$dir/work"
	rig_server_cert "$dir/tls" run.googleapis.com "*.a.run.app"
	: >"$dir/tokens"
	: >"$dir/requests.log"
	printf '[]\n' >"$dir/rules.json"
	printf '{}\n' >"$dir/secrets.json"
	printf '%s\n' "${routes[@]}" >"$dir/registry-routes"
	if [ -n "$enforce" ]; then
		: >"$dir/id-tokens"
		args+=(--id-tokens "$dir/id-tokens")
		export CLOUDRUN_ID_TOKENS="$dir/id-tokens"
		if [ -n "${GAUTH_CONFIG:-}" ]; then
			if ! jq --arg f "$dir/id-tokens" '.id_tokens_files |= ((. // []) + [$f] | unique)' \
				"$GAUTH_CONFIG" >"$GAUTH_CONFIG.new"; then
				fail "start_cloud_run: cannot edit $GAUTH_CONFIG"
			fi
			mv -f "$GAUTH_CONFIG.new" "$GAUTH_CONFIG"
		fi
	fi
	spawn_fake "$dir/port" "$dir/cloudrun.err" "fake Cloud Run" \
		/usr/bin/python3 "$SRCDIR/tests/fakes/cloudrun.py" --discovery "$doc" \
		--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key" \
		--tokens "$dir/tokens" --log "$dir/requests.log" --rules "$dir/rules.json" \
		--state "$dir/state.json" --secrets "$dir/secrets.json" --work-dir "$dir/work" \
		--registry-cert-dir "$RIG_CA_DIR" --registry-routes "$dir/registry-routes" "${args[@]}"
	export CLOUDRUN_PID=$SPAWNED_PID CLOUDRUN_PORT=$SPAWNED_PORT
	export CLOUDRUN_ADDR=127.0.0.1:$SPAWNED_PORT CLOUDRUN_DIR="$dir"
	export CLOUDRUN_TOKENS="$dir/tokens" CLOUDRUN_RULES="$dir/rules.json"
	export CLOUDRUN_LOG="$dir/requests.log" CLOUDRUN_STATE="$dir/state.json"
	export CLOUDRUN_SECRETS="$dir/secrets.json"
	[ -z "${GAUTH_CONFIG:-}" ] || gauth_accept "$CLOUDRUN_TOKENS"
	export MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}run.googleapis.com:443:$CLOUDRUN_ADDR,:443:$CLOUDRUN_ADDR"
	export MLDEPLOY_CA_BUNDLE=$RIG_CA
}

cloudrun_token() {
	[ -n "${CLOUDRUN_TOKENS:-}" ] || fail "cloudrun_token: no fake Cloud Run (start_cloud_run first)"
	local token=${1:-}
	[ -n "$token" ] || token=ya29.$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	printf '%s\n' "$token" >>"$CLOUDRUN_TOKENS"
	printf '%s\n' "$token"
}

# cloudrun_rules JSON: validated, then swapped in whole (rename).
cloudrun_rules() {
	[ "$#" = 1 ] || fail "cloudrun_rules: usage: cloudrun_rules 'JSON'"
	[ -n "${CLOUDRUN_RULES:-}" ] || fail "cloudrun_rules: no fake Cloud Run (start_cloud_run first)"
	printf '%s\n' "$1" >"$CLOUDRUN_RULES.new"
	if ! /usr/bin/python3 "$SRCDIR/tests/fakes/cloudrun.py" --check-rules "$CLOUDRUN_RULES.new" \
		2>"$CLOUDRUN_RULES.err"; then
		fail "cloudrun_rules: $(cat "$CLOUDRUN_RULES.err")"
	fi
	mv -f "$CLOUDRUN_RULES.new" "$CLOUDRUN_RULES"
}

cloudrun_count() {
	case $# in
	2 | 3) ;;
	*) fail "cloudrun_count: usage: cloudrun_count METHOD PATH_REGEX [STATUS]" ;;
	esac
	[ -n "${CLOUDRUN_LOG:-}" ] || fail "cloudrun_count: no fake Cloud Run (start_cloud_run first)"
	jq -r 'select(.kind == "api") | [.method, .path, (.status | tostring)] | @tsv' "$CLOUDRUN_LOG" |
		awk -F'\t' -v m="$1" -v re="$2" -v st="${3:-}" '
			(m == "*" || $1 == m) && $2 ~ re && (st == "" || $3 == st) { n++ }
			END { print n + 0 }'
}

cloudrun_mutations() {
	[ -n "${CLOUDRUN_LOG:-}" ] || fail "cloudrun_mutations: no fake Cloud Run (start_cloud_run first)"
	jq -r 'select(.mutating) | .method' "$CLOUDRUN_LOG" | awk 'END { print NR + 0 }'
}

cloudrun_curl() {
	[ "$#" -ge 1 ] || fail "cloudrun_curl: usage: cloudrun_curl URL [CURL_ARGS...]"
	[ -n "${CLOUDRUN_ADDR:-}" ] || fail "cloudrun_curl: no fake Cloud Run (start_cloud_run first)"
	local url=$1
	shift
	curl -fsS --cacert "$RIG_CA" --connect-to "::$CLOUDRUN_ADDR" "$@" "$url"
}

cloudrun_show() {
	[ -z "${CLOUDRUN_LOG:-}" ] || _rig_show "fake Cloud Run requests" "$CLOUDRUN_LOG"
	[ -z "${CLOUDRUN_DIR:-}" ] || _rig_show "fake Cloud Run stderr" "$CLOUDRUN_DIR/cloudrun.err"
}

# ---------------------------------------------------------------- Google credentials
#
# Google's token services (tests/fakes/googleauth.py: oauth2.googleapis.com,
# sts.googleapis.com, iamcredentials.googleapis.com over TLS, and a plain HTTP
# instance as the metadata server and a subject token URL; its docstring has the
# routes, the checks and Google's error bodies):
#   start_google_auth [--project P]
#       in $T/googleauth: one service account (P is its project: default
#       $GOOGLE_CLOUD_PROJECT, else my-project) whose RSA key the fake trusts, a user
#       with a refresh token, a workload identity provider with a subject token, a
#       metadata server for the service account. Writes the credential files and
#       exports their paths: GAUTH_SA_KEY (service_account key, token_uri
#       https://oauth2.googleapis.com/token), GAUTH_ADC (authorized_user, as `gcloud
#       auth application-default login` writes it), GAUTH_WIF (external_account:
#       subject token from the file GAUTH_SUBJECT_TOKEN_FILE, format text, no
#       impersonation), GAUTH_WIF_URL (external_account: subject token from the URL
#       http://GAUTH_METADATA_ADDR/subject-token with a header, format json, then
#       service_account_impersonation_url of the service account),
#       GAUTH_IMPERSONATED (impersonated_service_account of the service account, the
#       user as source credentials). Also GAUTH_SA_EMAIL, GAUTH_SA_KEY_ID,
#       GAUTH_PROJECT, GAUTH_AUDIENCE (the provider), GAUTH_ADDR (TLS instance,
#       127.0.0.1:PORT), GAUTH_METADATA_ADDR (plain instance: give it to mldeploy as
#       GCE_METADATA_HOST), GAUTH_CONFIG (the fake's JSON config, re-read on every
#       request: edit it with jq to revoke a key or a refresh token), GAUTH_LOG (one
#       JSON object per request), GAUTH_SECRETS (every key, assertion, refresh and
#       subject token and access token seen or issued, one a line: look for them in
#       what mldeploy printed), GOOGLE_TOKENS (every access token issued, one a line),
#       GAUTH_DIR. Every token issued is also appended to the accepted-token files of
#       the Google fakes started before (AR_TOKENS, CLOUDRUN_TOKENS, GAE_TOKENS);
#       fakes started later are added by their start functions or gauth_accept.
#       Appends oauth2.googleapis.com, sts.googleapis.com and
#       iamcredentials.googleapis.com (:443) to MLDEPLOY_CONNECT_TO and sets
#       MLDEPLOY_CA_BUNDLE=$RIG_CA. Sets no credential variable itself.
#   gauth_accept FILE               every token issued from now on (and every one issued
#                                   so far) is appended to FILE too
#   gauth_count JQ_CONDITION        number of log lines for which the jq condition holds,
#                                   e.g. gauth_count '.route == "token" and
#                                   .grant == "refresh_token" and .status == 200'
#   gauth_show                      the fake's log and stderr (last 40 lines)
#
# Artifact Registry (tests/fakes/artifactregistry.py: the Artifact Registry API v1,
# every request checked against the discovery document in ../shared/api-models, and
# the Docker registry front of LOCATION-docker.pkg.dev; its docstring has the routes
# and the answers):
#   start_artifact_registry [--project P]... [--denied-project P]... [--location L]...
#                           [--repository NAME]... [--min-polls N]
#       HTTPS on 127.0.0.1 with the rig CA (SAN DNS:artifactregistry.googleapis.com
#       and DNS:L-docker.pkg.dev for each --location, default us-east1), in
#       $T/artifactregistry, in front of rig registry gar (plain HTTP, started here
#       unless REG_GAR_ADDR is set). --project: the projects the caller may use
#       (default $GOOGLE_CLOUD_PROJECT, else my-project); --repository
#       projects/P/locations/L/repositories/R: there from the start. Exports AR_ADDR,
#       AR_PORT, AR_DIR, AR_PID, AR_TOKENS (accepted access tokens, one a line,
#       re-read on every request; start_google_auth's tokens go there), AR_LOG (one
#       JSON line per request: {"method","host","path","query","status","route" (api,
#       token, v2),"id","mutating","code","auth"}), AR_STATE (repositories and
#       operations), AR_RULES (fault rules for the API, re-read on every request).
#       Appends artifactregistry.googleapis.com and each L-docker.pkg.dev (:443) to
#       MLDEPLOY_CONNECT_TO and sets MLDEPLOY_CA_BUNDLE=$RIG_CA.
#   ar_token [TOKEN]                add TOKEN (default: a new random one) to AR_TOKENS;
#                                   prints it
#   ar_rules 'JSON'                 validate and swap in the API's fault rules (actions
#                                   status, fail_operation), e.g.
#                                   '[{"method": "GET", "path_regex": "/repositories/",
#                                      "action": "status", "code": 429, "retry_after": 1}]'
#   ar_count ROUTE METHOD PATH_REGEX [STATUS]
#                                   number of requests of ROUTE (api, token, v2; "*" any)
#                                   with METHOD ("*" any) whose path matches the awk ERE,
#                                   e.g. ar_count api POST '/repositories$' 200
#   ar_repository_exists NAME       status 0 when projects/P/locations/L/repositories/R
#                                   exists in the fake
#   ar_show                         the fake's log and stderr (last 40 lines)
#
#   start_gcp_rig [REPOSITORY_ID]
#       what a deploy to Google runs on, but the platform: start_google_auth,
#       start_artifact_registry with repository REPOSITORY_ID (default ml) of project
#       $GOOGLE_CLOUD_PROJECT (else my-project) in us-east1. Exports
#       GOOGLE_CLOUD_PROJECT, GOOGLE_APPLICATION_CREDENTIALS=$GAUTH_SA_KEY and
#       GCP_IMAGE_REPO (us-east1-docker.pkg.dev/PROJECT/REPOSITORY_ID). Start the Cloud
#       Run or App Engine fake after it (their catch-all connect-to entry goes last).

# start_google_auth [--project P]: see the header.
start_google_auth() {
	local dir="$T/googleauth" project=${GOOGLE_CLOUD_PROJECT:-my-project} files=() f
	while [ "$#" -gt 0 ]; do
		case $1 in
		--project)
			[ "$#" -ge 2 ] || fail "start_google_auth: --project needs a value"
			project=$2
			shift 2 ;;
		*) fail "start_google_auth: unknown option '$1'" ;;
		esac
	done
	[ ! -e "$dir" ] || fail "start_google_auth: already started"
	mkdir -p "$dir"
	rig_server_cert "$dir/tls" oauth2.googleapis.com sts.googleapis.com iamcredentials.googleapis.com
	{
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/sa.key" &&
			openssl pkey -in "$dir/sa.key" -pubout -out "$dir/sa.pub"
	} 2>"$dir/openssl.log" || fail "cannot create the service account key (see $dir/openssl.log)"
	chmod 0600 "$dir/sa.key"
	export GAUTH_DIR="$dir" GAUTH_PROJECT="$project" GAUTH_CONFIG="$dir/config.json"
	export GAUTH_LOG="$dir/requests.log" GAUTH_SECRETS="$dir/secrets" GOOGLE_TOKENS="$dir/tokens"
	export GAUTH_SA_EMAIL="deployer@$project.iam.gserviceaccount.com"
	export GAUTH_SA_KEY_ID GAUTH_AUDIENCE GAUTH_SUBJECT_TOKEN_FILE="$dir/subject-token"
	export GAUTH_SA_KEY="$dir/key.json" GAUTH_ADC="$dir/adc.json" GAUTH_WIF="$dir/wif.json"
	export GAUTH_WIF_URL="$dir/wif-url.json" GAUTH_IMPERSONATED="$dir/impersonated.json"
	GAUTH_SA_KEY_ID=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
	GAUTH_AUDIENCE="//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci/providers/github"
	: >"$GAUTH_SECRETS"
	: >"$GOOGLE_TOKENS"
	files=("$GOOGLE_TOKENS")
	for f in "${AR_TOKENS:-}" "${CLOUDRUN_TOKENS:-}" "${GAE_TOKENS:-}"; do
		[ -z "$f" ] || files+=("$f")
	done
	local refresh client_secret subject url_subject header
	refresh="1//0g$(_rig_random 60)"
	client_secret="GOCSPX-$(_rig_random 21)"
	subject="$(_rig_b64url_json '{"alg":"RS256","typ":"JWT","kid":"gh"}').$(_rig_b64url_json \
		'{"iss":"https://token.actions.githubusercontent.com","sub":"repo:example/app:ref:refs/heads/main","aud":"gcp"}').$(_rig_random 64)"
	url_subject="eyJ$(_rig_random 40).$(_rig_random 60).$(_rig_random 40)"
	header=$(_rig_random 24)
	printf '%s\n' "$subject" >"$GAUTH_SUBJECT_TOKEN_FILE"
	printf '%s\n' "$refresh" "$client_secret" "$subject" "$url_subject" "$header" >>"$GAUTH_SECRETS"
	sed -n '2,/END/{/END/d;p}' "$dir/sa.key" >>"$GAUTH_SECRETS"
	jq -n --arg email "$GAUTH_SA_EMAIL" --arg kid "$GAUTH_SA_KEY_ID" --arg pub "$dir/sa.pub" \
		--arg refresh "$refresh" --arg secret "$client_secret" --arg aud "$GAUTH_AUDIENCE" \
		--arg subject "$subject" --arg url_subject "$url_subject" --arg header "$header" \
		--arg project "$project" --arg secrets "$GAUTH_SECRETS" \
		--argjson files "$(printf '%s\n' "${files[@]}" | jq -R . | jq -s .)" \
		'{service_accounts: {($email): {keys: {($kid): $pub},
		    token_creators: ["user:dev@example.com",
		      ("principal://iam.googleapis.com/" + ($aud | ltrimstr("//") | split("/")[1:] | join("/")))]}},
		  users: {($refresh): {client_id: "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
		    client_secret: $secret, principal: "user:dev@example.com"}},
		  workload_providers: {($aud): {subject_tokens: [$subject, $url_subject]}},
		  metadata: {service_account: $email, project: $project},
		  subject_url: {header: "X-Subject-Auth", value: $header, token: $url_subject},
		  tokens_files: $files, secrets_file: $secrets}' >"$GAUTH_CONFIG" ||
		fail "start_google_auth: cannot write $GAUTH_CONFIG"
	spawn_fake "$dir/tls.port" "$dir/tls.err" "Google auth fake (TLS)" /usr/bin/python3 \
		"$SRCDIR/tests/fakes/googleauth.py" --config "$GAUTH_CONFIG" --log "$GAUTH_LOG" \
		--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key"
	export GAUTH_ADDR="127.0.0.1:$SPAWNED_PORT"
	spawn_fake "$dir/plain.port" "$dir/plain.err" "Google auth fake (metadata server)" \
		/usr/bin/python3 "$SRCDIR/tests/fakes/googleauth.py" --config "$GAUTH_CONFIG" \
		--log "$GAUTH_LOG"
	export GAUTH_METADATA_ADDR="127.0.0.1:$SPAWNED_PORT"
	jq -n --arg project "$project" --arg kid "$GAUTH_SA_KEY_ID" --rawfile key "$dir/sa.key" \
		--arg email "$GAUTH_SA_EMAIL" \
		'{type: "service_account", project_id: $project, private_key_id: $kid,
		  private_key: $key, client_email: $email, client_id: "104857600000000000001",
		  auth_uri: "https://accounts.google.com/o/oauth2/auth",
		  token_uri: "https://oauth2.googleapis.com/token",
		  auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
		  client_x509_cert_url: ("https://www.googleapis.com/robot/v1/metadata/x509/" + ($email | @uri)),
		  universe_domain: "googleapis.com"}' >"$GAUTH_SA_KEY"
	jq -n --arg refresh "$refresh" --arg secret "$client_secret" \
		'{account: "", client_id: "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
		  client_secret: $secret, refresh_token: $refresh, type: "authorized_user",
		  universe_domain: "googleapis.com"}' >"$GAUTH_ADC"
	local imp="https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/$GAUTH_SA_EMAIL:generateAccessToken"
	jq -n --arg aud "$GAUTH_AUDIENCE" --arg file "$GAUTH_SUBJECT_TOKEN_FILE" \
		'{type: "external_account", audience: $aud,
		  subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
		  token_url: "https://sts.googleapis.com/v1/token",
		  credential_source: {file: $file, format: {type: "text"}},
		  universe_domain: "googleapis.com"}' >"$GAUTH_WIF"
	jq -n --arg aud "$GAUTH_AUDIENCE" --arg imp "$imp" --arg header "$header" \
		--arg url "http://$GAUTH_METADATA_ADDR/subject-token" \
		'{type: "external_account", audience: $aud,
		  subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
		  token_url: "https://sts.googleapis.com/v1/token",
		  service_account_impersonation_url: $imp,
		  service_account_impersonation: {token_lifetime_seconds: 1800},
		  credential_source: {url: $url, headers: {"X-Subject-Auth": $header},
		    format: {type: "json", subject_token_field_name: "value"}}}' >"$GAUTH_WIF_URL"
	jq --arg imp "$imp" '{type: "impersonated_service_account",
		  service_account_impersonation_url: $imp, delegates: [],
		  source_credentials: .}' "$GAUTH_ADC" >"$GAUTH_IMPERSONATED"
	chmod 0600 "$GAUTH_SA_KEY" "$GAUTH_ADC" "$GAUTH_WIF" "$GAUTH_WIF_URL" "$GAUTH_IMPERSONATED"
	local to="oauth2.googleapis.com:443:$GAUTH_ADDR,sts.googleapis.com:443:$GAUTH_ADDR"
	to="$to,iamcredentials.googleapis.com:443:$GAUTH_ADDR"
	export MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}$to"
	export MLDEPLOY_CA_BUNDLE="$RIG_CA"
}

gauth_accept() {
	[ "$#" = 1 ] || fail "gauth_accept: usage: gauth_accept FILE"
	[ -n "${GAUTH_CONFIG:-}" ] || fail "gauth_accept: the Google auth fake is not started"
	if ! jq --arg f "$1" '.tokens_files |= (. + [$f] | unique)' "$GAUTH_CONFIG" \
		>"$GAUTH_CONFIG.new"; then
		fail "gauth_accept: cannot edit $GAUTH_CONFIG"
	fi
	mv -f "$GAUTH_CONFIG.new" "$GAUTH_CONFIG"
	cat "$GOOGLE_TOKENS" >>"$1"
}

gauth_count() {
	[ "$#" = 1 ] || fail "gauth_count: usage: gauth_count JQ_CONDITION"
	[ -n "${GAUTH_LOG:-}" ] || fail "gauth_count: the Google auth fake is not started"
	jq -c "select($1)" "$GAUTH_LOG" | wc -l
}

gauth_show() {
	[ -n "${GAUTH_DIR:-}" ] || return 0
	_rig_show "Google auth fake log" "$GAUTH_LOG"
	_rig_show "Google auth fake stderr (TLS)" "$GAUTH_DIR/tls.err"
	_rig_show "Google auth fake stderr (metadata server)" "$GAUTH_DIR/plain.err"
}

# start_artifact_registry [options]: see the header.
start_artifact_registry() {
	local dir="$T/artifactregistry" args=() projects=() locations=() names=() l p
	while [ "$#" -gt 0 ]; do
		case $1 in
		--project | --denied-project | --location | --repository | --min-polls)
			[ "$#" -ge 2 ] || fail "start_artifact_registry: $1 needs a value"
			case $1 in
			--project) projects+=("$2") ;;
			--location) locations+=("$2") ;;
			*) args+=("$1" "$2") ;;
			esac
			shift 2 ;;
		*) fail "start_artifact_registry: unknown option '$1'" ;;
		esac
	done
	[ ! -e "$dir" ] || fail "start_artifact_registry: already started"
	local doc=${RIG_API_MODELS:-$SRCDIR/../shared/api-models}/google-artifactregistry-v1.json
	[ -f "$doc" ] || fail "start_artifact_registry: no discovery document at $doc (set RIG_API_MODELS)"
	[ "${#projects[@]}" -gt 0 ] || projects=("${GOOGLE_CLOUD_PROJECT:-my-project}")
	[ "${#locations[@]}" -gt 0 ] || locations=(us-east1)
	[ -n "${REG_GAR_ADDR:-}" ] || start_registry gar
	for p in "${projects[@]}"; do
		args+=(--project "$p")
	done
	for l in "${locations[@]}"; do
		names+=("$l-docker.pkg.dev")
	done
	mkdir -p "$dir"
	rig_server_cert "$dir/tls" artifactregistry.googleapis.com "${names[@]}"
	: >"$dir/tokens"
	printf '[]\n' >"$dir/rules.json"
	spawn_fake "$dir/port" "$dir/artifactregistry.err" "fake Artifact Registry" \
		/usr/bin/python3 "$SRCDIR/tests/fakes/artifactregistry.py" --discovery "$doc" \
		--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key" \
		--tokens "$dir/tokens" --log "$dir/requests.log" --state "$dir/state.json" \
		--rules "$dir/rules.json" --upstream "http://$REG_GAR_ADDR" "${args[@]}"
	export AR_PID=$SPAWNED_PID AR_PORT=$SPAWNED_PORT AR_ADDR=127.0.0.1:$SPAWNED_PORT
	export AR_DIR="$dir" AR_TOKENS="$dir/tokens" AR_LOG="$dir/requests.log"
	export AR_STATE="$dir/state.json" AR_RULES="$dir/rules.json"
	[ -z "${GAUTH_CONFIG:-}" ] || gauth_accept "$AR_TOKENS"
	local to="artifactregistry.googleapis.com:443:$AR_ADDR" n
	for n in "${names[@]}"; do
		to="$to,$n:443:$AR_ADDR"
	done
	export MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}$to"
	export MLDEPLOY_CA_BUNDLE="$RIG_CA"
}

ar_token() {
	[ -n "${AR_TOKENS:-}" ] || fail "ar_token: no fake Artifact Registry (start_artifact_registry first)"
	local token=${1:-}
	[ -n "$token" ] || token=ya29.$(_rig_random 24)
	printf '%s\n' "$token" >>"$AR_TOKENS"
	printf '%s\n' "$token"
}

ar_rules() {
	[ "$#" = 1 ] || fail "ar_rules: usage: ar_rules 'JSON'"
	[ -n "${AR_RULES:-}" ] || fail "ar_rules: no fake Artifact Registry (start_artifact_registry first)"
	printf '%s\n' "$1" >"$AR_RULES.new"
	if ! /usr/bin/python3 "$SRCDIR/tests/fakes/artifactregistry.py" --check-rules "$AR_RULES.new" \
		2>"$AR_RULES.err"; then
		fail "ar_rules: $(cat "$AR_RULES.err")"
	fi
	mv -f "$AR_RULES.new" "$AR_RULES"
}

ar_count() {
	case $# in
	3 | 4) ;;
	*) fail "ar_count: usage: ar_count ROUTE METHOD PATH_REGEX [STATUS]" ;;
	esac
	[ -n "${AR_LOG:-}" ] || fail "ar_count: no fake Artifact Registry (start_artifact_registry first)"
	jq -r '[.route, .method, .path, (.status | tostring)] | @tsv' "$AR_LOG" |
		awk -F'\t' -v r="$1" -v m="$2" -v re="$3" -v st="${4:-}" '
			(r == "*" || $1 == r) && (m == "*" || $2 == m) && $3 ~ re &&
			(st == "" || $4 == st) { n++ }
			END { print n + 0 }'
}

ar_repository_exists() {
	[ "$#" = 1 ] || fail "ar_repository_exists: usage: ar_repository_exists NAME"
	[ -n "${AR_STATE:-}" ] || fail "ar_repository_exists: no fake Artifact Registry"
	jq -e --arg n "$1" '.repositories | has($n)' "$AR_STATE" >/dev/null
}

ar_show() {
	[ -n "${AR_DIR:-}" ] || return 0
	_rig_show "fake Artifact Registry requests" "$AR_LOG"
	_rig_show "fake Artifact Registry stderr" "$AR_DIR/artifactregistry.err"
}

# start_gcp_rig [REPOSITORY_ID]: see the header.
start_gcp_rig() {
	local repo=${1:-ml}
	export GOOGLE_CLOUD_PROJECT=${GOOGLE_CLOUD_PROJECT:-my-project}
	start_google_auth --project "$GOOGLE_CLOUD_PROJECT"
	start_artifact_registry --project "$GOOGLE_CLOUD_PROJECT" \
		--repository "projects/$GOOGLE_CLOUD_PROJECT/locations/us-east1/repositories/$repo"
	export GOOGLE_APPLICATION_CREDENTIALS=$GAUTH_SA_KEY
	export GCP_IMAGE_REPO="us-east1-docker.pkg.dev/$GOOGLE_CLOUD_PROJECT/$repo"
}
