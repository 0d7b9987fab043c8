/* What a provider (a cloud or a registry host) offers the core. The core never
 * names a cloud: it asks the table in providers.c. */
#ifndef ML_PROVIDER_H
#define ML_PROVIDER_H

#include "registry/auth.h"

enum ml_provider_caps {
	ML_PROVIDER_REGISTRY = 1 << 0,		/* maps registry hosts to endpoints */
	ML_PROVIDER_REGISTRY_AUTH = 1 << 1,	/* logs in to its own registries */
};

struct provider {
	const char *name;
	unsigned caps;
	/* The API endpoint of a registry host this provider owns (docker.io ->
	 * registry-1.docker.io), or NULL when the host is not its own. */
	const char *(*registry_endpoint)(const char *host);
	/* The cloud's own login for a registry host it owns (a Google access token
	 * for *-docker.pkg.dev, an ECR authorization token, an ACR refresh token):
	 * 1 with credentials, 0 when the host is not its own, negative on failure. */
	int (*registry_auth)(const char *host, struct ml_credential *out, struct ml_error *err);
};

extern const struct provider ml_provider_dockerhub;

#endif
