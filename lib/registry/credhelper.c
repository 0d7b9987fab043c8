#include "registry/credhelper.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/proc.h"
#include "wrap/json.h"
#include "util/redact.h"

#define OUTPUT_MAX (64u << 10)

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
	char *argv[] = { (char *)prog, (char *)"get", NULL };
	int spawn_errno = 0;
	int rc = ml_proc_run(argv, server, ML_PROC_STDERR_NULL, limit_s, b, status, &spawn_errno);

	if (rc < 0 && spawn_errno)
		return ml_error_errno(err, ML_EAUTH, spawn_errno, "cannot run credential helper %s",
				      prog);
	if (rc == -ML_ETIMEDOUT)
		return ml_error_set(err, ML_EAUTH, "credential helper %s did not answer within %d s "
				    "and was stopped (hint: check that '%s get' works on its own; "
				    "%s sets the limit)", prog, limit_s, prog, ML_PROC_TIMEOUT_ENV);
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
	rc = ml_proc_timeout_s(&limit_s, err);
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
