#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "util/alloc.h"
#include "util/buf.h"

#define FAKE_ARGS_MAX 8

static void unset_proxies(void)
{
	static const char *const names[] = { "http_proxy", "HTTP_PROXY", "https_proxy",
		"HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", NULL };
	const char *const *p;

	for (p = names; *p; p++)
		unsetenv(*p);
}

/* The port on the child's first line of output. */
static int read_port(int fd)
{
	FILE *f = fdopen(fd, "r");
	char line[32];
	long port = -1;

	if (!f) {
		close(fd);
		return -1;
	}
	if (fgets(line, sizeof(line), f))
		port = strtol(line, NULL, 10);
	fclose(f);
	return port > 0 && port < 65536 ? (int)port : -1;
}

int ut_fake_run(struct ut_fake *f, const char *script, ...)
{
	const char *src = getenv("MLDEPLOY_SRCDIR");
	char *argv[FAKE_ARGS_MAX + 3];
	size_t n = 0;
	va_list ap;
	int fds[2], too_many;

	f->pid = -1;
	f->port = -1;
	unset_proxies();
	argv[n++] = (char *)"python3";
	argv[n++] = ml_asprintf("%s/tests/fakes/%s", src && *src ? src : ".", script);
	va_start(ap, script);
	while (n < FAKE_ARGS_MAX + 2 && (argv[n] = va_arg(ap, char *)))
		n++;
	too_many = n == FAKE_ARGS_MAX + 2 && va_arg(ap, char *) != NULL;
	va_end(ap);
	argv[n] = NULL;
	if (too_many || pipe(fds) < 0) {
		free(argv[1]);
		return -1;
	}
	f->pid = fork();
	if (f->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv("/usr/bin/python3", argv);
		_exit(127);
	}
	free(argv[1]);
	close(fds[1]);
	if (f->pid < 0) {
		close(fds[0]);
		return -1;
	}
	f->port = read_port(fds[0]);
	return f->port > 0 ? 0 : -1;
}

void ut_fake_kill(struct ut_fake *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
	}
	f->pid = -1;
}

int ut_tmpdir_make(struct ut_tmpdir *t, const char *name)
{
	const char *old = getenv("MLDEPLOY_CACHE_DIR");
	char *tmpl = ml_asprintf("/tmp/%s-XXXXXX", name);
	int ok = mkdtemp(tmpl) && realpath(tmpl, t->root);

	free(tmpl);
	if (!ok)
		return -1;
	snprintf(t->cache_dir, sizeof(t->cache_dir), "%s/cache", t->root);
	t->old_cache_env = old ? ml_strdup(old) : NULL;
	setenv("MLDEPLOY_CACHE_DIR", t->cache_dir, 1);
	return 0;
}

int ut_tmpdir_remove(struct ut_tmpdir *t)
{
	int rc = ut_rm_rf(t->root);

	if (t->old_cache_env)
		setenv("MLDEPLOY_CACHE_DIR", t->old_cache_env, 1);
	else
		unsetenv("MLDEPLOY_CACHE_DIR");
	free(t->old_cache_env);
	t->old_cache_env = NULL;
	return rc;
}

int ut_sh(const char *fmt, ...)
{
	struct ml_buf cmd = ML_BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	ml_buf_vprintf(&cmd, fmt, ap);
	va_end(ap);
	rc = system(ml_buf_str(&cmd));
	ml_buf_dispose(&cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

int ut_rm_rf(const char *dir)
{
	char *cmd = ml_asprintf("rm -rf '%s'", dir);
	int rc = system(cmd);

	free(cmd);
	return rc == 0 ? 0 : -1;
}

void ut_log_capture(int level, const char *msg, void *ud)
{
	(void)level;
	ml_buf_adds(ud, msg);
	ml_buf_addch(ud, '\n');
}

double ut_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ut_closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

void assert_has(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' not found in:\n%s", needle, haystack);
}

void assert_lacks(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle))
		fail_msg("'%s' found in:\n%s", needle, haystack);
}
