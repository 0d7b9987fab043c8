/* Unit tests for lib/registry/auth.c: WWW-Authenticate challenges as registries send them
 * (RFC 7235 section 2.1, Docker token auth) and credentials from the environment. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/auth.h"

struct want {
	const char *header;
	const char *scheme, *realm, *service, *scope, *error;
};

static const struct want good[] = {
	/* Docker Hub */
	{ "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
	  "scope=\"repository:library/python:pull\"",
	  "bearer", "https://auth.docker.io/token", "registry.docker.io",
	  "repository:library/python:pull", NULL },
	/* GHCR, with an error code after a push was refused */
	{ "Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
	  "scope=\"repository:owner/app:pull,push\",error=\"insufficient_scope\"",
	  "bearer", "https://ghcr.io/token", "ghcr.io", "repository:owner/app:pull,push",
	  "insufficient_scope" },
	/* ECR */
	{ "Basic realm=\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/\","
	  "service=\"ecr.amazonaws.com\"",
	  "basic", "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/", "ecr.amazonaws.com",
	  NULL, NULL },
	/* Artifact Registry / GCR */
	{ "Bearer realm=\"https://us-docker.pkg.dev/v2/token\",service=\"us-docker.pkg.dev\"",
	  "bearer", "https://us-docker.pkg.dev/v2/token", "us-docker.pkg.dev", NULL, NULL },
	/* Quay and distribution/registry with a list of scopes */
	{ "Bearer realm=\"https://quay.io/v2/auth\",service=\"quay.io\","
	  "scope=\"repository:a/b:pull repository:c/d:pull,push\"",
	  "bearer", "https://quay.io/v2/auth", "quay.io",
	  "repository:a/b:pull repository:c/d:pull,push", NULL },
	/* scheme and parameter names are case-insensitive; spaces after commas */
	{ "BEARER Realm=\"https://r.example/t\", Service=\"r.example\", SCOPE=\"x\"",
	  "bearer", "https://r.example/t", "r.example", "x", NULL },
	/* tokens instead of quoted strings */
	{ "Bearer realm=https://r.example/token,service=r.example,scope=repository:a:pull",
	  "bearer", "https://r.example/token", "r.example", "repository:a:pull", NULL },
	/* quoted-pair: \" and \\ */
	{ "Bearer realm=\"https://r.example/t?a=\\\"b\\\"\",service=\"back\\\\slash\"",
	  "bearer", "https://r.example/t?a=\"b\"", "back\\slash", NULL, NULL },
	/* unknown parameters are skipped, the first of a repeated one wins */
	{ "Bearer foo=\"bar, baz\",realm=\"https://a/t\",realm=\"https://evil/t\",x=y",
	  "bearer", "https://a/t", NULL, NULL, NULL },
	/* a scheme alone */
	{ "Basic", "basic", NULL, NULL, NULL, NULL },
	{ "  Basic  ", "basic", NULL, NULL, NULL, NULL },
	/* two challenges: only the first one is used */
	{ "Basic realm=\"basic-realm\", Bearer realm=\"https://a/token\",service=\"s\"",
	  "basic", "basic-realm", NULL, NULL, NULL },
	{ "Bearer realm=\"https://a/token\",service=\"s\", Basic realm=\"r2\"",
	  "bearer", "https://a/token", "s", NULL, NULL },
	{ "Negotiate, Bearer realm=\"https://a/token\"", "negotiate", NULL, NULL, NULL, NULL },
};

static void expect_str(const char *header, const char *what, const char *got, const char *want)
{
	if (!want && got && *got)
		fail_msg("%s: %s is '%s', want none", header, what, got);
	if (want && (!got || strcmp(got, want) != 0))
		fail_msg("%s: %s is '%s', want '%s'", header, what, got ? got : "(null)", want);
}

static void check(const struct want *w)
{
	struct ml_error err = { 0, "" };
	struct ml_challenge c;

	if (ml_challenge_parse(&c, w->header, &err) != 0)
		fail_msg("'%s' refused: %s", w->header, err.msg);
	expect_str(w->header, "scheme", c.scheme, w->scheme);
	expect_str(w->header, "realm", c.realm, w->realm);
	expect_str(w->header, "service", c.service, w->service);
	expect_str(w->header, "scope", c.scope, w->scope);
	expect_str(w->header, "error", c.error, w->error);
	ml_challenge_dispose(&c);
	ml_challenge_dispose(&c);
}

static void test_real_world(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		check(&good[i]);
}

/* RFC 7235: auth-param = token BWS "=" BWS ( token / quoted-string ). */
static void test_whitespace_around_equals(void **state)
{
	static const struct want w = {
		"Bearer realm = \"https://r.example/t\" , service= \"r.example\"",
		"bearer", "https://r.example/t", "r.example", NULL, NULL,
	};

	(void)state;
	check(&w);
}

/* A parameter without a value does not stop the others from being read. */
static void test_missing_values(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_challenge c;

	(void)state;
	assert_int_equal(ml_challenge_parse(&c, "Bearer realm=,service=\"s\",scope=\"\"", &err), 0);
	assert_string_equal(c.scheme, "bearer");
	assert_true(!c.realm || !c.realm[0]);
	assert_string_equal(c.service, "s");
	assert_true(!c.scope || !c.scope[0]);
	ml_challenge_dispose(&c);

	assert_int_equal(ml_challenge_parse(&c, "Bearer realm=", &err), 0);
	assert_true(!c.realm || !c.realm[0]);
	ml_challenge_dispose(&c);
}

static void test_garbage(void **state)
{
	static const char *const headers[] = {
		"",
		"   ",
		",,,",
		"=",
		"=\"x\"",
		"\"Bearer\"",
		"Bearer realm=\"https://unterminated",
		"Bearer realm=\"ends in a backslash\\",
		"Bearer realm=\"a\",service=\"b",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		struct ml_error err = { 0, "" };
		struct ml_challenge c;
		int rc = ml_challenge_parse(&c, headers[i], &err);

		if (rc != -ML_EPROTO)
			fail_msg("'%s' accepted (rc %d, scheme '%s')", headers[i], rc,
				 c.scheme ? c.scheme : "");
		assert_int_equal(err.code, ML_EPROTO);
		assert_non_null(strstr(err.msg, "WWW-Authenticate"));
		assert_null(c.scheme);
		assert_null(c.realm);
	}
}

/* A quoted value longer than any real one is refused instead of kept. */
static void test_huge_value(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_challenge c;
	size_t n = 100000;
	char *h = malloc(n + 64);
	int rc;

	(void)state;
	assert_non_null(h);
	strcpy(h, "Bearer realm=\"");
	memset(h + 14, 'a', n);
	strcpy(h + 14 + n, "\",service=\"s\"");
	rc = ml_challenge_parse(&c, h, &err);
	if (rc == 0) {
		assert_true(strlen(c.realm) == n);
		ml_challenge_dispose(&c);
	} else {
		assert_int_equal(rc, -ML_EPROTO);
	}
	free(h);
}

/* Save and restore the variables so the order of tests does not matter. */
struct env_saved {
	char *user, *pass;
};

static int env_setup(void **state)
{
	struct env_saved *s = calloc(1, sizeof(*s));
	const char *u = getenv("MLDEPLOY_REGISTRY_USERNAME");
	const char *p = getenv("MLDEPLOY_REGISTRY_PASSWORD");

	if (!s)
		return -1;
	s->user = u ? strdup(u) : NULL;
	s->pass = p ? strdup(p) : NULL;
	*state = s;
	return 0;
}

static int env_teardown(void **state)
{
	struct env_saved *s = *state;

	if (s->user)
		setenv("MLDEPLOY_REGISTRY_USERNAME", s->user, 1);
	else
		unsetenv("MLDEPLOY_REGISTRY_USERNAME");
	if (s->pass)
		setenv("MLDEPLOY_REGISTRY_PASSWORD", s->pass, 1);
	else
		unsetenv("MLDEPLOY_REGISTRY_PASSWORD");
	free(s->user);
	free(s->pass);
	free(s);
	return 0;
}

static void set_env(const char *user, const char *pass)
{
	if (user)
		setenv("MLDEPLOY_REGISTRY_USERNAME", user, 1);
	else
		unsetenv("MLDEPLOY_REGISTRY_USERNAME");
	if (pass)
		setenv("MLDEPLOY_REGISTRY_PASSWORD", pass, 1);
	else
		unsetenv("MLDEPLOY_REGISTRY_PASSWORD");
}

static void expect_none(const char *user, const char *pass)
{
	struct ml_error err = { 0, "" };
	struct ml_credential cred;

	set_env(user, pass);
	memset(&cred, 0x5a, sizeof(cred));
	assert_int_equal(ml_auth_credential("ghcr.io", &cred, &err), 0);
	assert_null(cred.username);
	assert_null(cred.secret);
	assert_null(cred.source);
	ml_credential_dispose(&cred);
}

static void test_credential_env(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_credential cred;

	(void)state;
	expect_none(NULL, NULL);
	expect_none("alice", NULL);
	expect_none(NULL, "s3cret");
	expect_none("", "s3cret");

	set_env("alice", "s3cret-Pass");
	assert_int_equal(ml_auth_credential("ghcr.io", &cred, &err), 1);
	assert_string_equal(cred.username, "alice");
	assert_string_equal(cred.secret, "s3cret-Pass");
	assert_non_null(cred.source);
	assert_non_null(strstr(cred.source, "MLDEPLOY_REGISTRY_USERNAME"));
	/* the source is shown with -v: it must not hold the secret */
	assert_null(strstr(cred.source, "s3cret"));
	ml_credential_dispose(&cred);
	assert_null(cred.username);
	assert_null(cred.secret);
	assert_null(cred.source);
	ml_credential_dispose(&cred);

	/* the values are copies: changing the environment afterwards changes nothing */
	assert_int_equal(ml_auth_credential("127.0.0.1:5000", &cred, &err), 1);
	set_env("bob", "other");
	assert_string_equal(cred.username, "alice");
	assert_string_equal(cred.secret, "s3cret-Pass");
	ml_credential_dispose(&cred);

	/* ml_auth_credential has the ml_credential_fn shape */
	{
		ml_credential_fn fn = ml_auth_credential;

		assert_int_equal(fn("docker.io", &cred, &err), 1);
		assert_string_equal(cred.username, "bob");
		ml_credential_dispose(&cred);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_world),
		cmocka_unit_test(test_whitespace_around_equals),
		cmocka_unit_test(test_missing_values),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_huge_value),
		cmocka_unit_test_setup_teardown(test_credential_env, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
