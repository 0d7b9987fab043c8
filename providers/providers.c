#include "providers.h"

#include <stddef.h>

/* Listed explicitly: a provider missing here fails at link time, not at run time. */
static const struct ml_provider *const providers[] = {
	&ml_provider_dockerhub,
};

const char *ml_providers_registry_endpoint(const char *host)
{
	size_t i;

	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
		const char *ep;

		if (!(providers[i]->caps & ML_PROVIDER_REGISTRY))
			continue;
		ep = providers[i]->registry_endpoint(host);
		if (ep)
			return ep;
	}
	return NULL;
}

int ml_providers_registry_credential(const char *host, struct ml_credential *out,
				     struct ml_error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
		if (!(providers[i]->caps & ML_PROVIDER_REGISTRY_AUTH))
			continue;
		rc = providers[i]->registry_auth(host, out, err);
		if (rc != 0)
			return rc;
	}
	return ml_auth_credential(host, out, err);
}
