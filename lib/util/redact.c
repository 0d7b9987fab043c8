#include "util/redact.h"

#include <string.h>

#define REDACTED "<redacted>"
#define KEY_MAX 64		/* longer JSON/form names are not looked at */
#define BEARER_MIN 12		/* shorter words after "Bearer " are not credentials */

static const char *const secret_headers[] = {
	"authorization", "proxy-authorization", "cookie", "set-cookie",
	"x-amz-security-token", "x-registry-auth", NULL,
};

static const char *const secret_header_words[] = {
	"token", "secret", "signature", "password", "key", NULL,
};

/* Query parameters and JSON/form members: names containing one of these ... */
static const char *const secret_name_words[] = {
	"token", "secret", "passw", "signature", "credential", NULL,
};

/* ... or ending with one of these. */
static const char *const secret_name_suffixes[] = {
	"key", "assertion", "auth", "sig", NULL,
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int ieq(const char *s, size_t n, const char *word)
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
		if (ieq(s + i, wlen, word))
			return 1;
	return 0;
}

static int iends(const char *s, size_t n, const char *word)
{
	size_t wlen = strlen(word);

	return n >= wlen && ieq(s + n - wlen, wlen, word);
}

static int in_list(const char *s, size_t n, const char *const *list,
		   int (*match)(const char *, size_t, const char *))
{
	for (; *list; list++)
		if (match(s, n, *list))
			return 1;
	return 0;
}

static int header_is_secret(const char *name)
{
	size_t n = strlen(name);

	return in_list(name, n, secret_headers, ieq) ||
	       in_list(name, n, secret_header_words, icontains);
}

/* in_url: OAuth's "code" is a secret in a query string, an error code in JSON. */
static int name_is_secret(const char *s, size_t n, int in_url)
{
	if (in_url && ieq(s, n, "code"))
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
static size_t put_char(struct ml_buf *out, const char *s, size_t n, int keep_newlines)
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

static int is_url_end(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' ||
	       c == '\\' || c == '`';
}

static int is_scheme_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '-' || c == '.';
}

static int is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static int is_value_end(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '&' || c == '"' || c == '\'' || c == '<' ||
	       c == '>' || c == ',' || c == ';' || c == '\\' || c == '#';
}

static int is_token_char(unsigned char c)
{
	return is_name_char(c) || c == '~' || c == '+' || c == '/' || c == '=';
}

/* Length of "scheme:" at s when s starts a scheme followed by "//", else 0. */
static size_t scheme_len(const char *s, size_t n)
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

/* Appends "a=1&b=2" with the values of secret parameters replaced. */
static void put_params(struct ml_buf *out, const char *s, size_t n)
{
	const char *end = s + n, *amp, *eq;

	while (s < end) {
		amp = memchr(s, '&', (size_t)(end - s));
		if (!amp)
			amp = end;
		eq = memchr(s, '=', (size_t)(amp - s));
		if (eq && name_is_secret(s, (size_t)(eq - s), 1)) {
			put_url_part(out, s, (size_t)(eq - s) + 1);
			ml_buf_adds(out, REDACTED);
		} else {
			put_url_part(out, s, (size_t)(amp - s));
		}
		if (amp < end)
			ml_buf_addch(out, '&');
		s = amp + 1;
	}
}

static void redact_url(struct ml_buf *out, const char *url, size_t n)
{
	const char *p = url, *end = url + n, *at, *q;
	size_t slen = scheme_len(url, n), alen, i;

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
		put_params(out, p, (size_t)(q - p));
	}
}

void ml_redact_url(struct ml_buf *out, const char *url)
{
	redact_url(out, url, strlen(url));
}

/* Length of a quoted string at p: q is the quote ("\"" or "\\\"" inside escaped
 * JSON). Sets *closed when the closing quote was found. */
static size_t quoted_len(const char *p, size_t n, const char *q, int *closed)
{
	size_t qlen = strlen(q), i = qlen;

	*closed = 0;
	while (i < n) {
		if (i + qlen <= n && !memcmp(p + i, q, qlen)) {
			*closed = 1;
			return i + qlen;
		}
		if (qlen == 1 && p[i] == '\\' && i + 1 < n)
			i++;
		if (p[i] == '\n')
			return i;
		i++;
	}
	return n;
}

static size_t skip_space(const char *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

/* Copies text that came from outside with control characters and invalid UTF-8
 * replaced, as put_char does. */
static void put_clean(struct ml_buf *out, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n)
		i += put_char(out, p + i, n - i, 0);
}

/* At a quote: "name" : "value" with a secret name is copied up to the value's opening
 * quote, then "<redacted>" and the closing quote. Returns bytes taken, 0 if no match. */
static size_t json_member(struct ml_buf *out, const char *p, size_t n, const char *q)
{
	size_t qlen = strlen(q), klen, i, vlen;
	int closed;

	klen = quoted_len(p, n, q, &closed);
	if (!closed || klen - 2 * qlen > KEY_MAX ||
	    !name_is_secret(p + qlen, klen - 2 * qlen, 0))
		return 0;
	i = skip_space(p, n, klen);
	if (i >= n || p[i] != ':')
		return 0;
	i = skip_space(p, n, i + 1);
	if (i + qlen > n || memcmp(p + i, q, qlen))
		return 0;
	vlen = quoted_len(p + i, n - i, q, &closed);
	put_clean(out, p, i + qlen);
	ml_buf_adds(out, REDACTED);
	if (closed)
		put(out, q, qlen);
	return i + vlen;
}

/* At the start of a word: name=value with a secret name. */
static size_t form_member(struct ml_buf *out, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && i <= KEY_MAX && is_name_char((unsigned char)p[i]))
		i++;
	if (!i || i >= n || p[i] != '=' || !name_is_secret(p, i, 0))
		return 0;
	put(out, p, i + 1);
	ml_buf_adds(out, REDACTED);
	for (i++; i < n && !is_value_end((unsigned char)p[i]); i++)
		;
	return i;
}

/* At the start of a word: "Bearer <credential>" or "Basic <credential>". */
static size_t auth_scheme(struct ml_buf *out, const char *p, size_t n)
{
	size_t w, i;

	if (n > 7 && ieq(p, 7, "bearer "))
		w = 7;
	else if (n > 6 && ieq(p, 6, "basic "))
		w = 6;
	else
		return 0;
	for (i = w; i < n && is_token_char((unsigned char)p[i]); i++)
		;
	if (i - w < BEARER_MIN)
		return 0;
	put(out, p, w);
	ml_buf_adds(out, REDACTED);
	return i;
}

static size_t url_token(struct ml_buf *out, const char *p, size_t n)
{
	size_t i;

	if (!scheme_len(p, n))
		return 0;
	for (i = 0; i < n && !is_url_end((unsigned char)p[i]); i++)
		;
	redact_url(out, p, i);
	return i;
}

static size_t word_start(struct ml_buf *out, const char *p, size_t n)
{
	size_t used;

	if ((used = url_token(out, p, n)))
		return used;
	if ((used = auth_scheme(out, p, n)))
		return used;
	return form_member(out, p, n);
}

static void redact_text(struct ml_buf *out, const char *text, size_t n, int keep_newlines)
{
	size_t i = 0, used;
	unsigned char c;

	while (i < n) {
		c = (unsigned char)text[i];
		used = 0;
		if (c == '"')
			used = json_member(out, text + i, n - i, "\"");
		else if (c == '\\' && i + 1 < n && text[i + 1] == '"')
			used = json_member(out, text + i, n - i, "\\\"");
		else if (is_name_char(c) && (i == 0 || !is_name_char((unsigned char)text[i - 1])))
			used = word_start(out, text + i, n - i);
		if (!used && is_name_char(c)) {
			/* copy the whole word so no secret name is matched from its middle */
			used = 1;
			while (i + used < n && is_name_char((unsigned char)text[i + used]))
				used++;
			put(out, text + i, used);
		}
		if (!used)
			used = put_char(out, text + i, n - i, keep_newlines);
		i += used;
	}
}

void ml_redact_header(struct ml_buf *out, const char *name, const char *value)
{
	redact_text(out, name, strlen(name), 0);
	ml_buf_adds(out, ": ");
	if (header_is_secret(name))
		ml_buf_adds(out, REDACTED);
	else
		redact_text(out, value, strlen(value), 0);
}

void ml_redact_text(struct ml_buf *out, const char *text, size_t len, size_t max)
{
	size_t cut = len;

	if (max && len > max) {
		cut = max;
		/* do not split a UTF-8 sequence */
		while (cut > 0 && max - cut < 3 && ((unsigned char)text[cut] & 0xc0) == 0x80)
			cut--;
	}
	redact_text(out, text, cut, 1);
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
