#include "image/archive-write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "wrap/tar.h"
#include "util/fsutil.h"
#include "wrap/json.h"
#include "util/log.h"
#include "registry/oci.h"
#include "util/tmpfile.h"

#define CONFIG_MAX (16u << 20)

struct out {
	int fd;
	struct ml_error *err;
	uint64_t written;
	uint64_t reported;
};

static int out_write(void *ud, const void *data, size_t len)
{
	struct out *o = ud;

	o->written += len;
	if (o->written - o->reported >= (8u << 20)) {
		ml_progress_update("output", o->written);
		o->reported = o->written;
	}
	return ml_write_all(o->fd, data, len, o->err);
}

static ml_json *index_doc(const struct ml_layout *l)
{
	ml_json *idx = ml_json_object_new(), *arr = ml_json_array_new();
	ml_json *d = ml_json_object_new(), *ann = ml_json_object_new(), *plat = ml_json_object_new();

	ml_json_set_str(d, "mediaType", ML_MT_OCI_MANIFEST);
	ml_json_set_str(d, "digest", l->manifest_digest);
	ml_json_set_int(d, "size", l->manifest_size);
	if (l->tag)
		ml_json_set_str(ann, "org.opencontainers.image.ref.name", l->tag);
	if (l->image_name)
		ml_json_set_str(ann, "io.containerd.image.name", l->image_name);
	if (ml_json_size(ann))
		ml_json_set(d, "annotations", ann);
	else
		ml_json_free(ann);
	ml_json_set_str(plat, "os", l->platform_os);
	ml_json_set_str(plat, "architecture", l->platform_arch);
	ml_json_set(d, "platform", plat);
	ml_json_append(arr, d);
	ml_json_set_int(idx, "schemaVersion", 2);
	ml_json_set_str(idx, "mediaType", ML_MT_OCI_INDEX);
	ml_json_set(idx, "manifests", arr);
	return idx;
}

static ml_json *docker_manifest_doc(const struct ml_layout *l)
{
	ml_json *arr = ml_json_array_new(), *img = ml_json_object_new();
	ml_json *tags = ml_json_array_new(), *layers = ml_json_array_new();
	char *p;
	size_t i;

	p = ml_asprintf("blobs/sha256/%s", ml_digest_hex(l->config_digest));
	ml_json_set_str(img, "Config", p);
	free(p);
	/* an image without a name: null, as `docker save IMAGE-ID` writes */
	if (l->image_name) {
		ml_json_append(tags, ml_json_string_new(l->image_name));
		ml_json_set(img, "RepoTags", tags);
	} else {
		ml_json_free(tags);
		ml_json_set(img, "RepoTags", ml_json_null_new());
	}
	for (i = 0; i < l->nlayers; i++) {
		p = ml_asprintf("blobs/sha256/%s", ml_digest_hex(l->layers[i].digest));
		ml_json_append(layers, ml_json_string_new(p));
		free(p);
	}
	ml_json_set(img, "Layers", layers);
	ml_json_append(arr, img);
	return arr;
}

static int add_json(struct ml_tar_writer *w, const char *name, ml_json *doc, int64_t mtime,
		    struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	int rc = ml_json_dump(doc, &b);

	if (rc == 0)
		rc = ml_tar_add_data(w, name, 0644, mtime, ml_buf_str(&b), b.len, err);
	ml_buf_dispose(&b);
	ml_json_free(doc);
	return rc;
}

static void hash_tap(void *ud, const void *data, size_t len)
{
	ml_sha256_update(ud, data, len);
}

static int add_blob(struct ml_tar_writer *w, struct ml_cache *cache, const char *digest,
		    int64_t size, int64_t mtime, struct ml_error *err)
{
	char *src = ml_cache_blob_path(cache, digest);
	char *name = ml_asprintf("blobs/sha256/%s", ml_digest_hex(digest));
	struct ml_sha256 *h = ml_sha256_new();
	char got[ML_DIGEST_LEN];
	struct stat st;
	int fd, rc;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size != size) {
		ml_cache_blob_remove(cache, digest);
		rc = ml_error_set(err, ML_ECACHE, "cached blob %s is missing or has the wrong size; "
				  "removed it", digest);
		goto out;
	}
	rc = ml_tar_add_file(w, name, 0644, mtime, 0, 0, fd, (uint64_t)size, hash_tap, h, err);
	if (rc < 0)
		goto out;
	ml_sha256_final(h, got);
	if (strcmp(got, digest)) {
		ml_cache_blob_remove(cache, digest);
		rc = ml_error_set(err, ML_ECACHE, "cached blob %s was corrupt (it hashes to %s); "
				  "removed it", digest, got);
	}
out:
	if (fd >= 0)
		close(fd);
	ml_sha256_free(h);
	free(src);
	free(name);
	return rc;
}

static int seen_before(const struct ml_blob *layers, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (!strcmp(layers[j].digest, layers[i].digest))
			return 1;
	return 0;
}

static int write_entries(struct ml_tar_writer *w, const struct ml_layout *l,
			 struct ml_cache *cache, struct ml_error *err)
{
	ml_json *oci_layout = ml_json_object_new();
	size_t i;
	int rc;

	ml_json_set_str(oci_layout, "imageLayoutVersion", "1.0.0");
	rc = add_json(w, "oci-layout", oci_layout, l->mtime, err);
	if (rc == 0)
		rc = add_json(w, "index.json", index_doc(l), l->mtime, err);
	if (rc == 0 && l->format == ML_FORMAT_DOCKER)
		rc = add_json(w, "manifest.json", docker_manifest_doc(l), l->mtime, err);
	if (rc == 0)
		rc = ml_tar_add_dir(w, "blobs", 0755, l->mtime, 0, 0, err);
	if (rc == 0)
		rc = ml_tar_add_dir(w, "blobs/sha256", 0755, l->mtime, 0, 0, err);
	if (rc == 0)
		rc = add_blob(w, cache, l->manifest_digest, l->manifest_size, l->mtime, err);
	if (rc == 0)
		rc = add_blob(w, cache, l->config_digest, l->config_size, l->mtime, err);
	for (i = 0; rc == 0 && i < l->nlayers; i++)
		if (!seen_before(l->layers, i))
			rc = add_blob(w, cache, l->layers[i].digest, l->layers[i].size, l->mtime, err);
	return rc;
}

/* The image as a tar stream, handed to fn: what the file and the stream get. */
static int write_image(const struct ml_layout *l, struct ml_cache *cache, ml_tar_out_fn fn,
		       void *ud, struct ml_error *err)
{
	struct ml_tar_writer *w = NULL;
	int rc = ml_tar_writer_new(&w, fn, ud, err);

	if (rc == 0)
		rc = write_entries(w, l, cache, err);
	if (rc == 0)
		rc = ml_tar_writer_close(w, err);
	ml_tar_writer_free(w);
	return rc;
}

int ml_layout_write(const struct ml_layout *l, struct ml_cache *cache, struct ml_error *err)
{
	char *dir = ml_dirname(l->path);
	char *template = ml_asprintf("%s.tmp-XXXXXX", l->path);
	struct out o = { .fd = -1, .err = err };
	char *tmp = NULL;
	uint64_t total = 0;
	size_t i;
	int rc;

	rc = ml_mkdirs(dir, err);
	if (rc == 0)
		rc = ml_tmp_create(template, &tmp, &o.fd, err);
	if (rc < 0)
		goto out;
	for (i = 0; i < l->nlayers; i++)
		total += (uint64_t)l->layers[i].size;
	ml_progress_start("output", l->path, total);
	rc = write_image(l, cache, out_write, &o, err);
	if (rc == 0 && fchmod(o.fd, 0644) < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot chmod '%s'", tmp);
	if (close(o.fd) < 0 && rc == 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write '%s'", tmp);
	o.fd = -1;
	if (rc == 0 && rename(tmp, l->path) < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot rename '%s' to '%s'", tmp, l->path);
	ml_progress_finish("output", rc < 0 ? "failed" : "written");
out:
	if (o.fd >= 0)
		close(o.fd);
	if (tmp) {
		if (rc < 0)
			ml_tmp_remove(tmp);
		else
			ml_tmp_forget(tmp);
	}
	free(tmp);
	free(template);
	free(dir);
	return rc;
}

struct stream {
	int (*write)(void *ud, const void *buf, size_t len);
	void *ud;
	int rc;				/* the callback's first failure */
};

static int stream_out(void *ud, const void *data, size_t len)
{
	struct stream *s = ud;
	int rc = s->write(s->ud, data, len);

	if (rc < 0 && !s->rc)
		s->rc = rc;
	return rc < 0 ? rc : 0;
}

/* A descriptor in the manifest: digest and size, checked to be usable. */
static int descriptor(const ml_json *d, const char *what, struct ml_blob *out,
		      struct ml_error *err)
{
	const char *digest = ml_json_get_str(d, "digest");

	if (!ml_digest_valid(digest) || ml_json_get_int(d, "size", &out->size) < 0 || out->size < 0)
		return ml_error_set(err, ML_EPROTO, "the manifest has a bad %s descriptor", what);
	snprintf(out->digest, sizeof(out->digest), "%s", digest);
	return 0;
}

/* The layout of the image in the cache whose manifest is l->manifest_digest:
 * its config and layers, and its platform from the config. */
static int layout_from_cache(struct ml_layout *l, struct ml_cache *cache, struct ml_blob *config,
			     struct ml_blob **layers, char os[32], char arch[32],
			     struct ml_error *err)
{
	struct ml_buf body = ML_BUF_INIT;
	ml_json *m = NULL, *c = NULL, *ls;
	size_t i, n;
	int rc;

	if (!ml_cache_blob_present(cache, l->manifest_digest, -1))
		return ml_error_set(err, ML_ECACHE, "image %s is not in the cache (hint: build it "
				    "again)", l->manifest_digest);
	rc = ml_cache_blob_read(cache, l->manifest_digest, ML_MANIFEST_MAX, &body, err);
	if (rc == 0 && !(m = ml_json_parse(ml_buf_str(&body), body.len, err)))
		rc = ml_error_prefix(err, "manifest %s", l->manifest_digest);
	l->manifest_size = (int64_t)body.len;
	if (rc == 0)
		rc = descriptor(ml_json_get(m, "config"), "config", config, err);
	ls = ml_json_get(m, "layers");
	n = ml_json_size(ls);
	*layers = ml_calloc(n + 1, sizeof(**layers));
	for (i = 0; rc == 0 && i < n; i++)
		rc = descriptor(ml_json_at(ls, i), "layer", &(*layers)[i], err);
	if (rc == 0) {
		ml_buf_dispose(&body);
		rc = ml_cache_blob_read(cache, config->digest, CONFIG_MAX, &body, err);
	}
	if (rc == 0 && !(c = ml_json_parse(ml_buf_str(&body), body.len, err)))
		rc = ml_error_prefix(err, "config %s", config->digest);
	if (rc == 0) {
		snprintf(os, 32, "%s", ml_json_get_str(c, "os") ? ml_json_get_str(c, "os") : "linux");
		snprintf(arch, 32, "%s", ml_json_get_str(c, "architecture") ?
			 ml_json_get_str(c, "architecture") : "amd64");
		l->config_digest = config->digest;
		l->config_size = config->size;
		l->layers = *layers;
		l->nlayers = n;
		l->platform_os = os;
		l->platform_arch = arch;
	}
	ml_json_free(m);
	ml_json_free(c);
	ml_buf_dispose(&body);
	return rc;
}

int ml_archive_write_stream(struct ml_cache *cache, const char *manifest_digest,
			    enum ml_format fmt, int (*write)(void *ud, const void *buf, size_t len),
			    void *ud, struct ml_error *err)
{
	struct ml_layout l = { .format = fmt, .manifest_digest = manifest_digest };
	struct stream s = { write, ud, 0 };
	struct ml_blob config = { 0 }, *layers = NULL;
	char os[32], arch[32];
	int rc;

	if (!ml_digest_valid(manifest_digest))
		return ml_error_set(err, ML_EUSAGE, "'%s' is not an image digest (sha256:<64 hex "
				    "digits>)", manifest_digest ? manifest_digest : "");
	rc = layout_from_cache(&l, cache, &config, &layers, os, arch, err);
	if (rc == 0)
		rc = write_image(&l, cache, stream_out, &s, err);
	/* the callback's own message stands when it gave one with its code */
	if (s.rc < 0 && (!err || err->code != -s.rc))
		rc = ml_error_set(err, -s.rc, "cannot stream image %s", manifest_digest);
	else if (s.rc < 0)
		rc = s.rc;
	free(layers);
	return rc;
}
