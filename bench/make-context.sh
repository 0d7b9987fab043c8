#!/usr/bin/env bash
# bench/make-context.sh — create (or reuse) the benchmark's build context.
#
# usage: bench/make-context.sh CTX SIZE_MB
#
# CTX/data/ receives about SIZE_MB MiB of real binaries: regular *.so* files
# from /usr/lib/x86_64-linux-gnu, then Python extension modules, then other
# binaries (/usr/lib/gcc, /usr/libexec, /usr/bin) if the libraries are short.
# Files keep their path under data/ (data/usr/lib/...). Within each group they
# are taken in a shuffled but fixed order (so a small context is a mix of big
# and small files, and the same machine gives the same context), skipping a
# file that would overshoot, until the total reaches SIZE_MB. CTX.stamp records SIZE_MB; a context whose stamp matches is
# reused as is. The context is built in CTX.new and renamed when complete, so
# an interrupted run never leaves a half-filled context that looks reusable.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 CTX SIZE_MB" >&2
	exit 2
fi
ctx=$1
size_mb=$2
case $size_mb in
'' | *[!0-9]*)
	echo "make-context: size '$size_mb' is not a number of MiB" >&2
	exit 2
	;;
esac

stamp="$size_mb MiB, recipe 2"
if [ -d "$ctx/data" ] && [ "$(cat "$ctx.stamp" 2>/dev/null || true)" = "$stamp" ]; then
	exit 0
fi

target=$((size_mb * 1048576))
new=$ctx.new
rm -rf "$new" "$ctx" "$ctx.stamp"
trap 'rm -rf "$new"' EXIT
mkdir -p "$new/data"
list=$new/files.list

# A fixed permutation: sort, then shuffle with a constant random source.
fixed_shuffle() {
	sort -z -k2 | shuf -z --random-source=<(yes mldeploy-bench)
}

# Candidate files, NUL-separated "SIZE PATH" records, in a fixed order.
candidates() {
	local d
	{
		find /usr/lib/x86_64-linux-gnu -type f -name '*.so*' -readable -printf '%s %p\0' 2>/dev/null || true
	} | fixed_shuffle
	for d in /usr/lib/python3* /usr/local/lib/python3*; do
		[ -d "$d" ] || continue
		find "$d" -type f -name '*.so*' -readable -printf '%s %p\0' 2>/dev/null || true
	done | fixed_shuffle
	for d in /usr/lib/gcc /usr/libexec /usr/bin; do
		[ -d "$d" ] || continue
		find "$d" -type f ! -name '*.so*' -readable -size +0 -printf '%s %p\0' 2>/dev/null || true
	done | fixed_shuffle
}

total=0
: >"$list"
while IFS= read -r -d '' rec; do
	[ $((target - total)) -gt 65536 ] || break
	size=${rec%% *}
	[ $((total + size)) -le "$target" ] || continue
	printf '%s\0' "${rec#* }" >>"$list"
	total=$((total + size))
done < <(candidates)

if [ ! -s "$list" ]; then
	echo "make-context: no binaries found under /usr to build the context from" >&2
	exit 1
fi
xargs -0 cp --parents -t "$new/data" <"$list"
rm -f "$list"
if [ $((target - total)) -gt 1048576 ]; then
	echo "make-context: only $((total / 1048576)) MiB of binaries found (wanted $size_mb MiB)" >&2
fi
mv "$new" "$ctx"
echo "$stamp" >"$ctx.stamp"
