/* RS256 JSON Web Tokens (RFC 7519) that mldeploy signs to prove who it is: Google's
 * service-account grant (RFC 7523) and Entra ID's client-certificate assertion. */
#ifndef ML_JWT_H
#define ML_JWT_H

#include <stddef.h>

#include "util/error.h"
#include "wrap/json.h"

/* Signs claims (a JSON object, borrowed) under the header {"alg":"RS256",
 * "typ":"JWT"}, with "kid" and "x5t" (see ml_cert_x5t) added when not NULL.
 * pem, pem_len: the RSA private key, as ml_rsa_sha256_sign takes it (borrowed).
 * On success *out gets "header.claims.signature", each part compact JSON or the
 * signature in URL-safe base64 without padding; malloc'ed, a credential: free it
 * with ml_free_secret. Errors: those of ml_rsa_sha256_sign, -ML_EINTERNAL when
 * claims is not an object. */
int ml_jwt_sign_rs256(char **out, const ml_json *claims, const char *pem, size_t pem_len,
		      const char *kid, const char *x5t, struct ml_error *err);

#endif
