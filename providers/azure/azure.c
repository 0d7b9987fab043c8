/* Microsoft Azure. It reads its section of deploy.yaml so far; deploying comes
 * with the Container Instances client. */
#include "azure/azure.h"

#include "azure/acr.h"

const struct ml_provider ml_provider_azure = {
	.name = "azure",
	.summary = "Azure Container Instances",
	.caps = ML_PROVIDER_CONFIG | ML_PROVIDER_REGISTRY_AUTH,
	.registry_auth = ml_acr_registry_auth,
	.config_parse = ml_azure_config_parse,
	.config_keys = ml_azure_config_keys,
	.config_free = ml_azure_config_free,
	.config_json = ml_azure_config_json,
};
