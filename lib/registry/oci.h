/* OCI image and Docker v2 vocabulary shared by the registry client and the image
 * code: media types, the size cap on manifest documents, and the descriptor.
 * It sits in registry/, the lower of the two stages (image/ pulls through
 * registry/, never the reverse), and includes nothing but the digest length. */
#ifndef ML_OCI_H
#define ML_OCI_H

#include <stdint.h>

#include "wrap/digest.h"

#define ML_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define ML_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define ML_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define ML_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define ML_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ML_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define ML_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define ML_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"

/* Manifests and indexes larger than this are refused, wherever they come from. */
#define ML_MANIFEST_MAX (4u << 20)

/* A content descriptor: a blob by digest, with its size and media type. */
struct ml_blob {
	char digest[ML_DIGEST_LEN];
	int64_t size;
	char *media_type;	/* OCI media type */
};

#endif
