/* Placeholder until this module lands (being written now). */
#include "aws/eb.h"

static int todo(struct ml_error *err)
{
	return ml_error_set(err, ML_EINTERNAL, "aws: elastic beanstalk not available yet");
}

int ml_eb_init(struct ml_aws *a, struct ml_error *err)
{
	(void)a; (void)err;
	return 0;
}

void ml_eb_cleanup(struct ml_aws *a)
{
	(void)a;
}

int ml_eb_plan(struct ml_aws *a, const struct ml_deploy_request *req, struct ml_plan *plan,
	       struct ml_error *err)
{
	(void)a; (void)req; (void)plan;
	return todo(err);
}

int ml_eb_deploy(struct ml_aws *a, const struct ml_plan *plan, struct ml_deploy_result *res,
		 struct ml_error *err)
{
	(void)a; (void)plan; (void)res;
	return todo(err);
}

int ml_eb_status(struct ml_aws *a, struct ml_deploy_result *res, struct ml_error *err)
{
	(void)a; (void)res;
	return todo(err);
}

int ml_eb_rollback(struct ml_aws *a, const struct ml_deploy_request *req,
		   struct ml_deploy_result *res, struct ml_error *err)
{
	(void)a; (void)req; (void)res;
	return todo(err);
}

int ml_eb_destroy(struct ml_aws *a, const struct ml_deploy_request *req,
		  struct ml_deploy_result *res, struct ml_error *err)
{
	(void)a; (void)req; (void)res;
	return todo(err);
}

int ml_eb_render(struct ml_aws *a, const struct ml_deploy_request *req, const char *file,
		 struct ml_buf *out, struct ml_error *err)
{
	(void)a; (void)req; (void)file; (void)out;
	return todo(err);
}
