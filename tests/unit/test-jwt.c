/* Unit tests for lib/deploy/jwt.c: RS256 tokens signed with a key made by the openssl
 * command, checked by an independent verifier (Debian's python3-jwt, and the signature
 * again with python3-cryptography), tampered tokens refused, the header's members. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "deploy/jwt.h"
#include "util/alloc.h"
#include "util/fsutil.h"
#include "wrap/digest.h"
#include "wrap/json.h"

#define AUD "https://oauth2.googleapis.com/token"

/* Exit 0 and the header and claims as JSON on stdout when the token verifies, 3 when
 * it does not: so a crash of the verifier is never taken for a refused token. */
static const char verify_py[] =
	"import json, sys, base64, jwt\n"
	"from cryptography.hazmat.primitives import hashes, serialization\n"
	"from cryptography.hazmat.primitives.asymmetric import padding\n"
	"from cryptography.exceptions import InvalidSignature\n"
	"pub = open(sys.argv[1], 'rb').read()\n"
	"tok = open(sys.argv[2]).read()\n"
	"try:\n"
	"    claims = jwt.decode(tok, pub, algorithms=['RS256'], audience='" AUD "')\n"
	"except jwt.InvalidTokenError as e:\n"
	"    print('refused by jwt:', type(e).__name__, file=sys.stderr)\n"
	"    sys.exit(3)\n"
	"head, body, sig = tok.split('.')\n"
	"sig = base64.urlsafe_b64decode(sig + '=' * (-len(sig) % 4))\n"
	"key = serialization.load_pem_public_key(pub)\n"
	"try:\n"
	"    key.verify(sig, (head + '.' + body).encode(), padding.PKCS1v15(), hashes.SHA256())\n"
	"except InvalidSignature:\n"
	"    print('refused by cryptography', file=sys.stderr)\n"
	"    sys.exit(3)\n"
	"print(json.dumps({'header': jwt.get_unverified_header(tok), 'claims': claims}))\n";

struct rig {
	char dir[64];
	struct ml_buf key, other, cert;
	char x5t[ML_X5T_LEN];
};

static char *path_in(const struct rig *r, const char *name)
{
	return ml_path_join(r->dir, name);
}

static void slurp(const struct rig *r, const char *name, struct ml_buf *out)
{
	struct ml_error err = { 0, "" };
	char *path = path_in(r, name);

	if (ml_read_file(path, 1 << 20, out, &err) < 0)
		fail_msg("%s", err.msg);
	free(path);
}

static void put(const struct rig *r, const char *name, const char *text)
{
	struct ml_error err = { 0, "" };
	char *path = path_in(r, name);

	if (ml_write_file_atomic(path, text, strlen(text), &err) < 0)
		fail_msg("%s", err.msg);
	free(path);
}

static int rig_setup(void **state)
{
	struct ml_error err = { 0, "" };
	struct rig *r = calloc(1, sizeof(*r));

	snprintf(r->dir, sizeof(r->dir), "/tmp/test-jwt-XXXXXX");
	if (!mkdtemp(r->dir))
		return -1;
	if (ut_sh("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	          "-out key.pem 2>/dev/null && openssl pkey -in key.pem -pubout -out pub.pem && "
	          "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.pem "
	          "2>/dev/null && openssl req -x509 -new -key key.pem -subj /CN=mldeploy-test "
	          "-days 2 -out cert.pem", r->dir) != 0)
		return -1;
	slurp(r, "key.pem", &r->key);
	slurp(r, "other.pem", &r->other);
	slurp(r, "cert.pem", &r->cert);
	put(r, "verify.py", verify_py);
	if (ml_cert_x5t(r->x5t, r->cert.data, r->cert.len, &err) < 0)
		return -1;
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	ml_remove_tree(r->dir);
	ml_buf_dispose(&r->key);
	ml_buf_dispose(&r->other);
	ml_buf_dispose(&r->cert);
	free(r);
	return 0;
}

/* Runs the verifier on token: its exit status; *out (when not NULL) gets what it printed. */
static int verify(const struct rig *r, const char *token, ml_json **out)
{
	struct ml_error err = { 0, "" };
	struct ml_buf printed = ML_BUF_INIT;
	int rc;

	put(r, "token", token);
	rc = ut_sh("cd %s && /usr/bin/python3 verify.py pub.pem token >out.json 2>err.txt", r->dir);
	if (rc == 0 && out) {
		slurp(r, "out.json", &printed);
		*out = ml_json_parse(printed.data, printed.len, &err);
		if (!*out)
			fail_msg("the verifier printed no JSON: %s", err.msg);
	}
	if (rc != 0 && rc != 3) {
		slurp(r, "err.txt", &printed);
		fail_msg("the verifier failed (exit %d): %s", rc, ml_buf_str(&printed));
	}
	ml_buf_dispose(&printed);
	return rc;
}

static ml_json *claims_new(int64_t now)
{
	ml_json *c = ml_json_object_new();

	ml_json_set_str(c, "iss", "deployer@project.iam.gserviceaccount.com");
	ml_json_set_str(c, "scope", "https://www.googleapis.com/auth/cloud-platform");
	ml_json_set_str(c, "aud", AUD);
	ml_json_set_str(c, "note", "na\xc3\xafve \"quoted\" / slash");
	ml_json_set_int(c, "iat", now);
	ml_json_set_int(c, "exp", now + 3600);
	return c;
}

static char *sign_ok(const struct ml_buf *key, const ml_json *claims, const char *kid,
		     const char *x5t)
{
	struct ml_error err = { 0, "" };
	char *tok = NULL;

	if (ml_jwt_sign_rs256(&tok, claims, key->data, key->len, kid, x5t, &err) < 0)
		fail_msg("signing failed: %s", err.msg);
	assert_non_null(tok);
	return tok;
}

/* The three parts: URL-safe base64 without padding, the first two of them JSON. */
static void split(const char *tok, struct ml_buf *header, struct ml_buf *claims,
		  struct ml_buf *sig)
{
	const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789-_."), strlen(tok));
	assert_int_equal(ml_base64url_decode(header, tok, (size_t)(d1 - tok)), 0);
	assert_int_equal(ml_base64url_decode(claims, d1 + 1, (size_t)(d2 - d1 - 1)), 0);
	assert_int_equal(ml_base64url_decode(sig, d2 + 1, strlen(d2 + 1)), 0);
}

static void test_sign_and_verify(void **state)
{
	const struct rig *r = *state;
	int64_t now = (int64_t)time(NULL);
	ml_json *claims = claims_new(now), *seen = NULL, *v;
	struct ml_buf h = ML_BUF_INIT, c = ML_BUF_INIT, s = ML_BUF_INIT, want = ML_BUF_INIT;
	char *tok = sign_ok(&r->key, claims, "key-1", r->x5t);
	void *it;
	int64_t n;

	split(tok, &h, &c, &s);
	ml_buf_printf(&want, "{\"alg\":\"RS256\",\"kid\":\"key-1\",\"typ\":\"JWT\",\"x5t\":\"%s\"}",
		      r->x5t);
	assert_string_equal(ml_buf_str(&h), ml_buf_str(&want));
	ml_buf_reset(&want);
	assert_int_equal(ml_json_dump(claims, &want), 0);
	assert_string_equal(ml_buf_str(&c), ml_buf_str(&want));
	assert_int_equal(s.len, 256);

	assert_int_equal(verify(r, tok, &seen), 0);
	v = ml_json_get(seen, "header");
	assert_int_equal(ml_json_size(v), 4);
	assert_string_equal(ml_json_get_str(v, "alg"), "RS256");
	assert_string_equal(ml_json_get_str(v, "typ"), "JWT");
	assert_string_equal(ml_json_get_str(v, "kid"), "key-1");
	assert_string_equal(ml_json_get_str(v, "x5t"), r->x5t);
	v = ml_json_get(seen, "claims");
	assert_int_equal(ml_json_size(v), ml_json_size(claims));
	for (it = ml_json_iter(claims); it; it = ml_json_iter_next(claims, it)) {
		const char *key = ml_json_iter_key(it);
		ml_json *mine = ml_json_iter_value(it);

		if (ml_json_str(mine)) {
			assert_string_equal(ml_json_get_str(v, key), ml_json_str(mine));
		} else {
			int64_t a, b;

			assert_int_equal(ml_json_get_int(v, key, &a), 0);
			assert_int_equal(ml_json_int(mine, &b), 0);
			assert_int_equal(a, b);
		}
	}
	assert_int_equal(ml_json_get_int(v, "exp", &n), 0);
	assert_int_equal(n, now + 3600);

	ml_json_free(seen);
	ml_json_free(claims);
	ml_free_secret(tok);
	ml_buf_dispose(&h);
	ml_buf_dispose(&c);
	ml_buf_dispose(&s);
	ml_buf_dispose(&want);
}

/* Without kid and x5t the header holds alg and typ only; a PKCS#1 key works too. */
static void test_header_minimal(void **state)
{
	const struct rig *r = *state;
	ml_json *claims = claims_new((int64_t)time(NULL)), *seen = NULL;
	struct ml_buf h = ML_BUF_INIT, c = ML_BUF_INIT, s = ML_BUF_INIT, pkcs1 = ML_BUF_INIT;
	char *tok = sign_ok(&r->key, claims, NULL, NULL), *tok1;

	split(tok, &h, &c, &s);
	assert_string_equal(ml_buf_str(&h), "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	assert_int_equal(verify(r, tok, &seen), 0);
	assert_int_equal(ml_json_size(ml_json_get(seen, "header")), 2);
	ml_json_free(seen);

	/* PKCS#1 v1.5 is deterministic: the same key as PKCS#1 gives the same token */
	assert_int_equal(ut_sh("cd %s && openssl rsa -traditional -in key.pem -out pkcs1.pem "
			       "2>/dev/null", r->dir), 0);
	slurp(r, "pkcs1.pem", &pkcs1);
	assert_non_null(strstr(ml_buf_str(&pkcs1), "BEGIN RSA PRIVATE KEY"));
	tok1 = sign_ok(&pkcs1, claims, NULL, NULL);
	assert_string_equal(tok1, tok);

	ml_json_free(claims);
	ml_free_secret(tok);
	ml_free_secret(tok1);
	ml_buf_dispose(&h);
	ml_buf_dispose(&c);
	ml_buf_dispose(&s);
	ml_buf_dispose(&pkcs1);
}

static char *replace_part(const char *tok, int part, const char *b64)
{
	const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');

	if (part == 0)
		return ml_asprintf("%s%s", b64, d1);
	if (part == 1)
		return ml_asprintf("%.*s.%s%s", (int)(d1 - tok), tok, b64, d2);
	return ml_asprintf("%.*s.%s", (int)(d2 - tok), tok, b64);
}

static char *b64url_of(const char *json)
{
	struct ml_buf b = ML_BUF_INIT;

	ml_base64url_encode(&b, json, strlen(json));
	return ml_buf_detach(&b);
}

static void test_tampered_tokens_refused(void **state)
{
	const struct rig *r = *state;
	int64_t now = (int64_t)time(NULL);
	ml_json *claims = claims_new(now);
	char *tok = sign_ok(&r->key, claims, "key-1", NULL), *bad, *part, *json;
	size_t mid;

	assert_int_equal(verify(r, tok, NULL), 0);

	/* other claims under the old signature */
	json = ml_asprintf("{\"aud\":\"" AUD "\",\"exp\":%lld,\"iat\":%lld,\"iss\":\"admin\"}",
			   (long long)now + 3600, (long long)now);
	part = b64url_of(json);
	bad = replace_part(tok, 1, part);
	assert_int_equal(verify(r, bad, NULL), 3);
	free(bad);
	free(part);
	free(json);

	/* alg none, and an HMAC header */
	part = b64url_of("{\"alg\":\"none\",\"typ\":\"JWT\"}");
	bad = replace_part(tok, 0, part);
	assert_int_equal(verify(r, bad, NULL), 3);
	free(bad);
	free(part);
	part = b64url_of("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	bad = replace_part(tok, 0, part);
	assert_int_equal(verify(r, bad, NULL), 3);
	free(bad);
	free(part);

	/* one signature character changed (in the middle: the last one carries spare bits) */
	bad = ml_strdup(tok);
	mid = (size_t)(strrchr(bad, '.') - bad) + 100;
	bad[mid] = bad[mid] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(r, bad, NULL), 3);
	free(bad);

	/* signed by another key */
	bad = sign_ok(&r->other, claims, "key-1", NULL);
	assert_int_equal(verify(r, bad, NULL), 3);
	ml_free_secret(bad);

	ml_json_free(claims);
	ml_free_secret(tok);
}

static void test_errors(void **state)
{
	const struct rig *r = *state;
	struct ml_error err = { 0, "" };
	ml_json *arr = ml_json_array_new(), *claims = claims_new(1);
	char *tok = NULL;

	assert_int_equal(ml_jwt_sign_rs256(&tok, arr, r->key.data, r->key.len, NULL, NULL, &err),
			 -ML_EINTERNAL);
	assert_non_null(strstr(err.msg, "not a JSON object"));
	assert_null(tok);
	assert_int_equal(ml_jwt_sign_rs256(&tok, NULL, r->key.data, r->key.len, NULL, NULL, &err),
			 -ML_EINTERNAL);
	assert_null(tok);

	/* a certificate is no key; a key cut short is none either, and is never quoted */
	assert_int_equal(ml_jwt_sign_rs256(&tok, claims, r->cert.data, r->cert.len, NULL, NULL,
					   &err), -ML_EAUTH);
	assert_null(tok);
	assert_int_equal(ml_jwt_sign_rs256(&tok, claims, r->key.data, r->key.len - 40, NULL, NULL,
					   &err), -ML_EAUTH);
	assert_null(tok);
	assert_null(strstr(err.msg, "MII"));
	assert_null(strstr(err.msg, "-----"));

	ml_json_free(arr);
	ml_json_free(claims);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_and_verify),
		cmocka_unit_test(test_header_minimal),
		cmocka_unit_test(test_tampered_tokens_refused),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, rig_setup, rig_teardown);
}
