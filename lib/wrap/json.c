#include "wrap/json.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

#define J(v) ((json_t *)(v))
#define M(v) ((ml_json *)(v))

/* jansson's messages that quote nothing, as it words them before " near '...'". */
static const char *const safe_texts[] = {
	"unexpected newline", "invalid escape", "invalid token", "unexpected token",
	"premature end of input", "end of file expected", "duplicate object key",
	"'[' or '{' expected", "string or '}' expected", "':' expected", "'}' expected",
	"']' expected", "maximum parsing depth reached", "NUL byte in object key not supported",
	"\\u0000 is not allowed without JSON_ALLOW_NUL",
};

/* What went wrong, without quoting the document: jansson's text quotes the token
 * it stopped at ("near '...'"), and some of its messages quote escapes or bytes,
 * any of which may be part of a password. Known texts are kept up to " near";
 * anything else is named by its error code. */
static const char *secret_reason(const json_error_t *jerr, char *buf, size_t size)
{
	const char *t = jerr->text, *near = strstr(t, " near ");
	size_t n = near ? (size_t)(near - t) : strlen(t), i;

	for (i = 0; i < sizeof(safe_texts) / sizeof(safe_texts[0]); i++)
		if (strlen(safe_texts[i]) == n && !memcmp(safe_texts[i], t, n))
			return safe_texts[i];
	/* "control character 0x9": a raw tab or other byte below 0x20 in a string */
	if (n > 20 && n <= 22 && !memcmp(t, "control character 0x", 20) &&
	    strspn(t + 20, "0123456789abcdef") == n - 20) {
		snprintf(buf, size, "%.*s (a raw tab or newline inside a string?)", (int)n, t);
		return buf;
	}
	switch (json_error_code(jerr)) {
	case json_error_premature_end_of_input:
		return "premature end of input";
	case json_error_end_of_input_expected:
		return "end of file expected";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_duplicate_key:
		return "duplicate object key";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "a NUL character";
	case json_error_stack_overflow:
		return "maximum parsing depth reached";
	case json_error_invalid_syntax:
		return "invalid syntax";
	default:
		return "cannot be parsed";
	}
}

static ml_json *parse(const char *data, size_t len, int secret, struct ml_error *err)
{
	json_error_t jerr;
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	char reason[80];

	if (!v)
		ml_error_set(err, ML_EPROTO, "invalid JSON at line %d column %d: %s", jerr.line,
			     jerr.column, secret ? secret_reason(&jerr, reason, sizeof(reason)) :
			     jerr.text);
	explicit_bzero(&jerr, sizeof(jerr));
	return M(v);
}

ml_json *ml_json_parse(const char *data, size_t len, struct ml_error *err)
{
	return parse(data, len, 0, err);
}

ml_json *ml_json_parse_secret(const char *data, size_t len, struct ml_error *err)
{
	return parse(data, len, 1, err);
}

ml_json *ml_json_object_new(void)
{
	return M(json_object());
}

ml_json *ml_json_array_new(void)
{
	return M(json_array());
}

ml_json *ml_json_string_new(const char *s)
{
	json_t *v = json_string(s);

	/* jansson refuses invalid UTF-8; keep the document valid rather than fail */
	return M(v ? v : json_string("<invalid utf-8>"));
}

ml_json *ml_json_int_new(int64_t v)
{
	return M(json_integer((json_int_t)v));
}

ml_json *ml_json_real_new(double v)
{
	return M(json_real(v));
}

ml_json *ml_json_bool_new(int v)
{
	return M(json_boolean(v));
}

ml_json *ml_json_null_new(void)
{
	return M(json_null());
}

ml_json *ml_json_ref(ml_json *v)
{
	return M(json_incref(J(v)));
}

ml_json *ml_json_deep_copy(const ml_json *v)
{
	return M(json_deep_copy((const json_t *)v));
}

void ml_json_free(ml_json *v)
{
	json_decref(J(v));
}

int ml_json_is_object(const ml_json *v)
{
	return v && json_is_object((const json_t *)v);
}

int ml_json_is_array(const ml_json *v)
{
	return v && json_is_array((const json_t *)v);
}

int ml_json_is_true(const ml_json *v)
{
	return v && json_is_true((const json_t *)v);
}

int ml_json_is_string(const ml_json *v)
{
	return v && json_is_string((const json_t *)v);
}

ml_json *ml_json_get(const ml_json *obj, const char *key)
{
	if (!ml_json_is_object(obj))
		return NULL;
	return M(json_object_get((const json_t *)obj, key));
}

const char *ml_json_get_str(const ml_json *obj, const char *key)
{
	return ml_json_str(ml_json_get(obj, key));
}

int ml_json_get_int(const ml_json *obj, const char *key, int64_t *out)
{
	return ml_json_int(ml_json_get(obj, key), out);
}

void ml_json_set(ml_json *obj, const char *key, ml_json *val)
{
	if (!val)
		json_object_del(J(obj), key);
	else
		json_object_set_new(J(obj), key, J(val));
}

void ml_json_set_str(ml_json *obj, const char *key, const char *s)
{
	ml_json_set(obj, key, s ? ml_json_string_new(s) : ml_json_null_new());
}

void ml_json_set_int(ml_json *obj, const char *key, int64_t v)
{
	ml_json_set(obj, key, ml_json_int_new(v));
}

ml_json *ml_json_get_or_add_object(ml_json *obj, const char *key)
{
	ml_json *v = ml_json_get(obj, key);

	if (!ml_json_is_object(obj))
		return NULL;
	if (!ml_json_is_object(v)) {
		v = ml_json_object_new();
		ml_json_set(obj, key, v);
	}
	return v;
}

void *ml_json_iter(ml_json *obj)
{
	return ml_json_is_object(obj) ? json_object_iter(J(obj)) : NULL;
}

void *ml_json_iter_next(ml_json *obj, void *it)
{
	return json_object_iter_next(J(obj), it);
}

const char *ml_json_iter_key(void *it)
{
	return json_object_iter_key(it);
}

ml_json *ml_json_iter_value(void *it)
{
	return M(json_object_iter_value(it));
}

size_t ml_json_size(const ml_json *v)
{
	if (ml_json_is_array(v))
		return json_array_size((const json_t *)v);
	if (ml_json_is_object(v))
		return json_object_size((const json_t *)v);
	return 0;
}

ml_json *ml_json_at(const ml_json *arr, size_t i)
{
	if (!ml_json_is_array(arr))
		return NULL;
	return M(json_array_get((const json_t *)arr, i));
}

void ml_json_append(ml_json *arr, ml_json *val)
{
	json_array_append_new(J(arr), J(val));
}

void ml_json_array_set(ml_json *arr, size_t i, ml_json *val)
{
	json_array_set_new(J(arr), i, J(val));
}

const char *ml_json_str(const ml_json *v)
{
	return ml_json_is_string(v) ? json_string_value((const json_t *)v) : NULL;
}

int ml_json_int(const ml_json *v, int64_t *out)
{
	if (!v || !json_is_integer((const json_t *)v))
		return -1;
	*out = (int64_t)json_integer_value((const json_t *)v);
	return 0;
}

int ml_json_number(const ml_json *v, double *out)
{
	if (!v || !json_is_number((const json_t *)v))
		return -1;
	*out = json_number_value((const json_t *)v);
	return 0;
}

static int dump_cb(const char *data, size_t len, void *ud)
{
	return ml_buf_add(ud, data, len) < 0 ? -1 : 0;
}

static int json_dump_flags(const ml_json *v, struct ml_buf *out, size_t flags)
{
	if (json_dump_callback((const json_t *)v, dump_cb, out, flags | JSON_SORT_KEYS) < 0)
		return -ML_ETOOBIG;
	return 0;
}

int ml_json_dump(const ml_json *v, struct ml_buf *out)
{
	return json_dump_flags(v, out, JSON_COMPACT | JSON_ENCODE_ANY);
}

int ml_json_dump_pretty(const ml_json *v, struct ml_buf *out)
{
	return json_dump_flags(v, out, JSON_INDENT(2) | JSON_ENCODE_ANY);
}
