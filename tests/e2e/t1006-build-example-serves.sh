#!/usr/bin/env bash
# The bundled example, built the way the README says, answers predictions:
# gunicorn from the image's own command line serves the pickled scikit-learn
# model, with Flask, gunicorn and scikit-learn from the image's "python" layer
# (image.python; offline, wheels made from Debian packages by
# scripts/debian-wheels.py, served as a local index by scripts/example.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# the README's route; the Debian-made base and wheels are cached in the caller's cache
XDG_CACHE_HOME="$RIG_USER_CACHE" MLDEPLOY_EXAMPLE_OFFLINE=1 \
	run_ok "$SRCDIR/scripts/example.sh" -o "$T/iris.tar" --json
cp "$T/out" "$T/build.json"
assert_eq "$(jq -r '[.layers[] | select(.from_base | not) | .name] | join(",")' "$T/build.json")" \
	"python,model,app" "example layers"
run_ok skopeo_inspect --config "oci-archive:$T/iris.tar"
cmd=$(jq -r '.config.Cmd | join(" ")' "$T/out")
assert_eq "$cmd" "gunicorn --bind :8080 --workers 2 --access-logfile - app:app" "example command"

# run the image's command in the background and ask it for predictions
probe='import json, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:8080/healthz").read()
        break
    except OSError:
        time.sleep(0.1)
req = urllib.request.Request("http://127.0.0.1:8080/predict",
    data=json.dumps({"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}).encode(),
    headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req).read().decode())'
podman_setup
podman_run_archive "$T/iris.tar" oci sh -c "$cmd --daemon && python3 -c '$probe'" >"$T/predict.json"
assert_eq "$(jq -c .predictions "$T/predict.json")" '["setosa","virginica"]' "predictions"
