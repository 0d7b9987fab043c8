/* Google Cloud: Cloud Run (Admin API v2) or App Engine flexible (Admin API v1),
 * images from Artifact Registry. */
#ifndef ML_PROVIDER_GCP_H
#define ML_PROVIDER_GCP_H

#include "deploy/rest.h"
#include "provider.h"

/* deploy.gcp; strings NULL when unset */
struct ml_gcp_conf {
	char *project;		/* else the credential's project_id, else GOOGLE_CLOUD_PROJECT */
	char *region;		/* Cloud Run's region; App Engine: the app's location */
	char *target;		/* one of ml_gcp_targets; default "cloudrun" */
	int allow_unauthenticated;	/* allUsers may invoke (Cloud Run): 1 grants, 0 takes
					   the grant away, -1 (unset) leaves the policy alone */
	char *cpu, *memory;	/* "1", "500m"; "512Mi", "2Gi" */
	int min_instances;	/* default 0 */
	int max_instances;	/* -1 when unset */
	int concurrency;	/* Cloud Run maxInstanceRequestConcurrency; 0: the platform's */
	long timeout_s;		/* Cloud Run request timeout; 0: the platform's */
	char *service_account;	/* the identity the service runs as */
	struct ml_kv *env;	/* extra environment for this provider (wins over image.env) */
	size_t nenv;
	struct ml_kv *secret_env;	/* NAME -> "secret[:version]" (Secret Manager), never values */
	size_t nsecret_env;
	int create_repository;	/* create a missing Artifact Registry repository */
	int instances;		/* App Engine manual scaling: this many instances; 0: automatic */
	char *appengine_service;	/* App Engine service id; default "default" */
	struct ml_pos pos;
};

extern const char *const ml_gcp_targets[];	/* "cloudrun", "appengine" */
extern const char *const ml_gcp_config_keys[];
int ml_gcp_config_parse(struct ml_config_section *sec, void **conf, struct ml_error *err);
void ml_gcp_config_free(void *conf);
ml_json *ml_gcp_config_json(const void *conf);

struct ml_gauth;

/* The provider's state for one run (gcp.c). */
struct ml_gcp {
	const struct ml_deploy_ctx *ctx;
	const struct ml_gcp_conf *conf;
	struct ml_gauth *auth;		/* the process-wide one (ml_gar_auth): not freed */
	char *project;		/* resolved: deploy.gcp.project, the credential's, the env's */
	const char *target;	/* "cloudrun" or "appengine" */
	struct ml_rest *clients[4];	/* made by ml_gcp_client, freed at cleanup */
	size_t nclients;
	void *target_state;	/* the target module's own, freed by its ops->cleanup */
	int repository_missing;	/* prepare_registry found it missing on a dry run */
	char *repository;	/* "projects/P/locations/L/repositories/R" when on Artifact
				   Registry, else NULL */
};

/* A REST client for a Google API with the run's credentials: svc is the endpoint
 * name (RUN, APPENGINE, ARTIFACTREGISTRY: MLDEPLOY_ENDPOINT_<svc> and deploy.yaml's
 * endpoints: override default_url), name is for messages ("Cloud Run"). Google's
 * error decoder, an Authorization: Bearer header from ml_gauth_token on every
 * attempt. Owned by g (freed at cleanup); its calls count in api_calls. */
int ml_gcp_client(struct ml_gcp *g, const char *svc, const char *name, const char *default_url,
		  struct ml_rest **out, struct ml_error *err);

/* The provider's health_headers hook (provider.h), state = struct ml_gcp *: for
 * Cloud Run unless deploy.gcp.allow_unauthenticated is true, "Authorization: Bearer"
 * with an ID token whose audience is the service's URL (also for a tag's URL);
 * -ML_ENOTFOUND, err saying why, when the credential cannot mint one. */
int ml_gcp_health_headers(void *state, const char *url, char ***headers, size_t *nheaders,
			  struct ml_error *err);

/* What each target implements; gcp.c dispatches to it. NULL members are
 * operations the target does not have. */
struct ml_gcp_target_ops {
	const char *name;	/* "cloudrun" */
	int (*init)(struct ml_gcp *g, struct ml_error *err);
	void (*cleanup)(struct ml_gcp *g);
	int (*plan)(struct ml_gcp *g, const struct ml_deploy_request *req, struct ml_plan *plan,
		    struct ml_error *err);
	int (*deploy)(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		      struct ml_error *err);
	int (*release)(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		       struct ml_error *err);
	int (*abort)(struct ml_gcp *g, const struct ml_plan *plan, struct ml_deploy_result *res,
		     struct ml_error *err);
	int (*status)(struct ml_gcp *g, struct ml_deploy_result *res, struct ml_error *err);
	int (*rollback)(struct ml_gcp *g, const struct ml_deploy_request *req,
			struct ml_deploy_result *res, struct ml_error *err);
	int (*destroy)(struct ml_gcp *g, const struct ml_deploy_request *req,
		       struct ml_deploy_result *res, struct ml_error *err);
	int (*render)(struct ml_gcp *g, const struct ml_deploy_request *req, const char *file,
		      struct ml_buf *out, struct ml_error *err);
};

extern const struct ml_gcp_target_ops ml_gcp_cloudrun_ops;	/* run.c */
extern const struct ml_gcp_target_ops ml_gcp_appengine_ops;	/* appengine.c */

extern const struct ml_provider ml_provider_gcp;

#endif
