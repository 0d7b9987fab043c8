/* lib/registry/registry.c's credential lookup against tests/fakes/basicauth.py on
 * 127.0.0.1: it runs once per registry, outside the lock pooled requests need,
 * and a failure is remembered for the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "util/alloc.h"
#include "util/error.h"
#include "wrap/http.h"
#include "registry/registry.h"
#include "registry/registry-internal.h"

#define NTHREADS 8
#define DIGEST "sha256:0000000000000000000000000000000000000000000000000000000000000000"

static struct ut_fake fake;
static char host[64];

/* What the credential hook does and saw; guarded by hook_lock. */
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hook_cond = PTHREAD_COND_INITIALIZER;
static int calls;		/* lookups run */
static int entered;		/* a lookup is running */
static int released;		/* the test lets the blocking hook return */
static int hook_timed_out;	/* the blocking hook waited in vain */

static void hook_reset(void)
{
	pthread_mutex_lock(&hook_lock);
	calls = entered = released = hook_timed_out = 0;
	pthread_mutex_unlock(&hook_lock);
}

static int found(struct ml_credential *out)
{
	out->username = ml_strdup("user");
	out->secret = ml_strdup("Hook-Pa55word");
	out->source = ml_strdup("the test hook");
	return 1;
}

/* Answers only once the test has made a pooled request on the same registry:
 * while the lookup held the registry's lock, that request could not start. */
static int blocking_cred(const char *h, struct ml_credential *out, struct ml_error *err)
{
	struct timespec until;

	(void)h;
	(void)err;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&hook_lock);
	calls++;
	entered = 1;
	pthread_cond_broadcast(&hook_cond);
	while (!released && !hook_timed_out)
		if (pthread_cond_timedwait(&hook_cond, &hook_lock, &until) == ETIMEDOUT)
			hook_timed_out = 1;
	pthread_mutex_unlock(&hook_lock);
	return found(out);
}

/* A lookup that takes 200 ms, counted. */
static void slow_lookup(void)
{
	pthread_mutex_lock(&hook_lock);
	calls++;
	pthread_mutex_unlock(&hook_lock);
	usleep(200 * 1000);
}

static int slow_cred(const char *h, struct ml_credential *out, struct ml_error *err)
{
	(void)h;
	(void)err;
	slow_lookup();
	return found(out);
}

static int failing_cred(const char *h, struct ml_credential *out, struct ml_error *err)
{
	(void)h;
	(void)out;
	slow_lookup();
	return ml_error_set(err, ML_EAUTH, "credential helper docker-credential-test did not "
			    "answer within 30 s");
}

static int fake_start(void **state)
{
	(void)state;
	unsetenv("DOCKER_CONFIG");
	if (ut_fake_run(&fake, "basicauth.py", NULL) < 0)
		return -1;
	snprintf(host, sizeof(host), "127.0.0.1:%d", fake.port);
	/* plain HTTP, decided by the first contact */
	setenv("MLDEPLOY_INSECURE_REGISTRIES", host, 1);
	return ml_http_global_init(NULL) < 0 ? -1 : 0;
}

static int fake_stop(void **state)
{
	(void)state;
	ml_registry_set_hooks(NULL);
	ml_http_global_cleanup();
	ut_fake_kill(&fake);
	return 0;
}

struct probe {
	struct ml_registry *r;
	int rc;
	struct ml_error err;
};

static void *exists_thread(void *ud)
{
	struct probe *p = ud;

	p->rc = ml_registry_blob_exists(p->r, "team/app", DIGEST, 1, &p->err);
	return NULL;
}

/* A registry on the fake whose credential lookup is the hook's, counted afresh. */
static struct ml_registry *open_registry(const struct ml_registry_hooks *hooks)
{
	struct ml_registry *r = NULL;
	struct ml_error err = { 0 };

	hook_reset();
	ml_registry_set_hooks(hooks);
	if (ml_registry_open(&r, host, 0, &err) < 0)
		fail_msg("open: %s", err.msg);
	return r;
}

/* The lookup is running in one thread; another request on the registry's pool
 * must still go through. */
static void test_lookup_outside_lock(void **state)
{
	static const struct ml_registry_hooks hooks = { .credential = blocking_cred };
	struct ml_registry *r;
	struct probe p = { 0 };
	struct ml_http_request req = { 0 };
	struct ml_http_response resp;
	struct ml_error err = { 0 };
	pthread_t t;
	char *url;

	(void)state;
	r = open_registry(&hooks);
	p.r = r;
	assert_int_equal(pthread_create(&t, NULL, exists_thread, &p), 0);
	pthread_mutex_lock(&hook_lock);
	while (!entered)
		pthread_cond_wait(&hook_cond, &hook_lock);
	pthread_mutex_unlock(&hook_lock);

	url = ml_asprintf("%s/open", ml_registry_base_url(r));
	req.url = url;
	ml_http_response_init(&resp);
	assert_int_equal(ml_reg_http(r, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	ml_http_response_dispose(&resp);
	free(url);

	pthread_mutex_lock(&hook_lock);
	released = 1;
	pthread_cond_broadcast(&hook_cond);
	pthread_mutex_unlock(&hook_lock);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(hook_timed_out);
	if (p.rc != 0)
		fail_msg("blob_exists: %d %s", p.rc, p.err.msg);
	assert_int_equal(calls, 1);
	ml_registry_free(r);
}

/* NTHREADS blob_exists at once, their outcomes into p. */
static void run_threads(struct ml_registry *r, struct probe *p)
{
	pthread_t t[NTHREADS];
	size_t i;

	memset(p, 0, NTHREADS * sizeof(*p));
	for (i = 0; i < NTHREADS; i++) {
		p[i].r = r;
		assert_int_equal(pthread_create(&t[i], NULL, exists_thread, &p[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
}

static void test_one_lookup_for_many_requests(void **state)
{
	static const struct ml_registry_hooks hooks = { .credential = slow_cred };
	struct ml_registry *r;
	struct probe p[NTHREADS];
	size_t i;

	(void)state;
	r = open_registry(&hooks);
	run_threads(r, p);
	for (i = 0; i < NTHREADS; i++)
		if (p[i].rc != 0)
			fail_msg("thread %zu: %d %s", i, p[i].rc, p[i].err.msg);
	assert_int_equal(calls, 1);
	ml_registry_free(r);
}

/* A failed lookup is not run again for every blob, and every request that
 * needed it reports the same clear message. */
static void test_failure_remembered(void **state)
{
	static const struct ml_registry_hooks hooks = { .credential = failing_cred };
	struct ml_registry *r;
	struct probe p[NTHREADS], again = { 0 };
	size_t i;

	(void)state;
	r = open_registry(&hooks);
	run_threads(r, p);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(p[i].rc, -ML_EAUTH);
		assert_int_equal(p[i].err.code, ML_EAUTH);
		if (!strstr(p[i].err.msg, host) ||
		    !strstr(p[i].err.msg, "docker-credential-test did not answer within 30 s"))
			fail_msg("thread %zu: '%s'", i, p[i].err.msg);
	}
	again.r = r;
	exists_thread(&again);
	assert_int_equal(again.rc, -ML_EAUTH);
	assert_string_equal(again.err.msg, p[0].err.msg);
	assert_int_equal(calls, 1);
	ml_registry_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_outside_lock),
		cmocka_unit_test(test_one_lookup_for_many_requests),
		cmocka_unit_test(test_failure_remembered),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
