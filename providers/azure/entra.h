/* Microsoft Entra ID access tokens, as Azure's own libraries find credentials:
 * AZURE_TENANT_ID + AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or
 * AZURE_CLIENT_CERTIFICATE_PATH (a client assertion signed with the certificate's
 * key), or AZURE_FEDERATED_TOKEN_FILE (workload identity, the CI OIDC case); then
 * managed identity (IDENTITY_ENDPOINT + IDENTITY_HEADER, else IMDS). The token cache
 * of a logged-in `az` is not read. Tokens are cached until shortly before expiry. */
#ifndef ML_AZURE_ENTRA_H
#define ML_AZURE_ENTRA_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/error.h"
#include "wrap/http.h"

#define ML_AZURE_ARM_SCOPE "https://management.azure.com/.default"

struct ml_entra;

/* Reads the environment (no network). cfg may be NULL (the registry login has
 * none): endpoints then come from the environment only (AZURE_AUTHORITY_HOST,
 * MLDEPLOY_ENDPOINT_IMDS). A credential named incompletely (AZURE_CLIENT_SECRET
 * without AZURE_TENANT_ID, IDENTITY_ENDPOINT without IDENTITY_HEADER, an encrypted
 * certificate) is -ML_EAUTH, a malformed AZURE_AUTHORITY_HOST or AZURE_TENANT_ID
 * -ML_EUSAGE, naming the variable. */
int ml_entra_new(struct ml_entra **out, const struct ml_config *cfg, struct ml_error *err);
void ml_entra_free(struct ml_entra *e);	/* wipes the secret and the cached tokens */

/* An access token for scope ("https://management.azure.com/.default"), malloc'ed
 * (free with ml_free_secret). -ML_EAUTH with one line naming what was tried and the
 * variables to set when no credential is found, or the authority's answer (the
 * AADSTS code and the first line of its description) when it refuses one;
 * -ML_ENET when it cannot be reached.
 * Several threads may call it: one request at a time, the others wait for its
 * token. */
int ml_entra_token(struct ml_entra *e, const char *scope, char **token, struct ml_error *err);
/* Forgets scope's cached token (Resource Manager answered 401 with it). */
void ml_entra_invalidate(struct ml_entra *e, const char *scope);

/* 1 when the environment names a credential (or the IMDS endpoint is overridden),
 * without asking anyone; else 0. */
int ml_entra_configured(const struct ml_entra *e);
/* 1 when ml_entra_token has a credential to use: a configured one, or the instance
 * metadata service answering a probe (once per object; at most about 2 s when
 * nothing answers); else 0. */
int ml_entra_available(struct ml_entra *e);

/* The tenant the credential belongs to (AZURE_TENANT_ID), or NULL (managed identity). */
const char *ml_entra_tenant(const struct ml_entra *e);
/* Where the credential came from, for -v: "environment (AZURE_CLIENT_SECRET)",
 * "managed identity (IMDS)"; NULL while none is known. */
const char *ml_entra_source(const struct ml_entra *e);

/* The client assertion of AZURE_CLIENT_CERTIFICATE_PATH (RFC 7523, as Entra ID
 * takes it): an RS256 JWT whose header has the certificate's x5t and whose claims
 * are aud = audience (the token endpoint), iss = sub = client_id, a random jti (a
 * UUID), nbf = now and exp = now + ML_ENTRA_ASSERTION_LIFE_S. pem holds the key and
 * the certificate. *out is malloc'ed, a credential (ml_free_secret). */
#define ML_ENTRA_ASSERTION_LIFE_S 600
int ml_entra_assertion(char **out, const char *client_id, const char *audience,
		       const char *pem, size_t pem_len, int64_t now, struct ml_error *err);

/* The Azure error decoder for the REST client (deploy/rest.h): an OAuth error
 * ({"error", "error_description"}, Entra ID's and IMDS's) as "error: the first
 * line of the description" (the AADSTS code is at its start), else
 * ml_rest_decode_azure's. */
int ml_entra_decode_error(const struct ml_http_response *resp, char *out, size_t cap,
			  char *code_out);
/* "code: the first line of message" into out (cap bytes) as one line of
 * printable text, secrets redacted; for the Azure decoders. */
void ml_entra_error_line(char *out, size_t cap, const char *code, const char *message);

#endif
