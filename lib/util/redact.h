/* The one place where secrets are taken out of text that may reach a terminal or log.
 *
 * One rule names secrets everywhere (JSON members, XML elements and attributes, form
 * fields, query parameters), compared case-insensitively after unescaping: a name
 * containing "token", "secret", "passw", "signature", "credential", "authoriz",
 * "cookie" or "secure", or ending with "key", "assertion", "auth", "sig", "pwd" or
 * "pass"; in URLs and forms also "code" (OAuth's). What a secret name holds is
 * replaced by ML_REDACTED, whatever it is (string, array, object, element content). */
#ifndef ML_REDACT_H
#define ML_REDACT_H

#include <stddef.h>

#include "util/buf.h"

#define ML_REDACTED "<redacted>"

/* 1 when a header of that name carries a credential: Authorization,
 * Proxy-Authorization, Cookie, Set-Cookie, X-Amz-Security-Token, X-Registry-Auth,
 * X-Identity-Header, Ocp-Apim-Subscription-Key, and any name containing "token",
 * "secret", "signature", "passw", "key", "auth", "credential", "cookie" or
 * "assertion" (but WWW-Authenticate and Proxy-Authenticate, which are challenges). */
int ml_redact_header_is_secret(const char *name);

/* Appends "Name: value" to out, with the value replaced by ML_REDACTED when the
 * header carries a credential (ml_redact_header_is_secret), and otherwise with the
 * value passed through ml_redact_text (URLs, "Bearer ...", name=value). */
void ml_redact_header(struct ml_buf *out, const char *name, const char *value);

/* Appends url to out without user:password@ and with the values of query
 * parameters that carry secrets (X-Amz-Signature, X-Amz-Credential,
 * X-Amz-Security-Token, sig, signature, token, access_token, code, password,
 * secret, key, ...; names percent-decoded) replaced by ML_REDACTED; other values
 * are decoded and redacted in turn (a URL or JSON inside a parameter). The result
 * is printable ASCII. */
void ml_redact_url(struct ml_buf *out, const char *url);
/* ml_redact_url into a new string (malloc'ed). */
char *ml_redacted_url(const char *url);

/* Appends text from a server or a file with control characters (C0 except \n and
 * \t, DEL, C1, ESC sequences) replaced by '?', and found textually: JSON members
 * with a secret name (keys unescaped; string, array, object or scalar values, also
 * inside an escaped JSON string), name=value pairs, URLs (as ml_redact_url) and
 * "Bearer/Basic <credential>". At most max bytes of text are taken (0: all; "..."
 * marks a cut). */
void ml_redact_text(struct ml_buf *out, const char *text, size_t len, size_t max);

/* Appends a request or response body with its secrets taken out, by its format:
 * JSON (application/json, *+json, x-amz-json-*, or a body that starts with '{' or
 * '[') is parsed and printed again (compact) with the values of secret members
 * replaced and every other string redacted in turn (a JSON document inside a string
 * too); XML (application/xml, text/xml, *+xml, or a body that starts with '<') is
 * redacted textually by element and attribute name (namespace prefixes, CDATA,
 * comments; an element whose end cannot be found is redacted to the end of the
 * body); application/x-www-form-urlencoded field by field (names decoded). A body
 * that is not what its type says is sniffed; anything else goes through
 * ml_redact_text. content_type may be NULL. At most max bytes are appended (0: no
 * limit; "..." marks a cut). */
void ml_redact_body(struct ml_buf *out, const char *content_type, const void *data, size_t len,
		    size_t max);

/* Replaces control characters in s (in place) by '?'; for short server strings
 * put into error messages. */
void ml_sanitize(char *s);

#endif
