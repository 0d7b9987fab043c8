/* Unit tests for lib/python/pep440.c and lib/python/pep508.c: PEP 503 names, PEP 440 versions and specifiers,
 * PEP 508 dependency specifiers and markers. Expected versions, orderings and
 * specifier results were checked against packaging 21.3 (the modern behaviour
 * where it refuses "legacy" specifiers). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pyver.h"

static void test_names(void **state)
{
	static const char *const valid[] = { "a", "A1", "flask", "Flask-Login", "zope.interface",
					     "typing_extensions", "a.b-c_d", "1a" };
	static const char *const invalid[] = { "", "-a", "a-", "_a", "a.", "a b", "a+b", "a@b",
					       "é" };
	static const struct {
		const char *in, *out;
	} norm[] = {
		{ "Flask", "flask" },
		{ "Flask_Login", "flask-login" },
		{ "zope.interface", "zope-interface" },
		{ "A-_.-b", "a-b" },
		{ "typing__extensions", "typing-extensions" },
		{ "x", "x" },
	};
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		if (!ml_pyname_valid(valid[i]))
			fail_msg("'%s' refused", valid[i]);
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		if (ml_pyname_valid(invalid[i]))
			fail_msg("'%s' accepted", invalid[i]);
	for (i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
		s = ml_pyname_normalize(norm[i].in);
		assert_string_equal(s, norm[i].out);
		free(s);
	}
}

/* version -> normalized form (NULL: invalid) */
static const struct {
	const char *in, *out;
} versions[] = {
	{ "1.0", "1.0" },
	{ "1.0.0", "1.0.0" },
	{ "1", "1" },
	{ "v1.0", "1.0" },
	{ "V1.0", "1.0" },
	{ " 1.0 ", "1.0" },
	{ "\t1.0\n", "1.0" },
	{ "01.02", "1.2" },
	{ "1.0a1", "1.0a1" },
	{ "1.0A1", "1.0a1" },
	{ "1.0alpha1", "1.0a1" },
	{ "1.0.alpha.1", "1.0a1" },
	{ "1.0-a-1", "1.0a1" },
	{ "1.0b2", "1.0b2" },
	{ "1.0beta", "1.0b0" },
	{ "1.0c1", "1.0rc1" },
	{ "1.0rc1", "1.0rc1" },
	{ "1.0RC01", "1.0rc1" },
	{ "1.0pre1", "1.0rc1" },
	{ "1.0preview2", "1.0rc2" },
	{ "1.0a", "1.0a0" },
	{ "1.0a-", "1.0a0" },
	{ "1.0-1", "1.0.post1" },
	{ "1.0.post1", "1.0.post1" },
	{ "1.0post", "1.0.post0" },
	{ "1.0-r3", "1.0.post3" },
	{ "1.0rev4", "1.0.post4" },
	{ "1.0.post-", "1.0.post0" },
	{ "1.0-post", "1.0.post0" },
	{ "1.0.dev0", "1.0.dev0" },
	{ "1.0dev", "1.0.dev0" },
	{ "1.0-dev-2", "1.0.dev2" },
	{ "1.0_dev_", "1.0.dev0" },
	{ "1.0a1.dev1", "1.0a1.dev1" },
	{ "1.0.post1.dev2", "1.0.post1.dev2" },
	{ "1.0-1-dev", "1.0.post1.dev0" },
	{ "1.0rc1.post1.dev3+loc", "1.0rc1.post1.dev3+loc" },
	{ "1.0+ubuntu.1", "1.0+ubuntu.1" },
	{ "1.0+ubuntu-01", "1.0+ubuntu.1" },
	{ "1.0+a-b_c.D", "1.0+a.b.c.d" },
	{ "1.0+1", "1.0+1" },
	{ "1!1.0", "1!1.0" },
	{ "0!1.0", "1.0" },
	{ "1.0.0.0.0", "1.0.0.0.0" },
	{ "123456789012345678901234567890.1", "123456789012345678901234567890.1" },
	{ "1.0.", NULL },
	{ "1..0", NULL },
	{ "1.0+", NULL },
	{ "1.0+a..b", NULL },
	{ "1.0+a_", NULL },
	{ "abc", NULL },
	{ "", NULL },
	{ "v", NULL },
	{ "1!", NULL },
	{ "!1", NULL },
	{ "1.0a1b1", NULL },
	{ "1.0 a1", NULL },
	{ "1.0-", NULL },
	{ "1.0.*", NULL },
	{ "1.0+é", NULL },
	{ "1.0-dev-2x", NULL },
};

static void test_normalize(void **state)
{
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		s = ml_pyver_normalize(versions[i].in);
		if (!versions[i].out && s)
			fail_msg("'%s' accepted as '%s'", versions[i].in, s);
		if (versions[i].out && !s)
			fail_msg("'%s' refused", versions[i].in);
		if (s)
			assert_string_equal(s, versions[i].out);
		assert_int_equal(ml_pyver_valid(versions[i].in), versions[i].out != NULL);
		free(s);
	}
}

/* In PEP 440 order; "=" in front marks one equal to the one before. */
static const char *const order[] = {
	"0.9",
	"1.0.dev0",
	"=1.0.0.dev0",
	"1.0.dev1",
	"1.0a0.dev1",
	"1.0a0",
	"=1.0a",
	"1.0a1.dev0",
	"1.0a1",
	"=1.0alpha1",
	"1.0a1.post1.dev1",
	"1.0a1.post1",
	"1.0a2",
	"1.0a10",
	"1.0b1",
	"1.0rc1",
	"=1.0c1",
	"=1.0pre1",
	"1.0",
	"=1.0.0",
	"=1",
	"=v1.0.0.0",
	"1.0+abc",
	"1.0+abc.1",
	"1.0+abd",
	"1.0+1",
	"=1.0+01",
	"1.0+1.abc",
	"1.0+1.1",
	"1.0+2",
	"1.0+10",
	"1.0.post0.dev1",
	"1.0.post0",
	"1.0.post1",
	"=1.0-1",
	"=1.0r1",
	"1.0.post1+x",
	"1.0.1",
	"1.1.dev1",
	"1.1",
	"10.0",
	"99999999999999999999999.0",
	"1!0.1",
	"1!1.0",
	"2!0",
};

static void test_order(void **state)
{
	size_t i, j, ri = 0, rj, n = sizeof(order) / sizeof(order[0]);
	const char *a, *b;
	int want, got;

	(void)state;
	for (i = 0; i < n; i++) {
		if (order[i][0] != '=')
			ri = i;
		rj = 0;
		for (j = 0; j < n; j++) {
			if (order[j][0] != '=')
				rj = j;
			a = order[i] + (order[i][0] == '=');
			b = order[j] + (order[j][0] == '=');
			want = ri < rj ? -1 : ri > rj ? 1 : 0;
			got = ml_pyver_cmp(a, b);
			if (got != want)
				fail_msg("cmp('%s', '%s') = %d, expected %d", a, b, got, want);
		}
	}
	/* invalid versions sort after valid ones, as strings */
	assert_int_equal(ml_pyver_cmp("1.0", "abc"), -1);
	assert_int_equal(ml_pyver_cmp("abc", "99"), 1);
	assert_int_equal(ml_pyver_cmp("abc", "abd"), -1);
	assert_int_equal(ml_pyver_cmp("abc", "abc"), 0);
}

static const struct {
	const char *spec, *version;
	int match;
} specs[] = {
	{ "", "1.0", 1 },
	{ "==1.0", "1.0", 1 },
	{ "==1.0", "1.0.0", 1 },
	{ "==1.0.0", "1", 1 },
	{ "== 1.0 ", "1.0", 1 },
	{ "==1.0", "1.0+ubuntu.1", 1 },
	{ "==1.0+ubuntu.1", "1.0+ubuntu.1", 1 },
	{ "==1.0+ubuntu.1", "1.0", 0 },
	{ "==1.0+ubuntu", "1.0+ubuntu.1", 0 },
	{ "==1.0", "1.0a1", 0 },
	{ "==1.0", "1.0.post1", 0 },
	{ "==V1.0", "1.0", 1 },
	{ "!=1.0", "1.0", 0 },
	{ "!=1.0", "1.0+x", 0 },
	{ "!=1.0", "1.0.1", 1 },
	{ "==1.*", "1.0", 1 },
	{ "==1.*", "1.5.2", 1 },
	{ "==1.*", "2.0", 0 },
	{ "==1.*", "1!1.0", 0 },
	{ "==1.0.*", "1", 1 },
	{ "==1.0.*", "1.0.post1", 1 },
	{ "==1.0.*", "1.0.dev1", 1 },
	{ "==1.0.*", "1.0a1", 1 },
	{ "==1.0.*", "1.0+x", 1 },
	{ "==1.0.*", "1.1", 0 },
	{ "!=1.0.*", "1.0.1", 0 },
	{ "!=1.0.*", "1.1", 1 },
	{ "==1.0rc1.*", "1.0rc1", 1 },
	{ "==1.0rc1.*", "1.0rc1.post1", 1 },
	{ "==1.0rc1.*", "1.0rc1.dev1", 1 },
	{ "==1.0rc1.*", "1.0rc2", 0 },
	{ "==1.0rc1.*", "1.0", 0 },
	{ "==1.0.post1.*", "1.0.post1", 1 },
	{ "==1.0.post1.*", "1.0.post1+x", 1 },
	{ "==1.0.post1.*", "1.0", 0 },
	{ "==1!1.*", "1!1.0", 1 },
	{ "==1!1.*", "1.0", 0 },
	{ "~=1.0", "1.0", 1 },
	{ "~=1.0", "1.5", 1 },
	{ "~=1.0", "2.0", 0 },
	{ "~=1.0", "0.9", 0 },
	{ "~=1.0.1", "1.0.5", 1 },
	{ "~=1.0.1", "1.1", 0 },
	{ "~=1.0.1", "1.0.0", 0 },
	{ "~=1.0a1", "1.0", 1 },
	{ "~=1.0a1", "1.0rc1", 1 },
	{ "~=1.0a1", "1.5", 1 },
	{ "~=1.0a1", "2.0", 0 },
	{ "~=2.2.0", "2.2.1", 1 },
	{ "~=2.2.0", "2.3", 0 },
	{ "~=1.0.0.post1", "1.0.0.post1", 1 },
	{ "~=1.0.0.post1", "1.0.0", 0 },
	{ "<1.0", "0.9", 1 },
	{ "<1.0", "1.0", 0 },
	{ "<1.0", "1.0rc1", 0 },
	{ "<1.0", "1.0.dev1", 0 },
	{ "<1.0", "1.0+x", 0 },
	{ "<1.0", "1!0.1", 0 },
	{ "<1.0rc2", "1.0rc1", 1 },
	{ "<1.0rc2", "1.0a1", 1 },
	{ "<1.0rc2", "1.0rc2", 0 },
	{ "<1.0.post1", "1.0", 1 },
	{ ">1.0", "1.1", 1 },
	{ ">1.0", "1.0", 0 },
	{ ">1.0", "1.0.post1", 0 },
	{ ">1.0", "1.0+x", 0 },
	{ ">1.0", "1.0.1", 1 },
	{ ">1.0", "1.0.0.post1", 0 },
	{ ">1.0.post1", "1.0.post2", 1 },
	{ ">1.0.post1", "1.0.post1+x", 0 },
	{ ">1.0.post0", "1.0.post1", 1 },
	{ ">1.0rc1", "1.0", 1 },
	{ ">1.0rc1", "1.0rc1.post1", 0 },	/* same base version */
	{ "<=1.0", "1.0", 1 },
	{ "<=1.0", "1.0+x", 1 },
	{ "<=1.0", "1.0.post1", 0 },
	{ ">=1.0", "1.0", 1 },
	{ ">=1.0", "1.0rc1", 0 },
	{ ">=1.0a1", "1.0rc1", 1 },
	{ ">=1!0.1", "1.0", 0 },
	{ "===1.0", "1.0", 1 },
	{ "===1.0", "1.0.0", 0 },
	{ "===1.0+abc", "1.0+ABC", 1 },
	{ "===foobar", "FooBar", 1 },
	{ "===foobar", "1.0", 0 },
	{ ">=1,<2", "1.5", 1 },
	{ ">=1,<2", "2.0", 0 },
	{ ">= 1.0 , < 2.0", "1.9", 1 },
	{ ">=1,,<2", "1.5", 1 },
	{ ">=1,!=1.5,<2", "1.5", 0 },
	{ ">=1.0", "not-a-version", 0 },
	{ "==1.0", "1.0.0a", 0 },
};

static void test_specs(void **state)
{
	struct ml_error err = { 0, "" };
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		got = ml_pyspec_match(specs[i].spec, specs[i].version, &err);
		if (got < 0)
			fail_msg("'%s' refused: %s", specs[i].spec, err.msg);
		if (got != specs[i].match)
			fail_msg("'%s' in '%s': %d, expected %d", specs[i].version, specs[i].spec,
				 got, specs[i].match);
	}
}

static const struct {
	const char *spec, *msg;
} bad_specs[] = {
	{ "1.0", "invalid version specifier '1.0': expected an operator (== != <= >= < > ~= ===)" },
	{ "=1.0", "invalid version specifier '=1.0': expected an operator (== != <= >= < > ~= ===)" },
	{ "==", "invalid version specifier '==': expected a version" },
	{ ">=", "invalid version specifier '>=': expected a version" },
	{ "==1.0,", NULL },
	{ "==abc", "invalid version specifier '==abc': expected a version" },
	{ ">=1.0.*", "invalid version specifier '>=1.0.*': expected a version" },
	{ "==1.*.1", "invalid version specifier '==1.*.1': expected a version" },
	{ "==1.0.dev1.*", "invalid version specifier '==1.0.dev1.*': expected a version" },
	{ "==1.0+x.*", "invalid version specifier '==1.0+x.*': expected a version" },
	{ "<1.0+x", "invalid version specifier '<1.0+x': a local version label is only allowed "
	  "with == and !=" },
	{ "~=1.0+x", "invalid version specifier '~=1.0+x': a local version label is only allowed "
	  "with == and !=" },
	{ "~=1", "invalid version specifier '~=1': ~= needs a version with at least two release "
	  "numbers" },
	{ "~=1.*", "invalid version specifier '~=1.*': expected a version" },
	{ "=== a b", "invalid version specifier '=== a b': expected a version" },
	{ ">=1,<2,foo", "invalid version specifier 'foo': expected an operator (== != <= >= < > "
	  "~= ===)" },
};

static void test_bad_specs(void **state)
{
	struct ml_error err = { 0, "" };
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
		rc = ml_pyspec_match(bad_specs[i].spec, "1.0", &err);
		if (!bad_specs[i].msg) {
			assert_int_equal(rc, 1);
			continue;
		}
		if (rc != -ML_ECONFIG)
			fail_msg("'%s' accepted", bad_specs[i].spec);
		assert_string_equal(err.msg, bad_specs[i].msg);
	}
}

static const struct {
	const char *in;
	const char *name, *normalized, *extras, *specifier, *url, *marker;
} deps[] = {
	{ "flask", "flask", "flask", "", "", NULL, NULL },
	{ "  Flask_Login  ", "Flask_Login", "flask-login", "", "", NULL, NULL },
	{ "flask==2.0.1", "flask", "flask", "", "==2.0.1", NULL, NULL },
	{ "flask == 2.0.1", "flask", "flask", "", "==2.0.1", NULL, NULL },
	{ "flask>=2,<3", "flask", "flask", "", ">=2,<3", NULL, NULL },
	{ "flask (>=2 , <3)", "flask", "flask", "", ">=2,<3", NULL, NULL },
	{ "flask(==1.*)", "flask", "flask", "", "==1.*", NULL, NULL },
	{ "flask()", "flask", "flask", "", "", NULL, NULL },
	{ "requests[security,SOCKS]==2.31.0", "requests", "requests", "security socks",
	  "==2.31.0", NULL, NULL },
	{ "requests [ security , Foo_Bar ] >= 2", "requests", "requests", "security foo-bar",
	  ">=2", NULL, NULL },
	{ "requests[]", "requests", "requests", "", "", NULL, NULL },
	{ "pip @ https://github.com/pypa/pip/archive/22.0.2.zip", "pip", "pip", "", "",
	  "https://github.com/pypa/pip/archive/22.0.2.zip", NULL },
	{ "pip@https://x/y.whl ; python_version >= '3.8'", "pip", "pip", "", "", "https://x/y.whl",
	  "python_version >= '3.8'" },
	{ "pip @ https://x/y;z", "pip", "pip", "", "", "https://x/y;z", NULL },
	{ "numpy==1.26.4; python_version>=\"3.9\" and platform_machine != 'armv7l'", "numpy",
	  "numpy", "", "==1.26.4", NULL,
	  "python_version>=\"3.9\" and platform_machine != 'armv7l'" },
	{ "tomli ; python_version < '3.11'  ", "tomli", "tomli", "", "", NULL,
	  "python_version < '3.11'" },
	{ "x===weird-1", "x", "x", "", "===weird-1", NULL, NULL },
	{ "x ~= 1.4.2", "x", "x", "", "~=1.4.2", NULL, NULL },
	{ "x[a];os.name=='posix'", "x", "x", "a", "", NULL, "os.name=='posix'" },
};

static void join_extras(const struct ml_pydep *d, char *out, size_t size)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < d->nextras; i++) {
		if (i)
			strncat(out, " ", size - strlen(out) - 1);
		strncat(out, d->extras[i], size - strlen(out) - 1);
	}
}

static void test_deps(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_pydep d;
	char extras[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(deps) / sizeof(deps[0]); i++) {
		if (ml_pydep_parse(deps[i].in, &d, NULL, &err) < 0)
			fail_msg("'%s' refused: %s", deps[i].in, err.msg);
		assert_string_equal(d.name, deps[i].name);
		assert_string_equal(d.normalized, deps[i].normalized);
		join_extras(&d, extras, sizeof(extras));
		assert_string_equal(extras, deps[i].extras);
		assert_string_equal(d.specifier, deps[i].specifier);
		if (deps[i].url)
			assert_string_equal(d.url, deps[i].url);
		else
			assert_null(d.url);
		if (deps[i].marker)
			assert_string_equal(d.marker, deps[i].marker);
		else
			assert_null(d.marker);
		ml_pydep_dispose(&d);
		ml_pydep_dispose(&d);
	}
}

static const struct {
	const char *in;
	size_t pos;
	const char *why;
} bad_deps[] = {
	{ "", 0, "expected a project name" },
	{ "   ", 3, "expected a project name" },
	{ "-flask", 0, "expected a project name" },
	{ "flask-", 0, "expected a project name" },
	{ "flask 2.0", 6, "expected '[', a version specifier, '@', ';' or the end" },
	{ "flask=2.0", 5, "expected '[', a version specifier, '@', ';' or the end" },
	{ "flask==2.0 extra", 11, "expected ';' or the end" },
	{ "flask[", 6, "expected an extra name" },
	{ "flask[a", 7, "expected ',' or ']' after an extra name" },
	{ "flask[a,]", 8, "expected an extra name" },
	{ "flask[a b]", 8, "expected ',' or ']' after an extra name" },
	{ "flask==abc", 5, "invalid version specifier '==abc': expected a version" },
	{ "flask>=1,", 9, "expected a version specifier after ','" },
	{ "flask>=1,abc", 9, "expected a version specifier after ','" },
	{ "flask (>=1", 10, "expected a version specifier or ')'" },
	{ "flask ~=1", 6, "invalid version specifier '~=1': ~= needs a version with at least "
	  "two release numbers" },
	{ "flask @", 7, "expected a URL after '@'" },
	{ "flask @ http://x y", 17, "expected ';' or the end after the URL" },
	{ "flask;", 6, "expected a marker after ';'" },
	{ "flask ; ", 8, "expected a marker after ';'" },
	{ "flask; python_version", 21, "expected a marker operator (== != <= >= < > ~= === in, "
	  "not in)" },
	{ "flask; python_version >= ", 24, "expected a marker variable or a quoted string" },
	{ "flask; python_version >= '3", 25, "unterminated string" },
	{ "flask; pyversion >= '3'", 7, "unknown marker variable 'pyversion'" },
	{ "flask; python_version >= '3' and", 32,
	  "expected a marker variable or a quoted string" },
	{ "flask; python_version >= '3' xor os_name == 'nt'", 29,
	  "expected 'and', 'or' or the end of the marker" },
	{ "flask; (python_version >= '3'", 29, "expected ')'" },
	{ "flask; os_name not 'nt'", 19, "expected 'in' after 'not'" },
	{ "flask; os_name = 'nt'", 15, "expected a marker operator (== != <= >= < > ~= === in, "
	  "not in)" },
};

static void test_bad_deps(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_pydep d;
	char want[512];
	size_t i, pos;

	(void)state;
	for (i = 0; i < sizeof(bad_deps) / sizeof(bad_deps[0]); i++) {
		pos = 9999;
		if (ml_pydep_parse(bad_deps[i].in, &d, &pos, &err) != -ML_ECONFIG)
			fail_msg("'%s' accepted", bad_deps[i].in);
		snprintf(want, sizeof(want), "invalid requirement '%s': %s", bad_deps[i].in,
			 bad_deps[i].why);
		assert_string_equal(err.msg, want);
		if (pos != bad_deps[i].pos)
			fail_msg("'%s': error at %zu, expected %zu", bad_deps[i].in, pos,
				 bad_deps[i].pos);
		assert_null(d.name);
		assert_null(d.specifier);
	}
}

static const struct ml_pyenv linux311 = {
	"3.11", "3.11.2", "cpython", "3.11.2", "CPython", "posix", "linux", "Linux", "x86_64",
	"6.1.0-18-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
};

static const struct {
	const char *marker, *extra;
	int value;
} markers[] = {
	{ "python_version >= '3.8'", NULL, 1 },
	{ "python_version >= \"3.12\"", NULL, 0 },
	{ "python_version > '3.9'", NULL, 1 },
	{ "python_version < '3.10'", NULL, 0 },
	{ "python_version == '3.11'", NULL, 1 },
	{ "python_version == '3.11.0'", NULL, 1 },
	{ "python_version == '3.*'", NULL, 1 },
	{ "python_version != '3.11'", NULL, 0 },
	{ "python_version ~= '3.8'", NULL, 1 },
	{ "python_version in '3.10 3.11 3.12'", NULL, 1 },
	{ "python_version not in '3.8 3.9'", NULL, 1 },
	{ "python_full_version >= '3.11.1'", NULL, 1 },
	{ "python_full_version < '3.11.2'", NULL, 0 },
	{ "'3.9' < python_version", NULL, 1 },
	{ "sys_platform == 'linux'", NULL, 1 },
	{ "sys_platform == 'win32'", NULL, 0 },
	{ "sys.platform == 'linux'", NULL, 1 },
	{ "os_name == 'posix'", NULL, 1 },
	{ "os.name == 'nt'", NULL, 0 },
	{ "platform_machine == 'x86_64'", NULL, 1 },
	{ "platform.machine == 'aarch64'", NULL, 0 },
	{ "platform_python_implementation == 'CPython'", NULL, 1 },
	{ "platform.python_implementation == 'PyPy'", NULL, 0 },
	{ "python_implementation == 'CPython'", NULL, 1 },
	{ "implementation_name == 'cpython'", NULL, 1 },
	{ "implementation_version >= '3.11'", NULL, 1 },
	{ "platform_system == 'Linux'", NULL, 1 },
	{ "platform_system != 'Windows'", NULL, 1 },
	{ "platform_release >= '5.0'", NULL, 1 },
	{ "'Debian' in platform_version", NULL, 1 },
	{ "platform.version == ''", NULL, 0 },
	{ "'linux' in sys_platform", NULL, 1 },
	{ "'lin' not in sys_platform", NULL, 0 },
	{ "sys_platform < 'm'", NULL, 1 },
	{ "sys_platform >= 'm'", NULL, 0 },
	{ "os_name=='posix'and python_version>'3'", NULL, 1 },
	{ "os_name == 'nt' or python_version >= '3.8'", NULL, 1 },
	{ "os_name == 'nt' or sys_platform == 'win32'", NULL, 0 },
	{ "os_name == 'posix' and sys_platform == 'win32' or python_version >= '3'", NULL, 1 },
	{ "os_name == 'posix' and (sys_platform == 'win32' or python_version >= '4')", NULL, 0 },
	{ "((os_name == 'posix'))", NULL, 1 },
	{ "  python_version >= '3'  ", NULL, 1 },
	{ "extra == 'security'", NULL, 0 },
	{ "extra != 'security'", NULL, 1 },
	{ "extra == 'security'", "security", 1 },
	{ "extra == 'Foo_Bar'", "foo-bar", 1 },
	{ "extra == 'foo.bar'", "Foo_Bar", 1 },
	{ "extra == 'socks'", "security", 0 },
	{ "python_version >= '3.8' and extra == 'test'", "test", 1 },
	{ "'3.11' == python_version", NULL, 1 },
	{ "'a' == 'a'", NULL, 1 },
	{ "python_version === '3.11'", NULL, 1 },
	{ "python_version === '3.11.0'", NULL, 0 },
};

static void test_markers(void **state)
{
	struct ml_error err = { 0, "" };
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		got = ml_pymarker_eval(markers[i].marker, &linux311, markers[i].extra, &err);
		if (got < 0)
			fail_msg("'%s' refused: %s", markers[i].marker, err.msg);
		if (got != markers[i].value)
			fail_msg("'%s' (extra %s) is %d, expected %d", markers[i].marker,
				 markers[i].extra ? markers[i].extra : "NULL", got, markers[i].value);
	}
}

static void test_bad_markers(void **state)
{
	static const struct {
		const char *marker, *msg;
	} bad[] = {
		{ "", "invalid marker '': expected a marker variable or a quoted string at column 1" },
		{ "python_version", "invalid marker 'python_version': expected a marker operator "
		  "(== != <= >= < > ~= === in, not in) at column 15" },
		{ "os_name ~= 'posix'", "invalid marker 'os_name ~= 'posix'': the operator applies "
		  "to versions only at column 1" },
		{ "os_name == 'posix' and (sys_platform ~= 'linux')", "invalid marker 'os_name == "
		  "'posix' and (sys_platform ~= 'linux')': the operator applies to versions only at "
		  "column 25" },
		{ "foo == 'x'", "invalid marker 'foo == 'x'': unknown marker variable 'foo' at "
		  "column 1" },
		{ "os_name == 'posix')", "invalid marker 'os_name == 'posix')': expected 'and', "
		  "'or' or the end of the marker at column 19" },
		{ "os_name == \"posix'", "invalid marker 'os_name == \"posix'': unterminated string "
		  "at column 12" },
	};
	struct ml_error err = { 0, "" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ml_pymarker_eval(bad[i].marker, &linux311, NULL, &err) != -ML_ECONFIG)
			fail_msg("'%s' accepted", bad[i].marker);
		assert_string_equal(err.msg, bad[i].msg);
	}
	/* a NULL environment compares as empty strings */
	assert_int_equal(ml_pymarker_eval("os_name == ''", NULL, NULL, &err), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_deps),
		cmocka_unit_test(test_bad_deps),
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_bad_markers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
