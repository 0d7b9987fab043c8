#include "registry/credhelper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/json.h"
#include "util/redact.h"

#define OUTPUT_MAX (64u << 10)
#define TIMEOUT_DEFAULT_S 30
#define TIMEOUT_MAX_S 3600
#define TIMEOUT_ENV "MLDEPLOY_CREDHELPER_TIMEOUT_S"

extern char **environ;

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-_.", *s)))
			return 0;
	return 1;
}

static int timeout_s(int *out, struct ml_error *err)
{
	const char *s = getenv(TIMEOUT_ENV);
	char *end;
	long v;

	*out = TIMEOUT_DEFAULT_S;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || *s < '0' || *s > '9' || v < 1 || v > TIMEOUT_MAX_S)
		return ml_error_set(err, ML_EUSAGE, "%s takes a whole number of seconds from 1 to "
				    "%d, not '%s'", TIMEOUT_ENV, TIMEOUT_MAX_S, s);
	*out = (int)v;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes: 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Writes to the helper's stdin without a SIGPIPE reaching the process when the
 * helper has gone: the signal is blocked in this thread only and a pending one
 * consumed, as git and curl do (the disposition is the process's, not ours). */
static ssize_t write_nosigpipe(int fd, const void *data, size_t len)
{
	sigset_t pipe_set, old, pending;
	int was_pending, saved;
	ssize_t n;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, data, len);
	saved = errno;
	if (n < 0 && errno == EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

/* Sends the server name; a helper that exits without reading it is not an error
 * here (its exit status says what happened). 0, or -ML_ENET at the deadline. */
static int send_server(int fd, const char *server, int64_t deadline)
{
	size_t len = strlen(server), done = 0;

	while (done < len) {
		ssize_t n;
		int ready = wait_fd(fd, POLLOUT, deadline);

		if (ready <= 0)
			return ready == 0 ? -ML_ENET : -ML_EIO;
		n = write_nosigpipe(fd, server + done, len - done);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return 0;
		done += (size_t)n;
	}
	return 0;
}

/* Collects the child's stdout until EOF: 0, -ML_ENET at the deadline, -ML_ETOOBIG
 * over OUTPUT_MAX, -ML_EIO when it cannot be read. */
static int read_output(int fd, struct ml_buf *out, int64_t deadline)
{
	char block[4096];

	for (;;) {
		int ready = wait_fd(fd, POLLIN, deadline);
		ssize_t n;

		if (ready <= 0)
			return ready == 0 ? -ML_ENET : -ML_EIO;
		n = read(fd, block, sizeof(block));
		if (n == 0)
			return 0;
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -ML_EIO;
		if (ml_buf_add(out, block, (size_t)n) < 0)
			return -ML_ETOOBIG;
	}
}

/* Reaps the helper once it exits; 0, or -ML_ENET when it is still running at
 * the deadline (it closed its stdout but did not exit). */
static int wait_exit(pid_t pid, int *status, int64_t deadline)
{
	long nap_us = 1000;

	for (;;) {
		pid_t got = waitpid(pid, status, WNOHANG);

		if (got == pid)
			return 0;
		if (got < 0 && errno != EINTR)
			return -ML_EIO;
		if (now_ms() >= deadline)
			return -ML_ENET;
		usleep((useconds_t)nap_us);
		if (nap_us < 50000)
			nap_us *= 2;
	}
}

/* Stops the helper and everything it started (its own process group), and reaps it. */
static void kill_helper(pid_t pid)
{
	int status;

	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* Runs "prog get" in a process group of its own (so that a time-out stops what it
 * started too), with SIGPIPE back to its default: the process may ignore it. */
static int spawn_get(const char *prog, int *in, int *out, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char *argv[] = { (char *)prog, (char *)"get", NULL };
	int pin[2], pout[2], rc;

	if (pipe2(pin, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(pout, O_CLOEXEC) < 0) {
		close(pin[0]);
		close(pin[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	/* the helper's stderr is not ours to show: it may echo what it was given */
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	rc = posix_spawnp(pid, prog, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pin[0]);
	close(pout[1]);
	if (rc != 0) {
		close(pin[1]);
		close(pout[0]);
		errno = rc;
		return -1;
	}
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	fcntl(pout[0], F_SETFL, O_NONBLOCK);
	*in = pin[1];
	*out = pout[0];
	return 0;
}

static int parse_answer(const struct ml_buf *b, const char *prog, struct ml_credential *out,
			struct ml_error *err)
{
	struct ml_error perr = { 0 };
	ml_json *doc = ml_json_parse_secret(ml_buf_str(b), b->len, &perr);
	const char *user = ml_json_get_str(doc, "Username");
	const char *secret = ml_json_get_str(doc, "Secret");
	int rc = 1;

	if (!doc) {
		rc = ml_error_set(err, ML_EAUTH, "credential helper %s answered something that is "
				  "not JSON: %s", prog, perr.msg);
	} else if (!user || !secret || !secret[0]) {
		rc = ml_error_set(err, ML_EAUTH, "credential helper %s answered without Username "
				  "and Secret", prog);
	} else {
		out->username = ml_strdup(user);
		out->secret = ml_strdup(secret);
		out->source = ml_asprintf("credential helper %s", prog);
	}
	ml_json_free(doc);
	return rc;
}

/* The exchange, bounded by one deadline: send, read to EOF, reap. */
static int exchange(const char *prog, const char *server, int limit_s, struct ml_buf *b,
		    int *status, struct ml_error *err)
{
	int64_t deadline;
	pid_t pid;
	int in, fd, rc;

	if (spawn_get(prog, &in, &fd, &pid) < 0)
		return ml_error_errno(err, ML_EAUTH, errno, "cannot run credential helper %s", prog);
	deadline = now_ms() + (int64_t)limit_s * 1000;
	rc = send_server(in, server, deadline);
	close(in);
	if (rc == 0)
		rc = read_output(fd, b, deadline);
	close(fd);
	if (rc == 0)
		rc = wait_exit(pid, status, deadline);
	if (rc < 0)
		kill_helper(pid);
	if (rc == -ML_ENET)
		return ml_error_set(err, ML_EAUTH, "credential helper %s did not answer within %d s "
				    "and was stopped (hint: check that '%s get' works on its own; "
				    "%s sets the limit)", prog, limit_s, prog, TIMEOUT_ENV);
	if (rc == -ML_ETOOBIG)
		return ml_error_set(err, ML_EAUTH, "credential helper %s answered more than %u KiB",
				    prog, OUTPUT_MAX >> 10);
	if (rc < 0)
		return ml_error_set(err, ML_EAUTH, "credential helper %s could not be read", prog);
	return 0;
}

/* What the helper's exit status and output mean: 1, 0 or negative as ml_credhelper_get. */
static int interpret(const struct ml_buf *b, int status, const char *prog,
		     struct ml_credential *out, struct ml_error *err)
{
	struct ml_buf shown = ML_BUF_INIT;
	int rc;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return parse_answer(b, prog, out, err);
	if (strstr(ml_buf_str(b), "not found"))
		return 0;
	ml_redact_text(&shown, ml_buf_str(b), b->len, 200);
	rc = ml_error_set(err, ML_EAUTH, "credential helper %s failed (%s%d): %s", prog,
			  WIFEXITED(status) ? "exit " : "signal ",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			  ml_buf_str(&shown));
	ml_buf_dispose(&shown);
	return rc;
}

int ml_credhelper_get(const char *name, const char *server, struct ml_credential *out,
		      struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	char *prog;
	int status = 0, limit_s, rc;

	if (!valid_name(name))
		return ml_error_set(err, ML_ECONFIG, "invalid credential helper name '%s' in the "
				    "docker config", name);
	rc = timeout_s(&limit_s, err);
	if (rc < 0)
		return rc;
	prog = ml_asprintf("docker-credential-%s", name);
	ml_buf_init(&b, OUTPUT_MAX);
	rc = exchange(prog, server, limit_s, &b, &status, err);
	if (rc == 0)
		rc = interpret(&b, status, prog, out, err);
	if (b.data)
		explicit_bzero(b.data, b.len);
	ml_buf_dispose(&b);
	free(prog);
	return rc;
}
