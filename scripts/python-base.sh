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
#
# --torch adds a layer for the wheel scripts/debian-wheels.py makes from
# Debian's python3-torch: the shared libraries its extension modules load.
# libtorch1.13 links OpenCV, FFmpeg, protobuf, ... whose packages with their
# own dependencies install about 1 GB (debootstrap: ~2 min, a 376 MB layer);
# the layer carries only the files of that closure the dynamic loader opens
# (objdump -p NEEDED, from torch/_C and functorch/_C down), about 470 MB, a
# 170 MB layer, unpacked from the .debs without running their scripts, plus
# their copyright files and a new ld.so.cache. Built on the cached base.
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
  --torch           add the shared libraries of Debian's libtorch1.13 (for the
                    Debian-made torch wheel: about 470 MB more, a minute more)
  --rebuild         ignore the cache
environment: DEBIAN_MIRROR (default http://deb.debian.org/debian)
EOF
	exit 2
}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

push=1 rebuild=0 torch=0 skopeo_flags=()
while [ "$#" -gt 0 ]; do
	case $1 in
	--insecure) skopeo_flags+=(--dest-tls-verify=false) ;;
	--cert-dir) [ "$#" -ge 2 ] || usage; skopeo_flags+=(--dest-cert-dir "$2"); shift ;;
	--authfile) [ "$#" -ge 2 ] || usage; skopeo_flags+=(--dest-authfile "$2"); shift ;;
	--no-push) push=0 ;;
	--rebuild) rebuild=1 ;;
	--torch) torch=1 ;;
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
tools="debootstrap umoci skopeo flock"
[ "$torch" = 0 ] || tools="$tools apt-get dpkg-deb objdump ldconfig"
for tool in $tools; do
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

# --torch: $layout plus a layer with the shared libraries Debian's
# python3-torch loads (see the header), into $work/layout.
build_torch() {
	local bundle=$work/bundle rootfs=$work/bundle/rootfs pkgs n deb
	cp -a "$layout" "$work/layout"
	umoci unpack --image "$work/layout:latest" "$bundle"
	# what apt would add to the base for python3-torch: libtorch1.13 and its closure
	pkgs=$(apt-get -s -o Dir::State::status="$rootfs/var/lib/dpkg/status" install \
		--no-install-recommends python3-torch 2>"$work/apt.err" | awk '/^Inst /{ print $2 }') ||
		{ cat "$work/apt.err" >&2; die "apt-get cannot resolve python3-torch (apt-get update?)"; }
	[ -n "$pkgs" ] || die "apt-get resolved nothing for python3-torch"
	n=$(printf '%s\n' "$pkgs" | wc -l)
	printf '%s: apt-get download %s packages for libtorch1.13 (about 220 MB)\n' "$prog" "$n" >&2
	mkdir "$work/debs" "$work/x"
	# shellcheck disable=SC2086  # one word per package
	(cd "$work/debs" && apt-get download $pkgs) >"$work/download.log" 2>&1 ||
		{ tail -n 20 "$work/download.log" >&2; die "apt-get download failed"; }
	for deb in "$work"/debs/*.deb; do
		dpkg-deb -x "$deb" "$work/x" || die "dpkg-deb -x $deb failed"
	done
	/usr/bin/python3 - "$work/x" "$rootfs" <<'PY' || die "cannot collect libtorch's libraries"
import glob, os, re, shutil, subprocess, sys
x, rootfs = sys.argv[1:]
libdirs = ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib", "lib"]
def needed(path):
    out = subprocess.run(["objdump", "-p", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"^\s*NEEDED\s+(\S+)", out, re.M)
todo = glob.glob(os.path.join(x, "usr/lib/python3/dist-packages/*/_C.cpython-*.so"))
if not todo:
    sys.exit("no torch/_C extension module in python3-torch")
seen, keep = set(), set()
while todo:
    for name in needed(todo.pop()):
        if name in seen:
            continue
        seen.add(name)
        # the base's own libraries and their dependencies are there already
        if any(os.path.lexists(os.path.join(rootfs, d, name)) for d in libdirs):
            continue
        rel = next((os.path.join(d, name) for d in libdirs
                    if os.path.lexists(os.path.join(x, d, name))), None)
        if rel is None:
            sys.exit(f"no package provides {name}")
        real = os.path.relpath(os.path.realpath(os.path.join(x, rel)), os.path.realpath(x))
        keep.update((rel, real))
        todo.append(os.path.join(x, real))
size = 0
for rel in sorted(keep):
    os.makedirs(os.path.dirname(os.path.join(rootfs, rel)), exist_ok=True)
    shutil.copy2(os.path.join(x, rel), os.path.join(rootfs, rel), follow_symlinks=False)
    if not os.path.islink(os.path.join(x, rel)):
        size += os.path.getsize(os.path.join(x, rel))
for c in glob.glob(os.path.join(x, "usr/share/doc/*/copyright")):
    dst = os.path.join(rootfs, os.path.relpath(c, x))
    if os.path.isfile(c) and not os.path.lexists(dst):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(c, dst)
print(f"{len(keep)} files, {size // 1000000} MB", file=sys.stderr)
PY
	ldconfig -r "$rootfs"
	umoci repack --image "$work/layout:latest" \
		--history.created_by "$prog: the shared libraries python3-torch loads (libtorch1.13 and its NEEDED closure)" "$bundle"
	umoci config --image "$work/layout:latest" \
		--config.label "org.opencontainers.image.description=offline stand-in for python:3.11-slim: Debian $suite python3 and native libraries for numpy/scipy and torch" \
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
if [ "$torch" = 1 ]; then
	# Bump when build_torch changes.
	torch_layout=$layout-torch-t1
	if [ "$rebuild" = 1 ] || [ ! -f "$torch_layout/index.json" ]; then
		start=$SECONDS
		cleanup
		work=$(mktemp -d "$cache/.build.XXXXXX")
		build_torch
		rm -rf "$torch_layout"
		mv -T "$work/layout" "$torch_layout"
		cleanup
		work=''
		printf '%s: added libtorch in %s s\n' "$prog" "$((SECONDS - start))" >&2
	fi
	layout=$torch_layout
fi
flock -u 9

if [ "$push" = 1 ]; then
	skopeo copy --quiet "${skopeo_flags[@]}" "oci:$layout:latest" "docker://$reg/$ref" ||
		die "pushing to $reg/$ref failed"
	printf '%s: pushed %s/%s\n' "$prog" "$reg" "$ref" >&2
fi
printf '%s\n' "$layout"
