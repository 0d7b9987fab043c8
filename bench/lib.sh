# shellcheck shell=bash disable=SC2034  # WALL, CPU, RSS, OTHER are read by run.sh
# bench/lib.sh — helpers sourced by bench/run.sh.
#
# Expects: R (this run's scratch dir), BENCH_TIMEOUT (seconds per command),
# BENCH_REPEAT (repetitions per measurement, the fastest one is kept).
#
#   warm DIR                    sync, then read every file under DIR once (page cache)
#   measure NAME DIR PREP CMD...
#                               BENCH_REPEAT times: run PREP (a command, e.g. a
#                               function; ':' for none; not timed), warm DIR, run
#                               CMD under GNU time and timeout; stdout -> $R/NAME.out,
#                               stderr -> $R/NAME.err (of the last repetition).
#                               Keeps the fastest repetition: WALL[NAME] (s),
#                               CPU[NAME] (user + system s), RSS[NAME] (peak KiB),
#                               OTHER[NAME] (CPUs kept busy by other processes of
#                               the machine during that repetition)
#   fsize FILE                  size of FILE in bytes
#   calc EXPR [FMT]             evaluate an awk expression, print it with FMT (%.2f)
#   check DESC CMD...           run CMD quietly; print ok/FAIL; count failures in FAILS
#   die MSG...                  print to stderr, exit 1

declare -A WALL=() CPU=() RSS=() OTHER=()
FAILS=0
CLK_TCK=$(getconf CLK_TCK)

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

# GNU tar skips reading file data when the archive is /dev/null, so the stream
# goes through a pipe to be really read.
warm() {
	sync
	tar -C "$(dirname "$1")" -cf - "$(basename "$1")" | cat >/dev/null
}

# Busy CPU time of the whole machine, in clock ticks (user, nice, system, irq,
# softirq, steal).
cpu_busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

measure_once() { # NAME CMD...: sets wall, cpu, rss, other
	local name=$1 b0 b1 t utime stime
	shift
	b0=$(cpu_busy)
	if ! timeout "$BENCH_TIMEOUT" /usr/bin/time -f '%e %M %U %S' -o "$R/$name.time" "$@" \
		>"$R/$name.out" 2>"$R/$name.err"; then
		echo "bench: '$name' failed or timed out after ${BENCH_TIMEOUT}s: $*" >&2
		tail -n 20 "$R/$name.err" >&2
		exit 1
	fi
	b1=$(cpu_busy)
	t=$(tail -n 1 "$R/$name.time")
	read -r wall rss utime stime <<<"$t"
	cpu=$(calc "$utime + $stime")
	# Busy time of the machine minus our own, per second of wall time.
	other=$(calc "($b1 - $b0) / $CLK_TCK - $cpu")
	other=$(calc "($other > 0 ? $other : 0) / ($wall > 0.05 ? $wall : 0.05)")
}

measure() {
	local name=$1 dir=$2 prep=$3 i wall cpu rss other
	shift 3
	for ((i = 0; i < BENCH_REPEAT; i++)); do
		"$prep"
		warm "$dir"
		measure_once "$name" "$@"
		if [ -z "${WALL[$name]:-}" ] || [ "$(calc "$wall < ${WALL[$name]}" %d)" = 1 ]; then
			WALL[$name]=$wall
			CPU[$name]=$cpu
			RSS[$name]=$rss
			OTHER[$name]=$other
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
