/* Long-running-operation polling, shared by the providers: a provider callback
 * looks at the operation once; ml_poll calls it again with backoff (1 s, then x1.5
 * up to 10 s, or the wait the callback asks for, as a Retry-After) until it is done,
 * has failed, the deadline passes, or a signal asks to stop. */
#ifndef ML_POLL_H
#define ML_POLL_H

#include "util/error.h"

#define ML_POLL_PROGRESS_MAX 256

enum ml_poll_state {
	ML_POLL_PENDING = 0,	/* not finished: ask again later */
	ML_POLL_DONE = 1,	/* finished and succeeded */
	ML_POLL_FAILED = 2,	/* finished and failed: the callback filled err */
};

/* What one look at the operation tells. The callback fills progress (a short line
 * such as "Creating revision iris-00002"; it is sanitised and logged when it
 * changes) and may set retry_after_ms (the server's Retry-After) for the next wait. */
struct ml_poll_step {
	int attempt;			/* 0-based, set by ml_poll */
	double elapsed_s;		/* since ml_poll started, set by ml_poll */
	char progress[ML_POLL_PROGRESS_MAX];
	long retry_after_ms;		/* -1 (reset before each call): the backoff decides */
};

/* Returns one of enum ml_poll_state, or a negative error code with err filled
 * when the look itself failed (which ends the polling too). */
typedef int (*ml_poll_fn)(void *ud, struct ml_poll_step *step, struct ml_error *err);

struct ml_poll_opts {
	const char *what;		/* "Cloud Run operation ...", for progress and errors */
	long timeout_s;			/* overall deadline; 0: 600 */
	long initial_ms;		/* first wait; 0: 1000 */
	long max_ms;			/* longest wait; 0: 10000 (a Retry-After may be longer,
					   up to the deadline) */
	const volatile int *interrupted;	/* non-zero: stop (a signal handler's flag),
						   or NULL */
};

/* Calls fn until it says done (returns 0) or failed (returns -err->code, ML_EPROTO
 * when the callback left err empty). The deadline gives -ML_ETIMEDOUT ("WHAT: not
 * finished after N s (last state: PROGRESS)"), *interrupted -ML_EINTR. The first
 * call is made at once; progress changes are logged at ML_LOG_INFO. */
int ml_poll(const struct ml_poll_opts *opts, ml_poll_fn fn, void *ud, struct ml_error *err);

#endif
