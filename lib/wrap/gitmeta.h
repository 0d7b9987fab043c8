/* What git knows about the build context, through libgit2 (only gitmeta.c includes git2.h). */
#ifndef ML_GITMETA_H
#define ML_GITMETA_H

#include <stdint.h>

#include "util/error.h"

struct ml_gitmeta {
	int present;		/* 0 when the context is not in a git work tree */
	char revision[41];	/* HEAD commit id */
	char short_rev[8];
	int dirty;		/* tracked files modified (untracked files do not count) */
	int64_t commit_time;	/* HEAD's committer time */
	char *remote_url;	/* origin's URL without user:password@, or NULL */
};

/* Never fails for a directory outside git; errors only for a broken repository. */
int ml_gitmeta_read(struct ml_gitmeta *out, const char *dir, struct ml_error *err);
void ml_gitmeta_dispose(struct ml_gitmeta *g);

#endif
