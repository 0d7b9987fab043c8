/* MLDEPLOY_CONNECT_TO and MLDEPLOY_CA_BUNDLE in lib/wrap/http.c: a TLS fake with a
 * test CA answers for run.googleapis.com on 127.0.0.1, reached by its real name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "wrap/http.h"

static struct ut_fake fake;
static char dir[64];

static char *in_dir(const char *name)
{
	return ml_asprintf("%s/%s", dir, name);
}

static int sh(const char *cmd)
{
	char *full = ml_asprintf("cd '%s' && { %s; } >>openssl.log 2>&1", dir, cmd);
	int rc = system(full);

	free(full);
	return rc == 0 ? 0 : -1;
}

/* ca1 signs the server's certificate (SAN DNS:run.googleapis.com); ca2 signs nothing. */
static int make_certs(void)
{
	FILE *f;
	char *ext = in_dir("ext.cnf");

	f = fopen(ext, "w");
	free(ext);
	if (!f)
		return -1;
	fputs("subjectAltName=DNS:run.googleapis.com\nextendedKeyUsage=serverAuth\n"
	      "basicConstraints=CA:FALSE\n", f);
	fclose(f);
	return (sh("for ca in ca1 ca2; do openssl req -x509 -new -nodes -newkey ec "
		  "-pkeyopt ec_paramgen_curve:P-256 -keyout $ca.key -out $ca.pem -days 2 "
		  "-subj \"/CN=mldeploy test $ca\" -addext basicConstraints=critical,CA:TRUE "
		  "-addext keyUsage=critical,keyCertSign,cRLSign || exit 1; done") ||
	       sh("openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		  "-keyout server.key -out server.csr -subj /CN=run.googleapis.com && "
		  "openssl x509 -req -in server.csr -CA ca1.pem -CAkey ca1.key -CAcreateserial "
		  "-days 2 -extfile ext.cnf -out server.pem") ||
	       sh("echo 'not a certificate' >junk.pem")) ? -1 : 0;
}

static int fake_start(void **state)
{
	char *cert, *key;
	int rc;

	(void)state;
	unsetenv("SSL_CERT_DIR");
	unsetenv("MLDEPLOY_CONNECT_TO");
	unsetenv("MLDEPLOY_CA_BUNDLE");
	unsetenv("SSL_CERT_FILE");
	snprintf(dir, sizeof(dir), "/tmp/mldeploy-test-connect-XXXXXX");
	if (!mkdtemp(dir) || make_certs() < 0)
		return -1;
	cert = in_dir("server.pem");
	key = in_dir("server.key");
	rc = ut_fake_run(&fake, "restfake.py", "--tls-cert", cert, "--tls-key", key, NULL);
	free(cert);
	free(key);
	return rc == 0 && ml_http_global_init(NULL) == 0 ? 0 : -1;
}

static int fake_stop(void **state)
{
	(void)state;
	ml_http_global_cleanup();
	ut_fake_kill(&fake);
	if (ut_rm_rf(dir) < 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return 0;
}

/* Sets (or with NULL unsets) the three variables the client reads. */
static void env(const char *connect_to, const char *bundle, const char *cert_file)
{
	char *b = bundle ? in_dir(bundle) : NULL, *c = cert_file ? in_dir(cert_file) : NULL;

	if (connect_to)
		setenv("MLDEPLOY_CONNECT_TO", connect_to, 1);
	else
		unsetenv("MLDEPLOY_CONNECT_TO");
	if (b)
		setenv("MLDEPLOY_CA_BUNDLE", bundle[0] == '/' ? bundle : b, 1);
	else
		unsetenv("MLDEPLOY_CA_BUNDLE");
	if (c)
		setenv("SSL_CERT_FILE", c, 1);
	else
		unsetenv("SSL_CERT_FILE");
	free(b);
	free(c);
}

static char *mapping(const char *host)
{
	return ml_asprintf("%s:443:127.0.0.1:%d", host, fake.port);
}

/* GET url with a client made now (it reads the environment); rc, status in *status. */
static int get(const char *url, long *status, struct ml_error *err)
{
	struct ml_http_request req = { .url = url, .timeout_s = 20 };
	struct ml_http_response resp;
	struct ml_http *h;
	int rc;

	ml_error_clear(err);
	*status = 0;
	rc = ml_http_new(&h, err);
	if (rc < 0)
		return rc;
	rc = ml_http_do(h, &req, &resp, err);
	*status = resp.status;
	ml_http_response_dispose(&resp);
	ml_http_free(h);
	return rc;
}

static void test_reached_by_name(void **state)
{
	char *m = mapping("run.googleapis.com");
	struct ml_error err = { 0, "" };
	long status;

	(void)state;
	/* the test CA added to a base store that does not know it */
	env(m, "ca1.pem", "ca2.pem");
	assert_int_equal(get("https://run.googleapis.com/echo", &status, &err), 0);
	assert_int_equal(status, 200);
	/* several entries, spaces around commas */
	free(m);
	m = ml_asprintf("example.test:80:127.0.0.1:1 , run.googleapis.com:443:127.0.0.1:%d,"
			"[::1]:443:[::1]:8443", fake.port);
	env(m, "ca1.pem", NULL);
	assert_int_equal(get("https://run.googleapis.com/echo", &status, &err), 0);
	assert_int_equal(status, 200);
	free(m);
}

static void test_base_store_kept(void **state)
{
	char *m = mapping("run.googleapis.com");
	struct ml_error err = { 0, "" };
	long status;

	(void)state;
	/* the bundle adds to SSL_CERT_FILE: the server's CA there still counts */
	env(m, "ca2.pem", "ca1.pem");
	assert_int_equal(get("https://run.googleapis.com/echo", &status, &err), 0);
	assert_int_equal(status, 200);
	free(m);
}

static void test_verification_stays_on(void **state)
{
	char *m = mapping("run.googleapis.com");
	struct ml_error err = { 0, "" };
	long status;

	(void)state;
	/* without the test CA: not trusted */
	env(m, NULL, "ca2.pem");
	assert_int_equal(get("https://run.googleapis.com/echo", &status, &err), -ML_ENET);
	assert_non_null(strstr(err.msg, "TLS certificate not trusted"));
	env(m, "ca2.pem", "ca2.pem");
	assert_int_equal(get("https://run.googleapis.com/echo", &status, &err), -ML_ENET);
	assert_non_null(strstr(err.msg, "TLS"));
	free(m);
	/* a name the certificate does not hold fails, although mapped to the fake */
	m = mapping("other.googleapis.com");
	env(m, "ca1.pem", NULL);
	assert_int_equal(get("https://other.googleapis.com/echo", &status, &err), -ML_ENET);
	assert_non_null(strstr(err.msg, "TLS"));
	free(m);
}

static void test_other_names_not_mapped(void **state)
{
	char *m = mapping("run.googleapis.com"), *url;
	struct ml_error err = { 0, "" };
	long status;

	(void)state;
	env(m, "ca1.pem", NULL);
	/* another host, or another port of the same host, goes where DNS says */
	assert_int_equal(get("https://run.googleapis.invalid/echo", &status, &err), -ML_ENET);
	assert_non_null(strstr(err.msg, "run.googleapis.invalid"));
	url = ml_asprintf("https://run.googleapis.com:%d/echo", fake.port == 1 ? 2 : 1);
	assert_int_equal(get(url, &status, &err), -ML_ENET);
	free(url);
	/* and plain 127.0.0.1 is not the name the certificate holds */
	url = ml_asprintf("https://127.0.0.1:%d/echo", fake.port);
	assert_int_equal(get(url, &status, &err), -ML_ENET);
	free(url);
	free(m);
}

static void expect_usage(const char *connect_to, const char *bundle, const char *needle)
{
	struct ml_error err = { 0, "" };
	struct ml_http *h = NULL;

	env(connect_to, bundle, NULL);
	assert_int_equal(ml_http_new(&h, &err), -ML_EUSAGE);
	assert_null(h);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, err.msg);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"run.googleapis.com:443:127.0.0.1", "run.googleapis.com:443", "a:b:c:d",
		"run.googleapis.com:443:127.0.0.1:99999", "run.googleapis.com:443::",
		"run.googleapis.com:443:127.0.0.1:8443:9", "host name:443:127.0.0.1:1",
		"[::1:443:127.0.0.1:1", "ok.test:443:127.0.0.1:1,bad",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_usage(bad[i], NULL, "MLDEPLOY_CONNECT_TO: invalid entry '");
	expect_usage("x.test:443:127.0.0.1:1,\x1b[31m", NULL, "invalid entry '?[31m'");
	expect_usage(NULL, "missing.pem", "MLDEPLOY_CA_BUNDLE: cannot open '");
	expect_usage(NULL, "junk.pem", "holds no PEM certificate");
	expect_usage(NULL, "/", "MLDEPLOY_CA_BUNDLE: ");
	/* empty values are unset ones */
	env("", NULL, NULL);
	setenv("MLDEPLOY_CA_BUNDLE", "", 1);
	{
		struct ml_error err = { 0, "" };
		struct ml_http *h = NULL;

		assert_int_equal(ml_http_new(&h, &err), 0);
		ml_http_free(h);
	}
	env(NULL, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reached_by_name),
		cmocka_unit_test(test_base_store_kept),
		cmocka_unit_test(test_verification_stays_on),
		cmocka_unit_test(test_other_names_not_mapped),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
