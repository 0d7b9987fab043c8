#!/usr/bin/env bash
# bench/run.sh — build-speed benchmark of mldeploy against its peers, on one
# context of real binaries, then the push benchmark (bench/push.sh), the
# Python dependencies benchmark (bench/pydeps.sh) and the deploy benchmark
# (bench/deploy.sh). See bench/README.md.
#
# Environment:
#   BENCH_ONLY      build, push, pydeps, deploy or all (default): which benchmarks to run
#   MLDEPLOY        binary under test (default: ../mldeploy next to this script)
#   BENCH_SIZE_MB   context size in MiB (default 1024; 200 for a quick run)
#   BENCH_DIR       work dir (default /tmp/mldeploy-bench); the context in
#                   BENCH_DIR/ctx is kept and reused by runs of the same size,
#                   everything else goes to BENCH_DIR/run.* and is removed
#   BENCH_TIMEOUT   limit per measured command, seconds (default 300)
#   BENCH_REPEAT    repetitions of each measurement, the fastest is kept (default 1)
#   BENCH_KEEP=1    keep this run's scratch dir (outputs, caches, umoci layout)
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
BENCH_ONLY=${BENCH_ONLY:-all}
RSS_TARGET_MIB=64
NOOP_TARGET_S=0.5

# --- preflight -------------------------------------------------------------
case $BENCH_ONLY in
build | all) ;;
push) exec "$here/push.sh" ;;
pydeps) exec "$here/pydeps.sh" ;;
deploy) exec "$here/deploy.sh" ;;
*) die "BENCH_ONLY='$BENCH_ONLY' is not build, push, pydeps, deploy or all" ;;
esac
for v in BENCH_SIZE_MB BENCH_TIMEOUT BENCH_REPEAT; do
	case ${!v} in
	'' | *[!0-9]* | 0) die "$v='${!v}' is not a positive whole number" ;;
	esac
done
[ -x "$MLDEPLOY" ] || die "mldeploy binary '$MLDEPLOY' not found (run make, or set MLDEPLOY)"
MLDEPLOY=$(cd "$(dirname "$MLDEPLOY")" && pwd)/$(basename "$MLDEPLOY")
/usr/bin/time --version 2>&1 | grep -q GNU ||
	die "GNU time is required at /usr/bin/time (Debian package 'time')"
for tool in jq tar gzip timeout awk; do
	command -v "$tool" >/dev/null || die "'$tool' is required"
done
have() { command -v "$1" >/dev/null; }

# The caller's mldeploy settings must not leak into the measurement.
bench_scratch run

# --- context -----------------------------------------------------------------
CTX=$BENCH_DIR/ctx
echo "context: $CTX ($BENCH_SIZE_MB MiB of binaries from /usr; created once, then reused)"
bench_context "$CTX" "$BENCH_SIZE_MB"

IN_BYTES=$(find "$CTX/data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
IN_FILES=$(find "$CTX/data" -type f | wc -l)
IN_MIB=$(calc "$IN_BYTES / 1048576" %.1f)

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input:   $IN_MIB MiB in $IN_FILES files ($CTX/data)"
echo "mldeploy: $("$ML" --version 2>&1 | head -n 1) (copy of $MLDEPLOY)"
echo "page cache: caches cannot be dropped here; before each measured command the"
echo "  input is read once (tar -cf - | cat >/dev/null) after a sync, so every"
echo "  command starts with a warm cache and no dirty pages from the previous one."
echo

# --- measurements ------------------------------------------------------------
declare -A LABEL=() OUT=() NOTE=()
ORDER=()
row() { # NAME LABEL OUT_BYTES NOTE
	ORDER+=("$1")
	LABEL[$1]=$2
	OUT[$1]=$3
	NOTE[$1]=$4
}
step() { printf '  %-32s' "$1..."; }
done_step() { printf ' %7.2f s  (other load %.2f CPUs)\n' "${WALL[$1]}" "${OTHER[$1]}"; }

echo "measuring (best of $BENCH_REPEAT):"
step "gzip -6 (tar | gzip)"
measure gzip "$CTX/data" : "$here/tar-pipe.sh" "$CTX" "$R/data.tar.gz" gzip -6
done_step gzip
row gzip "tar | gzip -6" "$(fsize "$R/data.tar.gz")" "1 thread"
rm -f "$R/data.tar.gz"

if have pigz; then
	step "pigz -6 (tar | pigz)"
	measure pigz "$CTX/data" : "$here/tar-pipe.sh" "$CTX" "$R/data.tar.gz" pigz -6
	done_step pigz
	row pigz "tar | pigz -6" "$(fsize "$R/data.tar.gz")" "$(nproc) threads"
	rm -f "$R/data.tar.gz"
fi

if have zstd; then
	step "zstd -3 -T0 (tar | zstd)"
	measure zstd "$CTX/data" : "$here/tar-pipe.sh" "$CTX" "$R/data.tar.zst" zstd -q -3 -T0
	done_step zstd
	row zstd "tar | zstd -3 -T0" "$(fsize "$R/data.tar.zst")" "reference for --compression zstd"
	rm -f "$R/data.tar.zst"
fi

if have umoci; then
	rootless=()
	umoci_note="as root"
	if [ "$(id -u)" != 0 ]; then
		rootless=(--rootless)
		umoci_note="--rootless (not root)"
	fi
	# A fresh empty image and its bundle, with the data copied into the rootfs.
	umoci_prep() {
		rm -rf "$R/oci" "$R/bundle"
		umoci init --layout "$R/oci" >/dev/null
		umoci new --image "$R/oci:b" >/dev/null
		umoci unpack "${rootless[@]}" --image "$R/oci:b" "$R/bundle" >/dev/null
		cp -a "$CTX/data" "$R/bundle/rootfs/data"
	}
	step "umoci repack"
	measure umoci "$R/bundle/rootfs/data" umoci_prep \
		umoci repack "${rootless[@]}" --image "$R/oci:b" "$R/bundle"
	done_step umoci
	manifest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "b") | .digest' "$R/oci/index.json")
	umoci_layer=$(jq -r '.layers[-1].size' "$R/oci/blobs/sha256/${manifest#sha256:}")
	row umoci "umoci repack" "$umoci_layer" "$umoci_note, incl. its mtree diff"
	rm -rf "$R/bundle" "$R/oci"
fi

ml_build() { # NAME PREP CACHE OUT [build args]
	local name=$1 prep=$2 cache=$3 out=$4
	shift 4
	measure "$name" "$CTX/data" "$prep" env MLDEPLOY_CACHE_DIR="$cache" \
		"$ML" -C "$CTX" --no-progress --json build -o "$out" "$@"
}
# The data layer is the big one, the app layer the small one.
ml_data() { jq -r "[.layers[]] | max_by(.uncompressed_size) | .$2" "$R/$1.out"; }
ml_app() { jq -r "[.layers[]] | min_by(.uncompressed_size) | .$2" "$R/$1.out"; }
cold_gzip() { rm -rf "$R/cache-gzip" "$R/ml-gzip.tar"; }
cold_zstd() { rm -rf "$R/cache-zstd" "$R/ml-zstd.tar"; }
APP_VERSION=1
change_app() {
	APP_VERSION=$((APP_VERSION + 1))
	printf 'VERSION = %d\nprint("hello from the bench app")\n' "$APP_VERSION" >"$CTX/app/main.py"
}

GZ_ARGS=(--compression gzip --level 6)
step "mldeploy gzip, cold"
ml_build ml_gzip cold_gzip "$R/cache-gzip" "$R/ml-gzip.tar" "${GZ_ARGS[@]}"
done_step ml_gzip
row ml_gzip "mldeploy gzip -6 cold" "$(ml_data ml_gzip size)" "empty cache, $(nproc) threads"

step "mldeploy rebuild, no change"
ml_build ml_noop : "$R/cache-gzip" "$R/ml-gzip.tar" "${GZ_ARGS[@]}"
done_step ml_noop
row ml_noop "mldeploy no-change rebuild" "$(ml_data ml_noop size)" "up_to_date=$(jq -r .up_to_date "$R/ml_noop.out")"

step "mldeploy rebuild, app change"
ml_build ml_app change_app "$R/cache-gzip" "$R/ml-gzip.tar" "${GZ_ARGS[@]}"
done_step ml_app
row ml_app "mldeploy rebuild, 1 app file" "$(ml_data ml_app size)" \
	"data cached=$(ml_data ml_app cached), app cached=$(ml_app ml_app cached)"

step "mldeploy zstd, cold"
ml_build ml_zstd cold_zstd "$R/cache-zstd" "$R/ml-zstd.tar" --compression zstd --level 3
done_step ml_zstd
row ml_zstd "mldeploy zstd -3 cold" "$(ml_data ml_zstd size)" "empty cache, $(nproc) threads"
echo

# --- correctness (not timed) -----------------------------------------------
blob_test() { # TARBALL DIGEST TESTER...: feed the blob to TESTER on stdin
	local tarball=$1 digest=$2
	shift 2
	tar -xOf "$tarball" "blobs/sha256/${digest#sha256:}" | "$@"
}
skopeo_layers() { # TARBALL DIGEST: skopeo sees the image, its digest and 2 layers
	local j
	j=$(skopeo inspect "oci-archive:$1")
	[ "$(jq -r .Digest <<<"$j")" = "$2" ] || { echo "digest $(jq -r .Digest <<<"$j") != $2"; return 1; }
	[ "$(jq '.Layers | length' <<<"$j")" = 2 ] || { echo "layers: $(jq -c .Layers <<<"$j")"; return 1; }
}
is_true() { [ "$1" = true ] || { echo "got '$1'"; return 1; }; }
same() { [ "$1" = "$2" ] || { echo "'$1' != '$2'"; return 1; }; }
differ() { [ "$1" != "$2" ] || { echo "both '$1'"; return 1; }; }

echo "correctness (not timed):"
check "gzip -t on mldeploy's gzip data layer" \
	blob_test "$R/ml-gzip.tar" "$(ml_data ml_gzip digest)" gzip -t
if have zstd; then
	check "zstd -t on mldeploy's zstd data layer" \
		blob_test "$R/ml-zstd.tar" "$(ml_data ml_zstd digest)" zstd -q -t
fi
check "data layer holds all input bytes (uncompressed_size >= input)" \
	test "$(ml_data ml_gzip uncompressed_size)" -ge "$IN_BYTES"
check "no-change rebuild reports up_to_date" is_true "$(jq -r .up_to_date "$R/ml_noop.out")"
check "no-change rebuild keeps the image digest" \
	same "$(jq -r .digest "$R/ml_noop.out")" "$(jq -r .digest "$R/ml_gzip.out")"
check "app-change rebuild reuses the data layer" is_true "$(ml_data ml_app cached)"
check "app-change rebuild keeps the data layer digest" \
	same "$(ml_data ml_app digest)" "$(ml_data ml_gzip digest)"
check "app-change rebuild changes the app layer" \
	differ "$(ml_app ml_app digest)" "$(ml_app ml_gzip digest)"
if have skopeo; then
	check "skopeo inspect oci-archive: (gzip image, after app change)" \
		skopeo_layers "$R/ml-gzip.tar" "$(jq -r .digest "$R/ml_app.out")"
	check "skopeo inspect oci-archive: (zstd image)" \
		skopeo_layers "$R/ml-zstd.tar" "$(jq -r .digest "$R/ml_zstd.out")"
fi
echo

# --- report ------------------------------------------------------------------
echo "results: $IN_MIB MiB input, $(nproc) CPUs, load after run $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  MiB/s = input MiB / wall; ratio = input bytes / compressed bytes;"
echo "  out = compressed data layer (mldeploy, umoci) or compressed tar stream (peers);"
echo "  cpu = user + system time of all its processes; RSS = peak of the largest"
echo "  single process (GNU time %M);"
echo "  other = CPUs kept busy by other processes meanwhile (0 = quiet machine, $(nproc) = all)"
printf '%-30s %7s %7s %8s %8s %6s %8s %6s  %s\n' "command" "wall s" "cpu s" "MiB/s" "out MiB" "ratio" "RSS MiB" "other" "note"
printf '%-30s %7s %7s %8s %8s %6s %8s %6s  %s\n' "-------" "------" "-----" "-----" "-------" "-----" "-------" "-----" "----"
for n in "${ORDER[@]}"; do
	printf '%-30s %7.2f %7.2f %8.1f %8.1f %6.3f %8.1f %6.2f  %s\n' "${LABEL[$n]}" "${WALL[$n]}" "${CPU[$n]}" \
		"$(calc "$IN_BYTES / 1048576 / (${WALL[$n]} > 0 ? ${WALL[$n]} : 0.005)" %.1f)" \
		"$(calc "${OUT[$n]} / 1048576" %.1f)" \
		"$(calc "$IN_BYTES / ${OUT[$n]}" %.3f)" \
		"$(calc "${RSS[$n]} / 1024" %.1f)" "${OTHER[$n]}" "${NOTE[$n]}"
done
echo

# cpu_vs A B: A's CPU time relative to B's
cpu_vs() {
	if [ -n "${CPU[$2]:-}" ]; then
		calc "${CPU[$1]} / (${CPU[$2]} > 0 ? ${CPU[$2]} : 0.005)" "%.2fx the CPU time"
	else
		echo "n/a"
	fi
}
# speedup A B: A's speed relative to B's ("2.00x faster": half B's time)
speedup() {
	local a=${WALL[$1]} b=${WALL[$2]:-}
	if [ -z "$b" ]; then
		echo "n/a (peer skipped)"
	elif [ "$(calc "$a <= $b" %d)" = 1 ]; then
		calc "$b / ($a > 0 ? $a : 0.005)" "%.2fx faster"
	else
		calc "$a / ($b > 0 ? $b : 0.005)" "%.2fx slower"
	fi
}
# size A B: A's output relative to B's, in percent
size_vs() {
	if [ -n "${OUT[$2]:-}" ]; then
		calc "(${OUT[$1]} / ${OUT[$2]} - 1) * 100" "%+.1f%% size"
	else
		echo "n/a"
	fi
}
verdict() { # VALUE TARGET: ok if VALUE <= TARGET
	if [ "$(calc "$1 <= $2 ? 1 : 0" %d)" = 1 ]; then
		echo "meets target"
	else
		echo "MISSES target"
	fi
}
rss_mib=$(calc "${RSS[ml_gzip]} / 1024" %.1f)
rss_zstd_mib=$(calc "${RSS[ml_zstd]} / 1024" %.1f)
echo "ratios:"
echo "  mldeploy gzip vs umoci repack : $(speedup ml_gzip umoci), $(size_vs ml_gzip umoci), $(cpu_vs ml_gzip umoci)"
echo "  mldeploy gzip vs pigz -6      : $(speedup ml_gzip pigz), $(size_vs ml_gzip pigz), $(cpu_vs ml_gzip pigz)"
echo "  mldeploy gzip vs gzip -6      : $(speedup ml_gzip gzip), $(size_vs ml_gzip gzip), $(cpu_vs ml_gzip gzip)"
echo "  mldeploy zstd vs zstd -3 -T0  : $(speedup ml_zstd zstd), $(size_vs ml_zstd zstd), $(cpu_vs ml_zstd zstd)"
echo "  mldeploy zstd vs mldeploy gzip: $(speedup ml_zstd ml_gzip), $(size_vs ml_zstd ml_gzip)"
echo "  peak RSS, gzip cold build     : $rss_mib MiB vs ${RSS_TARGET_MIB} MiB target: $(verdict "$rss_mib" "$RSS_TARGET_MIB")"
echo "  peak RSS, zstd cold build     : $rss_zstd_mib MiB vs ${RSS_TARGET_MIB} MiB target: $(verdict "$rss_zstd_mib" "$RSS_TARGET_MIB")"
echo "  no-change rebuild             : ${WALL[ml_noop]} s vs ${NOOP_TARGET_S} s target: $(verdict "${WALL[ml_noop]}" "$NOOP_TARGET_S")"
echo "  rebuild after 1 app file      : ${WALL[ml_app]} s ($(speedup ml_app ml_gzip) than the cold build)"

# --- machine-readable copy -------------------------------------------------
for n in "${ORDER[@]}"; do
	jq -n --arg name "$n" --arg what "${LABEL[$n]}" --arg note "${NOTE[$n]}" \
		--argjson wall "${WALL[$n]}" --argjson rss "${RSS[$n]}" --argjson out "${OUT[$n]}" \
		--argjson cpu "${CPU[$n]}" --argjson other "${OTHER[$n]}" \
		'{name: $name, command: $what, wall_s: $wall, cpu_s: $cpu, peak_rss_kib: $rss, out_bytes: $out,
		  other_cpus: $other, note: $note}'
done | jq -s --argjson in_bytes "$IN_BYTES" --argjson cpus "$(nproc)" --argjson fails "$FAILS" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	--argjson repeat "$BENCH_REPEAT" \
	'{date: $date, cpus: $cpus, input_bytes: $in_bytes, repeat: $repeat,
	  correctness_failures: $fails, results: .}' \
	>"$BENCH_DIR/results.json"
echo
echo "results also written to $BENCH_DIR/results.json"


push_rc=0 pydeps_rc=0 deploy_rc=0
if [ "$BENCH_ONLY" = all ]; then
	# This run's scratch dir (GiBs of outputs and caches) goes before the next one.
	bench_cleanup
	trap - EXIT
	echo
	echo "=== push benchmark (bench/push.sh) ==="
	MLDEPLOY=$MLDEPLOY "$here/push.sh" || push_rc=$?
	echo
	echo "=== Python dependencies benchmark (bench/pydeps.sh) ==="
	MLDEPLOY=$MLDEPLOY "$here/pydeps.sh" || pydeps_rc=$?
	echo
	echo "=== deploy benchmark (bench/deploy.sh) ==="
	MLDEPLOY=$MLDEPLOY "$here/deploy.sh" || deploy_rc=$?
fi
[ "$FAILS" = 0 ] || die "$FAILS correctness check(s) failed in the build benchmark"
[ "$push_rc" = 0 ] || exit "$push_rc"
[ "$pydeps_rc" = 0 ] || exit "$pydeps_rc"
[ "$deploy_rc" = 0 ] || exit "$deploy_rc"
