/* Error codes and the error object every lib/ and providers/ function fills. */
#ifndef ML_ERROR_H
#define ML_ERROR_H

#include <stddef.h>

/* Codes start above errno values, as in apk-tools; functions return -code. */
enum ml_errcode {
	ML_EUSAGE = 1024,	/* bad command line */
	ML_ECONFIG,		/* deploy.yaml is wrong */
	ML_EIO,			/* local file system */
	ML_ENET,		/* could not talk to a server */
	ML_EPROTO,		/* a server answered something we cannot use */
	ML_EAUTH,		/* credentials missing or refused */
	ML_ENOTFOUND,		/* the thing asked for does not exist */
	ML_EDIGEST,		/* content does not match its digest or size */
	ML_EREFUSED,		/* input refused by policy (escaping path, credential file) */
	ML_ETOOBIG,		/* data over a size cap */
	ML_EINTR,		/* interrupted by a signal */
	ML_EINTERNAL,		/* a bug or a library failure we cannot explain */
	ML_ETIMEDOUT,		/* a deadline passed (an operation, a transfer) */
	ML_ECACHE,		/* a cached blob is missing or corrupt: fetch or rebuild it */
	ML_EHEALTH,		/* the deployed service failed its health check */
	ML_ECONFLICT,		/* the platform holds something in the way (not ours, or busy) */
	ML_ELAST_
};

#define ML_ERROR_MAX 2048

struct ml_error {
	int code;		/* one of enum ml_errcode, 0 when unset */
	char msg[ML_ERROR_MAX];	/* lower-case, no final period, already redacted */
};

/* Fills err (which may be NULL) and returns -code, so callers can write
 * `return ml_error_set(err, ML_EIO, "cannot open '%s'", path);`. */
int ml_error_set(struct ml_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Puts "context: " in front of the message already in err; returns -err->code. */
int ml_error_prefix(struct ml_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like ml_error_set, with ": strerror(errnum)" appended. */
int ml_error_errno(struct ml_error *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void ml_error_clear(struct ml_error *err);

/* A short name for the code, for --json output ("config", "network", ...). */
const char *ml_error_name(int code);

#endif
