/* Image references, with Docker's grammar and defaults:
 * "python:3.11-slim" -> host docker.io, repository library/python, tag 3.11-slim. */
#ifndef ML_REFERENCE_H
#define ML_REFERENCE_H

#include "util/error.h"

struct ml_ref {
	char *host;		/* "docker.io", "127.0.0.1:5000", "us-docker.pkg.dev" */
	char *repository;	/* "library/python" */
	char *tag;		/* NULL when none was given */
	char *digest;		/* "sha256:..." or NULL */
};

/* Fills ref; with allow_tag = 0 a tag or digest is an error (repository names). */
int ml_ref_parse(struct ml_ref *ref, const char *s, int allow_tag, struct ml_error *err);
void ml_ref_dispose(struct ml_ref *ref);
/* Whether s is a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
int ml_ref_valid_tag(const char *s);
/* "host/repository[:tag][@digest]" (malloc'ed). */
char *ml_ref_string(const struct ml_ref *ref);

#endif
