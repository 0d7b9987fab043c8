#include "deploy.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy/health.h"
#include "publish.h"
#include "registry/reference.h"
#include "util/clock.h"
#include "util/alloc.h"
#include "util/log.h"
#include "wrap/codec.h"

/* Where a push would put the image, for a plan made without pushing (a dry run,
 * render): "host/repository@digest". */
static int would_push_as(const char *repository, const char *digest, char **out,
			 struct ml_error *err)
{
	struct ml_ref ref = { 0 };
	int rc = ml_ref_parse(&ref, repository, 0, err);

	if (rc == 0) {
		ref.digest = ml_strdup(digest);
		*out = ml_ref_string(&ref);
	}
	ml_ref_dispose(&ref);
	return rc;
}

/* The image, built into the cache and, for providers that run images from a
 * registry, pushed from there (not on a dry run). Fills the request's image fields
 * with strings owned by pub, or by *image. */
static int prepare_image(const struct ml_deploy_opts *o, struct ml_deploy_request *req,
			 struct ml_publish_result *pub, struct ml_deploy_result *res,
			 char **image, struct ml_error *err)
{
	struct ml_publish_opts po = { 0 };
	int rc;

	po.build.cfg = o->cfg;
	po.build.codec = &ml_codec_gzip;
	po.build.level = ml_codec_gzip.default_level;
	po.build.no_output = 1;
	po.push = (o->provider->caps & ML_PROVIDER_NEEDS_REGISTRY) && !req->dry_run &&
		  o->op != ML_OP_RENDER;
	if (po.push && !o->cfg->image.repository)
		return ml_error_set(err, ML_ECONFIG, "%s: provider '%s' runs images from a registry: "
				    "set image.repository", o->cfg->path, o->provider->name);
	rc = ml_publish_run(&po, pub, err);
	res->seconds_build = pub->seconds_build;
	res->seconds_push = pub->seconds_push;
	if (rc < 0)
		return rc;
	req->digest = pub->manifest_digest;
	req->config_digest = pub->config_digest;
	req->image = pub->reference;
	if (!req->image && (o->provider->caps & ML_PROVIDER_NEEDS_REGISTRY) && o->cfg->image.repository)
		rc = would_push_as(o->cfg->image.repository, pub->manifest_digest, image, err);
	if (rc < 0)
		return rc;
	if (*image)
		req->image = *image;
	req->revision = pub->build.git.present ? pub->build.git.revision : NULL;
	return 0;
}

static int health(const struct ml_deploy_opts *o, void *state, const char *url,
		  struct ml_deploy_result *res, struct ml_error *err)
{
	struct ml_health_opts ho = { .base_url = url, .path = o->cfg->health.path,
				     .timeout_s = o->req.timeout_s, .interrupted = o->interrupted };
	struct ml_error herr = { 0 };
	char **hdrs = NULL;
	size_t nhdrs = 0;
	double t0 = ml_now_s();
	int rc = 0;

	free(res->health.url);
	free(res->health.detail);
	res->health.url = res->health.detail = NULL;
	if (o->provider->health_headers)
		rc = o->provider->health_headers(state, url, &hdrs, &nhdrs, &herr);
	if (rc == -ML_ENOTFOUND) {
		/* no identity to send: the check goes without, and says why on 401/403 */
		ml_log(ML_LOG_INFO, "health: %s", herr.msg);
		ho.denied_hint = herr.msg;
		rc = 0;
	} else if (rc < 0) {
		ml_free_secrets(hdrs, nhdrs);
		*err = herr;
		return ml_error_prefix(err, "health check of %s", url);
	}
	ho.secret_headers = (const char *const *)hdrs;
	ho.nsecret_headers = nhdrs;
	rc = ml_health_check(&ho, &res->health, err);
	ml_free_secrets(hdrs, nhdrs);
	res->seconds_health += ml_now_s() - t0;
	return rc;
}

/* Deploy: plan, then (unless a dry run) execute; a gated provider's new revision
 * gets traffic only after its health check passes, and is removed when it fails. */
static int deploy(const struct ml_deploy_opts *o, void *state, const struct ml_deploy_request *req,
		  struct ml_deploy_result *res, struct ml_plan *plan, struct ml_error *err)
{
	const struct ml_provider *p = o->provider;
	int gated = (p->caps & ML_PROVIDER_GATED) != 0;
	double t0 = ml_now_s();
	int rc;

	rc = p->plan(state, req, plan, err);
	if (rc < 0 || req->dry_run)
		return rc;
	ml_log(ML_LOG_INFO, "%s: %s", p->name, plan->summary ? plan->summary : "deploying");
	rc = p->deploy(state, plan, res, err);
	res->seconds_platform = ml_now_s() - t0;
	if (rc < 0 && p->abort) {
		struct ml_error aerr = { 0 };

		/* what the failed deploy made is taken away again */
		if (p->abort(state, plan, res, &aerr) < 0)
			ml_log(ML_LOG_WARN, "cleaning up after the failed deploy: %s", aerr.msg);
	}
	if (rc < 0)
		return rc;
	if (gated && res->candidate_url && !req->no_wait) {
		rc = health(o, state, res->candidate_url, res, err);
		if (rc < 0) {
			struct ml_error aerr = { 0 };

			if (p->abort(state, plan, res, &aerr) < 0)
				ml_log(ML_LOG_WARN, "removing the new revision: %s", aerr.msg);
			return ml_error_prefix(err, plan->live ? "the new revision was not released; "
					       "what served before still serves" :
					       "the new revision was removed; nothing serves");
		}
	}
	if (gated && res->candidate_url) {
		if (req->no_traffic)
			return 0;
		t0 = ml_now_s();
		rc = p->release(state, plan, res, err);
		res->seconds_platform += ml_now_s() - t0;
		if (rc < 0)
			return rc;
	}
	if (!res->url)
		return ml_error_set(err, ML_EPROTO, "%s: the deploy returned no URL", p->name);
	if (req->no_wait)
		return 0;
	/* the released (or ungated) revision is checked where users reach it */
	return health(o, state, res->url, res, err);
}

static int needs_image(enum ml_deploy_op op)
{
	return op == ML_OP_DEPLOY || op == ML_OP_RUN || op == ML_OP_RENDER;
}

int ml_deploy_run(const struct ml_deploy_opts *o, struct ml_deploy_result *res,
		  struct ml_plan *plan, struct ml_error *err)
{
	const struct ml_provider *p = o->provider;
	struct ml_deploy_ctx ctx = { .cfg = o->cfg, .service = o->cfg->name, .verbose = o->verbose,
				     .interrupted = o->interrupted };
	struct ml_deploy_request req = o->req;
	struct ml_publish_result pub;
	void *state = NULL;
	char *image = NULL;
	int rc, mutations = 0;

	memset(&pub, 0, sizeof(pub));
	ctx.conf = ml_config_provider_conf(o->cfg, p->name);
	ctx.target = o->target;	/* NULL: the provider's configured target, else its default */
	res->provider = ml_strdup(p->name);
	res->service = ml_strdup(o->cfg->name);
	if (req.traffic == 0)
		req.no_traffic = 1;
	if (req.traffic > 0 && req.traffic < 100 && !(p->caps & ML_PROVIDER_SPLIT))
		return ml_error_set(err, ML_EUSAGE, "provider '%s' cannot split traffic: --traffic "
				    "takes 0 or 100 there (or use --no-traffic)", p->name);
	if (req.no_traffic && o->op == ML_OP_DEPLOY && !(p->caps & ML_PROVIDER_GATED))
		return ml_error_set(err, ML_EUSAGE, "provider '%s' cannot hold traffic back: the new "
				    "revision serves as soon as it runs (no --no-traffic or --traffic 0)",
				    p->name);
	if (o->op == ML_OP_RENDER && !p->render)
		return ml_error_set(err, ML_EUSAGE, "provider '%s' has no platform file to render",
				    p->name);
	res->target = ml_strdup(ctx.target ? ctx.target : p->targets ? p->targets[0] : NULL);
	if (!req.port)
		req.port = o->cfg->image.port ? o->cfg->image.port : 8080;
	req.health_path = o->cfg->health.path;
	/* before the build: a provider's configuration error costs no build or push */
	rc = p->init(&state, &ctx, err);
	if (rc < 0)
		goto out;
	if (o->op == ML_OP_DEPLOY && p->prepare_registry && o->cfg->image.repository &&
	    (p->caps & ML_PROVIDER_NEEDS_REGISTRY)) {
		rc = p->prepare_registry(state, &req, o->cfg->image.repository, err);
		if (rc < 0)
			goto out;
	}
	if (needs_image(o->op)) {
		rc = prepare_image(o, &req, &pub, res, &image, err);
		if (rc == 0 && o->interrupted && *o->interrupted)
			rc = ml_error_set(err, ML_EINTR, "interrupted after the build; nothing deployed");
		if (rc < 0)
			goto out;
	}
	switch (o->op) {
	case ML_OP_DEPLOY:
		rc = deploy(o, state, &req, res, plan, err);
		break;
	case ML_OP_STATUS:
		rc = p->status(state, res, err);
		break;
	case ML_OP_ROLLBACK:
		rc = p->rollback(state, &req, res, err);
		break;
	case ML_OP_DESTROY:
		rc = p->destroy(state, &req, res, err);
		break;
	case ML_OP_RENDER:
		rc = p->render(state, &req, o->render_file, o->render_out, err);
		break;
	case ML_OP_RUN:
		rc = p->run(state, &req, o->run, res, err);
		break;
	}
out:
	if (state && p->api_calls)
		res->api_calls = p->api_calls(state, &mutations);
	if (state)
		p->cleanup(state);
	ml_publish_result_dispose(&pub);
	free(image);
	return rc;
}
