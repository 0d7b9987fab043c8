/* Helpers shared by the unit tests in tests/unit/ (not part of lib/); the Makefile
 * links testutil.o into every test binary. */
#ifndef ML_TESTUTIL_H
#define ML_TESTUTIL_H

#include <limits.h>
#include <sys/types.h>

/* A fake from tests/fakes/ running as a child of the test. */
struct ut_fake {
	pid_t pid;
	int port;	/* the port it printed, on 127.0.0.1 */
};

/* Runs tests/fakes/<script> (below $MLDEPLOY_SRCDIR, else .) with python3 and the
 * arguments that follow, up to a NULL, and reads the port it prints. The proxy
 * variables are unset first, so that curl reaches it directly. 0 or -1. */
int ut_fake_run(struct ut_fake *f, const char *script, ...) __attribute__((sentinel));
/* Ends the fake, if one was started, and waits for it. */
void ut_fake_kill(struct ut_fake *f);

/* A temporary directory /tmp/<name>-XXXXXX (root is its real path) whose
 * subdirectory cache is made MLDEPLOY_CACHE_DIR. */
struct ut_tmpdir {
	char root[PATH_MAX];
	char cache_dir[PATH_MAX + 8];
	char *old_cache_env;	/* MLDEPLOY_CACHE_DIR before, restored on removal */
};

int ut_tmpdir_make(struct ut_tmpdir *t, const char *name);
/* Removes the directory and restores MLDEPLOY_CACHE_DIR. 0 or -1. */
int ut_tmpdir_remove(struct ut_tmpdir *t);
/* Runs the printf-formatted command with system(): its exit status, or 128 + the
 * signal that ended it. */
int ut_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* rm -rf dir: 0 or -1. */
int ut_rm_rf(const char *dir);

/* An ml_log handler appending each line to the struct ml_buf ud. */
void ut_log_capture(int level, const char *msg, void *ud);

/* The monotonic clock, in seconds. */
double ut_now_s(void);

/* A port on 127.0.0.1 that nobody listens on. */
int ut_closed_port(void);

void assert_has(const char *haystack, const char *needle);
void assert_lacks(const char *haystack, const char *needle);

#endif
