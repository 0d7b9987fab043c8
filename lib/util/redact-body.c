/* Bodies by format: JSON is parsed (lib/wrap/json.h) and printed again without its
 * secrets; everything else goes through the textual scanner of redact-text.c. */
#include "util/redact.h"

#include <string.h>

#include "util/redact-internal.h"
#include "wrap/json.h"

static void put(struct ml_buf *out, const char *s, size_t n)
{
	ml_buf_add(out, s, n);
}

static int same(const struct ml_buf *a, const struct ml_buf *b)
{
	return a->len == b->len && !memcmp(ml_buf_str(a), ml_buf_str(b), a->len);
}

static int is_form(const char *ct)
{
	size_t n;

	if (!ct)
		return 0;
	ct += strspn(ct, " \t");
	n = strcspn(ct, "; \t");
	return ml_redact_ieq(ct, n, "application/x-www-form-urlencoded");
}

static int looks_json(const char *s, size_t n)
{
	size_t i = 0;

	if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i < n && (s[i] == '{' || s[i] == '[');
}

static ml_json *redact_value(ml_json *v, int depth);

/* A string that is not a secret's value may still hold one: a URL, a form, a JSON
 * or XML document of its own. */
static char *redact_string(const char *s, int depth)
{
	struct ml_buf b = ML_BUF_INIT;

	ml_redact_any_at(&b, s, strlen(s), 1, depth + 1);
	return ml_buf_detach(&b);
}

/* {"name": "DB_PASSWORD", "value": "..."}: the object holds a secret's value. */
static int object_names_secret(ml_json *obj)
{
	const char *key, *s;
	void *it;

	for (it = ml_json_iter(obj); it; it = ml_json_iter_next(obj, it)) {
		key = ml_json_iter_key(it);
		s = ml_json_str(ml_json_iter_value(it));
		if (s && ml_redact_pair_name(key, strlen(key)) &&
		    ml_redact_name_is_secret(s, strlen(s), 0))
			return 1;
	}
	return 0;
}

static ml_json *redact_object(ml_json *obj, int depth)
{
	ml_json *out = ml_json_object_new(), *val;
	int pair = object_names_secret(obj);
	const char *key;
	char *shown;
	size_t klen;
	void *it;

	for (it = ml_json_iter(obj); it; it = ml_json_iter_next(obj, it)) {
		key = ml_json_iter_key(it);
		klen = strlen(key);
		val = ml_json_iter_value(it);
		if ((ml_redact_name_is_secret(key, klen, 0) &&
		     !(ml_redact_name_is_wrapper(key, klen) && ml_json_is_object(val))) ||
		    (pair && ml_redact_pair_value(key, klen)))
			val = ml_json_string_new(ML_REDACTED);
		else
			val = redact_value(val, depth);
		shown = redact_string(key, depth);
		ml_json_set(out, shown, val);
		free(shown);
	}
	return out;
}

static ml_json *redact_value(ml_json *v, int depth)
{
	ml_json *out;
	char *s;
	size_t i;

	if (ml_json_is_object(v))
		return redact_object(v, depth);
	if (ml_json_is_array(v)) {
		out = ml_json_array_new();
		for (i = 0; i < ml_json_size(v); i++)
			ml_json_append(out, redact_value(ml_json_at(v, i), depth));
		return out;
	}
	if (ml_json_is_string(v)) {
		s = redact_string(ml_json_str(v), depth);
		out = ml_json_string_new(s);
		free(s);
		return out;
	}
	return ml_json_ref(v);
}

/* 0 with the document printed into out without its secrets, -1 when s is not JSON. */
static int redact_json(struct ml_buf *out, const char *s, size_t n, int depth)
{
	ml_json *doc = ml_json_parse(s, n, NULL), *red;
	struct ml_buf dump = ML_BUF_INIT;

	if (!doc)
		return -1;
	red = redact_value(doc, depth);
	if (ml_json_dump(red, &dump) == 0)
		ml_redact_put_clean(out, ml_buf_str(&dump), dump.len, 0);
	else
		ml_buf_adds(out, ML_REDACTED);
	ml_buf_dispose(&dump);
	ml_json_free(red);
	ml_json_free(doc);
	return 0;
}

static void put_utf8(struct ml_buf *out, unsigned long cp)
{
	if (cp < 0x80) {
		ml_buf_addch(out, (char)cp);
	} else if (cp < 0x800) {
		ml_buf_addch(out, (char)(0xc0 | cp >> 6));
		ml_buf_addch(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		ml_buf_addch(out, (char)(0xe0 | cp >> 12));
		ml_buf_addch(out, (char)(0x80 | (cp >> 6 & 0x3f)));
		ml_buf_addch(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		ml_buf_addch(out, (char)(0xf0 | cp >> 18));
		ml_buf_addch(out, (char)(0x80 | (cp >> 12 & 0x3f)));
		ml_buf_addch(out, (char)(0x80 | (cp >> 6 & 0x3f)));
		ml_buf_addch(out, (char)(0x80 | (cp & 0x3f)));
	}
}

/* Length of the character reference at s ("&#116;", "&#x74;") with its code point
 * in *cp, or 0. */
static size_t char_ref(const char *s, size_t n, unsigned long *cp)
{
	char num[12], *end;
	const char *semi;
	size_t len;

	if (n < 4 || s[1] != '#' || !(semi = memchr(s, ';', n < sizeof(num) ? n : sizeof(num))))
		return 0;
	len = (size_t)(semi - s);
	memcpy(num, s + 2, len - 2);
	num[len - 2] = '\0';
	if (num[0] == 'x' || num[0] == 'X')
		*cp = strtoul(num + 1, &end, 16);
	else
		*cp = strtoul(num, &end, 10);
	if (*end || end == num || end == num + 1 || !*cp || *cp >= 0x110000 ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len + 1;
}

/* Decodes XML's five entities and character references; other '&'s are kept. */
static void xml_unescape(struct ml_buf *out, const char *s, size_t n)
{
	static const char *const names[] = { "&lt;", "&gt;", "&amp;", "&quot;", "&apos;" };
	static const char chars[] = "<>&\"'";
	size_t i = 0, k, len;
	unsigned long cp;

	while (i < n) {
		if (s[i] != '&') {
			ml_buf_addch(out, s[i++]);
			continue;
		}
		for (k = 0; k < 5; k++)
			if (n - i >= strlen(names[k]) && !memcmp(s + i, names[k], strlen(names[k])))
				break;
		if (k < 5) {
			ml_buf_addch(out, chars[k]);
			i += strlen(names[k]);
		} else if ((len = char_ref(s + i, n - i, &cp))) {
			put_utf8(out, cp);
			i += len;
		} else {
			ml_buf_addch(out, s[i++]);
		}
	}
}

/* Deeper than ML_REDACT_DEPTH_MAX: what could hold a document is redacted whole. */
static int could_nest(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strchr("<{[%&\\\"'=:", s[i]) && s[i])
			return 1;
	return 0;
}

/* Text, then the same text with its XML escapes decoded, since they can hide a
 * secret's name from the scanner ("&lt;Password&gt;"): the decoded pass runs over
 * what the first one left, so that what either finds is gone. */
static void redact_text_twice(struct ml_buf *out, const char *s, size_t n, int keep_newlines,
			      int depth)
{
	struct ml_buf first = ML_BUF_INIT, plain = ML_BUF_INIT, clean = ML_BUF_INIT;
	struct ml_buf red = ML_BUF_INIT;

	ml_redact_text_at(&first, s, n, keep_newlines, depth);
	if (memchr(ml_buf_str(&first), '&', first.len))
		xml_unescape(&plain, ml_buf_str(&first), first.len);
	if (plain.len && plain.len < first.len) {
		ml_redact_put_clean(&clean, ml_buf_str(&plain), plain.len, keep_newlines);
		ml_redact_any_at(&red, ml_buf_str(&plain), plain.len, keep_newlines, depth + 1);
	}
	if (red.len && !same(&clean, &red))
		put(out, ml_buf_str(&red), red.len);
	else
		put(out, ml_buf_str(&first), first.len);
	ml_buf_dispose(&first);
	ml_buf_dispose(&plain);
	ml_buf_dispose(&clean);
	ml_buf_dispose(&red);
}

void ml_redact_any_at(struct ml_buf *out, const char *s, size_t n, int keep_newlines, int depth)
{
	if (depth > ML_REDACT_DEPTH_MAX) {
		if (could_nest(s, n))
			ml_buf_adds(out, ML_REDACTED);
		else
			ml_redact_text_at(out, s, n, keep_newlines, depth);
		return;
	}
	if (looks_json(s, n) && redact_json(out, s, n, depth) == 0)
		return;
	redact_text_twice(out, s, n, keep_newlines, depth);
}

void ml_redact_body(struct ml_buf *out, const char *content_type, const void *data, size_t len,
		    size_t max)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *s = data ? data : "";
	size_t cut;

	if (is_form(content_type) && !looks_json(s, len))
		ml_redact_form_at(&b, s, len, 0);
	else
		ml_redact_any_at(&b, s, len, 1, 0);
	cut = b.len;
	if (max && cut > max) {
		cut = max;
		while (cut && ((unsigned char)b.data[cut] & 0xc0) == 0x80)
			cut--;
	}
	put(out, ml_buf_str(&b), cut);
	if (cut < b.len)
		ml_buf_adds(out, "...");
	ml_buf_dispose(&b);
}
