/* Diagnostics from lib/: lib never prints; cmd/ installs a handler that does.
 * Messages must already be redacted (see redact.h) when they hold URLs or headers. */
#ifndef ML_LOG_H
#define ML_LOG_H

#include <stdint.h>

enum ml_loglevel {
	ML_LOG_WARN = 0,	/* shown unless -q */
	ML_LOG_INFO = 1,	/* -v: what is being done, where credentials came from, retries */
	ML_LOG_TRACE = 2,	/* -vv: HTTP requests and headers (redacted) */
};

typedef void (*ml_log_fn)(int level, const char *msg, void *ud);

void ml_log_set_handler(ml_log_fn fn, void *ud, int max_level);
int ml_log_enabled(int level);
void ml_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress of long work (downloads, layer writes). The handler may draw bars;
 * ids are stable strings chosen by the caller (a digest, a layer name).
 * Calls may come from several threads; they are serialised with the log's. */
struct ml_progress_ops {
	void (*start)(void *ud, const char *id, const char *label, uint64_t total);
	void (*update)(void *ud, const char *id, uint64_t done);
	void (*finish)(void *ud, const char *id, const char *status);
};

void ml_progress_set_handler(const struct ml_progress_ops *ops, void *ud);
void ml_progress_start(const char *id, const char *label, uint64_t total);
void ml_progress_update(const char *id, uint64_t done);
void ml_progress_finish(const char *id, const char *status);

#endif
