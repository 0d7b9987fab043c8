/* Azure Container Instances through Azure Resource Manager (api-version
 * 2023-05-01): the container group that runs the image, by digest. ACI replaces a
 * group's containers in place, so an update has downtime and no gated release. */
#ifndef ML_AZURE_ACI_H
#define ML_AZURE_ACI_H

#include "provider.h"

int ml_aci_init(void **state, const struct ml_deploy_ctx *ctx, struct ml_error *err);
void ml_aci_cleanup(void *state);
int ml_aci_plan(void *state, const struct ml_deploy_request *req, struct ml_plan *plan,
		struct ml_error *err);
int ml_aci_deploy(void *state, const struct ml_plan *plan, struct ml_deploy_result *res,
		  struct ml_error *err);
int ml_aci_status(void *state, struct ml_deploy_result *res, struct ml_error *err);
int ml_aci_rollback(void *state, const struct ml_deploy_request *req,
		    struct ml_deploy_result *res, struct ml_error *err);
int ml_aci_destroy(void *state, const struct ml_deploy_request *req, struct ml_deploy_result *res,
		   struct ml_error *err);
int ml_aci_api_calls(void *state, int *mutations);

#endif
