/* Unit tests for lib/wrap/digest.c: SHA-256 vectors (FIPS 180-2), digest strings and
 * base64 (RFC 4648 section 10). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wrap/digest.h"

#define SHA_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448 "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define MSG_448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

static void test_sha256_vectors(void **state)
{
	char out[ML_DIGEST_LEN];

	(void)state;
	ml_sha256_digest("", 0, out);
	assert_string_equal(out, SHA_EMPTY);
	ml_sha256_digest(NULL, 0, out);
	assert_string_equal(out, SHA_EMPTY);
	ml_sha256_digest("abc", 3, out);
	assert_string_equal(out, SHA_ABC);
	ml_sha256_digest(MSG_448, strlen(MSG_448), out);
	assert_string_equal(out, SHA_448);
	assert_true(ml_digest_valid(out));
	assert_int_equal(strlen(out), 71);
}

/* RECORD files of Python wheels: sha256=<URL-safe base64, no padding>. */
static void test_base64url(void **state)
{
	char d[ML_DIGEST_LEN], out[ML_DIGEST_B64URL_LEN];

	(void)state;
	ml_sha256_digest("", 0, d);
	ml_digest_base64url(d, out);
	assert_string_equal(out, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
	ml_sha256_digest("abc", 3, d);
	ml_digest_base64url(d, out);
	assert_string_equal(out, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
}

static void test_sha256_million_a(void **state)
{
	struct ml_sha256 *h = ml_sha256_new();
	char chunk[1000], out[ML_DIGEST_LEN], *all;
	int i;

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	for (i = 0; i < 1000; i++)
		ml_sha256_update(h, chunk, sizeof(chunk));
	ml_sha256_final(h, out);
	assert_string_equal(out, SHA_MILLION_A);

	/* the same context is usable again after a reset */
	ml_sha256_reset(h);
	ml_sha256_update(h, "a", 1);
	ml_sha256_update(h, "bc", 2);
	ml_sha256_final(h, out);
	assert_string_equal(out, SHA_ABC);
	ml_sha256_reset(h);
	ml_sha256_final(h, out);
	assert_string_equal(out, SHA_EMPTY);
	ml_sha256_free(h);
	ml_sha256_free(NULL);

	all = malloc(1000000);
	assert_non_null(all);
	memset(all, 'a', 1000000);
	ml_sha256_digest(all, 1000000, out);
	assert_string_equal(out, SHA_MILLION_A);
	free(all);
}

static void test_sha256_fd(void **state)
{
	char path[] = "/tmp/test-digest-XXXXXX";
	struct ml_error err = { 0, "" };
	char out[ML_DIGEST_LEN];
	uint64_t size = 12345;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);

	assert_int_equal(ml_sha256_fd(fd, out, &size, &err), 0);
	assert_string_equal(out, SHA_EMPTY);
	assert_int_equal(size, 0);

	assert_int_equal(write(fd, "xxabc", 5), 5);
	/* hashes from the current offset */
	assert_int_equal(lseek(fd, 2, SEEK_SET), 2);
	assert_int_equal(ml_sha256_fd(fd, out, &size, &err), 0);
	assert_string_equal(out, SHA_ABC);
	assert_int_equal(size, 3);
	assert_int_equal(lseek(fd, 2, SEEK_SET), 2);
	assert_int_equal(ml_sha256_fd(fd, out, NULL, &err), 0);
	assert_string_equal(out, SHA_ABC);
	close(fd);

	/* a directory cannot be read */
	fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(ml_sha256_fd(fd, out, &size, &err), -ML_EIO);
	assert_int_equal(err.code, ML_EIO);
	assert_non_null(strstr(err.msg, "cannot read"));
	close(fd);
}

static void test_digest_valid(void **state)
{
	static const char hex64[] =
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	char s[128];

	(void)state;
	assert_true(ml_digest_valid(SHA_EMPTY));
	assert_true(ml_digest_valid("sha256:0000000000000000000000000000000000000000000000000000000000000000"));
	assert_false(ml_digest_valid(NULL));
	assert_false(ml_digest_valid(""));
	assert_false(ml_digest_valid("sha256:"));
	assert_false(ml_digest_valid(hex64));
	assert_false(ml_digest_valid("SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	assert_false(ml_digest_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	assert_false(ml_digest_valid("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	/* 63 and 65 digits */
	snprintf(s, sizeof(s), "sha256:%.63s", hex64);
	assert_false(ml_digest_valid(s));
	snprintf(s, sizeof(s), "sha256:%s0", hex64);
	assert_false(ml_digest_valid(s));
	/* upper-case and non-hex digits, at the first and the last position */
	snprintf(s, sizeof(s), "sha256:%s", hex64);
	s[7] = 'E';
	assert_false(ml_digest_valid(s));
	s[7] = 'e';
	s[70] = 'g';
	assert_false(ml_digest_valid(s));
	s[70] = '5';
	assert_true(ml_digest_valid(s));
	snprintf(s, sizeof(s), "sha256:%s\n", hex64);
	assert_false(ml_digest_valid(s));
	snprintf(s, sizeof(s), " sha256:%s", hex64);
	assert_false(ml_digest_valid(s));
	snprintf(s, sizeof(s), "sha256:%.32s %.31s", hex64, hex64 + 33);
	assert_false(ml_digest_valid(s));

	assert_string_equal(ml_digest_hex(SHA_EMPTY), hex64);
}

static const struct {
	const char *plain, *b64;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_base64_rfc4648(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		struct ml_buf enc = ML_BUF_INIT, dec = ML_BUF_INIT;
		const char *p = rfc4648[i].plain, *b = rfc4648[i].b64;

		ml_base64_encode(&enc, p, strlen(p));
		assert_string_equal(ml_buf_str(&enc), b);
		assert_int_equal(enc.len, strlen(b));
		assert_int_equal(ml_base64_decode(&dec, b, strlen(b)), 0);
		assert_int_equal(dec.len, strlen(p));
		assert_string_equal(ml_buf_str(&dec), p);
		ml_buf_dispose(&enc);
		ml_buf_dispose(&dec);
	}
}

static void test_base64_appends(void **state)
{
	struct ml_buf b = ML_BUF_INIT;

	(void)state;
	ml_buf_adds(&b, "Basic ");
	ml_base64_encode(&b, "alice:s3cret", 12);
	assert_string_equal(ml_buf_str(&b), "Basic YWxpY2U6czNjcmV0");
	assert_int_equal(ml_base64_decode(&b, "Zm9v", 4), 0);
	assert_string_equal(ml_buf_str(&b), "Basic YWxpY2U6czNjcmV0foo");
	ml_buf_dispose(&b);
}

static void test_base64_round_trip_binary(void **state)
{
	unsigned char data[1027];
	size_t len, i;
	unsigned x = 12345;

	(void)state;
	for (i = 0; i < sizeof(data); i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	data[0] = 0;
	data[1] = 0xff;
	for (len = 0; len <= sizeof(data); len += len < 70 ? 1 : 97) {
		struct ml_buf enc = ML_BUF_INIT, dec = ML_BUF_INIT;

		ml_base64_encode(&enc, data, len);
		assert_int_equal(enc.len, 4 * ((len + 2) / 3));
		assert_int_equal(strlen(ml_buf_str(&enc)), enc.len);
		assert_int_equal(ml_base64_decode(&dec, enc.data ? enc.data : "", enc.len), 0);
		assert_int_equal(dec.len, len);
		if (len)
			assert_memory_equal(dec.data, data, len);
		ml_buf_dispose(&enc);
		ml_buf_dispose(&dec);
	}
}

static void test_base64_alphabet(void **state)
{
	static const unsigned char all62_63[] = { 0xfb, 0xff, 0xbf };
	struct ml_buf b = ML_BUF_INIT;

	(void)state;
	/* standard alphabet: '+' and '/', not the URL-safe '-' and '_' */
	ml_base64_encode(&b, all62_63, 3);
	assert_string_equal(ml_buf_str(&b), "+/+/");
	ml_buf_reset(&b);
	assert_int_equal(ml_base64_decode(&b, "+/+/", 4), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, all62_63, 3);
	ml_buf_dispose(&b);
}

/* Each of these must be refused, and leave out unchanged. */
#define S(lit) { lit, sizeof(lit) - 1 }
static const struct {
	const char *s;
	size_t len;
} malformed[] = {
	S("Z"),		/* length not a multiple of 4 */
	S("Zg"),
	S("Zg="),
	S("Zm9vY"),
	S("Zm9v!A=="),	/* outside the alphabet */
	S("Zm9v-_=="),	/* URL-safe alphabet */
	S("Zm 9v"),
	S(" Zg="),
	S("Zm9\n"),
	S("Zg\0="),	/* an embedded NUL */
	S("Zm=v"),	/* data after padding */
	S("Zg=A"),
	S("Zg==Zg=="),	/* padding in the middle */
	S("Zm9v===="),	/* a whole group of padding */
	S("===="),
	S("Z==="),	/* one character cannot hold a byte */
};
#undef S

static void test_base64_malformed(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		struct ml_buf b = ML_BUF_INIT;
		int rc;

		ml_buf_adds(&b, "keep");
		rc = ml_base64_decode(&b, malformed[i].s, malformed[i].len);
		if (rc != -ML_EPROTO || strcmp(ml_buf_str(&b), "keep") != 0) {
			print_error("malformed base64 #%zu '%s' accepted: rc %d, %zu bytes out\n",
				    i, malformed[i].s, rc, b.len - 4);
			bad++;
		}
		ml_buf_dispose(&b);
	}
	if (bad)
		fail_msg("%zu malformed base64 inputs were accepted", bad);
}

/* Decoding into a buffer too small for the result must not report success. */
static void test_base64_decode_over_cap(void **state)
{
	struct ml_buf b;
	int rc;

	(void)state;
	ml_buf_init(&b, 4);
	rc = ml_base64_decode(&b, "Zm9vYmFy", 8);
	if (rc == 0)
		fail_msg("decoding 6 bytes into a buffer capped at 4 returned 0 with %zu bytes",
			 b.len);
	assert_true(rc < 0);
	ml_buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_million_a),
		cmocka_unit_test(test_base64url),
		cmocka_unit_test(test_sha256_fd),
		cmocka_unit_test(test_digest_valid),
		cmocka_unit_test(test_base64_rfc4648),
		cmocka_unit_test(test_base64_appends),
		cmocka_unit_test(test_base64_round_trip_binary),
		cmocka_unit_test(test_base64_alphabet),
		cmocka_unit_test(test_base64_malformed),
		cmocka_unit_test(test_base64_decode_over_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
