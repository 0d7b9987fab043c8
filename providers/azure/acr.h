/* Azure Container Registry logins: an Entra ID access token exchanged at the
 * registry's POST /oauth2/exchange for an ACR refresh token, which the registry's
 * own bearer flow takes as the password of ML_ACR_USER. */
#ifndef ML_AZURE_ACR_H
#define ML_AZURE_ACR_H

#include <stdint.h>

#include "azure/entra.h"
#include "registry/auth.h"
#include "util/error.h"

/* The user name that says "the password is an ACR refresh token". */
#define ML_ACR_USER "00000000-0000-0000-0000-000000000000"

/* The Entra ID scope an ACR login server's exchange takes (its cloud's Resource
 * Manager): NAME.azurecr.io, NAME.azurecr.cn, NAME.azurecr.us (case-insensitive,
 * no port); NULL when host is not one. */
const char *ml_acr_scope(const char *host);

/* An ACR refresh token for the login server host from e's credentials (malloc'ed,
 * free with ml_free_secret); lifetime_s (may be NULL) gets how long it is valid,
 * from its exp claim. Errors: ml_entra_token's, or the registry's refusal. */
int ml_acr_refresh_token(struct ml_entra *e, const char *host, char **token,
			 int64_t *lifetime_s, struct ml_error *err);

/* The provider's registry_auth hook: 1 with ML_ACR_USER and a refresh token for an
 * ACR login server when an Entra ID credential is there; 0 for other hosts, and
 * when no Entra ID credential is configured (then the Docker config's admin user
 * or `az acr login` entry applies). Refresh tokens are kept for the process. */
int ml_acr_registry_auth(const char *host, struct ml_credential *out, struct ml_error *err);

#endif
