/* Reading an image tarball (OCI layout, as build writes it, or Docker 25+ `docker
 * save`) into the cache, so push can send its blobs from there. */
#ifndef ML_ARCHIVE_READ_H
#define ML_ARCHIVE_READ_H

#include <stdint.h>

#include "image/cache.h"
#include "wrap/digest.h"

struct ml_archive_image {
	char manifest_digest[ML_DIGEST_LEN];
	int64_t manifest_size;
	char *media_type;
	char *ref_name;		/* org.opencontainers.image.ref.name, or NULL */
};

/* Every blob of the archive not yet in the cache is copied there, checked
 * against its name on the way; the archive must hold exactly one image. */
int ml_archive_import(struct ml_archive_image *img, const char *path, struct ml_cache *cache,
		      struct ml_error *err);
void ml_archive_image_dispose(struct ml_archive_image *img);

#endif
