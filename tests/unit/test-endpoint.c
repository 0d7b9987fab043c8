/* lib/deploy/endpoint.c: the environment beats deploy.yaml, which beats the
 * default; bad values are errors naming where they came from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "deploy/endpoint.h"

static const char yaml[] =
	"name: iris\n"
	"image:\n"
	"  base: scratch\n"
	"endpoints:\n"
	"  run: http://127.0.0.1:8081/run/\n"
	"  arm: https://arm.example.test\n";

static struct ml_config *cfg;
static char path[64];

static int setup(void **state)
{
	struct ml_error err = { 0, "" };
	FILE *f;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/mldeploy-test-endpoint-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		return -1;
	fputs(yaml, f);
	fclose(f);
	if (ml_config_load(&cfg, path, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ml_config_free(cfg);
	unlink(path);
	return 0;
}

static void clear_env(void)
{
	unsetenv("MLDEPLOY_ENDPOINT_RUN");
	unsetenv("MLDEPLOY_ENDPOINT_ARM");
	unsetenv("MLDEPLOY_ENDPOINT_STS");
}

static char *resolve(const struct ml_config *c, const char *service, const char *def)
{
	struct ml_error err = { 0, "" };
	char *out = NULL;

	if (ml_endpoint(&out, c, service, def, &err) < 0)
		fail_msg("ml_endpoint %s: %s", service, err.msg);
	return out;
}

static void expect_url(const struct ml_config *c, const char *service, const char *def,
		       const char *want)
{
	char *u = resolve(c, service, def);

	assert_string_equal(u, want);
	free(u);
}

static void test_order(void **state)
{
	(void)state;
	clear_env();
	/* deploy.yaml beats the default; the trailing '/' goes */
	expect_url(cfg, "RUN", "https://run.googleapis.com", "http://127.0.0.1:8081/run");
	/* the environment beats deploy.yaml */
	setenv("MLDEPLOY_ENDPOINT_RUN", "https://run.example.test:8443/", 1);
	expect_url(cfg, "RUN", "https://run.googleapis.com", "https://run.example.test:8443");
	/* an empty variable counts as unset */
	setenv("MLDEPLOY_ENDPOINT_RUN", "", 1);
	expect_url(cfg, "RUN", "https://run.googleapis.com", "http://127.0.0.1:8081/run");
	/* neither: the default */
	expect_url(cfg, "STS", "https://sts.googleapis.com/", "https://sts.googleapis.com");
	expect_url(NULL, "ARM", "https://management.azure.com", "https://management.azure.com");
	expect_url(cfg, "ARM", "https://management.azure.com", "https://arm.example.test");
	clear_env();
}

static void expect_error(const struct ml_config *c, const char *service, int code,
			 const char *needle)
{
	struct ml_error err = { 0, "" };
	char *out = (char *)"untouched";

	assert_int_equal(ml_endpoint(&out, c, service, "https://x.example", &err), -code);
	assert_int_equal(err.code, code);
	assert_string_equal(out, "untouched");
	if (!strstr(err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, err.msg);
}

static void test_bad_env(void **state)
{
	static const char *const bad[] = {
		"run.googleapis.com", "ftp://run.googleapis.com", "https://", "https:///path",
		"http://host name", "https://host/\x1b[31m", "file:///etc/passwd",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("MLDEPLOY_ENDPOINT_RUN", bad[i], 1);
		expect_error(cfg, "RUN", ML_EUSAGE, "MLDEPLOY_ENDPOINT_RUN: invalid url '");
	}
	/* the bad value is quoted, with control characters and credentials taken out */
	setenv("MLDEPLOY_ENDPOINT_RUN", "https://user:hunter2@host/\x1b[31m", 1);
	expect_error(cfg, "RUN", ML_EUSAGE, "MLDEPLOY_ENDPOINT_RUN");
	{
		struct ml_error err = { 0, "" };
		char *out = NULL;

		ml_endpoint(&out, cfg, "RUN", "https://x.example", &err);
		assert_null(strstr(err.msg, "hunter2"));
		assert_null(strchr(err.msg, '\x1b'));
	}
	clear_env();
}

static void test_bad_config(void **state)
{
	struct ml_kv kv = { .key = (char *)"run", .value = (char *)"run.googleapis.com",
			    .pos = { "deploy.yaml", 7, 8 } };
	struct ml_config c;

	(void)state;
	clear_env();
	memset(&c, 0, sizeof(c));
	c.endpoints = &kv;
	c.nendpoints = 1;
	expect_error(&c, "RUN", ML_ECONFIG, "deploy.yaml:7:8: invalid url 'run.googleapis.com' "
		     "for 'endpoints.run'");
	/* a good variable hides the bad entry */
	setenv("MLDEPLOY_ENDPOINT_RUN", "http://127.0.0.1:1", 1);
	free(resolve(&c, "RUN", "https://run.googleapis.com"));
	clear_env();
}

static void test_bad_service(void **state)
{
	(void)state;
	expect_error(cfg, "run", ML_EINTERNAL, "service name");
	expect_error(cfg, "", ML_EINTERNAL, "service name");
	expect_error(cfg, "RUN=", ML_EINTERNAL, "service name");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_bad_env),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_bad_service),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
