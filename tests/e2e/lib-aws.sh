# shellcheck shell=bash
# tests/e2e/lib-aws.sh — the AWS rig, sourced by the tests that need it, after lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/lib-aws.sh"
#
# moto (STS, IAM, S3 and ECR's API; signature checking on) and what reaches it:
#   start_moto [--region R]
#       `python3 -m moto.server` with AWS's managed policies loaded, on plain HTTP
#       (MOTO_URL=http://127.0.0.1:PORT), a user
#       "admin" allowed everything, its access key made through moto's IAM, a role
#       MOTO_ROLE_ARN (arn:aws:iam::123456789012:role/mldeploy-test, allowed
#       everything, trusting any AWS principal and web identity), then
#       POST /moto-api/reset-auth: from there on moto checks every SigV4 signature
#       and every IAM permission. In front of it, tests/fakes/motofront.py: TLS with
#       the rig CA for sts.amazonaws.com, sts.R.amazonaws.com, iam.amazonaws.com,
#       s3.amazonaws.com and s3.R.amazonaws.com (*.s3... in the certificate too, see
#       moto_route), relaying to moto with Host kept (an unsigned
#       AssumeRoleWithWebIdentity, which moto cannot take, is signed there as admin).
#       Exports MOTO_URL, MOTO_PID,
#       MOTO_REGION (default us-east-1), MOTO_ACCOUNT (123456789012),
#       MOTO_ACCESS_KEY_ID and MOTO_SECRET_ACCESS_KEY (admin's), MOTO_ROLE_ARN,
#       MOTO_FRONT_ADDR (127.0.0.1:PORT), MOTO_FRONT_LOG (one JSON object per request:
#       method, host, path, action, auth, key_id, token, status, code),
#       MOTO_CONNECT_TO (the front's HOST:443:ADDR entries), MOTO_SECRETS (every
#       secret the rig made, one a line: look for them in what mldeploy printed),
#       MOTO_DIR; appends MOTO_CONNECT_TO to MLDEPLOY_CONNECT_TO, sets
#       MLDEPLOY_CA_BUNDLE=$RIG_CA, and exports admin's keys as AWS_ACCESS_KEY_ID
#       and AWS_SECRET_ACCESS_KEY with AWS_REGION (the fakes started next use them).
#   moto_route HOST...              HOST:443 to the front too (a bucket's virtual host
#                                   BUCKET.s3.R.amazonaws.com: the certificate covers it)
#   moto_user NAME [POLICY_JSON]    a moto IAM user (allowed POLICY_JSON, default
#                                   nothing) and its key: prints "KEY_ID SECRET" and
#                                   adds the secret to MOTO_SECRETS
#   moto_count JQ_CONDITION         number of front log lines for which it holds, e.g.
#                                   moto_count '.action == "AssumeRole" and .status == 200'
#   moto_show                       the front's log, its and moto's stderr (last 40 lines)
#   aws_env [keys] [VAR=VALUE...]   the AWS environment of the next mldeploy runs: every
#                                   variable of the credential chain unset, then
#                                   AWS_REGION=$MOTO_REGION, AWS_EC2_METADATA_DISABLED=true
#                                   (no wait on 169.254.169.254); "keys": admin's keys
#                                   as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; then each
#                                   VAR=VALUE exported (VAR= unsets)
# EC2 instance metadata (IMDSv2) and the container credentials endpoint
# (tests/fakes/awsmeta.py; its docstring has the routes and the checks):
#   start_awsmeta [--container-token TOKEN] [--no-role]
#       plain HTTP on 127.0.0.1; the credentials it hands out are MOTO_ROLE_ARN's,
#       assumed in moto (start_moto first). Exports AWSMETA_URL (give it to mldeploy
#       as AWS_EC2_METADATA_SERVICE_ENDPOINT; the container endpoint is
#       $AWSMETA_URL/v2/credentials/ID, as AWS_CONTAINER_CREDENTIALS_FULL_URI),
#       AWSMETA_CONFIG (JSON, re-read on every request), AWSMETA_LOG, AWSMETA_PID;
#       what it hands out is added to MOTO_SECRETS.
#   awsmeta_count JQ_CONDITION      number of its log lines for which it holds, e.g.
#                                   awsmeta_count '.route == "imds_token" and .status == 200'
#   awsmeta_show                    its log and stderr (last 40 lines)
#
# Elastic Beanstalk (tests/fakes/elasticbeanstalk.py: the Query API 2010-12-01, every
# request checked against botocore's elasticbeanstalk model; it runs what it is given
# with podman; its docstring has the behaviour, the checks and the log format):
#   start_beanstalk --s3-endpoint URL [--app-port N] [--region R] [--account A]
#                   [--stacks JSON] [--health-s N] [--registry-route HOST=ADDR]...
#       HTTPS on 127.0.0.1 with the rig CA (SAN DNS:elasticbeanstalk.REGION.amazonaws.com),
#       in $T/beanstalk; podman as start_engine sets it up (podman_setup --driver
#       overlay unless podman is set up already). S3 (the source bundles, its bucket
#       elasticbeanstalk-REGION-ACCOUNT) and IAM (the instance profile) are reached at
#       URL (moto) with the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the caller's
#       environment, which are also the only key the fake accepts: the SigV4 header's
#       shape and scope are checked and the signature computed again with that secret
#       (SignatureDoesNotMatch otherwise). More keys: append "KEY_ID SECRET
#       [SESSION_TOKEN]" lines to $BEANSTALK_DIR/keys (re-read on every request).
#       Defaults: region us-east-1, account 123456789012, --health-s 60.
#       Appends elasticbeanstalk.REGION.amazonaws.com:443 and the CNAME
#       NAME.REGION.elasticbeanstalk.com:80 of each NAME in BEANSTALK_ENVIRONMENTS
#       (default "iris-env") -> 127.0.0.1:$BEANSTALK_APP_PORT to MLDEPLOY_CONNECT_TO and
#       sets MLDEPLOY_CA_BUNDLE=$RIG_CA (exported). Exports BEANSTALK_ADDR, BEANSTALK_PORT,
#       BEANSTALK_APP_PORT (where the first environment's CNAME is served),
#       BEANSTALK_LOG (one JSON line per request: action, method, status, code,
#       mutating, fault, auth), BEANSTALK_STATE (the environments: status, health,
#       version, app_port, container), BEANSTALK_RULES (fault rules, JSON list, starts
#       [], re-read on every request), BEANSTALK_DIR, BEANSTALK_PID, BEANSTALK_REGION,
#       BEANSTALK_ACCOUNT. --registry-route HOST=ADDR: podman's pulls of images named
#       HOST/... connect to ADDR through the fake's CONNECT proxy (TLS verified for HOST
#       with the rig CA); images on a rig registry (127.0.0.1:PORT/..., tls) need none.
#   beanstalk_rules 'JSON'          validate and swap in the fault rules (counts restart);
#                                   path_regex matches the Action, e.g.
#                                   '[{"path_regex": "^CreateEnvironment$", "action": "status",
#                                     "code": 403, "error_code": "AccessDenied"}]';
#                                   actions status, no_docker_stack, delay_ms
#   beanstalk_count ACTION_REGEX [STATUS]
#                                   number of requests whose Action matches (awk ERE),
#                                   e.g. beanstalk_count '^UpdateEnvironment$' 200
#   beanstalk_mutations             number of requests of actions that change something
#                                   (not Describe*/List*/Check*/Validate*): 0 after a
#                                   --dry-run or a no-op deploy
#   beanstalk_show                  the fake's request log and stderr (last 40 lines)
#
# Amazon ECR (tests/fakes/ecrfront.py; its docstring has the routes, the checks and
# the error bodies). moto is ECR's control plane, a rig registry its data plane:
#   start_ecr_front REGNAME [ACCOUNT]
#       ACCOUNT.dkr.ecr.us-east-1.amazonaws.com (ACCOUNT default 123456789012,
#       moto's) fronts rig registry REGNAME (plain HTTP, no auth: the front checks
#       the logins) and api.ecr.us-east-1.amazonaws.com relays to moto (MOTO_URL),
#       over TLS with the rig CA. The front asks moto with the AWS keys exported at
#       the time (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Appends both hosts
#       (port 443) to MLDEPLOY_CONNECT_TO, sets MLDEPLOY_CA_BUNDLE=$RIG_CA and
#       AWS_ENDPOINT_URL_ECR=https://api.ecr.us-east-1.amazonaws.com (exported).
#       Exports ECR_HOST (the registry host), ECR_ACCOUNT, ECR_ADDR (127.0.0.1:PORT),
#       ECR_CONFIG (re-read on every request: token_life is the seconds until the
#       expiresAt of the tokens issued), ECR_LOG (one JSON object per request),
#       ECR_SECRETS (every authorization token and password issued, one a line).
#   ecr_count JQ_CONDITION          number of log lines for which the condition holds,
#                                   e.g. ecr_count '.target == "GetAuthorizationToken"'
#   ecr_show                        the front's log and stderr (last 40 lines)
#   ecr_create_repository NAME      CreateRepository NAME in moto (as the exported keys)
#   ecr_repository NAME             moto's DescribeRepositories entry of NAME (JSON);
#                                   status 1 when there is none

if [ -n "${RIG_LIB_AWS_LOADED:-}" ]; then
	return 0
fi
RIG_LIB_AWS_LOADED=1

# ---------------------------------------------------------------- moto

start_moto() {
	local dir="$T/moto" region=us-east-1 port host hosts connect=''
	while [ "$#" -gt 0 ]; do
		[ "$#" -ge 2 ] || fail "start_moto: $1 needs a value"
		case $1 in
		--region) region=$2 ;;
		*) fail "start_moto: unknown option '$1'" ;;
		esac
		shift 2
	done
	[ ! -e "$dir" ] || fail "start_moto: already started"
	python3 -c 'import moto.server, boto3' 2>/dev/null ||
		fail "start_moto: python3 has no moto and boto3 (the pyenv python3 has them)"
	mkdir -p "$dir"
	: >"$dir/secrets"
	chmod 0600 "$dir/secrets"
	port=$(free_port)
	# the AWS managed policies (AWSElasticBeanstalkWebTier ...) exist, as in IAM
	spawn "$dir/moto.out" "$dir/moto.err" env MOTO_IAM_LOAD_MANAGED_POLICIES=true \
		python3 -m moto.server -H 127.0.0.1 -p "$port"
	export MOTO_PID=$SPAWNED_PID MOTO_URL="http://127.0.0.1:$port" MOTO_DIR="$dir"
	export MOTO_REGION=$region MOTO_ACCOUNT=123456789012 MOTO_SECRETS="$dir/secrets"
	if ! wait_for 30 curl -sf "$MOTO_URL/moto-api/"; then
		_rig_show "moto stderr" "$dir/moto.err"
		fail "moto did not start"
	fi
	# Before reset-auth moto takes any key: the first user is made that way.
	python3 "$SRCDIR/tests/fakes/motosetup.py" "$MOTO_URL" >"$dir/keys" 2>"$dir/setup.err" ||
		fail "start_moto: cannot create moto's admin user and role: $(cat "$dir/setup.err")"
	read -r MOTO_ACCESS_KEY_ID MOTO_SECRET_ACCESS_KEY MOTO_ROLE_ARN <"$dir/keys"
	export MOTO_ACCESS_KEY_ID MOTO_SECRET_ACCESS_KEY MOTO_ROLE_ARN
	printf '%s\n' "$MOTO_SECRET_ACCESS_KEY" >>"$MOTO_SECRETS"
	curl -sf -X POST -H "Content-Type: text/plain" --data 0 "$MOTO_URL/moto-api/reset-auth" \
		>/dev/null ||
		fail "start_moto: moto refused reset-auth"
	hosts="sts.amazonaws.com sts.$region.amazonaws.com iam.amazonaws.com s3.amazonaws.com s3.$region.amazonaws.com"
	# shellcheck disable=SC2086 # the host names are words
	rig_server_cert "$dir/tls" $hosts "*.s3.amazonaws.com" "*.s3.$region.amazonaws.com"
	: >"$dir/front.log"
	spawn_fake "$dir/front.port" "$dir/front.err" "moto's TLS front" \
		python3 "$SRCDIR/tests/fakes/motofront.py" --moto "$MOTO_URL" --log "$dir/front.log" \
		--keys "$dir/keys" \
		--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key"
	export MOTO_FRONT_ADDR="127.0.0.1:$SPAWNED_PORT" MOTO_FRONT_LOG="$dir/front.log"
	for host in $hosts; do
		connect="${connect:+$connect,}$host:443:$MOTO_FRONT_ADDR"
	done
	export MOTO_CONNECT_TO=$connect
	export MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}$connect"
	export MLDEPLOY_CA_BUNDLE="$RIG_CA"
	export AWS_ACCESS_KEY_ID=$MOTO_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$MOTO_SECRET_ACCESS_KEY
	export AWS_REGION=$region
}

moto_route() {
	[ -n "${MOTO_FRONT_ADDR:-}" ] || fail "moto_route: moto is not started (start_moto)"
	local host
	for host in "$@"; do
		MOTO_CONNECT_TO="$MOTO_CONNECT_TO,$host:443:$MOTO_FRONT_ADDR"
		MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}$host:443:$MOTO_FRONT_ADDR"
	done
	export MOTO_CONNECT_TO MLDEPLOY_CONNECT_TO
}

moto_user() {
	case $# in
	1 | 2) ;;
	*) fail "moto_user: usage: moto_user NAME [POLICY_JSON]" ;;
	esac
	[ -n "${MOTO_URL:-}" ] || fail "moto_user: moto is not started (start_moto)"
	local line
	line=$(python3 "$SRCDIR/tests/fakes/motosetup.py" --user "$1" --policy "${2:-}" "$MOTO_URL") ||
		fail "moto_user: cannot create user '$1'"
	printf '%s\n' "${line#* }" >>"$MOTO_SECRETS"
	printf '%s\n' "$line"
}

moto_count() {
	[ "$#" = 1 ] || fail "moto_count: usage: moto_count JQ_CONDITION"
	[ -n "${MOTO_FRONT_LOG:-}" ] || fail "moto_count: moto is not started (start_moto)"
	jq -c "select($1)" "$MOTO_FRONT_LOG" | wc -l
}

moto_show() {
	[ -z "${MOTO_FRONT_LOG:-}" ] || _rig_show "moto front requests" "$MOTO_FRONT_LOG"
	[ -z "${MOTO_DIR:-}" ] || _rig_show "moto front stderr" "$MOTO_DIR/front.err"
	[ -z "${MOTO_DIR:-}" ] || _rig_show "moto stderr" "$MOTO_DIR/moto.err"
}

aws_env() {
	local var
	for var in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
		AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_CONFIG_FILE \
		AWS_SHARED_CREDENTIALS_FILE AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN \
		AWS_ROLE_SESSION_NAME AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
		AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN \
		AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE AWS_EC2_METADATA_SERVICE_ENDPOINT \
		AWS_EC2_METADATA_DISABLED; do
		unset "$var"
	done
	export AWS_REGION=${MOTO_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
	if [ "${1:-}" = keys ]; then
		[ -n "${MOTO_ACCESS_KEY_ID:-}" ] || fail "aws_env: moto is not started (start_moto)"
		export AWS_ACCESS_KEY_ID=$MOTO_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$MOTO_SECRET_ACCESS_KEY
		shift
	fi
	for var in "$@"; do
		case $var in
		[A-Z]*=?*) export "${var?}" ;;
		[A-Z]*=) unset "${var%=}" ;;
		*) fail "aws_env: '$var' is not VAR=VALUE" ;;
		esac
	done
}

# ---------------------------------------------------------------- IMDS, container endpoint

start_awsmeta() {
	local dir="$T/awsmeta" token=null role='"mldeploy-test"'
	while [ "$#" -gt 0 ]; do
		case $1 in
		--container-token)
			[ "$#" -ge 2 ] || fail "start_awsmeta: --container-token needs a value"
			token=$(jq -n --arg t "$2" '$t')
			shift ;;
		--no-role) role=null ;;
		*) fail "start_awsmeta: unknown option '$1'" ;;
		esac
		shift
	done
	[ -n "${MOTO_URL:-}" ] || fail "start_awsmeta: moto is not started (start_moto)"
	[ ! -e "$dir" ] || fail "start_awsmeta: already started"
	mkdir -p "$dir"
	export AWSMETA_CONFIG="$dir/config.json" AWSMETA_LOG="$dir/requests.log"
	jq -n --arg moto "$MOTO_URL" --arg id "$MOTO_ACCESS_KEY_ID" \
		--arg secret "$MOTO_SECRET_ACCESS_KEY" --arg role "$MOTO_ROLE_ARN" \
		--arg secrets "$MOTO_SECRETS" --argjson token "$token" --argjson name "$role" \
		'{moto: $moto, access_key_id: $id, secret_access_key: $secret, role_arn: $role,
		  role_name: $name, container_token: $token, secrets_file: $secrets}' \
		>"$AWSMETA_CONFIG" || fail "start_awsmeta: cannot write $AWSMETA_CONFIG"
	chmod 0600 "$AWSMETA_CONFIG"
	: >"$AWSMETA_LOG"
	spawn_fake "$dir/port" "$dir/err" "fake IMDS and container endpoint" \
		python3 "$SRCDIR/tests/fakes/awsmeta.py" --config "$AWSMETA_CONFIG" --log "$AWSMETA_LOG"
	export AWSMETA_PID=$SPAWNED_PID AWSMETA_URL="http://127.0.0.1:$SPAWNED_PORT"
}

awsmeta_count() {
	[ "$#" = 1 ] || fail "awsmeta_count: usage: awsmeta_count JQ_CONDITION"
	[ -n "${AWSMETA_LOG:-}" ] || fail "awsmeta_count: start_awsmeta first"
	jq -c "select($1)" "$AWSMETA_LOG" | wc -l
}

awsmeta_show() {
	[ -z "${AWSMETA_LOG:-}" ] || _rig_show "fake IMDS requests" "$AWSMETA_LOG"
	[ -z "${AWSMETA_LOG:-}" ] || _rig_show "fake IMDS stderr" "$T/awsmeta/err"
}

# ---------------------------------------------------------------- Elastic Beanstalk

start_beanstalk() {
	local dir="$T/beanstalk" s3='' app_port='' region=us-east-1 account=123456789012
	local args=() routes=() name connect
	while [ "$#" -gt 0 ]; do
		[ "$#" -ge 2 ] || fail "start_beanstalk: $1 needs a value"
		case $1 in
		--s3-endpoint) s3=$2 ;;
		--app-port) app_port=$2 ;;
		--region) region=$2 ;;
		--account) account=$2 ;;
		--stacks | --health-s) args+=("$1" "$2") ;;
		--registry-route)
			case $2 in
			?*=?*) routes+=("$2") ;;
			*) fail "start_beanstalk: --registry-route takes HOST=ADDR, not '$2'" ;;
			esac ;;
		*) fail "start_beanstalk: unknown option '$1'" ;;
		esac
		shift 2
	done
	[ -n "$s3" ] || fail "start_beanstalk: --s3-endpoint URL (moto) is required"
	[ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${AWS_SECRET_ACCESS_KEY:-}" ] ||
		fail "start_beanstalk: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (the rig's keys)"
	[ ! -e "$dir" ] || fail "start_beanstalk: already started"
	python3 -c 'import botocore, boto3' 2>/dev/null ||
		fail "start_beanstalk: python3 has no botocore and boto3 (the pyenv python3 has them)"
	[ "${CONTAINERS_CONF:-}" = "$T/podman/containers.conf" ] || podman_setup --driver overlay
	[ -n "$app_port" ] || app_port=$(free_port)
	mkdir -p "$dir/work"
	rig_server_cert "$dir/tls" "elasticbeanstalk.$region.amazonaws.com"
	: >"$dir/requests.log"
	printf '[]\n' >"$dir/rules.json"
	(umask 077 && printf '%s %s %s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" \
		"${AWS_SESSION_TOKEN:-}" >"$dir/keys")
	printf '%s\n' "${routes[@]}" >"$dir/registry-routes"
	spawn_fake "$dir/port" "$dir/elasticbeanstalk.err" "fake Elastic Beanstalk" \
		python3 "$SRCDIR/tests/fakes/elasticbeanstalk.py" \
		--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key" \
		--log "$dir/requests.log" --state "$dir/state.json" --rules "$dir/rules.json" \
		--keys "$dir/keys" --s3-endpoint "$s3" --region "$region" --account "$account" \
		--app-port "$app_port" --work-dir "$dir/work" --registry-cert-dir "$RIG_CA_DIR" \
		--registry-routes "$dir/registry-routes" "${args[@]}"
	export BEANSTALK_PID=$SPAWNED_PID BEANSTALK_PORT=$SPAWNED_PORT
	export BEANSTALK_ADDR=127.0.0.1:$SPAWNED_PORT BEANSTALK_DIR="$dir"
	export BEANSTALK_LOG="$dir/requests.log" BEANSTALK_STATE="$dir/state.json"
	export BEANSTALK_RULES="$dir/rules.json" BEANSTALK_APP_PORT=$app_port
	export BEANSTALK_REGION=$region BEANSTALK_ACCOUNT=$account
	connect="elasticbeanstalk.$region.amazonaws.com:443:127.0.0.1:$SPAWNED_PORT"
	for name in ${BEANSTALK_ENVIRONMENTS:-iris-env}; do
		connect="$connect,$name.$region.elasticbeanstalk.com:80:127.0.0.1:$app_port"
	done
	export MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}$connect"
	export MLDEPLOY_CA_BUNDLE=$RIG_CA
}

# beanstalk_rules JSON: validated, then swapped in whole (rename), so the fake never
# reads half a file and every rule's count starts again.
beanstalk_rules() {
	[ "$#" = 1 ] || fail "beanstalk_rules: usage: beanstalk_rules 'JSON'"
	[ -n "${BEANSTALK_RULES:-}" ] || fail "beanstalk_rules: no fake Elastic Beanstalk (start_beanstalk first)"
	printf '%s\n' "$1" >"$BEANSTALK_RULES.new"
	if ! python3 "$SRCDIR/tests/fakes/elasticbeanstalk.py" --check-rules "$BEANSTALK_RULES.new" \
		2>"$BEANSTALK_RULES.err"; then
		fail "beanstalk_rules: $(cat "$BEANSTALK_RULES.err")"
	fi
	mv -f "$BEANSTALK_RULES.new" "$BEANSTALK_RULES"
}

beanstalk_count() {
	case $# in
	1 | 2) ;;
	*) fail "beanstalk_count: usage: beanstalk_count ACTION_REGEX [STATUS]" ;;
	esac
	[ -n "${BEANSTALK_LOG:-}" ] || fail "beanstalk_count: no fake Elastic Beanstalk (start_beanstalk first)"
	jq -r '[(.action // "-"), (.status | tostring)] | @tsv' "$BEANSTALK_LOG" |
		awk -F'\t' -v re="$1" -v st="${2:-}" '
			$1 ~ re && (st == "" || $2 == st) { n++ }
			END { print n + 0 }'
}

beanstalk_mutations() {
	[ -n "${BEANSTALK_LOG:-}" ] || fail "beanstalk_mutations: no fake Elastic Beanstalk (start_beanstalk first)"
	jq -r 'select(.mutating) | .action' "$BEANSTALK_LOG" | awk 'END { print NR + 0 }'
}

beanstalk_show() {
	[ -z "${BEANSTALK_LOG:-}" ] || _rig_show "fake Elastic Beanstalk requests" "$BEANSTALK_LOG"
	[ -z "${BEANSTALK_DIR:-}" ] || _rig_show "fake Elastic Beanstalk stderr" "$BEANSTALK_DIR/elasticbeanstalk.err"
}

# ---------------------------------------------------------------- ECR

start_ecr_front() {
	[ "$#" -ge 1 ] || fail "start_ecr_front: usage: start_ecr_front REGNAME [ACCOUNT]"
	local reg=$1 account=${2:-123456789012} dir="$T/ecr" var
	var="REG_${1^^}_URL"
	[ -n "${!var:-}" ] || fail "start_ecr_front: no registry '$reg'"
	[ -n "${MOTO_URL:-}" ] || fail "start_ecr_front: moto is not started (start_moto)"
	[ ! -e "$dir" ] || fail "start_ecr_front: already started"
	mkdir -p "$dir"
	export ECR_ACCOUNT=$account ECR_HOST="$account.dkr.ecr.us-east-1.amazonaws.com"
	export ECR_CONFIG="$dir/config.json" ECR_LOG="$dir/requests.log" ECR_SECRETS="$dir/secrets"
	: >"$ECR_SECRETS"
	rig_server_cert "$dir/tls" api.ecr.us-east-1.amazonaws.com "$ECR_HOST"
	jq -n --arg moto "$MOTO_URL" --arg registry "${!var}" --arg account "$account" \
		--arg id "$AWS_ACCESS_KEY_ID" --arg secret "$AWS_SECRET_ACCESS_KEY" \
		--arg secrets "$ECR_SECRETS" \
		'{moto: $moto, registry: $registry, region: "us-east-1", accounts: [$account],
		  token_life: 43200, access_key_id: $id, secret_access_key: $secret,
		  secrets_file: $secrets}' >"$ECR_CONFIG" ||
		fail "start_ecr_front: cannot write $ECR_CONFIG"
	chmod 0600 "$ECR_CONFIG"
	spawn_fake "$dir/port" "$dir/err" "ECR front" python3 "$SRCDIR/tests/fakes/ecrfront.py" \
		--config "$ECR_CONFIG" --log "$ECR_LOG" \
		--tls-cert "$dir/tls/server.crt" --tls-key "$dir/tls/server.key"
	export ECR_ADDR="127.0.0.1:$SPAWNED_PORT"
	export MLDEPLOY_CONNECT_TO="${MLDEPLOY_CONNECT_TO:+$MLDEPLOY_CONNECT_TO,}api.ecr.us-east-1.amazonaws.com:443:$ECR_ADDR,$ECR_HOST:443:$ECR_ADDR"
	export MLDEPLOY_CA_BUNDLE="$RIG_CA"
	export AWS_ENDPOINT_URL_ECR=https://api.ecr.us-east-1.amazonaws.com
}

ecr_count() {
	[ "$#" = 1 ] || fail "ecr_count: usage: ecr_count JQ_CONDITION"
	[ -n "${ECR_LOG:-}" ] || fail "ecr_count: the ECR front is not started"
	jq -c "select($1)" "$ECR_LOG" | wc -l
}

ecr_show() {
	[ -z "${ECR_LOG:-}" ] || _rig_show "ECR front requests" "$ECR_LOG"
	[ -z "${ECR_LOG:-}" ] || _rig_show "ECR front stderr" "$T/ecr/err"
}

# _rig_ecr_api OPERATION JSON: the ECR API straight at moto, as the exported keys.
_rig_ecr_api() {
	python3 - "$1" "$2" <<'EOF'
import json, os, sys
import boto3
ecr = boto3.client("ecr", endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1")
op = {"CreateRepository": "create_repository",
      "DescribeRepositories": "describe_repositories"}[sys.argv[1]]
out = getattr(ecr, op)(**json.loads(sys.argv[2]))
out.pop("ResponseMetadata", None)
print(json.dumps(out, default=str))
EOF
}

ecr_create_repository() {
	[ "$#" = 1 ] || fail "ecr_create_repository: usage: ecr_create_repository NAME"
	_rig_ecr_api CreateRepository "$(jq -n --arg n "$1" '{repositoryName: $n}')" >/dev/null ||
		fail "ecr_create_repository: cannot create '$1' in moto"
}

ecr_repository() {
	[ "$#" = 1 ] || fail "ecr_repository: usage: ecr_repository NAME"
	_rig_ecr_api DescribeRepositories "$(jq -n --arg n "$1" '{repositoryNames: [$n]}')" \
		2>/dev/null | jq -e '.repositories[0]'
}
