#!/usr/bin/env bash
# Runs libFuzzer targets one after the other and prints one line per target;
# exits 1 when any of them found a crash, a leak or a timeout.
#
# usage: tests/fuzz/run.sh [-d BUILD] [-t SECONDS] [-l MAX_LEN] [-T TIMEOUT] NAME...
#   runs BUILD/fuzz-NAME (BUILD defaults to .obj-fuzz) on tests/fuzz/corpus/NAME
set -euo pipefail

fuzzdir=$(cd "$(dirname "$0")" && pwd)
build=.obj-fuzz
seconds=30
max_len=65536
timeout=10

while getopts 'd:t:l:T:h' opt; do
	case $opt in
	d) build=$OPTARG ;;
	t) seconds=$OPTARG ;;
	l) max_len=$OPTARG ;;
	T) timeout=$OPTARG ;;
	*)
		sed -n '5,6s/^# \{0,1\}//p' "$0" >&2
		exit 2 ;;
	esac
done
shift $((OPTIND - 1))

mkdir -p "$build/crashes" "$build/logs"
failed=0
for name in "$@"; do
	bin=$build/fuzz-$name
	log=$build/logs/$name.log
	mkdir -p "$build/corpus/$name"
	args=(-max_len="$max_len" -max_total_time="$seconds" -timeout="$timeout"
	      -print_final_stats=1 -artifact_prefix="$build/crashes/$name-")
	if [ -f "$fuzzdir/$name.dict" ]; then
		args+=(-dict="$fuzzdir/$name.dict")
	fi
	status=0
	"$bin" "${args[@]}" "$build/corpus/$name" "$fuzzdir/corpus/$name" >"$log" 2>&1 ||
		status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if [ "$status" -eq 0 ]; then
		printf '  FUZZ    %-10s ok: %s runs, %s exec/s\n' "$name" "${runs:-?}" "${speed:-?}"
	else
		printf '  FUZZ    %-10s FAILED (status %d), see %s\n' "$name" "$status" "$log"
		{ grep -aE 'ERROR|invariant broken|^(input|output) |SUMMARY|Test unit written' "$log" ||
			true; } | head -n 10 | sed 's/^/          /'
		failed=1
	fi
done
exit "$failed"
