/* lib/deploy/sigv4.c: every case of AWS's SigV4 test suite (tests/data/sigv4/, read
 * at run time: the canonical request, the string to sign and the Authorization
 * header), then what the suite does not cover: S3's rules, the headers the signer
 * adds, the host, the query encoded once whatever the caller did. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy/sigv4.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "testutil.h"

#define SUITE_KEY "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static char *slurp(const char *dir, const char *name, const char *ext)
{
	char path[4096];
	struct ml_buf b = ML_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ml_buf_add(&b, chunk, n);
	fclose(f);
	return b.data ? ml_buf_detach(&b) : ml_strdup("");
}

/* A request of the suite: "METHOD PATH HTTP/1.1", headers, an empty line, a body. */
struct suite_req {
	char *method, *url, *body;
	char **headers;
	size_t nheaders;
	int64_t now;
};

static int64_t parse_amz_date(const char *v)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(v, "%Y%m%dT%H%M%SZ", &tm));
	return (int64_t)timegm(&tm);
}

static void suite_req_parse(struct suite_req *r, char *text)
{
	char *line = text, *next, *host = NULL, *target, *sp;
	const char *last_name = NULL;
	size_t last_len = 0;

	memset(r, 0, sizeof(*r));
	r->headers = ml_calloc(64, sizeof(*r->headers));
	next = strchr(line, '\n');
	assert_non_null(next);
	*next++ = 0;
	sp = strchr(line, ' ');
	r->method = ml_strndup(line, (size_t)(sp - line));
	target = sp + 1;
	*strrchr(target, ' ') = 0;	/* " HTTP/1.1" */
	for (line = next; line && *line; line = next) {
		char *colon;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (!*line)
			break;	/* the body follows */
		if (*line == ' ' || *line == '\t') {
			/* get-header-value-multiline: the suite reads a folded header as a
			 * list of values, joined with ',' like a repeated header
			 * (get-header-key-duplicate). Folding does not exist in the
			 * requests the signer is given ("Name: value" lines, no line
			 * breaks), so each folded line is given as the same header again. */
			r->headers[r->nheaders++] = ml_asprintf("%.*s:%s", (int)last_len, last_name,
								line);
			continue;
		}
		colon = strchr(line, ':');
		assert_non_null(colon);
		r->headers[r->nheaders++] = ml_strdup(line);
		last_name = r->headers[r->nheaders - 1];
		last_len = (size_t)(colon - line);
		if (!strncasecmp(line, "host:", 5))
			host = colon + 1;
		if (!strncasecmp(line, "x-amz-date:", 11))
			r->now = parse_amz_date(colon + 1);
	}
	r->body = ml_strdup(next ? next : "");
	assert_non_null(host);
	/* the path of the suite is given as it is, raw bytes and spaces included: the
	 * signer encodes whatever it is given */
	r->url = ml_asprintf("https://%s%s", host, target);
}

static void suite_req_dispose(struct suite_req *r)
{
	free(r->method);
	free(r->url);
	free(r->body);
	ml_free_strings(r->headers, r->nheaders);
}

static const char *data_dir(void)
{
	static char dir[4096];
	const char *src = getenv("MLDEPLOY_SRCDIR");

	snprintf(dir, sizeof(dir), "%s/tests/data/sigv4", src ? src : ".");
	return dir;
}

static int run_case(const char *dir, const char *name)
{
	struct ml_sigv4_params p = { .region = "us-east-1", .service = "service" };
	struct ml_aws_credentials c = { .access_key_id = SUITE_KEY,
					.secret_access_key = SUITE_SECRET };
	char *text = slurp(dir, name, "req"), *creq = slurp(dir, name, "creq"),
	     *sts = slurp(dir, name, "sts"), *authz = slurp(dir, name, "authz");
	struct ml_buf out = ML_BUF_INIT;
	struct ml_error err = { 0, "" };
	struct suite_req r;
	struct ml_rest_sign s;
	char **h = NULL, *want;
	size_t nh = 0;
	int bad = 0;

	suite_req_parse(&r, text);
	s = (struct ml_rest_sign){ r.method, r.url, (const char *const *)r.headers, r.nheaders,
				   r.body, strlen(r.body) };
	p.now = r.now;
	assert_int_equal(ml_sigv4_canonical_request(&p, &s, &out, &err), 0);
	if (strcmp(ml_buf_str(&out), creq)) {
		print_message("%s: canonical request\n%s\n-- want --\n%s\n", name,
			      ml_buf_str(&out), creq);
		bad = 1;
	}
	assert_int_equal(ml_sigv4_string_to_sign(&p, &s, &out, &err), 0);
	if (strcmp(ml_buf_str(&out), sts)) {
		print_message("%s: string to sign\n%s\n-- want --\n%s\n", name, ml_buf_str(&out),
			      sts);
		bad = 1;
	}
	/* post-sts-header-before has the token among its headers; post-sts-header-after
	 * adds it after signing, unsigned, which this signer never does (the SDKs sign
	 * it): its signature is that of the request without the token */
	assert_int_equal(ml_sigv4_sign(&p, &c, &s, &h, &nh, &err), 0);
	want = ml_asprintf("Authorization: %s", authz);
	/* the request has its X-Amz-Date already: the Authorization is all there is */
	if (nh != 1 || strcmp(h[0], want)) {
		print_message("%s: %zu headers, %s\n-- want --\n%s\n", name, nh,
			      nh ? h[0] : "", want);
		bad = 1;
	}
	free(want);
	ml_free_secrets(h, nh);
	ml_buf_dispose(&out);
	suite_req_dispose(&r);
	free(text);
	free(creq);
	free(sts);
	free(authz);
	return bad;
}

static void test_suite(void **state)
{
	const char *dir = data_dir();
	DIR *d = opendir(dir);
	struct dirent *e;
	int cases = 0, failed = 0;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char *name;

		if (n < 5 || strcmp(e->d_name + n - 4, ".req"))
			continue;
		name = ml_strndup(e->d_name, n - 4);
		failed += run_case(dir, name);
		cases++;
		free(name);
	}
	closedir(d);
	print_message("%d cases of the SigV4 test suite\n", cases);
	assert_int_equal(cases, 31);
	assert_int_equal(failed, 0);
}

static char *header(char **h, size_t n, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (!strncasecmp(h[i], name, len) && h[i][len] == ':')
			return h[i] + len + 2;
	return NULL;
}

/* AWS's S3 documentation example (GET Object with a Range header, "Signature
 * Calculations for the Authorization Header: Transferring Payload in a Single
 * Chunk"): x-amz-content-sha256 added and signed. */
static void test_s3_example(void **state)
{
	struct ml_sigv4_params p = { .region = "us-east-1", .service = "s3", .s3 = 1,
				     .now = 1369353600 };
	struct ml_aws_credentials c = { .access_key_id = "AKIAIOSFODNN7EXAMPLE",
					.secret_access_key =
						"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
	const char *hs[] = { "Range: bytes=0-9" };
	struct ml_rest_sign s = { "GET", "https://examplebucket.s3.amazonaws.com/test.txt", hs, 1,
				  NULL, 0 };
	struct ml_error err = { 0, "" };
	char **h;
	size_t nh;

	(void)state;
	assert_int_equal(ml_sigv4_sign(&p, &c, &s, &h, &nh, &err), 0);
	assert_int_equal(nh, 3);
	assert_string_equal(header(h, nh, "Authorization"),
			    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
			    "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	assert_string_equal(header(h, nh, "X-Amz-Date"), "20130524T000000Z");
	assert_string_equal(header(h, nh, "x-amz-content-sha256"),
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ml_free_secrets(h, nh);
}

static char *creq_of(const struct ml_sigv4_params *p, const char *method, const char *url,
		     const char *const *hs, size_t nhs)
{
	struct ml_rest_sign s = { method, url, hs, nhs, NULL, 0 };
	struct ml_buf out = ML_BUF_INIT;
	struct ml_error err = { 0, "" };

	assert_int_equal(ml_sigv4_canonical_request(p, &s, &out, &err), 0);
	return ml_buf_detach(&out);
}

/* The wire path is encoded once already: other services have it encoded again and
 * normalised; S3 takes it as it is. */
static void test_path_rules(void **state)
{
	struct ml_sigv4_params p = { .region = "eu-west-1", .service = "ecr", .now = 1 };
	char *c;

	(void)state;
	c = creq_of(&p, "get", "https://h.example/a%20b//./c/../d", NULL, 0);
	assert_true(!strncmp(c, "GET\n/a%2520b/d\n\n", 16));
	free(c);
	p.s3 = 1;
	c = creq_of(&p, "GET", "https://h.example/a%20b//./c/../d", NULL, 0);
	assert_true(!strncmp(c, "GET\n/a%20b//./c/../d\n\n", 22));
	free(c);
	p.s3 = 0;
	c = creq_of(&p, "GET", "https://h.example", NULL, 0);
	assert_true(!strncmp(c, "GET\n/\n\nhost:h.example\n", 22));
	free(c);
}

/* Encoded or not, a query is signed encoded once, sorted by name then value;
 * '+' is a plus sign, a name without '=' has an empty value. */
static void test_query(void **state)
{
	struct ml_sigv4_params p = { .region = "us-east-1", .service = "sts", .now = 1 };
	char *a, *b;

	(void)state;
	a = creq_of(&p, "GET", "https://h.example/?b=x%2Fy&a=2&a=1&c&d=a+b&e=%7e", NULL, 0);
	b = creq_of(&p, "GET", "https://h.example/?e=~&d=a%2Bb&c=&a=1&a=2&b=x/y", NULL, 0);
	assert_string_equal(a, b);
	assert_has(a, "\na=1&a=2&b=x%2Fy&c=&d=a%2Bb&e=~\n");
	free(a);
	free(b);
}

/* The default port is not in the Host the server sees; another one is. Unsigned
 * headers (user-agent, content-length) are left out; x-amz-* and content-type in. */
static void test_headers(void **state)
{
	struct ml_sigv4_params p = { .region = "us-east-1", .service = "sts", .now = 1 };
	const char *hs[] = { "User-Agent: mldeploy/1", "Content-Type: application/x-www-form-urlencoded",
			     "X-Amz-Target:  A.B  ", "Content-Length: 3" };
	char *c;

	(void)state;
	c = creq_of(&p, "POST", "https://sts.amazonaws.com:443/", hs, 4);
	assert_has(c, "\ncontent-type:application/x-www-form-urlencoded\nhost:sts.amazonaws.com\n"
		      "x-amz-date:19700101T000001Z\nx-amz-target:A.B\n\n"
		      "content-type;host;x-amz-date;x-amz-target\n");
	assert_lacks(c, "user-agent");
	assert_lacks(c, "content-length");
	free(c);
	c = creq_of(&p, "GET", "http://127.0.0.1:8080/x", NULL, 0);
	assert_has(c, "\nhost:127.0.0.1:8080\n");
	free(c);
	c = creq_of(&p, "GET", "http://127.0.0.1:80/x", NULL, 0);
	assert_has(c, "\nhost:127.0.0.1\n");
	free(c);
}

/* A session token is sent and signed; the date and scope follow params->now. */
static void test_session_token(void **state)
{
	struct ml_sigv4_params p = { .region = "cn-north-1", .service = "ecr", .now = 1700000000,
				     .payload_hash = ML_SIGV4_UNSIGNED_PAYLOAD };
	struct ml_aws_credentials c = { .access_key_id = "AKIDEXAMPLE",
					.secret_access_key = "secret", .session_token = "TOKEN" };
	struct ml_rest_sign s = { "POST", "https://api.ecr.cn-north-1.amazonaws.com.cn/", NULL, 0,
				  "{}", 2 };
	struct ml_error err = { 0, "" };
	char **h;
	size_t nh;
	const char *a;

	(void)state;
	assert_int_equal(ml_sigv4_sign(&p, &c, &s, &h, &nh, &err), 0);
	assert_int_equal(nh, 3);
	assert_string_equal(header(h, nh, "X-Amz-Security-Token"), "TOKEN");
	assert_string_equal(header(h, nh, "X-Amz-Date"), "20231114T221320Z");
	a = header(h, nh, "Authorization");
	assert_has(a, "Credential=AKIDEXAMPLE/20231114/cn-north-1/ecr/aws4_request, ");
	assert_has(a, "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=");
	assert_lacks(a, "TOKEN");
	assert_lacks(a, "secret");
	ml_free_secrets(h, nh);
	c.secret_access_key = NULL;
	assert_int_equal(ml_sigv4_sign(&p, &c, &s, &h, &nh, &err), -ML_EAUTH);
	assert_null(h);
}

static void test_uri_encode(void **state)
{
	struct ml_buf b = ML_BUF_INIT;

	(void)state;
	ml_sigv4_uri_encode(&b, "a b/c~d+e=\xe1\x88\xb4", 13, 0);
	assert_string_equal(ml_buf_str(&b), "a%20b%2Fc~d%2Be%3D%E1%88%B4");
	ml_buf_reset(&b);
	ml_sigv4_uri_encode(&b, "k/e y", 5, 1);
	assert_string_equal(ml_buf_str(&b), "k/e%20y");
	ml_buf_dispose(&b);
}

static void test_credentials_copy(void **state)
{
	struct ml_aws_credentials a = { .access_key_id = "AK", .secret_access_key = "S",
					.expiration = 5 }, b;

	(void)state;
	ml_aws_credentials_copy(&b, &a);
	assert_string_equal(b.access_key_id, "AK");
	assert_string_equal(b.secret_access_key, "S");
	assert_null(b.session_token);
	assert_int_equal(b.expiration, 5);
	ml_aws_credentials_dispose(&b);
	assert_null(b.secret_access_key);
	ml_aws_credentials_dispose(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite),
		cmocka_unit_test(test_s3_example),
		cmocka_unit_test(test_path_rules),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_session_token),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_credentials_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
