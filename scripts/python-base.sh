#!/usr/bin/env bash
# Builds an offline stand-in for Docker Hub's python:3.11-slim and pushes it to
# a registry, for the README's air-gapped route and for the tests.
#
# It is NOT the Docker Hub image: it is a Debian bookworm minbase rootfs
# (debootstrap) carrying Debian's python3 (3.11 in bookworm) and no Python
# packages: the example's Flask, gunicorn and scikit-learn come as wheels
# through image.python (offline: wheels made from Debian packages by
# scripts/debian-wheels.py). Those Debian-made numpy, scipy and scikit-learn
# link against system libraries that PyPI's manylinux wheels bundle instead
# (BLAS/LAPACK, gfortran, OpenMP, L-BFGS-B), so the image carries those, and
# nothing else beyond python3 and CA certificates. Config: Env PATH,
# LANG=C.UTF-8; Cmd ["python3"]. The OCI layout is cached, so a second run
# only pushes.
set -euo pipefail

prog=${0##*/}
usage() {
	cat >&2 <<EOF
usage: $prog [options] REG_ADDR [REPO:TAG]
       $prog [options] --no-push

Builds a Debian bookworm image with python3 and the native libraries the
Debian-made numpy/scipy/scikit-learn wheels (scripts/debian-wheels.py) load
(a stand-in for Docker Hub's python:3.11-slim, which it is not) and
pushes it to REG_ADDR/REPO:TAG (default REPO:TAG: library/python:3.11-slim).
Needs root (debootstrap) and the Debian mirror; takes about 2 minutes the
first time. The OCI layout is cached in
  \${XDG_CACHE_HOME:-\$HOME/.cache}/mldeploy-example/
and its path printed, usable as "base: oci-layout:DIR" in deploy.yaml.

options:
  --insecure        registry speaks plain HTTP or has an unverifiable certificate
  --cert-dir DIR    CA certificates (*.crt) for the registry
  --authfile FILE   registry credentials (containers-auth.json format)
  --no-push         only build (or find) the cached layout
  --rebuild         ignore the cache
environment: DEBIAN_MIRROR (default http://deb.debian.org/debian)
EOF
	exit 2
}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

push=1 rebuild=0 skopeo_flags=()
while [ "$#" -gt 0 ]; do
	case $1 in
	--insecure) skopeo_flags+=(--dest-tls-verify=false) ;;
	--cert-dir) [ "$#" -ge 2 ] || usage; skopeo_flags+=(--dest-cert-dir "$2"); shift ;;
	--authfile) [ "$#" -ge 2 ] || usage; skopeo_flags+=(--dest-authfile "$2"); shift ;;
	--no-push) push=0 ;;
	--rebuild) rebuild=1 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) printf '%s: unknown option %s\n' "$prog" "$1" >&2; usage ;;
	*) break ;;
	esac
	shift
done
if [ "$push" = 1 ]; then
	if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
		usage
	fi
	reg=$1
	ref=${2:-library/python:3.11-slim}
	case $ref in
	*:*) ;;
	*) die "REPO:TAG expected, got '$ref'" ;;
	esac
else
	[ "$#" = 0 ] || usage
fi

[ "$(id -u)" = 0 ] || die "must run as root: debootstrap needs it (try: sudo $0 $*)"
for tool in debootstrap umoci skopeo flock; do
	command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install $tool)"
done

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# python3 and, for the wheels scripts/debian-wheels.py makes from Debian's
# python3-numpy, python3-scipy and python3-sklearn(-lib), the shared libraries
# their extension modules need (objdump -p: NEEDED): libblas.so.3 and
# liblapack.so.3 (their postinst sets up the /etc/alternatives links),
# libgfortran.so.5, libgomp.so.1, liblbfgsb.so.0; libstdc++6 and libgcc-s1
# are in minbase already.
packages=python3,ca-certificates,libblas3,liblapack3,libgfortran5,libgomp1,liblbfgsb0
# Bump when the recipe below changes, so old cached layouts are not reused.
recipe=2
cache=${XDG_CACHE_HOME:-$HOME/.cache}/mldeploy-example
layout=$cache/python-$suite-r$recipe
mkdir -p "$cache"

work=''
cleanup() {
	[ -n "$work" ] && [ -d "$work" ] || return 0
	# debootstrap mounts /proc, /sys, /dev/pts in the target; an interrupted
	# run can leave them. Unmount before deleting, and never cross into them.
	awk -v w="$work" 'index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build() {
	local bundle=$work/bundle rootfs=$work/bundle/rootfs
	umoci init --layout "$work/layout"
	umoci new --image "$work/layout:latest"
	umoci unpack --image "$work/layout:latest" "$bundle"
	printf '%s: debootstrap %s from %s (about 2 minutes)\n' "$prog" "$suite" "$mirror" >&2
	debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
		>"$work/debootstrap.log" 2>&1 || {
		tail -n 30 "$work/debootstrap.log" >&2
		die "debootstrap failed"
	}
	# What containers get from the runtime, and what only bloats the layer.
	rm -rf "${rootfs:?}"/dev/* "$rootfs"/proc/* "$rootfs"/sys/* "$rootfs"/run/* "$rootfs"/tmp/*
	rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old
	rm -rf "$rootfs"/var/log/* "$rootfs"/var/tmp/* "$rootfs"/root/.cache
	rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
	find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
	: >"$rootfs/etc/machine-id"
	umoci repack --image "$work/layout:latest" --history.created_by "$prog: debootstrap $suite $packages" "$bundle"
	umoci config --image "$work/layout:latest" --os linux --architecture amd64 \
		--author "mldeploy scripts/$prog" \
		--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--config.env LANG=C.UTF-8 --config.cmd python3 \
		--config.label "org.opencontainers.image.description=offline stand-in for python:3.11-slim: Debian $suite python3 and native libraries for numpy/scipy" \
		--history.created_by "$prog: config"
	umoci gc --layout "$work/layout"
}

# One build at a time; a concurrent run waits and then reuses the result.
exec 9>"$cache/.lock"
flock 9
if [ "$rebuild" = 1 ] || [ ! -f "$layout/index.json" ]; then
	start=$SECONDS
	work=$(mktemp -d "$cache/.build.XXXXXX")
	build
	rm -rf "$layout"
	mv -T "$work/layout" "$layout"
	printf '%s: built in %s s\n' "$prog" "$((SECONDS - start))" >&2
fi
flock -u 9

if [ "$push" = 1 ]; then
	skopeo copy --quiet "${skopeo_flags[@]}" "oci:$layout:latest" "docker://$reg/$ref" ||
		die "pushing to $reg/$ref failed"
	printf '%s: pushed %s/%s\n' "$prog" "$reg" "$ref" >&2
fi
printf '%s\n' "$layout"
