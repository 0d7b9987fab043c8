/* Unit tests for lib/util/parallel.c: every item runs once; the first failure stops
 * new items and is returned with its message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/parallel.h"

struct work {
	int seen[1000];
	size_t fail_at;		/* (size_t)-1: none */
	int ran;
};

static int item(void *ud, size_t i, struct ml_error *err)
{
	struct work *w = ud;

	__atomic_add_fetch(&w->seen[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&w->ran, 1, __ATOMIC_RELAXED);
	if (i == w->fail_at)
		return ml_error_set(err, ML_EIO, "item %zu failed", i);
	return 0;
}

static void test_every_item_once(void **state)
{
	static struct work w;
	struct ml_error err = { 0, "" };
	int jobs[] = { 1, 2, 7, 100 };
	size_t k, i;

	(void)state;
	for (k = 0; k < sizeof(jobs) / sizeof(jobs[0]); k++) {
		memset(&w, 0, sizeof(w));
		w.fail_at = (size_t)-1;
		assert_int_equal(ml_parallel_for(1000, jobs[k], item, &w, &err), 0);
		for (i = 0; i < 1000; i++)
			assert_int_equal(w.seen[i], 1);
	}
	memset(&w, 0, sizeof(w));
	w.fail_at = (size_t)-1;
	assert_int_equal(ml_parallel_for(0, 4, item, &w, &err), 0);
	assert_int_equal(w.ran, 0);
	assert_int_equal(ml_parallel_for(3, 0, item, &w, &err), 0);
	assert_int_equal(w.ran, 3);
}

static void test_failure(void **state)
{
	static struct work w;
	struct ml_error err = { 0, "" };

	(void)state;
	memset(&w, 0, sizeof(w));
	w.fail_at = 10;
	assert_int_equal(ml_parallel_for(1000, 1, item, &w, &err), -ML_EIO);
	assert_string_equal(err.msg, "item 10 failed");
	assert_int_equal(w.ran, 11);
	memset(&w, 0, sizeof(w));
	w.fail_at = 10;
	/* with threads, how many others start before the failure is seen is timing */
	assert_int_equal(ml_parallel_for(1000, 4, item, &w, &err), -ML_EIO);
	assert_string_equal(err.msg, "item 10 failed");
	assert_true(ml_parallel_cpus() >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_item_once),
		cmocka_unit_test(test_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
