/* SHA-256 and base64 over OpenSSL; only digest.c includes openssl headers. */
#ifndef ML_DIGEST_H
#define ML_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define ML_DIGEST_LEN 72	/* "sha256:" + 64 hex + NUL, rounded */
#define ML_DIGEST_B64URL_LEN 44	/* a sha256 in URL-safe base64 without padding + NUL */

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

void ml_base64_encode(struct ml_buf *out, const void *data, size_t len);
/* The bytes of a valid digest in the URL-safe base64 alphabet without padding,
 * as Python wheels' RECORD files write hashes. */
void ml_digest_base64url(const char *digest, char out[ML_DIGEST_B64URL_LEN]);
/* Standard alphabet with padding; -ML_EPROTO on malformed input. */
int ml_base64_decode(struct ml_buf *out, const char *s, size_t len);

#endif
