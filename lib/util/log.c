#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static ml_log_fn log_fn;
static void *log_ud;
static int log_max = -1;
static const struct ml_progress_ops *progress_ops;
static void *progress_ud;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void ml_log_set_handler(ml_log_fn fn, void *ud, int max_level)
{
	log_fn = fn;
	log_ud = ud;
	log_max = max_level;
}

int ml_log_enabled(int level)
{
	return log_fn && level <= log_max;
}

void ml_log(int level, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	if (!ml_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	log_fn(level, msg, log_ud);
	pthread_mutex_unlock(&log_lock);
}

void ml_progress_set_handler(const struct ml_progress_ops *ops, void *ud)
{
	progress_ops = ops;
	progress_ud = ud;
}

void ml_progress_start(const char *id, const char *label, uint64_t total)
{
	if (progress_ops && progress_ops->start) {
		pthread_mutex_lock(&log_lock);
		progress_ops->start(progress_ud, id, label, total);
		pthread_mutex_unlock(&log_lock);
	}
}

void ml_progress_update(const char *id, uint64_t done)
{
	if (progress_ops && progress_ops->update) {
		pthread_mutex_lock(&log_lock);
		progress_ops->update(progress_ud, id, done);
		pthread_mutex_unlock(&log_lock);
	}
}

void ml_progress_finish(const char *id, const char *status)
{
	if (progress_ops && progress_ops->finish) {
		pthread_mutex_lock(&log_lock);
		progress_ops->finish(progress_ud, id, status);
		pthread_mutex_unlock(&log_lock);
	}
}
