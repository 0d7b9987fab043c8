/* The post-deploy health check: GET health.path on the new revision until it answers
 * 2xx or a deadline passes, reporting the status, the latency and the attempts. */
#ifndef ML_HEALTH_H
#define ML_HEALTH_H

#include "deploy/plan.h"
#include "util/error.h"

struct ml_health_opts {
	const char *base_url;		/* "http://127.0.0.1:32768" */
	const char *path;		/* "/healthz"; NULL: "/" */
	long timeout_s;			/* overall deadline; 0: 120 */
	long interval_ms;		/* between attempts; 0: 100 ms, growing to 1 s */
	volatile int *interrupted;	/* may be NULL */
	const char *const *secret_headers;	/* "Name: value" credential headers sent with
						   every attempt, never logged; may be NULL */
	size_t nsecret_headers;
	const char *denied_hint;	/* why a 401/403 answer is expected (no identity could
					   be sent), added to the failure message; may be NULL */
};

/* Fills out (out->url malloc'ed); 0 when the check passed, -ML_EHEALTH when it did
 * not pass by the deadline (err says the last answer), -ML_EINTR when interrupted. */
int ml_health_check(const struct ml_health_opts *o, struct ml_health *out, struct ml_error *err);

#endif
