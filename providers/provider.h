/* What a provider (a cloud or a registry host) offers the core. The core never
 * names a cloud: it asks the table in providers.c. */
#ifndef ML_PROVIDER_H
#define ML_PROVIDER_H

enum ml_provider_caps {
	ML_PROVIDER_REGISTRY = 1 << 0,	/* maps registry hosts to endpoints */
};

struct provider {
	const char *name;
	unsigned caps;
	/* The API endpoint of a registry host this provider owns (docker.io ->
	 * registry-1.docker.io), or NULL when the host is not its own. */
	const char *(*registry_endpoint)(const char *host);
};

extern const struct provider ml_provider_dockerhub;

#endif
