/* Unit tests for lib/image/ignore.c: .dockerignore semantics as moby/patternmatcher. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/ignore.h"

/* Builds a matcher from a NULL-terminated list of patterns, each of which must parse. */
static struct ml_ignore *build(const char *const *patterns)
{
	struct ml_ignore *ig = ml_ignore_new();
	struct ml_error err = { 0, "" };

	for (; *patterns; patterns++) {
		if (ml_ignore_add(ig, *patterns, "test", &err) != 0)
			fail_msg("pattern '%s' refused: %s", *patterns, err.msg);
	}
	return ig;
}

static int excluded_by(const char *const *patterns, const char *path)
{
	struct ml_ignore *ig = build(patterns);
	int ret = ml_ignore_match(ig, path, 0);

	ml_ignore_free(ig);
	return ret;
}

static int one(const char *pattern, const char *path)
{
	const char *const patterns[] = { pattern, NULL };

	return excluded_by(patterns, path);
}

static int add_one(const char *pattern, struct ml_error *err)
{
	struct ml_ignore *ig = ml_ignore_new();
	int ret = ml_ignore_add(ig, pattern, "deploy.yaml:14:9", err);

	ml_ignore_free(ig);
	return ret;
}

static char *write_temp(const char *content)
{
	char *path = strdup("/tmp/test-ignore-XXXXXX");
	int fd = mkstemp(path);
	size_t len = strlen(content);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_star_and_question(void **state)
{
	(void)state;
	assert_true(one("*.pyc", "a.pyc"));
	assert_false(one("*.pyc", "dir/a.pyc"));
	assert_false(one("a/*.txt", "a/b/c.txt"));
	assert_true(one("a/*/c.txt", "a/b/c.txt"));
	assert_true(one("a*", "a"));
	assert_true(one("abc?def", "abcZdef"));
	assert_false(one("abc?def", "abcdef"));
	assert_false(one("abc?def", "abc/def"));
	assert_true(one("caf?", "caf\xc3\xa9"));
	assert_true(one(".*", ".foo"));
	assert_false(one(".*", "foo"));
	assert_true(one("abc.def", "abc.def"));
	assert_false(one("abc.def", "abcZdef"));
	assert_true(one("a.|)$(}+{bc", "a.|)$(}+{bc"));
	assert_true(one("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"));
}

static void test_classes(void **state)
{
	(void)state;
	assert_true(one("a[b-d]e", "ace"));
	assert_false(one("a[b-d]e", "aae"));
	assert_false(one("a[b-d]e", "ae"));
	assert_true(one("a[^b-d]e", "aze"));
	assert_false(one("a[^b-d]e", "ace"));
	assert_true(one("[abc]x", "bx"));
	assert_true(one("x[a-cx-z]", "xy"));
	/* As in Go's filepath.Match and Docker, '!' is a plain class member. */
	assert_true(one("a[!b]e", "a!e"));
	assert_true(one("a[!b]e", "abe"));
	assert_false(one("a[!b]e", "aze"));
	/* A negated class, unlike '?', matches '/'. */
	assert_true(one("a[^x]b", "a/b"));
	assert_true(one("[\\]]x", "]x"));
	assert_true(one("[\\-]x", "-x"));
	assert_true(one("[*?]", "*"));
	assert_false(one("[*?]", "a"));
	assert_true(one("caf[\xc3\xa9]", "caf\xc3\xa9"));
	assert_true(one("[\xc3\xa0-\xc3\xbf]", "\xc3\xa9"));
}

static void test_escapes(void **state)
{
	(void)state;
	assert_true(one("a\\*b", "a*b"));
	assert_false(one("a\\*b", "axb"));
	assert_true(one("a\\?", "a?"));
	assert_false(one("a\\?", "ab"));
	assert_true(one("a\\\\", "a\\"));
	assert_true(one("\\[x]", "[x]"));
	assert_true(one("\\#notes", "#notes"));
	assert_true(one("\\!keep", "!keep"));
	assert_true(one("\\x*", "xyz"));
}

static void test_double_star(void **state)
{
	(void)state;
	assert_true(one("**/*.pyc", "a.pyc"));
	assert_true(one("**/*.pyc", "x/y/a.pyc"));
	assert_false(one("**/*.pyc", "x/y/a.py"));
	assert_true(one("**/__pycache__", "__pycache__"));
	assert_true(one("**/__pycache__", "a/b/__pycache__"));
	assert_true(one("**/__pycache__", "a/__pycache__/x.pyc"));
	assert_false(one("**/__pycache__", "a/x__pycache__"));
	assert_false(one("docs/**", "docs"));
	assert_true(one("docs/**", "docs/a"));
	assert_true(one("docs/**", "docs/a/b"));
	assert_false(one("docs/**", "docsx"));
	assert_true(one("a/**/b", "a/b"));
	assert_true(one("a/**/b", "a/x/y/b"));
	assert_false(one("a/**/b", "a/xb"));
	assert_true(one("**", "anything/at/all"));
	assert_true(one("**/", "file"));
	assert_true(one("**/**", "dir/file"));
	assert_true(one("**/dir2/*", "dir/dir2/file"));
	assert_true(one("**/dir2/**", "dir/dir2/dir3/file"));
	assert_true(one("**/**/*.txt", "file.txt"));
	assert_false(one("**/**/*.txt2", "dir/dir/file.txt"));
	assert_true(one("a**/*.txt", "a/dir/dir/file.txt"));
	assert_true(one("a/*.txt**", "a/file.txt"));
	assert_true(one("**/foo/bar", "dir/dir2/foo/bar"));
	assert_false(one("**/.foo", "bar.foo"));
}

/* Shortcuts and regexp artefacts of moby that change results; kept on purpose. */
static void test_moby_quirks(void **state)
{
	(void)state;
	assert_true(one("**file", "dir/xfile"));
	assert_false(one("**b*", "xb"));
	assert_true(one("**b*", "x/b1"));
	assert_true(one("a**b", "ab"));
	assert_true(one("a**b", "a/x/b"));
	assert_false(one("a**b", "axb"));
	assert_true(one("docs**", "docsx"));
	assert_true(one("^foo", "^foo"));
	assert_true(one("^foo*", "foobar"));
	assert_false(one("^foo*", "^foobar"));
	assert_false(one("a*/**", "a/x\ny"));
	assert_true(one("a/**", "a/x\ny"));
}

static void test_cleaning(void **state)
{
	(void)state;
	assert_true(one("/foo", "foo"));
	assert_true(one("./foo/", "foo"));
	assert_true(one("a//b", "a/b"));
	assert_true(one("a/./b", "a/b"));
	assert_true(one("a/../b", "b"));
	assert_true(one("  foo \t", "foo"));
	assert_true(one("\xc2\xa0" "foo", "foo"));
	assert_true(one("/*.py", "x.py"));
	assert_false(one(" #x", "foo"));
	assert_true(one(" #x", "#x"));
	assert_false(one("# comment", "# comment"));
	assert_false(one("", "foo"));
	assert_false(one("   ", "foo"));
}

static void test_parent_dirs(void **state)
{
	(void)state;
	assert_true(one("foo", "foo/bar/baz"));
	assert_false(one("foo", "foobar"));
	assert_false(one("foo/bar", "foo"));
	assert_true(one("foo/bar", "foo/bar/x"));
	assert_true(one("*/tmp", "a/tmp/x"));
	assert_false(one("*/tmp", "a/b/tmp"));
	assert_true(one("foo*", "foobar/x"));
	assert_false(one("bar", "foo/bar"));
}

static void test_reinclude(void **state)
{
	const char *const md[] = { "*.md", "!README.md", NULL };
	const char *const late[] = { "!README.md", "*.md", NULL };
	const char *const docs[] = { "docs", "!docs/keep.txt", NULL };
	const char *const all[] = { "*", "!src", NULL };
	const char *const nested[] = { "foo", "!foo/bar", "foo/bar/baz", NULL };
	const char *const trim[] = { "*.env", "!  ./keep.env", NULL };

	(void)state;
	assert_false(excluded_by(md, "README.md"));
	assert_true(excluded_by(md, "CHANGES.md"));
	assert_true(excluded_by(late, "README.md"));
	assert_false(excluded_by(docs, "docs/keep.txt"));
	assert_true(excluded_by(docs, "docs/other.txt"));
	assert_true(excluded_by(docs, "docs"));
	assert_false(excluded_by(all, "src"));
	assert_false(excluded_by(all, "src/main.c"));
	assert_true(excluded_by(all, "Makefile"));
	assert_true(excluded_by(nested, "foo/x"));
	assert_false(excluded_by(nested, "foo/bar"));
	assert_false(excluded_by(nested, "foo/bar/qux"));
	assert_true(excluded_by(nested, "foo/bar/baz"));
	assert_true(excluded_by(nested, "foo/bar/baz/deep"));
	assert_false(excluded_by(trim, "keep.env"));
	assert_true(excluded_by(trim, "prod.env"));
}

static void test_may_reinclude(void **state)
{
	const char *const none[] = { "docs", "*.pyc", NULL };
	const char *const docs[] = { "docs", "!docs/keep.txt", NULL };
	const char *const wild[] = { "build", "!build/*/keep", NULL };
	const char *const deep[] = { "*", "!**/keep", NULL };
	const char *const parent[] = { "a", "!a", "a/b", NULL };
	struct ml_ignore *ig;

	(void)state;
	ig = build(none);
	assert_false(ml_ignore_may_reinclude(ig, "docs"));
	ml_ignore_free(ig);

	ig = build(docs);
	assert_true(ml_ignore_may_reinclude(ig, "docs"));
	assert_true(ml_ignore_may_reinclude(ig, ""));
	assert_true(ml_ignore_may_reinclude(ig, "."));
	assert_false(ml_ignore_may_reinclude(ig, "other"));
	assert_false(ml_ignore_may_reinclude(ig, "docs/sub"));
	assert_false(ml_ignore_may_reinclude(ig, "doc"));
	ml_ignore_free(ig);

	ig = build(wild);
	assert_true(ml_ignore_may_reinclude(ig, "build"));
	assert_true(ml_ignore_may_reinclude(ig, "build/x"));
	assert_false(ml_ignore_may_reinclude(ig, "src"));
	ml_ignore_free(ig);

	ig = build(deep);
	assert_true(ml_ignore_may_reinclude(ig, "any/dir"));
	ml_ignore_free(ig);

	ig = build(parent);
	assert_true(ml_ignore_may_reinclude(ig, "a/b"));
	assert_false(ml_ignore_may_reinclude(ig, "b"));
	ml_ignore_free(ig);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"a[", "a[b", "a\\", "[]", "[^]", "[a-]", "[-a]", "[z-a]", "[\\", "!", "! ",
		"x[\xff]", "ok/*/[",
	};
	struct ml_error err = { 0, "" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ml_error_clear(&err);
		if (add_one(bad[i], &err) != -ML_ECONFIG)
			fail_msg("pattern '%s' accepted", bad[i]);
		assert_int_equal(err.code, ML_ECONFIG);
	}
	assert_int_equal(add_one("abc\\", &err), -ML_ECONFIG);
	assert_string_equal(err.msg, "deploy.yaml:14:9: bad ignore pattern 'abc\\': trailing backslash");
	assert_int_equal(add_one("src/[a-", &err), -ML_ECONFIG);
	assert_string_equal(err.msg,
			    "deploy.yaml:14:9: bad ignore pattern 'src/[a-': unterminated character class");
	assert_int_equal(add_one("[]", &err), -ML_ECONFIG);
	assert_string_equal(err.msg, "deploy.yaml:14:9: bad ignore pattern '[]': empty character class");
	assert_int_equal(add_one("[]a]", &err), -ML_ECONFIG);
	assert_int_equal(add_one("[a]b]", NULL), 0);
	assert_int_equal(add_one("[^a-c\\]]", NULL), 0);
}

static void test_file(void **state)
{
	const char *content =
		"\xef\xbb\xbf" "# build output\n"
		"\n"
		"*.pyc\n"
		"   \n"
		"!keep.pyc   \r\n"
		"# !other.pyc\n"
		"dist/";
	struct ml_error err = { 0, "" };
	struct ml_ignore *ig = ml_ignore_new();
	char *path = write_temp(content);

	(void)state;
	assert_int_equal(ml_ignore_add_file(ig, path, &err), 0);
	assert_true(ml_ignore_match(ig, "a.pyc", 0));
	assert_false(ml_ignore_match(ig, "keep.pyc", 0));
	assert_true(ml_ignore_match(ig, "other.pyc", 0));
	assert_true(ml_ignore_match(ig, "dist/x.whl", 0));
	assert_false(ml_ignore_match(ig, "# build output", 0));
	assert_false(ml_ignore_may_reinclude(ig, "dist"));
	unlink(path);
	free(path);
	ml_ignore_free(ig);
}

static void test_file_errors(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_ignore *ig = ml_ignore_new();
	char *path = write_temp("# ok\n*.pyc\nsrc/[a-\n");
	char *want;

	(void)state;
	assert_int_equal(ml_ignore_add_file(ig, path, &err), -ML_ECONFIG);
	want = malloc(strlen(path) + 64);
	sprintf(want, "%s:3: bad ignore pattern 'src/[a-': unterminated character class", path);
	assert_string_equal(err.msg, want);
	free(want);
	unlink(path);
	free(path);

	assert_int_equal(ml_ignore_add_file(ig, "/nonexistent/.dockerignore", &err), 0);
	assert_int_equal(ml_ignore_add_file(ig, "/tmp", &err), -ML_EIO);
	assert_int_equal(err.code, ML_EIO);
	assert_non_null(strstr(err.msg, "'/tmp'"));
	assert_non_null(strstr(err.msg, "Is a directory"));
	ml_ignore_free(ig);
}

static void test_python_project(void **state)
{
	/* "*.env" is added so that "!important.env" has something to undo. */
	const char *const py[] = {
		".git", "__pycache__", "*.pyc", "**/*.ipynb", ".env", "*.env", "!important.env", NULL,
	};
	struct ml_ignore *ig;

	(void)state;
	ig = build(py);
	assert_true(ml_ignore_match(ig, ".git", 1));
	assert_true(ml_ignore_match(ig, ".git/HEAD", 0));
	assert_true(ml_ignore_match(ig, ".git/objects/ab/cdef", 0));
	assert_true(ml_ignore_match(ig, "__pycache__/app.cpython-311.pyc", 0));
	assert_true(ml_ignore_match(ig, "app.pyc", 0));
	assert_true(ml_ignore_match(ig, "notebooks/explore.ipynb", 0));
	assert_true(ml_ignore_match(ig, "explore.ipynb", 0));
	assert_true(ml_ignore_match(ig, ".env", 0));
	assert_true(ml_ignore_match(ig, "prod.env", 0));
	assert_false(ml_ignore_match(ig, "important.env", 0));
	assert_false(ml_ignore_match(ig, "app.py", 0));
	assert_false(ml_ignore_match(ig, "model.pkl", 0));
	assert_false(ml_ignore_match(ig, ".gitignore", 0));
	/* As in Docker, patterns without "**" are anchored at the context root. */
	assert_false(ml_ignore_match(ig, "pkg/__pycache__", 1));
	assert_false(ml_ignore_match(ig, "pkg/mod.pyc", 0));
	assert_false(ml_ignore_match(ig, "vendor/.git", 1));
	assert_false(ml_ignore_may_reinclude(ig, ".git"));
	assert_false(ml_ignore_may_reinclude(ig, "__pycache__"));
	ml_ignore_free(ig);
}

/* Many stars against a long name must not take exponential time. */
static void test_many_stars(void **state)
{
	char path[301];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_false(one("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", path));
	assert_true(one("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*", path));
	assert_false(one("**/**/**/**/**/**/**/**/**/**/x", "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/y"));
}

static void test_empty(void **state)
{
	struct ml_ignore *ig = ml_ignore_new();

	(void)state;
	assert_false(ml_ignore_match(ig, "anything", 0));
	assert_false(ml_ignore_may_reinclude(ig, "anything"));
	ml_ignore_free(ig);
	ml_ignore_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_star_and_question),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_double_star),
		cmocka_unit_test(test_moby_quirks),
		cmocka_unit_test(test_cleaning),
		cmocka_unit_test(test_parent_dirs),
		cmocka_unit_test(test_reinclude),
		cmocka_unit_test(test_may_reinclude),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_python_project),
		cmocka_unit_test(test_many_stars),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
