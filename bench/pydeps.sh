#!/usr/bin/env bash
# bench/pydeps.sh — Python dependencies benchmark: `mldeploy build` with
# image.python against `pip install --target` + `tar | gzip -6`, on the same
# generated wheels (bench/make-wheels.py). See bench/README.md.
#
# Environment:
#   MLDEPLOY          binary under test (default: ../mldeploy next to this script)
#   BENCH_PYDEPS_MB   size of the wheels in MiB (default 300; 30 for a quick run)
#   BENCH_DIR         work dir (default /tmp/mldeploy-bench); the wheels and the
#                     context in BENCH_DIR/pyctx-<MB> are kept and reused,
#                     everything else goes to BENCH_DIR/pydeps.* and is removed
#   BENCH_TIMEOUT     limit per measured command, seconds (default 300)
#   BENCH_REPEAT      repetitions of each measurement, the fastest is kept (default 1)
#   BENCH_KEEP=1      keep this run's scratch dir (images, caches, pip's dirs)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

BENCH_PYDEPS_MB=${BENCH_PYDEPS_MB:-300}
BENCH_REPEAT=${BENCH_REPEAT:-1}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
BENCH_DIR=${BENCH_DIR:-/tmp/mldeploy-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
MLDEPLOY=${MLDEPLOY:-$here/../mldeploy}
PY=/usr/bin/python3
SITE=usr/local/lib/python3.11/site-packages # image.python.site_packages, no leading /
SPEEDUP_TARGET=1.5

# --- preflight -------------------------------------------------------------
for v in BENCH_PYDEPS_MB BENCH_TIMEOUT BENCH_REPEAT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v='${!v}' must be a positive whole number"
done
[ -x "$MLDEPLOY" ] || die "no mldeploy binary at '$MLDEPLOY' (run make, or set MLDEPLOY)"
MLDEPLOY=$(realpath "$MLDEPLOY")
[[ $(/usr/bin/time --version 2>&1) == *GNU* ]] || die "needs GNU time at /usr/bin/time (Debian package 'time')"
"$PY" -m pip --version >/dev/null 2>&1 || die "needs Debian's pip: $PY -m pip (package python3-pip)"
for tool in jq tar gzip diff timeout awk; do
	command -v "$tool" >/dev/null || die "needs '$tool'"
done

bench_scratch pydeps

# --- context: the wheels (cached), requirements.txt, deploy.yaml, app/ ------------
CTX=$BENCH_DIR/pyctx-$BENCH_PYDEPS_MB
mkdir -p "$CTX/app"
"$PY" "$here/make-wheels.py" "$CTX/wheels" "$BENCH_PYDEPS_MB"
{
	printf -- '--no-index\n--find-links wheels\n'
	for w in "$CTX"/wheels/*.whl; do
		w=${w##*/}
		IFS=- read -r dist ver _ <<<"$w"
		echo "$dist==$ver"
	done
} >"$CTX/requirements.txt"
# The brief's image, plus a one-file app layer for the code-change rebuild.
cat >"$CTX/deploy.yaml" <<'EOF'
name: pybench
image:
  base: scratch
  platform: linux/amd64
  python:
    requirements: requirements.txt
    version: "3.11"
    site_packages: /usr/local/lib/python3.11/site-packages
    platform_tags: [manylinux_2_17_x86_64]
  copy:
    - { src: app/, dst: /app/ }
EOF
APP_VERSION=1
set_app() { printf 'VERSION = %d\nprint("hello from the pydeps bench app")\n' "$APP_VERSION" >"$CTX/app/main.py"; }
set_app

NWHEELS=$(find "$CTX/wheels" -name '*.whl' | wc -l)
WHL_BYTES=$(find "$CTX/wheels" -name '*.whl' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
WHL_MIB=$(calc "$WHL_BYTES / 1048576" %.1f)
echo "machine:  $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wheels:   $NWHEELS wheels, $WHL_MIB MiB ($CTX/wheels)"
echo "mldeploy: $("$ML" --version 2>&1 | head -n 1) (copy of $MLDEPLOY)"
echo "pip:      $("$PY" -m pip --version | cut -d' ' -f1-2) ($PY $("$PY" -c 'import platform; print(platform.python_version())'))"
echo "page cache: the context (wheels) is read once after a sync before each command"
echo

# --- measurements ------------------------------------------------------------
declare -A LABEL=() OUT=() NOTE=()
ORDER=()
add_row() { ORDER+=("$1"); LABEL[$1]=$2; OUT[$1]=$3; NOTE[$1]=$4; } # NAME LABEL OUT_BYTES NOTE
announce() { printf '  %-36s' "$1..."; }
took() { printf ' %7.2f s, %.2f s CPU (other load %.2f CPUs)\n' "${WALL[$1]}" "${CPU[$1]}" "${OTHER[$1]}"; }
pylayer() { jq -r ".layers[] | select(.name == \"python\") | .$2" "$R/$1.best.out"; } # NAME FIELD

ML_CMD=(env MLDEPLOY_CACHE_DIR="$R/cache" "$ML" -C "$CTX" --no-progress --json
	build -o "$R/ml.tar" --compression gzip --level 6)
ml_cold_prep() { rm -rf "$R/cache" "$R/ml.tar"; }
ml_code_prep() { APP_VERSION=$((APP_VERSION + 1)); set_app; }

# pip as users run it, then the layer a Dockerfile-less flow would make of its dir.
# PIP_* only keep the caller's pip settings and the network out.
# shellcheck disable=SC2016  # expanded by the inner bash
PIP_CMD=(env PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
	PIP_ROOT_USER_ACTION=ignore bash -c
	'set -eo pipefail
	"$1" -m pip install --target "$2" --no-index --find-links "$3/wheels" -r "$3/requirements.txt" "${@:5}"
	tar -C "$2" -cf - . | gzip -6 >"$4"' pip-layer "$PY")
pip_prep() { rm -rf "$R/site" "$R/pip.tar.gz"; }

echo "measuring (best of $BENCH_REPEAT):"
announce "mldeploy build, cold cache"
measure ml_cold "$CTX" ml_cold_prep "${ML_CMD[@]}"
took ml_cold
add_row ml_cold "mldeploy gzip -6 cold" "$(pylayer ml_cold size)" "empty cache; $(pylayer ml_cold files) files"
cp "$R/ml.tar" "$R/ml-cold.tar"

announce "mldeploy rebuild, 1 app file"
measure ml_code "$CTX" ml_code_prep "${ML_CMD[@]}"
took ml_code
add_row ml_code "mldeploy code-change rebuild" "$(pylayer ml_code size)" "warm cache; python layer cached=$(pylayer ml_code cached)"

announce "pip install --target + tar | gzip"
measure pip "$CTX" pip_prep "${PIP_CMD[@]}" "$R/site" "$CTX" "$R/pip.tar.gz"
took pip
add_row pip "pip install + tar | gzip -6" "$(fsize "$R/pip.tar.gz")" "pip's defaults (compiles .pyc)"
mv "$R/site" "$R/site-default"
mv "$R/pip.tar.gz" "$R/pip-default.tar.gz"

announce "same, pip --no-compile"
measure pip_nc "$CTX" pip_prep "${PIP_CMD[@]}" "$R/site" "$CTX" "$R/pip.tar.gz" --no-compile
took pip_nc
add_row pip_nc "pip --no-compile + tar | gzip -6" "$(fsize "$R/pip.tar.gz")" "no .pyc, as mldeploy"
echo

# --- correctness (not timed) -----------------------------------------------
# mldeploy's python layer, unpacked under $R/ml-layer.
mkdir -p "$R/ml-layer"
PY_DIGEST=$(pylayer ml_cold digest)
layer_blob() { tar -xOf "$R/ml-cold.tar" "blobs/sha256/${PY_DIGEST#sha256:}"; }
layer_blob | tar -xzf - -C "$R/ml-layer"
py_files() { (cd "$1" && find . -name '*.py' -not -path './bin/*' | LC_ALL=C sort); } # DIR
same_py() { # PIP_DIR
	py_files "$R/ml-layer/$SITE" >"$R/py.ml"
	py_files "$1" >"$R/py.pip"
	[ -s "$R/py.pip" ] || { echo "no .py file in $1"; return 1; }
	diff "$R/py.ml" "$R/py.pip" >"$R/py.diff" ||
		{ echo "$(grep -c '^[<>]' "$R/py.diff") .py paths differ (< mldeploy, > pip), e.g.:"; head -n 3 "$R/py.diff"; return 1; }
}
same_files() { diff -r -x __pycache__ -x '*.dist-info' "$R/ml-layer/$SITE" "$1"; }
is_val() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }

echo "correctness (not timed):"
layer_gzip_ok() { layer_blob | gzip -t; }
check "gzip -t on mldeploy's python layer" layer_gzip_ok
check "gzip -t on pip's tar.gz (default, --no-compile)" gzip -t "$R/pip-default.tar.gz" "$R/pip.tar.gz"
check "same *.py files as pip's --target dir (default)" same_py "$R/site-default"
check "same *.py files as pip's --target dir (--no-compile)" same_py "$R/site"
check "same package files and bytes as pip's (diff -r, no .dist-info, __pycache__)" same_files "$R/site"
check "code-change rebuild reuses the python layer" is_val "$(pylayer ml_code cached)" true
check "code-change rebuild keeps the python layer digest" is_val "$(pylayer ml_code digest)" "$PY_DIGEST"
echo

# --- report ------------------------------------------------------------------
INST_MIB=$(calc "$(pylayer ml_cold uncompressed_size) / 1048576" %.1f)
echo "results: $NWHEELS wheels, $WHL_MIB MiB ($INST_MIB MiB of layer tar), $(nproc) CPUs, load after run $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  out = compressed python layer (mldeploy) or pip dir's .tar.gz; MiB/s = wheel MiB / wall;"
echo "  cpu = user + system of all its processes; RSS = peak of the largest single"
echo "  process (GNU time %M); other = CPUs kept busy by other processes meanwhile"
tbl='%-34s %7s %7s %8s %8s %8s %6s  %s\n'
# shellcheck disable=SC2059  # the format is ours
printf "$tbl" command "wall s" "cpu s" "MiB/s" "out MiB" "RSS MiB" other note
# shellcheck disable=SC2059
printf "$tbl" ------- ------ ----- ----- ------- ------- ----- ----
for n in "${ORDER[@]}"; do
	# shellcheck disable=SC2059
	printf "$tbl" "${LABEL[$n]}" "${WALL[$n]}" "${CPU[$n]}" \
		"$(calc "$WHL_BYTES / 1048576 / (${WALL[$n]} > 0 ? ${WALL[$n]} : 0.005)" %.1f)" \
		"$(calc "${OUT[$n]} / 1048576" %.1f)" "$(calc "${RSS[$n]} / 1024" %.1f)" \
		"$(calc "${OTHER[$n]}" %.2f)" "${NOTE[$n]}"
done
echo

faster() { calc "${WALL[$1]} / (${WALL[$2]} > 0 ? ${WALL[$2]} : 0.005)" %.2f; } # SLOW FAST
reach() { # RATIO: against SPEEDUP_TARGET, higher is better
	if [ "$(calc "$SPEEDUP_TARGET <= $1 ? 1 : 0" %d)" = 1 ]; then echo "meets target"; else echo "MISSES target"; fi
}
r_pip=$(faster pip ml_cold)
r_nc=$(faster pip_nc ml_cold)
echo "ratios (pip path wall / mldeploy wall; above 1 = mldeploy faster):"
echo "  pip install + tar | gzip -6       : ${r_pip}x vs ${SPEEDUP_TARGET}x target: $(reach "$r_pip")"
echo "  pip --no-compile + tar | gzip -6  : ${r_nc}x vs ${SPEEDUP_TARGET}x target: $(reach "$r_nc")"
echo "  code-change rebuild vs cold build : $(faster ml_cold ml_code)x faster (${WALL[ml_code]} s)"
echo "  compressed size vs pip's          : $(calc "(${OUT[ml_cold]} / ${OUT[pip_nc]} - 1) * 100" %+.1f)% (--no-compile), $(calc "(${OUT[ml_cold]} / ${OUT[pip]} - 1) * 100" %+.1f)% (default, with .pyc)"

# --- machine-readable copy -------------------------------------------------
for n in "${ORDER[@]}"; do
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${LABEL[$n]}" "${WALL[$n]}" "${CPU[$n]}" \
		"${RSS[$n]}" "${OUT[$n]}" "${OTHER[$n]}" "${NOTE[$n]}"
done | jq -R -s --argjson whl "$WHL_BYTES" --argjson wheels "$NWHEELS" --argjson fails "$FAILS" \
	--argjson mb "$BENCH_PYDEPS_MB" --argjson repeat "$BENCH_REPEAT" --argjson cpus "$(nproc)" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	'{date: $date, cpus: $cpus, pydeps_mb: $mb, wheels: $wheels, wheel_bytes: $whl,
	  repeat: $repeat, correctness_failures: $fails,
	  results: [split("\n")[] | select(length > 0) | split("\t") |
	    {name: .[0], command: .[1], wall_s: (.[2] | tonumber), cpu_s: (.[3] | tonumber),
	     peak_rss_kib: (.[4] | tonumber), out_bytes: (.[5] | tonumber),
	     other_cpus: (.[6] | tonumber), note: .[7]}]}' >"$BENCH_DIR/pydeps-results.json"
echo
echo "results also written to $BENCH_DIR/pydeps-results.json"

[ "$FAILS" = 0 ] || die "$FAILS correctness check(s) failed in the Python dependencies benchmark"
