/* Which context files stay out of the image: .dockerignore / .mldeployignore files
 * and image.ignore, with the semantics of Docker's .dockerignore (Go filepath.Match
 * per path, "**" for any number of directories, "!" re-includes, the last matching
 * line wins, leading "/" and "./" ignored, a pattern matching a directory also
 * excludes everything below it unless a later "!" pattern re-includes a path below). */
#ifndef ML_IGNORE_H
#define ML_IGNORE_H

#include <stddef.h>

#include "util/error.h"

struct ml_ignore;

struct ml_ignore *ml_ignore_new(void);
void ml_ignore_free(struct ml_ignore *ig);

/* Adds one pattern line (comments "#..." and blank lines are skipped). origin names
 * where it came from ("deploy.yaml:14:9", ".dockerignore:3") for errors. Returns
 * -ML_ECONFIG for a malformed pattern (e.g. an unterminated '['). */
int ml_ignore_add(struct ml_ignore *ig, const char *pattern, const char *origin,
		  struct ml_error *err);

/* Reads a .dockerignore-style file; a missing file is not an error. */
int ml_ignore_add_file(struct ml_ignore *ig, const char *path, struct ml_error *err);

/* Whether relpath (relative to the context, '/'-separated, no leading "./") is
 * excluded. is_dir tells whether relpath is a directory. */
int ml_ignore_match(const struct ml_ignore *ig, const char *relpath, int is_dir);

/* Whether a directory could contain a re-included path (a "!" pattern below it),
 * so a walker must descend into an excluded directory. */
int ml_ignore_may_reinclude(const struct ml_ignore *ig, const char *reldir);

#endif
