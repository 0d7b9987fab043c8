#!/usr/bin/env bash
# bench/push.sh — push benchmark: `mldeploy push` against `skopeo copy`, on the
# same image (one big data layer from the build benchmark's context), every first
# push to a fresh local docker-registry. See bench/README.md.
#
# Environment (as for run.sh):
#   MLDEPLOY        binary under test (default: ../mldeploy next to this script)
#   BENCH_SIZE_MB   context size in MiB (default 1024; 200 for a quick run)
#   BENCH_DIR       work dir (default /tmp/mldeploy-bench); the context in
#                   BENCH_DIR/ctx is shared with run.sh, everything else goes to
#                   BENCH_DIR/push.* and is removed
#   BENCH_TIMEOUT   limit per measured command, seconds (default 300)
#   BENCH_REPEAT    repetitions of each measurement, the fastest is kept (default 1)
#   BENCH_KEEP=1    keep this run's scratch dir (image, caches, registry logs)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

MLDEPLOY=${MLDEPLOY:-$here/../mldeploy}
BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
BENCH_DIR=${BENCH_DIR:-/tmp/mldeploy-bench}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_REPEAT=${BENCH_REPEAT:-1}
RSS_TARGET_MIB=32
REPUSH_TARGET_S=0.1
RATIO_TARGET=1.05
REPO=bench/img
TAG=v1

# --- preflight -------------------------------------------------------------
for v in BENCH_SIZE_MB BENCH_TIMEOUT BENCH_REPEAT; do
	case ${!v} in
	'' | *[!0-9]* | 0) die "$v='${!v}' is not a positive whole number" ;;
	esac
done
[ -x "$MLDEPLOY" ] || die "mldeploy binary '$MLDEPLOY' not found (run make, or set MLDEPLOY)"
MLDEPLOY=$(cd "$(dirname "$MLDEPLOY")" && pwd)/$(basename "$MLDEPLOY")
/usr/bin/time --version 2>&1 | grep -q GNU ||
	die "GNU time is required at /usr/bin/time (Debian package 'time')"
for tool in jq tar timeout awk curl python3 docker-registry skopeo; do
	command -v "$tool" >/dev/null || die "'$tool' is required for the push benchmark"
done

REG_PID='' REG_DIR='' REG_ADDR='' REG_N=0 REG_LINES0=0
BENCH_SIDE_PID=''
bench_teardown() {
	reg_stop
}
# The caller's mldeploy settings must not leak into the measurement.
bench_scratch push

# --- registries ----------------------------------------------------------------
# One fresh registry per measured first push, so nothing is there yet; a re-push
# goes to the registry of the push before it. reg_start stops the previous one
# and deletes its storage.

reg_wait() { # PORT: the registry listens and answers /v2/
	local port=$1 i code
	for ((i = 0; i < 200; i++)); do
		kill -0 "$REG_PID" 2>/dev/null || return 1
		if grep -q "listening on 127.0.0.1:$port" "$REG_DIR/registry.log" 2>/dev/null; then
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
				"http://127.0.0.1:$port/v2/" 2>/dev/null) || code=000
			[ "$code" = 200 ] && kill -0 "$REG_PID" 2>/dev/null && return 0
		fi
		sleep 0.05
	done
	return 1
}

reg_start() {
	local attempt port
	reg_stop
	REG_N=$((REG_N + 1))
	REG_DIR=$R/registry$REG_N
	mkdir -p "$REG_DIR/storage"
	for ((attempt = 1; attempt <= 5; attempt++)); do
		port=$(free_port)
		cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REG_DIR/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: mldeploy-bench-secret
EOF
		# docker-registry writes the access log to stdout, its own log to stderr.
		docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/access.log" \
			2>"$REG_DIR/registry.log" </dev/null &
		REG_PID=$!
		if reg_wait "$port"; then
			REG_ADDR=127.0.0.1:$port
			BENCH_SIDE_PID=$REG_PID
			reg_mark
			return 0
		fi
		kill "$REG_PID" 2>/dev/null || true
		wait "$REG_PID" 2>/dev/null || true
		REG_PID=''
		grep -q 'address already in use' "$REG_DIR/registry.log" || break
	done
	tail -n 20 "$REG_DIR/registry.log" >&2
	die "docker-registry did not start (config $REG_DIR/config.yml)"
}

reg_stop() {
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null || true
		wait "$REG_PID" 2>/dev/null || true
	fi
	[ -z "$REG_DIR" ] || rm -rf "$REG_DIR/storage"
	REG_PID='' REG_ADDR='' BENCH_SIDE_PID=''
}

# Requests the registry answered since reg_mark (access-log lines).
reg_mark() { REG_LINES0=$(wc -l <"$REG_DIR/access.log"); }
reg_requests() { echo $(($(wc -l <"$REG_DIR/access.log") - REG_LINES0)); }

# The image's digest as skopeo reads it back from the running registry.
reg_digest() {
	timeout 60 skopeo inspect --tls-verify=false "docker://$REG_ADDR/$REPO:$TAG" 2>&1 |
		jq -r .Digest 2>/dev/null || echo "skopeo inspect failed"
}

# --- the measured commands -----------------------------------------------------
# The registry's address is only known once PREP has started it, so the measured
# command is a one-line sh script that PREP rewrites: CMD with @ADDR@ replaced,
# run with exec (the shell costs ~1 ms and is not the process GNU time reports).
CMD=()
write_cmd() {
	local a line=exec
	for a in "${CMD[@]//@ADDR@/$REG_ADDR}"; do
		line+=" '${a//\'/\'\\\'\'}'"
	done
	printf '#!/bin/sh\n%s\n' "$line" >"$R/cmd.sh"
	chmod +x "$R/cmd.sh"
}
fresh() { reg_start && write_cmd; }                  # a first push: new empty registry
again() { reg_mark && write_cmd; }                   # a re-push: the same registry
fresh_cold() { rm -rf "$R/cache-cold" && fresh; }    # and an empty mldeploy cache

ml_cmd() { # CACHE_DIR: CMD = mldeploy push of the image into @ADDR@
	CMD=(env "MLDEPLOY_CACHE_DIR=$1" "MLDEPLOY_INSECURE_REGISTRIES=@ADDR@" "$ML" --no-progress
		--json push "$IMG" --repository "@ADDR@/$REPO" --tag "$TAG")
}
sk_cmd() { # SOURCE: CMD = skopeo copy of SOURCE into @ADDR@
	CMD=(skopeo copy --dest-tls-verify=false "$1" "docker://@ADDR@/$REPO:$TAG")
}

# After a measurement (its last repetition): what the registry saw and holds.
declare -A REQS=() DIGEST=()
after() { # NAME
	REQS[$1]=$(reg_requests)
	DIGEST[$1]=$(reg_digest)
}
# mldeploy's --json result of NAME
ml_sent() { jq '[.blobs[].bytes_sent] | add' "$R/$1.out"; }
ml_actions() { jq -r '[.blobs[].action] | unique | join(",")' "$R/$1.out"; }
# The longest single blob upload, from mldeploy's "... uploaded N MiB in T s" lines
# (of the fastest repetition).
ml_upload_s() {
	awk '/ uploaded / { for (i = 1; i < NF; i++) if ($i == "in") t = $(i + 1) + 0; if (t > m) m = t }
		END { printf "%.2f", m }' "$R/$1.best.err"
}

step() { printf '  %-38s' "$1..."; }
done_step() {
	printf ' %7.2f s  (registry %.2f CPU s, other load %.2f CPUs)\n' "${WALL[$1]}" \
		"${SIDE_CPU[$1]}" "${OTHER[$1]}"
}

# --- context and image (not compared) ----------------------------------------
CTX=$BENCH_DIR/ctx
IMG=$R/image.tar
echo "context: $CTX ($BENCH_SIZE_MB MiB of binaries from /usr; shared with run.sh)"
bench_context "$CTX" "$BENCH_SIZE_MB"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mldeploy: $("$ML" --version 2>&1 | head -n 1) (copy of $MLDEPLOY)"
echo "skopeo:   $(skopeo --version), registry: $(docker-registry --version 2>&1 | head -n 1)"
step "building the image (not compared)"
BENCH_REPEAT=1 measure build "$CTX/data" : env "MLDEPLOY_CACHE_DIR=$R/cache" \
	"$ML" -C "$CTX" --no-progress --json build -o "$IMG"
printf ' %7.2f s\n' "${WALL[build]}"
BUILD_DIGEST=$(jq -r .digest "$R/build.out")
LAYER_BYTES=$(jq '[.layers[].size] | max' "$R/build.out")
LAYER_TYPE=$(jq -r '[.layers[]] | max_by(.size) | .media_type' "$R/build.out")
IMG_BYTES=$(fsize "$IMG")
echo "image:   $BUILD_DIGEST, archive $(calc "$IMG_BYTES / 1048576" %.1f) MiB,"
echo "  largest layer $(calc "$LAYER_BYTES / 1048576" %.1f) MiB ($LAYER_TYPE)"
echo "page cache: before each measured command the blobs it reads (mldeploy's cache"
echo "  or the archive) are read once after a sync; every registry's storage is on"
echo "  the same disk, under $R"
echo

# --- measurements ------------------------------------------------------------
declare -A LABEL=() NOTE=()
ORDER=()
row() { ORDER+=("$1"); LABEL[$1]=$2; NOTE[$1]=$3; } # NAME LABEL NOTE

echo "measuring (best of $BENCH_REPEAT; every first push to a new empty registry):"
ml_cmd "$R/cache"
step "mldeploy push (cache from build)"
measure ml_push "$R/cache" fresh "$R/cmd.sh"
done_step ml_push
after ml_push
row ml_push "mldeploy push, first" "blobs in the cache (normal flow); $(ml_upload_s ml_push) s in the layer upload"

step "mldeploy re-push"
measure ml_repush "$R/cache" again "$R/cmd.sh"
done_step ml_repush
after ml_repush
row ml_repush "mldeploy re-push, no change" "same registry; actions: $(ml_actions ml_repush)"
reg_stop

ml_cmd "$R/cache-cold"
step "mldeploy push (empty cache)"
measure ml_cold "$IMG" fresh_cold "$R/cmd.sh"
done_step ml_cold
after ml_cold
row ml_cold "mldeploy push, cold cache" "imports the archive first; $(ml_upload_s ml_cold) s in the layer upload"
reg_stop
rm -rf "$R/cache-cold"

sk_cmd "oci-archive:$IMG"
step "skopeo copy oci-archive:"
measure sk_push "$IMG" fresh "$R/cmd.sh"
done_step sk_push
after sk_push
row sk_push "skopeo copy, first" "oci-archive: (extracts the archive to a temp dir first)"

step "skopeo re-copy"
measure sk_repush "$IMG" again "$R/cmd.sh"
done_step sk_repush
after sk_repush
row sk_repush "skopeo copy again, no change" "same registry; still extracts the archive"
reg_stop

# Reference: skopeo from an already extracted OCI layout, i.e. the upload alone.
mkdir -p "$R/layout"
tar -xf "$IMG" -C "$R/layout"
sk_cmd "oci:$R/layout"
step "skopeo copy oci: (layout dir)"
measure sk_dir "$R/layout" fresh "$R/cmd.sh"
done_step sk_dir
after sk_dir
row sk_dir "skopeo copy, first, oci: dir" "reference: archive extracted beforehand (not timed)"

step "skopeo re-copy oci: (layout dir)"
measure sk_dir_re "$R/layout" again "$R/cmd.sh"
done_step sk_dir_re
after sk_dir_re
row sk_dir_re "skopeo copy again, oci: dir" "reference: same registry"
reg_stop
rm -rf "$R/layout"
echo

# --- correctness (not timed) -----------------------------------------------
same() { [ "$1" = "$2" ] || { echo "'$1' != '$2'"; return 1; }; }
near() { # A B: A within 1% + 64 KiB of B (HTTP headers)
	[ "$(calc "($1 - $2 < 0 ? $2 - $1 : $1 - $2) <= $2 / 100 + 65536" %d)" = 1 ] ||
		{ echo "$1 is not within 1% + 64 KiB of $2"; return 1; }
}
BLOB_BYTES=$(jq '[.blobs[].size] | add' "$R/ml_push.out")

echo "correctness (not timed):"
for n in ml_push ml_repush ml_cold sk_push sk_repush sk_dir sk_dir_re; do
	check "skopeo inspect after '${LABEL[$n]}': the build's digest" same "${DIGEST[$n]}" "$BUILD_DIGEST"
done
check "mldeploy push --json digest = the build's" same "$(jq -r .digest "$R/ml_push.out")" "$BUILD_DIGEST"
check "first push uploaded every blob" same "$(ml_actions ml_push)" uploaded
check "cold-cache push uploaded every blob" same "$(ml_actions ml_cold)" uploaded
check "first push sent each blob once (bytes_sent = blob sizes)" same "$(ml_sent ml_push)" "$BLOB_BYTES"
check "cold-cache push sent the same bytes" same "$(ml_sent ml_cold)" "$BLOB_BYTES"
check "registry received what mldeploy says it sent" near "${SIDE_READ[ml_push]}" "$BLOB_BYTES"
check "re-push found every blob there" same "$(ml_actions ml_repush)" exists
check "re-push sent no blob bytes" same "$(ml_sent ml_repush)" 0
check "skopeo's first copy sent each blob once" near "${SIDE_READ[sk_push]}" "$BLOB_BYTES"
echo

# --- report ------------------------------------------------------------------
sent_col() { # NAME: mldeploy's own count, "-" for skopeo
	case $1 in
	ml_*) calc "$(ml_sent "$1") / 1048576" %.1f ;;
	*) echo - ;;
	esac
}
echo "results: blobs $(calc "$BLOB_BYTES / 1048576" %.1f) MiB, $(nproc) CPUs, load after run $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  sent = bytes_sent from mldeploy --json; recv = bytes the registry read"
echo "  (/proc/PID/io rchar: request bodies and headers); MiB/s = recv / wall;"
echo "  reqs = requests in the registry's access log; reg cpu = the registry's CPU"
echo "  time; RSS = peak of the largest single process (GNU time %M);"
echo "  other = CPUs kept busy by other processes (registry excluded) meanwhile"
fmt='%-30s %7s %6s %7s %8s %8s %7s %5s %7s %6s  %s\n'
# shellcheck disable=SC2059  # the format is ours
printf "$fmt" command "wall s" "cpu s" "reg cpu" "sent MiB" "recv MiB" "MiB/s" reqs "RSS MiB" other note
# shellcheck disable=SC2059
printf "$fmt" ------- ------ ----- ------- -------- -------- ----- ---- ------- ----- ----
for n in "${ORDER[@]}"; do
	# shellcheck disable=SC2059
	printf "$fmt" "${LABEL[$n]}" "${WALL[$n]}" "${CPU[$n]}" "${SIDE_CPU[$n]}" "$(sent_col "$n")" \
		"$(calc "${SIDE_READ[$n]} / 1048576" %.1f)" \
		"$(calc "${SIDE_READ[$n]} / 1048576 / (${WALL[$n]} > 0 ? ${WALL[$n]} : 0.005)" %.1f)" \
		"${REQS[$n]}" "$(calc "${RSS[$n]} / 1024" %.1f)" "$(calc "${OTHER[$n]}" %.2f)" "${NOTE[$n]}"
done
echo

ratio() { calc "${WALL[$1]} / (${WALL[$2]} > 0 ? ${WALL[$2]} : 0.005)" %.2f; } # A B: A's time / B's
verdict() { # VALUE TARGET: ok if VALUE <= TARGET
	if [ "$(calc "$1 <= $2 ? 1 : 0" %d)" = 1 ]; then
		echo "meets target"
	else
		echo "MISSES target"
	fi
}
r_push=$(ratio ml_push sk_push)
r_cold=$(ratio ml_cold sk_push)
r_dir=$(ratio ml_push sk_dir)
rss_max=$(calc "(${RSS[ml_push]} > ${RSS[ml_cold]} ? ${RSS[ml_push]} : ${RSS[ml_cold]}) / 1024" %.1f)
rss_re=$(calc "${RSS[ml_repush]} / 1024" %.1f)
echo "ratios (mldeploy's wall time / skopeo's; below 1 = mldeploy faster):"
echo "  first push vs skopeo copy          : ${r_push}x vs ${RATIO_TARGET}x target: $(verdict "$r_push" "$RATIO_TARGET")"
echo "  cold-cache push vs skopeo copy     : ${r_cold}x vs ${RATIO_TARGET}x target: $(verdict "$r_cold" "$RATIO_TARGET")"
echo "  first push vs skopeo from oci: dir : ${r_dir}x (reference: skopeo's upload alone)"
echo "  re-push, no change                 : ${WALL[ml_repush]} s vs ${REPUSH_TARGET_S} s target: $(verdict "${WALL[ml_repush]}" "$REPUSH_TARGET_S") (skopeo: ${WALL[sk_repush]} s, from a dir ${WALL[sk_dir_re]} s)"
echo "  peak RSS, first pushes             : $rss_max MiB vs ${RSS_TARGET_MIB} MiB target: $(verdict "$rss_max" "$RSS_TARGET_MIB") (skopeo: $(calc "${RSS[sk_push]} / 1024" %.1f) MiB)"
echo "  peak RSS, re-push                  : $rss_re MiB vs ${RSS_TARGET_MIB} MiB target: $(verdict "$rss_re" "$RSS_TARGET_MIB")"
echo "  bytes uploaded                     : mldeploy $(calc "$(ml_sent ml_push) / 1048576" %.1f) MiB, skopeo $(calc "${SIDE_READ[sk_push]} / 1048576" %.1f) MiB received by the registry"

# --- machine-readable copy -------------------------------------------------
for n in "${ORDER[@]}"; do
	sent=null
	case $n in ml_*) sent=$(ml_sent "$n") ;; esac
	jq -n --arg name "$n" --arg what "${LABEL[$n]}" --arg note "${NOTE[$n]}" \
		--argjson wall "${WALL[$n]}" --argjson cpu "${CPU[$n]}" --argjson rss "${RSS[$n]}" \
		--argjson other "${OTHER[$n]}" --argjson reg_cpu "${SIDE_CPU[$n]}" \
		--argjson recv "${SIDE_READ[$n]}" --argjson sent "$sent" --argjson reqs "${REQS[$n]}" \
		--arg digest "${DIGEST[$n]}" \
		'{name: $name, command: $what, wall_s: $wall, cpu_s: $cpu, peak_rss_kib: $rss,
		  bytes_sent: $sent, registry_received_bytes: $recv, registry_cpu_s: $reg_cpu,
		  requests: $reqs, other_cpus: $other, registry_digest: $digest, note: $note}'
done | jq -s --argjson blob_bytes "$BLOB_BYTES" --argjson cpus "$(nproc)" --argjson fails "$FAILS" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg digest "$BUILD_DIGEST" \
	--argjson repeat "$BENCH_REPEAT" --argjson size_mb "$BENCH_SIZE_MB" \
	'{date: $date, cpus: $cpus, context_mib: $size_mb, image_digest: $digest,
	  blob_bytes: $blob_bytes, repeat: $repeat, correctness_failures: $fails, results: .}' \
	>"$BENCH_DIR/push-results.json"
echo
echo "results also written to $BENCH_DIR/push-results.json"

[ "$FAILS" = 0 ] || die "$FAILS correctness check(s) failed in the push benchmark"
