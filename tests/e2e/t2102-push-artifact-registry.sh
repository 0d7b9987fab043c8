#!/usr/bin/env bash
# Push to Artifact Registry (us-east1-docker.pkg.dev/PROJECT/REPO/IMAGE: the
# registry front of tests/fakes/artifactregistry.py by its real host name over TLS,
# relaying to a real registry) with a service account key, parallel layer uploads
# sharing one token; a repository that does not exist: the push names it, and
# deploy stops before building, naming it with the gcloud command to create it;
# deploy.gcp.create_repository: true creates it through the Artifact Registry API
# (repositories.create with format DOCKER, the operation polled until done) before
# the push, and a dry run plans that step without making it; an operation that
# fails; the API's 403 and 429.
# Also gdiscovery.py's self-check on the three discovery documents.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gcp.sh"

# the fakes' reading of Google's discovery documents (tests/fakes/gdiscovery.py)
models=${RIG_API_MODELS:-$SRCDIR/../shared/api-models}
run_ok /usr/bin/python3 "$SRCDIR/tests/fakes/gdiscovery.py" "$models/google-run-v2.json" \
	"$models/google-appengine-v1.json" "$models/google-artifactregistry-v1.json"
assert_contains "$T/out" "3 documents, 0 failure(s)"

start_registry base
make_busybox_image "$REG_BASE_ADDR" tools/busybox 1.0
start_gcp_rig ml
start_cloud_run
export MLDEPLOY_INSECURE_REGISTRIES="$REG_BASE_ADDR"
# no metadata server
GCE_METADATA_HOST=127.0.0.1:$(free_port)
export GCE_METADATA_HOST
# deploy_upto_run ARGS...: mldeploy deploy with Cloud Run unreachable (only the steps
# before it run here: the rest is t32xx's)
deploy_upto_run() {
	MLDEPLOY_ENDPOINT_RUN=https://127.0.0.1:$closed "$MLDEPLOY" "$@"
}
closed=$(free_port)
host=us-east1-docker.pkg.dev
p=$GOOGLE_CLOUD_PROJECT

mkdir -p "$T/ctx/app"
printf '#!/bin/sh\necho "served from artifact registry"\n' >"$T/ctx/app/run.sh"
head -c 300000 /dev/urandom >"$T/ctx/app/model.bin"
chmod +x "$T/ctx/app/run.sh"
# project.yaml REPOSITORY [GCP_KEYS...]: deploy.yaml with image.repository REPOSITORY
project_yaml() {
	local repository=$1
	shift
	{
		cat <<YAML
name: iris
image:
  base: $REG_BASE_ADDR/tools/busybox:1.0
  repository: $repository
  copy:
    - { src: app/, dst: /app/ }
  cmd: ["/app/run.sh"]
deploy:
  gcp:
    region: us-east1
YAML
		local kv
		for kv in "$@"; do
			printf '    %s\n' "$kv"
		done
	} >"$T/ctx/deploy.yaml"
}
project_yaml "$GCP_IMAGE_REPO/iris"
run_ok "$MLDEPLOY" -C "$T/ctx" --json build -o "$T/img.tar"
digest=$(jq -r .digest "$T/out")

say "push with a service account key"
run_ok "$MLDEPLOY" -v --json push "$T/img.tar" --repository "$GCP_IMAGE_REPO/iris" --tag v1
assert_eq "$(jq -r .reference "$T/out")" "$GCP_IMAGE_REPO/iris@$digest" "reference"
assert_contains "$T/err" "registry $host: credentials from a Google access token (service account key $GAUTH_SA_KEY"
run_ok skopeo_inspect "docker://$REG_GAR_ADDR/$p/ml/iris:v1"
assert_eq "$(jq -r .Digest "$T/out")" "$digest" "skopeo sees the digest behind the front"
assert_eq "$(gauth_count '.route == "token" and .status == 200')" 1 "access tokens for the push"
[ "$(ar_count v2 PUT '/blobs/uploads/' 201)" -ge 2 ] || fail "the layers did not go through the front"
assert_eq "$(ar_count api '*' '.')" 0 "API requests for a push"
# again: nothing uploaded, still one token
uploads=$(ar_count v2 PUT '/blobs/uploads/' 201)
run_ok "$MLDEPLOY" --json push "$T/img.tar" --repository "$GCP_IMAGE_REPO/iris" --tag v1
assert_eq "$(ar_count v2 PUT '/blobs/uploads/' 201)" "$uploads" "uploads of a second push"

say "push to a repository that does not exist: named"
must_fail 1 "$MLDEPLOY" push "$T/img.tar" --repository "$host/$p/missing/iris" --tag v1
assert_contains "$T/err" "missing"
assert_contains "$T/err" "not found"
assert_eq "$(ar_count v2 PUT '/manifests/' 201)" 2 "manifests stored"

say "deploy to a repository that does not exist: stops before the build, names it"
project_yaml "$host/$p/missing/iris"
must_fail 1 deploy_upto_run -C "$T/ctx" deploy --provider gcp
assert_contains "$T/err" "artifact registry repository 'projects/$p/locations/us-east1/repositories/missing' does not exist"
assert_contains "$T/err" "deploy.gcp.create_repository: true"
assert_contains "$T/err" "gcloud artifacts repositories create missing --repository-format=docker --location=us-east1 --project=$p"
assert_eq "$(ar_count api GET "^/v1/projects/$p/locations/us-east1/repositories/missing\$" 404)" 1 "repositories.get"
assert_eq "$(ar_count api POST '.' '')" 0 "repositories.create without create_repository"
assert_not_contains "$T/err" "pushed"
# the same on a dry run: it would fail the same way
must_fail 1 deploy_upto_run -C "$T/ctx" deploy --provider gcp --dry-run
assert_contains "$T/err" "repositories/missing' does not exist"

say "deploy.gcp.create_repository: created through the API, the operation polled"
project_yaml "$host/$p/fresh/iris" "create_repository: true"
# a dry run looks, creates nothing and plans the create before Cloud Run's steps
run_ok "$MLDEPLOY" -C "$T/ctx" deploy --provider gcp --dry-run
assert_eq "$(ar_count api POST '.')" 0 "repositories.create on a dry run"
assert_eq "$(cloudrun_mutations)" 0 "Cloud Run mutations on a dry run"
ar_repository_exists "projects/$p/locations/us-east1/repositories/fresh" &&
	fail "a dry run created the repository"
assert_contains "$T/out" "create artifact registry repository"
assert_contains "$T/out" "https://artifactregistry.googleapis.com/v1/projects/$p/locations/us-east1/repositories?repositoryId=fresh"
assert_contains "$T/out" '"format": "DOCKER"'
jq -e '.steps[0].action == "create artifact registry repository" and
	.steps[0].mutates and .steps[1].method == "POST"' "$T/out" >/dev/null ||
	fail "the create step does not come first"
# Cloud Run unreachable: the deploy fails after the push, which is what this looks at
must_fail 1 deploy_upto_run -C "$T/ctx" -v deploy --provider gcp
assert_contains "$T/err" "warning: creating artifact registry repository projects/$p/locations/us-east1/repositories/fresh (format DOCKER)"
assert_contains "$T/err" "artifact registry: created repository projects/$p/locations/us-east1/repositories/fresh"
assert_eq "$(ar_count api POST "^/v1/projects/$p/locations/us-east1/repositories\$" 200)" 1 "repositories.create"
[ "$(ar_count api GET '/operations/' 200)" -ge 2 ] || fail "the operation was not polled until done"
ar_repository_exists "projects/$p/locations/us-east1/repositories/fresh" ||
	fail "the repository was not created"
jq -e --arg n "projects/$p/locations/us-east1/repositories/fresh" \
	'.repositories[$n] | .format == "DOCKER" and .labels["managed-by"] == "mldeploy"' \
	"$AR_STATE" >/dev/null || fail "the repository is not DOCKER with managed-by: mldeploy"
[ "$(ar_count v2 PUT "^/v2/$p/fresh/iris/manifests/" 201)" -ge 1 ] || fail "no push after the create"
# there now: looked at, not created again
creates=$(ar_count api POST '.')
must_fail 1 deploy_upto_run -C "$T/ctx" -v deploy --provider gcp
assert_contains "$T/err" "artifact registry: repository projects/$p/locations/us-east1/repositories/fresh is there"
assert_eq "$(ar_count api POST '.')" "$creates" "creates when the repository is there"

say "a create whose operation fails: its error, nothing pushed"
project_yaml "$host/$p/broken/iris" "create_repository: true"
ar_rules '[{"method": "POST", "path_regex": "/repositories[?]", "action": "fail_operation",
	"message": "Quota exceeded for repositories in this location."}]'
must_fail 1 deploy_upto_run -C "$T/ctx" deploy --provider gcp
assert_contains "$T/err" "artifact registry: creating repository 'projects/$p/locations/us-east1/repositories/broken' failed: Quota exceeded for repositories in this location. (code 13)"
ar_repository_exists "projects/$p/locations/us-east1/repositories/broken" &&
	fail "a failed create left a repository"
assert_eq "$(ar_count v2 '*' "^/v2/$p/broken/" '')" 0 "registry requests for the failed repository"
ar_rules '[]'

say "the API refuses: 403 names the permission; 429 is retried"
project_yaml "$host/other-project/ml/iris"
must_fail 1 deploy_upto_run -C "$T/ctx" deploy --provider gcp
assert_contains "$T/err" "PERMISSION_DENIED"
assert_contains "$T/err" "roles/artifactregistry.writer"
project_yaml "$GCP_IMAGE_REPO/iris"
ar_rules '[{"method": "GET", "path_regex": "/repositories/ml$", "action": "status", "code": 429, "retry_after": 1}]'
must_fail 1 deploy_upto_run -C "$T/ctx" -v deploy --provider gcp
assert_contains "$T/err" "artifact registry: repository projects/$p/locations/us-east1/repositories/ml is there"
assert_eq "$(ar_count api GET '/repositories/ml$' 429)" 1 "throttled requests"
assert_eq "$(ar_count api GET '/repositories/ml$' 200)" 1 "answered requests"
