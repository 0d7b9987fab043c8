/* lib/registry/credhelper.c with helper scripts in a temporary PATH directory: the
 * time limit covers the whole exchange and stops what the helper started, a helper
 * that stops reading costs no SIGPIPE, and the limit's variable is parsed strictly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "util/alloc.h"
#include "util/error.h"
#include "registry/credhelper.h"

static char dir[] = "/tmp/test-credhelper.XXXXXX";
static char *old_path;

static void helper(const char *name, const char *body)
{
	char *path = ml_asprintf("%s/docker-credential-%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
}

static char *file_in_dir(const char *name)
{
	return ml_asprintf("%s/%s", dir, name);
}

static int setup(void **state)
{
	const char *path = getenv("PATH");
	char *p;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	old_path = ml_strdup(path ? path : "/usr/bin:/bin");
	p = ml_asprintf("%s:%s", dir, old_path);
	setenv("PATH", p, 1);
	free(p);
	/* as in a library user's process: SIGPIPE at its default, fatal */
	signal(SIGPIPE, SIG_DFL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (ut_rm_rf(dir) < 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	setenv("PATH", old_path, 1);
	free(old_path);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int get(const char *name, const char *server, struct ml_credential *c,
	       struct ml_error *err)
{
	memset(c, 0, sizeof(*c));
	ml_error_clear(err);
	return ml_credhelper_get(name, server, c, err);
}

static void test_answer(void **state)
{
	struct ml_credential c;
	struct ml_error err;

	(void)state;
	unsetenv("MLDEPLOY_CREDHELPER_TIMEOUT_S");
	helper("ok", "read -r s; printf '{\"ServerURL\":\"%s\",\"Username\":\"u\",\"Secret\":\"S3cret\"}' \"$s\"");
	assert_int_equal(get("ok", "reg.example", &c, &err), 1);
	assert_string_equal(c.username, "u");
	assert_string_equal(c.secret, "S3cret");
	ml_credential_dispose(&c);
	helper("none", "echo 'credentials not found in native keychain'; exit 1");
	assert_int_equal(get("none", "reg.example", &c, &err), 0);
}

/* A helper that never answers, and whose child keeps the pipe open: the limit
 * holds, the message names the helper and the limit, and the child is gone. */
static void test_hang_is_bounded(void **state)
{
	struct ml_credential c;
	struct ml_error err;
	char *pidfile = file_in_dir("child.pid"), *body;
	char line[32] = "";
	double t0;
	FILE *f;
	long child;
	int i;

	(void)state;
	body = ml_asprintf("sleep 300 & echo $! >'%s'; wait", pidfile);
	helper("hang", body);
	setenv("MLDEPLOY_CREDHELPER_TIMEOUT_S", "1", 1);
	t0 = now();
	assert_int_equal(get("hang", "reg.example", &c, &err), -ML_EAUTH);
	/* a generous ceiling: the point is that it ends */
	assert_true(now() - t0 < 20);
	if (!strstr(err.msg, "docker-credential-hang did not answer within 1 s") ||
	    !strstr(err.msg, "MLDEPLOY_CREDHELPER_TIMEOUT_S"))
		fail_msg("message: '%s'", err.msg);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	child = strtol(line, NULL, 10);
	assert_true(child > 1);
	/* killed with its group; it may take a moment to be reaped by init */
	for (i = 0; i < 100 && kill((pid_t)child, 0) == 0; i++)
		usleep(50 * 1000);
	if (kill((pid_t)child, 0) == 0) {
		char *stat = ml_asprintf("/proc/%ld/stat", child);
		char buf[256] = "";

		f = fopen(stat, "r");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		free(stat);
		/* a zombie waiting for its reaper is dead */
		if (!strstr(buf, ") Z "))
			fail_msg("the helper's child %ld still runs: %s", child, buf);
	}
	free(body);
	free(pidfile);
}

/* Closing stdout without exiting does not hold the caller either. */
static void test_silent_after_close(void **state)
{
	struct ml_credential c;
	struct ml_error err;
	double t0;

	(void)state;
	helper("closes", "exec >/dev/null; sleep 300");
	setenv("MLDEPLOY_CREDHELPER_TIMEOUT_S", "1", 1);
	t0 = now();
	assert_int_equal(get("closes", "reg.example", &c, &err), -ML_EAUTH);
	assert_true(now() - t0 < 20);
	assert_non_null(strstr(err.msg, "did not answer within 1 s"));
}

/* The helper exits without reading a server name larger than a pipe holds: the
 * write fails with EPIPE and this process, whose SIGPIPE is fatal, lives on with
 * no SIGPIPE pending and its signal mask as it was. */
static void test_no_sigpipe(void **state)
{
	struct ml_credential c;
	struct ml_error err;
	sigset_t before, after, pending;
	size_t n = 1 << 20;
	char *server = ml_malloc(n + 1);

	(void)state;
	unsetenv("MLDEPLOY_CREDHELPER_TIMEOUT_S");
	memset(server, 'a', n);
	server[n] = '\0';
	helper("deaf", "exec 0<&-; echo 'credentials not found'; exit 1");
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	assert_int_equal(get("deaf", server, &c, &err), 0);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&before, SIGPIPE), sigismember(&after, SIGPIPE));
	sigemptyset(&pending);
	assert_int_equal(sigpending(&pending), 0);
	assert_false(sigismember(&pending, SIGPIPE));
	assert_ptr_equal(signal(SIGPIPE, SIG_DFL), SIG_DFL);
	free(server);
}

static void test_timeout_variable(void **state)
{
	static const char *const bad[] = { "0", "-1", "abc", "5s", " 5", "3601", "1e3",
		"99999999999999999999", NULL };
	struct ml_credential c;
	struct ml_error err;
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		setenv("MLDEPLOY_CREDHELPER_TIMEOUT_S", bad[i], 1);
		assert_int_equal(get("ok", "reg.example", &c, &err), -ML_EUSAGE);
		if (!strstr(err.msg, "MLDEPLOY_CREDHELPER_TIMEOUT_S") || !strstr(err.msg, bad[i]))
			fail_msg("'%s': '%s'", bad[i], err.msg);
	}
	setenv("MLDEPLOY_CREDHELPER_TIMEOUT_S", "3600", 1);
	assert_int_equal(get("ok", "reg.example", &c, &err), 1);
	ml_credential_dispose(&c);
	setenv("MLDEPLOY_CREDHELPER_TIMEOUT_S", "", 1);
	assert_int_equal(get("ok", "reg.example", &c, &err), 1);
	ml_credential_dispose(&c);
	unsetenv("MLDEPLOY_CREDHELPER_TIMEOUT_S");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_hang_is_bounded),
		cmocka_unit_test(test_silent_after_close),
		cmocka_unit_test(test_no_sigpipe),
		cmocka_unit_test(test_timeout_variable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
