#!/usr/bin/env bash
# bench/deploy.sh — deploy benchmark: `mldeploy deploy --provider local` of the
# bundled example (deploy.example.yaml) on a private `podman system service`,
# against the Docker-less peer a user would otherwise run (bench/deploy-peer.sh:
# build -o + podman load + podman rm -f + podman run -d -p + curl until /healthz).
# See bench/README.md, "Deploy benchmark".
#
# Environment:
#   MLDEPLOY        binary under test (default: ../mldeploy next to this script)
#   BENCH_DIR       work dir (default /tmp/mldeploy-bench); this run's scratch dir
#                   (engine, its storage, the example's copy, caches) is
#                   BENCH_DIR/deploy.*, removed at exit
#   BENCH_TIMEOUT   limit per measured command, seconds (default 300)
#   BENCH_REPEAT    repetitions of each measurement, the fastest is kept (default 3)
#   BENCH_KEEP=1    keep this run's scratch dir (the engine is stopped all the same)
#   BENCH_GCP=0     skip the Google case (bench/deploy-gcp.sh) run at the end
#   BENCH_EXAMPLE_OFFLINE
#                   1 (default): the example's base and wheels are made from Debian
#                   packages and served on 127.0.0.1 (scripts/example.sh's air-gapped
#                   route); auto: Docker Hub and PyPI where they answer
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

SRC=$(cd "$here/.." && pwd)
MLDEPLOY=${MLDEPLOY:-$here/../mldeploy}
BENCH_DIR=${BENCH_DIR:-/tmp/mldeploy-bench}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_EXAMPLE_OFFLINE=${BENCH_EXAMPLE_OFFLINE:-1}
# the caller's cache: scripts/example.sh keeps the base and the wheels it makes there
USER_CACHE=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}
NOOP_TARGET_S=0.5
OWN_TARGET_S=3
SERVICE=iris # name: in deploy.example.yaml
PEER=iris-peer

# --- preflight -------------------------------------------------------------
for v in BENCH_TIMEOUT BENCH_REPEAT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v='${!v}' must be a positive whole number"
done
case $BENCH_EXAMPLE_OFFLINE in
0 | 1 | auto) ;;
*) die "BENCH_EXAMPLE_OFFLINE='$BENCH_EXAMPLE_OFFLINE' is not 0, 1 or auto" ;;
esac
[ -x "$MLDEPLOY" ] || die "no mldeploy binary at '$MLDEPLOY' (run make, or set MLDEPLOY)"
MLDEPLOY=$(realpath "$MLDEPLOY")
[[ $(/usr/bin/time --version 2>&1) == *GNU* ]] || die "needs GNU time at /usr/bin/time (Debian package 'time')"
for tool in podman runc curl jq timeout awk sed setsid docker-registry; do
	command -v "$tool" >/dev/null || die "needs '$tool' for the deploy benchmark"
done
[ -x /usr/bin/python3 ] || die "needs Debian's /usr/bin/python3 (the engine proxy)"
[ "$(id -u)" = 0 ] || die "runs podman as root (published ports need its CNI network): run it as root"

ENGINE_PID='' PROXY_PID='' EXAMPLE_PID='' PROBE_PID=''
BENCH_SIDE_PID=''
bench_teardown() {
	set +e
	if [ -f "$R/podman/containers.conf" ]; then
		timeout 60 podman rm -a -f -t 0 >/dev/null 2>&1
	fi
	stop_pid "$PROBE_PID"
	stop_pid "$PROXY_PID"
	stop_pid "$ENGINE_PID"
	if [ -n "$EXAMPLE_PID" ]; then
		# the holder returns, scripts/example.sh stops its registry and index
		touch "$R/example.release"
		for _ in $(seq 100); do
			kill -0 "$EXAMPLE_PID" 2>/dev/null || break
			sleep 0.1
		done
		# its own process group (setsid): the script and the servers it started
		kill -0 "$EXAMPLE_PID" 2>/dev/null && kill -TERM -- "-$EXAMPLE_PID" 2>/dev/null
		wait "$EXAMPLE_PID" 2>/dev/null
	fi
	# the overlay storage's own mounts (and any a killed container left)
	awk -v t="$R" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	set -e
}

stop_pid() { # PID: TERM, then KILL after 5 s
	local pid=$1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# The caller's mldeploy settings must not leak into the measurement.
bench_scratch deploy
export MLDEPLOY_CACHE_DIR=$R/cache

# --- the example's base and wheels (scripts/example.sh) --------------------
# scripts/example.sh sets up the example's environment (offline: a registry
# holding the stand-in base, a Python index of the wheels), then runs
# "$MLDEPLOY" -f deploy.example.yaml build. Our stand-in for that binary hands
# the environment over and holds the script, with its servers, until teardown.
cat >"$R/hold.sh" <<EOF
#!/bin/sh
export -p | grep ' MLDEPLOY_' | grep -v ' MLDEPLOY_EXAMPLE_OFFLINE=' >"$R/example.env.tmp"
mv "$R/example.env.tmp" "$R/example.env"
while [ ! -e "$R/example.release" ]; do sleep 0.2; done
EOF
chmod 0755 "$R/hold.sh"
echo "example: scripts/example.sh's environment (BENCH_EXAMPLE_OFFLINE=$BENCH_EXAMPLE_OFFLINE)"
MLDEPLOY=$R/hold.sh MLDEPLOY_EXAMPLE_OFFLINE=$BENCH_EXAMPLE_OFFLINE XDG_CACHE_HOME=$USER_CACHE \
	setsid "$SRC/scripts/example.sh" >"$R/example.out" 2>"$R/example.err" &
EXAMPLE_PID=$!
# the first run makes the base and the wheels (about 2 minutes), later ones reuse them
for ((i = 0; i < 6000; i++)); do
	[ -e "$R/example.env" ] && break
	kill -0 "$EXAMPLE_PID" 2>/dev/null || { tail -n 20 "$R/example.err" >&2; die "scripts/example.sh failed"; }
	sleep 0.1
done
[ -e "$R/example.env" ] || die "scripts/example.sh set nothing up in 600 s"
# shellcheck source=/dev/null
. "$R/example.env"

# --- the engine ------------------------------------------------------------
# podman system service on a unix socket in the scratch dir, with a private
# configuration and overlay storage (tests/podman-conf.sh, as the e2e rig), and
# tests/fakes/engineproxy.py in front: it logs every API call mldeploy makes with
# its time, duration and request body bytes.
"$SRC/tests/podman-conf.sh" "$R/podman" --driver overlay
export CONTAINERS_CONF=$R/podman/containers.conf CONTAINERS_STORAGE_CONF=$R/podman/storage.conf
export CONTAINERS_REGISTRIES_CONF=$R/podman/registries.conf
E=$R/engine
mkdir -p "$E"
[ "${#E}" -le 90 ] || die "$E is too long for a unix socket (set a shorter BENCH_DIR)"
ENGINE_LOG=$E/requests.log
: >"$ENGINE_LOG"
podman system service --time=0 "unix://$E/podman.sock" >"$E/service.out" 2>"$E/service.log" &
ENGINE_PID=$!
/usr/bin/python3 "$SRC/tests/fakes/engineproxy.py" --listen "$E/proxy.sock" \
	--upstream "$E/podman.sock" --log "$ENGINE_LOG" >"$E/proxy.out" 2>"$E/proxy.err" &
PROXY_PID=$!
wait_engine() { # PID SOCKET: GET /_ping answers OK
	local i
	for ((i = 0; i < 1000; i++)); do
		kill -0 "$1" 2>/dev/null || return 1
		[ -S "$2" ] && [ "$(curl -sf --max-time 2 --unix-socket "$2" http://d/_ping 2>/dev/null)" = OK ] &&
			return 0
		sleep 0.02
	done
	return 1
}
wait_engine "$ENGINE_PID" "$E/podman.sock" || { tail -n 20 "$E/service.log" >&2; die "podman system service did not start"; }
wait_engine "$PROXY_PID" "$E/proxy.sock" || { tail -n 20 "$E/proxy.err" >&2; die "the engine proxy did not start"; }
: >"$ENGINE_LOG"
export DOCKER_HOST=unix://$E/proxy.sock
BENCH_SIDE_PID=$ENGINE_PID

# --- the example, copied ---------------------------------------------------
PROJ=$R/proj
CONF=$PROJ/deploy.example.yaml
APP=$PROJ/templates/iris-flask/app/app.py
mkdir -p "$PROJ/templates"
cp "$SRC/deploy.example.yaml" "$PROJ/"
cp -r "$SRC/templates/iris-flask" "$PROJ/templates/"
rm -rf "$PROJ/templates/iris-flask/app/__pycache__"
cp "$APP" "$R/app.py.orig"
PORT=$(free_port)
PEER_PORT=$(free_port)
[ "$PORT" != "$PEER_PORT" ] || PEER_PORT=$(free_port)
sed -i "s/^deploy:\$/deploy:\n  local: { port: $PORT }/" "$CONF"
grep -q "local: { port: $PORT }" "$CONF" || die "could not set deploy.local.port in $CONF"

# The one-file code change: /predict answers {"version": V, ...}, so the
# serving code is known.
VERSION=0
set_version() {
	VERSION=$((VERSION + 1))
	sed "s/return jsonify(predictions=/return jsonify(version=\"bench-$VERSION\", predictions=/" \
		"$R/app.py.orig" >"$APP"
	grep -q "version=\"bench-$VERSION\"" "$APP" || die "the edit of $APP did not apply"
}
set_version

FEATURES='{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'
served_version() { # PORT: the version /predict answers with
	curl -fsS --max-time 10 -H 'Content-Type: application/json' -d "$FEATURES" \
		"http://127.0.0.1:$1/predict" | jq -r '.version // "none"'
}

ML_DEPLOY=("$ML" -C "$PROJ" -f "$CONF" --no-progress --json deploy --provider local)
PEER_CMD=("$here/deploy-peer.sh" "$ML" "$PROJ" "$CONF" "$R/peer.tar" "$PEER" "$PEER_PORT")

engine_wipe() { # no container, no image: a first deploy
	podman rm -a -f -t 0 >/dev/null
	podman rmi -a -f >/dev/null
}
cold_all() {
	engine_wipe
	rm -rf "$MLDEPLOY_CACHE_DIR"
}
cold_engine() { engine_wipe; }
no_change() { :; }
code_change() { set_version; }
container_id() { podman container inspect --format '{{.Id}}' "$1" 2>/dev/null || echo none; }
our_containers() { podman ps -a --filter "label=mldeploy.service=$SERVICE" --format '{{.Names}}' | sort | paste -sd, -; }

# trace_stats FILE: what the engine proxy saw of one run, as JSON: calls,
# mutations (not GET/HEAD), engine_s (the calls' durations, summed: they are
# sequential), load_bytes (request bodies of /images/load), starts, and
# release_check_s: in a replacement (two container starts, the checked candidate
# then the serving one), the gap after the last start, when mldeploy checks the new
# serving container's health (its provider's release step) before it removes the
# others; timings.platform_s counts that wait, timings.health_s does not.
trace_stats() {
	jq -s 'sort_by(.t) as $r | ($r | length) as $n
		| [range(0; $n - 1) as $i | $r[$i + 1].t - ($r[$i].t + $r[$i].ms / 1000)] as $gaps
		| [range(0; $n) as $i | select($r[$i].method == "POST" and ($r[$i].path | test("/containers/[^/]+/start$"))) | $i] as $starts
		| {calls: $n,
		   mutations: ([$r[] | select(.method != "GET" and .method != "HEAD")] | length),
		   engine_s: (([$r[].ms] | add // 0) / 1000),
		   load_bytes: ([$r[] | select(.path | test("/images/load$")) | .bytes] | add // 0),
		   starts: ($starts | length),
		   release_check_s: (if ($starts | length) >= 2 and $starts[-1] < $n - 1 then $gaps[$starts[-1]] else 0 end)}' "$1"
}

# lib.sh's measure calls these around each repetition: the engine calls it made go
# to $R/NAME.trace (kept as NAME.best.trace for the fastest), and each repetition's
# output and trace to $R/NAME.I.out and $R/NAME.I.trace.
measure_before() { ENGINE_N0=$(wc -l <"$ENGINE_LOG"); }
measure_after() {
	tail -n +"$((ENGINE_N0 + 1))" "$ENGINE_LOG" >"$R/$1.trace"
	cp "$R/$1.out" "$R/$1.$2.out"
	cp "$R/$1.trace" "$R/$1.$2.trace"
}

# every repetition's JSON answers FILTER with true
all_reps() { # NAME JQ_FILTER
	local i
	for ((i = 0; i < BENCH_REPEAT; i++)); do
		[ "$(jq -r "$2" "$R/$1.$i.out")" = true ] || { echo "repetition $((i + 1)): $(jq -c . "$R/$1.$i.out")"; return 1; }
	done
}
all_traces() { # NAME JQ_FILTER on trace_stats
	local i
	for ((i = 0; i < BENCH_REPEAT; i++)); do
		[ "$(trace_stats "$R/$1.$i.trace" | jq -r "$2")" = true ] ||
			{ echo "repetition $((i + 1)): $(trace_stats "$R/$1.$i.trace" | jq -c .)"; return 1; }
	done
}
calls_match() { # NAME: every repetition's api_calls is what the proxy counted
	local i a b
	for ((i = 0; i < BENCH_REPEAT; i++)); do
		a=$(jq -r .api_calls "$R/$1.$i.out")
		b=$(trace_stats "$R/$1.$i.trace" | jq -r .calls)
		[ "$a" = "$b" ] || { echo "repetition $((i + 1)): api_calls $a, proxy $b"; return 1; }
	done
}
same() { [ "$1" = "$2" ] || { echo "'$1' != '$2'"; return 1; }; }
differ() { [ "$1" != "$2" ] || { echo "both '$1'"; return 1; }; }

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mldeploy: $("$ML" --version 2>&1 | head -n 1) (copy of $MLDEPLOY)"
echo "engine:  $(podman --version), overlay storage in $R/podman, API on $E/podman.sock behind the counting proxy"
echo "project: a copy of deploy.example.yaml + templates/iris-flask, deploy.local.port $PORT (the peer: $PEER_PORT)"
echo

# --- measurements ----------------------------------------------------------
declare -A LABEL=()
ORDER=()
step() { printf '  %-44s' "$1..."; }
done_step() { printf ' %7.2f s  (other load %.2f CPUs)\n' "${WALL_HR[$1]}" "${OTHER[$1]}"; }
run_row() { # NAME LABEL PREP CMD...
	local name=$1
	ORDER+=("$1")
	LABEL[$1]=$2
	step "$2"
	shift 2
	local prep=$1
	shift
	measure "$name" "$PROJ" "$prep" "$@"
	done_step "$name"
}

echo "measuring (best of $BENCH_REPEAT):"
run_row cold "mldeploy deploy, cold" cold_all "${ML_DEPLOY[@]}"
V_COLD=$VERSION
run_row first "mldeploy deploy, first (build cached)" cold_engine "${ML_DEPLOY[@]}"
V_FIRST=$(served_version "$PORT")
run_row peer_cold "peer, cold" cold_all "${PEER_CMD[@]}"
V_PEER_COLD=$(served_version "$PEER_PORT")

# serving again (not timed): the peer's cold runs wiped the engine
"${ML_DEPLOY[@]}" >"$R/restore.out" 2>"$R/restore.err" || { tail "$R/restore.err" >&2; die "deploy after the cold runs failed"; }
ID_BEFORE_NOOP=$(container_id "$SERVICE")
DIGEST_BEFORE_NOOP=$(jq -r .digest "$R/restore.out")
run_row noop "mldeploy deploy, no change" no_change "${ML_DEPLOY[@]}"
ID_AFTER_NOOP=$(container_id "$SERVICE")

run_row change "mldeploy deploy, 1 app file changed" code_change "${ML_DEPLOY[@]}"
V_CHANGE=$VERSION
V_CHANGE_SERVED=$(served_version "$PORT")
ID_AFTER_CHANGE=$(container_id "$SERVICE")
OURS_AFTER_CHANGE=$(our_containers)

# the peer serves the current code (not timed), then does the same
"${PEER_CMD[@]}" >/dev/null 2>"$R/peer-sync.err" || { tail "$R/peer-sync.err" >&2; die "the peer's deploy failed"; }
run_row peer_noop "peer, no change" no_change "${PEER_CMD[@]}"
run_row peer_change "peer, 1 app file changed" code_change "${PEER_CMD[@]}"
V_PEER_CHANGE=$VERSION
V_PEER_SERVED=$(served_version "$PEER_PORT")
echo

# --- availability during a code change (not timed) -------------------------
# One more code change each, while bench/uptime-probe.py GETs the health path
# every 20 ms: how long the service does not answer.
outage() { # PORT CMD...: runs CMD while probing PORT; the probe's JSON in $R/probe.out
	local port=$1
	shift
	rm -f "$R/probe.stop"
	/usr/bin/python3 "$here/uptime-probe.py" "http://127.0.0.1:$port/healthz" "$R/probe.stop" >"$R/probe.out" &
	PROBE_PID=$!
	sleep 0.3
	"$@" >"$R/probe-cmd.out" 2>"$R/probe-cmd.err" || { tail "$R/probe-cmd.err" >&2; die "$* failed"; }
	sleep 0.3
	touch "$R/probe.stop"
	wait "$PROBE_PID" || die "the uptime probe failed"
	PROBE_PID=''
}
outage_line() { jq -r '"longest outage \(.longest_outage_s) s (\(.failures) of \(.probes) probes failed\(if .down_at_end then ", STILL DOWN" else "" end))"' "$1"; }
echo "availability during one more code change (not timed; GET /healthz every 20 ms):"
set_version
outage "$PORT" "${ML_DEPLOY[@]}"
cp "$R/probe.out" "$R/outage-mldeploy.json"
V_PROBE_SERVED=$(served_version "$PORT")
V_PROBE=$VERSION
echo "  mldeploy deploy : $(outage_line "$R/outage-mldeploy.json")"
set_version
outage "$PEER_PORT" "${PEER_CMD[@]}"
cp "$R/probe.out" "$R/outage-peer.json"
echo "  peer            : $(outage_line "$R/outage-peer.json")"
echo

# --- correctness (not timed) -----------------------------------------------
echo "correctness (not timed):"
check "cold deploys: changed, healthy, every repetition" all_reps cold '.changed and .health.ok'
check "first deploys: changed, healthy, every repetition" all_reps first '.changed and .health.ok'
check "cold deploys loaded the image into the engine" all_traces cold '.load_bytes > 0'
check "first deploys (build cached) loaded the image too" all_traces first '.load_bytes > 0'
check "after the cold deploys, /predict serves bench-$V_COLD" same "$V_FIRST" "bench-$V_COLD"
check "after the peer's cold runs, its /predict serves bench-$V_COLD" same "$V_PEER_COLD" "bench-$V_COLD"
check "no change: changed false, every repetition" all_reps noop '.changed == false and .health.ok'
check "no change: the digest stays" all_reps noop ".digest == \"$DIGEST_BEFORE_NOOP\""
check "no change: no mutating call, no image load, 0 bytes to the engine" \
	all_traces noop '.mutations == 0 and .load_bytes == 0'
check "no change: the serving container is the same ($SERVICE)" same "$ID_AFTER_NOOP" "$ID_BEFORE_NOOP"
check "no change: api_calls in --json = the calls the proxy saw" calls_match noop
check "code change: api_calls in --json = the calls the proxy saw" calls_match change
check "code change: changed, healthy, a new digest, every repetition" \
	all_reps change ".changed and .health.ok and .digest != .previous_digest and (.previous_digest | startswith(\"sha256:\"))"
check "code change: /predict serves the last change (bench-$V_CHANGE)" same "$V_CHANGE_SERVED" "bench-$V_CHANGE"
check "code change: a new container serves" differ "$ID_AFTER_CHANGE" "$ID_AFTER_NOOP"
check "code change: only $SERVICE is left (old and candidate removed)" same "$OURS_AFTER_CHANGE" "$SERVICE"
check "peer: /predict serves its last change (bench-$V_PEER_CHANGE)" same "$V_PEER_SERVED" "bench-$V_PEER_CHANGE"
check "probed code change: /predict serves bench-$V_PROBE" same "$V_PROBE_SERVED" "bench-$V_PROBE"
echo

# --- report ----------------------------------------------------------------
# Per row, from the fastest repetition: mldeploy's --json timings and the engine
# trace; the peer's phase times (bench/deploy-peer.sh).
declare -A BUILD=() ENGINE=() HEALTH=() OWN=() CALLS=() MUT=() LOAD=()
for n in "${ORDER[@]}"; do
	if [[ $n == peer* ]]; then
		read -r "BUILD[$n]" "ENGINE[$n]" "HEALTH[$n]" < <(jq -r '[.build_s, .load_s + .rm_s + .run_s, .health_s] | @tsv' "$R/$n.best.out")
		OWN[$n]=- CALLS[$n]=- MUT[$n]=- LOAD[$n]=-
		continue
	fi
	trace_stats "$R/$n.best.trace" >"$R/$n.stats"
	read -r "BUILD[$n]" hs < <(jq -r '[.timings.build_s + .timings.push_s, .timings.health_s] | @tsv' "$R/$n.best.out")
	read -r "ENGINE[$n]" rc "CALLS[$n]" "MUT[$n]" lb < <(jq -r '[.engine_s, .release_check_s, .calls, .mutations, .load_bytes] | @tsv' "$R/$n.stats")
	HEALTH[$n]=$(calc "$hs + $rc" %.3f)
	OWN[$n]=$(calc "${WALL_HR[$n]} - ${ENGINE[$n]} - ${HEALTH[$n]}" %.3f)
	LOAD[$n]=$(calc "$lb / 1048576" %.1f)
done

echo "results: the bundled example, $(nproc) CPUs, load after run $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  wall = EPOCHREALTIME around the command; cpu = its user + system time (the peer's"
echo "  includes podman's and curl's); eng cpu = podman system service's CPU meanwhile;"
echo "  build = timings.build_s + push_s (peer: build -o); engine = the engine calls'"
echo "  durations seen by the proxy, summed (peer: podman load + rm -f + run -d);"
echo "  health = waiting for the app to answer its health path: timings.health_s + the"
echo "  release check (see README; peer: curl polling); own = wall - engine - health;"
echo "  calls/mut = engine API calls / mutating ones; load = bytes sent to /images/load"
printf '%-38s %7s %6s %7s %6s %7s %7s %6s %5s %4s %8s %5s\n' command "wall s" "cpu s" "eng cpu" "build" "engine" "health" "own s" calls mut "load MiB" other
printf '%-38s %7s %6s %7s %6s %7s %7s %6s %5s %4s %8s %5s\n' ------- ------ ----- ------- ----- ------ ------ ----- ----- --- -------- -----
fmt() { if [ "$1" = - ]; then echo -; else calc "$1" "${2:-%.2f}"; fi; }
for n in "${ORDER[@]}"; do
	printf '%-38s %7.3f %6.2f %7.2f %6s %7s %7s %6s %5s %4s %8s %5.2f\n' "${LABEL[$n]}" "${WALL_HR[$n]}" \
		"${CPU[$n]}" "${SIDE_CPU[$n]}" "$(fmt "${BUILD[$n]}")" "$(fmt "${ENGINE[$n]}")" \
		"$(fmt "${HEALTH[$n]}")" "$(fmt "${OWN[$n]}" %.3f)" "${CALLS[$n]}" "${MUT[$n]}" "${LOAD[$n]}" "${OTHER[$n]}"
done
echo

# the code change's engine calls, in order (fastest repetition)
echo "code change, engine calls of the fastest repetition (ms: until the engine's answer):"
jq -rs 'sort_by(.t)[] | "    \(.method) \(.path | sub("^/v[0-9.]+"; "") | gsub("sha256%3A[0-9a-f]{64}"; "{image}") | gsub("[0-9a-f]{64}"; "{id}")) -> \(.status)  \(.ms | floor) ms\(if .bytes > 1048576 then "  \(.bytes / 1048576 * 10 | floor / 10) MiB sent" else "" end)"' \
	"$R/change.best.trace"
jq -r '"  --json timings: build_s \(.timings.build_s * 1000 | floor / 1000), push_s \(.timings.push_s), platform_s \(.timings.platform_s * 1000 | floor / 1000), health_s \(.timings.health_s * 1000 | floor / 1000); api_calls \(.api_calls)"' \
	"$R/change.best.out"
echo "  platform_s includes the release check ($(jq -r '.release_check_s * 1000 | floor / 1000' "$R/change.stats") s), counted here as health wait"
echo

ratio() { calc "${WALL_HR[$1]} / (${WALL_HR[$2]} > 0 ? ${WALL_HR[$2]} : 0.0001)" "%.2f"; }
verdict() { # VALUE TARGET: ok if VALUE <= TARGET
	if [ "$(calc "$1 <= $2 ? 1 : 0" %d)" = 1 ]; then echo "meets target"; else echo "MISSES target"; fi
}
echo "ratios (peer wall / mldeploy wall; above 1: mldeploy is faster):"
echo "  no change     : $(ratio peer_noop noop)x  (${WALL_HR[peer_noop]} s / ${WALL_HR[noop]} s)"
echo "  1 app file    : $(ratio peer_change change)x  (${WALL_HR[peer_change]} s / ${WALL_HR[change]} s)"
echo "  cold          : $(ratio peer_cold cold)x  (${WALL_HR[peer_cold]} s / ${WALL_HR[cold]} s)"
echo "targets:"
echo "  no-change deploy        : ${WALL_HR[noop]} s vs ${NOOP_TARGET_S} s: $(verdict "${WALL_HR[noop]}" "$NOOP_TARGET_S"); ${LOAD[noop]} MiB loaded, ${MUT[noop]} mutating calls"
echo "  code change, own time   : ${OWN[change]} s vs ${OWN_TARGET_S} s: $(verdict "${OWN[change]}" "$OWN_TARGET_S") (wall ${WALL_HR[change]} s)"

# --- machine-readable copy -------------------------------------------------
for n in "${ORDER[@]}"; do
	jq -n --arg name "$n" --arg what "${LABEL[$n]}" --argjson wall "${WALL_HR[$n]}" \
		--argjson cpu "${CPU[$n]}" --argjson engine_cpu "${SIDE_CPU[$n]}" --argjson rss "${RSS[$n]}" \
		--argjson other "${OTHER[$n]}" --arg build "${BUILD[$n]}" --arg engine "${ENGINE[$n]}" \
		--arg health "${HEALTH[$n]}" --arg own "${OWN[$n]}" --arg calls "${CALLS[$n]}" \
		--arg mut "${MUT[$n]}" --slurpfile out "$R/$n.best.out" \
		--slurpfile stats <(if [ -f "$R/$n.stats" ]; then cat "$R/$n.stats"; else echo null; fi) \
		'def num: if . == "-" then null else tonumber end;
		{name: $name, command: $what, wall_s: $wall, cpu_s: $cpu, engine_cpu_s: $engine_cpu,
		 peak_rss_kib: $rss, other_cpus: $other, build_s: ($build | num), engine_s: ($engine | num),
		 health_wait_s: ($health | num), own_s: ($own | num), api_calls: ($calls | num),
		 mutations: ($mut | num), trace: $stats[0], output: $out[0]}'
done | jq -s --argjson cpus "$(nproc)" --argjson fails "$FAILS" --argjson repeat "$BENCH_REPEAT" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg podman "$(podman --version)" \
	--slurpfile o_ml "$R/outage-mldeploy.json" --slurpfile o_peer "$R/outage-peer.json" \
	'{date: $date, cpus: $cpus, repeat: $repeat, engine: $podman, correctness_failures: $fails, results: .,
	  code_change_outage: {mldeploy: $o_ml[0], peer: $o_peer[0]}}' \
	>"$BENCH_DIR/deploy-results.json"
echo
echo "results also written to $BENCH_DIR/deploy-results.json"

# --- the Google case (bench/deploy-gcp.sh, on the end-to-end rig's fakes) --
if [ "${BENCH_GCP:-1}" = 1 ]; then
	echo
	echo "gcp: mldeploy deploy --provider gcp on the fakes (bench/deploy-gcp.sh):"
	MLDEPLOY=$ML BENCH_REPEAT=$BENCH_REPEAT BENCH_TIMEOUT=$BENCH_TIMEOUT BENCH_DIR=$BENCH_DIR \
		"$here/deploy-gcp.sh" || FAILS=$((FAILS + 1))
fi
[ "$FAILS" = 0 ] || die "$FAILS correctness check(s) failed in the deploy benchmark"
