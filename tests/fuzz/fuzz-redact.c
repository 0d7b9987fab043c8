/* Redaction of server text, URLs and headers.
 *
 * Every input is passed whole to the three functions, whose output must hold no
 * terminal control characters (and, for URLs, only printable ASCII). When the
 * input's first line is a secret-looking value (8 to 256 of [A-Za-z0-9]), that
 * value is also put into text where mldeploy promises to blank it, between
 * copies of the rest of the input, and must not come out. */
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "fuzzutil.h"
#include "util/redact.h"

#define SECRET_MIN 8
#define SECRET_MAX 256
#define BEARER_MIN 12		/* shorter words after "Bearer " are not taken for credentials */

struct input {
	const uint8_t *data;
	size_t size;
};

/* Output must be valid UTF-8 without C0 (but \n and \t when keep_newlines), DEL
 * or C1: nothing a terminal would act on. */
static void check_clean(const struct ml_buf *out, int keep_newlines, const char *what,
			const struct input *in)
{
	const unsigned char *p = (const unsigned char *)ml_buf_str(out);
	size_t i = 0, len;
	unsigned cp;

	while (i < out->len) {
		len = fuzz_utf8_char(p + i, out->len - i, &cp);
		if (!len || (cp < 0x20 && !(keep_newlines && (cp == '\n' || cp == '\t'))) ||
		    (cp >= 0x7f && cp <= 0x9f)) {
			fuzz_print("output", out->data, out->len);
			fuzz_fail(what, in->data, in->size);
		}
		i += len;
	}
}

static void check_url_chars(const struct ml_buf *out, const struct input *in)
{
	size_t i;

	for (i = 0; i < out->len; i++)
		if (out->data[i] <= 0x20 || out->data[i] >= 0x7f) {
			fuzz_print("output", out->data, out->len);
			fuzz_fail("ml_redact_url output holds a byte outside printable ascii",
				  in->data, in->size);
		}
}

static void any_input(const struct input *in)
{
	struct ml_buf out = ML_BUF_INIT;
	char *s = fuzz_strndup(in->data, in->size), *colon;
	size_t max = in->size ? in->data[0] % 64 + 1 : 0;

	ml_redact_text(&out, (const char *)in->data, in->size, 0);
	check_clean(&out, 1, "ml_redact_text output holds control characters or bad utf-8", in);
	ml_buf_reset(&out);
	ml_redact_text(&out, (const char *)in->data, in->size, max);
	check_clean(&out, 1, "ml_redact_text (with max) output holds control characters", in);
	ml_buf_reset(&out);
	ml_redact_url(&out, s);
	check_url_chars(&out, in);
	ml_buf_reset(&out);
	colon = strchr(s, ':');
	if (colon)
		*colon++ = '\0';
	ml_redact_header(&out, s, colon ? colon : "");
	check_clean(&out, 0, "ml_redact_header output holds control characters or bad utf-8", in);
	ml_buf_dispose(&out);
	free(s);
}

static int is_secret(const uint8_t *p, size_t n)
{
	size_t i;

	if (n < SECRET_MIN || n > SECRET_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9')))
			return 0;
	return 1;
}

/* Text that blanks secret: context, newline, fmt with each '%' replaced by secret,
 * newline, context. */
static void build(struct ml_buf *text, const char *fmt, const char *secret,
		  const char *ctx, size_t ctxlen)
{
	ml_buf_reset(text);
	ml_buf_add(text, ctx, ctxlen);
	ml_buf_addch(text, '\n');
	for (; *fmt; fmt++)
		if (*fmt == '%')
			ml_buf_adds(text, secret);
		else
			ml_buf_addch(text, *fmt);
	ml_buf_addch(text, '\n');
	ml_buf_add(text, ctx, ctxlen);
}

/* The secret comes out of the text with it but not out of the same text without
 * it (which rules out the secret being in the context or the template). */
static void check_text_form(const char *fmt, const char *secret, const char *ctx,
			    size_t ctxlen, const struct input *in)
{
	struct ml_buf text = ML_BUF_INIT, with = ML_BUF_INIT, without = ML_BUF_INIT;
	size_t slen = strlen(secret);

	build(&text, fmt, secret, ctx, ctxlen);
	ml_redact_text(&with, text.data, text.len, 0);
	build(&text, fmt, "", ctx, ctxlen);
	ml_redact_text(&without, text.data, text.len, 0);
	if (fuzz_contains(with.data, with.len, secret, slen) &&
	    !fuzz_contains(without.data, without.len, secret, slen)) {
		fuzz_print("output", with.data, with.len);
		fuzz_fail(fmt, in->data, in->size);
	}
	ml_buf_dispose(&text);
	ml_buf_dispose(&with);
	ml_buf_dispose(&without);
}

/* Fixed URLs and headers around secret, by kind. */
static void redact_fixed(struct ml_buf *out, int kind, const char *secret)
{
	struct ml_buf url = ML_BUF_INIT;

	ml_buf_printf(&url, "https://u:%s@h.example/p?token=%s&a=b&X-Amz-Credential=%s#f",
		      secret, secret, secret);
	switch (kind) {
	case 0:
		ml_redact_url(out, ml_buf_str(&url));
		break;
	case 1:
		ml_redact_header(out, "Authorization", ml_buf_str(&url));
		break;
	case 2:
		ml_redact_header(out, "X-Api-Key", secret);
		break;
	default:
		ml_redact_header(out, "Location", ml_buf_str(&url));
	}
	ml_buf_dispose(&url);
}

static void check_fixed(int kind, const char *secret, const struct input *in)
{
	static const char *const what[] = {
		"ml_redact_url kept a secret", "ml_redact_header(Authorization) kept a secret",
		"ml_redact_header(X-Api-Key) kept a secret", "ml_redact_header(Location) kept a secret",
	};
	struct ml_buf with = ML_BUF_INIT, without = ML_BUF_INIT;
	size_t slen = strlen(secret);

	redact_fixed(&with, kind, secret);
	redact_fixed(&without, kind, "");
	if (fuzz_contains(with.data, with.len, secret, slen) &&
	    !fuzz_contains(without.data, without.len, secret, slen)) {
		fuzz_print("output", with.data, with.len);
		fuzz_fail(what[kind], in->data, in->size);
	}
	ml_buf_dispose(&with);
	ml_buf_dispose(&without);
}

static void secret_input(const char *secret, const char *ctx, size_t ctxlen,
			 const struct input *in)
{
	static const char *const forms[] = {
		"{\"token\":\"%\"}",
		"{\"access_token\": \"%\", \"expires_in\": 300, \"issued_at\": \"2024-01-01\"}",
		"{\"errors\":[{\"detail\":\"{\\\"password\\\":\\\"%\\\"}\"}]}",
		"client_secret=%&grant_type=refresh_token&refresh_token=%",
		"fetching https://user:%@registry.example/v2/x/blobs/sha256:ab"
		"?X-Amz-Signature=%&X-Amz-Date=1 failed",
		NULL,
	};
	int i;

	for (i = 0; forms[i]; i++)
		check_text_form(forms[i], secret, ctx, ctxlen, in);
	if (strlen(secret) >= BEARER_MIN)
		check_text_form("WWW-Authenticate: Basic realm=x\nAuthorization: Bearer %", secret,
				ctx, ctxlen, in);
	for (i = 0; i < 4; i++)
		check_fixed(i, secret, in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct input in = { data, size };
	const uint8_t *nl = memchr(data, '\n', size);
	size_t slen = nl ? (size_t)(nl - data) : size;
	char *secret;

	any_input(&in);
	if (!is_secret(data, slen))
		return 0;
	secret = fuzz_strndup(data, slen);
	secret_input(secret, nl ? (const char *)nl + 1 : "", nl ? size - slen - 1 : 0, &in);
	free(secret);
	return 0;
}
