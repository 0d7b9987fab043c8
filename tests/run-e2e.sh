#!/usr/bin/env bash
# Runs the end-to-end tests tests/e2e/t[0-9]*.sh, each in its own bash process
# with a time limit, and ends with the line "N passed, N failed".
#
# usage: tests/run-e2e.sh [-j JOBS] [-t SECONDS] [TEST...]
#   TEST      a test number (0001), a file name, or a pattern matched against
#             the file name (registry, 't1*'); default: all tests
#   -j JOBS   run JOBS tests at once (default 1)
#   -t SECS   time limit per test (default $E2E_TIMEOUT or 300)
# Environment: MLDEPLOY (binary under test), E2E_KEEP=1 keeps each test's temp dir.
# Logs: tests/out/<test>.log
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/.." && pwd)
jobs=1
limit=${E2E_TIMEOUT:-300}

usage() {
	sed -n '4,9s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while getopts 'j:t:h' opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	t) limit=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
case $jobs$limit in
*[!0-9]*) usage ;;
esac
if [ "$jobs" -lt 1 ] || [ "$limit" -lt 1 ]; then
	usage
fi

export MLDEPLOY=${MLDEPLOY:-$srcdir/mldeploy}
outdir=$srcdir/tests/out
mkdir -p "$outdir"

mapfile -t all < <(find "$here/e2e" -maxdepth 1 -type f -name 't[0-9]*.sh' -printf '%f\n' | LC_ALL=C sort)
tests=()
if [ "$#" -eq 0 ]; then
	tests=("${all[@]}")
else
	declare -A chosen=()
	for arg in "$@"; do
		arg=${arg##*/}
		found=0
		for t in "${all[@]}"; do
			# shellcheck disable=SC2053 # the argument may be a glob pattern
			if [[ $t == t$arg-* || $t == "$arg" || $t == $arg || $t == *$arg* ]]; then
				found=1
				[ -n "${chosen[$t]:-}" ] && continue
				chosen[$t]=1
				tests+=("$t")
			fi
		done
		[ "$found" = 1 ] || {
			printf 'run-e2e: no test matches %s\n' "$arg" >&2
			exit 2
		}
	done
	mapfile -t tests < <(printf '%s\n' "${tests[@]}" | LC_ALL=C sort)
fi

passed=0
failed=0
declare -A running=() started=()

now() {
	date +%s.%N
}

# The name shown for t0001-rig-registry.sh is "0001 rig-registry".
label() {
	local n=${1#t}
	n=${n%.sh}
	printf '%s %s' "${n%%-*}" "${n#*-}"
}

start() {
	local t=$1
	# timeout puts the test in its own process group and signals the whole
	# group, so registries and fakes die with it; -k: KILL after 15 s more.
	timeout -k 15 "$limit" bash "$here/e2e/$t" </dev/null >"$outdir/${t%.sh}.log" 2>&1 &
	running[$!]=$t
	started[$!]=$(now)
}

report() {
	local pid=$1 rc=$2 t=${running[$1]} secs
	secs=$(awk -v a="${started[$1]}" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	unset "running[$pid]" "started[$pid]"
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		printf 'ok %s (%s s)\n' "$(label "$t")" "$secs"
		return
	fi
	failed=$((failed + 1))
	local why="exit $rc"
	if [ "$rc" = 124 ]; then
		why="timed out after $limit s"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	fi
	printf 'FAIL %s (%s, %s s)\n' "$(label "$t")" "$why" "$secs"
	tail -n 25 "$outdir/${t%.sh}.log" | sed 's/^/    | /'
	printf '    log: %s\n' "tests/out/${t%.sh}.log"
}

reap_one() {
	local pid='' rc=0
	wait -n -p pid "${!running[@]}" || rc=$?
	[ -n "$pid" ] || return 0
	report "$pid" "$rc"
}

interrupted() {
	local pid
	trap - INT TERM
	for pid in "${!running[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	wait
	printf 'interrupted\n%s passed, %s failed\n' "$passed" "$((failed + ${#running[@]}))"
	exit 130
}
trap interrupted INT TERM

for t in "${tests[@]}"; do
	while [ "${#running[@]}" -ge "$jobs" ]; do
		reap_one
	done
	start "$t"
done
while [ "${#running[@]}" -gt 0 ]; do
	reap_one
done

printf '%s passed, %s failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
