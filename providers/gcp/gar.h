/* Artifact Registry (and the gcr.io family it serves): the registry login and the
 * repository that image.repository names. */
#ifndef ML_GCP_GAR_H
#define ML_GCP_GAR_H

#include "gcp/gcp.h"
#include "registry/auth.h"

/* 1 when host is LOCATION-docker.pkg.dev, gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io
 * (case-insensitive, no port), else 0. */
int ml_gar_is_host(const char *host);

/* The provider's registry_auth hook: 1 with user "oauth2accesstoken" and a Google
 * access token (ml_gauth_token) for an Artifact Registry host; 0 for other hosts,
 * and when no Google credential is found (then ~/.docker/config.json's entry, such
 * as gcloud's credential helper, applies); negative when a credential is there but
 * fails. */
int ml_gar_registry_auth(const char *host, struct ml_credential *out, struct ml_error *err);

/* The process-wide Google credential (one per process, so that one deploy asks the
 * token endpoint once): the registry login's and the provider's API clients'. Made
 * on the first call (thread-safe) with cfg's endpoints: overrides (cfg may be NULL:
 * the registry login has none); the provider's init calls it before anything is
 * pushed, so deploy.yaml's endpoints: apply to both. Owned here: never freed by the
 * caller. */
int ml_gar_auth(const struct ml_config *cfg, struct ml_gauth **out, struct ml_error *err);

/* The provider's prepare_registry hook for LOCATION-docker.pkg.dev/PROJECT/REPO/...:
 * GET projects/PROJECT/locations/LOCATION/repositories/REPO; when missing, create
 * it (repositories.create with format DOCKER, waiting for its operation) when
 * deploy.gcp.create_repository is true, else -ML_ENOTFOUND naming the exact
 * repository and how to create it. On a dry run it only looks and sets
 * g->repository_missing (the plan then shows the create step: see
 * ml_gar_plan_step). Other hosts: 0, nothing done. */
int ml_gar_prepare(struct ml_gcp *g, const struct ml_deploy_request *req, const char *repository,
		   struct ml_error *err);
/* Adds the "create repository" step to plan when the dry run found it missing. */
void ml_gar_plan_step(struct ml_gcp *g, struct ml_plan *plan);

#endif
