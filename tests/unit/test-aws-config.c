/* Unit tests for providers/aws/config.c: deploy.aws read through the section
 * getters, its defaults and its JSON for `validate --json`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/aws.h"
#include "config/config.h"
#include "config/section.h"
#include "providers.h"
#include "testutil.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/json.h"

static int load(const char *yaml, struct ml_config **cfg, struct ml_error *err)
{
	char tmpl[] = "/tmp/mldeploy-test-aws-config-XXXXXX";
	int fd = mkstemp(tmpl), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	*cfg = NULL;
	ml_error_clear(err);
	rc = ml_config_load(cfg, tmpl, NULL, err);
	unlink(tmpl);
	return rc;
}

static const struct ml_aws_conf *aws_of(const struct ml_config *cfg)
{
	return ml_config_provider_conf(cfg, "aws");
}

static void test_every_key(void **state)
{
	struct ml_config *cfg;
	struct ml_error err;
	const struct ml_aws_conf *c;
	struct ml_buf b;
	ml_json *j;

	(void)state;
	assert_int_equal(load("name: iris\nimage: {base: scratch}\ndeploy:\n  aws:\n"
			      "    region: eu-west-1\n    application: ml\n    environment: ml-prod\n"
			      "    instance_type: t3.small\n    instance_profile: my-profile\n"
			      "    load_balanced: true\n    create_repository: false\n"
			      "    scan_on_push: true\n    immutable_tags: true\n"
			      "    env: { MODEL: iris, WORKERS: 2 }\n", &cfg, &err), 0);
	c = aws_of(cfg);
	assert_non_null(c);
	assert_string_equal(c->region, "eu-west-1");
	assert_string_equal(c->application, "ml");
	assert_string_equal(c->environment, "ml-prod");
	assert_string_equal(c->instance_type, "t3.small");
	assert_string_equal(c->instance_profile, "my-profile");
	assert_int_equal(c->load_balanced, 1);
	assert_int_equal(c->create_repository, 0);
	assert_int_equal(c->scan_on_push, 1);
	assert_int_equal(c->immutable_tags, 1);
	assert_int_equal(c->nenv, 2);
	assert_string_equal(c->env[0].key, "MODEL");
	assert_string_equal(c->env[0].value, "iris");
	assert_string_equal(c->env[1].value, "2");
	j = ml_aws_config_json(c);
	ml_buf_init(&b, 0);
	ml_json_dump(j, &b);
	assert_string_equal(ml_buf_str(&b),
			    "{\"application\":\"ml\",\"create_repository\":false,"
			    "\"env\":{\"MODEL\":\"iris\",\"WORKERS\":\"2\"},\"environment\":\"ml-prod\","
			    "\"immutable_tags\":true,\"instance_profile\":\"my-profile\","
			    "\"instance_type\":\"t3.small\",\"load_balanced\":true,"
			    "\"region\":\"eu-west-1\",\"scan_on_push\":true}");
	ml_buf_dispose(&b);
	ml_json_free(j);
	ml_config_free(cfg);
}

static void test_defaults(void **state)
{
	struct ml_config *cfg;
	struct ml_error err;
	const struct ml_aws_conf *c;
	struct ml_buf b;
	ml_json *j;

	(void)state;
	assert_int_equal(load("name: iris\nimage: {base: scratch}\ndeploy:\n  aws: {region: us-east-1}\n",
			      &cfg, &err), 0);
	c = aws_of(cfg);
	assert_null(c->application);
	assert_null(c->environment);
	assert_null(c->instance_type);
	assert_string_equal(c->instance_profile, "aws-elasticbeanstalk-ec2-role");
	assert_int_equal(c->load_balanced, 0);
	assert_int_equal(c->create_repository, 1);
	assert_int_equal(c->scan_on_push, 0);
	assert_int_equal(c->immutable_tags, 0);
	assert_int_equal(c->nenv, 0);
	j = ml_aws_config_json(c);
	ml_buf_init(&b, 0);
	ml_json_dump(j, &b);
	assert_string_equal(ml_buf_str(&b),
			    "{\"create_repository\":true,\"env\":{},\"immutable_tags\":false,"
			    "\"instance_profile\":\"aws-elasticbeanstalk-ec2-role\","
			    "\"load_balanced\":false,\"region\":\"us-east-1\",\"scan_on_push\":false}");
	ml_buf_dispose(&b);
	ml_json_free(j);
	ml_config_free(cfg);
}

static void expect_error(const char *section, const char *want1, const char *want2)
{
	char *yaml = ml_asprintf("name: iris\nimage: {base: scratch}\ndeploy:\n  aws: %s\n", section);
	struct ml_config *cfg;
	struct ml_error err;

	assert_int_equal(load(yaml, &cfg, &err), -ML_ECONFIG);
	assert_null(cfg);
	assert_has(err.msg, want1);
	if (want2)
		assert_has(err.msg, want2);
	free(yaml);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("{regoin: us-east-1}", "unknown key 'regoin' in 'deploy.aws'", "did you mean 'region'");
	expect_error("{instance_profil: x}", "unknown key 'instance_profil'", "instance_profile");
	expect_error("{load_balanced: maybe}", "deploy.aws.load_balanced", NULL);
	expect_error("{create_repository: 2}", "deploy.aws.create_repository", NULL);
	expect_error("{env: {\"1BAD\": x}}", "1BAD", NULL);
	expect_error("{env: [a]}", "deploy.aws.env", NULL);
	expect_error("{region: [a, b]}", "deploy.aws.region", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
	};

	ml_config_set_provider_hooks(&ml_providers_config_hooks);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
