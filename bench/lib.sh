# shellcheck shell=bash disable=SC2034  # WALL, CPU, RSS, OTHER, SIDE_* are read by run.sh, push.sh
# bench/lib.sh — helpers sourced by bench/run.sh and bench/push.sh.
#
# Expects: R (this run's scratch dir), BENCH_TIMEOUT (seconds per command),
# BENCH_REPEAT (repetitions per measurement, the fastest one is kept).
#
#   bench_context CTX SIZE_MB   create (or reuse) the build context with
#                               make-context.sh; (re)write app/main.py
#                               (VERSION = 1) and deploy.yaml (layers data/, app/)
#   free_port                   print a free TCP port on 127.0.0.1
#   warm DIR                    sync, then read every file under DIR once (page cache)
#   measure NAME DIR PREP CMD...
#                               BENCH_REPEAT times: run PREP (a command, e.g. a
#                               function; ':' for none; not timed), warm DIR, run
#                               CMD under GNU time and timeout; stdout -> $R/NAME.out,
#                               stderr -> $R/NAME.err (of the last repetition; those
#                               of the fastest are copied to $R/NAME.best.out/.err,
#                               and .trace when the script writes $R/NAME.trace).
#                               A script may define measure_before NAME I and
#                               measure_after NAME I, run around each repetition.
#                               Keeps the fastest repetition (by WALL_HR): WALL[NAME] (s),
#                               WALL_HR[NAME] (s, 4 decimals: bash's EPOCHREALTIME
#                               around timeout + GNU time, so their start-up of
#                               ~2 ms included; for sub-second commands),
#                               CPU[NAME] (user + system s), RSS[NAME] (peak KiB),
#                               OTHER[NAME] (CPUs kept busy by other processes of
#                               the machine during that repetition)
#                               If BENCH_SIDE_PID names a process (PREP may set it,
#                               e.g. a server the command talks to), its CPU time is
#                               left out of OTHER and kept apart: SIDE_CPU[NAME] (s)
#                               and SIDE_READ[NAME] (bytes it read, /proc/PID/io
#                               rchar: what a registry received), else both are 0.
#   fsize FILE                  size of FILE in bytes
#   calc EXPR [FMT]             evaluate an awk expression, print it with FMT (%.2f)
#   check DESC CMD...           run CMD quietly; print ok/FAIL; count failures in FAILS
#   die MSG...                  print to stderr, exit 1

declare -A WALL=() WALL_HR=() CPU=() RSS=() OTHER=() SIDE_CPU=() SIDE_READ=()
FAILS=0
CLK_TCK=$(getconf CLK_TCK)
BENCH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
	echo "bench: $*" >&2
	exit 1
}

calc() {
	awk "BEGIN { printf \"${2:-%.2f}\", $1 }"
}

fsize() {
	stat -c %s "$1"
}

bench_context() {
	local ctx=$1 size_mb=$2
	"$BENCH_LIB_DIR/make-context.sh" "$ctx" "$size_mb"
	rm -rf "$ctx/app"
	mkdir -p "$ctx/app"
	printf 'VERSION = 1\nprint("hello from the bench app")\n' >"$ctx/app/main.py"
	cat >"$ctx/deploy.yaml" <<'EOF'
name: bench
image:
  base: scratch
  copy:
    - { src: data/, dst: /data/ }
    - { src: app/, dst: /app/ }
EOF
}

# bench_scratch NAME: a scratch dir $R (removed at exit unless BENCH_KEEP=1), a
# private copy of the binary in $ML, and none of the caller's MLDEPLOY_* settings.
# A script with more to tear down defines bench_teardown, called first.
bench_scratch() {
	while read -r v; do unset "$v"; done < <(compgen -e | grep '^MLDEPLOY_' || true)
	mkdir -p "$BENCH_DIR"
	R=$(mktemp -d "$BENCH_DIR/$1.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$R/tmp" "$R/xdg"
	# A private copy: a rebuild of the tree during the run must not swap the binary.
	cp "$MLDEPLOY" "$R/mldeploy"
	ML=$R/mldeploy
	export TMPDIR=$R/tmp XDG_CACHE_HOME=$R/xdg
}

bench_cleanup() {
	if declare -F bench_teardown >/dev/null; then
		bench_teardown
	fi
	if [ "$BENCH_KEEP" = 1 ]; then
		echo "bench: kept $R" >&2
	else
		rm -rf "$R"
	fi
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# GNU tar skips reading file data when the archive is /dev/null, so the stream
# goes through a pipe to be really read.
warm() {
	sync
	tar -C "$(dirname "$1")" -cf - "$(basename "$1")" | cat >/dev/null
}

# Busy CPU time of the whole machine, in clock ticks (user, nice, system, irq,
# softirq, steal).
cpu_busy() {
	awk '/^cpu / { printf "%.0f\n", $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# "TICKS RCHAR" of process PID (CPU time of all its threads in clock ticks, bytes
# read); "0 0" without a PID or once it is gone.
side_stats() {
	local pid=${1:-} t
	if [ -n "$pid" ] && t=$(cat "/proc/$pid/stat" "/proc/$pid/io" 2>/dev/null); then
		# stat: after "PID (COMM) ", utime and stime are fields 12 and 13
		awk 'NR == 1 { sub(/^.*\) /, ""); t = $12 + $13 } /^rchar:/ { r = $2 }
			END { printf "%.0f %.0f\n", t, r }' <<<"$t"
	else
		echo "0 0"
	fi
}

measure_once() { # NAME CMD...: sets wall, wall_hr, cpu, rss, other, side_cpu, side_read
	local name=$1 b0 b1 t utime stime s0t s0r s1t s1r e0 e1
	shift
	read -r s0t s0r <<<"$(side_stats "${BENCH_SIDE_PID:-}")"
	b0=$(cpu_busy)
	e0=$EPOCHREALTIME
	if ! timeout "$BENCH_TIMEOUT" /usr/bin/time -f '%e %M %U %S' -o "$R/$name.time" "$@" \
		>"$R/$name.out" 2>"$R/$name.err"; then
		echo "bench: '$name' failed or timed out after ${BENCH_TIMEOUT}s: $*" >&2
		tail -n 20 "$R/$name.err" >&2
		exit 1
	fi
	e1=$EPOCHREALTIME
	b1=$(cpu_busy)
	read -r s1t s1r <<<"$(side_stats "${BENCH_SIDE_PID:-}")"
	# a side process gone meanwhile counts as idle
	if [ "$s1t" -lt "$s0t" ] || [ "$s1r" -lt "$s0r" ]; then
		s1t=$s0t s1r=$s0r
	fi
	t=$(tail -n 1 "$R/$name.time")
	read -r wall rss utime stime <<<"$t"
	wall_hr=$(calc "$e1 - $e0" %.4f)
	cpu=$(calc "$utime + $stime")
	side_cpu=$(calc "($s1t - $s0t) / $CLK_TCK")
	side_read=$((s1r - s0r))
	# Busy time of the machine minus our own (and the side process's), per second
	# of wall time.
	other=$(calc "($b1 - $b0) / $CLK_TCK - $cpu - $side_cpu")
	other=$(calc "($other > 0 ? $other : 0) / ($wall > 0.05 ? $wall : 0.05)")
}

measure() {
	local name=$1 dir=$2 prep=$3 i f wall wall_hr cpu rss other side_cpu side_read
	shift 3
	for ((i = 0; i < BENCH_REPEAT; i++)); do
		"$prep"
		warm "$dir"
		! declare -F measure_before >/dev/null || measure_before "$name" "$i"
		measure_once "$name" "$@"
		! declare -F measure_after >/dev/null || measure_after "$name" "$i"
		if [ -z "${WALL_HR[$name]:-}" ] || [ "$(calc "$wall_hr < ${WALL_HR[$name]}" %d)" = 1 ]; then
			WALL[$name]=$wall
			WALL_HR[$name]=$wall_hr
			CPU[$name]=$cpu
			RSS[$name]=$rss
			OTHER[$name]=$other
			SIDE_CPU[$name]=$side_cpu
			SIDE_READ[$name]=$side_read
			for f in out err trace; do
				[ ! -e "$R/$name.$f" ] || cp "$R/$name.$f" "$R/$name.best.$f"
			done
		fi
	done
}

check() {
	local desc=$1
	shift
	if "$@" >"$R/check.log" 2>&1; then
		printf '  ok    %s\n' "$desc"
	else
		printf '  FAIL  %s\n' "$desc"
		sed 's/^/        /' "$R/check.log" | tail -n 5
		FAILS=$((FAILS + 1))
	fi
}
