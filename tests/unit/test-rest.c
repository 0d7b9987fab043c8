/* lib/deploy/rest.c against tests/fakes/restfake.py on 127.0.0.1 and on a unix
 * socket: retries by method, Retry-After, the sign hook per attempt, the error
 * decoders, pagination, -vv bodies redacted, interruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "deploy/rest.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "wrap/http.h"

static struct ut_fake fake;
static char sock_dir[64], sock_path[128];
static struct ml_buf logged = ML_BUF_INIT;

static int fake_start(void **state)
{
	int i;

	(void)state;
	unsetenv("MLDEPLOY_CONNECT_TO");
	unsetenv("MLDEPLOY_CA_BUNDLE");
	setenv("MLDEPLOY_RETRY_BASE_MS", "10", 1);
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/mldeploy-test-rest-XXXXXX");
	if (!mkdtemp(sock_dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/engine.sock", sock_dir);
	if (ut_fake_run(&fake, "restfake.py", "--unix", sock_path, NULL) < 0)
		return -1;
	/* the unix socket is bound before the port is printed */
	for (i = 0; i < 50 && access(sock_path, F_OK) < 0; i++)
		usleep(20000);
	ml_log_set_handler(ut_log_capture, &logged, ML_LOG_TRACE);
	return ml_http_global_init(NULL) == 0 ? 0 : -1;
}

static int fake_stop(void **state)
{
	(void)state;
	ml_http_global_cleanup();
	ut_fake_kill(&fake);
	unlink(sock_path);
	rmdir(sock_dir);
	ml_buf_dispose(&logged);
	return 0;
}

static char *base_url(void)
{
	return ml_asprintf("http://127.0.0.1:%d", fake.port);
}

static struct ml_rest *client_with(struct ml_rest_opts *o)
{
	struct ml_error err = { 0, "" };
	struct ml_rest *r = NULL;
	char *base = NULL;

	if (!o->base_url)
		o->base_url = base = base_url();
	if (!o->service)
		o->service = "Fake API";
	if (ml_rest_new(&r, o, &err) < 0)
		fail_msg("ml_rest_new: %s", err.msg);
	free(base);
	o->base_url = NULL;
	return r;
}

static struct ml_rest *client(ml_rest_decode_fn decode)
{
	struct ml_rest_opts o = { .decode = decode };

	return client_with(&o);
}

/* How many requests the fake saw for key id. */
static int64_t count(struct ml_rest *r, const char *id)
{
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	char *path = ml_asprintf("/count?id=%s", id);
	int64_t n = -1;

	assert_int_equal(ml_rest_call(r, "GET", path, NULL, 0, &res, &err), 0);
	assert_int_equal(ml_json_get_int(res.body, "n", &n), 0);
	ml_rest_result_dispose(&res);
	free(path);
	return n;
}

static int call(struct ml_rest *r, const char *method, const char *path, unsigned flags,
		struct ml_error *err)
{
	struct ml_rest_result res;
	int rc;

	rc = ml_rest_call(r, method, path, NULL, flags, &res, err);
	ml_rest_result_dispose(&res);
	return rc;
}

static void test_json_roundtrip(void **state)
{
	struct ml_rest *r = client(ml_rest_decode_google);
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	ml_json *body = ml_json_object_new(), *echoed;

	(void)state;
	ml_json_set_str(body, "name", "iris");
	ml_json_set_int(body, "port", 8080);
	assert_int_equal(ml_rest_call(r, "POST", "/v2/echo?x=1", body, 0, &res, &err), 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.code, "");
	assert_string_equal(ml_json_get_str(res.body, "method"), "POST");
	assert_string_equal(ml_json_get_str(res.body, "path"), "/v2/echo?x=1");
	echoed = ml_json_get(res.body, "body");
	assert_string_equal(ml_json_get_str(echoed, "name"), "iris");
	assert_string_equal(ml_json_get_str(ml_json_get(res.body, "headers"), "content-type"),
			    "application/json");
	assert_string_equal(ml_json_get_str(ml_json_get(res.body, "headers"), "accept"),
			    "application/json");
	assert_non_null(ml_http_response_header(&res.resp, "Content-Length"));
	ml_rest_result_dispose(&res);
	/* a base URL with a path of its own keeps it */
	ml_rest_free(r);
	{
		struct ml_rest_opts o = { 0 };
		char *base = ml_asprintf("http://127.0.0.1:%d/api/v1.43/", fake.port);

		o.base_url = base;
		o.service = "Fake API";
		assert_int_equal(ml_rest_new(&r, &o, &err), 0);
		free(base);
	}
	assert_int_equal(ml_rest_call(r, "DELETE", "/containers/echo", NULL, 0, &res, &err), 0);
	assert_string_equal(ml_json_get_str(res.body, "path"), "/api/v1.43/containers/echo");
	assert_string_equal(ml_json_get_str(res.body, "method"), "DELETE");
	ml_rest_result_dispose(&res);
	ml_json_free(body);
	ml_rest_free(r);
}

/* A method against /flaky failing `fail` times with code: the rc and how many
 * requests the server saw. */
static int flaky(struct ml_rest *r, const char *method, const char *id, int fail, int code,
		 unsigned flags, int64_t *seen, struct ml_error *err)
{
	char *path = ml_asprintf("/flaky?id=%s&fail=%d&status=%d", id, fail, code);
	int rc = call(r, method, path, flags, err);

	free(path);
	*seen = count(r, id);
	return rc;
}

static void test_retry_by_method(void **state)
{
	struct ml_rest *r = client(NULL);
	struct ml_error err = { 0, "" };
	int64_t n;

	(void)state;
	/* idempotent methods are retried on 5xx */
	assert_int_equal(flaky(r, "GET", "get503", 2, 503, 0, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(flaky(r, "PUT", "put502", 1, 502, 0, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(flaky(r, "DELETE", "del500", 1, 500, 0, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(flaky(r, "HEAD", "head504", 1, 504, 0, &n, &err), 0);
	assert_int_equal(n, 2);
	/* POST and PATCH are not: the server may have acted */
	assert_int_equal(flaky(r, "POST", "post503", 1, 503, 0, &n, &err), -ML_EPROTO);
	assert_int_equal(n, 1);
	assert_has(err.msg, "Fake API: POST /flaky?id=post503&fail=1&status=503: HTTP 503: ");
	assert_lacks(err.msg, "retr");
	assert_int_equal(flaky(r, "PATCH", "patch500", 1, 500, 0, &n, &err), -ML_EPROTO);
	assert_int_equal(n, 1);
	/* ... unless the API says the call is idempotent */
	assert_int_equal(flaky(r, "POST", "post503i", 1, 503, ML_REST_IDEMPOTENT, &n, &err), 0);
	assert_int_equal(n, 2);
	/* a throttle was not acted on: retried whatever the method */
	assert_int_equal(flaky(r, "POST", "post429", 2, 429, 0, &n, &err), 0);
	assert_int_equal(n, 3);
	/* other statuses are never retried */
	assert_int_equal(flaky(r, "GET", "get400", 1, 400, 0, &n, &err), -ML_EPROTO);
	assert_int_equal(n, 1);
	assert_int_equal(flaky(r, "GET", "get401", 1, 401, 0, &n, &err), -ML_EAUTH);
	assert_int_equal(flaky(r, "GET", "get403", 1, 403, 0, &n, &err), -ML_EAUTH);
	assert_int_equal(flaky(r, "GET", "get404", 1, 404, 0, &n, &err), -ML_ENOTFOUND);
	assert_int_equal(n, 1);
	assert_int_equal(flaky(r, "GET", "get501", 1, 501, 0, &n, &err), -ML_EPROTO);
	assert_int_equal(n, 1);
	ml_rest_free(r);
}

static void test_retries_exhausted(void **state)
{
	struct ml_rest_opts o = { .max_retries = 2 };
	struct ml_rest *r = client_with(&o);
	struct ml_error err = { 0, "" };
	int64_t n;

	(void)state;
	ml_buf_reset(&logged);
	assert_int_equal(flaky(r, "GET", "exhaust", 10, 503, 0, &n, &err), -ML_EPROTO);
	assert_int_equal(n, 3);
	assert_has(err.msg, "Fake API: GET /flaky?id=exhaust&fail=10&status=503: HTTP 503: "
		   "{\"message\":\"try again\"} (after 2 retries)");
	assert_has(ml_buf_str(&logged), "retrying Fake API: GET /flaky?id=exhaust");
	assert_has(ml_buf_str(&logged), "(attempt 3/3, waiting");
	ml_rest_free(r);
}

static void test_retry_after(void **state)
{
	struct ml_rest *r = client(NULL);
	struct ml_error err = { 0, "" };
	double t0 = ut_now_s(), took;

	(void)state;
	assert_int_equal(call(r, "GET", "/flaky?id=after&fail=1&status=429&after=1", 0, &err), 0);
	took = ut_now_s() - t0;
	/* the backoff alone would wait ~10 ms */
	assert_true(took >= 1.0 && took < 3.0);
	assert_int_equal(count(r, "after"), 2);
	ml_rest_free(r);
}

static void test_reset(void **state)
{
	struct ml_rest *r = client(NULL);
	struct ml_error err = { 0, "" };

	(void)state;
	/* a GET whose answer was cut is sent again */
	assert_int_equal(call(r, "GET", "/reset?id=rget&fail=2", 0, &err), 0);
	assert_int_equal(count(r, "rget"), 3);
	/* a POST that reached the server is not */
	assert_int_equal(call(r, "POST", "/reset?id=rpost&fail=1", 0, &err), -ML_ENET);
	assert_int_equal(count(r, "rpost"), 1);
	assert_has(err.msg, "Fake API: POST http://127.0.0.1:");
	ml_rest_free(r);
}

static void test_refused_post_retried(void **state)
{
	struct ml_rest_opts o = { .max_retries = 2, .service = "Fake API" };
	struct ml_rest *r;
	struct ml_error err = { 0, "" };
	char *base = ml_asprintf("http://127.0.0.1:%d", ut_closed_port());

	(void)state;
	o.base_url = base;
	assert_int_equal(ml_rest_new(&r, &o, &err), 0);
	ml_buf_reset(&logged);
	/* nothing was sent: even a POST may be tried again */
	assert_int_equal(call(r, "POST", "/things", 0, &err), -ML_ENET);
	assert_has(err.msg, "Fake API: POST ");
	assert_has(err.msg, "could not connect");
	assert_has(ml_buf_str(&logged), "retrying Fake API: POST /things after a connection "
		   "failure (attempt 3/3");
	assert_int_equal(ml_rest_calls(r, NULL), 3);
	ml_rest_free(r);
	free(base);
}

struct signer {
	int calls;
	int fail;
};

static int sign_hook(void *ud, const struct ml_rest_sign *req, char ***headers,
		     size_t *nheaders, struct ml_error *err)
{
	struct signer *s = ud;
	char **h;

	if (s->fail)
		return ml_error_set(err, ML_EAUTH, "no credentials (hint: set AWS_PROFILE)");
	s->calls++;
	assert_non_null(req->url);
	assert_true(req->nheaders >= 1);
	h = ml_calloc(2, sizeof(*h));
	h[0] = ml_asprintf("Authorization: Sig-%d-%s-s3cr3tsig", s->calls, req->method);
	h[1] = ml_strdup("X-Amz-Security-Token: s3ss10ntok3n");
	*headers = h;
	*nheaders = 2;
	return 0;
}

static void test_sign_per_attempt(void **state)
{
	struct signer s = { 0 };
	struct ml_rest_opts o = { .sign = sign_hook, .ud = &s };
	struct ml_rest *r = client_with(&o);
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	ml_json *auth, *tok;

	(void)state;
	ml_buf_reset(&logged);
	assert_int_equal(call(r, "GET", "/flaky?id=signed&fail=2&status=503", 0, &err), 0);
	assert_int_equal(s.calls, 3);
	assert_int_equal(ml_rest_call(r, "GET", "/seen?id=signed", NULL, 0, &res, &err), 0);
	auth = ml_json_get(res.body, "auth");
	tok = ml_json_get(res.body, "token");
	assert_int_equal(ml_json_size(auth), 3);
	assert_string_equal(ml_json_str(ml_json_at(auth, 0)), "Sig-1-GET-s3cr3tsig");
	assert_string_equal(ml_json_str(ml_json_at(auth, 2)), "Sig-3-GET-s3cr3tsig");
	assert_string_equal(ml_json_str(ml_json_at(tok, 1)), "s3ss10ntok3n");
	ml_rest_result_dispose(&res);
	/* the signed headers never reach the log, even at -vv */
	assert_lacks(ml_buf_str(&logged), "s3cr3tsig");
	assert_lacks(ml_buf_str(&logged), "s3ss10ntok3n");
	assert_has(ml_buf_str(&logged), "Authorization: <redacted>");
	/* nor a redirect to another origin */
	{
		char *path = ml_asprintf("/redirect?id=away&to=http://localhost:%d/echo?id=away2",
					 fake.port);

		assert_int_equal(ml_rest_call(r, "GET", path, NULL, 0, &res, &err), 0);
		assert_null(ml_json_get(ml_json_get(res.body, "headers"), "authorization"));
		assert_null(ml_json_get(ml_json_get(res.body, "headers"), "x-amz-security-token"));
		assert_string_equal(ml_json_get_str(res.body, "path"), "/echo?id=away2");
		ml_rest_result_dispose(&res);
		free(path);
	}
	/* a failing hook stops the call before anything is sent */
	s.fail = 1;
	assert_int_equal(call(r, "GET", "/echo?id=unsigned", 0, &err), -ML_EAUTH);
	assert_string_equal(err.msg, "Fake API: no credentials (hint: set AWS_PROFILE)");
	s.fail = 0;
	assert_int_equal(count(r, "unsigned"), 0);
	ml_rest_free(r);
}

/* The extra headers a call names are sent, and the sign hook sees them to sign. */
static int sign_sees_target(void *ud, const struct ml_rest_sign *req, char ***headers,
			    size_t *nheaders, struct ml_error *err)
{
	size_t i;

	(void)err;
	*headers = NULL;
	*nheaders = 0;
	for (i = 0; i < req->nheaders; i++)
		if (!strcmp(req->headers[i], "X-Amz-Target: Svc.Op"))
			(*(int *)ud)++;
	return 0;
}

static void test_extra_headers(void **state)
{
	static const char *const extra[] = { "X-Amz-Target: Svc.Op" };
	const char *many[ML_REST_EXTRA_MAX + 1];
	int seen = 0;
	struct ml_rest_opts o = { .sign = sign_sees_target, .ud = &seen };
	struct ml_rest *r = client_with(&o);
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	ml_json *h;

	(void)state;
	assert_int_equal(ml_rest_call_headers(r, "POST", "/echo?id=extra", extra, 1,
					      "application/x-amz-json-1.1", "{}", 2, 0, &res,
					      &err), 0);
	h = ml_json_get(res.body, "headers");
	assert_string_equal(ml_json_get_str(h, "x-amz-target"), "Svc.Op");
	assert_string_equal(ml_json_get_str(h, "content-type"), "application/x-amz-json-1.1");
	assert_int_equal(seen, 1);
	ml_rest_result_dispose(&res);
	memset(many, 0, sizeof(many));
	assert_int_equal(ml_rest_call_headers(r, "GET", "/echo", many, ML_REST_EXTRA_MAX + 1,
					      NULL, NULL, 0, 0, &res, &err), -ML_EINTERNAL);
	ml_rest_result_dispose(&res);
	ml_rest_free(r);
}

static int throttled(void *ud, const struct ml_http_response *resp, const char *code)
{
	(void)ud;
	return resp->status == 400 && !strcmp(code, "ThrottlingException");
}

static void test_retryable_hook(void **state)
{
	struct ml_rest_opts o = { .decode = ml_rest_decode_aws_json, .retryable = throttled };
	struct ml_rest *r = client_with(&o);
	struct ml_rest *plain = client(ml_rest_decode_aws_json);
	struct ml_error err = { 0, "" };
	int64_t n;

	(void)state;
	assert_int_equal(call(r, "POST", "/flaky?id=thr&fail=2&status=400&format=aws-throttle", 0,
			      &err), 0);
	assert_int_equal(count(r, "thr"), 3);
	/* without the hook, a 400 is final */
	assert_int_equal(call(plain, "POST", "/flaky?id=thr2&fail=2&status=400&format=aws-throttle",
			      0, &err), -ML_EPROTO);
	assert_string_equal(err.msg, "Fake API: POST /flaky?id=thr2&fail=2&status=400&format=aws-"
			    "throttle: ThrottlingException: Rate exceeded (HTTP 400)");
	n = count(plain, "thr2");
	assert_int_equal(n, 1);
	/* the hook sees the decoded code: another 400 is not retried */
	assert_int_equal(call(r, "POST", "/flaky?id=thr3&fail=2&status=400&format=aws-json", 0,
			      &err), -ML_EPROTO);
	assert_int_equal(count(r, "thr3"), 1);
	ml_rest_free(r);
	ml_rest_free(plain);
}

/* The unauthorized hook: what it was called with, and its answer. */
struct reauth {
	struct signer sign;
	int calls;
	long status;
	int answer;
};

static int unauthorized(void *ud, const struct ml_http_response *resp)
{
	struct reauth *a = ud;

	a->calls++;
	a->status = resp->status;
	return a->answer;
}

static int reauth_sign(void *ud, const struct ml_rest_sign *req, char ***headers,
		       size_t *nheaders, struct ml_error *err)
{
	return sign_hook(&((struct reauth *)ud)->sign, req, headers, nheaders, err);
}

/* A 401 drops the credential through the hook and is sent once more, signed anew
 * (a POST too: a 401 was not acted on); a second 401 is final; a hook that says no,
 * or none, leaves the first 401 final. */
static void test_unauthorized_hook(void **state)
{
	struct reauth a = { .answer = 1 };
	struct ml_rest_opts o = { .decode = ml_rest_decode_google, .sign = reauth_sign,
				  .unauthorized = unauthorized, .ud = &a };
	struct ml_rest *r = client_with(&o);
	struct ml_rest *plain = client(ml_rest_decode_google);
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	ml_json *auth;

	(void)state;
	assert_int_equal(call(r, "POST", "/flaky?id=401a&fail=1&status=401", 0, &err), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, 401);
	assert_int_equal(count(r, "401a"), 2);
	assert_int_equal(ml_rest_call(r, "GET", "/seen?id=401a", NULL, 0, &res, &err), 0);
	auth = ml_json_get(res.body, "auth");
	assert_int_equal(ml_json_size(auth), 2);
	assert_string_equal(ml_json_str(ml_json_at(auth, 0)), "Sig-1-POST-s3cr3tsig");
	assert_string_equal(ml_json_str(ml_json_at(auth, 1)), "Sig-2-POST-s3cr3tsig");
	ml_rest_result_dispose(&res);
	/* refused again with the new credential: once only */
	a.calls = 0;
	assert_int_equal(call(r, "GET", "/flaky?id=401b&fail=3&status=401", 0, &err), -ML_EAUTH);
	assert_int_equal(a.calls, 1);
	assert_int_equal(count(r, "401b"), 2);
	assert_has(err.msg, "HTTP 401");
	assert_has(err.msg, "after 1 retry)");
	/* a 403 is a refusal of the permission, not of the credential */
	a.calls = 0;
	assert_int_equal(call(r, "GET", "/flaky?id=403&fail=1&status=403", 0, &err), -ML_EAUTH);
	assert_int_equal(a.calls, 0);
	assert_int_equal(count(r, "403"), 1);
	/* the hook says a new credential would not help */
	a.answer = 0;
	assert_int_equal(call(r, "GET", "/flaky?id=401c&fail=1&status=401", 0, &err), -ML_EAUTH);
	assert_int_equal(a.calls, 1);
	assert_int_equal(count(r, "401c"), 1);
	/* without the hook a 401 is final */
	assert_int_equal(call(plain, "GET", "/flaky?id=401d&fail=1&status=401", 0, &err),
			 -ML_EAUTH);
	assert_int_equal(count(plain, "401d"), 1);
	ml_rest_free(r);
	ml_rest_free(plain);
}

/* The one line a decoder makes of /error?format=F. */
static void expect_line(ml_rest_decode_fn decode, const char *format, int rc_want,
			const char *msg, const char *code)
{
	struct ml_rest *r = client(decode);
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	char *path = ml_asprintf("/error?format=%s", format);

	assert_int_equal(ml_rest_call(r, "GET", path, NULL, 0, &res, &err), rc_want);
	if (strcmp(err.msg, msg))
		fail_msg("format %s:\n got  '%s'\n want '%s'", format, err.msg, msg);
	assert_string_equal(res.code, code);
	assert_null(strchr(err.msg, '\n'));
	ml_rest_result_dispose(&res);
	ml_rest_free(r);
	free(path);
}

static void test_decoders(void **state)
{
	(void)state;
	expect_line(ml_rest_decode_google, "google", -ML_ENOTFOUND,
		    "Fake API: GET /error?format=google: NOT_FOUND: Resource 'projects/p/locations/"
		    "us-east1/services/iris' was not found (HTTP 404)", "NOT_FOUND");
	expect_line(ml_rest_decode_google, "google-fields", -ML_EPROTO,
		    "Fake API: GET /error?format=google-fields: INVALID_ARGUMENT: The request has "
		    "errors (spec.template.containers[0].image: must be a digest reference) "
		    "(HTTP 400)", "INVALID_ARGUMENT");
	expect_line(ml_rest_decode_google, "oauth", -ML_EPROTO,
		    "Fake API: GET /error?format=oauth: invalid_grant: Invalid JWT Signature. "
		    "(HTTP 400)", "invalid_grant");
	expect_line(ml_rest_decode_azure, "azure", -ML_ENOTFOUND,
		    "Fake API: GET /error?format=azure: ResourceGroupNotFound: Resource group 'ml' "
		    "could not be found. (HTTP 404)", "ResourceGroupNotFound");
	expect_line(ml_rest_decode_azure, "azure-bare", -ML_EPROTO,
		    "Fake API: GET /error?format=azure-bare: Conflict: The container group 'iris' "
		    "is being updated. (HTTP 409)", "Conflict");
	expect_line(ml_rest_decode_aws_json, "aws-json", -ML_EPROTO,
		    "Fake API: GET /error?format=aws-json: RepositoryNotFoundException: The "
		    "repository with name 'iris' does not exist in the registry with id "
		    "'123456789012' (HTTP 400)", "RepositoryNotFoundException");
	expect_line(ml_rest_decode_aws_json, "aws-json-header", -ML_EPROTO,
		    "Fake API: GET /error?format=aws-json-header: AccessDeniedException (HTTP 400)",
		    "AccessDeniedException");
	expect_line(ml_rest_decode_aws_query, "aws-query", -ML_EPROTO,
		    "Fake API: GET /error?format=aws-query: InvalidParameterValue: No Application "
		    "named 'iris' found. (HTTP 400)", "InvalidParameterValue");
	expect_line(ml_rest_decode_aws_query, "s3", -ML_ENOTFOUND,
		    "Fake API: GET /error?format=s3: NoSuchBucket: The specified bucket does not "
		    "exist (HTTP 404)", "NoSuchBucket");
	expect_line(ml_rest_decode_aws_query, "moto-auth", -ML_EAUTH,
		    "Fake API: GET /error?format=moto-auth: AccessDenied: User: arn:aws:iam::"
		    "123456789012:user/ci is not authorized to perform: ecr:GetAuthorizationToken "
		    "(HTTP 403)", "AccessDenied");
	expect_line(ml_rest_decode_aws_query, "aws-json", -ML_EPROTO,
		    "Fake API: GET /error?format=aws-json: HTTP 400: {\"__type\":\"com.amazonaws."
		    "ecr#RepositoryNotFoundException\",\"message\":\"The repository with name 'iris' "
		    "does not exist in the registry with id '123456789012'\"}", "");
	expect_line(ml_rest_decode_docker, "docker", -ML_ENOTFOUND,
		    "Fake API: GET /error?format=docker: No such container: iris (HTTP 404)", "");
	/* a body that is not the decoder's format: the status and an excerpt */
	expect_line(ml_rest_decode_google, "docker", -ML_ENOTFOUND,
		    "Fake API: GET /error?format=docker: HTTP 404: {\"message\":\"No such container: "
		    "iris\"}", "");
	expect_line(ml_rest_decode_azure, "html", -ML_EPROTO,
		    "Fake API: GET /error?format=html: HTTP 502: <html><body><h1>502 Bad "
		    "Gateway</h1> </body></html> (after 5 retries)", "");
	expect_line(NULL, "empty", -ML_EPROTO, "Fake API: GET /error?format=empty: HTTP 503 "
		    "(after 5 retries)", "");
}

static void test_server_text_sanitised(void **state)
{
	struct ml_rest_opts o = { .decode = ml_rest_decode_docker, .max_retries = 1 };
	struct ml_rest *r = client_with(&o);
	struct ml_error err = { 0, "" };
	const char *p;

	(void)state;
	assert_int_equal(call(r, "POST", "/error?format=control", 0, &err), -ML_EPROTO);
	for (p = err.msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fail_msg("control character in '%s'", err.msg);
	assert_has(err.msg, "line one line two");
	assert_lacks(err.msg, "hunter2");
	ml_rest_free(r);
}

static void test_allow_404(void **state)
{
	struct ml_rest *r = client(ml_rest_decode_google);
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };

	(void)state;
	assert_int_equal(ml_rest_call(r, "GET", "/error?format=google", NULL, ML_REST_ALLOW_404,
				      &res, &err), 0);
	assert_int_equal(res.status, 404);
	assert_null(res.body);
	assert_string_equal(res.code, "NOT_FOUND");
	ml_rest_result_dispose(&res);
	/* only 404 */
	assert_int_equal(ml_rest_call(r, "GET", "/error?format=google-fields", NULL,
				      ML_REST_ALLOW_404, &res, &err), -ML_EPROTO);
	assert_int_equal(res.status, 400);
	ml_rest_result_dispose(&res);
	assert_int_equal(ml_rest_call(r, "GET", "/error?format=azure-bare", NULL, ML_REST_ALLOW_409,
				      &res, &err), 0);
	assert_int_equal(res.status, 409);
	ml_rest_result_dispose(&res);
	ml_rest_free(r);
}

static void test_pagination(void **state)
{
	struct ml_rest *r = client(ml_rest_decode_google);
	struct ml_error err = { 0, "" };
	ml_json *items = ml_json_array_new();
	int64_t v;
	size_t i;

	(void)state;
	assert_int_equal(ml_rest_list(r, "/pages?n=3&mode=token", "items", "nextPageToken", 10,
				      items, &err), 0);
	assert_int_equal(ml_json_size(items), 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(ml_json_get_int(ml_json_at(items, i), "i", &v), 0);
		assert_int_equal(v, (int64_t)i);
	}
	ml_json_free(items);
	items = ml_json_array_new();
	assert_int_equal(ml_rest_list(r, "/pages?n=3&mode=link", "items", "nextLink", 0, items,
				      &err), 0);
	assert_int_equal(ml_json_size(items), 6);
	assert_int_equal(ml_json_get_int(ml_json_at(items, 5), "i", &v), 0);
	assert_int_equal(v, 5);
	ml_json_free(items);
	/* the page limit is an error, not a silent cut */
	items = ml_json_array_new();
	assert_int_equal(ml_rest_list(r, "/pages?n=5&mode=token", "items", "nextPageToken", 2,
				      items, &err), -ML_ETOOBIG);
	assert_has(err.msg, "more than 2 pages");
	ml_json_free(items);
	/* a nextLink to another origin would get the credentials: refused */
	items = ml_json_array_new();
	assert_int_equal(ml_rest_list(r, "/pages?n=3&mode=foreign", "items", "nextLink", 0, items,
				      &err), -ML_EPROTO);
	assert_has(err.msg, "nextLink 'http://127.0.0.2/pages?");
	assert_int_equal(ml_json_size(items), 2);
	ml_json_free(items);
	ml_rest_free(r);
}

static void test_unix_socket(void **state)
{
	struct ml_rest_opts o = { .service = "container engine", .decode = ml_rest_decode_docker,
				  .base_url = "http://localhost/v1.43", .unix_socket = sock_path };
	struct ml_rest *r;
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };

	(void)state;
	assert_int_equal(ml_rest_new(&r, &o, &err), 0);
	assert_int_equal(ml_rest_call(r, "GET", "/containers/echo?all=1", NULL, 0, &res,
				      &err), 0);
	ml_rest_result_dispose(&res);
	assert_int_equal(ml_rest_call(r, "POST", "/echo", NULL, 0, &res, &err), 0);
	assert_string_equal(ml_json_get_str(res.body, "path"), "/v1.43/echo");
	assert_string_equal(ml_json_get_str(ml_json_get(res.body, "headers"), "host"),
			    "localhost");
	ml_rest_result_dispose(&res);
	assert_int_equal(ml_rest_call(r, "DELETE", "/error?format=docker", NULL, 0, &res, &err),
			 -ML_ENOTFOUND);
	assert_string_equal(err.msg, "container engine: DELETE /error?format=docker: No such "
			    "container: iris (HTTP 404)");
	ml_rest_result_dispose(&res);
	assert_int_equal(ml_rest_calls(r, NULL), 3);
	ml_rest_free(r);
	/* a socket that is not there */
	o.unix_socket = "/nonexistent/docker.sock";
	o.max_retries = 1;
	assert_int_equal(ml_rest_new(&r, &o, &err), 0);
	assert_int_equal(call(r, "GET", "/echo", 0, &err), -ML_ENET);
	assert_has(err.msg, "container engine: GET http://localhost/v1.43/echo: could not connect");
	ml_rest_free(r);
}

static void test_trace_redacted(void **state)
{
	struct ml_rest *r = client(NULL);
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	ml_json *body = ml_json_object_new();

	(void)state;
	ml_json_set_str(body, "name", "iris");
	ml_json_set_str(body, "client_secret", "hunter2hunter2");
	ml_json_set(body, "password", ml_json_array_new());
	ml_json_append(ml_json_get(body, "password"), ml_json_string_new("pa55w0rdpa55"));
	ml_buf_reset(&logged);
	assert_int_equal(ml_rest_call(r, "PUT", "/echo", body, 0, &res, &err), 0);
	ml_rest_result_dispose(&res);
	assert_has(ml_buf_str(&logged), "> body (");
	assert_has(ml_buf_str(&logged), "< body (");
	assert_has(ml_buf_str(&logged), "\"name\":\"iris\"");
	assert_lacks(ml_buf_str(&logged), "hunter2");
	assert_lacks(ml_buf_str(&logged), "pa55w0rd");
	ml_json_free(body);
	ml_rest_free(r);
}

static void test_answers(void **state)
{
	struct ml_rest *r = client(NULL);
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };

	(void)state;
	/* a 2xx that is not JSON */
	assert_int_equal(ml_rest_call(r, "GET", "/text", NULL, 0, &res, &err), -ML_EPROTO);
	assert_string_equal(err.msg, "Fake API: GET /text: the answer is not JSON (HTTP 200, 21 "
			    "bytes)");
	ml_rest_result_dispose(&res);
	/* ... unless RAW */
	assert_int_equal(ml_rest_call(r, "GET", "/text", NULL, ML_REST_RAW, &res, &err), 0);
	assert_null(res.body);
	assert_string_equal(ml_buf_str(&res.resp.body), "plain words, not json");
	ml_rest_result_dispose(&res);
	/* an answer over the cap */
	assert_int_equal(ml_rest_call(r, "GET", "/big?size=17000000", NULL, 0, &res, &err),
			 -ML_ETOOBIG);
	assert_has(err.msg, "larger than 16.0 MiB");
	ml_rest_result_dispose(&res);
	/* an absolute URL is taken as it is */
	{
		char *u = ml_asprintf("http://localhost:%d/echo", fake.port);

		assert_int_equal(ml_rest_call(r, "GET", u, NULL, 0, &res, &err), 0);
		assert_int_equal(strncmp(ml_json_get_str(ml_json_get(res.body, "headers"), "host"),
					 "localhost:", 10), 0);
		ml_rest_result_dispose(&res);
		free(u);
	}
	ml_rest_free(r);
}

struct chunks {
	int left;
	struct ml_buf got;
};

static long chunk_read(void *ud, char *buf, size_t size)
{
	struct chunks *c = ud;

	if (!c->left || size < 8)
		return 0;
	c->left--;
	memcpy(buf, c->left ? "\"abcde\"," : "\"last\"]", 8);
	return 8;
}

static int collect(void *ud, const void *data, size_t len)
{
	struct chunks *c = ud;

	return ml_buf_add(&c->got, data, len);
}

static void test_stream(void **state)
{
	struct ml_rest *r = client(ml_rest_decode_docker);
	struct chunks c = { .left = 3, .got = ML_BUF_INIT };
	struct ml_http_body body = { .read = chunk_read, .ud = &c, .size = 24 };
	struct ml_http_sink sink = { .write = collect, .ud = &c };
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	ml_json *doc;

	(void)state;
	assert_int_equal(ml_rest_call_stream(r, "POST", "/echo", "application/json", &body, &sink,
					     ML_REST_STREAM, &res, &err), 0);
	assert_int_equal(res.status, 200);
	assert_null(res.body);
	ml_rest_result_dispose(&res);
	doc = ml_json_parse(c.got.data, c.got.len, &err);
	assert_non_null(doc);
	assert_string_equal(ml_json_get_str(doc, "method"), "POST");
	assert_string_equal(ml_json_get_str(ml_json_get(doc, "headers"), "content-length"), "24");
	ml_json_free(doc);
	/* a streamed body is not sent again, even by a PUT */
	c.left = 3;
	assert_int_equal(ml_rest_call_stream(r, "PUT", "/flaky?id=stream&fail=1&status=503",
					     "application/json", &body, NULL, 0, &res, &err),
			 -ML_EPROTO);
	ml_rest_result_dispose(&res);
	assert_int_equal(count(r, "stream"), 1);
	ml_buf_dispose(&c.got);
	ml_rest_free(r);
}

/* A followed log may stay quiet longer than the minimum-rate window. */
static void test_stream_quiet(void **state)
{
	struct ml_rest_opts o = { .max_retries = 1 };
	struct chunks c = { .got = ML_BUF_INIT };
	struct ml_http_sink sink = { .write = collect, .ud = &c };
	struct ml_rest_result res;
	struct ml_error err = { 0, "" };
	struct ml_rest *r;

	(void)state;
	setenv("MLDEPLOY_HTTP_STALL_S", "1", 1);
	r = client_with(&o);
	unsetenv("MLDEPLOY_HTTP_STALL_S");
	assert_int_equal(ml_rest_call_stream(r, "GET", "/slow?s=2", NULL, NULL, &sink,
					     ML_REST_STREAM, &res, &err), 0);
	assert_int_equal(res.status, 200);
	ml_rest_result_dispose(&res);
	assert_has(ml_buf_str(&c.got), "\"ok\"");
	/* without the flag the rate rule ends it */
	assert_int_equal(ml_rest_call_stream(r, "GET", "/slow?s=2", NULL, NULL, &sink, 0, &res,
					     &err), -ML_ENET);
	ml_rest_result_dispose(&res);
	ml_buf_dispose(&c.got);
	ml_rest_free(r);
}

static volatile int stop_flag;

static void *raise_later(void *ud)
{
	(void)ud;
	usleep(300000);
	stop_flag = 1;
	return NULL;
}

static void test_interrupt(void **state)
{
	struct ml_rest *r = client(NULL);
	struct ml_error err = { 0, "" };
	pthread_t t;
	double t0;

	(void)state;
	ml_rest_set_interrupt(r, &stop_flag);
	stop_flag = 0;
	t0 = ut_now_s();
	assert_int_equal(pthread_create(&t, NULL, raise_later, NULL), 0);
	assert_int_equal(call(r, "GET", "/slow?s=5", 0, &err), -ML_EINTR);
	pthread_join(t, NULL);
	assert_true(ut_now_s() - t0 < 2.5);
	/* a retry wait is cut short too */
	stop_flag = 0;
	t0 = ut_now_s();
	assert_int_equal(pthread_create(&t, NULL, raise_later, NULL), 0);
	assert_int_equal(call(r, "GET", "/flaky?id=intr&fail=3&status=503&after=30", 0, &err),
			 -ML_EINTR);
	pthread_join(t, NULL);
	assert_true(ut_now_s() - t0 < 2.5);
	/* raised before: nothing is sent */
	assert_int_equal(call(r, "GET", "/echo?id=never", 0, &err), -ML_EINTR);
	stop_flag = 0;
	assert_int_equal(count(r, "never"), 0);
	ml_rest_free(r);
}

static void test_counts(void **state)
{
	struct ml_rest *r = client(NULL);
	struct ml_error err = { 0, "" };
	int mutations = -1;

	(void)state;
	assert_int_equal(call(r, "GET", "/echo", 0, &err), 0);
	assert_int_equal(call(r, "POST", "/echo", 0, &err), 0);
	assert_int_equal(call(r, "DELETE", "/echo", 0, &err), 0);
	assert_int_equal(ml_rest_calls(r, &mutations), 3);
	assert_int_equal(mutations, 2);
	/* a POST that only reads (AWS's Describe*) is no mutation, and is retried */
	assert_int_equal(call(r, "POST", "/echo", ML_REST_READ, &err), 0);
	assert_int_equal(call(r, "POST", "/flaky?id=read&fail=1&status=503", ML_REST_READ, &err), 0);
	assert_int_equal(count(r, "read"), 2);
	assert_int_equal(ml_rest_calls(r, &mutations), 7);	/* count() is one */
	assert_int_equal(mutations, 2);
	ml_rest_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_retry_by_method),
		cmocka_unit_test(test_retries_exhausted),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_refused_post_retried),
		cmocka_unit_test(test_sign_per_attempt),
		cmocka_unit_test(test_extra_headers),
		cmocka_unit_test(test_retryable_hook),
		cmocka_unit_test(test_unauthorized_hook),
		cmocka_unit_test(test_decoders),
		cmocka_unit_test(test_server_text_sanitised),
		cmocka_unit_test(test_allow_404),
		cmocka_unit_test(test_pagination),
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_trace_redacted),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_quiet),
		cmocka_unit_test(test_interrupt),
		cmocka_unit_test(test_counts),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
