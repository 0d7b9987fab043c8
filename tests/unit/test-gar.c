/* providers/gcp/gar.c without a network: which registry hosts are Artifact
 * Registry's (LOCATION-docker.pkg.dev and the gcr.io family), and that the login
 * hook leaves every other host alone. The login, the repository and its creation
 * are in tests/e2e/t2102-push-artifact-registry.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gcp/gar.h"

static void test_is_host(void **state)
{
	(void)state;
	assert_true(ml_gar_is_host("us-east1-docker.pkg.dev"));
	assert_true(ml_gar_is_host("europe-west4-docker.pkg.dev"));
	assert_true(ml_gar_is_host("US-Docker.PKG.dev"));
	assert_true(ml_gar_is_host("gcr.io"));
	assert_true(ml_gar_is_host("eu.gcr.io"));
	assert_true(ml_gar_is_host("asia.gcr.io"));
	assert_false(ml_gar_is_host("-docker.pkg.dev"));
	assert_false(ml_gar_is_host("docker.pkg.dev"));
	assert_false(ml_gar_is_host("us-east1-docker.pkg.dev:443"));
	assert_false(ml_gar_is_host("a.b-docker.pkg.dev"));
	assert_false(ml_gar_is_host("us-east1-docker.pkg.dev.evil.example"));
	assert_false(ml_gar_is_host("mirror.gcr.io.example"));
	assert_false(ml_gar_is_host("k8s.gcr.io"));
	assert_false(ml_gar_is_host("myreg.azurecr.io"));
	assert_false(ml_gar_is_host(""));
	assert_false(ml_gar_is_host(NULL));
}

static void test_other_hosts_untouched(void **state)
{
	struct ml_credential c = { 0 };
	struct ml_error err = { 0, "" };

	(void)state;
	assert_int_equal(ml_gar_registry_auth("registry-1.docker.io", &c, &err), 0);
	assert_null(c.username);
	assert_null(c.secret);
	assert_int_equal(err.code, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_host),
		cmocka_unit_test(test_other_hosts_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
