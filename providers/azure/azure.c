/* Microsoft Azure: Container Instances, images from any registry (Azure Container
 * Registry through its Entra ID token exchange). */
#include "azure/azure.h"

#include "azure/aci.h"
#include "azure/acr.h"

static const char *const azure_targets[] = { "aci", NULL };

const struct ml_provider ml_provider_azure = {
	.name = "azure",
	.summary = "Azure Container Instances",
	.targets = azure_targets,
	.caps = ML_PROVIDER_CONFIG | ML_PROVIDER_REGISTRY_AUTH | ML_PROVIDER_DEPLOY |
		ML_PROVIDER_NEEDS_REGISTRY,
	.registry_auth = ml_acr_registry_auth,
	.config_parse = ml_azure_config_parse,
	.config_keys = ml_azure_config_keys,
	.config_free = ml_azure_config_free,
	.config_json = ml_azure_config_json,
	.init = ml_aci_init,
	.cleanup = ml_aci_cleanup,
	.plan = ml_aci_plan,
	.deploy = ml_aci_deploy,
	.status = ml_aci_status,
	.rollback = ml_aci_rollback,
	.destroy = ml_aci_destroy,
	.api_calls = ml_aci_api_calls,
};
