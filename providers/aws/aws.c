/* Amazon Web Services: Elastic Beanstalk, with ECR, S3 and IAM around it. The
 * credentials, region and clients are shared; eb.c runs the deploy. */
#include "aws/aws.h"

#include <stdlib.h>

#include "aws/awsauth.h"
#include "aws/eb.h"
#include "aws/ecr.h"
#include "util/alloc.h"
#include "util/log.h"

static const char *const aws_targets[] = { "beanstalk", NULL };

int ml_aws_rest(struct ml_aws *a, const struct ml_aws_service *svc, struct ml_rest **out,
		struct ml_error *err)
{
	int rc;

	if (a->nclients == sizeof(a->clients) / sizeof(a->clients[0]))
		return ml_error_set(err, ML_EINTERNAL, "too many AWS API clients");
	rc = ml_aws_client(a->auth, svc, a->region, out, err);
	if (rc < 0)
		return rc;
	if (a->ctx->interrupted)
		ml_rest_set_interrupt(*out, a->ctx->interrupted);
	a->clients[a->nclients++] = *out;
	return 0;
}

void ml_aws_rest_done(struct ml_aws *a, struct ml_rest *r)
{
	int m = 0;

	if (!r)
		return;
	a->calls_done += ml_rest_calls(r, &m);
	a->mutations_done += m;
	ml_rest_free(r);
}

static void aws_cleanup(void *state)
{
	struct ml_aws *a = state;
	size_t i;

	if (!a)
		return;
	ml_eb_cleanup(a);
	for (i = 0; i < a->nclients; i++)
		ml_rest_free(a->clients[i]);
	ml_awsauth_free(a->auth);
	free(a->repository_name);
	free(a);
}

static int aws_init(void **state, const struct ml_deploy_ctx *ctx, struct ml_error *err)
{
	static const struct ml_aws_conf none = { .create_repository = 1 };	/* the defaults */
	struct ml_aws *a = ml_calloc(1, sizeof(*a));
	int rc;

	a->ctx = ctx;
	a->conf = ctx->conf ? ctx->conf : &none;
	rc = ml_awsauth_new(&a->auth, a->conf->region, err);
	if (rc == 0) {
		a->region = ml_awsauth_region(a->auth);
		if (!a->region)
			rc = ml_error_set(err, ML_ECONFIG, "%s: no AWS region: set deploy.aws.region "
					  "(or AWS_REGION, or region in the profile)", ctx->cfg->path);
	}
	if (rc == 0)
		rc = ml_eb_init(a, err);
	if (rc < 0) {
		aws_cleanup(a);
		return rc;
	}
	*state = a;
	return 0;
}

static int aws_prepare_registry(void *state, const struct ml_deploy_request *req,
				const char *repository, struct ml_error *err)
{
	return ml_ecr_prepare(state, req, repository, err);
}

static int aws_plan(void *state, const struct ml_deploy_request *req, struct ml_plan *plan,
		    struct ml_error *err)
{
	ml_ecr_plan_step(state, plan);
	return ml_eb_plan(state, req, plan, err);
}

static int aws_deploy(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		      struct ml_error *err)
{
	return ml_eb_deploy(state, plan, res, err);
}

static int aws_status(void *state, struct ml_deploy_result *res, struct ml_error *err)
{
	return ml_eb_status(state, res, err);
}

static int aws_rollback(void *state, const struct ml_deploy_request *req,
			struct ml_deploy_result *res, struct ml_error *err)
{
	return ml_eb_rollback(state, req, res, err);
}

static int aws_destroy(void *state, const struct ml_deploy_request *req,
		       struct ml_deploy_result *res, struct ml_error *err)
{
	return ml_eb_destroy(state, req, res, err);
}

static int aws_render(void *state, const struct ml_deploy_request *req, const char *file,
		      struct ml_buf *out, struct ml_error *err)
{
	return ml_eb_render(state, req, file, out, err);
}

static int aws_api_calls(void *state, int *mutations)
{
	struct ml_aws *a = state;
	int calls = a->calls_done, m;
	size_t i;

	*mutations = a->mutations_done;
	for (i = 0; i < a->nclients; i++) {
		calls += ml_rest_calls(a->clients[i], &m);
		*mutations += m;
	}
	return calls;
}

const struct ml_provider ml_provider_aws = {
	.name = "aws",
	.summary = "AWS Elastic Beanstalk",
	.targets = aws_targets,
	.caps = ML_PROVIDER_CONFIG | ML_PROVIDER_REGISTRY_AUTH | ML_PROVIDER_DEPLOY |
		ML_PROVIDER_NEEDS_REGISTRY,
	.registry_auth = ml_ecr_registry_auth,
	.config_parse = ml_aws_config_parse,
	.config_keys = ml_aws_config_keys,
	.config_free = ml_aws_config_free,
	.config_json = ml_aws_config_json,
	.init = aws_init,
	.cleanup = aws_cleanup,
	.prepare_registry = aws_prepare_registry,
	.plan = aws_plan,
	.deploy = aws_deploy,
	.status = aws_status,
	.rollback = aws_rollback,
	.destroy = aws_destroy,
	.render = aws_render,
	.api_calls = aws_api_calls,
};
