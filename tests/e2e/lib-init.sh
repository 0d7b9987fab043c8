# shellcheck shell=bash
# Rig functions for the tests of `mldeploy init` and `render Dockerfile` (t40xx),
# sourced after lib.sh. Offline, as `make example` works without Docker Hub and PyPI:
#   start_python_hub [--with-pip] [--torch]
#       start_registry hub, push scripts/python-base.sh's stand-in base (cached in the
#       caller's cache) to it as library/python:3.11-slim, and export
#       MLDEPLOY_REGISTRY_MIRRORS=docker.io=REG_HUB_URL and MLDEPLOY_INSECURE_REGISTRIES,
#       so that the templates' "base: python:3.11-slim" comes from there. Sets
#       PYTHON_BASE_LAYOUT (the stand-in's OCI layout, for start_engine --cache-image).
#       --with-pip: the pushed base also carries Debian's pip wheel installed by
#       mldeploy (image.python), as Docker Hub's python image carries pip: a
#       Dockerfile's RUN pip needs it. Podman, when set up (podman_setup), gets the
#       same mirror in its registries.conf. --torch: the base is python-base.sh
#       --torch's (with the libraries of Debian's libtorch1.13, for the torch wheel).
#   serve_wheels REQUIREMENTS
#       wheels for REQUIREMENTS made from Debian packages (scripts/debian-wheels.py,
#       cached in the caller's cache) served as a PEP 503 index on 127.0.0.1; sets
#       WHEELS_URL (http://127.0.0.1:PORT/simple) and WHEELS_DIR.

start_python_hub() {
	local with_pip=0 base_opts=()
	while [ "$#" -gt 0 ]; do
		case $1 in
		--with-pip) with_pip=1 ;;
		--torch) base_opts+=(--torch) ;;
		*) fail "start_python_hub: unknown option '$1'" ;;
		esac
		shift
	done
	start_registry hub
	PYTHON_BASE_LAYOUT=$(XDG_CACHE_HOME="$RIG_USER_CACHE" "$SRCDIR/scripts/python-base.sh" --no-push \
		"${base_opts[@]}") ||
		fail "start_python_hub: scripts/python-base.sh failed"
	export MLDEPLOY_REGISTRY_MIRRORS="docker.io=$REG_HUB_URL"
	export MLDEPLOY_INSECURE_REGISTRIES="$REG_HUB_ADDR"
	if [ "$with_pip" = 0 ]; then
		skopeo copy --quiet --dest-tls-verify=false "oci:$PYTHON_BASE_LAYOUT:latest" \
			"docker://$REG_HUB_ADDR/library/python:3.11-slim" >/dev/null ||
			fail "start_python_hub: cannot push the base"
	else
		local d=$T/pipbase
		mkdir -p "$d/wheels"
		cp /usr/share/python-wheels/pip-*-py3-none-any.whl "$d/wheels/"
		{ echo --no-index; ls "$d/wheels" | sed -n 's/^pip-\([^-]*\)-.*/pip==\1/p'; } >"$d/requirements.txt"
		skopeo copy --quiet --dest-tls-verify=false "oci:$PYTHON_BASE_LAYOUT:latest" \
			"docker://$REG_HUB_ADDR/stand-in/python:3.11" >/dev/null ||
			fail "start_python_hub: cannot push the base"
		cat >"$d/deploy.yaml" <<YAML
name: python
image:
  repository: $REG_HUB_ADDR/library/python
  base: $REG_HUB_ADDR/stand-in/python:3.11
  python: { requirements: requirements.txt, find_links: [wheels] }
YAML
		"$MLDEPLOY" -q -C "$d" build --push --tag 3.11-slim >"$d/build.out" 2>"$d/build.err" || {
			_rig_show "mldeploy build (base with pip)" "$d/build.err"
			fail "start_python_hub: cannot build the base with pip"
		}
	fi
	if [ "${CONTAINERS_REGISTRIES_CONF:-}" = "$T/podman/registries.conf" ]; then
		cat >>"$CONTAINERS_REGISTRIES_CONF" <<TOML

[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "$REG_HUB_ADDR"
insecure = true
TOML
	fi
}

serve_wheels() {
	[ "$#" = 1 ] || fail "serve_wheels: usage: serve_wheels REQUIREMENTS"
	local port
	WHEELS_DIR=$(XDG_CACHE_HOME="$RIG_USER_CACHE" /usr/bin/python3 "$SRCDIR/scripts/debian-wheels.py" \
		-r "$1" 2>"$T/wheels.err") || {
		_rig_show "debian-wheels.py" "$T/wheels.err"
		fail "serve_wheels: no wheels for $1"
	}
	port=$(free_port)
	spawn "$T/wheels-$port.out" "$T/wheels-$port.err" \
		python3 -m http.server --bind 127.0.0.1 --directory "$WHEELS_DIR" "$port"
	wait_for 10 curl -fsS -o /dev/null "http://127.0.0.1:$port/simple/" ||
		fail "serve_wheels: the index on port $port did not start"
	WHEELS_URL="http://127.0.0.1:$port/simple"
}
