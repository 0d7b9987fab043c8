/* Pushing an image to a registry, sending only what it lacks: an image already in
 * the cache (by its manifest digest, as build leaves it), or an image tarball,
 * which is imported into the cache first and then pushed the same way. */
#ifndef ML_PUSH_H
#define ML_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "wrap/digest.h"
#include "util/error.h"

struct ml_push_opts {
	const char *archive;		/* an image tarball, imported into the cache, or */
	const char *manifest_digest;	/* (archive NULL) an image in the cache */
	const char *repository;		/* "host/path" without tag */
	char *const *tags;		/* tags to push ... */
	size_t ntags;
	int archive_tag;		/* ... after the archive's own (its ref.name) */
	int jobs;			/* blobs sent at once; 0: 3 */
};

enum ml_push_action { ML_PUSH_EXISTS, ML_PUSH_MOUNTED, ML_PUSH_UPLOADED };

struct ml_push_blob {
	char digest[ML_DIGEST_LEN];
	int64_t size;
	const char *kind;		/* "config" or "layer" */
	enum ml_push_action action;
	char *mounted_from;		/* for ML_PUSH_MOUNTED */
	uint64_t bytes_sent;
	int resumes, restarts;
};

struct ml_push_result {
	char *repository;		/* canonical "host/path" */
	char manifest_digest[ML_DIGEST_LEN];
	char *reference;		/* "host/path@sha256:..." */
	struct ml_push_blob *blobs;
	size_t nblobs;
};

/* Every blob is sent from the cache. An image in the cache whose manifest or a
 * blob of it is missing or corrupt there gives -ML_ECACHE (a corrupt blob is
 * removed): building again puts it back. */
int ml_push_run(const struct ml_push_opts *opts, struct ml_push_result *res,
		struct ml_error *err);
void ml_push_result_dispose(struct ml_push_result *res);
const char *ml_push_action_name(enum ml_push_action a);

#endif
