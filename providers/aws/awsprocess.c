/* credential_process: the profile's command line, split as a POSIX shell splits
 * words (quotes and backslashes; no expansion, no shell), run with the user's stdin
 * and stderr, its stdout read (never shown) within a deadline, and parsed as the
 * AWS CLI's format: {"Version": 1, "AccessKeyId", "SecretAccessKey",
 * "SessionToken"?, "Expiration"?}. */
#include "aws/awsauth-internal.h"

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
#include "util/clock.h"
#include "wrap/json.h"

#define OUTPUT_MAX (64u << 10)
#define ARGS_MAX 256
#define TIMEOUT_DEFAULT_S 30
#define TIMEOUT_MAX_S 3600
#define TIMEOUT_ENV "MLDEPLOY_CREDHELPER_TIMEOUT_S"

extern char **environ;

int ml_aws_split_command(const char *line, char ***argv, size_t *argc, struct ml_error *err)
{
	char **v = ml_calloc(ARGS_MAX + 1, sizeof(*v));
	struct ml_buf w = ML_BUF_INIT;
	const char *p = line;
	size_t n = 0;
	int in_word = 0;
	char quote = 0;

	for (;; p++) {
		char c = *p;

		if (!c && quote) {
			ml_free_strings(v, n);
			ml_buf_dispose(&w);
			return ml_error_set(err, ML_EAUTH, "unterminated %s quote",
					    quote == '"' ? "double" : "single");
		}
		if (!c || (!quote && (c == ' ' || c == '\t' || c == '\n'))) {
			if (in_word) {
				if (n == ARGS_MAX) {
					ml_free_strings(v, n);
					ml_buf_dispose(&w);
					return ml_error_set(err, ML_EAUTH, "more than %d words",
							    ARGS_MAX);
				}
				v[n++] = w.data ? ml_buf_detach(&w) : ml_strdup("");
				in_word = 0;
			}
			if (!c)
				break;
			continue;
		}
		in_word = 1;
		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else
				ml_buf_addch(&w, c);
		} else if (c == '\\' && p[1] && (!quote || strchr("\\\"$`\n", p[1]))) {
			ml_buf_addch(&w, *++p);
		} else if (quote == '"' && c == '"') {
			quote = 0;
		} else if (!quote && (c == '\'' || c == '"')) {
			quote = c;
		} else {
			ml_buf_addch(&w, c);
		}
	}
	if (!n) {
		free(v);
		return ml_error_set(err, ML_EAUTH, "the command is empty");
	}
	*argv = v;
	*argc = n;
	return 0;
}

static int limit_s(int *out, struct ml_error *err)
{
	const char *s = ml_aws_env(TIMEOUT_ENV);
	char *end;
	long v;

	*out = TIMEOUT_DEFAULT_S;
	if (!s)
		return 0;
	v = strtol(s, &end, 10);
	if (*end || end == s || *s < '0' || *s > '9' || v < 1 || v > TIMEOUT_MAX_S)
		return ml_error_set(err, ML_EUSAGE, "%s takes a whole number of seconds from 1 to "
				    "%d, not '%s'", TIMEOUT_ENV, TIMEOUT_MAX_S, s);
	*out = (int)v;
	return 0;
}

/* Runs argv in a process group of its own with stdout into a pipe. */
static int spawn(char **argv, pid_t *pid, int *fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
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
	close(p[1]);
	if (rc) {
		close(p[0]);
		return rc;
	}
	*fd = p[0];
	return 0;
}

/* Reads to EOF and reaps, by the deadline: 0, -ML_ETIMEDOUT, -ML_ETOOBIG. */
static int collect(pid_t pid, int fd, double deadline, struct ml_buf *b, int *status)
{
	char block[4096];
	int rc = 0, open_fd = 1;

	while (open_fd) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		double left = deadline - ml_now_s();
		ssize_t n;

		if (left <= 0)
			return -ML_ETIMEDOUT;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			return -ML_EIO;
		if (!pfd.revents)
			continue;
		n = read(fd, block, sizeof(block));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			open_fd = 0;
		else if (ml_buf_add(b, block, (size_t)n) < 0)
			return -ML_ETOOBIG;
	}
	for (;;) {
		pid_t got = waitpid(pid, status, WNOHANG);

		if (got == pid)
			return rc;
		if (got < 0 && errno != EINTR)
			return -ML_EIO;
		if (ml_now_s() >= deadline)
			return -ML_ETIMEDOUT;
		usleep(10000);
	}
}

static int parse(const struct ml_buf *b, const char *what, struct ml_aws_credentials *out,
		 struct ml_error *err)
{
	ml_json *doc = ml_json_parse_secret(ml_buf_str(b), b->len, NULL);
	const char *id = ml_json_get_str(doc, "AccessKeyId");
	const char *secret = ml_json_get_str(doc, "SecretAccessKey");
	const char *exp = ml_json_get_str(doc, "Expiration");
	int64_t version = 0;
	int rc = 0;

	if (!doc || !ml_json_is_object(doc))
		rc = ml_error_set(err, ML_EAUTH, "%s printed something that is not a JSON object",
				  what);
	else if (ml_json_get_int(doc, "Version", &version) < 0 || version != 1)
		rc = ml_error_set(err, ML_EAUTH, "%s printed no \"Version\": 1 (hint: the AWS CLI's "
				  "credential_process format)", what);
	else if (!id || !*id || !secret || !*secret)
		rc = ml_error_set(err, ML_EAUTH, "%s printed no AccessKeyId and SecretAccessKey",
				  what);
	else if (exp && ml_aws_parse_time(exp, &out->expiration) < 0)
		rc = ml_error_set(err, ML_EAUTH, "%s printed an Expiration that is not an ISO 8601 "
				  "time", what);
	if (rc == 0) {
		out->access_key_id = ml_strdup(id);
		out->secret_access_key = ml_strdup(secret);
		out->session_token = ml_strdup(ml_json_get_str(doc, "SessionToken"));
	}
	ml_json_free(doc);
	return rc;
}

int ml_aws_process_fetch(const struct ml_aws_source *s, struct ml_aws_credentials *out,
			 struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	char **argv = NULL, what[300];
	size_t argc = 0;
	pid_t pid;
	int fd = -1, status = 0, secs, rc;

	snprintf(what, sizeof(what), "credential_process of profile %s", s->profile);
	rc = limit_s(&secs, err);
	if (rc < 0)
		return rc;
	rc = ml_aws_split_command(s->process, &argv, &argc, err);
	if (rc < 0)
		return ml_error_prefix(err, "%s", what);
	ml_buf_init(&b, OUTPUT_MAX);
	rc = spawn(argv, &pid, &fd);
	if (rc) {
		rc = ml_error_errno(err, ML_EAUTH, rc, "%s: cannot run '%s'", what, argv[0]);
		goto out;
	}
	rc = collect(pid, fd, ml_now_s() + secs, &b, &status);
	close(fd);
	if (rc < 0) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (rc == -ML_ETIMEDOUT)
		rc = ml_error_set(err, ML_EAUTH, "%s did not finish within %d s and was stopped "
				  "(hint: %s sets the limit)", what, secs, TIMEOUT_ENV);
	else if (rc == -ML_ETOOBIG)
		rc = ml_error_set(err, ML_EAUTH, "%s printed more than %u KiB", what,
				  OUTPUT_MAX >> 10);
	else if (rc < 0)
		rc = ml_error_set(err, ML_EAUTH, "%s could not be read", what);
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		rc = ml_error_set(err, ML_EAUTH, "%s failed (%s %d; what it printed is not shown)",
				  what, WIFEXITED(status) ? "exit" : "signal",
				  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else
		rc = parse(&b, what, out, err);
out:
	ml_wipe(b.data, b.len);
	ml_buf_dispose(&b);
	ml_free_strings(argv, argc);
	return rc;
}
