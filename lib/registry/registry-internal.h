/* What registry.c shares with upload.c: one authenticated request. */
#ifndef ML_REGISTRY_INTERNAL_H
#define ML_REGISTRY_INTERNAL_H

#include "wrap/http.h"
#include "registry/registry.h"

struct ml_reg_req {
	const char *method;
	const char *path;		/* below the registry's base URL ... */
	const char *url;		/* ... or absolute (an upload Location) */
	const char *what;		/* for messages: "blob sha256:... in repo" */
	const char *scope;		/* token scope(s), space-separated */
	const char *accept;		/* full header lines, or NULL */
	const char *content_type;
	const char *content_range;
	const struct ml_http_body *body;
	const struct ml_http_sink *sink;
	size_t max_body;
	unsigned flags;			/* extra ml_http_flags */
	int no_retry;			/* the caller handles retries (non-idempotent requests) */
};

/* Sends q with the credentials its scope needs, answering one 401 challenge.
 * A 401 after that is -ML_EAUTH; other statuses are left to the caller. */
int ml_reg_do(struct ml_registry *r, const struct ml_reg_req *q,
	      struct ml_http_response *resp, struct ml_error *err);

/* "what on 'host': HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)" */
int ml_reg_status_error(struct ml_registry *r, int code, const char *what,
			const struct ml_http_response *resp, struct ml_error *err);

/* A bare HTTP exchange on one of the registry's pooled clients. */
int ml_reg_http(struct ml_registry *r, const struct ml_http_request *req,
		struct ml_http_response *resp, struct ml_error *err);

#endif
