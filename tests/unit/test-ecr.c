/* providers/aws/ecr.c: which hosts are ECR registries (the registry login and the
 * repository step apply to those only); t2103 and t3302 cover the calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "aws/ecr.h"

static void expect_ecr(const char *host, const char *account, const char *region)
{
	char a[32] = "x", r[32] = "x";

	if (ml_ecr_parse_host(host, a, r, sizeof(r)) != 1)
		fail_msg("'%s' is an ECR host", host);
	assert_string_equal(a, account);
	assert_string_equal(r, region);
}

static void test_parse_host(void **state)
{
	static const char *const not_ecr[] = {
		"123456789012.dkr.ecr.us-east-1.amazonaws.com:443",	/* a port */
		"12345678901.dkr.ecr.us-east-1.amazonaws.com",	/* 11 digits */
		"1234567890123.dkr.ecr.us-east-1.amazonaws.com",
		"123456789012.dkr.ecr..amazonaws.com",
		"123456789012.dkr.ecr.-x.amazonaws.com",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
		"123456789012.dkr.ecr.us-east-1.amazonaws.co",
		"123456789012.dkr.ecr.us_east_1.amazonaws.com",
		"123456789012.ecr.us-east-1.amazonaws.com",
		"public.ecr.aws",
		"myreg.azurecr.io",
		"us-docker.pkg.dev",
		"",
	};
	char r[8];
	size_t i;

	(void)state;
	expect_ecr("123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012", "us-east-1");
	expect_ecr("123456789012.DKR.ECR.EU-West-3.AmazonAWS.com", "123456789012", "eu-west-3");
	expect_ecr("000000000001.dkr.ecr.cn-north-1.amazonaws.com.cn", "000000000001",
		   "cn-north-1");
	assert_int_equal(ml_ecr_parse_host("123456789012.dkr.ecr.us-east-1.amazonaws.com", NULL,
					   NULL, 64), 1);
	for (i = 0; i < sizeof(not_ecr) / sizeof(not_ecr[0]); i++)
		if (ml_ecr_parse_host(not_ecr[i], NULL, NULL, 64))
			fail_msg("'%s' is not an ECR host", not_ecr[i]);
	/* parts that do not fit are no match, never cut */
	assert_int_equal(ml_ecr_parse_host("123456789012.dkr.ecr.us-east-1.amazonaws.com", NULL, r,
					   sizeof(r)), 0);
}

/* Other hosts are not this hook's: no credential lookup, nothing filled. */
static void test_registry_auth_other_hosts(void **state)
{
	struct ml_credential c = { 0 };
	struct ml_error err = { 0, "" };

	(void)state;
	assert_int_equal(ml_ecr_registry_auth("myreg.azurecr.io", &c, &err), 0);
	assert_int_equal(ml_ecr_registry_auth("127.0.0.1:5000", &c, &err), 0);
	assert_null(c.username);
	assert_null(c.secret);
	assert_int_equal(err.code, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_host),
		cmocka_unit_test(test_registry_auth_other_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
