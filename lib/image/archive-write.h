/* The build's output file: an OCI image layout in a tar (oci-archive), or the same
 * plus Docker's manifest.json (docker-archive, what `docker save` writes since 25).
 * Written to a temporary file beside the target and renamed when complete. */
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
 * a corrupt cache blob is removed and reported as -ML_EDIGEST. */
int ml_layout_write(const struct ml_layout *l, struct ml_cache *cache, struct ml_error *err);

#endif
