/* The provider table, for cmd/ to wire into lib/. */
#ifndef ML_PROVIDERS_H
#define ML_PROVIDERS_H

#include "provider.h"

/* The endpoint some provider assigns to a registry host, or NULL. */
const char *ml_providers_registry_endpoint(const char *host);

#endif
