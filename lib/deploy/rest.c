#include "deploy/rest.h"

#include <stdlib.h>
#include <string.h>

#include "deploy/rest-internal.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/redact.h"

#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_RETRIES 5
#define MAX_BODY (16u << 20)		/* of an answer held in memory */
#define TRACE_BODY_MAX (64u << 10)	/* of a body shown at -vv */
#define EXCERPT_MAX 300			/* of an undecoded error body in a message */
#define DEFAULT_MAX_PAGES 100

struct ml_rest {
	char *service;
	char *base_url;
	char *unix_socket;
	ml_rest_decode_fn decode;
	int (*sign)(void *ud, const struct ml_rest_sign *req, char ***headers, size_t *nheaders,
		    struct ml_error *err);
	int (*retryable)(void *ud, const struct ml_http_response *resp, const char *code);
	int (*unauthorized)(void *ud, const struct ml_http_response *resp);
	void *ud;
	long timeout_s;
	int max_retries;
	struct ml_http *http;
	volatile int *interrupt;
	int calls, mutations;
};

/* One request as the callers give it. */
struct call {
	const char *method;
	const char *path;
	const char *content_type;
	const void *data;			/* a body in memory ... */
	size_t len;
	const struct ml_http_body *stream;	/* ... or streamed */
	const struct ml_http_sink *sink;
	const char *const *extra;		/* more request headers, "Name: value" */
	size_t nextra;
	unsigned flags;
};

int ml_rest_new(struct ml_rest **out, const struct ml_rest_opts *o, struct ml_error *err)
{
	struct ml_rest *r;
	int rc;

	if (!o->base_url || (strncmp(o->base_url, "http://", 7) && strncmp(o->base_url, "https://", 8)))
		return ml_error_set(err, ML_EINTERNAL, "%s: base url '%s' is not http(s)",
				    o->service ? o->service : "rest client",
				    o->base_url ? o->base_url : "");
	r = ml_calloc(1, sizeof(*r));
	r->service = ml_strdup(o->service ? o->service : "server");
	r->base_url = ml_strdup(o->base_url);
	r->unix_socket = ml_strdup(o->unix_socket);
	r->decode = o->decode;
	r->sign = o->sign;
	r->retryable = o->retryable;
	r->unauthorized = o->unauthorized;
	r->ud = o->ud;
	r->timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
	r->max_retries = o->max_retries > 0 ? o->max_retries : DEFAULT_RETRIES;
	rc = ml_http_new(&r->http, err);
	if (rc < 0) {
		ml_rest_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void ml_rest_set_interrupt(struct ml_rest *r, volatile int *flag)
{
	r->interrupt = flag;
}

int ml_rest_calls(const struct ml_rest *r, int *mutations)
{
	if (mutations)
		*mutations = r->mutations;
	return r->calls;
}

void ml_rest_free(struct ml_rest *r)
{
	if (!r)
		return;
	ml_http_free(r->http);
	free(r->service);
	free(r->base_url);
	free(r->unix_socket);
	free(r);
}

void ml_rest_result_dispose(struct ml_rest_result *res)
{
	ml_json_free(res->body);
	ml_http_response_dispose(&res->resp);
	res->body = NULL;
	res->status = 0;
	res->code[0] = '\0';
}

static void result_init(struct ml_rest_result *res)
{
	res->status = 0;
	res->body = NULL;
	res->code[0] = '\0';
	ml_http_response_init(&res->resp);
}

static int is_absolute(const char *path)
{
	return !strncmp(path, "https://", 8) || !strncmp(path, "http://", 7);
}

/* path joined to the base URL (which may have a path of its own: ".../v1.43"). */
static char *make_url(const struct ml_rest *r, const char *path)
{
	size_t n = strlen(r->base_url);

	if (is_absolute(path))
		return ml_strdup(path);
	while (n && r->base_url[n - 1] == '/')
		n--;
	return ml_asprintf("%.*s%s%s", (int)n, r->base_url, path[0] == '/' ? "" : "/", path);
}

static int method_is(const char *m, const char *name)
{
	return !strcmp(m, name);
}

/* Whether sending the request twice does no more than sending it once. */
static int idempotent(const struct call *c)
{
	return method_is(c->method, "GET") || method_is(c->method, "HEAD") ||
	       method_is(c->method, "PUT") || method_is(c->method, "DELETE") ||
	       (c->flags & (ML_REST_IDEMPOTENT | ML_REST_READ));
}

static int status_server_error(long s)
{
	return s == 500 || s == 502 || s == 503 || s == 504;
}

static int status_ok(const struct call *c, long s)
{
	return (s >= 200 && s < 300) || (s == 304 && (c->flags & ML_REST_ALLOW_304)) ||
	       (s == 404 && (c->flags & ML_REST_ALLOW_404)) ||
	       (s == 409 && (c->flags & ML_REST_ALLOW_409));
}

static int interrupted(const struct ml_rest *r)
{
	return r->interrupt && *r->interrupt;
}

/* "SERVICE: METHOD path" with the path's secrets taken out. */
static void describe(struct ml_buf *out, const struct ml_rest *r, const struct call *c)
{
	ml_buf_printf(out, "%s: %s ", r->service, c->method);
	ml_redact_url(out, c->path);
}

static void trace_body(char dir, const char *content_type, const void *data, size_t len)
{
	struct ml_buf b = ML_BUF_INIT;

	if (!len || !ml_log_enabled(ML_LOG_TRACE))
		return;
	ml_redact_body(&b, content_type, data, len, TRACE_BODY_MAX);
	ml_log(ML_LOG_TRACE, "%c body (%zu bytes): %s", dir, len, ml_buf_str(&b));
	ml_buf_dispose(&b);
}

/* The one line of a failed answer: the decoder's, else the status and an excerpt. */
static void failure_line(const struct ml_rest *r, const struct ml_http_response *resp,
			 char *line, size_t cap, char code[ML_REST_CODE_MAX])
{
	struct ml_buf b = ML_BUF_INIT;

	code[0] = '\0';
	if (r->decode && r->decode(resp, line, cap, code))
		return;
	code[0] = '\0';
	ml_buf_printf(&b, "HTTP %ld", resp->status);
	if (resp->body.len) {
		ml_buf_adds(&b, ": ");
		ml_redact_body(&b, ml_http_response_header(resp, "Content-Type"), resp->body.data,
			       resp->body.len, EXCERPT_MAX);
	}
	ml_rest_line(line, cap, ml_buf_str(&b));
	ml_buf_dispose(&b);
}

static int status_error(const struct ml_rest *r, const struct call *c,
			const struct ml_rest_result *res, const char *line, struct ml_error *err)
{
	struct ml_buf what = ML_BUF_INIT, tail = ML_BUF_INIT;
	long s = res->status;
	int code = s == 404 ? ML_ENOTFOUND : (s == 401 || s == 403) ? ML_EAUTH : ML_EPROTO;
	int rc;

	describe(&what, r, c);
	/* an undecoded line starts with the status already */
	if (strncmp(line, "HTTP ", 5))
		ml_buf_printf(&tail, "HTTP %ld", s);
	if (res->resp.retries)
		ml_buf_printf(&tail, "%safter %d %s", tail.len ? ", " : "", res->resp.retries,
			      res->resp.retries == 1 ? "retry" : "retries");
	rc = ml_error_set(err, code, "%s: %s%s%s%s", ml_buf_str(&what), line, tail.len ? " (" : "",
			  ml_buf_str(&tail), tail.len ? ")" : "");
	ml_buf_dispose(&what);
	ml_buf_dispose(&tail);
	return rc;
}

/* Calls the sign hook for this attempt; *headers is NULL when there is none. */
static int sign(struct ml_rest *r, const struct call *c, const char *url, const char **headers,
		size_t nheaders, char ***out, size_t *nout, struct ml_error *err)
{
	struct ml_rest_sign s = { c->method, url, headers, nheaders, c->data, c->len };
	int rc;

	*out = NULL;
	*nout = 0;
	if (!r->sign)
		return 0;
	rc = r->sign(r->ud, &s, out, nout, err);
	if (rc < 0) {
		ml_free_secrets(*out, *nout);
		*out = NULL;
		*nout = 0;
	}
	return rc;
}

static void log_retry(const struct ml_rest *r, const struct call *c, const char *why,
		      int attempt, long wait)
{
	struct ml_buf what = ML_BUF_INIT;

	describe(&what, r, c);
	ml_log(ML_LOG_INFO, "retrying %s after %s (attempt %d/%d, waiting %.1f s)",
	       ml_buf_str(&what), why, attempt + 2, r->max_retries + 1, (double)wait / 1000);
	ml_buf_dispose(&what);
}

/* The answer of a 2xx call, parsed unless RAW, a sink, or no body. */
static int take_body(const struct ml_rest *r, const struct call *c, struct ml_rest_result *res,
		     struct ml_error *err)
{
	const struct ml_buf *b = &res->resp.body;
	struct ml_buf what = ML_BUF_INIT;
	struct ml_error jerr = { 0, "" };
	int rc = 0;

	if ((c->flags & ML_REST_RAW) || c->sink || !b->len || res->status < 200 ||
	    res->status >= 300)
		return 0;
	res->body = ml_json_parse(b->data, b->len, &jerr);
	if (!res->body) {
		describe(&what, r, c);
		/* the parser's message may quote the body: it is not repeated here */
		rc = ml_error_set(err, ML_EPROTO, "%s: the answer is not JSON (HTTP %ld, %zu bytes)",
				  ml_buf_str(&what), res->status, b->len);
		ml_buf_dispose(&what);
	}
	return rc;
}

static void request_init(struct ml_rest *r, const struct call *c, struct ml_http_request *req,
			 struct ml_http_body *body)
{
	memset(req, 0, sizeof(*req));
	memset(body, 0, sizeof(*body));
	body->data = c->data;
	body->len = c->len;
	req->method = c->method;
	if (c->stream)
		req->body = c->stream;
	else if (c->data || method_is(c->method, "POST") || method_is(c->method, "PUT") ||
		 method_is(c->method, "PATCH"))
		req->body = body;
	req->sink = c->sink;
	req->max_body = MAX_BODY;
	req->flags = ML_HTTP_FOLLOW | (method_is(c->method, "HEAD") ? ML_HTTP_HEAD : 0) |
		     ((c->flags & ML_REST_STREAM) ? ML_HTTP_STREAM : 0);
	/* a streamed body or answer may be large: the wrapper's minimum rate bounds it */
	req->timeout_s = (c->flags & ML_REST_STREAM) || c->stream || c->sink ? 0 : r->timeout_s;
	req->unix_socket = r->unix_socket;
	req->interrupt = r->interrupt;
}

/* After a transport failure: a request that reached the server may have been acted
 * on, so only an idempotent one is sent again (a streamed body cannot be). */
static int retry_transport(const struct ml_rest *r, const struct call *c,
			   const struct ml_http_response *resp, int rc, int attempt)
{
	return rc == -ML_ENET && resp->transient && attempt < r->max_retries &&
	       (!resp->sent || (idempotent(c) && !c->stream));
}

/* After a failed answer: a throttled request was not acted on, whatever its method;
 * a server error may have been, after the fact. */
static int retry_status(const struct ml_rest *r, const struct call *c,
			const struct ml_rest_result *res, int attempt)
{
	if (attempt >= r->max_retries || (c->stream && c->stream->read))
		return 0;
	return res->status == 429 ||
	       (r->retryable && r->retryable(r->ud, &res->resp, res->code)) ||
	       (status_server_error(res->status) && idempotent(c));
}

/* After a 401 to a signed request: once, when the hook dropped the refused
 * credential (a 401 was not acted on, so any method may be sent again). */
static int retry_unauthorized(const struct ml_rest *r, const struct call *c,
			      const struct ml_rest_result *res, int *done)
{
	struct ml_buf what = ML_BUF_INIT;

	if (res->status != 401 || *done || !r->sign || !r->unauthorized ||
	    (c->stream && c->stream->read))
		return 0;
	*done = 1;
	if (!r->unauthorized(r->ud, &res->resp))
		return 0;
	describe(&what, r, c);
	ml_log(ML_LOG_INFO, "retrying %s with a new credential after HTTP 401", ml_buf_str(&what));
	ml_buf_dispose(&what);
	return 1;
}

static int retry_wait(const struct ml_rest *r, const struct call *c, const char *why,
		      int attempt, long wait, struct ml_error *err)
{
	log_retry(r, c, why, attempt, wait);
	if (ml_http_pause_ms(wait, r->interrupt))
		return ml_error_set(err, ML_EINTR, "%s: interrupted", r->service);
	return 0;
}

/* One attempt: signs, sends, counts. */
static int attempt_once(struct ml_rest *r, const struct call *c, struct ml_http_request *req,
			const char **headers, size_t nh, struct ml_rest_result *res,
			struct ml_error *err)
{
	char **signed_h = NULL;
	size_t nsigned = 0;
	int rc;

	if (interrupted(r))
		return ml_error_set(err, ML_EINTR, "interrupted");
	rc = sign(r, c, req->url, headers, nh, &signed_h, &nsigned, err);
	if (rc < 0)
		return rc;
	req->secret_headers = (const char *const *)signed_h;
	req->nsecret_headers = nsigned;
	ml_http_response_dispose(&res->resp);
	r->calls++;
	if (!method_is(c->method, "GET") && !method_is(c->method, "HEAD") &&
	    !(c->flags & ML_REST_READ))
		r->mutations++;
	rc = ml_http_do(r->http, req, &res->resp, err);
	req->secret_headers = NULL;
	req->nsecret_headers = 0;
	ml_free_secrets(signed_h, nsigned);
	return rc;
}

static int rest_do(struct ml_rest *r, const struct call *c, struct ml_rest_result *res,
		   struct ml_error *err)
{
	const char *headers[2 + ML_REST_EXTRA_MAX];
	struct ml_http_body body;
	struct ml_http_request req;
	char *url, *ct = NULL, line[ML_ERROR_MAX / 2];
	size_t nh = 0, i;
	int attempt, rc = 0, reauthorized = 0;

	result_init(res);
	ml_error_clear(err);
	if (c->nextra > ML_REST_EXTRA_MAX)
		return ml_error_set(err, ML_EINTERNAL, "%s: %s %s: %zu extra headers", r->service,
				    c->method, c->path, c->nextra);
	url = make_url(r, c->path);
	for (i = 0; i < c->nextra; i++)
		headers[nh++] = c->extra[i];
	if (!(c->flags & ML_REST_RAW))
		headers[nh++] = "Accept: application/json";
	if (c->content_type)
		headers[nh++] = ct = ml_asprintf("Content-Type: %s", c->content_type);
	request_init(r, c, &req, &body);
	req.url = url;
	req.headers = headers;
	req.nheaders = nh;
	if (!c->stream)
		trace_body('>', c->content_type, c->data, c->len);
	for (attempt = 0;; attempt++) {
		rc = attempt_once(r, c, &req, headers, nh, res, err);
		res->resp.retries = attempt;
		if (rc < 0) {
			if (!retry_transport(r, c, &res->resp, rc, attempt)) {
				ml_error_prefix(err, "%s", r->service);
				break;
			}
			rc = retry_wait(r, c, "a connection failure", attempt,
					ml_http_retry_delay_ms(NULL, attempt), err);
			if (rc < 0)
				break;
			continue;
		}
		res->status = res->resp.status;
		if (!c->sink || res->status < 200 || res->status >= 300)
			trace_body('<', ml_http_response_header(&res->resp, "Content-Type"),
				   res->resp.body.data, res->resp.body.len);
		if (res->status < 200 || res->status >= 300)
			failure_line(r, &res->resp, line, sizeof(line), res->code);
		if (status_ok(c, res->status)) {
			rc = take_body(r, c, res, err);
			break;
		}
		if (retry_unauthorized(r, c, res, &reauthorized))
			continue;
		if (!retry_status(r, c, res, attempt)) {
			rc = status_error(r, c, res, line, err);
			break;
		}
		rc = retry_wait(r, c, line, attempt, ml_http_retry_delay_ms(&res->resp, attempt),
				err);
		if (rc < 0)
			break;
	}
	free(ct);
	free(url);
	return rc;
}

int ml_rest_call_raw(struct ml_rest *r, const char *method, const char *path,
		     const char *content_type, const void *data, size_t len, unsigned flags,
		     struct ml_rest_result *res, struct ml_error *err)
{
	struct call c = { .method = method, .path = path, .content_type = content_type,
			  .data = data, .len = len, .flags = flags };

	return rest_do(r, &c, res, err);
}

int ml_rest_call_headers(struct ml_rest *r, const char *method, const char *path,
			 const char *const *headers, size_t nheaders, const char *content_type,
			 const void *data, size_t len, unsigned flags, struct ml_rest_result *res,
			 struct ml_error *err)
{
	struct call c = { .method = method, .path = path, .content_type = content_type,
			  .data = data, .len = len, .extra = headers, .nextra = nheaders,
			  .flags = flags };

	return rest_do(r, &c, res, err);
}

int ml_rest_call(struct ml_rest *r, const char *method, const char *path, const ml_json *body,
		 unsigned flags, struct ml_rest_result *res, struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	int rc;

	if (body && ml_json_dump(body, &b) < 0) {
		result_init(res);
		ml_buf_dispose(&b);
		return ml_error_set(err, ML_EINTERNAL, "%s: %s %s: cannot write the request body",
				    r->service, method, path);
	}
	rc = ml_rest_call_raw(r, method, path, body ? "application/json" : NULL,
			      body ? b.data : NULL, b.len, flags, res, err);
	ml_wipe(b.data, b.len);
	ml_buf_dispose(&b);
	return rc;
}

int ml_rest_call_stream(struct ml_rest *r, const char *method, const char *path,
			const char *content_type, const struct ml_http_body *body,
			const struct ml_http_sink *sink, unsigned flags, struct ml_rest_result *res,
			struct ml_error *err)
{
	struct call c = { .method = method, .path = path, .content_type = content_type,
			  .stream = body, .sink = sink, .flags = flags };

	return rest_do(r, &c, res, err);
}

/* The next page's path: the URL of a nextLink (on the API's own origin only, as
 * it gets the credentials), or path with ?pageToken=. */
static int next_page(struct ml_rest *r, const char *path, const char *next_key,
		     const char *next, char **out, struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	char *shown;
	int rc;

	if (strstr(next_key, "Link") || strstr(next_key, "link")) {
		if (!is_absolute(next) || !ml_http_same_origin(next, r->base_url)) {
			shown = ml_redacted_url(next);
			ml_sanitize(shown);
			rc = ml_error_set(err, ML_EPROTO, "%s: GET %s: %s '%.300s' leaves %s",
					  r->service, path, next_key, shown, r->base_url);
			free(shown);
			return rc;
		}
		*out = ml_strdup(next);
		return 0;
	}
	ml_buf_printf(&b, "%s%cpageToken=", path, strchr(path, '?') ? '&' : '?');
	ml_http_urlencode(&b, next);
	*out = ml_buf_detach(&b);
	return 0;
}

int ml_rest_list(struct ml_rest *r, const char *path, const char *items_key,
		 const char *next_key, int max_pages, ml_json *items, struct ml_error *err)
{
	struct ml_rest_result res;
	ml_json *page;
	const char *next;
	char *cur = ml_strdup(path), *prev = NULL, *shown;
	size_t i;
	int pages, rc = 0;

	if (max_pages <= 0)
		max_pages = DEFAULT_MAX_PAGES;
	for (pages = 0;; pages++) {
		if (pages == max_pages) {
			shown = ml_redacted_url(path);
			rc = ml_error_set(err, ML_ETOOBIG, "%s: GET %s: more than %d pages",
					  r->service, shown, max_pages);
			free(shown);
			break;
		}
		rc = ml_rest_call(r, "GET", cur, NULL, 0, &res, err);
		if (rc < 0)
			break;
		page = ml_json_get(res.body, items_key);
		for (i = 0; i < ml_json_size(page) && ml_json_is_array(page); i++)
			ml_json_append(items, ml_json_ref(ml_json_at(page, i)));
		next = ml_json_get_str(res.body, next_key);
		if (!next || !*next) {
			ml_rest_result_dispose(&res);
			break;
		}
		if (prev && !strcmp(prev, next)) {
			shown = ml_redacted_url(path);
			rc = ml_error_set(err, ML_EPROTO, "%s: GET %s: the server gave the same %s "
					  "twice", r->service, shown, next_key);
			free(shown);
			ml_rest_result_dispose(&res);
			break;
		}
		free(prev);
		prev = ml_strdup(next);
		free(cur);
		cur = NULL;
		rc = next_page(r, path, next_key, next, &cur, err);
		ml_rest_result_dispose(&res);
		if (rc < 0)
			break;
	}
	free(cur);
	free(prev);
	return rc;
}
