/* Unit tests for lib/python/pytags.c: the tag order of packaging.tags (cpython_tags then
 * compatible_tags, _manylinux/_musllinux platform_tags) and PEP 427 wheel names.
 * The expected positions were computed with packaging 21.3 for the same target. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pytags.h"

static const struct {
	size_t index;
	const char *tag;
} cp311_glibc236[] = {
	{ 0, "cp311-cp311-manylinux_2_36_x86_64" },
	{ 1, "cp311-cp311-manylinux_2_35_x86_64" },
	{ 19, "cp311-cp311-manylinux_2_17_x86_64" },
	{ 20, "cp311-cp311-manylinux2014_x86_64" },
	{ 26, "cp311-cp311-manylinux2010_x86_64" },
	{ 34, "cp311-cp311-manylinux1_x86_64" },
	{ 35, "cp311-cp311-linux_x86_64" },
	{ 36, "cp311-abi3-manylinux_2_36_x86_64" },
	{ 37, "cp311-abi3-manylinux_2_35_x86_64" },
	{ 71, "cp311-abi3-linux_x86_64" },
	{ 72, "cp311-none-manylinux_2_36_x86_64" },
	{ 96, "cp311-none-manylinux_2_13_x86_64" },
	{ 107, "cp311-none-linux_x86_64" },
	{ 108, "cp310-abi3-manylinux_2_36_x86_64" },
	{ 127, "cp310-abi3-manylinux_2_17_x86_64" },
	{ 128, "cp310-abi3-manylinux2014_x86_64" },
	{ 134, "cp310-abi3-manylinux2010_x86_64" },
	{ 142, "cp310-abi3-manylinux1_x86_64" },
	{ 143, "cp310-abi3-linux_x86_64" },
	{ 144, "cp39-abi3-manylinux_2_36_x86_64" },
	{ 145, "cp39-abi3-manylinux_2_35_x86_64" },
	{ 193, "cp38-abi3-manylinux_2_23_x86_64" },
	{ 290, "cp35-abi3-manylinux_2_34_x86_64" },
	{ 387, "cp33-abi3-manylinux_2_11_x86_64" },
	{ 432, "py311-none-manylinux_2_36_x86_64" },
	{ 433, "py311-none-manylinux_2_35_x86_64" },
	{ 451, "py311-none-manylinux_2_17_x86_64" },
	{ 452, "py311-none-manylinux2014_x86_64" },
	{ 467, "py311-none-linux_x86_64" },
	{ 468, "py3-none-manylinux_2_36_x86_64" },
	{ 469, "py3-none-manylinux_2_35_x86_64" },
	{ 484, "py3-none-manylinux_2_20_x86_64" },
	{ 504, "py310-none-manylinux_2_36_x86_64" },
	{ 581, "py38-none-manylinux_2_31_x86_64" },
	{ 678, "py36-none-manylinux_2_8_x86_64" },
	{ 775, "py33-none-manylinux_2_17_x86_64" },
	{ 872, "py30-none-manylinux_2_28_x86_64" },
	{ 898, "py30-none-manylinux1_x86_64" },
	{ 899, "py30-none-linux_x86_64" },
	{ 900, "cp311-none-any" },
	{ 901, "py311-none-any" },
	{ 902, "py3-none-any" },
	{ 903, "py310-none-any" },
	{ 912, "py31-none-any" },
	{ 913, "py30-none-any" },
};

static void test_cp311_glibc(void **state)
{
	struct ml_pytarget t = { 3, 11, "x86_64", ML_LIBC_GLIBC, 2, 36 };
	struct ml_error err = { 0, "" };
	char **tags;
	size_t n, i, j;

	(void)state;
	assert_int_equal(ml_pytags_for(&t, &tags, &n, &err), 0);
	assert_int_equal(n, 914);
	for (i = 0; i < sizeof(cp311_glibc236) / sizeof(cp311_glibc236[0]); i++)
		if (strcmp(tags[cp311_glibc236[i].index], cp311_glibc236[i].tag))
			fail_msg("tag %zu is '%s', expected '%s'", cp311_glibc236[i].index,
				 tags[cp311_glibc236[i].index], cp311_glibc236[i].tag);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (!strcmp(tags[i], tags[j]))
				fail_msg("'%s' at %zu and %zu", tags[i], i, j);
	ml_pytags_free(tags, n);
}

static void check_target(const struct ml_pytarget *t, size_t want_n, const char *const *want,
			 const size_t *at, size_t nwant)
{
	struct ml_error err = { 0, "" };
	char **tags;
	size_t n, i;

	if (ml_pytags_for(t, &tags, &n, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n, want_n);
	for (i = 0; i < nwant; i++)
		assert_string_equal(tags[at[i]], want[i]);
	ml_pytags_free(tags, n);
}

static void test_other_targets(void **state)
{
	static const struct ml_pytarget musl = { 3, 11, "x86_64", ML_LIBC_MUSL, 1, 2 };
	static const char *const musl_want[] = {
		"cp311-cp311-musllinux_1_2_x86_64", "cp311-cp311-musllinux_1_1_x86_64",
		"cp311-cp311-musllinux_1_0_x86_64", "cp311-cp311-linux_x86_64",
		"cp311-abi3-musllinux_1_2_x86_64", "py30-none-any",
	};
	static const size_t musl_at[] = { 0, 1, 2, 3, 4, 113 };
	static const struct ml_pytarget arm = { 3, 12, "aarch64", ML_LIBC_GLIBC, 2, 31 };
	static const char *const arm_want[] = {
		"cp312-cp312-manylinux_2_31_aarch64", "cp312-cp312-manylinux_2_17_aarch64",
		"cp312-cp312-manylinux2014_aarch64", "cp312-cp312-linux_aarch64",
		"cp312-abi3-manylinux2014_aarch64",
	};
	static const size_t arm_at[] = { 0, 14, 15, 16, 32 };
	static const struct ml_pytarget i686 = { 3, 8, "i686", ML_LIBC_GLIBC, 2, 12 };
	static const char *const i686_want[] = {
		"cp38-cp38-manylinux_2_12_i686", "cp38-cp38-manylinux2010_i686",
		"cp38-cp38-manylinux_2_11_i686", "cp38-cp38-manylinux1_i686",
		"cp38-cp38-linux_i686", "cp38-abi3-manylinux_2_12_i686",
	};
	static const size_t i686_at[] = { 0, 1, 2, 9, 10, 11 };
	/* no manylinux for armv6l; 3.2 is the first with abi3 */
	static const struct ml_pytarget v6 = { 3, 2, "armv6l", ML_LIBC_GLIBC, 2, 36 };
	static const char *const v6_want[] = {
		"cp32-cp32-linux_armv6l", "cp32-abi3-linux_armv6l", "cp32-none-linux_armv6l",
		"py32-none-linux_armv6l", "py3-none-linux_armv6l", "py31-none-linux_armv6l",
		"py30-none-linux_armv6l", "cp32-none-any", "py32-none-any", "py3-none-any",
		"py31-none-any", "py30-none-any",
	};
	static const size_t v6_at[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

	(void)state;
	check_target(&musl, 114, musl_want, musl_at, 6);
	check_target(&arm, 474, arm_want, arm_at, 5);
	check_target(&i686, 220, i686_want, i686_at, 6);
	check_target(&v6, 12, v6_want, v6_at, 12);
}

static void test_bad_targets(void **state)
{
	static const struct {
		struct ml_pytarget t;
		const char *msg;
	} bad[] = {
		{ { 3, 11, "sparc", ML_LIBC_GLIBC, 2, 36 }, "unknown machine 'sparc' for Python wheels" },
		{ { 3, 11, NULL, ML_LIBC_GLIBC, 2, 36 }, "unknown machine '' for Python wheels" },
		{ { 2, 7, "x86_64", ML_LIBC_GLIBC, 2, 36 }, "unsupported Python version 2.7" },
		{ { 3, 11, "x86_64", ML_LIBC_GLIBC, 3, 1 }, "unsupported glibc version 3.1" },
		{ { 3, 11, "x86_64", ML_LIBC_MUSL, 2, 1 }, "unsupported musl version 2.1" },
	};
	struct ml_error err = { 0, "" };
	char **tags = NULL;
	size_t n = 0, i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ml_pytags_for(&bad[i].t, &tags, &n, &err), -ML_ECONFIG);
		assert_string_equal(err.msg, bad[i].msg);
	}
}

static void test_arch(void **state)
{
	(void)state;
	assert_string_equal(ml_pytags_arch("amd64", NULL), "x86_64");
	assert_string_equal(ml_pytags_arch("amd64", "v3"), "x86_64");
	assert_string_equal(ml_pytags_arch("arm64", "v8"), "aarch64");
	assert_string_equal(ml_pytags_arch("386", NULL), "i686");
	assert_string_equal(ml_pytags_arch("arm", "v7"), "armv7l");
	assert_string_equal(ml_pytags_arch("arm", ""), "armv7l");
	assert_string_equal(ml_pytags_arch("arm", "v6"), "armv6l");
	assert_string_equal(ml_pytags_arch("ppc64le", NULL), "ppc64le");
	assert_string_equal(ml_pytags_arch("s390x", NULL), "s390x");
	assert_string_equal(ml_pytags_arch("riscv64", NULL), "riscv64");
	assert_null(ml_pytags_arch("mips64le", NULL));
	assert_null(ml_pytags_arch("", NULL));
	assert_null(ml_pytags_arch(NULL, NULL));
}

static const struct {
	const char *in;
	const char *name, *normalized, *version, *build;
	const char *tags;	/* space-separated */
} good_wheels[] = {
	{ "requests-2.31.0-py3-none-any.whl", "requests", "requests", "2.31.0", NULL,
	  "py3-none-any" },
	{ "six-1.16.0-py2.py3-none-any.whl", "six", "six", "1.16.0", NULL,
	  "py2-none-any py3-none-any" },
	{ "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "numpy",
	  "numpy", "1.26.4", NULL,
	  "cp311-cp311-manylinux_2_17_x86_64 cp311-cp311-manylinux2014_x86_64" },
	{ "zope.interface-6.0-1-cp311-cp311-linux_x86_64.whl", "zope.interface",
	  "zope-interface", "6.0", "1", "cp311-cp311-linux_x86_64" },
	{ "typing_extensions-4.9.0-py3-none-any.whl", "typing_extensions", "typing-extensions",
	  "4.9.0", NULL, "py3-none-any" },
	{ "Foo-1.0-1abc-PY3-NONE-ANY.whl", "Foo", "foo", "1.0", "1abc", "py3-none-any" },
	{ "cryptography-42.0.5-cp39-abi3-manylinux_2_28_aarch64.whl", "cryptography",
	  "cryptography", "42.0.5", NULL, "cp39-abi3-manylinux_2_28_aarch64" },
	{ "x-1.0-py2.py3-none.abi3-any.whl", "x", "x", "1.0", NULL,
	  "py2-none-any py2-abi3-any py3-none-any py3-abi3-any" },
	{ "pkg-1!2.0.post1+local.1-py3-none-any.whl", "pkg", "pkg", "1!2.0.post1+local.1", NULL,
	  "py3-none-any" },
};

static void test_wheelname_good(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_wheelname w;
	struct ml_buf_like {
		char s[512];
	} tags;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(good_wheels) / sizeof(good_wheels[0]); i++) {
		if (ml_wheelname_parse(good_wheels[i].in, &w, &err) < 0)
			fail_msg("'%s': %s", good_wheels[i].in, err.msg);
		assert_string_equal(w.name, good_wheels[i].name);
		assert_string_equal(w.normalized, good_wheels[i].normalized);
		assert_string_equal(w.version, good_wheels[i].version);
		if (good_wheels[i].build)
			assert_string_equal(w.build, good_wheels[i].build);
		else
			assert_null(w.build);
		tags.s[0] = '\0';
		for (k = 0; k < w.ntags; k++) {
			if (k)
				strcat(tags.s, " ");
			strcat(tags.s, w.tags[k]);
		}
		assert_string_equal(tags.s, good_wheels[i].tags);
		ml_wheelname_dispose(&w);
		ml_wheelname_dispose(&w);
	}
}

static const struct {
	const char *in, *why;
} bad_wheels[] = {
	{ "requests-2.31.0.tar.gz", "it does not end in .whl" },
	{ "requests-2.31.0-py3-none.whl", "expected {name}-{version}(-{build})?-{python}-{abi}-"
	  "{platform}.whl" },
	{ "a-b-1.0-1-py3-none-any.whl", "expected {name}-{version}(-{build})?-{python}-{abi}-"
	  "{platform}.whl" },
	{ "a__b-1.0-py3-none-any.whl", "invalid project name" },
	{ "-1.0-py3-none-any.whl", "invalid project name" },
	{ "a+b-1.0-py3-none-any.whl", "invalid project name" },
	{ "a-1.0x-py3-none-any.whl", "invalid version" },
	{ "a-1.0-x1-py3-none-any.whl", "a build tag starts with a digit" },
	{ "a-1.0--py3-none-any.whl", "a build tag starts with a digit" },
	{ "a-1.0-py3..py2-none-any.whl", "invalid compatibility tags" },
	{ "a-1.0-py3-none-.whl", "invalid compatibility tags" },
	{ ".whl", "expected {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl" },
};

static void test_wheelname_bad(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_wheelname w;
	char want[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_wheels) / sizeof(bad_wheels[0]); i++) {
		if (ml_wheelname_parse(bad_wheels[i].in, &w, &err) != -ML_EPROTO)
			fail_msg("'%s' accepted", bad_wheels[i].in);
		snprintf(want, sizeof(want), "invalid wheel file name '%s': %s", bad_wheels[i].in,
			 bad_wheels[i].why);
		assert_string_equal(err.msg, want);
		assert_null(w.name);
		assert_null(w.tags);
	}
}

static void test_rank(void **state)
{
	struct ml_pytarget t = { 3, 11, "x86_64", ML_LIBC_GLIBC, 2, 36 };
	struct ml_error err = { 0, "" };
	struct ml_wheelname w;
	static const struct {
		const char *wheel;
		long rank;
	} cases[] = {
		{ "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", 19 },
		{ "six-1.16.0-py2.py3-none-any.whl", 902 },
		{ "cryptography-42.0.5-cp39-abi3-manylinux_2_28_x86_64.whl", 152 },
		{ "cryptography-42.0.5-cp39-abi3-manylinux_2_28_aarch64.whl", -1 },
		{ "numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl", -1 },
		{ "x-1.0-cp311-cp311-musllinux_1_1_x86_64.whl", -1 },
		{ "x-1.0-py2-none-any.whl", -1 },
		{ "x-1.0-py3.cp311-none-any.whl", 900 },
	};
	char **tags;
	size_t n, i;

	(void)state;
	assert_int_equal(ml_pytags_for(&t, &tags, &n, &err), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ml_wheelname_parse(cases[i].wheel, &w, &err) < 0)
			fail_msg("%s", err.msg);
		if (ml_pytags_rank(tags, n, &w) != cases[i].rank)
			fail_msg("'%s' ranks %ld, expected %ld", cases[i].wheel,
				 ml_pytags_rank(tags, n, &w), cases[i].rank);
		ml_wheelname_dispose(&w);
	}
	ml_pytags_free(tags, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cp311_glibc),
		cmocka_unit_test(test_other_targets),
		cmocka_unit_test(test_bad_targets),
		cmocka_unit_test(test_arch),
		cmocka_unit_test(test_wheelname_good),
		cmocka_unit_test(test_wheelname_bad),
		cmocka_unit_test(test_rank),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
