/* The content-addressed cache: $MLDEPLOY_CACHE_DIR, else $XDG_CACHE_HOME/mldeploy,
 * else ~/.cache/mldeploy.
 *   blobs/sha256/<hex>   blobs (base layers, built layers, configs, manifests)
 *   records/<kind>/<key> small JSON records (layer inputs -> layer, output stamps)
 *   tmp/                 files being written; renamed into place when complete
 * Every write goes to tmp/ first and is renamed, so concurrent builds never see a
 * torn blob; a blob's content is checked against its name whenever it is read. */
#ifndef ML_CACHE_H
#define ML_CACHE_H

#include <stdint.h>

#include "wrap/digest.h"
#include "util/error.h"
#include "wrap/json.h"

struct ml_cache;

int ml_cache_open(struct ml_cache **out, struct ml_error *err);
void ml_cache_free(struct ml_cache *c);
const char *ml_cache_root(const struct ml_cache *c);

/* malloc'ed path of the blob (which may not exist). */
char *ml_cache_blob_path(const struct ml_cache *c, const char *digest);
/* 1 when the blob is present with that size (size < 0: any size), else 0. */
int ml_cache_blob_present(const struct ml_cache *c, const char *digest, int64_t size);
void ml_cache_blob_remove(const struct ml_cache *c, const char *digest);

/* A new registered temp file in tmp/ (see tmpfile.h). */
int ml_cache_tmp(const struct ml_cache *c, char **path, int *fd, struct ml_error *err);
/* A new directory in tmp/ for staging files (the caller removes it); one left by a
 * build that died is removed by a later ml_cache_open. */
int ml_cache_tmp_dir(const struct ml_cache *c, char **path, struct ml_error *err);
/* Renames a finished temp file to the blob named digest. */
int ml_cache_blob_commit(const struct ml_cache *c, const char *tmp_path, const char *digest,
			 struct ml_error *err);
/* Stores a small blob from memory; digest receives its name. */
int ml_cache_blob_put(const struct ml_cache *c, const void *data, size_t len,
		      char digest[ML_DIGEST_LEN], struct ml_error *err);
/* Streams what read() yields (bytes read, 0 at the end, negative on error) into a
 * blob. digest receives its sha256 and size its length; when expect is given the
 * content must hash to it. head, when given, receives its first 4 bytes (zeros
 * when shorter). */
typedef long (*ml_cache_read_fn)(void *ud, void *buf, size_t size, struct ml_error *err);
int ml_cache_blob_store(const struct ml_cache *c, ml_cache_read_fn read, void *ud,
			const char *expect, char digest[ML_DIGEST_LEN], int64_t *size,
			unsigned char head[4], struct ml_error *err);
/* Reads a small blob (at most max bytes) into out and checks its digest: a corrupt
 * one is removed and reported as -ML_ECACHE (building again fetches it again). */
int ml_cache_blob_read(const struct ml_cache *c, const char *digest, size_t max,
		       struct ml_buf *out, struct ml_error *err);

/* Records: kind is a directory name ("layers"), key a hex string. */
ml_json *ml_cache_record_get(const struct ml_cache *c, const char *kind, const char *key);
int ml_cache_record_put(const struct ml_cache *c, const char *kind, const char *key,
			const ml_json *rec, struct ml_error *err);

#endif
