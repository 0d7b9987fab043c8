#!/usr/bin/env bash
# Builds the bundled example (deploy.example.yaml) into build/iris.tar.
#
# Where Docker Hub answers, the base python:3.11-slim is pulled from it. Where
# it does not (an air-gapped network, or this project's CI machines), the script
# takes the route the README describes for air-gapped users: it builds a
# stand-in base from Debian packages (scripts/python-base.sh), serves it from a
# local registry on 127.0.0.1, and points MLDEPLOY_REGISTRY_MIRRORS at it.
# MLDEPLOY_EXAMPLE_OFFLINE=1 forces that route, =0 forbids it.
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
	say "Docker Hub is not used: building the base from Debian packages and serving it locally"
	work=$(mktemp -d)
	reg_pid=
	cleanup() {
		[ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null || true
		rm -rf "$work"
	}
	trap cleanup EXIT
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
fi

cd "$top"
"$mldeploy" -f deploy.example.yaml build "$@"
