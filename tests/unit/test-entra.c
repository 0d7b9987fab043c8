/* providers/azure/entra.c and acr.c: which credential the environment names (and
 * the errors of half a credential), the client assertion's header and claims, the
 * OAuth error line, ACR login servers, and managed identity against
 * tests/fakes/entra.py on 127.0.0.1 (App Service's endpoint and IMDS, the probe,
 * the token cache, one request for many threads). The client secret, certificate
 * and federated flows over TLS are in tests/e2e/t2101-push-acr.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "azure/acr.h"
#include "azure/entra.h"
#include "deploy/rest.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "wrap/digest.h"
#include "wrap/http.h"
#include "wrap/json.h"

#define MI_CLIENT "5f1c7a52-0000-4000-8000-00000000a11d"
#define HEADER_SECRET "identity-header-s3cret"

static struct ut_fake fake;
static char dir[64];
static struct ml_buf logged = ML_BUF_INIT;

static const char *const vars[] = {
	"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
	"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
	"AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT",
	"IDENTITY_HEADER", "MLDEPLOY_ENDPOINT_IMDS",
};

static void clear_env(void)
{
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static char *in_dir(const char *name)
{
	return ml_path_join(dir, name);
}

static void write_config(int imds)
{
	char *path = in_dir("config.json");
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "{\"tenant\": \"0c0ffee0-0000-4000-8000-000000000001\", \"clients\": {},"
		" \"managed_identity\": {\"identity_header\": \"%s\", \"client_id\": \"%s\","
		" \"imds\": %s}, \"acr\": {}}\n", HEADER_SECRET, MI_CLIENT, imds ? "true" : "false");
	fclose(f);
	free(path);
}

static int setup(void **state)
{
	char *key, *config, *log;
	int rc;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mldeploy-test-entra-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (ut_sh("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	          "-out issuer.key 2>/dev/null && openssl req -x509 -new -nodes -newkey rsa:2048 "
	          "-keyout app.key -out app.crt -days 1 -subj /CN=app 2>/dev/null && "
	          "cat app.key app.crt >app.pem", dir))
		return -1;
	write_config(1);
	key = in_dir("issuer.key");
	config = in_dir("config.json");
	log = in_dir("requests.log");
	rc = ut_fake_run(&fake, "entra.py", "--config", config, "--key", key, "--log", log, NULL);
	free(key);
	free(config);
	free(log);
	unsetenv("MLDEPLOY_CONNECT_TO");
	unsetenv("MLDEPLOY_CA_BUNDLE");
	setenv("MLDEPLOY_RETRY_BASE_MS", "10", 1);
	ml_log_set_handler(ut_log_capture, &logged, ML_LOG_TRACE);
	return rc == 0 && ml_http_global_init(NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ml_http_global_cleanup();
	ut_fake_kill(&fake);
	ut_rm_rf(dir);
	ml_buf_dispose(&logged);
	clear_env();
	return 0;
}

/* Requests of the fake's log whose route is route. */
static int requests(const char *route)
{
	struct ml_error err = { 0, "" };
	struct ml_buf b = ML_BUF_INIT;
	char *path = in_dir("requests.log"), *needle = ml_asprintf("\"route\": \"%s\"", route);
	const char *p;
	int n = 0;

	if (ml_read_file(path, 1 << 20, &b, &err) < 0)
		fail_msg("%s", err.msg);
	for (p = ml_buf_str(&b); (p = strstr(p, needle)); p++)
		n++;
	ml_buf_dispose(&b);
	free(path);
	free(needle);
	return n;
}

static char *fake_url(const char *path)
{
	return ml_asprintf("http://127.0.0.1:%d%s", fake.port, path);
}

/* ---- no network ---- */

static void test_acr_scope(void **state)
{
	(void)state;
	assert_string_equal(ml_acr_scope("myreg.azurecr.io"), ML_AZURE_ARM_SCOPE);
	assert_string_equal(ml_acr_scope("MyReg.AzureCR.IO"), ML_AZURE_ARM_SCOPE);
	assert_string_equal(ml_acr_scope("reg-abc123.azurecr.io"), ML_AZURE_ARM_SCOPE);
	assert_string_equal(ml_acr_scope("myreg.azurecr.cn"),
			    "https://management.chinacloudapi.cn/.default");
	assert_string_equal(ml_acr_scope("myreg.azurecr.us"),
			    "https://management.usgovcloudapi.net/.default");
	assert_null(ml_acr_scope("azurecr.io"));
	assert_null(ml_acr_scope(".azurecr.io"));
	assert_null(ml_acr_scope("a.b.azurecr.io"));
	assert_null(ml_acr_scope("myreg.azurecr.io:443"));
	assert_null(ml_acr_scope("myreg.azurecr.io.evil.example"));
	assert_null(ml_acr_scope("-x.azurecr.io"));
	assert_null(ml_acr_scope("registry-1.docker.io"));
}

static void decode(const char *body, char *line, char *code)
{
	struct ml_http_response resp;

	ml_http_response_init(&resp);
	resp.status = 401;
	ml_buf_adds(&resp.body, body);
	assert_int_equal(ml_entra_decode_error(&resp, line, 300, code), 1);
	ml_http_response_dispose(&resp);
}

static void test_decode_error(void **state)
{
	char line[300], code[ML_REST_CODE_MAX];

	(void)state;
	decode("{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid "
	       "client secret provided.\\r\\nTrace ID: 1\\r\\nCorrelation ID: 2\","
	       "\"error_codes\":[7000215]}", line, code);
	assert_string_equal(line, "invalid_client: AADSTS7000215: Invalid client secret provided.");
	assert_string_equal(code, "invalid_client");
	decode("{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}",
	       line, code);
	assert_string_equal(line, "invalid_request: Identity not found");
	/* server text is made printable, secrets in it redacted */
	decode("{\"error\":\"bad\\u001b[31m\",\"error_description\":\"token=abc123 x\"}", line, code);
	assert_null(strchr(line, '\x1b'));
	assert_null(strstr(line, "abc123"));
	/* Resource Manager's shape goes to the REST client's decoder */
	decode("{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"no access\"}}", line, code);
	assert_string_equal(line, "AuthorizationFailed: no access");
	assert_string_equal(code, "AuthorizationFailed");
}

static ml_json *jwt_part(const char *jwt, int part)
{
	struct ml_buf raw = ML_BUF_INIT;
	const char *p = jwt, *q;
	ml_json *v;

	while (part-- > 0)
		p = strchr(p, '.') + 1;
	q = strchr(p, '.');
	assert_non_null(q);
	assert_int_equal(ml_base64url_decode(&raw, p, (size_t)(q - p)), 0);
	v = ml_json_parse(raw.data, raw.len, NULL);
	ml_buf_dispose(&raw);
	assert_non_null(v);
	return v;
}

static void test_assertion(void **state)
{
	const char *aud = "https://login.microsoftonline.com/t1/oauth2/v2.0/token";
	struct ml_error err = { 0, "" };
	struct ml_buf pem = ML_BUF_INIT;
	char *path = in_dir("app.pem"), *a = NULL, *b = NULL, x5t[ML_X5T_LEN];
	ml_json *head, *claims, *other;
	const char *jti;
	int64_t v;

	(void)state;
	assert_int_equal(ml_read_file(path, 1 << 20, &pem, &err), 0);
	assert_int_equal(ml_cert_x5t(x5t, pem.data, pem.len, &err), 0);
	assert_int_equal(ml_entra_assertion(&a, "client-1", aud, pem.data, pem.len, 1700000000, &err), 0);
	assert_int_equal(ml_entra_assertion(&b, "client-1", aud, pem.data, pem.len, 1700000000, &err), 0);
	head = jwt_part(a, 0);
	claims = jwt_part(a, 1);
	other = jwt_part(b, 1);
	assert_string_equal(ml_json_get_str(head, "alg"), "RS256");
	assert_string_equal(ml_json_get_str(head, "typ"), "JWT");
	assert_string_equal(ml_json_get_str(head, "x5t"), x5t);
	assert_string_equal(ml_json_get_str(claims, "aud"), aud);
	assert_string_equal(ml_json_get_str(claims, "iss"), "client-1");
	assert_string_equal(ml_json_get_str(claims, "sub"), "client-1");
	assert_int_equal(ml_json_get_int(claims, "nbf", &v), 0);
	assert_int_equal(v, 1700000000);
	assert_int_equal(ml_json_get_int(claims, "exp", &v), 0);
	assert_int_equal(v, 1700000000 + ML_ENTRA_ASSERTION_LIFE_S);
	/* a version 4 UUID, another one every time */
	jti = ml_json_get_str(claims, "jti");
	assert_non_null(jti);
	assert_int_equal(strlen(jti), 36);
	assert_int_equal(jti[14], '4');
	assert_non_null(strchr("89ab", jti[19]));
	assert_string_not_equal(jti, ml_json_get_str(other, "jti"));
	assert_int_equal(ml_json_size(claims), 6);
	/* no key in the file: refused without quoting it */
	assert_int_not_equal(ml_entra_assertion(&a, "c", aud, "junk", 4, 1, &err), 0);
	ml_json_free(head);
	ml_json_free(claims);
	ml_json_free(other);
	ml_free_secret(a);
	ml_free_secret(b);
	ml_buf_dispose(&pem);
	free(path);
}

/* ml_entra_new with the environment as set; the error message, or "" */
static int new_with_env(struct ml_entra **e, struct ml_error *err)
{
	err->code = 0;
	err->msg[0] = '\0';
	*e = NULL;
	return ml_entra_new(e, NULL, err);
}

static void test_sources(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_entra *e;

	(void)state;
	clear_env();
	setenv("MLDEPLOY_ENDPOINT_IMDS", "http://127.0.0.1:1", 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_null(ml_entra_source(e));
	assert_int_equal(ml_entra_configured(e), 1);
	ml_entra_free(e);
	unsetenv("MLDEPLOY_ENDPOINT_IMDS");
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_int_equal(ml_entra_configured(e), 0);
	ml_entra_free(e);

	/* secret before certificate before federated token, as the SDKs take them */
	setenv("AZURE_TENANT_ID", "contoso.onmicrosoft.com", 1);
	setenv("AZURE_CLIENT_ID", "c1", 1);
	setenv("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent", 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_string_equal(ml_entra_source(e), "workload identity (AZURE_FEDERATED_TOKEN_FILE)");
	assert_string_equal(ml_entra_tenant(e), "contoso.onmicrosoft.com");
	ml_entra_free(e);
	setenv("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent", 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_string_equal(ml_entra_source(e), "environment (AZURE_CLIENT_CERTIFICATE_PATH)");
	ml_entra_free(e);
	setenv("AZURE_CLIENT_SECRET", "s3cret-value", 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_string_equal(ml_entra_source(e), "environment (AZURE_CLIENT_SECRET)");
	assert_int_equal(ml_entra_configured(e), 1);
	ml_entra_free(e);

	/* half a credential is an error naming what is missing */
	unsetenv("AZURE_TENANT_ID");
	assert_int_equal(new_with_env(&e, &err), -ML_EAUTH);
	assert_string_equal(err.msg, "AZURE_CLIENT_SECRET is set without AZURE_TENANT_ID (hint: "
			    "set both AZURE_TENANT_ID and AZURE_CLIENT_ID of the app registration)");
	assert_lacks(err.msg, "s3cret-value");
	setenv("AZURE_TENANT_ID", "../x", 1);
	assert_int_equal(new_with_env(&e, &err), -ML_EUSAGE);
	assert_has(err.msg, "AZURE_TENANT_ID '../x' is not a tenant id");

	/* the authority: https only; a bare host name takes https */
	setenv("AZURE_TENANT_ID", "t1", 1);
	setenv("AZURE_AUTHORITY_HOST", "http://login.example", 1);
	assert_int_equal(new_with_env(&e, &err), -ML_EUSAGE);
	assert_has(err.msg, "AZURE_AUTHORITY_HOST 'http://login.example' is not an https URL");
	setenv("AZURE_AUTHORITY_HOST", "login.microsoftonline.us/", 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	ml_entra_free(e);
	unsetenv("AZURE_AUTHORITY_HOST");

	unsetenv("AZURE_CLIENT_SECRET");
	setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pw", 1);
	assert_int_equal(new_with_env(&e, &err), -ML_EAUTH);
	assert_has(err.msg, "an encrypted certificate key is not supported");
	clear_env();

	setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token", 1);
	assert_int_equal(new_with_env(&e, &err), -ML_EAUTH);
	assert_has(err.msg, "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not");
	setenv("IDENTITY_HEADER", "h", 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_string_equal(ml_entra_source(e), "managed identity (IDENTITY_ENDPOINT)");
	assert_null(ml_entra_tenant(e));
	ml_entra_free(e);
	clear_env();
}

/* ---- managed identity against the fake ---- */

static char *token_ok(struct ml_entra *e)
{
	struct ml_error err = { 0, "" };
	char *t = NULL;

	if (ml_entra_token(e, ML_AZURE_ARM_SCOPE, &t, &err) < 0)
		fail_msg("ml_entra_token: %s", err.msg);
	assert_non_null(t);
	assert_true(strlen(t) > 100);
	return t;
}

static void test_app_service(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_entra *e;
	char *url = fake_url("/msi/token"), *t1, *t2;
	int before = requests("msi");

	(void)state;
	clear_env();
	setenv("IDENTITY_ENDPOINT", url, 1);
	setenv("IDENTITY_HEADER", HEADER_SECRET, 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	ml_buf_reset(&logged);
	t1 = token_ok(e);
	t2 = token_ok(e);	/* from the cache */
	assert_string_equal(t1, t2);
	assert_int_equal(requests("msi"), before + 1);
	assert_has(ml_buf_str(&logged), "from managed identity (IDENTITY_ENDPOINT)");
	assert_lacks(ml_buf_str(&logged), HEADER_SECRET);
	assert_lacks(ml_buf_str(&logged), t1);
	ml_free_secret(t1);
	ml_free_secret(t2);
	ml_entra_free(e);

	/* a wrong header: refused, the source named, the header never shown */
	setenv("IDENTITY_HEADER", "wrong-header-value", 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_int_equal(ml_entra_token(e, ML_AZURE_ARM_SCOPE, &t1, &err), -ML_EAUTH);
	assert_has(err.msg, "azure credentials from managed identity (IDENTITY_ENDPOINT): ");
	assert_has(err.msg, "HTTP 401");
	assert_lacks(err.msg, "wrong-header-value");
	ml_entra_free(e);
	clear_env();
	free(url);
}

static void test_imds(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_entra *e;
	char *base = fake_url(""), *t;
	int before = requests("imds");

	(void)state;
	clear_env();
	setenv("MLDEPLOY_ENDPOINT_IMDS", base, 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_int_equal(ml_entra_available(e), 1);
	assert_string_equal(ml_entra_source(e), "managed identity (IMDS)");
	t = token_ok(e);
	/* the probe (400 without the Metadata header), then the token */
	assert_int_equal(requests("imds"), before + 2);
	ml_free_secret(t);
	ml_entra_free(e);

	/* another user-assigned identity than the machine has */
	setenv("AZURE_CLIENT_ID", "another-client", 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_int_equal(ml_entra_token(e, ML_AZURE_ARM_SCOPE, &t, &err), -ML_EAUTH);
	assert_has(err.msg, "invalid_request: Identity not found (HTTP 400)");
	assert_has(err.msg, "hint: assign a managed identity to this machine with the client id "
		   "in AZURE_CLIENT_ID");
	ml_entra_free(e);

	/* no identity assigned at all */
	unsetenv("AZURE_CLIENT_ID");
	write_config(0);
	assert_int_equal(new_with_env(&e, &err), 0);
	assert_int_equal(ml_entra_token(e, ML_AZURE_ARM_SCOPE, &t, &err), -ML_EAUTH);
	assert_has(err.msg, "Identity not found");
	ml_entra_free(e);
	write_config(1);
	clear_env();
	free(base);
}

static void test_nothing_there(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_entra *e;
	char *base = ml_asprintf("http://127.0.0.1:%d", ut_closed_port()), *t = NULL;
	double t0;

	(void)state;
	clear_env();
	setenv("MLDEPLOY_ENDPOINT_IMDS", base, 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	t0 = ut_now_s();
	assert_int_equal(ml_entra_available(e), 0);
	assert_true(ut_now_s() - t0 < 3);
	assert_int_equal(ml_entra_token(e, ML_AZURE_ARM_SCOPE, &t, &err), -ML_EAUTH);
	assert_null(t);
	assert_has(err.msg, "no azure credentials: AZURE_CLIENT_SECRET, "
		   "AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE and IDENTITY_ENDPOINT "
		   "are not set");
	assert_has(err.msg, base);
	assert_has(err.msg, "the token cache of a logged-in az is not read");
	ml_entra_free(e);
	clear_env();
	free(base);
}

struct racer {
	struct ml_entra *e;
	char *token;
};

static void *race(void *ud)
{
	struct racer *r = ud;
	struct ml_error err = { 0, "" };

	if (ml_entra_token(r->e, ML_AZURE_ARM_SCOPE, &r->token, &err) < 0)
		r->token = NULL;
	return NULL;
}

static void test_threads(void **state)
{
	struct ml_error err = { 0, "" };
	struct racer r[8];
	pthread_t th[8];
	struct ml_entra *e;
	char *url = fake_url("/msi/token");
	int before = requests("msi"), i;

	(void)state;
	clear_env();
	setenv("IDENTITY_ENDPOINT", url, 1);
	setenv("IDENTITY_HEADER", HEADER_SECRET, 1);
	assert_int_equal(new_with_env(&e, &err), 0);
	for (i = 0; i < 8; i++) {
		r[i].e = e;
		r[i].token = NULL;
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_non_null(r[i].token);
		assert_string_equal(r[i].token, r[0].token);
	}
	for (i = 0; i < 8; i++)
		ml_free_secret(r[i].token);
	assert_int_equal(requests("msi"), before + 1);
	ml_entra_free(e);
	clear_env();
	free(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acr_scope),
		cmocka_unit_test(test_decode_error),
		cmocka_unit_test(test_assertion),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_app_service),
		cmocka_unit_test(test_imds),
		cmocka_unit_test(test_nothing_there),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
