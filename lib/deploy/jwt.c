#include "deploy/jwt.h"

#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/digest.h"

#define JWT_MAX (64u << 10)	/* a token endpoint takes a few KiB */

/* Appends the URL-safe base64 of v's compact JSON. */
static int add_json(struct ml_buf *jwt, const ml_json *v, const char *what, struct ml_error *err)
{
	struct ml_buf json = ML_BUF_INIT;
	int rc;

	ml_buf_init(&json, JWT_MAX);
	rc = ml_json_dump(v, &json);
	if (rc == 0)
		rc = ml_base64url_encode(jwt, json.data, json.len);
	ml_buf_dispose(&json);
	if (rc < 0)
		return ml_error_set(err, -rc, "jwt: the %s is over %u bytes", what, JWT_MAX);
	return 0;
}

static ml_json *header_new(const char *kid, const char *x5t)
{
	ml_json *h = ml_json_object_new();

	ml_json_set_str(h, "alg", "RS256");
	ml_json_set_str(h, "typ", "JWT");
	if (kid)
		ml_json_set_str(h, "kid", kid);
	if (x5t)
		ml_json_set_str(h, "x5t", x5t);
	return h;
}

int ml_jwt_sign_rs256(char **out, const ml_json *claims, const char *pem, size_t pem_len,
		      const char *kid, const char *x5t, struct ml_error *err)
{
	struct ml_buf jwt = ML_BUF_INIT, sig = ML_BUF_INIT;
	ml_json *header = header_new(kid, x5t);
	int rc;

	ml_buf_init(&jwt, JWT_MAX);
	if (!ml_json_is_object(claims)) {
		rc = ml_error_set(err, ML_EINTERNAL, "jwt: the claims are not a JSON object");
		goto out;
	}
	rc = add_json(&jwt, header, "header", err);
	if (rc == 0 && (rc = ml_buf_addch(&jwt, '.')) < 0)
		ml_error_set(err, ML_ETOOBIG, "jwt: the header is over %u bytes", JWT_MAX);
	if (rc == 0)
		rc = add_json(&jwt, claims, "claims", err);
	if (rc == 0)
		rc = ml_rsa_sha256_sign(&sig, pem, pem_len, jwt.data, jwt.len, err);
	if (rc == 0 && (ml_buf_addch(&jwt, '.') < 0 ||
			ml_base64url_encode(&jwt, sig.data, sig.len) < 0))
		rc = ml_error_set(err, ML_ETOOBIG, "jwt: the token is over %u bytes", JWT_MAX);
	if (rc == 0)
		*out = ml_buf_detach(&jwt);
out:
	ml_wipe(sig.data, sig.len);
	ml_buf_dispose(&sig);
	ml_wipe(jwt.data, jwt.len);
	ml_buf_dispose(&jwt);
	ml_json_free(header);
	return rc;
}
