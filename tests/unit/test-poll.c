/* lib/deploy/poll.c: done, failed, a deadline, Retry-After from the callback, the
 * backoff between looks, progress lines and interruption by a signal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "testutil.h"
#include "deploy/poll.h"
#include "util/buf.h"
#include "util/log.h"

static struct ml_buf logged = ML_BUF_INIT;

struct op {
	int done_at;		/* the look that says done; -1: never */
	int fail_at;		/* the look that says failed; -1: never */
	int error_at;		/* the look that fails itself; -1: never */
	long retry_after_ms;	/* asked for on every look, or -1 */
	int calls;
	double at[16];		/* when each look happened */
	int attempts[16];
};

static int look(void *ud, struct ml_poll_step *step, struct ml_error *err)
{
	struct op *o = ud;

	if (o->calls < 16) {
		o->at[o->calls] = ut_now_s();
		o->attempts[o->calls] = step->attempt;
	}
	o->calls++;
	snprintf(step->progress, sizeof(step->progress), "%s",
		 o->calls < 3 ? "Creating revision \x1b[31miris-00002" : "Routing traffic");
	step->retry_after_ms = o->retry_after_ms;
	if (step->attempt == o->error_at)
		return ml_error_set(err, ML_ENET, "GET operation: could not connect");
	if (step->attempt == o->fail_at) {
		ml_error_set(err, ML_EPROTO, "revision failed: container did not listen on 8080");
		return ML_POLL_FAILED;
	}
	return step->attempt == o->done_at ? ML_POLL_DONE : ML_POLL_PENDING;
}

static void test_done_with_backoff(void **state)
{
	struct op o = { .done_at = 3, .fail_at = -1, .error_at = -1, .retry_after_ms = -1 };
	struct ml_poll_opts opts = { .what = "Cloud Run operation", .initial_ms = 100 };
	struct ml_error err = { 0, "" };
	double d1, d2, d3;

	(void)state;
	ml_buf_reset(&logged);
	assert_int_equal(ml_poll(&opts, look, &o, &err), 0);
	assert_int_equal(o.calls, 4);
	assert_int_equal(o.attempts[3], 3);
	d1 = o.at[1] - o.at[0];
	d2 = o.at[2] - o.at[1];
	d3 = o.at[3] - o.at[2];
	/* waits of 100, 150, 225 ms (the upper bounds leave room for a busy machine) */
	assert_true(d1 >= 0.095 && d1 < 0.200);
	assert_true(d2 >= 0.145 && d2 < 0.280);
	assert_true(d3 >= 0.220 && d3 < 0.400);
	/* progress logged once per change, sanitised */
	assert_non_null(strstr(ml_buf_str(&logged),
			       "Cloud Run operation: Creating revision ?[31miris-00002 (0 s)\n"));
	assert_non_null(strstr(ml_buf_str(&logged), "Cloud Run operation: Routing traffic ("));
	assert_null(strstr(strstr(ml_buf_str(&logged), "Routing") + 1, "Routing"));
	assert_null(strchr(ml_buf_str(&logged), '\x1b'));
}

static void test_backoff_capped(void **state)
{
	struct op o = { .done_at = 4, .fail_at = -1, .error_at = -1, .retry_after_ms = -1 };
	struct ml_poll_opts opts = { .what = "op", .initial_ms = 80, .max_ms = 100 };
	struct ml_error err = { 0, "" };
	double d;
	int i;

	(void)state;
	assert_int_equal(ml_poll(&opts, look, &o, &err), 0);
	for (i = 2; i < 5; i++) {
		d = o.at[i] - o.at[i - 1];
		assert_true(d >= 0.095 && d < 0.200);
	}
}

static void test_retry_after(void **state)
{
	struct op o = { .done_at = 1, .fail_at = -1, .error_at = -1, .retry_after_ms = 400 };
	struct ml_poll_opts opts = { .what = "op", .initial_ms = 10 };
	struct ml_error err = { 0, "" };
	double d;

	(void)state;
	assert_int_equal(ml_poll(&opts, look, &o, &err), 0);
	d = o.at[1] - o.at[0];
	assert_true(d >= 0.395 && d < 0.600);
}

static void test_failed(void **state)
{
	struct op o = { .done_at = -1, .fail_at = 1, .error_at = -1, .retry_after_ms = -1 };
	struct ml_poll_opts opts = { .what = "op", .initial_ms = 10 };
	struct ml_error err = { 0, "" };

	(void)state;
	assert_int_equal(ml_poll(&opts, look, &o, &err), -ML_EPROTO);
	assert_string_equal(err.msg, "revision failed: container did not listen on 8080");
	assert_int_equal(o.calls, 2);
}

static int fail_silently(void *ud, struct ml_poll_step *step, struct ml_error *err)
{
	(void)ud;
	(void)err;
	snprintf(step->progress, sizeof(step->progress), "Health check failed");
	return ML_POLL_FAILED;
}

static void test_failed_without_message(void **state)
{
	struct ml_poll_opts opts = { .what = "ACI deployment" };
	struct ml_error err = { 0, "" };

	(void)state;
	assert_int_equal(ml_poll(&opts, fail_silently, NULL, &err), -ML_EPROTO);
	assert_string_equal(err.msg, "ACI deployment failed: Health check failed");
}

static void test_look_error(void **state)
{
	struct op o = { .done_at = -1, .fail_at = -1, .error_at = 2, .retry_after_ms = -1 };
	struct ml_poll_opts opts = { .what = "op", .initial_ms = 10 };
	struct ml_error err = { 0, "" };

	(void)state;
	assert_int_equal(ml_poll(&opts, look, &o, &err), -ML_ENET);
	assert_string_equal(err.msg, "GET operation: could not connect");
	assert_int_equal(o.calls, 3);
}

static void test_deadline(void **state)
{
	struct op o = { .done_at = -1, .fail_at = -1, .error_at = -1, .retry_after_ms = -1 };
	struct ml_poll_opts opts = { .what = "Cloud Run operation", .timeout_s = 1,
				     .initial_ms = 300 };
	struct ml_error err = { 0, "" };
	double t0 = ut_now_s(), took;

	(void)state;
	assert_int_equal(ml_poll(&opts, look, &o, &err), -ML_ETIMEDOUT);
	took = ut_now_s() - t0;
	/* looks at 0, 0.3, 0.75 and one last at the deadline */
	assert_true(took >= 1.0 && took < 1.5);
	assert_int_equal(o.calls, 4);
	assert_non_null(strstr(err.msg, "Cloud Run operation: not finished after 1 s (last state: "
			       "Routing traffic)"));
}

static void test_deadline_beats_retry_after(void **state)
{
	struct op o = { .done_at = -1, .fail_at = -1, .error_at = -1, .retry_after_ms = 60000 };
	struct ml_poll_opts opts = { .what = "op", .timeout_s = 1 };
	struct ml_error err = { 0, "" };
	double t0 = ut_now_s();

	(void)state;
	assert_int_equal(ml_poll(&opts, look, &o, &err), -ML_ETIMEDOUT);
	assert_true(ut_now_s() - t0 < 1.5);
}

static volatile int stop;

static void on_alarm(int sig)
{
	(void)sig;
	stop = 1;
}

static void test_interrupted(void **state)
{
	struct op o = { .done_at = -1, .fail_at = -1, .error_at = -1, .retry_after_ms = -1 };
	struct ml_poll_opts opts = { .what = "op", .initial_ms = 5000, .interrupted = &stop };
	struct ml_error err = { 0, "" };
	struct itimerval it = { { 0, 0 }, { 0, 200000 } };
	struct sigaction sa;
	double t0 = ut_now_s();

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	stop = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	assert_int_equal(ml_poll(&opts, look, &o, &err), -ML_EINTR);
	assert_true(ut_now_s() - t0 < 0.5);
	assert_int_equal(o.calls, 1);
	assert_non_null(strstr(err.msg, "op: interrupted"));
	/* a flag already raised stops before the first look */
	o.calls = 0;
	assert_int_equal(ml_poll(&opts, look, &o, &err), -ML_EINTR);
	assert_int_equal(o.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_done_with_backoff),
		cmocka_unit_test(test_backoff_capped),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_failed),
		cmocka_unit_test(test_failed_without_message),
		cmocka_unit_test(test_look_error),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_deadline_beats_retry_after),
		cmocka_unit_test(test_interrupted),
	};
	int rc;

	ml_log_set_handler(ut_log_capture, &logged, ML_LOG_INFO);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	ml_buf_dispose(&logged);
	return rc;
}
