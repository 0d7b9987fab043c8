/* The docker-credential-<name> protocol: `docker-credential-NAME get` reads the
 * server on stdin and answers {"ServerURL","Username","Secret"} on stdout, or
 * exits non-zero with "credentials not found..." when it has none. */
#ifndef ML_CREDHELPER_H
#define ML_CREDHELPER_H

#include "registry/auth.h"

/* 1 with credentials, 0 when the helper has none, negative on failure (the
 * helper missing from PATH, a crash, a time-out, unreadable output).
 * The whole exchange is bounded by MLDEPLOY_CREDHELPER_TIMEOUT_S seconds (default
 * 30; a malformed value is -ML_EUSAGE): at the limit the helper's process group
 * is killed and reaped. SIGPIPE is blocked in the calling thread while it writes,
 * never changed for the process. */
int ml_credhelper_get(const char *name, const char *server, struct ml_credential *out,
		      struct ml_error *err);

#endif
