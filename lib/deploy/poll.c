#include "deploy/poll.h"

#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/redact.h"
#include "wrap/http.h"

#define DEFAULT_TIMEOUT_S 600
#define DEFAULT_INITIAL_MS 1000
#define DEFAULT_MAX_MS 10000
#define FACTOR 1.5

static int interrupted(const struct ml_poll_opts *o)
{
	return o->interrupted && *o->interrupted;
}

static void note_progress(const struct ml_poll_opts *o, struct ml_poll_step *step,
			  char *last, double elapsed)
{
	step->progress[sizeof(step->progress) - 1] = '\0';
	ml_sanitize(step->progress);
	if (!step->progress[0] || !strcmp(step->progress, last))
		return;
	memcpy(last, step->progress, ML_POLL_PROGRESS_MAX);
	ml_log(ML_LOG_INFO, "%s: %s (%.0f s)", o->what, step->progress, elapsed);
}

int ml_poll(const struct ml_poll_opts *o, ml_poll_fn fn, void *ud, struct ml_error *err)
{
	long timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
	long max_ms = o->max_ms > 0 ? o->max_ms : DEFAULT_MAX_MS;
	double backoff = o->initial_ms > 0 ? (double)o->initial_ms : DEFAULT_INITIAL_MS;
	double start = ml_now_s(), left;
	char last[ML_POLL_PROGRESS_MAX] = "";
	struct ml_poll_step step;
	const char *what = o->what ? o->what : "operation";
	long pause;
	int rc;

	memset(&step, 0, sizeof(step));
	for (;;) {
		if (interrupted(o))
			return ml_error_set(err, ML_EINTR, "%s: interrupted while waiting", what);
		step.elapsed_s = ml_now_s() - start;
		step.progress[0] = '\0';
		step.retry_after_ms = -1;
		ml_error_clear(err);
		rc = fn(ud, &step, err);
		note_progress(o, &step, last, ml_now_s() - start);
		if (rc < 0)
			return rc;
		if (rc == ML_POLL_DONE)
			return 0;
		if (rc == ML_POLL_FAILED) {
			if (err && err->code)
				return -err->code;
			return ml_error_set(err, ML_EPROTO, "%s failed%s%s", what,
					    last[0] ? ": " : "", last);
		}
		left = (double)timeout_s - (ml_now_s() - start);
		if (left <= 0)
			return ml_error_set(err, ML_ETIMEDOUT, "%s: not finished after %ld s%s%s%s "
					    "(hint: a longer --timeout, or --no-wait)", what,
					    timeout_s, last[0] ? " (last state: " : "", last,
					    last[0] ? ")" : "");
		pause = step.retry_after_ms >= 0 ? step.retry_after_ms : (long)backoff;
		if ((double)pause > left * 1000)
			pause = (long)(left * 1000) + 1;
		if (ml_http_pause_ms(pause, o->interrupted))
			return ml_error_set(err, ML_EINTR, "%s: interrupted while waiting", what);
		backoff *= FACTOR;
		if (backoff > (double)max_ms)
			backoff = (double)max_ms;
		step.attempt++;
	}
}
