#include "wrap/digest.h"

#include <errno.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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

static void to_hex(char *out, const unsigned char *md, unsigned n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

void ml_sha256_final(struct ml_sha256 *h, char out[ML_DIGEST_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	memcpy(out, "sha256:", 7);
	to_hex(out + 7, md, n);
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

void ml_base64_encode(struct ml_buf *out, const void *data, size_t len)
{
	size_t n = 4 * ((len + 2) / 3) + 1;
	char *tmp = ml_malloc(n);
	int w = EVP_EncodeBlock((unsigned char *)tmp, data, (int)len);

	ml_buf_add(out, tmp, (size_t)w);
	free(tmp);
}

void ml_digest_base64url(const char *digest, char out[ML_DIGEST_B64URL_LEN])
{
	long n = 0;
	unsigned char *raw = OPENSSL_hexstr2buf(ml_digest_hex(digest), &n);
	unsigned char b64[48];
	int w, i, o = 0;

	if (!raw)
		abort();
	w = EVP_EncodeBlock(b64, raw, (int)n);
	OPENSSL_free(raw);
	for (i = 0; i < w && b64[i] != '=' && o < ML_DIGEST_B64URL_LEN - 1; i++)
		out[o++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	out[o] = '\0';
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
