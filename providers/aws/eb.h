/* Elastic Beanstalk (Query API 2010-12-01): the Docker platform running
 * Dockerrun.aws.json v1 from an S3 source bundle. */
#ifndef ML_AWS_EB_H
#define ML_AWS_EB_H

#include "aws/aws.h"

int ml_eb_init(struct ml_aws *a, struct ml_error *err);
void ml_eb_cleanup(struct ml_aws *a);
int ml_eb_plan(struct ml_aws *a, const struct ml_deploy_request *req, struct ml_plan *plan,
	       struct ml_error *err);
int ml_eb_deploy(struct ml_aws *a, const struct ml_plan *plan, struct ml_deploy_result *res,
		 struct ml_error *err);
int ml_eb_status(struct ml_aws *a, struct ml_deploy_result *res, struct ml_error *err);
int ml_eb_rollback(struct ml_aws *a, const struct ml_deploy_request *req,
		   struct ml_deploy_result *res, struct ml_error *err);
int ml_eb_destroy(struct ml_aws *a, const struct ml_deploy_request *req,
		  struct ml_deploy_result *res, struct ml_error *err);
/* "Dockerrun.aws.json": the v1 file for users of `eb deploy`. */
int ml_eb_render(struct ml_aws *a, const struct ml_deploy_request *req, const char *file,
		 struct ml_buf *out, struct ml_error *err);

#endif
