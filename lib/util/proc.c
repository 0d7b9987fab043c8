#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int ml_proc_timeout_s(int *out, struct ml_error *err)
{
	const char *s = getenv(ML_PROC_TIMEOUT_ENV);
	char *end;
	long v;

	*out = ML_PROC_TIMEOUT_DEFAULT_S;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || *s < '0' || *s > '9' || v < 1 ||
	    v > ML_PROC_TIMEOUT_MAX_S)
		return ml_error_set(err, ML_EUSAGE, "%s takes a whole number of seconds from 1 to "
				    "%d, not '%s'", ML_PROC_TIMEOUT_ENV, ML_PROC_TIMEOUT_MAX_S, s);
	*out = (int)v;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes: 1 ready, 0 timed out,
 * -1 on a poll error. */
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

/* Writes to the child's stdin without a SIGPIPE reaching the process when the
 * child has gone: the signal is blocked in this thread only and a pending one
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

/* 0 (also when the child stopped reading), -ML_ETIMEDOUT, -ML_EIO. */
static int send_input(int fd, const char *input, int64_t deadline)
{
	size_t len = strlen(input), done = 0;

	while (done < len) {
		ssize_t n;
		int ready = wait_fd(fd, POLLOUT, deadline);

		if (ready <= 0)
			return ready == 0 ? -ML_ETIMEDOUT : -ML_EIO;
		n = write_nosigpipe(fd, input + done, len - done);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return 0;
		done += (size_t)n;
	}
	return 0;
}

/* Collects stdout until EOF: 0, -ML_ETIMEDOUT, -ML_ETOOBIG, -ML_EIO. */
static int read_output(int fd, struct ml_buf *out, int64_t deadline)
{
	char block[4096];

	for (;;) {
		int ready = wait_fd(fd, POLLIN, deadline);
		ssize_t n;

		if (ready <= 0)
			return ready == 0 ? -ML_ETIMEDOUT : -ML_EIO;
		n = read(fd, block, sizeof(block));
		if (n == 0)
			return 0;
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -ML_EIO;
		if (ml_buf_add(out, block, (size_t)n) < 0) {
			explicit_bzero(block, sizeof(block));
			return -ML_ETOOBIG;
		}
	}
}

/* Reaps the child once it exits: 0, or -ML_ETIMEDOUT when it still runs at the
 * deadline (it closed its stdout but did not exit). */
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
			return -ML_ETIMEDOUT;
		usleep((useconds_t)nap_us);
		if (nap_us < 50000)
			nap_us *= 2;
	}
}

static void close_pipe(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

/* Starts argv with stdout into *out (and stdin from *in when with_input). */
static int spawn(char *const argv[], int with_input, unsigned flags, int *in, int *out,
		 pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, rc;

	if ((with_input && pipe2(pin, O_CLOEXEC) < 0) || pipe2(pout, O_CLOEXEC) < 0) {
		rc = errno;
		close_pipe(pin);
		return rc;
	}
	posix_spawn_file_actions_init(&fa);
	if (with_input)
		posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	if (flags & ML_PROC_STDERR_NULL)
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
	rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (pin[0] >= 0)
		close(pin[0]);
	close(pout[1]);
	if (rc != 0) {
		if (pin[1] >= 0)
			close(pin[1]);
		close(pout[0]);
		return rc;
	}
	if (pin[1] >= 0)
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	fcntl(pout[0], F_SETFL, O_NONBLOCK);
	*in = pin[1];
	*out = pout[0];
	return 0;
}

int ml_proc_run(char *const argv[], const char *input, unsigned flags, int limit_s,
		struct ml_buf *out, int *status, int *spawn_errno)
{
	int64_t deadline;
	pid_t pid;
	int in = -1, fd = -1, rc;

	*spawn_errno = spawn(argv, input != NULL, flags, &in, &fd, &pid);
	if (*spawn_errno)
		return -ML_EIO;
	deadline = now_ms() + (int64_t)limit_s * 1000;
	rc = input ? send_input(in, input, deadline) : 0;
	if (in >= 0)
		close(in);
	if (rc == 0)
		rc = read_output(fd, out, deadline);
	close(fd);
	if (rc == 0)
		rc = wait_exit(pid, status, deadline);
	if (rc < 0) {
		/* stop it and everything it started (its own process group), and reap it */
		kill(-pid, SIGKILL);
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	}
	return rc;
}
