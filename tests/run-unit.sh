#!/usr/bin/env bash
# Runs each unit test binary given as an argument and ends with the line
# "N passed, N failed" (one count per binary). A binary passes when it exits 0.
#
# usage: tests/run-unit.sh [-t SECONDS] BINARY...
#   -t SECS   time limit per binary (default $UNIT_TIMEOUT or 120)
# Logs: tests/out/unit/<binary>.log
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
limit=${UNIT_TIMEOUT:-120}

while getopts 't:h' opt; do
	case $opt in
	t) limit=$OPTARG ;;
	*)
		sed -n '4,6s/^# \{0,1\}//p' "$0" >&2
		exit 2 ;;
	esac
done
shift $((OPTIND - 1))

outdir=$srcdir/tests/out/unit
mkdir -p "$outdir"
# A sanitizer report must end the binary with a signal, not with a status a
# test might expect.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-abort_on_error=1:halt_on_error=1:print_stacktrace=1}

passed=0
failed=0
for bin in "$@"; do
	name=${bin##*/}
	log=$outdir/$name.log
	rc=0
	t0=$(date +%s.%N)
	if [ -x "$bin" ] && [ -f "$bin" ]; then
		timeout -k 5 "$limit" "$bin" </dev/null >"$log" 2>&1 || rc=$?
	else
		printf 'not an executable file: %s\n' "$bin" >"$log"
		rc=127
	fi
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		printf 'ok %s (%s s)\n' "$name" "$secs"
		continue
	fi
	failed=$((failed + 1))
	why="exit $rc"
	if [ "$rc" = 124 ]; then
		why="timed out after $limit s"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	fi
	printf 'FAIL %s (%s, %s s)\n' "$name" "$why" "$secs"
	tail -n 40 "$log" | sed 's/^/    | /'
	printf '    log: %s\n' "${log#"$srcdir"/}"
done

printf '%s passed, %s failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
