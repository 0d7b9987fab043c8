/* The base image: resolved to a platform manifest whose config and layers are in
 * the cache. Sources: "scratch", "oci-layout:DIR[:TAG]", "docker-archive:FILE", or a
 * registry reference. */
#ifndef ML_BASE_H
#define ML_BASE_H

#include <stdint.h>

#include "image/cache.h"
#include "registry/oci.h"
#include "wrap/digest.h"
#include "util/error.h"
#include "wrap/json.h"

struct ml_base {
	char *name;			/* as written in deploy.yaml */
	char *resolved;			/* "host/repo@sha256:..." for registry bases, else NULL */
	char manifest_digest[ML_DIGEST_LEN];	/* "" for scratch */
	ml_json *config;		/* the image config (a new one for scratch) */
	struct ml_blob *layers;
	size_t nlayers;
};

/* platform is "os/arch[/variant]". */
int ml_base_resolve(struct ml_base *base, const char *spec, const char *platform,
		    struct ml_cache *cache, struct ml_error *err);
void ml_base_dispose(struct ml_base *base);

#endif
