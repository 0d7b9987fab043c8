#!/usr/bin/env bash
# bench/deploy-peer.sh — the peer of `mldeploy deploy --provider local` in the
# deploy benchmark (bench/deploy.sh): what a user without it runs to get a new
# image serving on a Docker-less machine, the equivalent of docker build + docker
# run. Timed as one command:
#
#   mldeploy -C PROJECT -f CONFIG build -o TARBALL
#   podman load -i TARBALL
#   podman rm -f NAME
#   podman run -d --name NAME -p 127.0.0.1:PORT:CPORT IMAGE
#   curl http://127.0.0.1:PORT/healthz every 0.1 s until it answers 2xx (120 s at most)
#
# podman uses the caller's CONTAINERS_* settings. Prints the phases' wall times
# as one JSON object on stdout: {"build_s":..,"load_s":..,"rm_s":..,"run_s":..,"health_s":..}
#
# usage: deploy-peer.sh MLDEPLOY PROJECT CONFIG TARBALL NAME PORT [CPORT [HEALTH_PATH]]
#        (CPORT default 8080, HEALTH_PATH default /healthz: the bundled example's)
set -euo pipefail

[ "$#" -ge 6 ] || { echo "usage: ${0##*/} MLDEPLOY PROJECT CONFIG TARBALL NAME PORT [CPORT [HEALTH_PATH]]" >&2; exit 2; }
ml=$1 project=$2 config=$3 tarball=$4 name=$5 port=$6 cport=${7:-8080} hpath=${8:-/healthz}

t0=${EPOCHREALTIME/./}
"$ml" -C "$project" -f "$config" --no-progress -q build -o "$tarball" >/dev/null
t1=${EPOCHREALTIME/./}
image=$(podman load -q -i "$tarball" | sed -n 's/^Loaded image: //p' | head -n 1)
[ -n "$image" ] || { echo "${0##*/}: podman load named no image" >&2; exit 1; }
t2=${EPOCHREALTIME/./}
podman rm -f --ignore "$name" >/dev/null
t3=${EPOCHREALTIME/./}
podman run -d --name "$name" -p "127.0.0.1:$port:$cport" "$image" >/dev/null
t4=${EPOCHREALTIME/./}
deadline=$((SECONDS + 120))
until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port$hpath" 2>/dev/null; do
	[ "$SECONDS" -lt "$deadline" ] || { echo "${0##*/}: $hpath did not answer within 120 s" >&2; exit 1; }
	sleep 0.1
done
t5=${EPOCHREALTIME/./}
s() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }
printf '{"build_s":%s,"load_s":%s,"rm_s":%s,"run_s":%s,"health_s":%s}\n' \
	"$(s $((t1 - t0)))" "$(s $((t2 - t1)))" "$(s $((t3 - t2)))" "$(s $((t4 - t3)))" "$(s $((t5 - t4)))"
