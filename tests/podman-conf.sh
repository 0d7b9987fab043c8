#!/usr/bin/env bash
# tests/podman-conf.sh DIR [--driver vfs|overlay] [--image-store STORE]...
#
# Writes a private podman configuration under DIR, for the e2e rig
# (tests/e2e/lib.sh podman_setup) and the deploy benchmark (bench/deploy.sh):
# DIR/containers.conf, DIR/storage.conf, DIR/registries.conf, and the
# directories they name. Use it with
#   CONTAINERS_CONF=DIR/containers.conf CONTAINERS_STORAGE_CONF=DIR/storage.conf
#   CONTAINERS_REGISTRIES_CONF=DIR/registries.conf podman ...
# Everything podman writes then goes under DIR: storage (DIR/root), run state
# (DIR/runroot), locks, events, network configs, image copies' temporary files,
# and runc's state (runc defaults to /run/runc; the wrapper DIR/bin/runc adds
# --root DIR/runc). --network=none needs no network backend; a published port
# uses CNI's default "podman" bridge (10.88.0.0/16, cni-podman0, iptables rules
# that go with the container). Not movable: podman (root) keeps its
# containers/image blob-info cache, a digest cache, in /var/lib/containers/cache,
# and CNI its IP leases in /var/lib/cni; podman 4.3 has no setting for them.
#
# --driver: the storage driver (default vfs). --image-store: a read-only
# additional image store (repeatable). Exits 1 with a message on stderr when
# runc is missing, 2 on a usage error.
set -euo pipefail

prog=${0##*/}
usage() {
	echo "usage: $prog DIR [--driver vfs|overlay] [--image-store STORE]..." >&2
	[ -z "${1:-}" ] || echo "$prog: $1" >&2
	exit 2
}

[ "$#" -ge 1 ] || usage
p=$1
shift
case $p in
/*) ;;
*) usage "DIR must be an absolute path, not '$p'" ;;
esac
driver=vfs stores=()
while [ "$#" -gt 0 ]; do
	case $1 in
	--driver)
		case ${2:-} in
		vfs | overlay) driver=$2 ;;
		*) usage "--driver must be vfs or overlay, not '${2:-}'" ;;
		esac
		shift 2 ;;
	--image-store)
		[ -d "${2:-}" ] || usage "--image-store '${2:-}' is not a directory"
		stores+=("$2")
		shift 2 ;;
	*) usage "unknown option '$1'" ;;
	esac
done

runc=$(command -v runc) || { echo "$prog: runc is not installed" >&2; exit 1; }
mkdir -p "$p/root" "$p/runroot" "$p/tmp" "$p/net" "$p/volumes" "$p/bin" "$p/runc"
# shellcheck disable=SC2016  # "$@" is the wrapper's own
printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$runc" "$p/runc" >"$p/bin/runc"
chmod 0755 "$p/bin/runc"
cat >"$p/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[network]
network_config_dir = "$p/net"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$p/events.log"
lock_type = "file"
tmp_dir = "$p/tmp"
image_copy_tmp_dir = "$p/tmp"
static_dir = "$p/root/libpod"
volume_path = "$p/volumes"

[engine.runtimes]
runc = ["$p/bin/runc"]
EOF
cat >"$p/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$p/root"
runroot = "$p/runroot"
EOF
if [ "${#stores[@]}" -gt 0 ]; then
	{
		printf '[storage.options]\nadditionalimagestores = ['
		for s in "${stores[@]}"; do
			printf '"%s", ' "$s"
		done
		printf ']\n'
	} >>"$p/storage.conf"
fi
cat >"$p/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "disabled"
EOF
