/* Unit tests for ml_yaml_write (lib/config/yaml.c): a JSON tree as one block-style
 * YAML document, with strings quoted when they would read back as something else,
 * and what it refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "config/config.h"
#include "util/buf.h"

static ml_json *parse_ok(const char *s)
{
	struct ml_error err = { 0, "" };
	ml_json *v = ml_json_parse(s, strlen(s), &err);

	if (!v)
		fail_msg("'%s' refused: %s", s, err.msg);
	return v;
}

static void expect_yaml(const char *json, const char *want)
{
	struct ml_error err = { 0, "" };
	struct ml_buf out;
	ml_json *doc = parse_ok(json);

	ml_buf_init(&out, 0);
	if (ml_yaml_write(doc, &out, &err) < 0)
		fail_msg("'%s': %s", json, err.msg);
	assert_string_equal(ml_buf_str(&out), want);
	ml_buf_dispose(&out);
	ml_json_free(doc);
}

/* app.yaml's shape: nested mappings, numbers, a float that is a whole number */
static void test_block_mappings(void **state)
{
	(void)state;
	expect_yaml("{\"runtime\": \"custom\", \"env\": \"flex\", \"resources\": {\"cpu\": 1.0, "
		    "\"memory_gb\": 0.5}, \"automatic_scaling\": {\"min_num_instances\": 1}, "
		    "\"liveness_check\": {\"path\": \"/healthz\"}}",
		    "runtime: custom\n"
		    "env: flex\n"
		    "resources:\n"
		    "  cpu: 1.0\n"
		    "  memory_gb: 0.5\n"
		    "automatic_scaling:\n"
		    "  min_num_instances: 1\n"
		    "liveness_check:\n"
		    "  path: /healthz\n");
}

/* strings YAML would read as numbers, booleans (1.1's yes/on too) or null, or
 * that hold its syntax, are quoted; the rest stay plain */
static void test_quoting(void **state)
{
	(void)state;
	expect_yaml("{\"a\": \"1\", \"b\": \"yes\", \"c\": \"On\", \"d\": \"null\", \"e\": \"\", "
		    "\"f\": \"a: b\", \"g\": \"#x\", \"h\": \"-x\", \"i\": \"/app/model.pkl\", "
		    "\"j\": \"it's\", \"k\": \"0.5\", \"l\": \"~\"}",
		    "a: '1'\n"
		    "b: 'yes'\n"
		    "c: 'On'\n"
		    "d: 'null'\n"
		    "e: ''\n"
		    "f: 'a: b'\n"
		    "g: '#x'\n"
		    "h: '-x'\n"
		    "i: /app/model.pkl\n"
		    "j: 'it''s'\n"
		    "k: '0.5'\n"
		    "l: '~'\n");
	expect_yaml("{\"1\": \"x\", \"true\": \"y\"}", "'1': x\n'true': 'y'\n");
}

static void test_sequences_and_true(void **state)
{
	(void)state;
	expect_yaml("{\"list\": [\"x\", \"2\", 3, {\"k\": \"v\"}], \"t\": true}",
		    "list:\n"
		    "- x\n"
		    "- '2'\n"
		    "- 3\n"
		    "- k: v\n"
		    "t: true\n");
}

/* false and null have no use in the files it writes: an error, not a guess */
static void test_refuses_false_and_null(void **state)
{
	static const char *const docs[] = { "{\"a\": false}", "{\"a\": null}", "[null]" };
	struct ml_error err = { 0, "" };
	struct ml_buf out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		ml_json *doc = parse_ok(docs[i]);

		ml_buf_init(&out, 0);
		assert_int_equal(ml_yaml_write(doc, &out, &err), -ML_EINTERNAL);
		assert_non_null(strstr(err.msg, "cannot write yaml"));
		ml_buf_dispose(&out);
		ml_json_free(doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_mappings),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_sequences_and_true),
		cmocka_unit_test(test_refuses_false_and_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
