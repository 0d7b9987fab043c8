/* lib/wrap/http.c against tests/fakes/httpfake.py on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "wrap/http.h"
#include "util/log.h"

static struct ut_fake fake;
static struct ml_http *client;
static struct ml_buf logged = ML_BUF_INIT;

static char *url_at(const char *host, const char *path)
{
	return ml_asprintf("http://%s:%d%s", host, fake.port, path);
}

static char *url(const char *path)
{
	return url_at("127.0.0.1", path);
}

static int fake_start(void **state)
{
	(void)state;
	setenv("MLDEPLOY_RETRY_BASE_MS", "10", 1);
	if (ut_fake_run(&fake, "httpfake.py", NULL) < 0 || ml_http_global_init(NULL) < 0 ||
	    ml_http_new(&client, NULL) < 0)
		return -1;
	return 0;
}

static int fake_stop(void **state)
{
	(void)state;
	ml_http_free(client);
	ml_http_global_cleanup();
	ut_fake_kill(&fake);
	ml_buf_dispose(&logged);
	return 0;
}

static int run(struct ml_http_request *req, struct ml_http_response *resp,
	       struct ml_error *err)
{
	ml_error_clear(err);
	return ml_http_do(client, req, resp, err);
}

static uint32_t pattern_sum(size_t n)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += (uint32_t)((i * 7 + 3) & 0xff);
	return sum;
}

/* A streamed request body of the fake's pattern bytes. */
struct gen {
	size_t total, pos;
	int rewinds;
};

static long gen_read(void *ud, char *buf, size_t size)
{
	struct gen *g = ud;
	size_t n = 0;

	while (n < size && g->pos < g->total) {
		buf[n++] = (char)((g->pos * 7 + 3) & 0xff);
		g->pos++;
	}
	return (long)n;
}

static int gen_rewind(void *ud)
{
	struct gen *g = ud;

	g->pos = 0;
	g->rewinds++;
	return 0;
}

/* A response sink that collects, counts resets and can refuse data. */
struct collect {
	struct ml_buf buf;
	int resets;
	int fail;		/* 1: fail, 2: fail with a message in err */
	struct ml_error *err;
};

static int collect_write(void *ud, const void *data, size_t len)
{
	struct collect *c = ud;

	if (c->fail == 2)
		return ml_error_set(c->err, ML_EDIGEST, "digest mismatch for 'blob'");
	if (c->fail)
		return -ML_EIO;
	return ml_buf_add(&c->buf, data, len);
}

static int collect_reset(void *ud)
{
	struct collect *c = ud;

	c->resets++;
	ml_buf_reset(&c->buf);
	return 0;
}

static void test_get(void **state)
{
	const char *headers[] = { "X-Test: yes", "Accept: text/plain" };
	struct ml_http_request req = { .headers = headers, .nheaders = 2 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/echo?a=1");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.url, req.url);
	assert_has(ml_buf_str(&resp.body), "method GET\n");
	assert_has(ml_buf_str(&resp.body), "path /echo?a=1\n");
	assert_has(ml_buf_str(&resp.body), "header x-test: yes\n");
	assert_has(ml_buf_str(&resp.body), "header user-agent: mldeploy/");
	assert_lacks(ml_buf_str(&resp.body), "accept-encoding");
	assert_string_equal(ml_http_response_header(&resp, "content-type"), "text/plain");
	assert_non_null(ml_http_response_header(&resp, "CONTENT-LENGTH"));
	assert_null(ml_http_response_header(&resp, "Location"));
	assert_int_equal(resp.retries, 0);
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_head(void **state)
{
	struct ml_http_request req = { .method = "HEAD" };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/echo");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body.len, 0);
	assert_non_null(ml_http_response_header(&resp, "Content-Length"));
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_post_data(void **state)
{
	const char *headers[] = { "Content-Type: application/json" };
	struct ml_http_body body = { .data = "{\"a\":1}", .len = 7 };
	struct ml_http_request req = { .method = "POST", .body = &body, .headers = headers,
				       .nheaders = 1 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/echo");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_has(ml_buf_str(&resp.body), "method POST\n");
	assert_has(ml_buf_str(&resp.body), "header content-length: 7\n");
	assert_has(ml_buf_str(&resp.body), "header content-type: application/json\n");
	assert_has(ml_buf_str(&resp.body), "body {\"a\":1}\n");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_post_empty(void **state)
{
	struct ml_http_request req = { .method = "POST" };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/echo");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_has(ml_buf_str(&resp.body), "method POST\n");
	assert_has(ml_buf_str(&resp.body), "header content-length: 0\n");
	assert_lacks(ml_buf_str(&resp.body), "content-type");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void put_stream(int64_t size, const char *expect_header)
{
	struct gen g = { .total = 300000 };
	struct ml_http_body body = { .read = gen_read, .ud = &g, .size = size };
	struct ml_http_request req = { .method = "PUT", .body = &body };
	struct ml_http_response resp;
	struct ml_error err;
	char sum[64];

	req.url = url("/echo");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_has(ml_buf_str(&resp.body), "method PUT\n");
	assert_has(ml_buf_str(&resp.body), expect_header);
	assert_has(ml_buf_str(&resp.body), "body-length 300000\n");
	snprintf(sum, sizeof(sum), "body-sum %u\n", pattern_sum(300000));
	assert_has(ml_buf_str(&resp.body), sum);
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_put_stream(void **state)
{
	(void)state;
	put_stream(300000, "header content-length: 300000\n");
}

static void test_put_chunked(void **state)
{
	(void)state;
	put_stream(-1, "header transfer-encoding: chunked\n");
}

static void test_patch_delete(void **state)
{
	struct ml_http_body body = { .data = "xy", .len = 2 };
	struct ml_http_request req = { .method = "PATCH", .body = &body };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/echo");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_has(ml_buf_str(&resp.body), "method PATCH\n");
	assert_has(ml_buf_str(&resp.body), "body xy\n");
	ml_http_response_dispose(&resp);
	req.method = "DELETE";
	req.body = NULL;
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_has(ml_buf_str(&resp.body), "method DELETE\n");
	assert_has(ml_buf_str(&resp.body), "body-length 0\n");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_sink(void **state)
{
	struct collect c = { .buf = ML_BUF_INIT };
	struct ml_http_sink sink = { collect_write, collect_reset, &c };
	struct ml_http_request req = { .sink = &sink, .max_body = 10 };
	struct ml_http_response resp;
	struct ml_error err;
	uint32_t sum = 0;
	size_t i;

	(void)state;
	req.url = url("/big?size=1000000");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body.len, 0);
	assert_int_equal(c.buf.len, 1000000);
	for (i = 0; i < c.buf.len; i++)
		sum += (unsigned char)c.buf.data[i];
	/* the fake repeats a 64 KiB pattern */
	assert_int_equal(sum, 15 * pattern_sum(65536) + pattern_sum(1000000 - 15 * 65536));
	ml_http_response_dispose(&resp);
	ml_buf_dispose(&c.buf);
	free((char *)req.url);
}

static void test_sink_error_status(void **state)
{
	struct collect c = { .buf = ML_BUF_INIT };
	struct ml_http_sink sink = { collect_write, collect_reset, &c };
	struct ml_http_request req = { .sink = &sink, .flags = ML_HTTP_RETRY, .max_retries = 1 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	/* only a 2xx body reaches the sink; any other is collected for the caller */
	req.url = url("/flaky?id=sinkerr&fail=5&code=500");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 500);
	assert_int_equal(resp.retries, 1);
	assert_int_equal(c.buf.len, 0);
	assert_string_equal(ml_buf_str(&resp.body), "try again\n");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
	req.url = url("/nothing-here");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 404);
	assert_int_equal(c.buf.len, 0);
	assert_string_equal(ml_buf_str(&resp.body), "not found\n");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
	ml_buf_dispose(&c.buf);
}

static void test_sink_abort(void **state)
{
	struct collect c = { .buf = ML_BUF_INIT, .fail = 1 };
	struct ml_http_sink sink = { collect_write, collect_reset, &c };
	struct ml_http_request req = { .sink = &sink, .flags = ML_HTTP_RETRY };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/big?size=100000");
	assert_int_equal(run(&req, &resp, &err), -ML_EIO);
	assert_has(err.msg, "GET http://127.0.0.1:");
	assert_has(err.msg, "aborted by receiver");
	assert_int_equal(resp.retries, 0);
	ml_http_response_dispose(&resp);

	/* the sink's own message is kept */
	c.fail = 2;
	c.err = &err;
	assert_int_equal(run(&req, &resp, &err), -ML_EDIGEST);
	assert_int_equal(err.code, ML_EDIGEST);
	assert_has(err.msg, "GET http://127.0.0.1:");
	assert_has(err.msg, "/big?size=100000: digest mismatch for 'blob'");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static long failing_read(void *ud, char *buf, size_t size)
{
	(void)ud;
	(void)buf;
	(void)size;
	return -ML_EIO;
}

static void test_body_read_error(void **state)
{
	struct ml_http_body body = { .read = failing_read, .size = 10 };
	struct ml_http_request req = { .method = "PUT", .body = &body, .flags = ML_HTTP_RETRY };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/echo");
	assert_int_equal(run(&req, &resp, &err), -ML_EIO);
	assert_has(err.msg, "PUT http://127.0.0.1:");
	assert_has(err.msg, "/echo: cannot read the request body");
	assert_int_equal(resp.retries, 0);
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_body_cap(void **state)
{
	struct ml_http_request req = { .max_body = 1000 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/big?size=100000");
	assert_int_equal(run(&req, &resp, &err), -ML_ETOOBIG);
	assert_int_equal(err.code, ML_ETOOBIG);
	assert_has(err.msg, "response body larger than");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
	req.url = url("/big?size=1000");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.body.len, 1000);
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_header_caps(void **state)
{
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/headers?n=150&size=100");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.nheaders, 150 + 3);
	assert_int_equal(strlen(ml_http_response_header(&resp, "x-h149")), 100);
	ml_http_response_dispose(&resp);
	free((char *)req.url);
	req.url = url("/headers?n=250");
	assert_int_equal(run(&req, &resp, &err), -ML_ETOOBIG);
	assert_has(err.msg, "more than 200 response headers");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
	req.url = url("/headers?n=1&size=20000");
	assert_int_equal(run(&req, &resp, &err), -ML_ETOOBIG);
	assert_has(err.msg, "longer than 16 KiB");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

/* GET start with auth, following redirects; returns the final body. */
static char *follow(const char *start, unsigned flags, long *status)
{
	struct ml_http_request req = { .auth = "Bearer s3cr3t", .flags = flags };
	struct ml_http_response resp;
	struct ml_error err;
	char *body;

	req.url = start;
	assert_int_equal(run(&req, &resp, &err), 0);
	*status = resp.status;
	body = ml_buf_detach(&resp.body);
	ml_http_response_dispose(&resp);
	return body;
}

static char *redirect_url(const char *host, const char *to, int code)
{
	struct ml_buf b = ML_BUF_INIT;
	char *path, *u;

	ml_buf_printf(&b, "/redirect?code=%d&to=", code);
	ml_http_urlencode(&b, to);
	path = ml_buf_detach(&b);
	u = url_at(host, path);
	free(path);
	return u;
}

static void test_redirect_same_origin(void **state)
{
	char *start = redirect_url("127.0.0.1", "/echo?x=1", 302), *body;
	long status;

	(void)state;
	body = follow(start, ML_HTTP_FOLLOW, &status);
	assert_int_equal(status, 200);
	assert_has(body, "path /echo?x=1\n");
	assert_has(body, "header authorization: Bearer s3cr3t\n");
	free(body);
	free(start);
}

static void test_redirect_other_origin(void **state)
{
	char *target = url_at("localhost", "/echo"), *start, *back, *body;
	long status;

	(void)state;
	start = redirect_url("127.0.0.1", target, 307);
	body = follow(start, ML_HTTP_FOLLOW, &status);
	assert_int_equal(status, 200);
	assert_has(body, "header host: localhost:");
	assert_lacks(body, "authorization");
	free(body);
	free(start);
	free(target);

	/* back to the original origin: the credential is sent there again */
	target = url("/echo");
	back = redirect_url("localhost", target, 308);
	start = redirect_url("127.0.0.1", back, 301);
	body = follow(start, ML_HTTP_FOLLOW, &status);
	assert_has(body, "header host: 127.0.0.1:");
	assert_has(body, "header authorization: Bearer s3cr3t\n");
	free(body);
	free(start);
	free(back);
	free(target);
}

/* Every credential-bearing header stays with the origin it was meant for; no
 * cookie is ever sent back. */
static void test_redirect_withholds_credentials(void **state)
{
	static const char *const headers[] = {
		"X-Amz-Security-Token: SESSTOKEN1", "X-Api-Key: APIKEY2", "Cookie: c=COOKIE3",
		"Ocp-Apim-Subscription-Key: SUBKEY4", "X-Identity-Header: IDHDR5",
		"X-Plain: kept", "Accept: text/plain",
	};
	static const char *const secret_headers[] = { "X-Amz-Date: 20240101T000000Z",
		"X-Signed: SIGNED6" };
	static const char *const withheld[] = { "SESSTOKEN1", "APIKEY2", "COOKIE3", "SUBKEY4",
		"IDHDR5", "20240101T000000Z", "SIGNED6", "s3cr3t", "SETCOOKIE7", NULL };
	struct ml_http_request req = { .auth = "Bearer s3cr3t", .flags = ML_HTTP_FOLLOW,
				       .headers = headers, .nheaders = 7,
				       .secret_headers = secret_headers, .nsecret_headers = 2 };
	struct ml_http_response resp;
	struct ml_error err;
	struct ml_buf b = ML_BUF_INIT;
	char *target = url_at("localhost", "/echo"), *start, *same;
	int i;

	(void)state;
	ml_log_set_handler(ut_log_capture, &logged, ML_LOG_TRACE);
	ml_buf_reset(&logged);
	ml_buf_printf(&b, "/redirect?code=307&cookie=SETCOOKIE7&to=");
	ml_http_urlencode(&b, target);
	start = url(ml_buf_str(&b));
	req.url = start;
	assert_int_equal(run(&req, &resp, &err), 0);
	ml_log_set_handler(NULL, NULL, -1);
	assert_int_equal(resp.status, 200);
	assert_has(ml_buf_str(&resp.body), "header host: localhost:");
	assert_has(ml_buf_str(&resp.body), "header x-plain: kept\n");
	assert_has(ml_buf_str(&resp.body), "header accept: text/plain\n");
	for (i = 0; withheld[i]; i++) {
		assert_lacks(ml_buf_str(&resp.body), withheld[i]);
		assert_lacks(ml_buf_str(&logged), withheld[i]);
	}
	assert_lacks(ml_buf_str(&resp.body), "header cookie:");
	/* sent, but never logged, where they belong */
	assert_has(ml_buf_str(&logged), "> X-Signed: <redacted>\n");
	assert_has(ml_buf_str(&logged), "> X-Amz-Date: <redacted>\n");
	assert_has(ml_buf_str(&logged), "> X-Amz-Security-Token: <redacted>\n");
	ml_http_response_dispose(&resp);

	/* the same origin gets them all, and still no cookie */
	ml_buf_reset(&b);
	ml_buf_printf(&b, "/redirect?code=302&cookie=SETCOOKIE7&to=/echo");
	same = url(ml_buf_str(&b));
	req.url = same;
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_has(ml_buf_str(&resp.body), "header x-amz-security-token: SESSTOKEN1\n");
	assert_has(ml_buf_str(&resp.body), "header x-signed: SIGNED6\n");
	assert_has(ml_buf_str(&resp.body), "header authorization: Bearer s3cr3t\n");
	assert_has(ml_buf_str(&resp.body), "header cookie: c=COOKIE3\n");
	assert_lacks(ml_buf_str(&resp.body), "SETCOOKIE7");
	ml_http_response_dispose(&resp);
	ml_buf_dispose(&b);
	free(same);
	free(start);
	free(target);
}

static void test_redirect_not_followed(void **state)
{
	char *start = redirect_url("127.0.0.1", "/echo", 302);
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = start;
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 302);
	assert_string_equal(ml_http_response_header(&resp, "Location"), "/echo");
	assert_string_equal(ml_buf_str(&resp.body), "moved\n");
	ml_http_response_dispose(&resp);
	free(start);
}

static void test_redirect_303(void **state)
{
	char *start = redirect_url("127.0.0.1", "/echo", 303);
	struct ml_http_body body = { .data = "hello", .len = 5 };
	const char *headers[] = { "Content-Type: text/plain" };
	struct ml_http_request req = { .method = "POST", .body = &body, .flags = ML_HTTP_FOLLOW,
				       .headers = headers, .nheaders = 1 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = start;
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_has(ml_buf_str(&resp.body), "method GET\n");
	assert_has(ml_buf_str(&resp.body), "body-length 0\n");
	assert_lacks(ml_buf_str(&resp.body), "content-type");
	ml_http_response_dispose(&resp);
	free(start);
}

static void test_redirect_307_stream(void **state)
{
	char *start = redirect_url("127.0.0.1", "/echo", 307);
	struct gen g = { .total = 5000 };
	struct ml_http_body body = { .read = gen_read, .rewind = gen_rewind, .ud = &g,
				     .size = 5000 };
	struct ml_http_request req = { .method = "PUT", .body = &body, .flags = ML_HTTP_FOLLOW };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = start;
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_has(ml_buf_str(&resp.body), "method PUT\n");
	assert_has(ml_buf_str(&resp.body), "body-length 5000\n");
	assert_int_equal(g.rewinds, 1);
	ml_http_response_dispose(&resp);

	/* a body that cannot be rewound cannot follow */
	g.pos = 0;
	body.rewind = NULL;
	assert_int_equal(run(&req, &resp, &err), -ML_EPROTO);
	assert_has(err.msg, "cannot send the request body again");
	ml_http_response_dispose(&resp);
	free(start);
}

static void test_redirect_loop(void **state)
{
	struct ml_http_request req = { .flags = ML_HTTP_FOLLOW };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/loop");
	assert_int_equal(run(&req, &resp, &err), -ML_EPROTO);
	assert_has(err.msg, "more than 10 redirects");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_retry_503(void **state)
{
	struct ml_http_request req = { .flags = ML_HTTP_RETRY };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/flaky?id=r503&fail=2&code=503");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.retries, 2);
	assert_string_equal(ml_buf_str(&resp.body), "ok\n");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_retry_429_after(void **state)
{
	struct collect c = { .buf = ML_BUF_INIT };
	struct ml_http_sink sink = { collect_write, collect_reset, &c };
	struct ml_http_request req = { .flags = ML_HTTP_RETRY, .sink = &sink };
	struct ml_http_response resp;
	struct ml_error err;
	struct timespec t0, t1;
	double elapsed;

	(void)state;
	req.url = url("/flaky?id=r429&fail=1&code=429&after=1");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(run(&req, &resp, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.retries, 1);
	assert_true(elapsed >= 0.9);
	/* the 429 body never reached the sink */
	assert_string_equal(ml_buf_str(&c.buf), "ok\n");
	ml_http_response_dispose(&resp);
	ml_buf_dispose(&c.buf);
	free((char *)req.url);
}

static void test_no_retry(void **state)
{
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/flaky?id=noretry&fail=1&code=503");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.retries, 0);
	assert_string_equal(ml_buf_str(&resp.body), "try again\n");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_retry_exhausted(void **state)
{
	struct ml_http_request req = { .flags = ML_HTTP_RETRY, .max_retries = 2 };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/flaky?id=exhaust&fail=10&code=502");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 502);
	assert_int_equal(resp.retries, 2);
	assert_string_equal(ml_buf_str(&resp.body), "try again\n");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
	req.url = url("/count?id=exhaust");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_string_equal(ml_buf_str(&resp.body), "3\n");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_retry_unrewindable(void **state)
{
	struct gen g = { .total = 100 };
	struct ml_http_body body = { .read = gen_read, .ud = &g, .size = 100 };
	struct ml_http_request req = { .method = "POST", .body = &body, .flags = ML_HTTP_RETRY };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/flaky?id=unrewind&fail=1&code=503");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.retries, 0);
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_retry_reset(void **state)
{
	struct ml_http_request req = { .flags = ML_HTTP_RETRY };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/reset?id=reset1&fail=1");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.retries, 1);
	assert_int_equal(resp.body.len, 1000);
	assert_int_equal((unsigned char)resp.body.data[999], (999 * 7 + 3) & 0xff);
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_retry_reset_sink(void **state)
{
	struct collect c = { .buf = ML_BUF_INIT };
	struct ml_http_sink sink = { collect_write, collect_reset, &c };
	struct ml_http_request req = { .flags = ML_HTTP_RETRY, .sink = &sink };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	req.url = url("/reset?id=reset2&fail=1");
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.retries, 1);
	assert_int_equal(c.buf.len, 1000);
	assert_int_equal(c.resets, 1);
	ml_http_response_dispose(&resp);
	free((char *)req.url);

	/* without reset, bytes already delivered cannot be taken back: no retry */
	sink.reset = NULL;
	ml_buf_reset(&c.buf);
	req.url = url("/reset?id=reset3&fail=1");
	assert_int_equal(run(&req, &resp, &err), -ML_ENET);
	assert_int_equal(resp.retries, 0);
	assert_has(err.msg, "GET http://127.0.0.1:");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
	ml_buf_dispose(&c.buf);
}

static void test_connect_refused(void **state)
{
	struct ml_http_request req = { .flags = ML_HTTP_RETRY, .max_retries = 2 };
	struct ml_http_response resp;
	struct ml_error err;
	char *u = ml_asprintf("http://127.0.0.1:%d/v2/", ut_closed_port());

	(void)state;
	req.url = u;
	assert_int_equal(run(&req, &resp, &err), -ML_ENET);
	assert_int_equal(err.code, ML_ENET);
	assert_int_equal(resp.retries, 2);
	assert_has(err.msg, "GET http://127.0.0.1:");
	assert_has(err.msg, "/v2/: could not connect (Connection refused) after 2 retries");
	ml_http_response_dispose(&resp);
	free(u);
}

/* A client made with these environment values (NULL unsets). */
static struct ml_http *client_with(const char *stall_s, const char *retry_base_ms,
				   struct ml_error *err, int *rc)
{
	struct ml_http *h = NULL;

	if (stall_s)
		setenv("MLDEPLOY_HTTP_STALL_S", stall_s, 1);
	else
		unsetenv("MLDEPLOY_HTTP_STALL_S");
	setenv("MLDEPLOY_RETRY_BASE_MS", retry_base_ms ? retry_base_ms : "10", 1);
	ml_error_clear(err);
	*rc = ml_http_new(&h, err);
	unsetenv("MLDEPLOY_HTTP_STALL_S");
	setenv("MLDEPLOY_RETRY_BASE_MS", "10", 1);
	return h;
}

static void test_stall(void **state)
{
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	struct ml_error err;
	struct ml_http *h;
	int rc;

	(void)state;
	h = client_with("1", NULL, &err, &rc);
	assert_int_equal(rc, 0);
	req.url = url("/stall");
	assert_int_equal(ml_http_do(h, &req, &resp, &err), -ML_ENET);
	assert_has(err.msg, "timed out");
	ml_http_response_dispose(&resp);
	ml_http_free(h);
	req.timeout_s = 1;
	assert_int_equal(run(&req, &resp, &err), -ML_ENET);
	assert_has(err.msg, "timed out");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

/* A server that trickles (10 B/s) is given up on: the rate rule is a minimum rate
 * over the stall window, not "any byte at all". */
static void test_trickle(void **state)
{
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	struct ml_error err;
	struct ml_http *h;
	time_t start;
	int rc;

	(void)state;
	h = client_with("2", NULL, &err, &rc);
	assert_int_equal(rc, 0);
	req.url = url("/trickle?bps=10&size=100000");
	start = time(NULL);
	assert_int_equal(ml_http_do(h, &req, &resp, &err), -ML_ENET);
	assert_has(err.msg, "timed out");
	assert_true(time(NULL) - start < 60);
	ml_http_response_dispose(&resp);
	free((char *)req.url);

	/* well above the minimum rate: done */
	req.url = url("/trickle?bps=20000&size=40000");
	assert_int_equal(ml_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.body.len, 40000);
	ml_http_response_dispose(&resp);
	free((char *)req.url);

	/* a stream may be slow or quiet: no rate rule */
	req.url = url("/trickle?bps=10&size=40");
	req.flags = ML_HTTP_STREAM;
	assert_int_equal(ml_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.body.len, 40);
	ml_http_response_dispose(&resp);
	free((char *)req.url);
	ml_http_free(h);
}

/* Malformed limits are usage errors naming the variable, the value and the form. */
static void test_bad_limits(void **state)
{
	static const char *const bad_stall[] = { "10s", "0", "-1", "86401", "abc", " 5", "1e3",
		"99999999999999999999", NULL };
	static const char *const bad_base[] = { "-5", "10001", "200ms", "0x10", NULL };
	struct ml_error err;
	struct ml_http *h;
	int i, rc;

	(void)state;
	for (i = 0; bad_stall[i]; i++) {
		h = client_with(bad_stall[i], NULL, &err, &rc);
		assert_null(h);
		assert_int_equal(rc, -ML_EUSAGE);
		assert_has(err.msg, "MLDEPLOY_HTTP_STALL_S: '");
		assert_has(err.msg, bad_stall[i]);
		assert_has(err.msg, "expected a whole number from 1 to 86400");
	}
	for (i = 0; bad_base[i]; i++) {
		h = client_with(NULL, bad_base[i], &err, &rc);
		assert_null(h);
		assert_int_equal(rc, -ML_EUSAGE);
		assert_has(err.msg, "MLDEPLOY_RETRY_BASE_MS: '");
		assert_has(err.msg, bad_base[i]);
		assert_has(err.msg, "expected a whole number from 0 to 10000");
	}
	h = client_with("\x1b[2J", NULL, &err, &rc);
	assert_int_equal(rc, -ML_EUSAGE);
	assert_has(err.msg, "'?[2J'");
	/* empty is unset; the bounds are accepted */
	h = client_with("", "0", &err, &rc);
	assert_int_equal(rc, 0);
	ml_http_free(h);
	h = client_with("86400", "10000", &err, &rc);
	assert_int_equal(rc, 0);
	ml_http_free(h);
}

static void test_log_redaction(void **state)
{
	static const char *const secrets[] = { "PASSWD1", "QTOKEN2", "AUTHSECRET3", "COOKIE4",
		"SIG5", NULL };
	const char *headers[] = { "X-Api-Key: APIKEY7" };
	struct ml_http_request req = { .auth = "Bearer AUTHSECRET3", .flags = ML_HTTP_FOLLOW,
				       .headers = headers, .nheaders = 1 };
	struct ml_http_response resp;
	struct ml_error err;
	struct ml_buf b = ML_BUF_INIT;
	char *u;
	int i;

	(void)state;
	ml_log_set_handler(ut_log_capture, &logged, ML_LOG_TRACE);
	ml_buf_reset(&logged);
	ml_buf_printf(&b, "http://user:PASSWD1@127.0.0.1:%d/redirect?token=QTOKEN2&sig=SIG5&to=",
		      fake.port);
	ml_http_urlencode(&b, "/echo?cookie=COOKIE4&access_token=LOCTOKEN6");
	u = ml_buf_detach(&b);
	req.url = u;
	assert_int_equal(run(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_has(ml_buf_str(&resp.body), "header authorization: Bearer AUTHSECRET3\n");
	ml_http_response_dispose(&resp);
	free(u);

	/* a failure with secrets in the URL */
	u = ml_asprintf("http://user:PASSWD1@127.0.0.1:%d/x?token=QTOKEN2", ut_closed_port());
	req.url = u;
	assert_int_equal(run(&req, &resp, &err), -ML_ENET);
	ml_http_response_dispose(&resp);
	free(u);
	ml_log_set_handler(NULL, NULL, -1);

	assert_has(ml_buf_str(&logged), "> Authorization: <redacted>\n");
	assert_has(ml_buf_str(&logged), "> X-Api-Key: <redacted>\n");
	assert_has(ml_buf_str(&logged), "< Set-Cookie: <redacted>\n");
	assert_has(ml_buf_str(&logged), "> GET /redirect?token=<redacted>&sig=<redacted>&to=");
	assert_has(ml_buf_str(&logged), "GET http://127.0.0.1:");
	assert_has(ml_buf_str(&logged), " -> 302 (");
	/* the credential in a Location header, and in the URL it leads to */
	assert_has(ml_buf_str(&logged), "< Location: /echo?cookie=<redacted>&access_token=<redacted>\n");
	assert_has(ml_buf_str(&logged), "/echo?cookie=<redacted>&access_token=<redacted> -> 200 (");
	assert_has(ml_buf_str(&logged), "> GET /echo?cookie=<redacted>&access_token=<redacted> HTTP/1.1\n");
	for (i = 0; secrets[i]; i++) {
		assert_lacks(ml_buf_str(&logged), secrets[i]);
		assert_lacks(err.msg, secrets[i]);
	}
	assert_lacks(ml_buf_str(&logged), "Set-Cookie: session=COOKIE4");
	assert_lacks(ml_buf_str(&logged), "APIKEY7");
	assert_lacks(ml_buf_str(&logged), "dXNlcjpQQVNTV0Qx");	/* base64 of user:PASSWD1 */
}

static void test_retry_log(void **state)
{
	struct ml_http_request req = { .flags = ML_HTTP_RETRY };
	struct ml_http_response resp;
	struct ml_error err;

	(void)state;
	ml_log_set_handler(ut_log_capture, &logged, ML_LOG_INFO);
	ml_buf_reset(&logged);
	req.url = url("/flaky?id=retrylog&fail=1&code=503&token=T0KEN");
	assert_int_equal(run(&req, &resp, &err), 0);
	ml_log_set_handler(NULL, NULL, -1);
	assert_has(ml_buf_str(&logged), "retrying GET http://127.0.0.1:");
	assert_has(ml_buf_str(&logged), "token=<redacted> after HTTP 503 (attempt 2/6, waiting ");
	assert_has(ml_buf_str(&logged), " -> 503 (10 B, ");
	assert_lacks(ml_buf_str(&logged), "T0KEN");
	assert_lacks(ml_buf_str(&logged), "> User-Agent");
	ml_http_response_dispose(&resp);
	free((char *)req.url);
}

static void test_same_origin(void **state)
{
	(void)state;
	assert_true(ml_http_same_origin("https://r.io/v2/", "https://R.IO:443/x?y"));
	assert_true(ml_http_same_origin("http://127.0.0.1/a", "http://127.0.0.1:80/b"));
	assert_false(ml_http_same_origin("http://127.0.0.1:5000/", "http://localhost:5000/"));
	assert_false(ml_http_same_origin("https://r.io/", "http://r.io/"));
	assert_false(ml_http_same_origin("https://r.io/", "https://r.io:8443/"));
	assert_false(ml_http_same_origin("https://r.io/", "https://s3.r.io/"));
	assert_false(ml_http_same_origin("https://r.io/", "not a url"));
}

static void test_urlencode(void **state)
{
	struct ml_buf b = ML_BUF_INIT;

	(void)state;
	ml_http_urlencode(&b, "repository:a/b:pull,push ~x_y-z.0");
	assert_string_equal(ml_buf_str(&b), "repository%3Aa%2Fb%3Apull%2Cpush%20~x_y-z.0");
	ml_buf_reset(&b);
	ml_http_urlencode(&b, "\xc3\xa9&=");
	assert_string_equal(ml_buf_str(&b), "%C3%A9%26%3D");
	ml_buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_post_data),
		cmocka_unit_test(test_post_empty),
		cmocka_unit_test(test_put_stream),
		cmocka_unit_test(test_put_chunked),
		cmocka_unit_test(test_patch_delete),
		cmocka_unit_test(test_sink),
		cmocka_unit_test(test_sink_error_status),
		cmocka_unit_test(test_sink_abort),
		cmocka_unit_test(test_body_read_error),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_header_caps),
		cmocka_unit_test(test_redirect_same_origin),
		cmocka_unit_test(test_redirect_other_origin),
		cmocka_unit_test(test_redirect_withholds_credentials),
		cmocka_unit_test(test_redirect_not_followed),
		cmocka_unit_test(test_redirect_303),
		cmocka_unit_test(test_redirect_307_stream),
		cmocka_unit_test(test_redirect_loop),
		cmocka_unit_test(test_retry_503),
		cmocka_unit_test(test_retry_429_after),
		cmocka_unit_test(test_no_retry),
		cmocka_unit_test(test_retry_exhausted),
		cmocka_unit_test(test_retry_unrewindable),
		cmocka_unit_test(test_retry_reset),
		cmocka_unit_test(test_retry_reset_sink),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_trickle),
		cmocka_unit_test(test_bad_limits),
		cmocka_unit_test(test_log_redaction),
		cmocka_unit_test(test_retry_log),
		cmocka_unit_test(test_same_origin),
		cmocka_unit_test(test_urlencode),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
