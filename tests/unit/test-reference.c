/* Unit tests for lib/registry/reference.c: Docker's reference grammar and defaults
 * (distribution/reference: normalize.go, regexp.go). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/reference.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
	const char *in;
	const char *host, *repository, *tag, *digest;
	const char *canonical;	/* ml_ref_string */
} good[] = {
	{ "python", "docker.io", "library/python", NULL, NULL, "docker.io/library/python" },
	{ "python:3.11-slim", "docker.io", "library/python", "3.11-slim", NULL,
	  "docker.io/library/python:3.11-slim" },
	{ "library/python:3", "docker.io", "library/python", "3", NULL,
	  "docker.io/library/python:3" },
	{ "docker.io/python", "docker.io", "library/python", NULL, NULL,
	  "docker.io/library/python" },
	{ "index.docker.io/library/python", "docker.io", "library/python", NULL, NULL,
	  "docker.io/library/python" },
	{ "registry-1.docker.io/bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", NULL,
	  "docker.io/bitnami/redis:7.2" },
	{ "bitnami/redis", "docker.io", "bitnami/redis", NULL, NULL, "docker.io/bitnami/redis" },
	{ "localhost:5000/a/b@" D64, "localhost:5000", "a/b", NULL, D64,
	  "localhost:5000/a/b@" D64 },
	{ "localhost/a", "localhost", "a", NULL, NULL, "localhost/a" },
	{ "localhost:5000/a:v1@" D64, "localhost:5000", "a", "v1", D64,
	  "localhost:5000/a:v1@" D64 },
	{ "127.0.0.1:5000/team/app:latest", "127.0.0.1:5000", "team/app", "latest", NULL,
	  "127.0.0.1:5000/team/app:latest" },
	{ "gcr.io/p/i:t", "gcr.io", "p/i", "t", NULL, "gcr.io/p/i:t" },
	{ "us-docker.pkg.dev/my-proj/repo/img:1.0.0", "us-docker.pkg.dev", "my-proj/repo/img",
	  "1.0.0", NULL, "us-docker.pkg.dev/my-proj/repo/img:1.0.0" },
	{ "ghcr.io/owner/app@" D64, "ghcr.io", "owner/app", NULL, D64, "ghcr.io/owner/app@" D64 },
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com/svc:abc_DEF.1-2",
	  "123456789012.dkr.ecr.us-east-1.amazonaws.com", "svc", "abc_DEF.1-2", NULL,
	  "123456789012.dkr.ecr.us-east-1.amazonaws.com/svc:abc_DEF.1-2" },
	{ "myregistry.azurecr.io/a.b_c__d-e--f/g:_x", "myregistry.azurecr.io",
	  "a.b_c__d-e--f/g", "_x", NULL, "myregistry.azurecr.io/a.b_c__d-e--f/g:_x" },
	{ "[::1]:5000/x", "[::1]:5000", "x", NULL, NULL, "[::1]:5000/x" },
	/* a first component without '.' or ':' is a path, not a host */
	{ "team/app", "docker.io", "team/app", NULL, NULL, "docker.io/team/app" },
	/* "localhost:5000" alone is docker.io/library/localhost with tag 5000, as in docker */
	{ "localhost:5000", "docker.io", "library/localhost", "5000", NULL,
	  "docker.io/library/localhost:5000" },
};

static void check_good(const char *in, int allow_tag, size_t i)
{
	struct ml_error err = { 0, "" };
	struct ml_ref ref, again;
	char *s, *s2;

	if (ml_ref_parse(&ref, in, allow_tag, &err) != 0)
		fail_msg("'%s' refused: %s", in, err.msg);
	assert_string_equal(ref.host, good[i].host);
	assert_string_equal(ref.repository, good[i].repository);
	if (good[i].tag)
		assert_string_equal(ref.tag, good[i].tag);
	else
		assert_null(ref.tag);
	if (good[i].digest)
		assert_string_equal(ref.digest, good[i].digest);
	else
		assert_null(ref.digest);
	s = ml_ref_string(&ref);
	assert_string_equal(s, good[i].canonical);

	/* the canonical string parses to the same reference */
	if (ml_ref_parse(&again, s, allow_tag, &err) != 0)
		fail_msg("'%s' (from '%s') refused: %s", s, in, err.msg);
	s2 = ml_ref_string(&again);
	assert_string_equal(s2, s);
	assert_string_equal(again.host, ref.host);
	assert_string_equal(again.repository, ref.repository);
	free(s);
	free(s2);
	ml_ref_dispose(&ref);
	ml_ref_dispose(&again);
	/* dispose leaves a reference that can be disposed again */
	ml_ref_dispose(&ref);
}

static void test_good(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		check_good(good[i].in, 1, i);
}

static const struct {
	const char *in;
	const char *words;	/* in the message */
} bad[] = {
	{ "", "invalid repository" },
	{ "Python", "invalid repository name 'Python'" },
	{ "docker.io/Library/python", "invalid repository" },
	{ "gcr.io/p/Image:t", "invalid repository" },
	{ "gcr.io/", "invalid repository" },
	{ "gcr.io//x", "invalid repository" },
	{ "a//b", "invalid repository" },
	{ "a/", "invalid repository" },
	{ "/a", "invalid repository" },
	{ "-a", "invalid repository" },
	{ "a-", "invalid repository" },
	{ "a..b", "invalid repository" },
	{ "a___b", "invalid repository" },
	{ "a.-b", "invalid repository" },
	{ "a b", "invalid repository" },
	{ "caf\xc3\xa9", "invalid repository" },
	{ "python:3.11:slim", "invalid repository" },
	{ "python:", "invalid tag" },
	{ "python:-x", "invalid tag" },
	{ "python:.x", "invalid tag" },
	{ "python:a+b", "invalid tag" },
	{ "python:a b", "invalid tag" },
	{ "python@", "invalid digest" },
	{ "python@sha256:abc", "invalid digest" },
	{ "python@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "invalid digest" },
	{ "python@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	  "invalid digest" },
	{ "python@" D64 "0", "invalid digest" },
	{ "python@" D64 "@" D64, "invalid" },
	{ "gcr.io:x!y/p", "invalid registry host" },
	{ "my_host.io/p", "invalid registry host" },
	{ "@" D64, "invalid repository" },
};

static void test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ml_error err = { 0, "" };
		struct ml_ref ref;
		int rc;

		memset(&ref, 0x5a, sizeof(ref));
		rc = ml_ref_parse(&ref, bad[i].in, 1, &err);
		if (rc != -ML_ECONFIG)
			fail_msg("'%s' accepted (rc %d)", bad[i].in, rc);
		assert_int_equal(err.code, ML_ECONFIG);
		if (!strstr(err.msg, bad[i].words))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, err.msg, bad[i].words);
		/* the whole input is quoted, and nothing is left to free */
		assert_non_null(strstr(err.msg, bad[i].in));
		assert_null(ref.host);
		assert_null(ref.repository);
		assert_null(ref.tag);
		assert_null(ref.digest);
	}
}

static void test_tag_length(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_ref ref;
	char in[256];

	(void)state;
	snprintf(in, sizeof(in), "app:%0128d", 7);
	assert_int_equal(ml_ref_parse(&ref, in, 1, &err), 0);
	assert_int_equal(strlen(ref.tag), 128);
	ml_ref_dispose(&ref);
	snprintf(in, sizeof(in), "app:%0129d", 7);
	assert_int_equal(ml_ref_parse(&ref, in, 1, &err), -ML_ECONFIG);
	assert_non_null(strstr(err.msg, "invalid tag"));
}

static void test_repository_length(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_ref ref;
	char in[400];

	(void)state;
	snprintf(in, sizeof(in), "gcr.io/");
	memset(in + 7, 'a', 240);
	in[7 + 240] = '\0';
	assert_int_equal(ml_ref_parse(&ref, in, 1, &err), 0);
	assert_int_equal(strlen(ref.repository), 240);
	ml_ref_dispose(&ref);
	/* distribution/reference: at most 255 characters */
	memset(in + 7, 'a', 256);
	in[7 + 256] = '\0';
	assert_int_equal(ml_ref_parse(&ref, in, 1, &err), -ML_ECONFIG);
	assert_null(ref.repository);
}

/* Repository names (push targets) carry neither tag nor digest. */
static void test_allow_tag(void **state)
{
	static const char *const refused[] = {
		"gcr.io/p/i:t", "python:3", "localhost:5000/a@" D64, "python:3@" D64,
	};
	struct ml_error err = { 0, "" };
	struct ml_ref ref;
	size_t i;

	(void)state;
	assert_int_equal(ml_ref_parse(&ref, "gcr.io/p/i", 0, &err), 0);
	assert_string_equal(ref.repository, "p/i");
	ml_ref_dispose(&ref);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ml_error_clear(&err);
		assert_int_equal(ml_ref_parse(&ref, refused[i], 0, &err), -ML_ECONFIG);
		assert_non_null(strstr(err.msg, "must not carry a tag or digest"));
		assert_non_null(strstr(err.msg, refused[i]));
		assert_null(ref.host);
	}
	/* a port is not a tag */
	assert_int_equal(ml_ref_parse(&ref, "localhost:5000/team/app", 0, &err), 0);
	assert_string_equal(ref.host, "localhost:5000");
	assert_null(ref.tag);
	ml_ref_dispose(&ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_tag_length),
		cmocka_unit_test(test_repository_length),
		cmocka_unit_test(test_allow_tag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
