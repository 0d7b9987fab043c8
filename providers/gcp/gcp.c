/* Google Cloud: one provider, two targets (Cloud Run, App Engine flexible) that
 * share the credentials, the project, the REST clients and Artifact Registry. */
#include "gcp/gcp.h"

#include <stdlib.h>
#include <string.h>

#include "deploy/endpoint.h"
#include "gcp/gar.h"
#include "gcp/gauth.h"
#include "util/alloc.h"
#include "util/log.h"

int ml_gcp_client(struct ml_gcp *g, const char *svc, const char *name, const char *default_url,
		  struct ml_rest **out, struct ml_error *err)
{
	struct ml_rest_opts o = { .service = name, .decode = ml_rest_decode_google,
				  .sign = ml_gauth_sign, .unauthorized = ml_gauth_unauthorized,
				  .ud = g->auth };
	char *base = NULL;
	int rc;

	if (g->nclients == sizeof(g->clients) / sizeof(g->clients[0]))
		return ml_error_set(err, ML_EINTERNAL, "too many Google API clients");
	rc = ml_endpoint(&base, g->ctx->cfg, svc, default_url, err);
	if (rc < 0)
		return rc;
	o.base_url = base;
	rc = ml_rest_new(out, &o, err);
	free(base);
	if (rc < 0)
		return rc;
	if (g->ctx->interrupted)
		ml_rest_set_interrupt(*out, g->ctx->interrupted);
	g->clients[g->nclients++] = *out;
	return 0;
}

static const struct ml_gcp_target_ops *target_ops(const char *target)
{
	if (target && !strcmp(target, ml_gcp_appengine_ops.name))
		return &ml_gcp_appengine_ops;
	return &ml_gcp_cloudrun_ops;
}

static void gcp_cleanup(void *state)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops;
	size_t i;

	if (!g)
		return;
	ops = target_ops(g->target);
	if (ops->cleanup)
		ops->cleanup(g);
	for (i = 0; i < g->nclients; i++)
		ml_rest_free(g->clients[i]);
	free(g->project);
	free(g->repository);
	free(g);
}

/* deploy.gcp.project, else the credential's project (a key's project_id, the
 * metadata server's project-id), else GOOGLE_CLOUD_PROJECT */
static int resolve_project(struct ml_gcp *g, struct ml_error *err)
{
	const char *p = g->conf->project;
	const char *from = "deploy.gcp.project";

	if (!p || !*p) {
		p = ml_gauth_lookup_project(g->auth);
		from = ml_gauth_configured(g->auth) ? "the credential's project_id" :
		       "the metadata server";
	}
	if (!p || !*p) {
		p = getenv("GOOGLE_CLOUD_PROJECT");
		from = "GOOGLE_CLOUD_PROJECT";
	}
	if (!p || !*p)
		return ml_error_set(err, ML_ECONFIG, "%s: no google cloud project: set "
				    "deploy.gcp.project (or GOOGLE_CLOUD_PROJECT)", g->ctx->cfg->path);
	ml_log(ML_LOG_INFO, "gcp: project %s (from %s)", p, from);
	g->project = ml_strdup(p);
	return 0;
}

static int gcp_init(void **state, const struct ml_deploy_ctx *ctx, struct ml_error *err)
{
	struct ml_gcp *g;
	const struct ml_gcp_target_ops *ops;
	int rc;

	if (!ctx->conf)
		return ml_error_set(err, ML_ECONFIG, "%s: no deploy.gcp section (at least "
				    "'deploy: {gcp: {project: my-proj, region: us-east1}}')",
				    ctx->cfg->path);
	g = ml_calloc(1, sizeof(*g));
	g->ctx = ctx;
	g->conf = ctx->conf;
	g->target = ctx->target ? ctx->target : g->conf->target;
	ops = target_ops(g->target);
	/* the registry login's credential: one token for the push and the API calls */
	rc = ml_gar_auth(ctx->cfg, &g->auth, err);
	if (rc == 0)
		rc = resolve_project(g, err);
	if (rc == 0 && ops->init)
		rc = ops->init(g, err);
	if (rc < 0) {
		gcp_cleanup(g);
		return rc;
	}
	*state = g;
	return 0;
}

/* The result names the target in use: --target, else deploy.gcp.target. */
static void result_target(const struct ml_gcp *g, struct ml_deploy_result *res)
{
	free(res->target);
	res->target = ml_strdup(g->target);
}

static int missing(const struct ml_gcp *g, const char *what, struct ml_error *err)
{
	return ml_error_set(err, ML_EUSAGE, "gcp: target '%s' has no %s", g->target, what);
}

static int gcp_prepare_registry(void *state, const struct ml_deploy_request *req,
				const char *repository, struct ml_error *err)
{
	return ml_gar_prepare(state, req, repository, err);
}

static int gcp_plan(void *state, const struct ml_deploy_request *req, struct ml_plan *plan,
		    struct ml_error *err)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops = target_ops(g->target);

	if (!ops->plan)
		return missing(g, "deploy", err);
	ml_gar_plan_step(g, plan);
	return ops->plan(g, req, plan, err);
}

static int gcp_deploy(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		      struct ml_error *err)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops = target_ops(g->target);

	result_target(g, res);
	return ops->deploy ? ops->deploy(g, plan, res, err) : missing(g, "deploy", err);
}

static int gcp_release(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		       struct ml_error *err)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops = target_ops(g->target);

	return ops->release ? ops->release(g, plan, res, err) : missing(g, "gated release", err);
}

static int gcp_abort(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		     struct ml_error *err)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops = target_ops(g->target);

	return ops->abort ? ops->abort(g, plan, res, err) : 0;
}

static int gcp_status(void *state, struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops = target_ops(g->target);

	result_target(g, res);
	return ops->status ? ops->status(g, res, err) : missing(g, "status", err);
}

static int gcp_rollback(void *state, const struct ml_deploy_request *req,
			struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops = target_ops(g->target);

	result_target(g, res);
	return ops->rollback ? ops->rollback(g, req, res, err) : missing(g, "rollback", err);
}

static int gcp_destroy(void *state, const struct ml_deploy_request *req,
		       struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops = target_ops(g->target);

	result_target(g, res);
	return ops->destroy ? ops->destroy(g, req, res, err) : missing(g, "destroy", err);
}

static int gcp_render(void *state, const struct ml_deploy_request *req, const char *file,
		      struct ml_buf *out, struct ml_error *err)
{
	struct ml_gcp *g = state;
	const struct ml_gcp_target_ops *ops = target_ops(g->target);

	if (!ops->render)
		return ml_error_set(err, ML_ENOTFOUND, "gcp: target '%s' has no platform file "
				    "to render", g->target);
	return ops->render(g, req, file, out, err);
}

static int gcp_api_calls(void *state, int *mutations)
{
	struct ml_gcp *g = state;
	int calls = 0, m;
	size_t i;

	*mutations = 0;
	for (i = 0; i < g->nclients; i++) {
		calls += ml_rest_calls(g->clients[i], &m);
		*mutations += m;
	}
	return calls;
}

/* The audience of an ID token for a Cloud Run URL: the service's own URL
 * (https://S-HASH-RC.a.run.app), also for a tag's (https://TAG---S-HASH-RC.a.run.app),
 * without path. */
static char *run_audience(const char *url)
{
	const char *host = strstr(url, "://"), *end, *tag;

	host = host ? host + 3 : url;
	end = host + strcspn(host, "/?#");
	tag = strstr(host, "---");
	if (tag && tag < end)
		host = tag + 3;
	return ml_asprintf("https://%.*s", (int)(end - host), host);
}

int ml_gcp_health_headers(void *state, const char *url, char ***headers, size_t *nheaders,
			  struct ml_error *err)
{
	struct ml_gcp *g = state;
	struct ml_error ierr = { 0, "" };
	char *aud, *token = NULL;
	int rc;

	*headers = NULL;
	*nheaders = 0;
	if (strcmp(g->target, ml_gcp_cloudrun_ops.name) || g->conf->allow_unauthenticated > 0)
		return 0;
	aud = run_audience(url);
	rc = ml_gauth_id_token(g->auth, aud, &token, &ierr);
	free(aud);
	if (rc == -ML_EINTR) {
		*err = ierr;
		return rc;
	}
	if (rc < 0)
		/* the service may be public all the same: the check goes without */
		return ml_error_set(err, ML_ENOTFOUND, "a private service wants an ID token, and "
				    "%s; hint: set deploy.gcp.allow_unauthenticated: true, or use a "
				    "service account key or service_account_impersonation_url",
				    ierr.msg);
	*headers = ml_calloc(1, sizeof(**headers));
	(*headers)[0] = ml_asprintf("Authorization: Bearer %s", token);
	*nheaders = 1;
	ml_free_secret(token);
	return 0;
}

const struct ml_provider ml_provider_gcp = {
	.name = "gcp",
	.summary = "Google Cloud Run or App Engine flexible",
	.targets = ml_gcp_targets,
	.caps = ML_PROVIDER_CONFIG | ML_PROVIDER_REGISTRY_AUTH | ML_PROVIDER_DEPLOY |
		ML_PROVIDER_GATED | ML_PROVIDER_SPLIT | ML_PROVIDER_NEEDS_REGISTRY,
	.registry_auth = ml_gar_registry_auth,
	.config_parse = ml_gcp_config_parse,
	.config_keys = ml_gcp_config_keys,
	.config_free = ml_gcp_config_free,
	.config_json = ml_gcp_config_json,
	.init = gcp_init,
	.cleanup = gcp_cleanup,
	.prepare_registry = gcp_prepare_registry,
	.plan = gcp_plan,
	.deploy = gcp_deploy,
	.release = gcp_release,
	.abort = gcp_abort,
	.status = gcp_status,
	.rollback = gcp_rollback,
	.destroy = gcp_destroy,
	.render = gcp_render,
	.api_calls = gcp_api_calls,
	.health_headers = ml_gcp_health_headers,
};
