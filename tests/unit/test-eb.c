/* Unit tests for providers/aws/eb.c and ebapi.c without a network: the solution
 * stack chosen, the version description read back, the Query form encoding and
 * the Dockerrun.aws.json rendered. (The whole flow runs in e2e t3303/t3304.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "aws/eb-internal.h"
#include "testutil.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/json.h"

#define AL2023(v) "64bit Amazon Linux 2023 " v " running Docker"

static void test_stack_newer(void **state)
{
	(void)state;
	assert_true(ml_eb_stack_newer(AL2023("v4.3.0"), NULL));
	assert_true(ml_eb_stack_newer(AL2023("v4.4.1"), AL2023("v4.3.0")));
	assert_true(ml_eb_stack_newer(AL2023("v4.10.0"), AL2023("v4.9.9")));
	assert_true(ml_eb_stack_newer(AL2023("v4.3.0.1"), AL2023("v4.3.0")));
	assert_false(ml_eb_stack_newer(AL2023("v4.3.0"), AL2023("v4.3.0")));
	assert_false(ml_eb_stack_newer(AL2023("v4.3.0"), AL2023("v4.3.0.1")));
	assert_false(ml_eb_stack_newer(AL2023("v3.9.9"), AL2023("v4.0.0")));
	assert_false(ml_eb_stack_newer("64bit Amazon Linux 2 v3.8.0 running Docker", NULL));
	assert_false(ml_eb_stack_newer("64bit Amazon Linux 2023 v4.1.0 running Python 3.11", NULL));
	assert_false(ml_eb_stack_newer("64bit Amazon Linux 2023 v4.1.0 running ECS", NULL));
	assert_false(ml_eb_stack_newer(" running Docker", NULL));
	assert_false(ml_eb_stack_newer("", NULL));
}

static void test_desc_field(void **state)
{
	char *v;

	(void)state;
	v = ml_eb_desc_field("mldeploy digest=sha256:ab previous=mldeploy-1-2", "digest");
	assert_string_equal(v, "sha256:ab");
	free(v);
	v = ml_eb_desc_field("mldeploy digest=sha256:ab previous=mldeploy-1-2", "previous");
	assert_string_equal(v, "mldeploy-1-2");
	free(v);
	assert_null(ml_eb_desc_field("mldeploy digest=sha256:ab", "previous"));
	assert_null(ml_eb_desc_field("mldeploy digests=x", "digest"));
	assert_null(ml_eb_desc_field("", "digest"));
	assert_null(ml_eb_desc_field(NULL, "digest"));
}

static void test_query_form(void **state)
{
	struct ml_eb_query q;
	struct ml_buf b;

	(void)state;
	ml_eb_query_init(&q, "CreateEnvironment");
	ml_eb_query_addf(&q, "Application Healthcheck URL", "OptionSettings.member.%d.OptionName", 1);
	ml_eb_query_add(&q, "OptionSettings.member.1.Value", "/health?x=1&y=ü");
	assert_string_equal(ml_buf_str(&q.form),
			    "Action=CreateEnvironment&Version=2010-12-01"
			    "&OptionSettings.member.1.OptionName=Application%20Healthcheck%20URL"
			    "&OptionSettings.member.1.Value=%2Fhealth%3Fx%3D1%26y%3D%C3%BC");
	ml_buf_init(&b, 0);
	ml_json_dump(q.shown, &b);
	assert_string_equal(ml_buf_str(&b),
			    "{\"Action\":\"CreateEnvironment\","
			    "\"OptionSettings.member.1.OptionName\":\"Application Healthcheck URL\","
			    "\"OptionSettings.member.1.Value\":\"/health?x=1&y=ü\","
			    "\"Version\":\"2010-12-01\"}");
	ml_buf_dispose(&b);
	ml_eb_query_dispose(&q);
}

static void test_render(void **state)
{
	struct ml_config cfg = { .path = "deploy.yaml" };
	struct ml_deploy_ctx ctx = { .cfg = &cfg, .service = "iris" };
	struct ml_aws a = { .ctx = &ctx };
	struct ml_deploy_request req = {
		.image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/iris@sha256:"
			 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		.digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		.port = 5000,
	};
	struct ml_error err = { 0 };
	struct ml_buf out, again;
	ml_json *d;

	(void)state;
	ml_buf_init(&out, 0);
	ml_buf_init(&again, 0);
	assert_int_equal(ml_eb_render(&a, &req, "Dockerrun.aws.json", &out, &err), 0);
	assert_int_equal(ml_eb_render(&a, &req, "Dockerrun.aws.json", &again, &err), 0);
	assert_string_equal(ml_buf_str(&out), ml_buf_str(&again));
	assert_int_equal(out.data[out.len - 1], '\n');
	d = ml_json_parse(out.data, out.len, &err);
	assert_non_null(d);
	assert_string_equal(ml_json_get_str(d, "AWSEBDockerrunVersion"), "1");
	assert_string_equal(ml_json_get_str(ml_json_get(d, "Image"), "Name"), req.image);
	assert_string_equal(ml_json_get_str(ml_json_get(d, "Image"), "Update"), "false");
	assert_int_equal(ml_json_size(ml_json_get(d, "Ports")), 1);
	assert_string_equal(ml_json_get_str(ml_json_at(ml_json_get(d, "Ports"), 0), "ContainerPort"),
			    "5000");
	assert_int_equal(ml_json_size(d), 3);
	ml_json_free(d);
	assert_int_equal(ml_eb_render(&a, &req, "app.yaml", &out, &err), -ML_ENOTFOUND);
	assert_has(err.msg, "renders Dockerrun.aws.json");
	req.image = NULL;
	assert_int_equal(ml_eb_render(&a, &req, "Dockerrun.aws.json", &out, &err), -ML_ECONFIG);
	assert_has(err.msg, "image.repository");
	ml_buf_dispose(&out);
	ml_buf_dispose(&again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stack_newer),
		cmocka_unit_test(test_desc_field),
		cmocka_unit_test(test_query_form),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
