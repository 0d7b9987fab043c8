/* The one place where secrets are taken out of text that may reach a terminal or log. */
#ifndef ML_REDACT_H
#define ML_REDACT_H

#include <stddef.h>

#include "util/buf.h"

/* Appends "Name: value" to out, with the value replaced by "<redacted>" when the
 * header carries a credential (Authorization, Proxy-Authorization, Cookie,
 * Set-Cookie, X-Amz-Security-Token, X-Registry-Auth, any name containing
 * "token", "secret", "signature", "password" or "key"), and otherwise with the
 * value's URLs passed through ml_redact_url and control characters stripped. */
void ml_redact_header(struct ml_buf *out, const char *name, const char *value);

/* Appends url to out without user:password@ and with the values of query
 * parameters that carry secrets (X-Amz-Signature, X-Amz-Credential,
 * X-Amz-Security-Token, sig, signature, token, access_token, code, password,
 * secret, key, ...) replaced by "<redacted>". */
void ml_redact_url(struct ml_buf *out, const char *url);
/* ml_redact_url into a new string (malloc'ed). */
char *ml_redacted_url(const char *url);

/* Appends text from a server or a file with control characters (C0 except \n and
 * \t, DEL, C1, ESC sequences) replaced by '?', and JSON/form members named like a
 * secret ("token", "access_token", "refresh_token", "password", "secret",
 * "client_secret", "Secret") blanked. At most max bytes of text are taken
 * ("..." marks a cut). */
void ml_redact_text(struct ml_buf *out, const char *text, size_t len, size_t max);

/* Replaces control characters in s (in place) by '?'; for short server strings
 * put into error messages. */
void ml_sanitize(char *s);

#endif
