/* What a provider (a cloud, the local engine, or a registry host) offers the core.
 * The core never names a cloud: it asks the table in providers.c. A provider keeps
 * its per-run state in the object its init returns (no globals), owns its
 * `deploy.<name>` section of deploy.yaml, and reaches HTTP and JSON only through
 * lib/ (deploy/rest.h). */
#ifndef ML_PROVIDER_H
#define ML_PROVIDER_H

#include "config/config.h"
#include "config/section.h"
#include "deploy/plan.h"
#include "registry/auth.h"
#include "util/buf.h"
#include "util/error.h"
#include "wrap/json.h"

enum ml_provider_caps {
	ML_PROVIDER_REGISTRY = 1 << 0,		/* maps registry hosts to endpoints */
	ML_PROVIDER_REGISTRY_AUTH = 1 << 1,	/* logs in to its own registries */
	ML_PROVIDER_CONFIG = 1 << 2,		/* owns deploy.<name> */
	ML_PROVIDER_DEPLOY = 1 << 3,		/* plan, deploy, status, rollback, destroy */
	ML_PROVIDER_GATED = 1 << 4,		/* can hold traffic back until the health check
						   passes (release/abort) */
	ML_PROVIDER_NEEDS_REGISTRY = 1 << 5,	/* runs images from a registry: deploy pushes first */
	ML_PROVIDER_RUN = 1 << 6,		/* `mldeploy run`: a foreground smoke test */
	ML_PROVIDER_SPLIT = 1 << 7,		/* --traffic N: splits traffic between revisions */
};

struct ml_provider {
	const char *name;			/* "local", "gcp": the key under deploy: */
	const char *summary;			/* one line for --help and errors */
	const char *const *targets;		/* NULL-terminated, default first; NULL: none */
	unsigned caps;

	/* Registry hooks (no per-run state: push calls them from its threads). */
	/* The API endpoint of a registry host this provider owns (docker.io ->
	 * registry-1.docker.io), or NULL when the host is not its own. */
	const char *(*registry_endpoint)(const char *host);
	/* The cloud's own login for a registry host it owns (a Google access token
	 * for *-docker.pkg.dev, an ECR authorization token, an ACR refresh token):
	 * 1 with credentials, 0 when the host is not its own, negative on failure. */
	int (*registry_auth)(const char *host, struct ml_credential *out, struct ml_error *err);

	/* Its deploy.<name> mapping, read with the section getters (errors carry
	 * file:line:column and "did you mean"); conf is the provider's own object. */
	int (*config_parse)(struct ml_config_section *sec, void **conf, struct ml_error *err);
	/* The keys it takes (NULL-terminated), also for "it belongs in 'deploy.<name>'". */
	const char *const *config_keys;
	void (*config_free)(void *conf);
	/* The resolved section for `validate --json` (defaults filled in). */
	ml_json *(*config_json)(const void *conf);

	/* Per run: state from init, freed by cleanup (which wipes any secret). */
	int (*init)(void **state, const struct ml_deploy_ctx *ctx, struct ml_error *err);
	void (*cleanup)(void *state);

	/* Deploy only, before the image is pushed: makes sure the registry repository
	 * that repository (deploy.yaml's image.repository) names exists when it is on
	 * the provider's own registry (Artifact Registry, ECR), creating it when the
	 * provider's configuration allows it. On a dry run it only looks, and its plan
	 * shows the step. NULL: nothing to prepare. */
	int (*prepare_registry)(void *state, const struct ml_deploy_request *req,
				const char *repository, struct ml_error *err);
	/* Reads only: what deploy would do, as steps with their request bodies
	 * (secrets masked). `deploy --dry-run` prints it; deploy executes it. */
	int (*plan)(void *state, const struct ml_deploy_request *req, struct ml_plan *plan,
		    struct ml_error *err);
	/* Executes the plan. A GATED provider leaves the new revision without traffic
	 * and sets res->candidate_url; the core health-checks it and calls release or
	 * abort. Otherwise the new revision serves when deploy returns. */
	int (*deploy)(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		      struct ml_error *err);
	int (*release)(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		       struct ml_error *err);
	int (*abort)(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		     struct ml_error *err);
	int (*status)(void *state, struct ml_deploy_result *res, struct ml_error *err);
	/* Serves the revision that served before the current one again. */
	int (*rollback)(void *state, const struct ml_deploy_request *req,
			struct ml_deploy_result *res, struct ml_error *err);
	/* Removes what carries mldeploy's managed-by label/tag for this service,
	 * nothing else; lists what it removed in res->removed. */
	int (*destroy)(void *state, const struct ml_deploy_request *req, struct ml_deploy_result *res,
		       struct ml_error *err);
	/* Writes a platform file (app.yaml, Dockerrun.aws.json) for users of native
	 * tools; -ML_ENOTFOUND when the provider has no such file. */
	int (*render)(void *state, const struct ml_deploy_request *req, const char *file,
		      struct ml_buf *out, struct ml_error *err);
	/* The credential headers ("Authorization: Bearer ...", malloc'ed strings, wiped
	 * and freed by the caller) the health check sends to url, a URL the deploy
	 * returned (the candidate's or the service's): a private service answers 403
	 * without them. 0 with the headers (none is fine); -ML_ENOTFOUND when the
	 * service wants an identity the credential cannot give, err saying why (the
	 * check then goes without, and a 401/403 answer carries that reason); other
	 * errors fail the check. NULL: the check sends no identity. */
	int (*health_headers)(void *state, const char *url, char ***headers, size_t *nheaders,
			      struct ml_error *err);
	/* Requests made to the platform in this run, and how many could change something. */
	int (*api_calls)(void *state, int *mutations);
	/* `mldeploy run`: starts the image in the foreground; see deploy.h. */
	int (*run)(void *state, const struct ml_deploy_request *req, const struct ml_run_opts *ro,
		   struct ml_deploy_result *res, struct ml_error *err);
};

extern const struct ml_provider ml_provider_dockerhub;

#endif
