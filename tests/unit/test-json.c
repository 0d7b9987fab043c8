/* Unit tests for lib/wrap/json.c: parse errors with positions, duplicate keys, the
 * canonical (sorted, compact) form, and the object helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrap/json.h"

static ml_json *parse_ok(const char *s)
{
	struct ml_error err = { 0, "" };
	ml_json *v = ml_json_parse(s, strlen(s), &err);

	if (!v)
		fail_msg("'%s' refused: %s", s, err.msg);
	return v;
}

static void expect_error(const char *s, size_t len, const char *where)
{
	struct ml_error err = { 0, "" };
	ml_json *v = ml_json_parse(s, len, &err);

	if (v)
		fail_msg("'%s' accepted", s);
	assert_int_equal(err.code, ML_EPROTO);
	if (!strstr(err.msg, where))
		fail_msg("'%s': message '%s' lacks '%s'", s, err.msg, where);
}

static void test_parse_errors(void **state)
{
	static const char multi[] = "{\n  \"a\": 1,\n  \"b\": ,\n  \"c\": 3\n}";

	(void)state;
	expect_error(multi, strlen(multi), "line 3 column");
	expect_error("{\"a\": 1", 7, "line 1");
	expect_error("", 0, "invalid JSON");
	expect_error("[1, 2,]", 7, "line 1 column");
	expect_error("{\"a\": tru}", 10, "line 1 column");
	expect_error("\n\n\n  @", 5, "line 4 column");
	expect_error("{} x", 4, "invalid JSON");
	/* invalid UTF-8 */
	expect_error("\"\xff\"", 3, "invalid JSON");
}

static void test_parse_errors_have_column(void **state)
{
	struct ml_error err = { 0, "" };
	const char *s = "{\"key\": [1, 2, oops]}";
	int line = 0, col = 0;
	const char *p;

	(void)state;
	assert_null(ml_json_parse(s, strlen(s), &err));
	p = strstr(err.msg, "line ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "line %d column %d", &line, &col), 2);
	assert_int_equal(line, 1);
	/* the error is at or just after "oops" (column 16, 1-based) */
	assert_true(col >= 16 && col <= 20);
}

/* A document holding a password breaks in every way a hand-edited file does; the
 * error never quotes any of it, and still says where and what. */
static void test_parse_secret_quotes_nothing(void **state)
{
	static const struct {
		const char *doc;
		const char *what;
	} cases[] = {
		{ "{\"auths\": {\"r\": {\"password\": \"Pa55\nword\"}}}", "unexpected newline" },
		{ "{\"auths\": {\"r\": {\"password\": \"Pa55\tword\"}}}", "control character 0x9 (a raw tab" },
		{ "{\"auths\": {\"r\": {\"password\": \"Pa55word", "premature end of input" },
		{ "{\"auths\": {\"r\": {\"password\": \"Pa55word\"}}", "'}' expected" },
		{ "{\"auths\": {\"r\": {\"password\": \"Pa55\\u12G4word\"}}}", "invalid escape" },
		{ "{\"auths\": {\"r\": {\"password\": \"Pa55\\qword\"}}}", "invalid escape" },
		{ "{\"auths\": {\"r\": {\"password\": \"Pa55\xffword\"}}}", "UTF-8" },
		{ "{\"auths\": {\"r\": {\"password\": Pa55word}}}", "invalid token" },
		{ "{\"password\": \"Pa55word\", \"password\": \"Pa55word\"}", "duplicate" },
		{ "{\"password\": \"x\"} Pa55word", "end of file expected" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ml_error err = { 0, "" }, plain = { 0, "" };
		const char *d = cases[i].doc;

		assert_null(ml_json_parse_secret(d, strlen(d), &err));
		assert_int_equal(err.code, ML_EPROTO);
		if (strstr(err.msg, "Pa55") || strstr(err.msg, "word") ||
		    !strstr(err.msg, "line 1 column ") || !strstr(err.msg, cases[i].what))
			fail_msg("case %zu: '%s'", i, err.msg);
		/* the same position as the ordinary parse reports */
		assert_null(ml_json_parse(d, strlen(d), &plain));
		assert_non_null(strstr(plain.msg, ": "));
		assert_memory_equal(err.msg, plain.msg, (size_t)(strstr(plain.msg, ": ") - plain.msg));
	}
}

static void test_parse_len(void **state)
{
	struct ml_error err = { 0, "" };
	ml_json *v;
	int64_t n;

	(void)state;
	/* only len bytes are read: no NUL needed, trailing bytes ignored */
	v = ml_json_parse("[42]garbage", 4, &err);
	assert_non_null(v);
	assert_int_equal(ml_json_size(v), 1);
	assert_int_equal(ml_json_int(ml_json_at(v, 0), &n), 0);
	assert_int_equal(n, 42);
	ml_json_free(v);
}

static void test_duplicate_keys(void **state)
{
	static const char dup[] = "{\"a\": 1, \"b\": 2, \"a\": 3}";
	static const char nested[] = "{\"x\": {\"k\": 1,\n \"k\": 2}}";
	ml_json *v;

	(void)state;
	expect_error(dup, strlen(dup), "duplicate");
	expect_error(nested, strlen(nested), "line 2");
	/* the same key in different objects is fine */
	v = parse_ok("{\"a\": {\"a\": 1}, \"b\": [{\"a\": 1}, {\"a\": 2}]}");
	ml_json_free(v);
}

static char *dump(const ml_json *v)
{
	struct ml_buf b = ML_BUF_INIT;

	assert_int_equal(ml_json_dump(v, &b), 0);
	return ml_buf_detach(&b);
}

static void test_canonical_dump(void **state)
{
	static const char in[] =
		"{\n  \"zeta\": [3, 2, {\"b\": null, \"a\": true}],\n"
		"  \"Alpha\": \"x\",\n  \"alpha\": 1.5,\n  \"_\": {},\n  \"10\": -7,\n  \"9\": []\n}";
	ml_json *v = parse_ok(in), *w;
	char *s, *s2;

	(void)state;
	s = dump(v);
	/* byte order of keys (upper case before lower case, "10" before "9"), no spaces */
	assert_string_equal(s, "{\"10\":-7,\"9\":[],\"Alpha\":\"x\",\"_\":{},\"alpha\":1.5,"
			       "\"zeta\":[3,2,{\"a\":true,\"b\":null}]}");
	/* parsing the canonical form gives the canonical form again */
	w = parse_ok(s);
	s2 = dump(w);
	assert_string_equal(s, s2);
	free(s);
	free(s2);
	ml_json_free(v);
	ml_json_free(w);
}

/* The order keys are added in does not matter. */
static void test_dump_insertion_order(void **state)
{
	ml_json *a = ml_json_object_new(), *b = ml_json_object_new();
	char *sa, *sb;

	(void)state;
	ml_json_set_str(a, "mediaType", "m");
	ml_json_set_int(a, "size", 12);
	ml_json_set_str(a, "digest", "d");
	ml_json_set_int(b, "size", 12);
	ml_json_set_str(b, "digest", "d");
	ml_json_set_str(b, "mediaType", "m");
	sa = dump(a);
	sb = dump(b);
	assert_string_equal(sa, "{\"digest\":\"d\",\"mediaType\":\"m\",\"size\":12}");
	assert_string_equal(sa, sb);
	free(sa);
	free(sb);
	ml_json_free(a);
	ml_json_free(b);
}

static void test_dump_strings(void **state)
{
	ml_json *v = ml_json_object_new();
	char *s;

	(void)state;
	ml_json_set_str(v, "q", "a\"b\\c\n\t\x01/");
	ml_json_set_str(v, "u", "caf\xc3\xa9");
	ml_json_set(v, "bad", ml_json_string_new("\xff\xfe"));
	ml_json_set_str(v, "null", NULL);
	ml_json_set(v, "big", ml_json_int_new(INT64_MAX));
	ml_json_set(v, "f", ml_json_bool_new(0));
	s = dump(v);
	assert_string_equal(s, "{\"bad\":\"<invalid utf-8>\",\"big\":9223372036854775807,\"f\":false,"
			       "\"null\":null,\"q\":\"a\\\"b\\\\c\\n\\t\\u0001/\","
			       "\"u\":\"caf\xc3\xa9\"}");
	free(s);
	ml_json_free(v);
}

static void test_dump_pretty(void **state)
{
	ml_json *v = parse_ok("{\"b\": [1], \"a\": {\"c\": \"d\"}}");
	struct ml_buf b = ML_BUF_INIT;

	(void)state;
	assert_int_equal(ml_json_dump_pretty(v, &b), 0);
	assert_string_equal(ml_buf_str(&b), "{\n  \"a\": {\n    \"c\": \"d\"\n  },\n  \"b\": [\n"
					    "    1\n  ]\n}");
	ml_buf_dispose(&b);
	ml_json_free(v);
}

static void test_dump_cap(void **state)
{
	ml_json *v = parse_ok("{\"key\": \"a value longer than the cap\"}");
	struct ml_buf b;

	(void)state;
	ml_buf_init(&b, 10);
	assert_int_equal(ml_json_dump(v, &b), -ML_ETOOBIG);
	assert_true(b.len <= 10);
	ml_buf_dispose(&b);
	ml_json_free(v);
}

static void test_get_or_add_object(void **state)
{
	ml_json *root = parse_ok("{\"config\": {\"Env\": [\"A=1\"]}, \"rootfs\": null, \"n\": 3}");
	ml_json *c, *again, *r, *n, *fresh;
	char *s;

	(void)state;
	/* an existing object is returned as it is */
	c = ml_json_get_or_add_object(root, "config");
	assert_true(ml_json_is_object(c));
	assert_int_equal(ml_json_size(ml_json_get(c, "Env")), 1);
	again = ml_json_get_or_add_object(root, "config");
	assert_ptr_equal(c, again);
	/* null and a number are replaced by an empty object */
	r = ml_json_get_or_add_object(root, "rootfs");
	assert_true(ml_json_is_object(r));
	assert_int_equal(ml_json_size(r), 0);
	n = ml_json_get_or_add_object(root, "n");
	assert_true(ml_json_is_object(n));
	/* missing: created; the pointer is borrowed from root */
	fresh = ml_json_get_or_add_object(root, "labels");
	ml_json_set_str(fresh, "k", "v");
	s = dump(root);
	assert_string_equal(s, "{\"config\":{\"Env\":[\"A=1\"]},\"labels\":{\"k\":\"v\"},\"n\":{},"
			       "\"rootfs\":{}}");
	free(s);
	ml_json_free(root);
}

/* On something that is not an object there is nowhere to add the member: the
 * result must not be a pointer to a value already freed. */
static void test_get_or_add_object_on_array(void **state)
{
	ml_json *arr = ml_json_array_new();
	ml_json *v;

	(void)state;
	v = ml_json_get_or_add_object(arr, "k");
	assert_null(v);
	assert_int_equal(ml_json_size(arr), 0);
	ml_json_free(arr);
}

static void test_iteration(void **state)
{
	ml_json *v = parse_ok("{\"b\": 2, \"a\": 1, \"c\": 3}");
	const char *seen[3];
	int64_t sum = 0, x;
	size_t n = 0;
	void *it;

	(void)state;
	for (it = ml_json_iter(v); it; it = ml_json_iter_next(v, it)) {
		assert_true(n < 3);
		seen[n++] = ml_json_iter_key(it);
		assert_int_equal(ml_json_int(ml_json_iter_value(it), &x), 0);
		sum += x;
	}
	assert_int_equal(n, 3);
	assert_int_equal(sum, 6);
	/* every key once, whatever the order */
	assert_true(strcmp(seen[0], seen[1]) && strcmp(seen[1], seen[2]) && strcmp(seen[0], seen[2]));

	/* empty objects and non-objects give no iterator */
	ml_json_free(v);
	v = ml_json_object_new();
	assert_null(ml_json_iter(v));
	ml_json_free(v);
	v = parse_ok("[1, 2]");
	assert_null(ml_json_iter(v));
	ml_json_free(v);
	assert_null(ml_json_iter(NULL));
}

static void test_getters(void **state)
{
	ml_json *v = parse_ok("{\"s\": \"str\", \"i\": -5, \"r\": 2.5, \"a\": [\"x\"], \"n\": null}");
	int64_t i = 99;

	(void)state;
	assert_string_equal(ml_json_get_str(v, "s"), "str");
	assert_null(ml_json_get_str(v, "i"));
	assert_null(ml_json_get_str(v, "missing"));
	assert_int_equal(ml_json_get_int(v, "i", &i), 0);
	assert_int_equal(i, -5);
	i = 99;
	assert_int_equal(ml_json_get_int(v, "r", &i), -1);
	assert_int_equal(ml_json_get_int(v, "s", &i), -1);
	assert_int_equal(ml_json_get_int(v, "missing", &i), -1);
	assert_int_equal(i, 99);
	assert_true(ml_json_is_array(ml_json_get(v, "a")));
	assert_true(ml_json_is_string(ml_json_at(ml_json_get(v, "a"), 0)));
	assert_null(ml_json_at(ml_json_get(v, "a"), 1));
	assert_null(ml_json_at(v, 0));
	assert_null(ml_json_get(ml_json_get(v, "a"), "x"));
	assert_null(ml_json_get(NULL, "x"));
	assert_int_equal(ml_json_size(ml_json_get(v, "s")), 0);
	assert_int_equal(ml_json_size(NULL), 0);
	assert_int_equal(ml_json_size(v), 5);
	assert_false(ml_json_is_object(NULL));
	assert_false(ml_json_is_string(ml_json_get(v, "n")));
	assert_null(ml_json_str(NULL));

	/* set with NULL removes; set steals the reference */
	ml_json_set(v, "s", NULL);
	assert_null(ml_json_get(v, "s"));
	ml_json_set(v, "missing", NULL);
	assert_int_equal(ml_json_size(v), 4);
	ml_json_free(v);
	ml_json_free(NULL);
}

static void test_references(void **state)
{
	ml_json *a = ml_json_array_new(), *o = ml_json_object_new(), *copy;
	char *s1, *s2;

	(void)state;
	ml_json_append(a, ml_json_int_new(1));
	ml_json_append(a, ml_json_real_new(0.5));
	ml_json_append(a, ml_json_null_new());
	ml_json_set(o, "a", ml_json_ref(a));	/* o and this function both hold a */
	ml_json_append(a, ml_json_bool_new(1));
	s1 = dump(o);
	assert_string_equal(s1, "{\"a\":[1,0.5,null,true]}");
	copy = ml_json_deep_copy(o);
	ml_json_append(a, ml_json_string_new("later"));
	s2 = dump(copy);
	assert_string_equal(s1, s2);
	ml_json_free(a);
	ml_json_free(o);
	ml_json_free(copy);
	free(s1);
	free(s2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_errors_have_column),
		cmocka_unit_test(test_parse_secret_quotes_nothing),
		cmocka_unit_test(test_parse_len),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_canonical_dump),
		cmocka_unit_test(test_dump_insertion_order),
		cmocka_unit_test(test_dump_strings),
		cmocka_unit_test(test_dump_pretty),
		cmocka_unit_test(test_dump_cap),
		cmocka_unit_test(test_get_or_add_object),
		cmocka_unit_test(test_get_or_add_object_on_array),
		cmocka_unit_test(test_iteration),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_references),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
