/* providers/gcp/gauth.c and gcred.c without a token server: which credential the
 * environment and the files name (CLOUDSDK_AUTH_ACCESS_TOKEN, GOOGLE_APPLICATION_
 * CREDENTIALS, the ADC file under CLOUDSDK_CONFIG), the project they carry, every
 * malformed file as one -ML_EAUTH naming the file and the field and never its
 * content, and no credential at all as one message listing the chain (the metadata
 * server pointed at a closed port). The token grants are in
 * tests/e2e/t3201-gcp-credentials.sh against tests/fakes/googleauth.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "gcp/gauth.h"
#include "gcp/gcred.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "wrap/http.h"

#define KEY_BODY "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDSECRETbits"
#define REFRESH "1//0refresh-s3cret-value"
#define CLIENT_SECRET "client-s3cret-value"

static struct ut_tmpdir tmp;
static struct ml_buf logged = ML_BUF_INIT;

static const char *const vars[] = {
	"CLOUDSDK_AUTH_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG",
	"GCE_METADATA_HOST", "MLDEPLOY_ENDPOINT_OAUTH2", "MLDEPLOY_ENDPOINT_STS",
	"MLDEPLOY_ENDPOINT_IAMCREDENTIALS",
};

static void clear_env(void)
{
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static char *in_dir(const char *name)
{
	return ml_path_join(tmp.root, name);
}

/* Writes text to name in the test's directory; returns its path. */
static char *write_in(const char *name, const char *text)
{
	char *path = in_dir(name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static char *closed_metadata(void)
{
	return ml_asprintf("127.0.0.1:%d", ut_closed_port());
}

static int setup(void **state)
{
	(void)state;
	if (ut_tmpdir_make(&tmp, "mldeploy-test-gauth") < 0)
		return -1;
	clear_env();
	setenv("HOME", tmp.root, 1);
	setenv("MLDEPLOY_RETRY_BASE_MS", "10", 1);
	ml_log_set_handler(ut_log_capture, &logged, ML_LOG_TRACE);
	return ml_http_global_init(NULL);
}

static int teardown(void **state)
{
	(void)state;
	ml_http_global_cleanup();
	ut_tmpdir_remove(&tmp);
	ml_buf_dispose(&logged);
	clear_env();
	return 0;
}

static int reset(void **state)
{
	char *meta = closed_metadata();

	(void)state;
	clear_env();
	setenv("GCE_METADATA_HOST", meta, 1);
	free(meta);
	logged.len = 0;
	if (logged.data)
		logged.data[0] = '\0';
	return 0;
}

/* ml_gauth_new's error for the credential file text (set as
 * GOOGLE_APPLICATION_CREDENTIALS), or "" when it was accepted. */
static char *new_error(const char *text, int *code)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g = NULL;
	char *path = write_in("cred.json", text);
	int rc;

	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	rc = ml_gauth_new(&g, NULL, &err);
	*code = rc;
	ml_gauth_free(g);
	free(path);
	return ml_strdup(rc < 0 ? err.msg : "");
}

static char *sa_key(const char *omit, const char *pem)
{
	struct ml_buf b = ML_BUF_INIT;

	ml_buf_adds(&b, "{\"type\": \"service_account\", \"project_id\": \"proj-1\"");
	if (strcmp(omit, "client_email"))
		ml_buf_adds(&b, ", \"client_email\": \"sa@proj-1.iam.gserviceaccount.com\"");
	if (strcmp(omit, "private_key"))
		ml_buf_printf(&b, ", \"private_key\": \"%s\"", pem);
	ml_buf_adds(&b, ", \"private_key_id\": \"abc123\", "
		    "\"token_uri\": \"https://oauth2.googleapis.com/token\"}");
	return ml_buf_detach(&b);
}

#define PEM "-----BEGIN PRIVATE KEY-----\\n" KEY_BODY "\\n-----END PRIVATE KEY-----\\n"

/* ---- which credential ---- */

static void test_env_token(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g;
	char *token = NULL, *path = write_in("cred.json", "not even json");

	(void)state;
	setenv("CLOUDSDK_AUTH_ACCESS_TOKEN", "ya29.env-token", 1);
	/* the token wins over a (here broken) credential file, which is not read */
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_string_equal(ml_gauth_source(g), "CLOUDSDK_AUTH_ACCESS_TOKEN");
	assert_true(ml_gauth_configured(g));
	assert_true(ml_gauth_available(g));
	assert_null(ml_gauth_project(g));
	assert_int_equal(ml_gauth_token(g, &token, &err), 0);
	assert_string_equal(token, "ya29.env-token");
	ml_free_secret(token);
	assert_int_equal(ml_gauth_token(g, &token, &err), 0);
	ml_free_secret(token);
	assert_has(ml_buf_str(&logged), "gcp: access token from CLOUDSDK_AUTH_ACCESS_TOKEN");
	assert_lacks(ml_buf_str(&logged), "ya29.env-token");
	/* a 401 with it: no other token to get, so no second try; no project to look up */
	assert_int_equal(ml_gauth_unauthorized(g, NULL), 0);
	assert_null(ml_gauth_lookup_project(g));
	ml_gauth_free(g);
	free(path);
}

static void test_service_account(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g;
	char *key = sa_key("", PEM), *path = write_in("key.json", key);
	char *want = ml_asprintf("service account key %s (sa@proj-1.iam.gserviceaccount.com, "
				 "from GOOGLE_APPLICATION_CREDENTIALS)", path);

	(void)state;
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_string_equal(ml_gauth_source(g), want);
	assert_string_equal(ml_gauth_project(g), "proj-1");
	/* the key's project; the metadata server is not asked */
	assert_string_equal(ml_gauth_lookup_project(g), "proj-1");
	assert_true(ml_gauth_configured(g));
	/* a 401: the kept token is dropped, the request goes again */
	ml_buf_reset(&logged);
	assert_int_equal(ml_gauth_unauthorized(g, NULL), 1);
	assert_has(ml_buf_str(&logged), "was refused (HTTP 401): getting a new one");
	ml_gauth_free(g);
	free(key);
	free(path);
	free(want);
}

static void test_adc_file(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g;
	char *dir = in_dir("gcloud"), *path, *want;

	(void)state;
	assert_int_equal(ml_mkdirs(dir, &err), 0);
	path = write_in("gcloud/application_default_credentials.json",
			"{\"type\": \"authorized_user\", \"client_id\": \"123.apps.googleusercontent"
			".com\", \"client_secret\": \"" CLIENT_SECRET "\", \"refresh_token\": \""
			REFRESH "\", \"quota_project_id\": \"quota-proj\"}");
	setenv("CLOUDSDK_CONFIG", dir, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	want = ml_asprintf("authorized_user credentials %s (from the ADC file)", path);
	assert_string_equal(ml_gauth_source(g), want);
	assert_string_equal(ml_gauth_project(g), "quota-proj");
	ml_gauth_free(g);
	free(want);
	/* without CLOUDSDK_CONFIG: ~/.config/gcloud, which is not there */
	unsetenv("CLOUDSDK_CONFIG");
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_null(ml_gauth_source(g));
	assert_false(ml_gauth_configured(g));
	ml_gauth_free(g);
	free(dir);
	free(path);
}

static void test_external_and_impersonated(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g;
	char *path, *email;

	(void)state;
	path = write_in("wif.json",
			"{\"type\": \"external_account\", \"audience\": \"//iam.googleapis.com/"
			"projects/42/locations/global/workloadIdentityPools/ci/providers/gh\", "
			"\"subject_token_type\": \"urn:ietf:params:oauth:token-type:jwt\", "
			"\"token_url\": \"https://sts.googleapis.com/v1/token\", "
			"\"service_account_impersonation_url\": \"https://iamcredentials.googleapis"
			".com/v1/projects/-/serviceAccounts/ci@proj-1.iam.gserviceaccount.com:"
			"generateAccessToken\", \"credential_source\": {\"file\": \"/run/token\", "
			"\"format\": {\"type\": \"json\", \"subject_token_field_name\": \"value\"}}}");
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_has(ml_gauth_source(g), "workload identity federation");
	assert_has(ml_gauth_source(g), "subject token file /run/token");
	assert_has(ml_gauth_source(g), ", as ci@proj-1.iam.gserviceaccount.com, from ");
	assert_null(ml_gauth_project(g));
	ml_gauth_free(g);
	free(path);

	path = write_in("imp.json",
			"{\"type\": \"impersonated_service_account\", \"service_account_"
			"impersonation_url\": \"https://iamcredentials.googleapis.com/v1/projects/-/"
			"serviceAccounts/deployer@proj-1.iam.gserviceaccount.com:generateAccessToken"
			"\", \"delegates\": [], \"source_credentials\": {\"type\": \"authorized_user\","
			" \"client_id\": \"c\", \"client_secret\": \"" CLIENT_SECRET "\", "
			"\"refresh_token\": \"" REFRESH "\"}}");
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_has(ml_gauth_source(g), "impersonated service account "
		   "deployer@proj-1.iam.gserviceaccount.com (source: authorized_user");
	ml_gauth_free(g);
	free(path);

	/* a subject token URL with a credential in its query is shown redacted */
	path = write_in("wif-url.json",
			"{\"type\": \"external_account\", \"audience\": \"a\", "
			"\"subject_token_type\": \"urn:ietf:params:oauth:token-type:jwt\", "
			"\"credential_source\": {\"url\": \"https://ci.example/oidc?"
			"access_token=" REFRESH "\", \"headers\": {\"X-Key\": \"v\"}}}");
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_has(ml_gauth_source(g), "subject token URL https://ci.example/oidc?");
	assert_lacks(ml_gauth_source(g), REFRESH);
	ml_gauth_free(g);
	free(path);

	email = ml_gcred_impersonated_email("https://x/v1/projects/-/serviceAccounts/"
					    "a@b.iam.gserviceaccount.com:generateAccessToken");
	assert_string_equal(email, "a@b.iam.gserviceaccount.com");
	free(email);
	assert_null(ml_gcred_impersonated_email("https://x/v1/token"));
}

/* ---- malformed files ---- */

static void expect_refused(const char *text, const char *fragment)
{
	int rc;
	char *msg = new_error(text, &rc);

	assert_int_equal(rc, -ML_EAUTH);
	assert_has(msg, fragment);
	assert_has(msg, tmp.root);	/* the file is named */
	assert_lacks(msg, KEY_BODY);
	assert_lacks(msg, REFRESH);
	assert_lacks(msg, CLIENT_SECRET);
	free(msg);
}

static void test_malformed(void **state)
{
	char *k;

	(void)state;
	expect_refused("{\"type\": \"service_account\", \"private_key\": \"" KEY_BODY,
		       "is not JSON");
	expect_refused("[1, 2]", "is not a JSON object");
	expect_refused("{\"private_key\": \"" PEM "\"}", "has no 'type'");
	expect_refused("{\"type\": \"gdch_service_account\"}", "type 'gdch_service_account' is "
		       "not supported");
	k = sa_key("private_key", PEM);
	expect_refused(k, "field 'private_key' is missing");
	free(k);
	k = sa_key("client_email", PEM);
	expect_refused(k, "field 'client_email' is missing");
	free(k);
	k = sa_key("", KEY_BODY);
	expect_refused(k, "field 'private_key' is not a PEM private key");
	free(k);
	expect_refused("{\"type\": \"service_account\", \"client_email\": 7, \"private_key\": \""
		       PEM "\"}", "field 'client_email' is not a string");
	expect_refused("{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": "
		       "\"" CLIENT_SECRET "\"}", "field 'refresh_token' is missing");
	expect_refused("{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": "
		       "\"" CLIENT_SECRET "\", \"refresh_token\": \"" REFRESH "\", \"token_uri\": "
		       "\"oauth2.googleapis.com/token\"}", "is not an http(s) URL");
	expect_refused("{\"type\": \"external_account\", \"audience\": \"a\", "
		       "\"subject_token_type\": \"t\"}", "field 'credential_source' is missing");
	expect_refused("{\"type\": \"external_account\", \"audience\": \"a\", "
		       "\"subject_token_type\": \"t\", \"credential_source\": {\"environment_id\":"
		       " \"aws1\"}}", "'environment_id' (AWS)");
	expect_refused("{\"type\": \"external_account\", \"audience\": \"a\", "
		       "\"subject_token_type\": \"t\", \"credential_source\": {\"file\": \"/f\", "
		       "\"url\": \"http://x/\"}}", "needs one of 'file' and 'url'");
	expect_refused("{\"type\": \"external_account\", \"audience\": \"a\", "
		       "\"subject_token_type\": \"t\", \"credential_source\": {\"file\": \"/f\", "
		       "\"format\": {\"type\": \"json\"}}}",
		       "'credential_source.format.subject_token_field_name' is missing");
	expect_refused("{\"type\": \"external_account\", \"subject_token_type\": \"t\", "
		       "\"credential_source\": {\"file\": \"/f\"}}", "field 'audience' is missing");
	expect_refused("{\"type\": \"external_account\", \"audience\": \"a\", "
		       "\"subject_token_type\": \"t\", \"credential_source\": {\"file\": \"/f\"}, "
		       "\"service_account_impersonation\": {\"token_lifetime_seconds\": 5}}",
		       "token_lifetime_seconds' must be");
	expect_refused("{\"type\": \"impersonated_service_account\", \"service_account_"
		       "impersonation_url\": \"https://i/v1/x\"}", "'source_credentials' is missing");
}

static void test_missing_file(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g = NULL;
	char *path = in_dir("nowhere.json");

	(void)state;
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), -ML_EAUTH);
	assert_has(err.msg, "GOOGLE_APPLICATION_CREDENTIALS");
	assert_has(err.msg, path);
	assert_null(g);
	free(path);
}

static void test_bad_metadata_host(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g = NULL;

	(void)state;
	setenv("GCE_METADATA_HOST", "http://169.254.169.254", 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), -ML_EUSAGE);
	assert_has(err.msg, "GCE_METADATA_HOST 'http://169.254.169.254' is not a host[:port]");
}

/* ---- nothing there ---- */

static void test_none(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g;
	char *token = NULL;
	double t0;

	(void)state;
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	t0 = ut_now_s();
	assert_false(ml_gauth_available(g));
	assert_int_equal(ml_gauth_token(g, &token, &err), -ML_EAUTH);
	assert_true(ut_now_s() - t0 < 5);
	assert_null(token);
	assert_has(err.msg, "no google credentials: CLOUDSDK_AUTH_ACCESS_TOKEN and "
		   "GOOGLE_APPLICATION_CREDENTIALS are not set");
	assert_has(err.msg, "/.config/gcloud/application_default_credentials.json'");
	assert_has(err.msg, "no metadata server answered at http://127.0.0.1:");
	assert_has(err.msg, "gcloud auth application-default login");
	assert_has(ml_buf_str(&logged), "gcp: no metadata server at");
	ml_gauth_free(g);
}

/* A key whose PEM markers are there but whose content is not a key: refused when
 * it signs, naming the file and the field, and nothing of the key. */
static void test_unsignable_key(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g;
	char *key = sa_key("", PEM), *path = write_in("key.json", key), *token = NULL;

	(void)state;
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_true(ml_gauth_token(g, &token, &err) < 0);
	assert_has(err.msg, "google credentials from service account key");
	assert_has(err.msg, "field 'private_key'");
	assert_lacks(err.msg, KEY_BODY);
	assert_lacks(ml_buf_str(&logged), KEY_BODY);
	ml_gauth_free(g);
	free(key);
	free(path);
}

/* ID tokens: an access token as it is, and federation without impersonation, cannot
 * mint one (-ML_ENOTFOUND, saying why, asking no one). */
static void test_id_token_cannot_mint(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_gauth *g;
	char *token = NULL, *path;

	(void)state;
	setenv("CLOUDSDK_AUTH_ACCESS_TOKEN", "ya29.env-token", 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_int_equal(ml_gauth_id_token(g, "https://web-abc-ue.a.run.app", &token, &err),
			 -ML_ENOTFOUND);
	assert_null(token);
	assert_has(err.msg, "from CLOUDSDK_AUTH_ACCESS_TOKEN");
	assert_has(err.msg, "cannot mint an ID token");
	assert_lacks(err.msg, "ya29.env-token");
	ml_gauth_free(g);
	unsetenv("CLOUDSDK_AUTH_ACCESS_TOKEN");

	path = write_in("wif.json",
			"{\"type\": \"external_account\", \"audience\": \"//iam.googleapis.com/"
			"projects/42/locations/global/workloadIdentityPools/ci/providers/gh\", "
			"\"subject_token_type\": \"urn:ietf:params:oauth:token-type:jwt\", "
			"\"token_url\": \"https://sts.googleapis.com/v1/token\", "
			"\"credential_source\": {\"file\": \"/nonexistent/token\"}}");
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	assert_int_equal(ml_gauth_new(&g, NULL, &err), 0);
	assert_int_equal(ml_gauth_id_token(g, "https://web-abc-ue.a.run.app", &token, &err),
			 -ML_ENOTFOUND);
	assert_has(err.msg, "without service_account_impersonation_url");
	ml_gauth_free(g);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_env_token, reset),
		cmocka_unit_test_setup(test_service_account, reset),
		cmocka_unit_test_setup(test_adc_file, reset),
		cmocka_unit_test_setup(test_external_and_impersonated, reset),
		cmocka_unit_test_setup(test_malformed, reset),
		cmocka_unit_test_setup(test_missing_file, reset),
		cmocka_unit_test_setup(test_bad_metadata_host, reset),
		cmocka_unit_test_setup(test_none, reset),
		cmocka_unit_test_setup(test_unsignable_key, reset),
		cmocka_unit_test_setup(test_id_token_cannot_mint, reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
