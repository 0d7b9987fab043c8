/* A base image from a `docker save` tarball (legacy manifest.json layout). */
#ifndef ML_DOCKERARCHIVE_H
#define ML_DOCKERARCHIVE_H

#include "image/base.h"

/* Fills b's config and layers (copied into the cache); b->name is set by the caller. */
int ml_docker_archive_base(struct ml_base *b, const char *file, struct ml_cache *cache,
			   struct ml_error *err);

#endif
