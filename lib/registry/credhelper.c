#include "registry/credhelper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#define TIMEOUT_MS 30000

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

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Collects the child's stdout, bounded in size and time. */
static int read_output(int fd, struct ml_buf *out)
{
	struct timespec start;
	char block[4096];

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		long left = TIMEOUT_MS - elapsed_ms(&start);
		ssize_t n;

		if (left <= 0)
			return -ML_ENET;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -ML_EIO;
		n = read(fd, block, sizeof(block));
		if (n == 0)
			return 0;
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 || ml_buf_add(out, block, (size_t)n) < 0)
			return -ML_EIO;
	}
}

static int spawn_get(const char *prog, int *in, int *out, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
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
	rc = posix_spawnp(pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pin[0]);
	close(pout[1]);
	if (rc != 0) {
		close(pin[1]);
		close(pout[0]);
		errno = rc;
		return -1;
	}
	*in = pin[1];
	*out = pout[0];
	return 0;
}

static int parse_answer(const struct ml_buf *b, const char *prog, struct ml_credential *out,
			struct ml_error *err)
{
	ml_json *doc = ml_json_parse(ml_buf_str(b), b->len, NULL);
	const char *user = ml_json_get_str(doc, "Username");
	const char *secret = ml_json_get_str(doc, "Secret");
	int rc = 1;

	if (!user || !secret || !secret[0]) {
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

int ml_credhelper_get(const char *name, const char *server, struct ml_credential *out,
		      struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT, shown = ML_BUF_INIT;
	char *prog;
	pid_t pid;
	int in, fd, status = 0, rc;
	void (*old)(int);

	if (!valid_name(name))
		return ml_error_set(err, ML_ECONFIG, "invalid credential helper name '%s' in the "
				    "docker config", name);
	prog = ml_asprintf("docker-credential-%s", name);
	ml_buf_init(&b, OUTPUT_MAX);
	if (spawn_get(prog, &in, &fd, &pid) < 0) {
		rc = ml_error_errno(err, ML_EAUTH, errno, "cannot run credential helper %s", prog);
		goto out;
	}
	old = signal(SIGPIPE, SIG_IGN);
	(void)!write(in, server, strlen(server));
	close(in);
	signal(SIGPIPE, old);
	rc = read_output(fd, &b);
	close(fd);
	if (rc < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		rc = ml_error_set(err, ML_EAUTH, "credential helper %s %s", prog,
				  rc == -ML_ENET ? "did not answer within 30 s" : "could not be read");
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = parse_answer(&b, prog, out, err);
	} else if (strstr(ml_buf_str(&b), "not found")) {
		rc = 0;
	} else {
		ml_redact_text(&shown, ml_buf_str(&b), b.len, 200);
		rc = ml_error_set(err, ML_EAUTH, "credential helper %s failed (%s%d): %s", prog,
				  WIFEXITED(status) ? "exit " : "signal ",
				  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				  ml_buf_str(&shown));
	}
out:
	if (b.data)
		explicit_bzero(b.data, b.len);
	ml_buf_dispose(&b);
	ml_buf_dispose(&shown);
	free(prog);
	return rc;
}
