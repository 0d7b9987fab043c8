/* requirements.txt, as written by `pip freeze`, pip-compile and `uv pip compile`:
 * a complete, pinned set. Pure parsing: no I/O except ml_pyreqs_load. */
#ifndef ML_PYREQ_H
#define ML_PYREQ_H

#include <stddef.h>

#include "util/error.h"
#include "python/pyver.h"

struct ml_pyreq {
	char *name;		/* as written */
	char *normalized;	/* PEP 503 */
	char *version;		/* the pin: "==V" (or "===V") without the operator */
	char **extras;		/* normalized */
	size_t nextras;
	char **hashes;		/* "sha256:<64 lower-case hex>" from --hash options */
	size_t nhashes;
	char *marker;		/* NULL when none (lines whose marker is false are dropped) */
	int line, column;	/* of the requirement's first character, 1-based */
};

struct ml_pyreqs {
	char *path;		/* as given, for messages */
	struct ml_pyreq *v;	/* in file order */
	size_t n;
	char *index_url;	/* -i / --index-url, NULL when not given */
	char **extra_index_urls;	/* --extra-index-url */
	size_t nextra_index_urls;
	char **find_links;	/* -f / --find-links (as written; relative to the file's directory) */
	size_t nfind_links;
	int no_index;		/* --no-index */
};

/* Parses text (len bytes, path for messages). Supports comments (whole-line and
 * " #" trailing), "\" line continuations, the global options -i/--index-url,
 * --extra-index-url, -f/--find-links, --no-index, --only-binary, --prefer-binary,
 * --trusted-host (accepted, ignored), per-requirement --hash=sha256:..., extras,
 * environment markers evaluated for env (NULL env: every line kept).
 * Every requirement must be pinned with == (or ===) to one exact version.
 * Errors (-ML_ECONFIG) read "path:line:col: ..." and end with a hint: an unpinned
 * or ranged requirement says how to pin it; -e, -r, -c, URLs and local paths are
 * refused with what to do instead; a project listed twice names both lines. */
int ml_pyreqs_parse(const char *path, const char *text, size_t len, const struct ml_pyenv *env,
		    struct ml_pyreqs *out, struct ml_error *err);
/* Reads path (at most 16 MiB) and parses it. */
int ml_pyreqs_load(const char *path, const struct ml_pyenv *env, struct ml_pyreqs *out,
		   struct ml_error *err);
void ml_pyreqs_dispose(struct ml_pyreqs *r);

#endif
