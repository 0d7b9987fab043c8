/* lib/deploy/token.c: the expiry margin, replacement instead of a second entry,
 * secrets wiped before their memory is freed, and use from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/token.h"
#include "util/alloc.h"

#define MARKER "tok-7f3a9c0e-SECRET-abcdefghijklmnopqrstuvwxyz"

static int64_t fake_now;

static int64_t clock_fn(void *ud)
{
	(void)ud;
	return fake_now;
}

static struct ml_token_cache *cache_at(int64_t t)
{
	struct ml_token_cache *c = ml_token_cache_new();

	fake_now = t;
	ml_token_cache_set_clock(c, clock_fn, NULL);
	return c;
}

static int fresh(struct ml_token_cache *c, const char *key, const char *want)
{
	char *got = ml_token_cache_get(c, key);
	int ok = got && !strcmp(got, want);

	ml_free_secret(got);
	return ok;
}

/* A token put at t0 with life seconds to live is served until t0 + stale - 1 and
 * no longer at t0 + stale; the cache is the caller's. */
static struct ml_token_cache *stale_at(int64_t t0, const char *token, int64_t life, int64_t stale)
{
	struct ml_token_cache *c = cache_at(t0);

	ml_token_cache_put(c, "k", token, life);
	fake_now = t0 + stale - 1;
	assert_true(fresh(c, "k", token));
	fake_now = t0 + stale;
	assert_null(ml_token_cache_get(c, "k"));
	return c;
}

static void test_margin_tenth(void **state)
{
	/* 300 s of life: stale 30 s before the end */
	struct ml_token_cache *c = stale_at(1000, "Bearer a", 300, 270);

	(void)state;
	/* an expired entry is dropped when it is looked at */
	assert_int_equal(ml_token_cache_count(c), 0);
	ml_token_cache_free(c);
}

static void test_margin_capped(void **state)
{
	(void)state;
	/* an hour of life: stale 60 s (not 360 s) before the end */
	ml_token_cache_free(stale_at(50, "t", 3600, 3540));
}

static void test_no_expiry(void **state)
{
	struct ml_token_cache *c = cache_at(0);

	(void)state;
	ml_token_cache_put(c, "k", "forever", 0);
	ml_token_cache_put(c, "j", "also", -5);
	fake_now = INT64_MAX / 2;
	assert_true(fresh(c, "k", "forever"));
	assert_true(fresh(c, "j", "also"));
	assert_null(ml_token_cache_get(c, "absent"));
	ml_token_cache_free(c);
}

static void test_replace_not_append(void **state)
{
	struct ml_token_cache *c = cache_at(0);

	(void)state;
	ml_token_cache_put(c, "repository:a:pull", "one", 60);
	ml_token_cache_put(c, "repository:b:pull", "two", 60);
	ml_token_cache_put(c, "repository:a:pull", "three", 600);
	assert_int_equal(ml_token_cache_count(c), 2);
	assert_true(fresh(c, "repository:a:pull", "three"));
	assert_true(fresh(c, "repository:b:pull", "two"));
	/* the replacement carries its own expiry */
	fake_now = 100;
	assert_true(fresh(c, "repository:a:pull", "three"));
	assert_null(ml_token_cache_get(c, "repository:b:pull"));
	ml_token_cache_drop(c, "repository:a:pull");
	ml_token_cache_drop(c, "never-there");
	assert_int_equal(ml_token_cache_count(c), 0);
	ml_token_cache_free(c);
}

static void test_copy_is_independent(void **state)
{
	struct ml_token_cache *c = cache_at(0);
	char *got;

	(void)state;
	ml_token_cache_put(c, "k", "abc", 60);
	got = ml_token_cache_get(c, "k");
	got[0] = 'X';
	assert_true(fresh(c, "k", "abc"));
	ml_free_secret(got);
	ml_token_cache_free(c);
}

/* Every free() of the process passes here: a block that still holds MARKER is a
 * secret freed without being wiped. (Not under AddressSanitizer, which owns free.) */
#if defined(__SANITIZE_ADDRESS__)
#define WATCH_FREE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WATCH_FREE 0
#endif
#endif
#ifndef WATCH_FREE
#define WATCH_FREE 1
#endif

#if WATCH_FREE
extern void __libc_free(void *p);

static volatile int watching;
static volatile int unwiped;

void free(void *p)
{
	size_t n, m = strlen(MARKER);
	const char *s = p;

	if (p && watching) {
		n = malloc_usable_size(p);
		for (; n >= m; s++, n--)
			if (!memcmp(s, MARKER, m)) {
				unwiped++;
				break;
			}
	}
	__libc_free(p);
}

static void test_wiped(void **state)
{
	struct ml_token_cache *c;
	char *got, *control;

	(void)state;
	/* the watch works: a plain free of the secret is seen */
	control = ml_strdup(MARKER);
	watching = 1;
	unwiped = 0;
	free(control);
	watching = 0;
	assert_int_equal(unwiped, 1);

	unwiped = 0;
	watching = 1;
	c = cache_at(0);
	ml_token_cache_put(c, "replaced", MARKER "-1", 60);
	ml_token_cache_put(c, "replaced", "new", 60);
	ml_token_cache_put(c, "dropped", MARKER "-2", 60);
	ml_token_cache_drop(c, "dropped");
	ml_token_cache_put(c, "expired", MARKER "-3", 60);
	got = ml_token_cache_get(c, "expired");
	assert_non_null(got);
	ml_free_secret(got);
	fake_now = 1000;
	assert_null(ml_token_cache_get(c, "expired"));
	ml_token_cache_put(c, "freed", MARKER "-4", 60);
	ml_token_cache_free(c);
	watching = 0;
	assert_int_equal(unwiped, 0);
}
#endif

static void *hammer(void *ud)
{
	struct ml_token_cache *c = ud;
	char key[16], *got;
	int i;

	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 7);
		ml_token_cache_put(c, key, "value", i % 3 ? 60 : 0);
		got = ml_token_cache_get(c, key);
		ml_free_secret(got);
		if (i % 11 == 0)
			ml_token_cache_drop(c, key);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct ml_token_cache *c = ml_token_cache_new();
	pthread_t t[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, c), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(ml_token_cache_count(c) <= 7);
	ml_token_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_margin_tenth),
		cmocka_unit_test(test_margin_capped),
		cmocka_unit_test(test_no_expiry),
		cmocka_unit_test(test_replace_not_append),
		cmocka_unit_test(test_copy_is_independent),
#if WATCH_FREE
		cmocka_unit_test(test_wiped),
#endif
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
