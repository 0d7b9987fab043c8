/* Placeholder until the Artifact Registry client lands. */
#include "gcp/gar.h"

int ml_gar_is_host(const char *host)
{
	(void)host;
	return 0;
}

int ml_gar_registry_auth(const char *host, struct ml_credential *out, struct ml_error *err)
{
	(void)host;
	(void)out;
	(void)err;
	return 0;
}

int ml_gar_prepare(struct ml_gcp *g, const struct ml_deploy_request *req, const char *repository,
		   struct ml_error *err)
{
	(void)g;
	(void)req;
	(void)repository;
	(void)err;
	return 0;
}

void ml_gar_plan_step(struct ml_gcp *g, struct ml_plan *plan)
{
	(void)g;
	(void)plan;
}
