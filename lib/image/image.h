/* Image config, manifest and index documents (OCI image spec v1.1). */
#ifndef ML_IMAGE_H
#define ML_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "image/base.h"
#include "config/config.h"
#include "wrap/gitmeta.h"
#include "wrap/json.h"

/* A layer added by mldeploy, as the config records it. */
struct ml_image_step {
	const char *diff_id;
	const char *created_by;	/* history text */
};

/* The base config with deploy.yaml's env, workdir, cmd/entrypoint, user, port and
 * labels applied (Docker's rules: cmd alone keeps the base entrypoint, entrypoint
 * alone clears the base cmd), our layers appended to rootfs and history. */
ml_json *ml_image_config_new(const ml_json *base, const struct ml_config *cfg,
			     const struct ml_image_step *steps, size_t nsteps,
			     const char *created, const struct ml_gitmeta *git);

/* layers: base layers then ours, with OCI media types. annotations is stolen. */
ml_json *ml_image_manifest_new(const char *config_digest, int64_t config_size,
			       const struct ml_blob *layers, size_t nlayers, ml_json *annotations);

/* "YYYY-MM-DDTHH:MM:SSZ" for a Unix time. */
void ml_image_time(int64_t t, char out[32]);

#endif
