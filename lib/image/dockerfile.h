/* `mldeploy render Dockerfile`: a Dockerfile that builds, with Docker (BuildKit) or
 * podman/buildah, the image `mldeploy build` makes from the same deploy.yaml: the
 * base by digest, the python layer as `pip install --no-deps` of image.python's
 * requirements, then image.copy in build's layer order, and the same config
 * (Env, WorkingDir, User, ExposedPorts, Labels, Entrypoint, Cmd). Provider-free. */
#ifndef ML_DOCKERFILE_H
#define ML_DOCKERFILE_H

#include "config/config.h"
#include "util/buf.h"
#include "util/error.h"

/* Appends the Dockerfile to out. base_ref names the base in FROM: the resolved
 * "host/repository@sha256:..." of a registry base, or NULL for cfg's own
 * image.base (scratch and local layouts, which are not resolved). */
int ml_dockerfile_render(const struct ml_config *cfg, const char *base_ref, struct ml_buf *out,
			 struct ml_error *err);

/* Resolves a registry base to its digest (through the cache, as build does),
 * then renders. */
int ml_dockerfile_make(const struct ml_config *cfg, struct ml_buf *out, struct ml_error *err);

#endif
