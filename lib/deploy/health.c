#include "deploy/health.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/redact.h"
#include "wrap/http.h"

#define ATTEMPT_TIMEOUT_S 10
#define MAX_INTERVAL_MS 1000

static char *join_url(const char *base, const char *path)
{
	size_t n = strlen(base);

	if (!path || !*path)
		path = "/";
	if (n && base[n - 1] == '/')
		n--;
	return ml_asprintf("%.*s%s%s", (int)n, base, path[0] == '/' ? "" : "/", path);
}

/* One GET: 1 when it answered 2xx, 0 otherwise (why in last). */
static int attempt(struct ml_http *h, const struct ml_health_opts *o, const char *url,
		   struct ml_health *out, struct ml_buf *last)
{
	struct ml_http_request req = { .url = url, .timeout_s = ATTEMPT_TIMEOUT_S, .max_body = 4096,
				       .secret_headers = o->secret_headers,
				       .nsecret_headers = o->nsecret_headers };
	struct ml_http_response resp;
	struct ml_error err = { 0 };
	double t0 = ml_now_s();
	int rc;

	out->attempts++;
	rc = ml_http_do(h, &req, &resp, &err);
	ml_buf_reset(last);
	if (rc < 0) {
		ml_buf_adds(last, err.msg);
	} else {
		out->status = resp.status;
		out->latency_ms = (ml_now_s() - t0) * 1000.0;
		if (resp.status >= 200 && resp.status < 300) {
			ml_http_response_dispose(&resp);
			return 1;
		}
		ml_buf_printf(last, "GET %s answered %ld", url, resp.status);
		if (resp.body.len) {
			ml_buf_adds(last, ": ");
			ml_redact_text(last, resp.body.data, resp.body.len, 200);
		}
		if ((resp.status == 401 || resp.status == 403) && o->denied_hint)
			ml_buf_printf(last, " (%s)", o->denied_hint);
	}
	ml_http_response_dispose(&resp);
	return 0;
}

int ml_health_check(const struct ml_health_opts *o, struct ml_health *out, struct ml_error *err)
{
	struct ml_http *h = NULL;
	struct ml_buf last;
	long interval = o->interval_ms > 0 ? o->interval_ms : 100;
	double start = ml_now_s(), deadline = start + (o->timeout_s > 0 ? o->timeout_s : 120);
	int rc;

	memset(out, 0, sizeof(*out));
	out->checked = 1;
	out->url = join_url(o->base_url, o->path);
	ml_buf_init(&last, 4096);
	rc = ml_http_new(&h, err);
	if (rc < 0)
		goto out;
	for (;;) {
		if (o->interrupted && *o->interrupted) {
			rc = ml_error_set(err, ML_EINTR, "health check of %s interrupted", out->url);
			break;
		}
		if (attempt(h, o, out->url, out, &last)) {
			out->ok = 1;
			ml_log(ML_LOG_INFO, "health: GET %s -> %ld in %.0f ms (attempt %d)", out->url,
			       out->status, out->latency_ms, out->attempts);
			rc = 0;
			break;
		}
		ml_log(ML_LOG_INFO, "health: %s (attempt %d)", ml_buf_str(&last), out->attempts);
		if (ml_now_s() + interval / 1000.0 >= deadline) {
			/* refused for want of an identity: the app is not the matter */
			int denied = o->denied_hint && (out->status == 401 || out->status == 403);

			out->detail = ml_strdup(ml_buf_str(&last));
			rc = ml_error_set(err, ML_EHEALTH, "health check failed: %s (%d attempts in "
					  "%.0f s)%s", ml_buf_str(&last), out->attempts,
					  ml_now_s() - start, denied ? "" : "; check that the app "
					  "serves health.path on image.port");
			break;
		}
		ml_http_sleep_ms(interval);
		interval = interval * 3 / 2 > MAX_INTERVAL_MS ? MAX_INTERVAL_MS : interval * 3 / 2;
	}
out:
	ml_http_free(h);
	ml_buf_dispose(&last);
	return rc;
}
