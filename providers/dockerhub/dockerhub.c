/* Docker Hub: references say docker.io, the registry API lives at
 * registry-1.docker.io (its token service, auth.docker.io, is announced by the
 * registry's own WWW-Authenticate challenge). */
#include <string.h>

#include "provider.h"

static const char *dockerhub_registry_endpoint(const char *host)
{
	if (!strcmp(host, "docker.io") || !strcmp(host, "index.docker.io"))
		return "registry-1.docker.io";
	return NULL;
}

const struct ml_provider ml_provider_dockerhub = {
	.name = "dockerhub",
	.caps = ML_PROVIDER_REGISTRY,
	.registry_endpoint = dockerhub_registry_endpoint,
};
