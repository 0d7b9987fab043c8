/* Placeholder until this module lands (being written now). */
#include "aws/ecr.h"

int ml_ecr_parse_host(const char *host, char *account, char *region, size_t cap)
{
	(void)host; (void)account; (void)region; (void)cap;
	return 0;
}

int ml_ecr_registry_auth(const char *host, struct ml_credential *out, struct ml_error *err)
{
	(void)host; (void)out; (void)err;
	return 0;
}

int ml_ecr_prepare(struct ml_aws *a, const struct ml_deploy_request *req, const char *repository,
		   struct ml_error *err)
{
	(void)a; (void)req; (void)repository; (void)err;
	return 0;
}

void ml_ecr_plan_step(struct ml_aws *a, struct ml_plan *plan)
{
	(void)a; (void)plan;
}
