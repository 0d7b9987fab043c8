/* Build, then push: the pipeline `build --push` and `deploy` share. The image is
 * built into the cache and pushed from there; an image file is written only when
 * build.output asks for one (build.no_output set otherwise), never read back. */
#ifndef ML_PUBLISH_H
#define ML_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "build.h"
#include "push.h"
#include "util/error.h"
#include "wrap/digest.h"

struct ml_publish_opts {
	struct ml_build_opts build;	/* build.cfg is required */
	int push;			/* push the image once built */
	const char *repository;		/* NULL: the configuration's image.repository */
	int jobs;			/* blobs sent at once; 0: push's default */
	/* When given, called once the image is built, before it is pushed (and again
	 * if it is built once more), so that the caller can report the build. */
	void (*built)(void *ud, const struct ml_build_result *res);
	void *ud;
};

struct ml_publish_result {
	int built;			/* build holds the build's result */
	int pushed;			/* push holds the push's result */
	struct ml_build_result build;
	struct ml_push_result push;
	char manifest_digest[ML_DIGEST_LEN];	/* "" until built */
	char config_digest[ML_DIGEST_LEN];
	const char *reference;		/* "host/repo@sha256:..." (push.reference), or NULL */
	double seconds_build, seconds_push;
	uint64_t bytes_uploaded;	/* blob bytes sent, resent bytes included */
	int uploaded;			/* a blob was uploaded (not found there, nor mounted) */
};

/* Builds, then pushes when opts->push: tagged with the build's tag, then each
 * tag of image.tags. When the build succeeds and the push fails, res->built is
 * set and the push's error is returned; the caller disposes of res either way.
 * A cache blob found missing or corrupt on the way is removed, and the image is
 * built and pushed once more. */
int ml_publish_run(const struct ml_publish_opts *opts, struct ml_publish_result *res,
		   struct ml_error *err);
void ml_publish_result_dispose(struct ml_publish_result *res);

#endif
