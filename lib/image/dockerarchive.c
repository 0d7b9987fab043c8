#include "image/dockerarchive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "wrap/tar.h"
#include "registry/oci.h"

#define META_MAX (16u << 20)

/* Pass 1: manifest.json. */
static int read_manifest(const char *file, ml_json **out, struct ml_error *err)
{
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	struct ml_buf body = ML_BUF_INIT;
	int rc, found = 0;

	rc = ml_tar_reader_open(&r, file, err);
	while (rc == 0 && (rc = ml_tar_reader_next(r, &e, err)) > 0) {
		if (strcmp(e.name, "manifest.json") && strcmp(e.name, "./manifest.json")) {
			rc = 0;
			continue;
		}
		rc = ml_tar_reader_read_all(r, &body, META_MAX, err);
		found = 1;
		break;
	}
	ml_tar_reader_free(r);
	if (rc < 0)
		goto out;
	if (!found) {
		rc = ml_error_set(err, ML_EPROTO, "'%s' has no manifest.json (is it a `docker save` "
				  "archive?)", file);
		goto out;
	}
	*out = ml_json_parse(ml_buf_str(&body), body.len, err);
	rc = *out ? 0 : ml_error_prefix(err, "'%s': manifest.json", file);
out:
	ml_buf_dispose(&body);
	return rc;
}

/* The gzip or zstd magic at the start of a layer decides its media type. */
static const char *sniff_type(const unsigned char *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return ML_MT_OCI_LAYER "+gzip";
	if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return ML_MT_OCI_LAYER "+zstd";
	return ML_MT_OCI_LAYER;
}

static int store_layer(struct ml_tar_reader *r, struct ml_cache *cache, struct ml_blob *l,
		       struct ml_error *err)
{
	unsigned char head[4];
	int rc = ml_cache_blob_store(cache, ml_tar_reader_read_cb, r, NULL, l->digest, &l->size, head, err);

	if (rc == 0)
		l->media_type = ml_strdup(sniff_type(head, sizeof(head)));
	return rc;
}

static int layer_index(const ml_json *layers, const char *name)
{
	size_t i;

	if (!strncmp(name, "./", 2))
		name += 2;
	for (i = 0; i < ml_json_size(layers); i++) {
		const char *p = ml_json_str(ml_json_at(layers, i));

		if (p && !strcmp(p, name))
			return (int)i;
	}
	return -1;
}

/* Pass 2: config and layers. */
static int read_blobs(struct ml_base *b, const char *file, const ml_json *img,
		      struct ml_cache *cache, struct ml_error *err)
{
	const ml_json *layers = ml_json_get(img, "Layers");
	const char *config = ml_json_get_str(img, "Config");
	struct ml_buf body = ML_BUF_INIT;
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	size_t i;
	int rc;

	b->layers = ml_calloc(ml_json_size(layers) + 1, sizeof(*b->layers));
	b->nlayers = ml_json_size(layers);
	rc = ml_tar_reader_open(&r, file, err);
	while (rc == 0 && (rc = ml_tar_reader_next(r, &e, err)) > 0) {
		int li = layer_index(layers, e.name);
		const char *name = strncmp(e.name, "./", 2) ? e.name : e.name + 2;

		rc = 0;
		if (li >= 0 && !b->layers[li].media_type)
			rc = store_layer(r, cache, &b->layers[li], err);
		else if (config && !strcmp(name, config) && !body.len)
			rc = ml_tar_reader_read_all(r, &body, META_MAX, err);
	}
	ml_tar_reader_free(r);
	for (i = 0; rc == 0 && i < b->nlayers; i++)
		if (!b->layers[i].media_type)
			rc = ml_error_set(err, ML_EPROTO, "'%s' lacks layer '%s'", file,
					  ml_json_str(ml_json_at(layers, i)));
	if (rc == 0 && !body.len)
		rc = ml_error_set(err, ML_EPROTO, "'%s' lacks its config '%s'", file,
				  config ? config : "?");
	if (rc == 0 && !(b->config = ml_json_parse(ml_buf_str(&body), body.len, err)))
		rc = ml_error_prefix(err, "'%s': config", file);
	ml_buf_dispose(&body);
	return rc;
}

int ml_docker_archive_base(struct ml_base *b, const char *file, struct ml_cache *cache,
			   struct ml_error *err)
{
	ml_json *manifest = NULL;
	int rc;

	rc = read_manifest(file, &manifest, err);
	if (rc == 0 && ml_json_size(manifest) != 1)
		rc = ml_error_set(err, ML_ECONFIG, "'%s' holds %zu images; mldeploy builds on exactly "
				  "one (hint: docker save one image)", file, ml_json_size(manifest));
	if (rc == 0)
		rc = read_blobs(b, file, ml_json_at(manifest, 0), cache, err);
	if (rc < 0)
		ml_error_prefix(err, "base image 'docker-archive:%s'", file);
	ml_json_free(manifest);
	return rc;
}
