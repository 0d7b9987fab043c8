/* Google Cloud. It reads its section of deploy.yaml so far; deploying comes with
 * the Cloud Run and App Engine clients. */
#include "gcp/gcp.h"

const struct ml_provider ml_provider_gcp = {
	.name = "gcp",
	.summary = "Google Cloud Run or App Engine flexible",
	.targets = ml_gcp_targets,
	.caps = ML_PROVIDER_CONFIG,
	.config_parse = ml_gcp_config_parse,
	.config_keys = ml_gcp_config_keys,
	.config_free = ml_gcp_config_free,
	.config_json = ml_gcp_config_json,
};
