#include "image/archive-read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "wrap/json.h"
#include "registry/oci.h"
#include "wrap/tar.h"

#define INDEX_MAX (1u << 20)

/* "blobs/sha256/<hex>" (with or without "./") -> "sha256:<hex>", else "" */
static void blob_digest(const char *name, char out[ML_DIGEST_LEN])
{
	if (!strncmp(name, "./", 2))
		name += 2;
	out[0] = '\0';
	if (!strncmp(name, "blobs/sha256/", 13))
		snprintf(out, ML_DIGEST_LEN, "sha256:%s", name + 13);
	if (!ml_digest_valid(out))
		out[0] = '\0';
}

/* The file named is not something push can read as an image archive: bad input,
 * as its man page says (exit status 2), with the reader's reason. */
static int not_an_archive(const char *path, struct ml_error *err)
{
	char why[ML_ERROR_MAX];

	snprintf(why, sizeof(why), "%s", err && err->msg[0] ? err->msg : "unreadable");
	return ml_error_set(err, ML_EUSAGE, "'%.1000s' is not a readable OCI image archive (%.900s); "
			    "hint: give the file mldeploy build wrote", path, why);
}

/* Tells a failure to read the archive from a failure to store into the cache. */
struct tap {
	struct ml_tar_reader *r;
	int failed;
};

static long tap_read(void *ud, void *buf, size_t size, struct ml_error *err)
{
	struct tap *t = ud;
	long n = ml_tar_reader_read(t->r, buf, size, err);

	if (n < 0)
		t->failed = 1;
	return n;
}

static int store_blob(struct ml_tar_reader *r, struct ml_cache *cache, const char *digest,
		      const char *path, struct ml_error *err)
{
	struct tap t = { r, 0 };
	char got[ML_DIGEST_LEN];
	int64_t size;
	int rc = ml_cache_blob_store(cache, tap_read, &t, digest, got, &size, NULL, err);

	if (rc < 0 && t.failed)
		return not_an_archive(path, err);
	return rc < 0 ? ml_error_prefix(err, "'%s'", path) : 0;
}

static int pick_image(struct ml_archive_image *img, const ml_json *index, const char *path,
		      struct ml_error *err)
{
	ml_json *m = ml_json_get(index, "manifests"), *d = ml_json_at(m, 0);
	const char *digest = ml_json_get_str(d, "digest"), *mt = ml_json_get_str(d, "mediaType");
	const char *ref = ml_json_get_str(ml_json_get(d, "annotations"),
					  "org.opencontainers.image.ref.name");

	if (ml_json_size(m) != 1)
		return ml_error_set(err, ML_EUSAGE, "'%s' holds %zu images; push sends one", path,
				    ml_json_size(m));
	if (!ml_digest_valid(digest) || ml_json_get_int(d, "size", &img->manifest_size) < 0)
		return ml_error_set(err, ML_EUSAGE, "'%s': bad descriptor in index.json", path);
	if (mt && (!strcmp(mt, ML_MT_OCI_INDEX) || !strcmp(mt, ML_MT_DOCKER_LIST)))
		return ml_error_set(err, ML_EUSAGE, "'%s' holds a multi-platform index; push sends "
				    "one image", path);
	snprintf(img->manifest_digest, sizeof(img->manifest_digest), "%s", digest);
	img->media_type = ml_strdup(mt ? mt : ML_MT_OCI_MANIFEST);
	img->ref_name = ml_strdup(ref);
	return 0;
}

int ml_archive_import(struct ml_archive_image *img, const char *path, struct ml_cache *cache,
		      struct ml_error *err)
{
	struct ml_tar_reader *r = NULL;
	struct ml_buf index = ML_BUF_INIT;
	struct ml_tar_entry e;
	ml_json *doc = NULL;
	char digest[ML_DIGEST_LEN];
	int rc, has_index = 0, unreadable;

	memset(img, 0, sizeof(*img));
	rc = ml_tar_reader_open(&r, path, err);
	unreadable = rc < 0;
	while (rc == 0) {
		rc = ml_tar_reader_next(r, &e, err);
		unreadable = rc < 0;
		if (rc <= 0)
			break;
		rc = 0;
		blob_digest(e.name, digest);
		if (!strcmp(e.name, "index.json") || !strcmp(e.name, "./index.json")) {
			has_index = 1;
			rc = ml_tar_reader_read_all(r, &index, INDEX_MAX, err);
			unreadable = rc < 0;
		} else if (digest[0] && e.type == ML_TAR_FILE &&
			   !ml_cache_blob_present(cache, digest, e.size)) {
			rc = store_blob(r, cache, digest, path, err);
		}
	}
	ml_tar_reader_free(r);
	if (unreadable)
		rc = not_an_archive(path, err);
	if (rc < 0)
		goto out;
	if (!has_index) {
		rc = ml_error_set(err, ML_EUSAGE, "'%s' is not an OCI image archive (no index.json); "
				  "hint: build it with mldeploy build, or docker save from Docker 25 "
				  "or later", path);
		goto out;
	}
	doc = ml_json_parse(ml_buf_str(&index), index.len, err);
	if (!doc) {
		ml_error_prefix(err, "index.json");
		rc = not_an_archive(path, err);
	} else {
		rc = pick_image(img, doc, path, err);
	}
out:
	ml_json_free(doc);
	ml_buf_dispose(&index);
	if (rc < 0)
		ml_archive_image_dispose(img);
	return rc;
}

void ml_archive_image_dispose(struct ml_archive_image *img)
{
	free(img->media_type);
	free(img->ref_name);
	memset(img, 0, sizeof(*img));
}
