#!/usr/bin/env bash
# Builds the bundled example (deploy.example.yaml) into build/iris.tar, or runs
# another mldeploy command on it (scripts/example.sh run --predict '{...}').
#
# Where Docker Hub answers, the base python:3.11-slim is pulled from it and the
# Python dependencies (templates/iris-flask/requirements.txt: Flask, gunicorn,
# scikit-learn...) are wheels from PyPI (or from MLDEPLOY_PYTHON_INDEX). Where
# it does not (an air-gapped network, or this project's CI machines), the script
# takes the route the README describes for air-gapped users:
#  - the base: a stand-in built from Debian packages (scripts/python-base.sh),
#    served from a local registry on 127.0.0.1, MLDEPLOY_REGISTRY_MIRRORS
#    pointing at it;
#  - the dependencies: wheels made from Debian bookworm's packages of the same
#    versions (scripts/debian-wheels.py), served as a static PEP 503 index on
#    127.0.0.1, MLDEPLOY_PYTHON_INDEX pointing at it. Those wheels need the
#    native libraries the stand-in base carries: the two go together.
# MLDEPLOY_EXAMPLE_OFFLINE=1 forces that route, =0 forbids it. A
# MLDEPLOY_PYTHON_INDEX already set is used on either route.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
mldeploy=${MLDEPLOY:-$top/mldeploy}
prog=${0##*/}
say() { printf '%s: %s\n' "$prog" "$*" >&2; }

hub_reachable() {
	local code
	code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null) || return 1
	[ "$code" = 401 ] || [ "$code" = 200 ]
}

offline=${MLDEPLOY_EXAMPLE_OFFLINE:-auto}
if [ "$offline" = auto ]; then
	if hub_reachable; then offline=0; else offline=1; fi
fi

if [ "$offline" = 1 ]; then
	say "Docker Hub is not used: making the base and the wheels from Debian packages and serving them locally"
	work=$(mktemp -d)
	reg_pid='' idx_pid=''
	cleanup() {
		[ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null || true
		[ -z "$idx_pid" ] || kill "$idx_pid" 2>/dev/null || true
		rm -rf "$work"
	}
	trap cleanup EXIT
	free_port() {
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
	}
	port=$(free_port)
	cat >"$work/registry.yml" <<YAML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $work/storage }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port }
YAML
	docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
	reg_pid=$!
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break
		sleep 0.1
	done
	"$top/scripts/python-base.sh" --insecure "127.0.0.1:$port" library/python:3.11-slim >/dev/null
	export MLDEPLOY_REGISTRY_MIRRORS="docker.io=http://127.0.0.1:$port"
	export MLDEPLOY_INSECURE_REGISTRIES="127.0.0.1:$port"

	# an index the caller chose (a mirror of PyPI) is kept
	if [ -z "${MLDEPLOY_PYTHON_INDEX:-}" ]; then
		wheels=$(/usr/bin/python3 "$top/scripts/debian-wheels.py")
		idx_port=$(free_port)
		python3 -m http.server --bind 127.0.0.1 --directory "$wheels" "$idx_port" >"$work/index.log" 2>&1 &
		idx_pid=$!
		for _ in $(seq 100); do
			curl -fsS -o /dev/null "http://127.0.0.1:$idx_port/simple/" 2>/dev/null && break
			sleep 0.1
		done
		curl -fsS -o /dev/null "http://127.0.0.1:$idx_port/simple/" || {
			cat "$work/index.log" >&2
			say "the local Python index did not start"
			exit 1
		}
		export MLDEPLOY_PYTHON_INDEX="http://127.0.0.1:$idx_port/simple"
	fi
fi

cd "$top"
# `scripts/example.sh deploy --provider local` (or run, status, ...): any command on
# the example, in the same environment; the default is build, with the given options
case ${1:-} in
build | push | validate | deploy | status | rollback | destroy | render | run)
	"$mldeploy" -f deploy.example.yaml "$@" ;;
*)
	"$mldeploy" -f deploy.example.yaml build "$@" ;;
esac
