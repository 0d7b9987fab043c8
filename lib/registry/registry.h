/* OCI distribution (registry v2) client. Pull side: manifests and blobs, every
 * digest and size verified; bearer and basic auth; mirrors and insecure registries
 * from the environment:
 *   MLDEPLOY_REGISTRY_MIRRORS=docker.io=https://mirror.example,ghcr.io=http://127.0.0.1:5001
 *     (a malformed item is -ML_EUSAGE; https://user:password@mirror is the mirror's login)
 *   MLDEPLOY_INSECURE_REGISTRIES=127.0.0.1:5000,registry.lan   (TLS unverified / plain HTTP) */
#ifndef ML_REGISTRY_H
#define ML_REGISTRY_H

#include <stdint.h>

#include "registry/auth.h"
#include "registry/oci.h"
#include "util/buf.h"
#include "wrap/digest.h"
#include "util/error.h"

/* How the core reaches registries without knowing the clouds: providers/ supply
 * the real endpoint of a host (docker.io -> registry-1.docker.io) and credentials. */
struct ml_registry_hooks {
	const char *(*endpoint)(const char *host);	/* NULL: the host itself */
	ml_credential_fn credential;			/* NULL: ml_auth_credential */
};

void ml_registry_set_hooks(const struct ml_registry_hooks *hooks);

struct ml_registry;

/* for_pull: mirrors apply (pushes always go to the registry itself). */
int ml_registry_open(struct ml_registry **out, const char *host, int for_pull,
		     struct ml_error *err);
void ml_registry_free(struct ml_registry *r);
/* Where requests go, e.g. "https://registry-1.docker.io" (no credentials in it). */
const char *ml_registry_base_url(const struct ml_registry *r);

/* GETs a manifest or index by tag or digest into body (capped at ML_MANIFEST_MAX).
 * media_type receives the Content-Type (or the document's mediaType), digest the
 * sha256 of the bytes, which is checked against ref when ref is a digest and
 * against Docker-Content-Digest when the registry sends it. */
int ml_registry_get_manifest(struct ml_registry *r, const char *repo, const char *ref,
			     struct ml_buf *body, char **media_type, char digest[ML_DIGEST_LEN],
			     struct ml_error *err);

/* Streams a blob into fd (from its current offset, which must be 0 of an empty
 * file), checking that it has exactly size bytes and hashes to digest. */
int ml_registry_fetch_blob(struct ml_registry *r, const char *repo, const char *digest,
			   int64_t size, int fd, struct ml_error *err);

/* Push side (upload.c). scope strings: "repository:REPO:pull,push". */

/* 1 when the registry has the blob (with that size, when it says), 0 when not. */
int ml_registry_blob_exists(struct ml_registry *r, const char *repo, const char *digest,
			    int64_t size, struct ml_error *err);

/* Cross-repository mount from another repository of the same registry: 1 when
 * mounted, 0 when the registry declined (*location may then hold the upload
 * session it opened instead, for ml_registry_upload_blob). */
int ml_registry_mount_blob(struct ml_registry *r, const char *repo, const char *digest,
			   const char *from, char **location, struct ml_error *err);

struct ml_upload_stats {
	uint64_t bytes_sent;	/* including bytes sent again after a failure */
	int resumes;		/* uploads continued from the registry's Range */
	int restarts;		/* upload sessions started again */
};

/* Uploads size bytes of fd (read with pread) as digest: one PUT for small blobs,
 * a streamed PATCH and a closing PUT for large ones; after a reset or a 5xx/429
 * it asks the registry how much arrived (Range) and continues from there, with
 * backoff, a bounded number of times. location: an open session, or NULL. */
int ml_registry_upload_blob(struct ml_registry *r, const char *repo, const char *digest,
			    int64_t size, int fd, const char *location,
			    struct ml_upload_stats *stats, struct ml_error *err);

/* PUTs a manifest under tag and checks the Docker-Content-Digest answered. */
int ml_registry_put_manifest(struct ml_registry *r, const char *repo, const char *tag,
			     const char *media_type, const void *data, size_t len,
			     const char *digest, struct ml_error *err);

#endif
