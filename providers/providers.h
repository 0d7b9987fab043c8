/* The provider table, for cmd/ to wire into lib/. */
#ifndef ML_PROVIDERS_H
#define ML_PROVIDERS_H

#include "provider.h"

/* The endpoint some provider assigns to a registry host, or NULL. */
const char *ml_providers_registry_endpoint(const char *host);

/* Credentials for a registry host: the provider owning the host logs in with
 * the cloud's own flow; any other host gets ml_auth_credential's chain. */
int ml_providers_registry_credential(const char *host, struct ml_credential *out,
				     struct ml_error *err);

#endif
