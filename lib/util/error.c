#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int error_vset(struct ml_error *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static int error_vset(struct ml_error *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return -code;
}

int ml_error_set(struct ml_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, code, fmt, ap);
	va_end(ap);
	return -code;
}

int ml_error_errno(struct ml_error *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	error_vset(err, code, fmt, ap);
	va_end(ap);
	if (err) {
		len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(errnum));
	}
	return -code;
}

int ml_error_prefix(struct ml_error *err, const char *fmt, ...)
{
	char prefix[ML_ERROR_MAX], old[ML_ERROR_MAX];
	va_list ap;

	if (!err)
		return -ML_EINTERNAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* truncation is acceptable: the message is for humans and stays terminated */
	if (snprintf(err->msg, sizeof(err->msg), "%.1000s: %.1040s", prefix, old) < 0)
		err->msg[0] = '\0';
	if (!err->code)
		err->code = ML_EINTERNAL;
	return -err->code;
}

void ml_error_clear(struct ml_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

static const char *const names[] = {
	[ML_EUSAGE - ML_EUSAGE] = "usage",
	[ML_ECONFIG - ML_EUSAGE] = "config",
	[ML_EIO - ML_EUSAGE] = "io",
	[ML_ENET - ML_EUSAGE] = "network",
	[ML_EPROTO - ML_EUSAGE] = "protocol",
	[ML_EAUTH - ML_EUSAGE] = "auth",
	[ML_ENOTFOUND - ML_EUSAGE] = "not-found",
	[ML_EDIGEST - ML_EUSAGE] = "digest",
	[ML_EREFUSED - ML_EUSAGE] = "refused",
	[ML_ETOOBIG - ML_EUSAGE] = "too-big",
	[ML_EINTR - ML_EUSAGE] = "interrupted",
	[ML_EINTERNAL - ML_EUSAGE] = "internal",
	[ML_ETIMEDOUT - ML_EUSAGE] = "timeout",
	[ML_ECACHE - ML_EUSAGE] = "cache",
	[ML_EHEALTH - ML_EUSAGE] = "health",
	[ML_ECONFLICT - ML_EUSAGE] = "conflict",
};

const char *ml_error_name(int code)
{
	if (code < 0)
		code = -code;
	if (code < ML_EUSAGE || code >= ML_ELAST_)
		return "unknown";
	return names[code - ML_EUSAGE];
}
