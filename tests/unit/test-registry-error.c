/* lib/registry/registry.c: a registry's error answer becomes one line without the
 * secrets it may quote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "util/alloc.h"
#include "util/error.h"
#include "wrap/http.h"
#include "registry/registry-internal.h"

static void status_error(const char *content_type, const char *body, long status,
			 struct ml_error *err)
{
	struct ml_registry *r;
	struct ml_http_response resp;
	struct ml_http_header h = { (char *)"Content-Type", (char *)content_type };

	assert_int_equal(ml_registry_open(&r, "registry.example", 0, err), 0);
	ml_http_response_init(&resp);
	resp.status = status;
	if (content_type) {
		resp.headers = &h;
		resp.nheaders = 1;
	}
	ml_buf_adds(&resp.body, body);
	assert_int_equal(ml_reg_status_error(r, ML_EPROTO, "blob x in y", &resp, err), -ML_EPROTO);
	ml_buf_dispose(&resp.body);
	ml_registry_free(r);
}

static void test_errors_json(void **state)
{
	struct ml_error err;

	(void)state;
	status_error("application/json", "{\"errors\":[{\"code\":\"DENIED\",\"message\":"
		     "\"token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl refused, "
		     "see https://auth.example/?access_token=AT1\"}]}", 403, &err);
	assert_string_equal(err.msg, "blob x in y on 'registry.example': HTTP 403 (DENIED: token "
			    "<redacted> refused, see https://auth.example/?access_token=<redacted>)");
}

static void test_other_bodies(void **state)
{
	struct ml_error err;

	(void)state;
	/* a proxy or blob store in front of the registry, in XML */
	status_error("application/xml", "<Error><Code>AccessDenied</Code><Message>denied</Message>"
		     "<StringToSign>AWS4-HMAC-SHA256\n20240101T000000Z</StringToSign>"
		     "<SignatureProvided>SIG1</SignatureProvided><Token>T2</Token></Error>", 403, &err);
	assert_lacks(err.msg, "SIG1");
	assert_lacks(err.msg, "T2");
	assert_true(strstr(err.msg, "<Code>AccessDenied</Code>") != NULL);
	/* JSON that is not the registry's error list */
	status_error("application/json", "{\"detail\":\"no\",\"auth\":[\"dXNlcjpwYXNz\"]}", 500, &err);
	assert_lacks(err.msg, "dXNlcjpwYXNz");
	/* text with a form in it */
	status_error("text/plain", "bad request: client_secret=CS3&x=1\n", 400, &err);
	assert_lacks(err.msg, "CS3");
	assert_true(strstr(err.msg, "HTTP 400 (bad request: client_secret=<redacted>&x=1?)") != NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors_json),
		cmocka_unit_test(test_other_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
