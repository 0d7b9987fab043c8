#!/usr/bin/env bash
# bench/deploy-gcp.sh — the deploy benchmark's Google case: `mldeploy deploy
# --provider gcp` of the bundled example on the end-to-end rig's fakes (Google's
# token endpoint with a service account key, Artifact Registry's API and its
# us-east1-docker.pkg.dev front of a real registry, Cloud Run and App Engine
# flexible each running what they are given with podman), for each target (Cloud
# Run, then App Engine): a deploy with no change (everything live) and a one-file
# code change, best of BENCH_REPEAT each, with the requests made to each service
# and the blobs and bytes uploaded. Goal: the no-change deploy under 1 s of mldeploy's own
# time, 0 bytes uploaded. Run by bench/deploy.sh (BENCH_GCP=0 skips it), or alone:
#   MLDEPLOY=$PWD/mldeploy bench/deploy-gcp.sh
# See bench/README.md, "Deploy benchmark". Environment: MLDEPLOY, BENCH_REPEAT
# (default 3), BENCH_TIMEOUT (default 300), BENCH_DIR (results file, default
# /tmp/mldeploy-bench), E2E_KEEP=1 (keep the rig's directory).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MLDEPLOY=$(realpath "${MLDEPLOY:-$here/../mldeploy}")
export MLDEPLOY
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
BENCH_DIR=${BENCH_DIR:-/tmp/mldeploy-bench}
NOOP_OWN_TARGET_S=1
# the rig (lib.sh: $T, isolation, every server stopped at exit), then measure
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
. "$here/../tests/e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib-gcp.sh
. "$here/../tests/e2e/lib-gcp.sh"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
R=$T/bench
mkdir -p "$R" "$BENCH_DIR"

export GOOGLE_CLOUD_PROJECT=ml-bench
start_gcp_rig ml
# each platform fake takes every other :443 host (its apps' URLs): each target's
# commands get the connect-to list of its own fake
BASE_CONNECT=$MLDEPLOY_CONNECT_TO
start_cloud_run --registry-route "us-east1-docker.pkg.dev=$AR_ADDR"
RUN_CONNECT=$MLDEPLOY_CONNECT_TO
export MLDEPLOY_CONNECT_TO=$BASE_CONNECT
start_app_engine --project "$GOOGLE_CLOUD_PROJECT" --registry-route "us-east1-docker.pkg.dev=$AR_ADDR"
GAE_CONNECT=$MLDEPLOY_CONNECT_TO
export MLDEPLOY_CONNECT_TO=$RUN_CONNECT
GAE_HOST=$GOOGLE_CLOUD_PROJECT.$GAE_REGION_CODE.r.appspot.com
export MLDEPLOY_EXAMPLE_REPOSITORY=$GCP_IMAGE_REPO/iris

# scripts/example.sh's environment (the stand-in base and the wheels, served on
# 127.0.0.1), handed over by a stand-in binary that holds the script until the end
cat >"$R/hold.sh" <<EOF
#!/bin/sh
export -p | grep ' MLDEPLOY_' | grep -v ' MLDEPLOY_EXAMPLE_OFFLINE=' >"$R/example.env.tmp"
mv "$R/example.env.tmp" "$R/example.env"
while [ ! -e "$R/example.release" ]; do sleep 0.2; done
EOF
chmod 0755 "$R/hold.sh"
at_exit touch "$R/example.release"
MLDEPLOY=$R/hold.sh MLDEPLOY_EXAMPLE_OFFLINE=1 XDG_CACHE_HOME=$RIG_USER_CACHE \
	spawn "$R/example.out" "$R/example.err" "$SRCDIR/scripts/example.sh"
wait_for 600 test -e "$R/example.env" || { _rig_show example.sh "$R/example.err"; fail "scripts/example.sh set nothing up"; }
# shellcheck source=/dev/null
. "$R/example.env"

PROJ=$T/proj
CONF=$PROJ/deploy.example.yaml
APP=$PROJ/templates/iris-flask/app/app.py
mkdir -p "$PROJ/templates"
cp "$SRCDIR/deploy.example.yaml" "$PROJ/"
cp -r "$SRCDIR/templates/iris-flask" "$PROJ/templates/"
rm -rf "$PROJ/templates/iris-flask/app/__pycache__"
cp "$APP" "$R/app.py.orig"
VERSION=0
set_version() {
	VERSION=$((VERSION + 1))
	sed "s/return jsonify(predictions=/return jsonify(version=\"bench-$VERSION\", predictions=/" \
		"$R/app.py.orig" >"$APP"
}
no_change() { :; }
ML_DEPLOY=("$MLDEPLOY" -C "$PROJ" -f "$CONF" --no-progress --json deploy --provider gcp)
GAE_DEPLOY=(env MLDEPLOY_CONNECT_TO="$GAE_CONNECT" "${ML_DEPLOY[@]}" --target appengine)

# What each repetition asked of the fakes, from their logs ($R/NAME.trace: JSON).
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
measure_before() {
	N_RUN=$(lines "$CLOUDRUN_LOG") N_AUTH=$(lines "$GAUTH_LOG") N_AR=$(lines "$AR_LOG")
	N_REG=$(lines "$REG_GAR_ACCESSLOG") N_GAE=$(lines "$GAE_LOG")
}
# the sizes of the blobs whose upload completed in these access-log lines
# shellcheck disable=SC2153 # start_registry exports REG_GAR_DIR
blob_bytes() {
	grep -oE '"PUT /v2/[^ ]*/blobs/uploads/[^ ]*digest=sha256(%3A|%3a|:)[0-9a-f]{64}[^"]*" 201' |
		sed -E 's/.*digest=sha256(%3A|%3a|:)([0-9a-f]{64}).*/\2/' | while read -r d; do
			stat -c %s "$REG_GAR_DIR/storage/docker/registry/v2/blobs/sha256/${d:0:2}/$d/data"
		done | awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }'
}
measure_after() {
	local blobs bytes
	read -r blobs bytes < <(tail -n +"$((N_REG + 1))" "$REG_GAR_ACCESSLOG" | blob_bytes)
	jq -n --argjson run "$(tail -n +"$((N_RUN + 1))" "$CLOUDRUN_LOG" | jq -s '[.[] | select(.kind == "api")]')" \
		--argjson gae "$(tail -n +"$((N_GAE + 1))" "$GAE_LOG" | jq -s '.')" \
		--argjson auth "$(($(lines "$GAUTH_LOG") - N_AUTH))" \
		--argjson ar "$(tail -n +"$((N_AR + 1))" "$AR_LOG" | jq -s '.')" \
		--argjson reg "$(($(lines "$REG_GAR_ACCESSLOG") - N_REG))" \
		--argjson blobs "$blobs" --argjson bytes "$bytes" \
		'{cloudrun: ($run | length), cloudrun_mutations: ([$run[] | select(.mutating)] | length),
		  appengine: ($gae | length), appengine_mutations: ([$gae[] | select(.mutating)] | length),
		  token: $auth, artifactregistry_api: ([$ar[] | select(.route == "api")] | length),
		  registry: ([$ar[] | select(.route != "api")] | length), registry_upstream: $reg,
		  blobs_uploaded: $blobs, bytes_uploaded: $bytes}' >"$R/$1.trace"
	cp "$R/$1.out" "$R/$1.$2.out"
	cp "$R/$1.trace" "$R/$1.$2.trace"
}

echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); mldeploy $("$MLDEPLOY" --version 2>&1 | head -n 1)"
echo "rig: the e2e fakes (tests/fakes/googleauth.py, artifactregistry.py, cloudrun.py, appengine.py) over TLS on 127.0.0.1"
# first TARGET_CMD...: the first deploy of a target (not timed)
first() {
	local name=$1
	shift
	run_ok "$@"
	cp "$T/out" "$R/$name.first.out"
	echo "$name: first deploy (not timed): $(jq -r '"\(.revision) at \(.url), \(.timings | .build_s + .push_s + .platform_s + .health_s | . * 100 | floor / 100) s"' "$R/$name.first.out")"
}
declare -A LABEL=([noop]="Cloud Run, no change" [change]="Cloud Run, 1 app file changed"
	[gae_noop]="App Engine, no change" [gae_change]="App Engine, 1 app file changed")
ROWS=(noop change gae_noop gae_change)
set_version
first cloudrun "${ML_DEPLOY[@]}"
URL=$(jq -r .url "$R/cloudrun.first.out")
echo
echo "measuring (best of $BENCH_REPEAT):"
for n in noop change; do
	printf '  %-40s' "${LABEL[$n]}..."
	if [ "$n" = noop ]; then
		measure noop "$PROJ" no_change "${ML_DEPLOY[@]}"
	else
		measure change "$PROJ" set_version "${ML_DEPLOY[@]}"
	fi
	printf ' %7.2f s\n' "${WALL_HR[$n]}"
done
FEATURES='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
SERVED=$(cloudrun_curl "$URL/predict" -H 'Content-Type: application/json' -d "$FEATURES" |
	jq -r '.version // "none"')
RUN_VERSION=$VERSION
echo
first appengine "${GAE_DEPLOY[@]}"
echo
echo "measuring (best of $BENCH_REPEAT):"
for n in gae_noop gae_change; do
	printf '  %-40s' "${LABEL[$n]}..."
	if [ "$n" = gae_noop ]; then
		measure gae_noop "$PROJ" no_change "${GAE_DEPLOY[@]}"
	else
		measure gae_change "$PROJ" set_version "${GAE_DEPLOY[@]}"
	fi
	printf ' %7.2f s\n' "${WALL_HR[$n]}"
done
GAE_SERVED=$(gae_curl "https://$GAE_HOST/predict" -H 'Content-Type: application/json' \
	-d "$FEATURES" | jq -r '.version // "none"')
echo

all_reps() { # NAME JQ_FILTER over (.out + {trace})
	local i
	for ((i = 0; i < BENCH_REPEAT; i++)); do
		[ "$(jq -r --slurpfile t "$R/$1.$i.trace" ". + {trace: \$t[0]} | $2" "$R/$1.$i.out")" = true ] ||
			{ echo "repetition $((i + 1)): $(jq -c . "$R/$1.$i.out" "$R/$1.$i.trace")"; return 1; }
	done
}
same() { [ "$1" = "$2" ] || { echo "'$1' != '$2'"; return 1; }; }
echo "correctness (not timed):"
for t in "" gae_; do
	if [ -z "$t" ]; then
		what="Cloud Run" api=cloudrun
	else
		what="App Engine" api=appengine
	fi
	check "$what, no change: changed false, healthy, every repetition" all_reps "${t}noop" '.changed == false and .health.ok'
	check "$what, no change: no mutating $what call, no blob uploaded" \
		all_reps "${t}noop" ".trace.${api}_mutations == 0 and .trace.blobs_uploaded == 0 and .trace.bytes_uploaded == 0"
	check "$what, no change: api_calls in --json = the $what and Artifact Registry calls the fakes saw" \
		all_reps "${t}noop" ".api_calls == .trace.$api + .trace.artifactregistry_api"
	check "$what: one token request per deploy" all_reps "${t}noop" '.trace.token == 1'
	check "$what, code change: changed, healthy, a new digest, every repetition" \
		all_reps "${t}change" '.changed and .health.ok and .digest != .previous_digest'
	check "$what, code change: blobs uploaded (the app layer, the config, not the base)" \
		all_reps "${t}change" '.trace.blobs_uploaded >= 1 and .trace.blobs_uploaded <= 3'
done
check "Cloud Run, code change: /predict serves its last change (bench-$RUN_VERSION)" same "$SERVED" "bench-$RUN_VERSION"
check "App Engine, code change: /predict serves the last change (bench-$VERSION)" same "$GAE_SERVED" "bench-$VERSION"
echo

echo "results (fastest repetition): wall = EPOCHREALTIME around the command; cpu = its user +"
echo "  system time; build = timings.build_s + push_s; platform = timings.platform_s (the"
echo "  platform's calls and the waits for their operations); health = timings.health_s;"
echo "  own = wall - platform - health; api/mut = Cloud Run or App Engine API requests /"
echo "  mutating ones; tok = token endpoint requests; ar = Artifact Registry API requests;"
echo "  reg = registry requests through the docker.pkg.dev front; up = blobs uploaded, KiB ="
echo "  their bytes"
printf '%-36s %7s %6s %6s %8s %6s %6s %4s %4s %4s %4s %4s %3s %8s\n' command "wall s" "cpu s" build platform health "own s" api mut tok ar reg up KiB
for n in "${ROWS[@]}"; do
	jq -r --slurpfile t "$R/$n.best.trace" --arg what "${LABEL[$n]}" --argjson wall "${WALL_HR[$n]}" \
		--argjson cpu "${CPU[$n]}" '.timings as $m | $t[0] as $t |
		[$what, $wall, $cpu, ($m.build_s + $m.push_s), $m.platform_s, $m.health_s,
		 ($wall - $m.platform_s - $m.health_s), $t.cloudrun + $t.appengine,
		 $t.cloudrun_mutations + $t.appengine_mutations, $t.token,
		 $t.artifactregistry_api, $t.registry, $t.blobs_uploaded, ($t.bytes_uploaded / 1024)] | @tsv' \
		"$R/$n.best.out" |
		awk -F'\t' '{ printf "%-36s %7.3f %6.2f %6.2f %8.2f %6.2f %6.3f %4d %4d %4d %4d %4d %3d %8.1f\n",
			$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }'
done
echo "targets:"
for n in noop gae_noop; do
	NOOP_OWN=$(jq -r --argjson w "${WALL_HR[$n]}" '$w - .timings.platform_s - .timings.health_s' "$R/$n.best.out")
	NOOP_BYTES=$(jq -r .bytes_uploaded "$R/$n.best.trace")
	echo "  ${LABEL[$n]}, own time: $(calc "$NOOP_OWN" %.3f) s vs $NOOP_OWN_TARGET_S s: $([ "$(calc "$NOOP_OWN <= $NOOP_OWN_TARGET_S ? 1 : 0" %d)" = 1 ] && echo "meets target" || echo "MISSES target"); $NOOP_BYTES bytes uploaded (wall ${WALL_HR[$n]} s)"
done
for n in "${ROWS[@]}"; do
	jq -n --arg name "$n" --arg what "${LABEL[$n]}" --argjson wall "${WALL_HR[$n]}" \
		--argjson cpu "${CPU[$n]}" --argjson rss "${RSS[$n]}" --slurpfile out "$R/$n.best.out" \
		--slurpfile trace "$R/$n.best.trace" \
		'{name: $name, command: $what, wall_s: $wall, cpu_s: $cpu, peak_rss_kib: $rss,
		  requests: $trace[0], output: $out[0]}'
done | jq -s --argjson fails "$FAILS" --argjson repeat "$BENCH_REPEAT" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	'{date: $date, provider: "gcp (fakes)", repeat: $repeat, correctness_failures: $fails,
	  results: .}' >"$BENCH_DIR/deploy-gcp-results.json"
echo "results also written to $BENCH_DIR/deploy-gcp-results.json"
[ "$FAILS" = 0 ] || fail "$FAILS correctness check(s) failed in the Google deploy benchmark"
