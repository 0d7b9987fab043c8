/* image.python: a pinned requirements.txt -> the wheels for the image's interpreter
 * -> one deterministic layer of installed packages, cached by the resolved set. */
#ifndef ML_PYLAYER_H
#define ML_PYLAYER_H

#include <stddef.h>
#include <stdint.h>

#include "image/base.h"
#include "image/cache.h"
#include "config/config.h"
#include "image/layer.h"
#include "python/pybase.h"

#define ML_PYDEPS_DEFAULT_INDEX "https://pypi.org/simple"

/* The interpreter the dependencies are installed for. */
struct ml_pytarget_info {
	struct ml_pybase base;		/* interpreter, paths, C library */
	char *arch;			/* Python's machine name ("x86_64") */
	char **tags;			/* supported wheel tags, best first */
	size_t ntags;
	char *python_full_version;	/* for markers: "3.11.4" (PYTHON_VERSION), else "3.11.0" */
	char *describe;			/* "CPython 3.11, glibc 2.36, x86_64" */
};

struct ml_pypkg {
	char *name;		/* as the wheel's METADATA spells it */
	char *normalized;
	char *version;
	char *wheel;		/* file name */
	char *source;		/* index or directory it came from (redacted) */
	char digest[ML_DIGEST_LEN];
	int64_t size;
	char *path;		/* where the wheel is on this machine */
};

struct ml_pydeps_result {
	struct ml_pytarget_info target;
	struct ml_pypkg *pkgs;		/* sorted by normalized name */
	size_t npkgs;
	int resolved_cached;		/* the resolution came from the cache (no index asked) */
	struct ml_layer_result layer;
	char *requirements;		/* the file, as configured */
};

/* Works out the target from the base image and image.python (for validate, too). */
int ml_pydeps_target(const struct ml_config *cfg, const struct ml_base *base,
		     struct ml_cache *cache, struct ml_pytarget_info *t, struct ml_error *err);
void ml_pytarget_info_dispose(struct ml_pytarget_info *t);

/* Resolves, downloads, checks and installs into a layer (or reuses the cached one).
 * context is the real path of the build context; lo carries codec, mtime, cache. */
int ml_pydeps_build(const struct ml_config *cfg, const char *context, const struct ml_base *base,
		    const struct ml_layer_opts *lo, struct ml_pydeps_result *res,
		    struct ml_error *err);
void ml_pydeps_result_dispose(struct ml_pydeps_result *res);

/* For --json: the target (interpreter, paths, C library, tag count) and, for a
 * result, every package with its version, wheel, source and digest. */
ml_json *ml_pytarget_json(const struct ml_pytarget_info *t);
ml_json *ml_pydeps_json(const struct ml_pydeps_result *res);

#endif
