/* Microsoft Azure: Container Instances. */
#ifndef ML_PROVIDER_AZURE_H
#define ML_PROVIDER_AZURE_H

#include "provider.h"

/* deploy.azure; strings NULL and numbers 0 when unset */
struct ml_azure_conf {
	char *subscription;
	char *resource_group;
	char *location;
	char *dns_label;
	double cpu, memory_gb;
	struct ml_pos pos;
};

extern const char *const ml_azure_config_keys[];
int ml_azure_config_parse(struct ml_config_section *sec, void **conf, struct ml_error *err);
void ml_azure_config_free(void *conf);
ml_json *ml_azure_config_json(const void *conf);

extern const struct ml_provider ml_provider_azure;

#endif
