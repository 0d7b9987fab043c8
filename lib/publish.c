#include "publish.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/alloc.h"
#include "util/log.h"

static int build(const struct ml_publish_opts *opts, struct ml_publish_result *res,
		 struct ml_error *err)
{
	double t0 = ml_now_s();
	int rc = ml_build_run(&opts->build, &res->build, err);

	res->seconds_build += ml_now_s() - t0;
	if (rc < 0)
		return rc;
	res->built = 1;
	memcpy(res->manifest_digest, res->build.manifest_digest, sizeof(res->manifest_digest));
	memcpy(res->config_digest, res->build.config_digest, sizeof(res->config_digest));
	if (opts->built)
		opts->built(opts->ud, &res->build);
	return 0;
}

/* The build's tag first, then image.tags (push skips repeats). */
static int push(const struct ml_publish_opts *opts, struct ml_publish_result *res,
		struct ml_error *err)
{
	const struct ml_config *cfg = opts->build.cfg;
	struct ml_push_opts po = { 0 };
	char **tags = ml_calloc(cfg->image.tags.n + 1, sizeof(*tags));
	double t0 = ml_now_s();
	size_t i;
	int rc;

	tags[0] = res->build.tag;
	for (i = 0; i < cfg->image.tags.n; i++)
		tags[i + 1] = cfg->image.tags.v[i];
	po.manifest_digest = res->manifest_digest;
	po.repository = opts->repository ? opts->repository : cfg->image.repository;
	po.tags = tags;
	po.ntags = cfg->image.tags.n + 1;
	po.jobs = opts->jobs;
	rc = ml_push_run(&po, &res->push, err);
	res->seconds_push += ml_now_s() - t0;
	free(tags);
	if (rc < 0)
		return rc;
	res->pushed = 1;
	res->reference = res->push.reference;
	for (i = 0; i < res->push.nblobs; i++) {
		res->bytes_uploaded += res->push.blobs[i].bytes_sent;
		if (res->push.blobs[i].action == ML_PUSH_UPLOADED)
			res->uploaded = 1;
	}
	return 0;
}

/* What one build and push left in res, before they are done again. */
static void reset(struct ml_publish_result *res)
{
	ml_build_result_dispose(&res->build);
	ml_push_result_dispose(&res->push);
	res->built = 0;
}

int ml_publish_run(const struct ml_publish_opts *opts, struct ml_publish_result *res,
		   struct ml_error *err)
{
	const struct ml_config *cfg = opts->build.cfg;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = build(opts, res, err);
	if (rc < 0 || !opts->push)
		return rc;
	if (!opts->repository && !cfg->image.repository)
		return ml_error_set(err, ML_ECONFIG, "nowhere to push: set image.repository in '%s'",
				    cfg->path);
	rc = push(opts, res, err);
	if (rc == -ML_ECACHE) {
		ml_log(ML_LOG_WARN, "%s; building again", err ? err->msg : "a cached blob was lost");
		reset(res);
		rc = build(opts, res, err);
		if (rc == 0)
			rc = push(opts, res, err);
	}
	return rc;
}

void ml_publish_result_dispose(struct ml_publish_result *res)
{
	ml_build_result_dispose(&res->build);
	ml_push_result_dispose(&res->push);
	memset(res, 0, sizeof(*res));
}
