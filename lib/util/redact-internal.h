/* Shared by redact.c (names, characters, URLs, forms, headers), redact-text.c (the
 * textual scanner) and redact-body.c (JSON, the choice by format). Not for other files. */
#ifndef ML_REDACT_INTERNAL_H
#define ML_REDACT_INTERNAL_H

#include <stddef.h>

#include "util/buf.h"

/* How deep redaction goes into values found inside values (a URL in a query
 * parameter, JSON in a JSON string, XML escaped in XML); deeper values that could
 * hold anything are redacted whole. */
#define ML_REDACT_DEPTH_MAX 6

/* in_url: OAuth's "code" is a secret in a query string or form, an error code in JSON. */
int ml_redact_name_is_secret(const char *s, size_t n, int in_url);
/* The same for a percent-encoded name. */
int ml_redact_pct_name_is_secret(const char *s, size_t n, int in_url);
/* An operation's answer ("GetSessionTokenResponse", "AssumeRoleResult"): named like a
 * secret, but when it holds a document, what is secret in there is named again. */
int ml_redact_name_is_wrapper(const char *s, size_t n);
/* A name that says what the next "value" holds ("name", "OptionName", "key" ...),
 * and the names of that value ("value", "ParameterValue"). */
int ml_redact_pair_name(const char *s, size_t n);
int ml_redact_pair_value(const char *s, size_t n);

int ml_redact_ieq(const char *s, size_t n, const char *lower_word);
int ml_redact_is_name_char(unsigned char c);	/* [A-Za-z0-9_.-] */
int ml_redact_hexval(unsigned char c);		/* -1 when not a hex digit */
int ml_redact_is_pct(const char *s, size_t n);	/* "%XX" at s */
size_t ml_redact_scheme_len(const char *s, size_t n);	/* "scheme:" before "//", or 0 */

/* One character (or control sequence) copied, controls and invalid UTF-8 as '?' (\n
 * and \t kept when keep_newlines); returns the bytes taken. */
size_t ml_redact_put_char(struct ml_buf *out, const char *s, size_t n, int keep_newlines);
void ml_redact_put_clean(struct ml_buf *out, const char *p, size_t n, int keep_newlines);

void ml_redact_url_at(struct ml_buf *out, const char *url, size_t n, int depth);
/* A form body "a=1&b=2" field by field. */
void ml_redact_form_at(struct ml_buf *out, const char *s, size_t n, int depth);
/* ml_redact_text without a cut, at a depth. */
void ml_redact_text_at(struct ml_buf *out, const char *text, size_t n, int keep_newlines,
		       int depth);
/* A value of unknown format: JSON when it parses, else text (XML entities decoded
 * when that shows a secret), at a depth. */
void ml_redact_any_at(struct ml_buf *out, const char *s, size_t n, int keep_newlines, int depth);

#endif
