#include "wrap/digest.h"

#include <errno.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

struct ml_sha256 {
	EVP_MD_CTX *ctx;
};

struct ml_sha256 *ml_sha256_new(void)
{
	struct ml_sha256 *h = ml_calloc(1, sizeof(*h));

	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL))
		abort();
	return h;
}

void ml_sha256_update(struct ml_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void ml_hex_encode(char *out, const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *md = data;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * len] = '\0';
}

void ml_sha256_final(struct ml_sha256 *h, char out[ML_DIGEST_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	memcpy(out, "sha256:", 7);
	ml_hex_encode(out + 7, md, n);
}

void ml_sha256_reset(struct ml_sha256 *h)
{
	EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

void ml_sha256_free(struct ml_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void ml_sha256_digest(const void *data, size_t len, char out[ML_DIGEST_LEN])
{
	struct ml_sha256 *h = ml_sha256_new();

	ml_sha256_update(h, data, len);
	ml_sha256_final(h, out);
	ml_sha256_free(h);
}

void ml_sha256_raw(const void *data, size_t len, unsigned char out[ML_SHA256_LEN])
{
	if (!EVP_Digest(data ? data : "", len, out, NULL, EVP_sha256(), NULL))
		abort();
}

void ml_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		    unsigned char out[ML_SHA256_LEN])
{
	size_t n = 0;

	/* OpenSSL takes a NULL key as "keep the previous one", which has none here */
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key ? key : "", key_len,
		       data ? data : "", len, out, ML_SHA256_LEN, &n) || n != ML_SHA256_LEN)
		abort();
}

void ml_pbkdf2_sha256(const void *secret, size_t len, const void *salt, size_t salt_len,
		      unsigned iterations, unsigned char out[ML_SHA256_LEN])
{
	if (!PKCS5_PBKDF2_HMAC(secret ? secret : "", (int)len, salt ? salt : "", (int)salt_len,
			       (int)iterations, EVP_sha256(), ML_SHA256_LEN, out))
		abort();
}

int ml_sha256_fd(int fd, char out[ML_DIGEST_LEN], uint64_t *size, struct ml_error *err)
{
	struct ml_sha256 *h = ml_sha256_new();
	static __thread char block[1 << 16];
	uint64_t total = 0;
	ssize_t n;
	int rc = 0;

	while ((n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = ml_error_errno(err, ML_EIO, errno, "cannot read file to hash it");
			goto out;
		}
		ml_sha256_update(h, block, (size_t)n);
		total += (uint64_t)n;
	}
	ml_sha256_final(h, out);
	if (size)
		*size = total;
out:
	ml_sha256_free(h);
	return rc;
}

int ml_digest_valid(const char *s)
{
	size_t i;

	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return 0;
	for (i = 7; i < 71; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

const char *ml_digest_hex(const char *digest)
{
	return digest + 7;
}

#define B64_LEN(n) (4 * (((n) + 2) / 3) + 1)	/* with padding and a NUL */
#define B64_CHUNK (3 << 14)	/* EVP_EncodeBlock takes an int; a multiple of 3 */

/* Writes the base64 of len bytes into dst (B64_LEN(len) bytes), URL-safe and without
 * padding when url is set; returns the length written before the NUL. */
static size_t b64_encode(char *dst, const void *data, size_t len, int url)
{
	const unsigned char *src = data;
	size_t o = 0, n, i;

	dst[0] = '\0';
	while (len) {
		n = len < B64_CHUNK ? len : B64_CHUNK;
		o += (size_t)EVP_EncodeBlock((unsigned char *)dst + o, src, (int)n);
		src += n;
		len -= n;
	}
	if (!url)
		return o;
	while (o && dst[o - 1] == '=')
		dst[--o] = '\0';
	for (i = 0; i < o; i++)
		dst[i] = dst[i] == '+' ? '-' : dst[i] == '/' ? '_' : dst[i];
	return o;
}

static int encode(struct ml_buf *out, const void *data, size_t len, int url)
{
	char *tmp = ml_malloc(B64_LEN(len));
	size_t n = b64_encode(tmp, data, len, url);
	int rc = ml_buf_add(out, tmp, n);

	free(tmp);
	return rc;
}

int ml_base64_encode(struct ml_buf *out, const void *data, size_t len)
{
	return encode(out, data, len, 0);
}

int ml_base64url_encode(struct ml_buf *out, const void *data, size_t len)
{
	return encode(out, data, len, 1);
}

void ml_digest_base64url(const char *digest, char out[ML_DIGEST_B64URL_LEN])
{
	long n = 0;
	unsigned char *raw = OPENSSL_hexstr2buf(ml_digest_hex(digest), &n);
	char b64[B64_LEN(ML_SHA256_LEN)];

	if (!raw || n != ML_SHA256_LEN)
		abort();
	b64_encode(b64, raw, (size_t)n, 1);
	OPENSSL_free(raw);
	memcpy(out, b64, ML_DIGEST_B64URL_LEN);
}

static int b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int ml_base64_decode(struct ml_buf *out, const char *s, size_t len)
{
	size_t n = 3 * ((len + 3) / 4) + 1, i, pad = 0;
	unsigned char *tmp;
	int w, rc;

	if (len % 4)
		return -ML_EPROTO;
	while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
		pad++;
	for (i = 0; i < len - pad; i++)
		if (!b64_char(s[i]))
			return -ML_EPROTO;
	tmp = ml_malloc(n);
	w = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
	rc = w < 0 ? -ML_EPROTO : ml_buf_add(out, tmp, (size_t)w - pad);
	free(tmp);
	return rc;
}

int ml_base64url_decode(struct ml_buf *out, const char *s, size_t len)
{
	size_t padded = (len + 3) / 4 * 4, i;
	char *tmp;
	int rc;

	if (len % 4 == 1)
		return -ML_EPROTO;
	tmp = ml_malloc(padded + 1);
	for (i = 0; i < len; i++) {
		if (s[i] == '+' || s[i] == '/' || s[i] == '=') {
			free(tmp);
			return -ML_EPROTO;
		}
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	}
	memset(tmp + len, '=', padded - len);
	rc = ml_base64_decode(out, tmp, padded);
	free(tmp);
	return rc;
}

#define PEM_MAX (1 << 20)	/* far more than a PEM key or certificate chain needs */

/* The passphrase callback: never prompts (OpenSSL's default reads the terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)asked = 1;
	return -1;
}

/* A read-only BIO over the caller's text: the PEM is read in place, never copied. */
static BIO *pem_bio(const char *pem, size_t len)
{
	return BIO_new_mem_buf(pem ? pem : "", pem ? (int)len : 0);
}

static int load_rsa_key(EVP_PKEY **out, const char *pem, size_t len, struct ml_error *err)
{
	EVP_PKEY *key = NULL;
	BIO *bio;
	int asked = 0;

	if (len > PEM_MAX)
		return ml_error_set(err, ML_EAUTH, "private key: %zu bytes is too long for a PEM key",
				    len);
	bio = pem_bio(pem, len);
	if (!bio)
		return ml_error_set(err, ML_EINTERNAL, "private key: openssl cannot make a BIO");
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
	BIO_free(bio);
	if (!key && asked)
		return ml_error_set(err, ML_EAUTH, "private key is encrypted (remove its passphrase: "
				    "openssl pkey -in KEY -out PLAIN-KEY)");
	if (!key)
		return ml_error_set(err, ML_EAUTH, "no PEM private key found (want a 'BEGIN PRIVATE "
				    "KEY' or 'BEGIN RSA PRIVATE KEY' block)");
	if (!EVP_PKEY_is_a(key, "RSA")) {
		ml_error_set(err, ML_EAUTH, "private key is of type '%s'; RS256 needs 'RSA'",
			     EVP_PKEY_get0_type_name(key));
		EVP_PKEY_free(key);
		return -ML_EAUTH;
	}
	*out = key;
	return 0;
}

int ml_rsa_sha256_sign(struct ml_buf *sig, const char *pem, size_t pem_len, const void *data,
		       size_t len, struct ml_error *err)
{
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *raw = NULL;
	size_t n = 0;
	int rc;

	ERR_set_mark();
	rc = load_rsa_key(&key, pem, pem_len, err);
	if (rc < 0)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_DigestSign(ctx, NULL, &n, data ? data : "", len) != 1) {
		rc = ml_error_set(err, ML_EINTERNAL, "cannot sign with the RSA key: openssl failed");
		goto out;
	}
	raw = ml_malloc(n);
	if (EVP_DigestSign(ctx, raw, &n, data ? data : "", len) != 1) {
		rc = ml_error_set(err, ML_EINTERNAL, "cannot sign with the RSA key: openssl failed");
		goto out;
	}
	rc = ml_buf_add(sig, raw, n);
	if (rc < 0)
		ml_error_set(err, ML_ETOOBIG, "an RSA signature of %zu bytes is over the buffer's cap",
			     n);
out:
	free(raw);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);	/* clears the private numbers (BN_clear_free) */
	ERR_pop_to_mark();	/* no stale errors left for curl's OpenSSL to find */
	return rc;
}

int ml_cert_x5t(char out[ML_X5T_LEN], const char *pem, size_t pem_len, struct ml_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char b64[B64_LEN(EVP_MAX_MD_SIZE)];
	X509 *cert = NULL;
	unsigned n = 0;
	BIO *bio = NULL;
	int asked = 0, rc = 0;

	ERR_set_mark();
	if (pem_len > PEM_MAX) {
		rc = ml_error_set(err, ML_EAUTH, "certificate: %zu bytes is too long for a PEM text",
				  pem_len);
		goto out;
	}
	bio = pem_bio(pem, pem_len);
	if (bio)
		cert = PEM_read_bio_X509(bio, NULL, no_passphrase, &asked);
	if (!cert) {
		rc = ml_error_set(err, ML_EAUTH,
				  "no PEM certificate found (want a 'BEGIN CERTIFICATE' block)");
		goto out;
	}
	if (!X509_digest(cert, EVP_sha1(), md, &n) || n != 20) {
		rc = ml_error_set(err, ML_EINTERNAL, "cannot hash the certificate: openssl failed");
		goto out;
	}
	b64_encode(b64, md, n, 1);
	memcpy(out, b64, ML_X5T_LEN);
out:
	X509_free(cert);
	BIO_free(bio);
	ERR_pop_to_mark();
	return rc;
}
