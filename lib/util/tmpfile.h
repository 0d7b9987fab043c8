/* Temporary files that must not outlive an interrupted run. Paths registered here
 * are unlinked by ml_tmp_cleanup_signal(), which is async-signal-safe and meant for
 * the SIGINT/SIGTERM handler in cmd/. */
#ifndef ML_TMPFILE_H
#define ML_TMPFILE_H

#include "util/error.h"

/* Creates a file from template (ending in "XXXXXX") with mkstemp, registers it and
 * returns the open fd; *path receives a malloc'ed copy of the name. */
int ml_tmp_create(const char *template, char **path, int *fd, struct ml_error *err);
/* Forgets path (after it was renamed into place). */
void ml_tmp_forget(const char *path);
/* Unlinks path and forgets it. */
void ml_tmp_remove(const char *path);
void ml_tmp_cleanup_signal(void);

#endif
