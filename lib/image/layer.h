/* One image layer from context files: collected, checked, written as a
 * deterministic tar, compressed into the cache, and remembered by its inputs so an
 * unchanged layer is reused without being read or compressed again. */
#ifndef ML_LAYER_H
#define ML_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "image/cache.h"
#include "wrap/codec.h"
#include "config/config.h"
#include "wrap/digest.h"
#include "image/ignore.h"

struct ml_layer_opts {
	const char *context;		/* absolute, real path of the context directory */
	const struct ml_ignore *ignore;	/* context files left out */
	const struct ml_ignore *allow;	/* credential-looking files allowed in */
	int64_t mtime;			/* every entry's mtime */
	const struct ml_codec *codec;	/* NULL: uncompressed layer */
	int level;
	int threads;
	struct ml_cache *cache;
	int reuse;			/* use the layer cache (0 with --no-cache) */
	struct timespec now;		/* start of the build, for the racy-file check;
					   zero: the inputs cannot change (no check) */
};

struct ml_layer_result {
	char digest[ML_DIGEST_LEN];
	char diff_id[ML_DIGEST_LEN];
	uint64_t size;			/* compressed */
	uint64_t uncompressed_size;
	size_t nfiles;
	int cached;			/* reused from the layer cache */
};

/* Builds the layer named name from copies[0..n-1] (borrowed). */
int ml_layer_build(const char *name, struct ml_copy *const *copies, size_t n,
		   const struct ml_layer_opts *opts, struct ml_layer_result *res,
		   struct ml_error *err);

/* A layer recorded under keyhex whose blob is still in the cache: 1 (res filled) or 0. */
int ml_layer_lookup(const struct ml_layer_opts *opts, const char *keyhex,
		    struct ml_layer_result *res);
/* Builds the layer named name from every file under roots[0..n-1] (staged trees, each
 * standing for the image's "/"; a path in a later root replaces the same path in an
 * earlier one; no ignore patterns, no credential check) and records it under keyhex
 * for ml_layer_lookup. */
int ml_layer_build_tree(const char *name, char *const *roots, size_t nroots, const char *keyhex,
			const struct ml_layer_opts *opts, struct ml_layer_result *res,
			struct ml_error *err);
/* Whether a context-relative path looks like a credential file (by name, or for
 * small JSON files by content: a Google service-account key). fd may be -1. */
int ml_layer_looks_secret(const char *relpath, int fd, uint64_t size);

#endif
