#include "util/redact.h"

#include <string.h>

#include "util/redact-internal.h"

#define KEY_MAX 256		/* longer names (escapes included) are not looked at */
#define BEARER_MIN 12		/* shorter words after "Bearer " are not credentials */
#define UNESCAPE_LEVELS 3	/* a key escaped inside escaped JSON, and once more */

static const char *const secret_headers[] = {
	"authorization", "proxy-authorization", "cookie", "set-cookie",
	"x-amz-security-token", "x-registry-auth", "x-identity-header",
	"ocp-apim-subscription-key", NULL,
};

/* Challenges: realm, service and scope, no credential. */
static const char *const plain_headers[] = {
	"www-authenticate", "proxy-authenticate", NULL,
};

static const char *const secret_header_words[] = {
	"token", "secret", "signature", "passw", "key", "auth", "credential", "cookie",
	"assertion", NULL,
};

/* Names (JSON members, XML elements, query parameters, form fields) containing one
 * of these ... */
static const char *const secret_name_words[] = {
	"token", "secret", "passw", "signature", "credential", "authoriz", "cookie", "secure",
	NULL,
};

/* ... or ending with one of these. */
static const char *const secret_name_suffixes[] = {
	"key", "assertion", "auth", "sig", "pwd", "pass", NULL,
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int ml_redact_ieq(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!word[i] || lower((unsigned char)s[i]) != word[i])
			return 0;
	return word[n] == '\0';
}

static int icontains(const char *s, size_t n, const char *word)
{
	size_t wlen = strlen(word), i;

	for (i = 0; i + wlen <= n; i++)
		if (ml_redact_ieq(s + i, wlen, word))
			return 1;
	return 0;
}

static int iends(const char *s, size_t n, const char *word)
{
	size_t wlen = strlen(word);

	return n >= wlen && ml_redact_ieq(s + n - wlen, wlen, word);
}

static int in_list(const char *s, size_t n, const char *const *list,
		   int (*match)(const char *, size_t, const char *))
{
	for (; *list; list++)
		if (match(s, n, *list))
			return 1;
	return 0;
}

int ml_redact_header_is_secret(const char *name)
{
	size_t n = strlen(name);

	while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	if (in_list(name, n, plain_headers, ml_redact_ieq))
		return 0;
	return in_list(name, n, secret_headers, ml_redact_ieq) ||
	       in_list(name, n, secret_header_words, icontains);
}

/* Name/value pairs: {"name": "DB_PASSWORD", "value": "..."}, <OptionName>/<Value>. */
static const char *const pair_names[] = {
	"name", "key", "optionname", "parametername", "parameterkey", NULL,
};

static const char *const pair_values[] = {
	"value", "parametervalue", NULL,
};

int ml_redact_name_is_wrapper(const char *s, size_t n)
{
	return iends(s, n, "response") || iends(s, n, "result");
}

int ml_redact_pair_name(const char *s, size_t n)
{
	return in_list(s, n, pair_names, ml_redact_ieq);
}

int ml_redact_pair_value(const char *s, size_t n)
{
	return in_list(s, n, pair_values, ml_redact_ieq);
}

int ml_redact_name_is_secret(const char *s, size_t n, int in_url)
{
	if (in_url && ml_redact_ieq(s, n, "code"))
		return 1;
	return in_list(s, n, secret_name_words, icontains) ||
	       in_list(s, n, secret_name_suffixes, iends);
}

static void put(struct ml_buf *out, const char *s, size_t n)
{
	ml_buf_add(out, s, n);
}

/* Length of the valid UTF-8 sequence at p, or 0 when it is invalid or a C1 control. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0xa0) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Length of the ESC sequence at p (p[0] is ESC): CSI, OSC/DCS/... strings ended by
 * BEL or ST, or a two-byte escape; 1 when it is malformed. */
static size_t esc_len(const unsigned char *p, size_t n)
{
	size_t i;

	if (n < 2)
		return 1;
	if (p[1] == '[') {
		for (i = 2; i < n && p[i] >= 0x20 && p[i] <= 0x3f; i++)
			;
		return i < n && p[i] >= 0x40 && p[i] <= 0x7e ? i + 1 : 1;
	}
	if (p[1] == ']' || p[1] == 'P' || p[1] == '_' || p[1] == '^' || p[1] == 'X') {
		for (i = 2; i < n; i++) {
			if (p[i] == 0x07)
				return i + 1;
			if (p[i] == 0x1b && i + 1 < n && p[i + 1] == '\\')
				return i + 2;
		}
		return 1;
	}
	return p[1] >= 0x20 && p[1] <= 0x7e ? 2 : 1;
}

/* Copies one character (or a control sequence, as '?') from p; returns bytes taken. */
size_t ml_redact_put_char(struct ml_buf *out, const char *s, size_t n, int keep_newlines)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;

	if (p[0] == 0x1b) {
		ml_buf_addch(out, '?');
		return esc_len(p, n);
	}
	if (keep_newlines && p[0] == '\r' && n > 1 && p[1] == '\n')
		return 1;
	if (keep_newlines && (p[0] == '\n' || p[0] == '\t')) {
		ml_buf_addch(out, (char)p[0]);
		return 1;
	}
	if (p[0] < 0x20 || p[0] == 0x7f) {
		ml_buf_addch(out, '?');
		return 1;
	}
	len = utf8_len(p, n);
	if (!len) {
		ml_buf_addch(out, '?');
		return p[0] == 0xc2 && n > 1 && p[1] >= 0x80 && p[1] <= 0x9f ? 2 : 1;
	}
	put(out, s, len);
	return len;
}

void ml_redact_put_clean(struct ml_buf *out, const char *p, size_t n, int keep_newlines)
{
	size_t i = 0;

	while (i < n)
		i += ml_redact_put_char(out, p + i, n - i, keep_newlines);
}

static int is_scheme_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '-' || c == '.';
}

int ml_redact_is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

int ml_redact_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int ml_redact_is_pct(const char *s, size_t n)
{
	return n >= 3 && s[0] == '%' && ml_redact_hexval((unsigned char)s[1]) >= 0 &&
	       ml_redact_hexval((unsigned char)s[2]) >= 0;
}

/* Appends s[0..n) percent-decoded (and '+' as a space). */
static void pct_decode(struct ml_buf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (ml_redact_is_pct(s + i, n - i)) {
			ml_buf_addch(out, (char)(ml_redact_hexval((unsigned char)s[i + 1]) << 4 |
						 ml_redact_hexval((unsigned char)s[i + 2])));
			i += 2;
		} else {
			ml_buf_addch(out, s[i] == '+' ? ' ' : s[i]);
		}
	}
}

int ml_redact_pct_name_is_secret(const char *s, size_t n, int in_url)
{
	struct ml_buf name = ML_BUF_INIT;
	int secret;

	pct_decode(&name, s, n);
	secret = ml_redact_name_is_secret(ml_buf_str(&name), name.len, in_url);
	ml_buf_dispose(&name);
	return secret;
}

/* Length of "scheme:" at s when s starts a scheme followed by "//", else 0. */
size_t ml_redact_scheme_len(const char *s, size_t n)
{
	size_t i;

	if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (i = 1; i < n && is_scheme_char((unsigned char)s[i]); i++)
		;
	if (i + 2 < n && s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/')
		return i + 1;
	return 0;
}

/* Appends s[0..n) with bytes that do not belong in a URL percent-encoded. */
static void put_url_part(struct ml_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f) {
			ml_buf_addch(out, '%');
			ml_buf_addch(out, hex[c >> 4]);
			ml_buf_addch(out, hex[c & 15]);
		} else {
			ml_buf_addch(out, (char)c);
		}
	}
}

static int is_plain_value(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!ml_redact_is_name_char((unsigned char)s[i]) && s[i] != '~')
			return 0;
	return 1;
}

/* The value of a parameter that is not named like a secret: decoded, it may hold a
 * URL or a document with secrets of its own. */
static void put_param_value(struct ml_buf *out, const char *s, size_t n, int depth)
{
	struct ml_buf plain = ML_BUF_INIT, clean = ML_BUF_INIT, red = ML_BUF_INIT;

	if (is_plain_value(s, n)) {
		put(out, s, n);
		return;
	}
	if (depth >= ML_REDACT_DEPTH_MAX) {
		ml_buf_adds(out, ML_REDACTED);
		return;
	}
	pct_decode(&plain, s, n);
	ml_redact_put_clean(&clean, ml_buf_str(&plain), plain.len, 0);
	ml_redact_any_at(&red, ml_buf_str(&plain), plain.len, 0, depth + 1);
	if (red.len == clean.len && !memcmp(ml_buf_str(&red), ml_buf_str(&clean), red.len))
		put_url_part(out, s, n);
	else
		put_url_part(out, ml_buf_str(&red), red.len);
	ml_buf_dispose(&plain);
	ml_buf_dispose(&clean);
	ml_buf_dispose(&red);
}

/* A field's name split at its last '.': "OptionSettings.member.1." and "Value". */
static void split_field(const char *name, size_t n, size_t *prefix_len)
{
	size_t i = n;

	while (i && name[i - 1] != '.')
		i--;
	*prefix_len = i;
}

/* Appends "a=1&b=2" with the values of secret parameters replaced, and the value
 * of a "P.Value" field after a "P.OptionName" (or P.Name, P.Key ...) that names a
 * secret, as AWS's query forms carry environment variables. */
static void put_params(struct ml_buf *out, const char *s, size_t n, int depth)
{
	const char *end = s + n, *amp, *eq, *pair = NULL;
	size_t plen, pair_len = 0, nlen;
	int secret;

	while (s < end) {
		amp = memchr(s, '&', (size_t)(end - s));
		if (!amp)
			amp = end;
		eq = memchr(s, '=', (size_t)(amp - s));
		if (eq) {
			nlen = (size_t)(eq - s);
			split_field(s, nlen, &plen);
			secret = ml_redact_pct_name_is_secret(s, nlen, 1) ||
				 (pair && pair_len == plen && !memcmp(pair, s, plen) &&
				  ml_redact_pair_value(s + plen, nlen - plen));
			if (ml_redact_pair_name(s + plen, nlen - plen) &&
			    ml_redact_pct_name_is_secret(eq + 1, (size_t)(amp - eq - 1), 0)) {
				pair = s;
				pair_len = plen;
			}
			put_url_part(out, s, nlen + 1);
			if (secret)
				ml_buf_adds(out, ML_REDACTED);
			else
				put_param_value(out, eq + 1, (size_t)(amp - eq - 1), depth);
		} else {
			put_param_value(out, s, (size_t)(amp - s), depth);
		}
		if (amp < end)
			ml_buf_addch(out, '&');
		s = amp + 1;
	}
}

void ml_redact_form_at(struct ml_buf *out, const char *s, size_t n, int depth)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	put_params(out, s, n, depth);
}

void ml_redact_url_at(struct ml_buf *out, const char *url, size_t n, int depth)
{
	const char *p = url, *end = url + n, *at, *q;
	size_t slen = ml_redact_scheme_len(url, n), alen, i;

	if (slen || (n >= 2 && url[0] == '/' && url[1] == '/')) {
		put_url_part(out, p, slen + 2);
		p += slen + 2;
		for (alen = 0; p + alen < end && !strchr("/?#", p[alen]); alen++)
			;
		at = NULL;
		for (i = 0; i < alen; i++)
			if (p[i] == '@')
				at = p + i;
		if (at) {
			alen -= (size_t)(at + 1 - p);
			p = at + 1;
		}
		put_url_part(out, p, alen);
		p += alen;
	}
	for (q = p; q < end && *q != '?' && *q != '#'; q++)
		;
	put_url_part(out, p, (size_t)(q - p));
	while (q < end) {
		ml_buf_addch(out, *q);
		p = q + 1;
		for (q = p; q < end && *q != '#'; q++)
			;
		put_params(out, p, (size_t)(q - p), depth);
	}
}

void ml_redact_url(struct ml_buf *out, const char *url)
{
	ml_redact_url_at(out, url, strlen(url), 0);
}

void ml_redact_header(struct ml_buf *out, const char *name, const char *value)
{
	ml_redact_text_at(out, name, strlen(name), 0, 0);
	ml_buf_adds(out, ": ");
	if (ml_redact_header_is_secret(name))
		ml_buf_adds(out, ML_REDACTED);
	else
		ml_redact_text_at(out, value, strlen(value), 0, 0);
}

/* Cut at most max bytes of text, not inside a UTF-8 sequence. */
static size_t cut_at(const char *text, size_t len, size_t max)
{
	size_t cut = len;

	if (max && len > max) {
		cut = max;
		while (cut > 0 && max - cut < 3 && ((unsigned char)text[cut] & 0xc0) == 0x80)
			cut--;
	}
	return cut;
}

void ml_redact_text(struct ml_buf *out, const char *text, size_t len, size_t max)
{
	size_t cut = cut_at(text, len, max);

	ml_redact_text_at(out, text, cut, 1, 0);
	if (cut < len)
		ml_buf_adds(out, "...");
}

void ml_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n = strlen(s), len;

	while (n) {
		len = p[0] < 0x20 || p[0] == 0x7f ? 0 : utf8_len(p, n);
		if (!len) {
			*p = '?';
			len = 1;
		}
		p += len;
		n -= len;
	}
}

char *ml_redacted_url(const char *url)
{
	struct ml_buf b = ML_BUF_INIT;

	ml_redact_url(&b, url);
	return ml_buf_detach(&b);
}
