/* Helper programs run with a deadline: the Docker credential helpers and AWS's
 * credential_process. The program runs in a process group of its own (a time-out
 * stops what it started too), with an empty signal mask and SIGPIPE at its default
 * (the caller's process may ignore it); what it prints is collected, never shown
 * here. */
#ifndef ML_PROC_H
#define ML_PROC_H

#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

#define ML_PROC_TIMEOUT_ENV "MLDEPLOY_CREDHELPER_TIMEOUT_S"
#define ML_PROC_TIMEOUT_DEFAULT_S 30
#define ML_PROC_TIMEOUT_MAX_S 3600

/* The deadline for helper programs: MLDEPLOY_CREDHELPER_TIMEOUT_S, else 30 s;
 * -ML_EUSAGE naming the variable when it is not a whole number from 1 to 3600. */
int ml_proc_timeout_s(int *out, struct ml_error *err);

enum ml_proc_flags {
	ML_PROC_STDERR_NULL = 1 << 0,	/* its stderr to /dev/null (it may echo its input) */
};

/* Runs argv (argv[0] looked up in PATH, the environment inherited), writes input
 * (NULL: none; stdin is then inherited) to its stdin and closes it, collects its
 * stdout into out (whose limit, see ml_buf_init, caps it) until EOF and reaps it,
 * all within limit_s seconds. A helper that exits without reading its input is not
 * an error here: its exit status says what happened.
 * Returns 0 with waitpid's *status; -ML_ETIMEDOUT when the deadline passed (its
 * process group is killed and reaped); -ML_ETOOBIG when it printed more than out
 * takes; -ML_EIO when it could not be started (*spawn_errno gets the reason) or
 * read (*spawn_errno 0). err is not filled: the callers say what the program is. */
int ml_proc_run(char *const argv[], const char *input, unsigned flags, int limit_s,
		struct ml_buf *out, int *status, int *spawn_errno);

#endif
