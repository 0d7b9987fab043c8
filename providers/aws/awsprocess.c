/* credential_process: the profile's command line, split as a POSIX shell splits
 * words (quotes and backslashes; no expansion, no shell), run with the user's stdin
 * and stderr, its stdout read (never shown) within a deadline, and parsed as the
 * AWS CLI's format: {"Version": 1, "AccessKeyId", "SecretAccessKey",
 * "SessionToken"?, "Expiration"?}. */
#include "aws/awsauth-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/proc.h"
#include "wrap/json.h"

#define OUTPUT_MAX (64u << 10)
#define ARGS_MAX 256

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
	int status = 0, secs, spawn_errno = 0, rc;

	snprintf(what, sizeof(what), "credential_process of profile %s", s->profile);
	rc = ml_proc_timeout_s(&secs, err);
	if (rc < 0)
		return rc;
	rc = ml_aws_split_command(s->process, &argv, &argc, err);
	if (rc < 0)
		return ml_error_prefix(err, "%s", what);
	ml_buf_init(&b, OUTPUT_MAX);
	rc = ml_proc_run(argv, NULL, 0, secs, &b, &status, &spawn_errno);
	if (rc < 0 && spawn_errno)
		rc = ml_error_errno(err, ML_EAUTH, spawn_errno, "%s: cannot run '%s'", what, argv[0]);
	else if (rc == -ML_ETIMEDOUT)
		rc = ml_error_set(err, ML_EAUTH, "%s did not finish within %d s and was stopped "
				  "(hint: %s sets the limit)", what, secs, ML_PROC_TIMEOUT_ENV);
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
	ml_wipe(b.data, b.len);
	ml_buf_dispose(&b);
	ml_free_strings(argv, argc);
	return rc;
}
