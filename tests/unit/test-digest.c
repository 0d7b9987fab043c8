/* Unit tests for lib/wrap/digest.c: SHA-256 vectors (FIPS 180-2), digest strings,
 * HMAC-SHA-256 (RFC 4231), base64 and base64url (RFC 4648 section 10), RSA-SHA256
 * signatures compared with the openssl command's, certificate thumbprints. */
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

#include "util/alloc.h"
#include "util/fsutil.h"
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

static void test_sha256_raw_and_hex(void **state)
{
	unsigned char md[ML_SHA256_LEN];
	char hex[2 * ML_SHA256_LEN + 1], d[ML_DIGEST_LEN];

	(void)state;
	ml_sha256_raw("abc", 3, md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, ml_digest_hex(SHA_ABC));
	ml_sha256_raw(NULL, 0, md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, ml_digest_hex(SHA_EMPTY));
	ml_sha256_digest(MSG_448, strlen(MSG_448), d);
	ml_sha256_raw(MSG_448, strlen(MSG_448), md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, ml_digest_hex(d));
	ml_hex_encode(hex, "\x00\x0f\xf0\xff", 4);
	assert_string_equal(hex, "000ff0ff");
	ml_hex_encode(hex, "", 0);
	assert_string_equal(hex, "");
}

/* RFC 4231 section 4: keys and data given by a byte and a count, or as text. */
static void test_hmac_sha256_rfc4231(void **state)
{
	static const char msg7[] =
		"This is a test using a larger than block-size key and a larger than block-size "
		"data. The key needs to be hashed before being used by the HMAC algorithm.";
	static const char msg6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	unsigned char key[131], data[50], md[ML_SHA256_LEN];
	char hex[2 * ML_SHA256_LEN + 1];
	size_t i;

	(void)state;
	memset(key, 0x0b, 20);
	ml_hmac_sha256(key, 20, "Hi There", 8, md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

	ml_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	ml_hmac_sha256(key, 20, data, 50, md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

	for (i = 0; i < 25; i++)
		key[i] = (unsigned char)(i + 1);
	memset(data, 0xcd, 50);
	ml_hmac_sha256(key, 25, data, 50, md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

	/* test case 5 checks the first 128 bits only */
	memset(key, 0x0c, 20);
	ml_hmac_sha256(key, 20, "Test With Truncation", 20, md);
	ml_hex_encode(hex, md, 16);
	assert_string_equal(hex, "a3b6167473100ee06e0c796c2955552b");

	memset(key, 0xaa, 131);
	ml_hmac_sha256(key, 131, msg6, strlen(msg6), md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	ml_hmac_sha256(key, 131, msg7, strlen(msg7), md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* An empty key and empty data (NULL pointers) are valid input: Python's
 * hmac.new(b"", b"", "sha256").hexdigest(). */
static void test_hmac_sha256_empty(void **state)
{
	unsigned char md[ML_SHA256_LEN];
	char hex[2 * ML_SHA256_LEN + 1];

	(void)state;
	ml_hmac_sha256(NULL, 0, NULL, 0, md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
	ml_hmac_sha256("", 0, "", 0, md);
	ml_hex_encode(hex, md, sizeof(md));
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

/* RFC 4648 section 10 in the URL-safe alphabet without padding (RFC 7515 appendix C). */
static void test_base64url_rfc4648(void **state)
{
	static const char *const enc[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		struct ml_buf e = ML_BUF_INIT, d = ML_BUF_INIT;
		const char *p = rfc4648[i].plain;

		assert_int_equal(ml_base64url_encode(&e, p, strlen(p)), 0);
		assert_string_equal(ml_buf_str(&e), enc[i]);
		assert_int_equal(ml_base64url_decode(&d, enc[i], strlen(enc[i])), 0);
		assert_int_equal(d.len, strlen(p));
		assert_string_equal(ml_buf_str(&d), p);
		ml_buf_dispose(&e);
		ml_buf_dispose(&d);
	}
}

static void test_base64url_alphabet_and_round_trip(void **state)
{
	static const unsigned char all62_63[] = { 0xfb, 0xff, 0xbf };
	struct ml_buf b = ML_BUF_INIT;
	unsigned char data[300];
	size_t len, i;

	(void)state;
	assert_int_equal(ml_base64url_encode(&b, all62_63, 3), 0);
	assert_string_equal(ml_buf_str(&b), "-_-_");
	ml_buf_reset(&b);
	assert_int_equal(ml_base64url_decode(&b, "-_-_", 4), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, all62_63, 3);
	ml_buf_dispose(&b);

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 151 + 7);
	for (len = 0; len <= sizeof(data); len++) {
		struct ml_buf e = ML_BUF_INIT, d = ML_BUF_INIT;

		assert_int_equal(ml_base64url_encode(&e, data, len), 0);
		assert_int_equal(e.len, (4 * len + 2) / 3);
		assert_null(memchr(ml_buf_str(&e), '=', e.len));
		assert_null(memchr(ml_buf_str(&e), '+', e.len));
		assert_null(memchr(ml_buf_str(&e), '/', e.len));
		assert_int_equal(ml_base64url_decode(&d, ml_buf_str(&e), e.len), 0);
		assert_int_equal(d.len, len);
		if (len)
			assert_memory_equal(d.data, data, len);
		ml_buf_dispose(&e);
		ml_buf_dispose(&d);
	}
}

/* A large input goes through EVP_EncodeBlock in several pieces. */
static void test_base64_large(void **state)
{
	size_t len = (3 << 14) * 3 + 5, i;
	unsigned char *data = malloc(len);
	struct ml_buf e = ML_BUF_INIT, d = ML_BUF_INIT, u = ML_BUF_INIT;

	(void)state;
	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 13 + (i >> 8));
	assert_int_equal(ml_base64_encode(&e, data, len), 0);
	assert_int_equal(e.len, 4 * ((len + 2) / 3));
	assert_int_equal(strlen(ml_buf_str(&e)), e.len);
	assert_int_equal(ml_base64_decode(&d, e.data, e.len), 0);
	assert_int_equal(d.len, len);
	assert_memory_equal(d.data, data, len);
	assert_int_equal(ml_base64url_encode(&u, data, len), 0);
	for (i = 0; i < u.len; i++)
		assert_int_equal(u.data[i], e.data[i] == '+' ? '-' : e.data[i] == '/' ? '_' : e.data[i]);
	ml_buf_dispose(&e);
	ml_buf_dispose(&d);
	ml_buf_dispose(&u);
	free(data);
}

#define S(lit) { lit, sizeof(lit) - 1 }
static const struct {
	const char *s;
	size_t len;
} malformed_url[] = {
	S("Z"),		/* one character cannot hold a byte */
	S("Zm9vY"),
	S("Zg=="),	/* padding */
	S("Zg="),
	S("Zm8="),
	S("+/+/"),	/* standard alphabet */
	S("Zm9v+A"),
	S("Zm9v/A"),
	S("Zm9v!A"),	/* outside the alphabet */
	S("Zm 9v"),
	S("Zm9v\n"),
	S("Zg\0A"),	/* an embedded NUL */
	S("Zg.A"),
};
#undef S

static void test_base64url_malformed(void **state)
{
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(malformed_url) / sizeof(malformed_url[0]); i++) {
		struct ml_buf b = ML_BUF_INIT;
		int rc;

		ml_buf_adds(&b, "keep");
		rc = ml_base64url_decode(&b, malformed_url[i].s, malformed_url[i].len);
		if (rc != -ML_EPROTO || strcmp(ml_buf_str(&b), "keep") != 0) {
			print_error("malformed base64url #%zu '%s' accepted: rc %d\n", i,
				    malformed_url[i].s, rc);
			bad++;
		}
		ml_buf_dispose(&b);
	}
	if (bad)
		fail_msg("%zu malformed base64url inputs were accepted", bad);
}

static void test_base64_encode_over_cap(void **state)
{
	struct ml_buf b;

	(void)state;
	ml_buf_init(&b, 8);
	ml_buf_adds(&b, "ab");
	assert_int_equal(ml_base64_encode(&b, "foobar", 6), -ML_ETOOBIG);
	assert_string_equal(ml_buf_str(&b), "ab");
	assert_int_equal(ml_base64url_encode(&b, "foobar", 6), -ML_ETOOBIG);
	assert_string_equal(ml_buf_str(&b), "ab");
	assert_int_equal(ml_base64url_encode(&b, "foob", 4), 0);
	assert_string_equal(ml_buf_str(&b), "abZm9vYg");
	ml_buf_dispose(&b);
}

/* Keys and a certificate made by the openssl command, once for the RSA tests. */
struct keys {
	char dir[64];
	struct ml_buf pkcs8, pkcs1, ec, enc, cert, combined;
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void slurp(const struct keys *k, const char *name, struct ml_buf *out)
{
	struct ml_error err = { 0, "" };
	char *path = ml_path_join(k->dir, name);

	if (ml_read_file(path, 1 << 20, out, &err) < 0)
		fail_msg("%s", err.msg);
	free(path);
}

static int keys_setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));

	snprintf(k->dir, sizeof(k->dir), "/tmp/test-digest-XXXXXX");
	if (!mkdtemp(k->dir))
		return -1;
	if (sh("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	       "-out pkcs8.pem 2>/dev/null && "
	       "openssl rsa -traditional -in pkcs8.pem -out pkcs1.pem 2>/dev/null && "
	       "openssl pkey -in pkcs8.pem -pubout -out pub.pem && "
	       "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem && "
	       "openssl pkey -in pkcs8.pem -aes256 -passout pass:hunter2 -out enc.pem && "
	       "openssl req -x509 -new -key pkcs8.pem -subj /CN=mldeploy-test -days 2 "
	       "-out cert.pem && cat cert.pem pkcs8.pem > combined.pem && "
	       "openssl x509 -in cert.pem -noout -fingerprint -sha1 > sha1.txt",
	       k->dir) != 0)
		return -1;
	slurp(k, "pkcs8.pem", &k->pkcs8);
	slurp(k, "pkcs1.pem", &k->pkcs1);
	slurp(k, "ec.pem", &k->ec);
	slurp(k, "enc.pem", &k->enc);
	slurp(k, "cert.pem", &k->cert);
	slurp(k, "combined.pem", &k->combined);
	*state = k;
	return 0;
}

static int keys_teardown(void **state)
{
	struct keys *k = *state;

	ml_remove_tree(k->dir);
	ml_buf_dispose(&k->pkcs8);
	ml_buf_dispose(&k->pkcs1);
	ml_buf_dispose(&k->ec);
	ml_buf_dispose(&k->enc);
	ml_buf_dispose(&k->cert);
	ml_buf_dispose(&k->combined);
	free(k);
	return 0;
}

/* PKCS#1 v1.5 is deterministic: our signature must equal `openssl dgst -sign`'s, and
 * `openssl dgst -verify` must accept it with the public key. */
static void check_sign(const struct keys *k, const struct ml_buf *pem, const char *keyfile,
		       const char *data, size_t len)
{
	struct ml_error err = { 0, "" };
	struct ml_buf sig = ML_BUF_INIT, want = ML_BUF_INIT;
	char *path = ml_path_join(k->dir, "data");

	assert_int_equal(ml_write_file_atomic(path, data, len, &err), 0);
	ml_buf_adds(&sig, "x");
	assert_int_equal(ml_rsa_sha256_sign(&sig, pem->data, pem->len, data, len, &err), 0);
	assert_int_equal(sig.len, 1 + 256);
	assert_int_equal(sh("cd %s && openssl dgst -sha256 -sign %s -out want.sig data", k->dir,
			    keyfile), 0);
	slurp(k, "want.sig", &want);
	assert_int_equal(want.len, 256);
	assert_memory_equal(sig.data + 1, want.data, 256);
	free(path);
	path = ml_path_join(k->dir, "got.sig");
	assert_int_equal(ml_write_file_atomic(path, sig.data + 1, 256, &err), 0);
	assert_int_equal(sh("cd %s && openssl dgst -sha256 -verify pub.pem -signature got.sig "
			    "data >/dev/null", k->dir), 0);
	/* the same signature does not verify other data */
	assert_int_equal(sh("cd %s && printf x >> data && openssl dgst -sha256 -verify pub.pem "
			    "-signature got.sig data >/dev/null 2>&1", k->dir) != 0, 1);
	free(path);
	ml_buf_dispose(&sig);
	ml_buf_dispose(&want);
}

static void test_rsa_sign_matches_openssl(void **state)
{
	const struct keys *k = *state;
	static const char msg[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtbGRlcGxveSJ9";
	char big[5000];

	memset(big, 'q', sizeof(big));
	check_sign(k, &k->pkcs8, "pkcs8.pem", msg, strlen(msg));
	check_sign(k, &k->pkcs1, "pkcs1.pem", msg, strlen(msg));
	check_sign(k, &k->pkcs1, "pkcs1.pem", "", 0);
	check_sign(k, &k->pkcs8, "pkcs8.pem", big, sizeof(big));
	/* a key after a certificate, as in Azure's combined PEM files */
	check_sign(k, &k->combined, "pkcs8.pem", msg, strlen(msg));
}

/* The key's text must never reach an error message. */
static void assert_no_key_text(const struct ml_error *err)
{
	assert_true(err->msg[0] != '\0');
	assert_null(strstr(err->msg, "MII"));
	assert_null(strstr(err->msg, "-----"));
	assert_null(strstr(err->msg, "hunter2"));
}

static void test_rsa_sign_refusals(void **state)
{
	const struct keys *k = *state;
	struct ml_error err = { 0, "" };
	struct ml_buf sig = ML_BUF_INIT, mangled = ML_BUF_INIT;
	const char *mid;

	ml_buf_adds(&sig, "keep");
	/* an EC key: the type is named */
	assert_int_equal(ml_rsa_sha256_sign(&sig, k->ec.data, k->ec.len, "a", 1, &err), -ML_EAUTH);
	assert_non_null(strstr(err.msg, "'EC'"));
	assert_no_key_text(&err);
	/* an encrypted key: refused without asking for a passphrase */
	assert_int_equal(ml_rsa_sha256_sign(&sig, k->enc.data, k->enc.len, "a", 1, &err), -ML_EAUTH);
	assert_non_null(strstr(err.msg, "encrypted"));
	assert_no_key_text(&err);
	/* a certificate alone, nothing, NULL, text that is not PEM */
	assert_int_equal(ml_rsa_sha256_sign(&sig, k->cert.data, k->cert.len, "a", 1, &err),
			 -ML_EAUTH);
	assert_non_null(strstr(err.msg, "no PEM private key"));
	assert_no_key_text(&err);
	assert_int_equal(ml_rsa_sha256_sign(&sig, "", 0, "a", 1, &err), -ML_EAUTH);
	assert_int_equal(ml_rsa_sha256_sign(&sig, NULL, 0, "a", 1, &err), -ML_EAUTH);
	assert_int_equal(ml_rsa_sha256_sign(&sig, "MIIsecret", 9, "a", 1, &err), -ML_EAUTH);
	assert_no_key_text(&err);
	/* a key cut short, and one with a character changed in its middle */
	assert_int_equal(ml_rsa_sha256_sign(&sig, k->pkcs8.data, k->pkcs8.len / 2, "a", 1, &err),
			 -ML_EAUTH);
	assert_no_key_text(&err);
	ml_buf_add(&mangled, k->pkcs1.data, k->pkcs1.len);
	mid = strchr(mangled.data + 40, '\n');
	assert_non_null(mid);
	mangled.data[mid - mangled.data + 1] = '*';
	assert_int_equal(ml_rsa_sha256_sign(&sig, mangled.data, mangled.len, "a", 1, &err),
			 -ML_EAUTH);
	assert_no_key_text(&err);
	/* the length is honoured: the same key without its last line is no key */
	assert_int_equal(ml_rsa_sha256_sign(&sig, k->pkcs1.data, k->pkcs1.len - 30, "a", 1, &err),
			 -ML_EAUTH);
	assert_string_equal(ml_buf_str(&sig), "keep");
	ml_buf_dispose(&sig);
	ml_buf_dispose(&mangled);

	/* no room for the signature */
	ml_buf_init(&sig, 100);
	assert_int_equal(ml_rsa_sha256_sign(&sig, k->pkcs8.data, k->pkcs8.len, "a", 1, &err),
			 -ML_ETOOBIG);
	assert_int_equal(sig.len, 0);
	ml_buf_dispose(&sig);
}

static void test_cert_x5t(void **state)
{
	const struct keys *k = *state;
	struct ml_error err = { 0, "" };
	struct ml_buf fp = ML_BUF_INIT, raw = ML_BUF_INIT, want = ML_BUF_INIT;
	char x5t[ML_X5T_LEN];
	const char *p;

	/* "SHA1 Fingerprint=AB:CD:..." from openssl x509, turned into base64url */
	slurp(k, "sha1.txt", &fp);
	p = strchr(ml_buf_str(&fp), '=');
	assert_non_null(p);
	for (p++; p[0] && p[1] && p[0] != '\n'; p += p[2] == ':' ? 3 : 2) {
		char byte[3] = { p[0], p[1], 0 };

		ml_buf_addch(&raw, (char)strtoul(byte, NULL, 16));
	}
	assert_int_equal(raw.len, 20);
	ml_base64url_encode(&want, raw.data, raw.len);
	assert_int_equal(want.len, 27);

	assert_int_equal(ml_cert_x5t(x5t, k->cert.data, k->cert.len, &err), 0);
	assert_string_equal(x5t, ml_buf_str(&want));
	/* the first certificate of a combined file */
	memset(x5t, 0, sizeof(x5t));
	assert_int_equal(ml_cert_x5t(x5t, k->combined.data, k->combined.len, &err), 0);
	assert_string_equal(x5t, ml_buf_str(&want));

	assert_int_equal(ml_cert_x5t(x5t, k->pkcs8.data, k->pkcs8.len, &err), -ML_EAUTH);
	assert_non_null(strstr(err.msg, "no PEM certificate"));
	assert_no_key_text(&err);
	assert_int_equal(ml_cert_x5t(x5t, k->cert.data, k->cert.len / 2, &err), -ML_EAUTH);
	assert_int_equal(ml_cert_x5t(x5t, NULL, 0, &err), -ML_EAUTH);
	ml_buf_dispose(&fp);
	ml_buf_dispose(&raw);
	ml_buf_dispose(&want);
}

int main(void)
{
	const struct CMUnitTest rsa[] = {
		cmocka_unit_test(test_rsa_sign_matches_openssl),
		cmocka_unit_test(test_rsa_sign_refusals),
		cmocka_unit_test(test_cert_x5t),
	};
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
		cmocka_unit_test(test_sha256_raw_and_hex),
		cmocka_unit_test(test_hmac_sha256_rfc4231),
		cmocka_unit_test(test_hmac_sha256_empty),
		cmocka_unit_test(test_base64url_rfc4648),
		cmocka_unit_test(test_base64url_alphabet_and_round_trip),
		cmocka_unit_test(test_base64_large),
		cmocka_unit_test(test_base64url_malformed),
		cmocka_unit_test(test_base64_encode_over_cap),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed + cmocka_run_group_tests_name("rsa", rsa, keys_setup, keys_teardown);
}
