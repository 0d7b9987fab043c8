/* The provider table, for cmd/ to wire into lib/. */
#ifndef ML_PROVIDERS_H
#define ML_PROVIDERS_H

#include "provider.h"

/* The provider called name, or NULL. */
const struct ml_provider *ml_providers_find(const char *name);

/* The names of the providers that have every capability in caps (0: all of
 * them), in table order, NULL-terminated; static storage. */
const char *const *ml_providers_names(unsigned caps);

/* The provider a command works with: name when given (it must have caps), else
 * the only provider deploy.yaml names under deploy:. Usage errors list the
 * providers that can. */
int ml_providers_pick(const struct ml_config *cfg, const char *name, unsigned caps,
		      const struct ml_provider **out, struct ml_error *err);

/* The endpoint some provider assigns to a registry host, or NULL. */
const char *ml_providers_registry_endpoint(const char *host);

/* Credentials for a registry host: the provider owning the host logs in with
 * the cloud's own flow; any other host gets ml_auth_credential's chain. */
int ml_providers_registry_credential(const char *host, struct ml_credential *out,
				     struct ml_error *err);

/* The deploy.<name> sections of deploy.yaml, each read by its provider: for
 * ml_config_set_provider_hooks. */
extern const struct ml_config_provider_hooks ml_providers_config_hooks;

#endif
