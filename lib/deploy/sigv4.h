/* AWS Signature Version 4, in one place: every AWS API call and the S3 upload are
 * signed here (HMAC-SHA-256 and SHA-256 through the OpenSSL wrapper). Passes the
 * AWS SigV4 test suite (tests/data/sigv4/). */
#ifndef ML_SIGV4_H
#define ML_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "deploy/rest.h"
#include "util/error.h"

/* A set of AWS credentials; every string is a secret but the key id (which is
 * still never logged whole). */
struct ml_aws_credentials {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;		/* NULL for long-term keys */
	int64_t expiration;		/* unix seconds; 0: does not expire */
};
void ml_aws_credentials_dispose(struct ml_aws_credentials *c);	/* wipes the secrets */
void ml_aws_credentials_copy(struct ml_aws_credentials *dst, const struct ml_aws_credentials *src);

#define ML_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct ml_sigv4_params {
	const char *region;		/* "us-east-1" */
	const char *service;		/* the signing name: "elasticbeanstalk", "s3", "ecr" */
	int64_t now;			/* unix seconds; 0: the clock */
	/* hex SHA-256 of the payload, or ML_SIGV4_UNSIGNED_PAYLOAD; NULL: computed from
	 * the request's body bytes */
	const char *payload_hash;
	int s3;				/* S3's rules: the path is not normalised or encoded
					   twice, and x-amz-content-sha256 is sent */
};

/* Signs req (method, absolute URL with query, its other headers, body): *headers
 * gets the headers to add (Authorization, X-Amz-Date, X-Amz-Security-Token when
 * there is a session token, x-amz-content-sha256 for S3), malloc'ed ("Name: value"
 * strings; free each with ml_free_secret, then the array). Signed headers: host,
 * x-amz-*, content-type and those the request has. */
int ml_sigv4_sign(const struct ml_sigv4_params *p, const struct ml_aws_credentials *c,
		  const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		  struct ml_error *err);

/* The steps, for the test suite: the canonical request and the string to sign of
 * req as ml_sigv4_sign would sign it (into out, reset first). */
int ml_sigv4_canonical_request(const struct ml_sigv4_params *p, const struct ml_rest_sign *req,
			       struct ml_buf *out, struct ml_error *err);
int ml_sigv4_string_to_sign(const struct ml_sigv4_params *p, const struct ml_rest_sign *req,
			    struct ml_buf *out, struct ml_error *err);

/* Appends s (n bytes) encoded as SigV4 wants query names and values, form fields
 * and path segments: every byte but A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex);
 * '/' kept when keep_slash (a path, an S3 key). 0 or -ML_ETOOBIG. */
int ml_sigv4_uri_encode(struct ml_buf *out, const char *s, size_t n, int keep_slash);

#endif
