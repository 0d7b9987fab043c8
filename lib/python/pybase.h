/* What a base image offers Python dependencies: its interpreter, where installed
 * packages go, and its C library, read from the files of its layers. */
#ifndef ML_PYBASE_H
#define ML_PYBASE_H

#include "image/base.h"
#include "image/cache.h"
#include "util/error.h"
#include "python/pytags.h"

struct ml_pybase {
	int py_major, py_minor;		/* 0, 0 when no interpreter was found */
	char *interpreter;		/* "/usr/local/bin/python3.11", NULL when not found */
	char *stdlib;			/* "/usr/local/lib/python3.11", NULL when not found */
	char *site_packages;		/* where mldeploy installs */
	char *scripts;			/* console scripts: "/usr/local/bin" */
	char *prefix;			/* "/usr/local": data files */
	int libc_found;
	enum ml_libc libc;
	int libc_major, libc_minor;
	char *libc_source;		/* "/usr/lib/x86_64-linux-gnu/libc.so.6", ... */
};

/* Scans the base's layers (in the cache), honouring whiteouts; the result is kept in
 * the cache under the base's manifest digest. version and site_packages, when given
 * (image.python), take precedence over what is found; an interpreter is then assumed
 * under the site-packages prefix when none is found. */
int ml_pybase_detect(const struct ml_base *base, struct ml_cache *cache, const char *version,
		     const char *site_packages, struct ml_pybase *out, struct ml_error *err);
void ml_pybase_dispose(struct ml_pybase *pb);

#endif
