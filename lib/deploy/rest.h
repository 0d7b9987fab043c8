/* A JSON REST client over the HTTP wrapper, shared by every provider: JSON bodies,
 * retries that depend on the method, the cloud's error body turned into one line,
 * pagination, and -vv bodies with secrets redacted. Providers never call http.h. */
#ifndef ML_REST_H
#define ML_REST_H

#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"
#include "wrap/http.h"
#include "wrap/json.h"

struct ml_rest;

/* A request as the credential hook sees it: it adds the credential-bearing headers
 * (Authorization, X-Amz-Security-Token, X-Amz-Date ...) to headers; those are
 * withheld from redirects to another host and never logged. */
struct ml_rest_sign {
	const char *method;
	const char *url;		/* absolute, query included */
	const char *const *headers;	/* the request's other headers, "Name: value" */
	size_t nheaders;
	const void *body;		/* the exact bytes sent, may be NULL */
	size_t body_len;
};

/* Turns a failed response into one clear line (without "METHOD url: " in front):
 * Google's {"error":{"code","message","status"}}, Azure's {"error":{"code","message"}},
 * AWS JSON's {"__type","message"}, AWS Query XML's <Error><Code/><Message/></Error>.
 * Writes into out (NUL-terminated) and returns 1, or 0 when the body is not its format.
 * code_out (may be NULL, size ML_REST_CODE_MAX) gets the cloud's error code
 * ("NOT_FOUND", "ResourceNotFound", "Throttling"). */
#define ML_REST_CODE_MAX 128
typedef int (*ml_rest_decode_fn)(const struct ml_http_response *resp, char *out, size_t cap,
				 char *code_out);

extern const ml_rest_decode_fn ml_rest_decode_google;
extern const ml_rest_decode_fn ml_rest_decode_azure;
extern const ml_rest_decode_fn ml_rest_decode_aws_json;
extern const ml_rest_decode_fn ml_rest_decode_aws_query;
extern const ml_rest_decode_fn ml_rest_decode_docker;	/* Docker Engine {"message"} */

struct ml_rest_opts {
	const char *service;		/* for messages: "Cloud Run", "Docker engine" */
	const char *base_url;		/* "https://run.googleapis.com"; paths are resolved
					   against it, absolute URLs are taken as they are */
	const char *unix_socket;	/* connect here instead (Docker's socket), or NULL */
	ml_rest_decode_fn decode;	/* NULL: the status line and a sanitised body excerpt */
	/* Adds credential headers for one request (called again for every retry). */
	int (*sign)(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		    struct ml_error *err);
	/* Extra retry rule: 1 when this non-2xx answer is a throttle to retry (AWS's 400
	 * with code Throttling), given the decoded error code. NULL: 429/5xx only. */
	int (*retryable)(void *ud, const struct ml_http_response *resp, const char *code);
	/* A 401 answer to a signed request: the credential was refused (a cached token
	 * revoked or expired early). The hook forgets what the sign hook cached and
	 * returns 1 to send the request once more with a new signature (once per call;
	 * not a streamed body), 0 to fail. NULL: a 401 is final. */
	int (*unauthorized)(void *ud, const struct ml_http_response *resp);
	void *ud;
	long timeout_s;			/* per request; 0: 60 (streamed calls have the HTTP
					   wrapper's minimum rate instead) */
	int max_retries;		/* 0: 5 */
};

int ml_rest_new(struct ml_rest **out, const struct ml_rest_opts *opts, struct ml_error *err);
/* Requests in flight stop (-ML_EINTR) once *flag becomes non-zero. */
void ml_rest_set_interrupt(struct ml_rest *r, volatile int *flag);
/* Requests made so far, and how many of them could change something (not GET/HEAD). */
int ml_rest_calls(const struct ml_rest *r, int *mutations);
void ml_rest_free(struct ml_rest *r);

/* A call's result. status is the HTTP status; body is the parsed JSON of a 2xx
 * answer (NULL when it had none); code is the decoded cloud error code of a
 * failure ("" otherwise). Dispose of it after every call. */
struct ml_rest_result {
	long status;
	ml_json *body;
	char code[ML_REST_CODE_MAX];
	struct ml_http_response resp;	/* headers (Location, Azure-AsyncOperation, Retry-After) */
};
void ml_rest_result_dispose(struct ml_rest_result *res);

enum ml_rest_flags {
	ML_REST_IDEMPOTENT = 1 << 0,	/* retry even though the method is POST (the API says so) */
	ML_REST_ALLOW_404 = 1 << 1,	/* 404 returns 0 with status 404, not an error */
	ML_REST_RAW = 1 << 2,		/* the answer is not JSON: kept in resp.body only */
	ML_REST_ALLOW_409 = 1 << 3,	/* 409 returns 0 with status 409 (already there, in use) */
	ML_REST_ALLOW_304 = 1 << 4,	/* 304 (already started/stopped) is success */
	ML_REST_STREAM = 1 << 5,	/* no minimum transfer rate or deadline: a followed log;
					   stops when *interrupted (see ml_rest_set_interrupt) */
	ML_REST_READ = 1 << 6,		/* a POST that only reads (AWS's Describe*, Get*, List*):
					   retried like GET, not counted as a mutation */
};

/* One request. body: JSON to send (NULL: none), or raw bytes with content_type.
 * GET, HEAD, PUT and DELETE are retried on resets, 429 and 5xx (with backoff, jitter
 * and Retry-After); POST and PATCH only with ML_REST_IDEMPOTENT or when the
 * connection failed before anything was sent. A throttle (429, or an answer the
 * retryable hook names) was not acted on, so it is retried whatever the method;
 * so is a 401 once, when the unauthorized hook says a new credential may do.
 * The sign hook is called again for every attempt. A non-2xx final answer returns
 * -ML_ENOTFOUND (404), -ML_EAUTH (401, 403), -ML_EPROTO otherwise, with
 * "SERVICE: METHOD path: <decoded line> (HTTP n[, after n retries])" in err; a
 * transport failure -ML_ENET with "SERVICE: METHOD url: reason". -vv (ML_LOG_TRACE)
 * shows the request and response bodies through ml_redact_body. One thread at a
 * time per client. */
int ml_rest_call(struct ml_rest *r, const char *method, const char *path, const ml_json *body,
		 unsigned flags, struct ml_rest_result *res, struct ml_error *err);
int ml_rest_call_raw(struct ml_rest *r, const char *method, const char *path,
		     const char *content_type, const void *data, size_t len, unsigned flags,
		     struct ml_rest_result *res, struct ml_error *err);
/* ml_rest_call_raw with more request headers ("Name: value", at most
 * ML_REST_EXTRA_MAX), sent on every attempt and shown to the sign hook, which signs
 * them: AWS JSON's X-Amz-Target. Not for credentials (those come from the hook). */
#define ML_REST_EXTRA_MAX 4
int ml_rest_call_headers(struct ml_rest *r, const char *method, const char *path,
			 const char *const *headers, size_t nheaders, const char *content_type,
			 const void *data, size_t len, unsigned flags, struct ml_rest_result *res,
			 struct ml_error *err);

/* A request whose body is streamed (body->read, size -1 for chunked) and/or whose
 * 2xx answer is streamed into sink (logs, image loads); res->body stays NULL when
 * a sink is given. Never retried once the body started. */
int ml_rest_call_stream(struct ml_rest *r, const char *method, const char *path,
			const char *content_type, const struct ml_http_body *body,
			const struct ml_http_sink *sink, unsigned flags, struct ml_rest_result *res,
			struct ml_error *err);

/* Pagination: calls GET path, appends every element of items_key to items (a JSON
 * array), and follows next_key ("nextPageToken" as ?pageToken=, or "nextLink"/
 * "@odata.nextLink" URLs) until it is absent; at most max_pages pages (0: 100),
 * more is -ML_ETOOBIG. A next link on another origin than base_url is refused
 * (-ML_EPROTO): it would get the credentials. */
int ml_rest_list(struct ml_rest *r, const char *path, const char *items_key,
		 const char *next_key, int max_pages, ml_json *items, struct ml_error *err);

#endif
