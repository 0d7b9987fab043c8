#!/usr/bin/env bash
# bench/deploy-gcp.sh — the deploy benchmark's Google case: `mldeploy deploy
# --provider gcp` of the bundled example on the end-to-end rig's fakes (Google's
# token endpoint with a service account key, Artifact Registry's API and its
# us-east1-docker.pkg.dev front of a real registry, Cloud Run running each revision
# with podman): a deploy with no change (everything live) and a one-file code
# change, best of BENCH_REPEAT each, with the requests made to each service and the
# blobs and bytes uploaded. Goal: the no-change deploy under 1 s of mldeploy's own
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
start_cloud_run --registry-route "us-east1-docker.pkg.dev=$AR_ADDR"
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

# What each repetition asked of the fakes, from their logs ($R/NAME.trace: JSON).
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
measure_before() {
	N_RUN=$(lines "$CLOUDRUN_LOG") N_AUTH=$(lines "$GAUTH_LOG") N_AR=$(lines "$AR_LOG")
	N_REG=$(lines "$REG_GAR_ACCESSLOG")
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
		--argjson auth "$(($(lines "$GAUTH_LOG") - N_AUTH))" \
		--argjson ar "$(tail -n +"$((N_AR + 1))" "$AR_LOG" | jq -s '.')" \
		--argjson reg "$(($(lines "$REG_GAR_ACCESSLOG") - N_REG))" \
		--argjson blobs "$blobs" --argjson bytes "$bytes" \
		'{cloudrun: ($run | length), cloudrun_mutations: ([$run[] | select(.mutating)] | length),
		  token: $auth, artifactregistry_api: ([$ar[] | select(.route == "api")] | length),
		  registry: ([$ar[] | select(.route != "api")] | length), registry_upstream: $reg,
		  blobs_uploaded: $blobs, bytes_uploaded: $bytes}' >"$R/$1.trace"
	cp "$R/$1.out" "$R/$1.$2.out"
	cp "$R/$1.trace" "$R/$1.$2.trace"
}

echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); mldeploy $("$MLDEPLOY" --version 2>&1 | head -n 1)"
echo "rig: the e2e fakes (tests/fakes/googleauth.py, artifactregistry.py, cloudrun.py) over TLS on 127.0.0.1"
set_version
run_ok "${ML_DEPLOY[@]}"
cp "$T/out" "$R/first.out"
URL=$(jq -r .url "$R/first.out")
echo "first deploy (not timed): $(jq -r '"\(.revision) at \(.url), \(.timings | .build_s + .push_s + .platform_s + .health_s | . * 100 | floor / 100) s"' "$R/first.out")"
echo
echo "measuring (best of $BENCH_REPEAT):"
declare -A LABEL=([noop]="mldeploy deploy, no change" [change]="mldeploy deploy, 1 app file changed")
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
check "no change: changed false, healthy, every repetition" all_reps noop '.changed == false and .health.ok'
check "no change: no mutating Cloud Run call, no blob uploaded" \
	all_reps noop '.trace.cloudrun_mutations == 0 and .trace.blobs_uploaded == 0 and .trace.bytes_uploaded == 0'
check "no change: api_calls in --json = the Cloud Run and Artifact Registry calls the fakes saw" \
	all_reps noop '.api_calls == .trace.cloudrun + .trace.artifactregistry_api'
check "code change: changed, healthy, a new digest, every repetition" \
	all_reps change '.changed and .health.ok and .digest != .previous_digest'
check "code change: blobs uploaded (the app layer, the config, not the base)" \
	all_reps change '.trace.blobs_uploaded >= 1 and .trace.blobs_uploaded <= 3'
check "code change: /predict serves the last change (bench-$VERSION)" same "$SERVED" "bench-$VERSION"
echo

echo "results (fastest repetition): wall = EPOCHREALTIME around the command; cpu = its user +"
echo "  system time; build = timings.build_s + push_s; platform = timings.platform_s (the"
echo "  Cloud Run calls and the waits for their operations); health = timings.health_s;"
echo "  own = wall - platform - health; run/mut = Cloud Run API requests / mutating ones;"
echo "  tok = token endpoint requests; ar = Artifact Registry API requests; reg = registry"
echo "  requests through the docker.pkg.dev front; up = blobs uploaded, KiB = their bytes"
printf '%-36s %7s %6s %6s %8s %6s %6s %4s %4s %4s %4s %4s %3s %8s\n' command "wall s" "cpu s" build platform health "own s" run mut tok ar reg up KiB
for n in noop change; do
	jq -r --slurpfile t "$R/$n.best.trace" --arg what "${LABEL[$n]}" --argjson wall "${WALL_HR[$n]}" \
		--argjson cpu "${CPU[$n]}" '.timings as $m | $t[0] as $t |
		[$what, $wall, $cpu, ($m.build_s + $m.push_s), $m.platform_s, $m.health_s,
		 ($wall - $m.platform_s - $m.health_s), $t.cloudrun, $t.cloudrun_mutations, $t.token,
		 $t.artifactregistry_api, $t.registry, $t.blobs_uploaded, ($t.bytes_uploaded / 1024)] | @tsv' \
		"$R/$n.best.out" |
		awk -F'\t' '{ printf "%-36s %7.3f %6.2f %6.2f %8.2f %6.2f %6.3f %4d %4d %4d %4d %4d %3d %8.1f\n",
			$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }'
done
NOOP_OWN=$(jq -r --argjson w "${WALL_HR[noop]}" '$w - .timings.platform_s - .timings.health_s' "$R/noop.best.out")
NOOP_BYTES=$(jq -r .bytes_uploaded "$R/noop.best.trace")
echo "targets:"
echo "  no-change deploy, own time: $(calc "$NOOP_OWN" %.3f) s vs $NOOP_OWN_TARGET_S s: $([ "$(calc "$NOOP_OWN <= $NOOP_OWN_TARGET_S ? 1 : 0" %d)" = 1 ] && echo "meets target" || echo "MISSES target"); $NOOP_BYTES bytes uploaded (wall ${WALL_HR[noop]} s)"
for n in noop change; do
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
