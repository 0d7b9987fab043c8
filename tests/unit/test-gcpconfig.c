/* Unit tests for providers/gcp/config.c: every key of deploy.gcp, its checks and
 * its JSON view. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/section.h"
#include "gcp/gcp.h"
#include "providers.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/json.h"

static int load(const char *gcp_yaml, struct ml_config **cfg, struct ml_error *err)
{
	char path[] = "/tmp/mldeploy-test-gcpconfig-XXXXXX";
	char *yaml = ml_asprintf("name: iris\nimage: {base: scratch}\ndeploy:\n  gcp:\n%s", gcp_yaml);
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	free(yaml);
	*cfg = NULL;
	ml_error_clear(err);
	rc = ml_config_load(cfg, path, NULL, err);
	unlink(path);
	return rc;
}

static const struct ml_gcp_conf *load_ok(const char *gcp_yaml, struct ml_config **cfg)
{
	struct ml_error err;

	if (load(gcp_yaml, cfg, &err) != 0)
		print_error("unexpected error: %s\n", err.msg);
	assert_non_null(*cfg);
	return ml_config_provider_conf(*cfg, "gcp");
}

/* The error names want (a fixed string) and sits at line:column of deploy.yaml. */
static void load_fails(const char *gcp_yaml, int line, int column, const char *want)
{
	struct ml_config *cfg;
	struct ml_error err;
	char at[32];

	assert_int_equal(load(gcp_yaml, &cfg, &err), -ML_ECONFIG);
	assert_null(cfg);
	snprintf(at, sizeof(at), ":%d:%d: ", line, column);
	if (!strstr(err.msg, at) || !strstr(err.msg, want))
		print_error("message '%s' lacks '%s' or '%s'\n", err.msg, at, want);
	assert_non_null(strstr(err.msg, at));
	assert_non_null(strstr(err.msg, want));
}

static void test_every_key(void **state)
{
	struct ml_config *cfg;
	const struct ml_gcp_conf *c;

	(void)state;
	c = load_ok("    project: p\n    region: europe-west1\n    allow_unauthenticated: true\n"
		    "    cpu: 500m\n    memory: 1Gi\n    min_instances: 1\n    max_instances: 4\n"
		    "    concurrency: 40\n    timeout: 5m\n"
		    "    service_account: app@p.iam.gserviceaccount.com\n"
		    "    env: { MODE: prod, WORKERS: 2 }\n"
		    "    secret_env: { API_KEY: api-key:latest, DB: projects/p/secrets/db:3 }\n"
		    "    create_repository: true\n    instances: 2\n    appengine_service: api\n", &cfg);
	assert_non_null(c);
	assert_string_equal(c->region, "europe-west1");
	assert_int_equal(c->concurrency, 40);
	assert_int_equal(c->timeout_s, 300);
	assert_string_equal(c->service_account, "app@p.iam.gserviceaccount.com");
	assert_int_equal(c->nenv, 2);
	assert_string_equal(c->env[0].key, "MODE");
	assert_string_equal(c->env[1].value, "2");
	assert_int_equal(c->nsecret_env, 2);
	assert_string_equal(c->secret_env[0].key, "API_KEY");
	assert_string_equal(c->secret_env[0].value, "api-key:latest");
	assert_string_equal(c->secret_env[1].value, "projects/p/secrets/db:3");
	assert_int_equal(c->create_repository, 1);
	assert_int_equal(c->instances, 2);
	assert_string_equal(c->appengine_service, "api");
	ml_config_free(cfg);
}

static void test_defaults(void **state)
{
	struct ml_config *cfg;
	const struct ml_gcp_conf *c;

	(void)state;
	c = load_ok("    region: us-east1\n", &cfg);
	assert_null(c->project);
	assert_string_equal(c->target, "cloudrun");
	assert_int_equal(c->concurrency, 0);
	assert_int_equal(c->timeout_s, 0);
	assert_null(c->service_account);
	assert_int_equal(c->nenv, 0);
	assert_int_equal(c->nsecret_env, 0);
	assert_int_equal(c->create_repository, 0);
	assert_int_equal(c->instances, 0);
	assert_string_equal(c->appengine_service, "default");
	ml_config_free(cfg);
}

static void test_timeouts(void **state)
{
	static const struct { const char *text; long s; } ok[] = {
		{ "300", 300 }, { "300s", 300 }, { "1m", 60 }, { "1h", 3600 }, { "3600s", 3600 },
	};
	static const char *const bad[] = { "0", "3601", "2h", "5x", "-5", "1.5m", "m" };
	struct ml_config *cfg;
	char yaml[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(yaml, sizeof(yaml), "    timeout: %s\n", ok[i].text);
		assert_int_equal(load_ok(yaml, &cfg)->timeout_s, ok[i].s);
		ml_config_free(cfg);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "    timeout: %s\n", bad[i]);
		load_fails(yaml, 5, 14, "deploy.gcp.timeout");
	}
}

static void test_secret_refs(void **state)
{
	static const char *const bad[] = {
		"", "a:b", "a:0", "a:", "has space", "projects/p/db", "projects//secrets/x",
		"x:1:2", "a/b",
	};
	struct ml_config *cfg;
	char yaml[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "    secret_env: { K: \"%s\" }\n", bad[i]);
		load_fails(yaml, 5, 17, "invalid secret reference");
	}
	load_ok("    secret_env: { K: key_1-x:12 }\n", &cfg);
	ml_config_free(cfg);
	load_fails("    secret_env: { 1K: x }\n", 5, 19, "invalid variable name '1K'");
	load_fails("    env: { K: v }\n    secret_env: { K: x }\n", 6, 17,
		   "'K' is set in both 'deploy.gcp.env' and 'deploy.gcp.secret_env'");
}

static void test_bad_values(void **state)
{
	(void)state;
	load_fails("    concurrency: 0\n", 5, 18, "concurrency");
	load_fails("    concurrency: 1001\n", 5, 18, "concurrency");
	load_fails("    service_account: someone\n", 5, 22, "invalid service account 'someone'");
	load_fails("    instances: -1\n", 5, 16, "instances");
	load_fails("    appengine_service: Api\n", 5, 24, "invalid App Engine service 'Api'");
	load_fails("    create_repository: maybe\n", 5, 24, "create_repository");
	load_fails("    secrets_env: {}\n", 5, 5, "did you mean 'secret_env'");
}

static void test_json(void **state)
{
	struct ml_config *cfg;
	const struct ml_gcp_conf *c;
	struct ml_buf out = ML_BUF_INIT;
	ml_json *j;

	(void)state;
	c = load_ok("    timeout: 90\n    env: { A: b }\n    secret_env: { S: s:latest }\n"
		    "    concurrency: 8\n", &cfg);
	j = ml_gcp_config_json(c);
	assert_int_equal(ml_json_dump(j, &out), 0);
	assert_non_null(strstr(ml_buf_str(&out), "\"timeout\":90"));
	assert_non_null(strstr(ml_buf_str(&out), "\"env\":{\"A\":\"b\"}"));
	assert_non_null(strstr(ml_buf_str(&out), "\"secret_env\":{\"S\":\"s:latest\"}"));
	assert_non_null(strstr(ml_buf_str(&out), "\"concurrency\":8"));
	assert_non_null(strstr(ml_buf_str(&out), "\"appengine_service\":\"default\""));
	assert_non_null(strstr(ml_buf_str(&out), "\"create_repository\":false"));
	ml_buf_dispose(&out);
	ml_json_free(j);
	ml_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_secret_refs),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_json),
	};

	ml_config_set_provider_hooks(&ml_providers_config_hooks);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
