/* `mldeploy build`: deploy.yaml -> image in the cache -> image file (unless
 * no_output). Building and then pushing is publish.h's. */
#ifndef ML_BUILD_H
#define ML_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "image/base.h"
#include "wrap/codec.h"
#include "config/config.h"
#include "wrap/gitmeta.h"
#include "image/archive-write.h"
#include "python/pylayer.h"

struct ml_build_opts {
	const struct ml_config *cfg;
	/* NULL: build/<name>.tar in the context directory. Checked before any work:
	 * empty is -ML_EUSAGE; anything there but a regular file (a symbolic link,
	 * FIFO, device, directory) is -ML_EREFUSED, never replaced. */
	const char *output;
	int no_output;			/* leave the image in the cache only: write no file */
	enum ml_format format;
	const struct ml_codec *codec;	/* NULL: uncompressed layers */
	int level;
	int threads;			/* 0: one per core */
	int no_cache;			/* rebuild every layer */
	const char *tag;		/* NULL: git short revision (+"-dirty"), else "latest" */
};

struct ml_build_layer {
	char *name;			/* "base", or the layer's name from deploy.yaml */
	char *source;			/* what went in: "python:3.11-slim", "app/ -> /app/" */
	struct ml_blob blob;
	char diff_id[ML_DIGEST_LEN];
	uint64_t uncompressed_size;	/* 0 for base layers (not known without reading them) */
	size_t nfiles;
	int from_base;
	int cached;
};

struct ml_build_result {
	char *output;			/* NULL with no_output */
	char *image_name;		/* "repository:tag" */
	char *tag;
	char manifest_digest[ML_DIGEST_LEN];
	char config_digest[ML_DIGEST_LEN];
	int64_t manifest_size, config_size;
	struct ml_build_layer *layers;	/* base layers first */
	size_t nlayers;
	char *base_resolved;		/* registry bases: "host/repo@sha256:..." */
	int64_t mtime;
	const char *mtime_source;	/* "SOURCE_DATE_EPOCH", "git commit", "none" */
	int up_to_date;			/* the output already held this image: not rewritten */
	struct ml_gitmeta git;
	struct ml_pydeps_result *python;	/* image.python, or NULL */
};

int ml_build_run(const struct ml_build_opts *opts, struct ml_build_result *res,
		 struct ml_error *err);
void ml_build_result_dispose(struct ml_build_result *res);

/* What image.python installs for: the base image is fetched (into the cache) and
 * read, as a build would. */
int ml_build_python_target(const struct ml_config *cfg, struct ml_pytarget_info *t,
			   struct ml_error *err);

/* The build's default output path for a configuration (malloc'ed). */
char *ml_build_default_output(const struct ml_config *cfg);

/* mtime for layer entries: SOURCE_DATE_EPOCH, else the git commit time, else 0. */
int ml_build_mtime(const struct ml_gitmeta *git, int64_t *mtime, const char **source,
		   struct ml_error *err);

#endif
