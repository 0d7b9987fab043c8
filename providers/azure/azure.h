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
	int create_resource_group;	/* create the group when it is missing */
	char *restart_policy;		/* Always (default), OnFailure, Never */
	char *identity;			/* a user-assigned identity's resource id: ACI pulls with it */
	struct ml_kv *env;		/* extra environment for this provider */
	size_t nenv;
	struct ml_strv secure_env;	/* names of env values sent as secureValue */
	struct ml_pos pos;
};

extern const char *const ml_azure_config_keys[];
int ml_azure_config_parse(struct ml_config_section *sec, void **conf, struct ml_error *err);
void ml_azure_config_free(void *conf);
ml_json *ml_azure_config_json(const void *conf);

/* 1 when env variable name is listed in deploy.azure.secure_env. */
int ml_azure_is_secure(const struct ml_azure_conf *c, const char *name);

extern const struct ml_provider ml_provider_azure;

#endif
