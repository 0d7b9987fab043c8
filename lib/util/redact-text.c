/* The textual scanner behind ml_redact_text: secrets found in text of any shape,
 * JSON-like members, name=value pairs, URLs, "Bearer ...", XML elements. */
#include "util/redact.h"

#include <string.h>

#include "util/redact-internal.h"

#define KEY_MAX 256		/* longer names (escapes included) are not looked at */
#define BEARER_MIN 12		/* shorter words after "Bearer " are not credentials */
#define UNESCAPE_LEVELS 3	/* a key escaped inside escaped JSON, and once more */
#define JWT_MIN 16		/* "eyJ" and two dots: shorter is not a token */
#define TAG_MAX 4096		/* a longer tag that hides nothing is not looked at */

/* What the scan of one text remembers: a pair name (<OptionName>DB_PASSWORD) was a
 * secret's, so the next value element holds it. */
struct scan {
	int pair;
};

static void put(struct ml_buf *out, const char *s, size_t n)
{
	ml_buf_add(out, s, n);
}

static int is_url_end(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' ||
	       c == '\\' || c == '`';
}

static int is_value_end(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '&' || c == '"' || c == '\'' || c == '<' ||
	       c == '>' || c == ',' || c == ';' || c == '\\' || c == '#';
}

static int is_token_char(unsigned char c)
{
	return ml_redact_is_name_char(c) || c == '~' || c == '+' || c == '/' || c == '=';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Quoted strings in text: "..." and '...' (level 0), and \"...\" inside a JSON
 * string (level 1). */
struct quote {
	char q;
	int level;
};

static size_t quote_len(const struct quote *k)
{
	return k->level ? 2 : 1;
}

static int at_quote(const struct quote *k, const char *p, size_t n)
{
	if (k->level)
		return n >= 2 && p[0] == '\\' && p[1] == k->q;
	return n >= 1 && p[0] == k->q;
}

/* Length of the quoted string at p (p starts with the quote); *closed says whether
 * its closing quote was found. A level 1 string also ends where the enclosing
 * string does (at a bare quote). */
static size_t string_len(const struct quote *k, const char *p, size_t n, int stop_at_newline,
			 int *closed)
{
	size_t i = quote_len(k);
	int esc = 0;

	*closed = 0;
	while (i < n) {
		if (stop_at_newline && p[i] == '\n')
			return i;
		if (!k->level) {
			if (p[i] == k->q) {
				*closed = 1;
				return i + 1;
			}
			if (p[i] == '\\' && i + 1 < n && !(stop_at_newline && p[i + 1] == '\n'))
				i++;
			i++;
			continue;
		}
		if (p[i] == '\\' && i + 1 < n && !(stop_at_newline && p[i + 1] == '\n')) {
			if (p[i + 1] == k->q && !esc) {
				*closed = 1;
				return i + 2;
			}
			esc = p[i + 1] == '\\' ? !esc : 0;
			i += 2;
			continue;
		}
		if (p[i] == k->q)
			return i;
		esc = 0;
		i++;
	}
	return n;
}

/* JSON escapes decoded once; \uXXXX as that character below 0x80, else '?'. */
static void unescape_once(struct ml_buf *out, const char *s, size_t n)
{
	size_t i = 0;
	int cp, j, d;

	while (i < n) {
		if (s[i] != '\\' || i + 1 >= n) {
			ml_buf_addch(out, s[i++]);
			continue;
		}
		if (s[i + 1] == 'u' && i + 6 <= n) {
			for (cp = 0, j = 2; j < 6 && (d = ml_redact_hexval((unsigned char)s[i + j])) >= 0; j++)
				cp = cp << 4 | d;
			if (j == 6) {
				ml_buf_addch(out, cp < 0x80 ? (char)cp : '?');
				i += 6;
				continue;
			}
		}
		ml_buf_addch(out, s[i + 1]);
		i += 2;
	}
}

/* Whether a quoted key is a secret name as written or once its escapes are decoded
 * (as many times as it was escaped). */
static int key_is_secret(const char *s, size_t n)
{
	struct ml_buf a = ML_BUF_INIT, b = ML_BUF_INIT, t;
	int secret = ml_redact_name_is_secret(s, n, 0), i;

	ml_buf_add(&a, s, n);
	for (i = 0; i < UNESCAPE_LEVELS && !secret && memchr(ml_buf_str(&a), '\\', a.len); i++) {
		ml_buf_reset(&b);
		unescape_once(&b, ml_buf_str(&a), a.len);
		t = a;
		a = b;
		b = t;
		secret = ml_redact_name_is_secret(ml_buf_str(&a), a.len, 0);
	}
	ml_buf_dispose(&a);
	ml_buf_dispose(&b);
	return secret;
}

/* Spaces, and inside a JSON string its escaped newlines and tabs. */
static size_t skip_space(const struct quote *k, const char *p, size_t n, size_t i)
{
	while (i < n) {
		if (is_space(p[i]))
			i++;
		else if (k->level && p[i] == '\\' && i + 1 < n &&
			 (p[i + 1] == 'n' || p[i + 1] == 'r' || p[i + 1] == 't'))
			i += 2;
		else
			break;
	}
	return i;
}

static int is_scalar_end(const struct quote *k, char c)
{
	return c == ',' || c == '}' || c == ']' || is_space(c) ||
	       (k->level && (c == '\\' || c == k->q));
}

/* Length of the JSON value at p: a string, an array or object (to its matching
 * bracket, or to the end when there is none), or a scalar; *closed is 0 when the
 * value runs to the end unfinished. */
static size_t value_len(const struct quote *k, const char *p, size_t n, int *closed)
{
	size_t i = 0;
	int depth = 0, str_closed;

	*closed = 1;
	if (at_quote(k, p, n))
		return string_len(k, p, n, 1, closed);
	if (n && (p[0] == '[' || p[0] == '{')) {
		while (i < n) {
			if (at_quote(k, p + i, n - i)) {
				i += string_len(k, p + i, n - i, 1, &str_closed);
				continue;
			}
			if (k->level && p[i] == k->q)
				return i;
			if (p[i] == '[' || p[i] == '{')
				depth++;
			else if ((p[i] == ']' || p[i] == '}') && --depth == 0)
				return i + 1;
			i++;
		}
		*closed = 0;
		return n;
	}
	while (i < n && !is_scalar_end(k, p[i]))
		i++;
	return i;
}

/* At a quote: "name" : value with a secret name is copied up to the value, which
 * becomes a quoted ML_REDACTED. Returns bytes taken, 0 if no match. */
static size_t json_member(struct ml_buf *out, const struct quote *k, const char *p, size_t n)
{
	size_t qlen = quote_len(k), klen, i, vlen;
	int closed;

	klen = string_len(k, p, n < KEY_MAX + 4 ? n : KEY_MAX + 4, 1, &closed);
	/* a "key" with markup in it is more likely quotes of attributes around a tag */
	if (!closed || klen - 2 * qlen > KEY_MAX || memchr(p + qlen, '<', klen - 2 * qlen) ||
	    !key_is_secret(p + qlen, klen - 2 * qlen))
		return 0;
	i = skip_space(k, p, n, klen);
	if (i >= n || p[i] != ':')
		return 0;
	i = skip_space(k, p, n, i + 1);
	vlen = value_len(k, p + i, n - i, &closed);
	ml_redact_put_clean(out, p, i, 0);
	put(out, p, qlen);
	ml_buf_adds(out, ML_REDACTED);
	if (closed)
		put(out, p, qlen);
	return i + vlen;
}

static size_t quoted_member(struct ml_buf *out, const char *p, size_t n)
{
	static const struct quote quotes[] = { { '"', 0 }, { '\'', 0 }, { '"', 1 }, { '\'', 1 } };
	size_t i;

	for (i = 0; i < sizeof(quotes) / sizeof(quotes[0]); i++)
		if (at_quote(&quotes[i], p, n))
			return json_member(out, &quotes[i], p, n);
	return 0;
}

/* At the start of a word: name=value with a secret name (percent-escapes decoded);
 * a quoted value (an XML attribute) is taken to its closing quote. */
static size_t form_member(struct ml_buf *out, const char *p, size_t n)
{
	struct quote k = { 0, 0 };
	size_t i = 0;
	int closed;

	while (i < n && i <= KEY_MAX) {
		if (ml_redact_is_name_char((unsigned char)p[i]))
			i++;
		else if (ml_redact_is_pct(p + i, n - i))
			i += 3;
		else
			break;
	}
	if (!i || i >= n || p[i] != '=' || !ml_redact_pct_name_is_secret(p, i, 0))
		return 0;
	ml_redact_put_clean(out, p, ++i, 0);
	if (i < n && (p[i] == '"' || p[i] == '\'')) {
		k.q = p[i];
		i += string_len(&k, p + i, n - i, 1, &closed);
		put(out, &k.q, 1);
		ml_buf_adds(out, ML_REDACTED);
		if (closed)
			put(out, &k.q, 1);
		return i;
	}
	ml_buf_adds(out, ML_REDACTED);
	while (i < n && !is_value_end((unsigned char)p[i]))
		i++;
	return i;
}

/* At the start of a word: "Bearer <credential>" or "Basic <credential>". */
static size_t auth_scheme(struct ml_buf *out, const char *p, size_t n)
{
	size_t w, i;

	if (n > 7 && ml_redact_ieq(p, 7, "bearer "))
		w = 7;
	else if (n > 6 && ml_redact_ieq(p, 6, "basic "))
		w = 6;
	else
		return 0;
	for (i = w; i < n && is_token_char((unsigned char)p[i]); i++)
		;
	if (i - w < BEARER_MIN)
		return 0;
	put(out, p, w);
	ml_buf_adds(out, ML_REDACTED);
	return i;
}

static size_t url_token(struct ml_buf *out, const char *p, size_t n, int depth)
{
	size_t i;

	if (!ml_redact_scheme_len(p, n))
		return 0;
	for (i = 0; i < n && !is_url_end((unsigned char)p[i]); i++)
		;
	ml_redact_url_at(out, p, i, depth);
	return i;
}

static int is_b64url(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* At the start of a word: a JWT (eyJ... . ... . ...), a credential wherever it is. */
static size_t jwt(struct ml_buf *out, const char *p, size_t n)
{
	size_t i = 0;
	int dots = 0;

	if (n < 3 || memcmp(p, "eyJ", 3))
		return 0;
	while (i < n && (is_b64url((unsigned char)p[i]) || (p[i] == '.' && dots < 2))) {
		dots += p[i] == '.';
		i++;
	}
	if (dots < 2 || i < JWT_MIN)
		return 0;
	ml_buf_adds(out, ML_REDACTED);
	return i;
}

static size_t word_start(struct ml_buf *out, const char *p, size_t n, int depth)
{
	size_t used;

	if ((used = url_token(out, p, n, depth)))
		return used;
	if ((used = jwt(out, p, n)))
		return used;
	if ((used = auth_scheme(out, p, n)))
		return used;
	return form_member(out, p, n);
}

/* XML, as far as secrets need it: an element is found by its start tag, and one
 * named like a secret loses its content up to its matching end tag (CDATA and
 * comments skipped whole), or to the end of the text when there is none. */

static int starts(const char *p, size_t n, const char *s)
{
	size_t len = strlen(s);

	return n >= len && !memcmp(p, s, len);
}

static size_t qname_len(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] && !strchr(" \t\r\n/>'\"<=", p[i]))
		i++;
	return i;
}

static int xml_name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       c >= 0x80;
}

/* The part of a qualified name after its prefix ("SessionToken" of "sts:SessionToken"). */
static const char *local_name(const char *name, size_t n, size_t *len)
{
	size_t i = n;

	while (i && name[i - 1] != ':')
		i--;
	*len = n - i;
	return name + i;
}

/* Offset just after the '>' that ends the tag at p (quotes respected), 0 when none. */
static size_t tag_end(const char *p, size_t n)
{
	size_t i;
	char q = 0;

	for (i = 1; i < n; i++) {
		if (q) {
			if (p[i] == q)
				q = 0;
		} else if (p[i] == '"' || p[i] == '\'') {
			q = p[i];
		} else if (p[i] == '>') {
			return i + 1;
		}
	}
	return 0;
}

/* Offset just after the end of the construct at p that hides markup (CDATA, a
 * comment, a processing instruction), 0 when p starts none; n when it is unclosed. */
static size_t opaque_end(const char *p, size_t n)
{
	static const char *const open[] = { "<![CDATA[", "<!--", "<?" };
	static const char *const close[] = { "]]>", "-->", "?>" };
	const char *e;
	size_t i, olen;

	for (i = 0; i < 3; i++) {
		olen = strlen(open[i]);
		if (!starts(p, n, open[i]))
			continue;
		e = memmem(p + olen, n - olen, close[i], strlen(close[i]));
		return e ? (size_t)(e - p) + strlen(close[i]) : n;
	}
	return 0;
}

/* After the start tag of name (ending at from): the offset just after its matching
 * end tag, 0 when it has none. */
static size_t element_end(const char *p, size_t n, size_t from, const char *name, size_t nlen)
{
	const char *lt;
	size_t k = from, e, len;
	int depth = 1, closing;

	while (k < n && (lt = memchr(p + k, '<', n - k))) {
		k = (size_t)(lt - p);
		if ((e = opaque_end(p + k, n - k))) {
			k += e;
			continue;
		}
		closing = k + 1 < n && p[k + 1] == '/';
		len = qname_len(p + k + 1 + closing, n - k - 1 - closing);
		e = tag_end(p + k, n - k);
		if (!e)
			return 0;
		if (len == nlen && !memcmp(p + k + 1 + closing, name, nlen)) {
			if (closing && --depth == 0)
				return k + e;
			if (!closing && p[k + e - 2] != '/')
				depth++;
		}
		k += e;
	}
	return 0;
}

/* The text of an element up to the next tag names a secret. */
static int text_names_secret(const char *p, size_t n)
{
	const char *lt = memchr(p, '<', n);
	size_t len = lt ? (size_t)(lt - p) : n;

	while (len && is_space(*p))
		p++, len--;
	while (len && is_space(p[len - 1]))
		len--;
	return ml_redact_name_is_secret(p, len, 0);
}

/* Content that starts with an element (after spaces). */
static int holds_element(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && is_space(p[i]))
		i++;
	return i + 1 < n && p[i] == '<' && xml_name_start((unsigned char)p[i + 1]);
}

/* At '<': a start tag. Returns the bytes taken, 0 when nothing needs hiding (the
 * tag is then scanned as text: its attributes are name="value" pairs). */
static size_t xml_element(struct ml_buf *out, struct scan *sc, const char *p, size_t n)
{
	const char *local;
	size_t nlen, llen, e, end;
	int secret;

	if (n < 2 || !xml_name_start((unsigned char)p[1]))
		return 0;
	nlen = qname_len(p + 1, n - 1);
	local = local_name(p + 1, nlen, &llen);
	secret = ml_redact_name_is_secret(local, llen, 0) ||
		 (sc->pair && ml_redact_pair_value(local, llen));
	if (!secret && !ml_redact_pair_name(local, llen) && !ml_redact_pair_value(local, llen))
		return 0;
	e = tag_end(p, secret ? n : n < TAG_MAX ? n : TAG_MAX);
	if (!e) {
		if (!secret)
			return 0;
		put(out, "<", 1);
		ml_buf_adds(out, ML_REDACTED);
		return n;
	}
	if (p[e - 2] == '/')
		return 0;
	if (ml_redact_pair_name(local, llen))
		sc->pair = text_names_secret(p + e, n - e);
	else if (ml_redact_pair_value(local, llen))
		sc->pair = 0;
	if (!secret || (ml_redact_name_is_wrapper(local, llen) && holds_element(p + e, n - e)))
		return 0;
	put(out, "<", 1);
	ml_redact_put_clean(out, p + 1, nlen, 0);
	put(out, ">", 1);
	ml_buf_adds(out, ML_REDACTED);
	end = element_end(p, n, e, p + 1, nlen);
	if (!end)
		return n;
	put(out, "</", 2);
	ml_redact_put_clean(out, p + 1, nlen, 0);
	put(out, ">", 1);
	return end;
}

void ml_redact_text_at(struct ml_buf *out, const char *text, size_t n, int keep_newlines,
		       int depth)
{
	struct scan sc = { 0 };
	size_t i = 0, used;
	unsigned char c;

	while (i < n) {
		c = (unsigned char)text[i];
		used = 0;
		if (c == '"' || c == '\'' || c == '\\')
			used = quoted_member(out, text + i, n - i);
		else if (c == '<')
			used = xml_element(out, &sc, text + i, n - i);
		else if ((ml_redact_is_name_char(c) || ml_redact_is_pct(text + i, n - i)) &&
			 (i == 0 || !ml_redact_is_name_char((unsigned char)text[i - 1])))
			used = word_start(out, text + i, n - i, depth);
		if (!used && ml_redact_is_name_char(c)) {
			/* copy the whole word so no secret name is matched from its middle */
			used = 1;
			while (i + used < n && ml_redact_is_name_char((unsigned char)text[i + used]))
				used++;
			put(out, text + i, used);
		}
		if (!used)
			used = ml_redact_put_char(out, text + i, n - i, keep_newlines);
		i += used;
	}
}
