/* The build's output file: an OCI image layout in a tar (oci-archive), or the same
 * plus Docker's manifest.json (docker-archive, what `docker save` writes since 25,
 * and what `podman load` and the Docker Engine's POST /images/load accept).
 * Written to a temporary file beside the target and renamed when complete, or
 * streamed to a callback. */
#ifndef ML_ARCHIVE_WRITE_H
#define ML_ARCHIVE_WRITE_H

#include <stdint.h>

#include "image/base.h"
#include "image/cache.h"

enum ml_format { ML_FORMAT_OCI, ML_FORMAT_DOCKER };

struct ml_layout {
	enum ml_format format;
	const char *path;
	const char *manifest_digest;
	int64_t manifest_size;
	const char *config_digest;
	int64_t config_size;
	const struct ml_blob *layers;
	size_t nlayers;
	const char *tag;		/* org.opencontainers.image.ref.name */
	const char *image_name;		/* "repository:tag" for docker and containerd */
	const char *platform_os, *platform_arch;
	int64_t mtime;			/* of every tar entry */
};

/* Every blob is copied from the cache and checked against its digest on the way;
 * a corrupt cache blob is removed and reported as -ML_ECACHE. */
int ml_layout_write(const struct ml_layout *l, struct ml_cache *cache, struct ml_error *err);

/* The image in the cache whose manifest is manifest_digest, as the same archive
 * (without a name: no ref.name, RepoTags null, as `docker save IMAGE-ID` writes;
 * every entry's mtime 0), handed to write in pieces of at most about 1 MiB:
 * no file is written and no layer is held whole in memory. The platform in
 * index.json is the config's. write returns 0, or a negative -ML_E* code to stop;
 * that code is returned, with the message the callback put in err if it filled
 * the same err with that code, else a generic one. Blobs are checked as by
 * ml_layout_write; an image not in the cache is -ML_ECACHE. */
int ml_archive_write_stream(struct ml_cache *cache, const char *manifest_digest,
			    enum ml_format fmt, int (*write)(void *ud, const void *buf, size_t len),
			    void *ud, struct ml_error *err);

#endif
