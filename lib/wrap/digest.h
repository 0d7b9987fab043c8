/* SHA-256, HMAC-SHA-256, RSA-SHA256 signatures, certificate thumbprints and
 * base64 over OpenSSL; only digest.c includes openssl headers. */
#ifndef ML_DIGEST_H
#define ML_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define ML_DIGEST_LEN 72	/* "sha256:" + 64 hex + NUL, rounded */
#define ML_DIGEST_B64URL_LEN 44	/* a sha256 in URL-safe base64 without padding + NUL */
#define ML_SHA256_LEN 32	/* raw SHA-256 and HMAC-SHA-256 output */
#define ML_X5T_LEN 28		/* a SHA-1 thumbprint in URL-safe base64 without padding + NUL */

struct ml_sha256;

struct ml_sha256 *ml_sha256_new(void);
void ml_sha256_update(struct ml_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<hex>" into out; h can be used again after ml_sha256_reset. */
void ml_sha256_final(struct ml_sha256 *h, char out[ML_DIGEST_LEN]);
void ml_sha256_reset(struct ml_sha256 *h);
void ml_sha256_free(struct ml_sha256 *h);

void ml_sha256_digest(const void *data, size_t len, char out[ML_DIGEST_LEN]);
/* Hashes an open file from its current offset to the end; size gets the byte count. */
int ml_sha256_fd(int fd, char out[ML_DIGEST_LEN], uint64_t *size, struct ml_error *err);

/* Whether s is "sha256:" followed by 64 lower-case hex digits. */
int ml_digest_valid(const char *s);
/* The hex part of a valid digest. */
const char *ml_digest_hex(const char *digest);

/* Raw SHA-256 of a buffer (ml_sha256_digest gives the "sha256:<hex>" string). */
void ml_sha256_raw(const void *data, size_t len, unsigned char out[ML_SHA256_LEN]);
/* HMAC-SHA-256 (RFC 2104) of data under key, raw. */
/* PBKDF2-HMAC-SHA-256 (RFC 8018): a slow, salted digest of a secret, for a value
 * that may be seen by others but must not let them test guesses cheaply. */
void ml_pbkdf2_sha256(const void *secret, size_t len, const void *salt, size_t salt_len,
		      unsigned iterations, unsigned char out[ML_SHA256_LEN]);
void ml_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		    unsigned char out[ML_SHA256_LEN]);
/* Lower-case hex of len bytes into out, which holds 2 * len + 1 chars. */
void ml_hex_encode(char *out, const void *data, size_t len);

/* The encoders append to out and return 0, or -ML_ETOOBIG (out unchanged) at its cap.
 * Standard alphabet with padding (RFC 4648 section 4). */
int ml_base64_encode(struct ml_buf *out, const void *data, size_t len);
/* Standard alphabet with padding; -ML_EPROTO on malformed input. */
int ml_base64_decode(struct ml_buf *out, const char *s, size_t len);
/* URL-safe alphabet without padding (RFC 4648 section 5, as JWTs use it). */
int ml_base64url_encode(struct ml_buf *out, const void *data, size_t len);
/* URL-safe alphabet without padding: '=', '+' and '/' are refused (-ML_EPROTO). */
int ml_base64url_decode(struct ml_buf *out, const char *s, size_t len);
/* The bytes of a valid digest in the URL-safe base64 alphabet without padding,
 * as Python wheels' RECORD files write hashes. */
void ml_digest_base64url(const char *digest, char out[ML_DIGEST_B64URL_LEN]);

/* RSASSA-PKCS1-v1_5 with SHA-256 (JWT "RS256") of data, appended to sig (which is
 * not NUL-safe: use sig->len). pem is a PEM private key, "BEGIN PRIVATE KEY"
 * (PKCS#8) or "BEGIN RSA PRIVATE KEY" (PKCS#1), unencrypted, borrowed; other PEM
 * blocks around it (a certificate) are skipped. The key OpenSSL decodes is wiped
 * when freed; errors never quote the PEM text. -ML_EAUTH when pem holds no usable
 * RSA key, -ML_ETOOBIG when sig is full, -ML_EINTERNAL when OpenSSL fails. */
int ml_rsa_sha256_sign(struct ml_buf *sig, const char *pem, size_t pem_len, const void *data,
		       size_t len, struct ml_error *err);

/* The SHA-1 thumbprint of the first certificate in a PEM text, in URL-safe base64
 * without padding: JOSE's "x5t" header (RFC 7515 section 4.1.7), as Microsoft
 * Entra ID wants it in client assertions. -ML_EAUTH when pem holds no certificate. */
int ml_cert_x5t(char out[ML_X5T_LEN], const char *pem, size_t pem_len, struct ml_error *err);

#endif
