#include "image/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "image/dockerarchive.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "registry/reference.h"
#include "registry/registry.h"
#include "util/tmpfile.h"

#define CONFIG_MAX (16u << 20)

struct platform {
	char os[32], arch[32], variant[32];
};

/* Where blobs come from: a registry repository or an OCI layout directory. */
struct source {
	struct ml_registry *reg;
	const char *repo;
	const char *dir;
};

static int parse_platform(struct platform *p, const char *s, struct ml_error *err)
{
	memset(p, 0, sizeof(*p));
	if (sscanf(s, "%31[^/]/%31[^/]/%31s", p->os, p->arch, p->variant) < 2)
		return ml_error_set(err, ML_ECONFIG, "invalid platform '%s' (hint: os/arch such as "
				    "linux/amd64 or linux/arm64)", s);
	if (!strcmp(p->arch, "arm64") && !strcmp(p->variant, "v8"))
		p->variant[0] = '\0';
	return 0;
}

static int platform_matches(const ml_json *pj, const struct platform *want)
{
	const char *os = ml_json_get_str(pj, "os"), *arch = ml_json_get_str(pj, "architecture");
	const char *variant = ml_json_get_str(pj, "variant");

	if (!os || !arch || strcmp(os, want->os) || strcmp(arch, want->arch))
		return 0;
	if (variant && !strcmp(arch, "arm64") && !strcmp(variant, "v8"))
		variant = NULL;
	return !want->variant[0] || (variant && !strcmp(variant, want->variant));
}

static int is_index(const char *mt)
{
	return !strcmp(mt, ML_MT_OCI_INDEX) || !strcmp(mt, ML_MT_DOCKER_LIST);
}

static int pick_from_index(const ml_json *index, const struct platform *p, const char *what,
			   char digest[ML_DIGEST_LEN], struct ml_error *err)
{
	ml_json *m = ml_json_get(index, "manifests");
	struct ml_buf have = ML_BUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < ml_json_size(m); i++) {
		ml_json *e = ml_json_at(m, i);
		ml_json *pj = ml_json_get(e, "platform");
		const char *d = ml_json_get_str(e, "digest");

		if (platform_matches(pj, p) && ml_digest_valid(d)) {
			snprintf(digest, ML_DIGEST_LEN, "%s", d);
			ml_buf_dispose(&have);
			return 0;
		}
		if (pj && ml_json_get_str(pj, "os") && strcmp(ml_json_get_str(pj, "os"), "unknown"))
			ml_buf_printf(&have, "%s%s/%s", have.len ? ", " : "",
				      ml_json_get_str(pj, "os"),
				      ml_json_get_str(pj, "architecture") ?
				      ml_json_get_str(pj, "architecture") : "?");
	}
	rc = ml_error_set(err, ML_ENOTFOUND, "%s has no image for platform %s/%s%s%s (it has: %s; "
			  "hint: set image.platform)", what, p->os, p->arch, p->variant[0] ? "/" : "",
			  p->variant, have.len ? have.data : "none");
	ml_buf_dispose(&have);
	return rc;
}

static const char *oci_layer_type(const char *mt)
{
	static const struct { const char *from, *to; } map[] = {
		{ ML_MT_DOCKER_LAYER ".gzip", ML_MT_OCI_LAYER "+gzip" },
		{ ML_MT_DOCKER_LAYER, ML_MT_OCI_LAYER },
		{ ML_MT_OCI_LAYER "+gzip", ML_MT_OCI_LAYER "+gzip" },
		{ ML_MT_OCI_LAYER "+zstd", ML_MT_OCI_LAYER "+zstd" },
		{ ML_MT_OCI_LAYER, ML_MT_OCI_LAYER },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (mt && !strcmp(mt, map[i].from))
			return map[i].to;
	return NULL;
}

/* Copies a blob of an OCI layout into fd, checking size and digest. */
static int dir_fetch(const char *dir, const char *digest, int64_t size, int fd,
		     struct ml_error *err)
{
	char *path = ml_asprintf("%s/blobs/sha256/%s", dir, ml_digest_hex(digest));
	struct ml_sha256 *h = ml_sha256_new();
	char block[1 << 16], got[ML_DIGEST_LEN];
	int64_t total = 0;
	ssize_t n;
	int in, rc = 0;

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		rc = ml_error_errno(err, ML_ENOTFOUND, errno, "oci-layout blob '%s'", path);
		goto out;
	}
	while ((n = read(in, block, sizeof(block))) > 0 && rc == 0) {
		ml_sha256_update(h, block, (size_t)n);
		total += n;
		rc = ml_write_all(fd, block, (size_t)n, err);
	}
	close(in);
	ml_sha256_final(h, got);
	if (rc == 0 && n < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
	else if (rc == 0 && (total != size || strcmp(got, digest)))
		rc = ml_error_set(err, ML_EDIGEST, "oci-layout blob '%s' does not match its "
				  "descriptor (%lld bytes, %s)", path, (long long)total, got);
out:
	ml_sha256_free(h);
	free(path);
	return rc;
}

/* Makes sure the blob is in the cache, fetching it when missing. */
static int ensure_blob(struct ml_cache *cache, struct source *src, const char *digest,
		       int64_t size, struct ml_error *err)
{
	char *tmp = NULL;
	int fd = -1, rc;

	if (ml_cache_blob_present(cache, digest, size)) {
		ml_progress_finish(digest, "cached");
		return 0;
	}
	ml_cache_blob_remove(cache, digest);
	rc = ml_cache_tmp(cache, &tmp, &fd, err);
	if (rc < 0)
		return rc;
	ml_progress_start(digest, digest, (uint64_t)size);
	if (src->reg)
		rc = ml_registry_fetch_blob(src->reg, src->repo, digest, size, fd, err);
	else
		rc = dir_fetch(src->dir, digest, size, fd, err);
	if (close(fd) < 0 && rc == 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write blob to the cache");
	if (rc == 0)
		rc = ml_cache_blob_commit(cache, tmp, digest, err);
	else
		ml_tmp_remove(tmp);
	ml_progress_finish(digest, rc < 0 ? "failed" : "pulled");
	free(tmp);
	return rc;
}

static int read_config(struct ml_base *b, struct ml_cache *cache, struct source *src,
		       const ml_json *desc, struct ml_error *err)
{
	const char *digest = ml_json_get_str(desc, "digest");
	struct ml_buf body = ML_BUF_INIT;
	int64_t size;
	int rc;

	if (!ml_digest_valid(digest) || ml_json_get_int(desc, "size", &size) < 0 ||
	    size < 0 || size > CONFIG_MAX)
		return ml_error_set(err, ML_EPROTO, "base image '%s': bad config descriptor", b->name);
	rc = ensure_blob(cache, src, digest, size, err);
	if (rc == 0)
		rc = ml_cache_blob_read(cache, digest, CONFIG_MAX, &body, err);
	if (rc == 0) {
		b->config = ml_json_parse(ml_buf_str(&body), body.len, err);
		if (!b->config || !ml_json_is_object(b->config))
			rc = ml_error_prefix(err, "base image '%s': config %s", b->name, digest);
	}
	ml_buf_dispose(&body);
	return rc;
}

static int read_layers(struct ml_base *b, struct ml_cache *cache, struct source *src,
		       const ml_json *layers, struct ml_error *err)
{
	size_t i, n = ml_json_size(layers);
	int rc;

	b->layers = ml_calloc(n ? n : 1, sizeof(*b->layers));
	for (i = 0; i < n; i++) {
		ml_json *d = ml_json_at(layers, i);
		const char *digest = ml_json_get_str(d, "digest");
		const char *mt = oci_layer_type(ml_json_get_str(d, "mediaType"));
		struct ml_blob *l = &b->layers[i];

		if (!mt)
			return ml_error_set(err, ML_EPROTO, "base image '%s': layer %zu has media type "
					    "'%s', which mldeploy cannot build on", b->name, i,
					    ml_json_get_str(d, "mediaType") ? ml_json_get_str(d, "mediaType") : "?");
		if (!ml_digest_valid(digest) || ml_json_get_int(d, "size", &l->size) < 0 || l->size < 0)
			return ml_error_set(err, ML_EPROTO, "base image '%s': bad layer descriptor %zu",
					    b->name, i);
		snprintf(l->digest, sizeof(l->digest), "%s", digest);
		l->media_type = ml_strdup(mt);
		b->nlayers++;
		rc = ensure_blob(cache, src, digest, l->size, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int check_image(struct ml_base *b, const struct platform *p, struct ml_error *err)
{
	ml_json *diff_ids = ml_json_get(ml_json_get(b->config, "rootfs"), "diff_ids");
	const char *arch = ml_json_get_str(b->config, "architecture");
	const char *os = ml_json_get_str(b->config, "os");

	if (ml_json_size(diff_ids) != b->nlayers)
		return ml_error_set(err, ML_EPROTO, "base image '%s': %zu layers but %zu diff_ids in "
				    "its config", b->name, b->nlayers, ml_json_size(diff_ids));
	if ((arch && strcmp(arch, p->arch)) || (os && strcmp(os, p->os)))
		return ml_error_set(err, ML_ECONFIG, "base image '%s' is %s/%s, not %s/%s (hint: set "
				    "image.platform or pick another base)", b->name, os ? os : "?",
				    arch ? arch : "?", p->os, p->arch);
	return 0;
}

/* From a manifest document to a complete base. */
static int from_manifest(struct ml_base *b, struct ml_cache *cache, struct source *src,
			 const char *data, size_t len, const struct platform *p,
			 struct ml_error *err)
{
	ml_json *m = ml_json_parse(data, len, err);
	int rc;

	if (!m) {
		rc = ml_error_prefix(err, "base image '%s': manifest", b->name);
		goto out;
	}
	rc = read_config(b, cache, src, ml_json_get(m, "config"), err);
	if (rc == 0)
		rc = read_layers(b, cache, src, ml_json_get(m, "layers"), err);
	if (rc == 0)
		rc = check_image(b, p, err);
out:
	ml_json_free(m);
	return rc;
}

static int resolve_registry(struct ml_base *b, const char *spec, const struct platform *p,
			    struct ml_cache *cache, struct ml_error *err)
{
	struct ml_buf body = ML_BUF_INIT;
	struct ml_registry *reg = NULL;
	struct ml_ref ref;
	struct source src = { 0 };
	char *mt = NULL;
	int rc;

	rc = ml_ref_parse(&ref, spec, 1, err);
	if (rc < 0)
		return rc;
	rc = ml_registry_open(&reg, ref.host, 1, err);
	if (rc < 0)
		goto out;
	ml_log(ML_LOG_INFO, "resolving base %s via %s", spec, ml_registry_base_url(reg));
	rc = ml_registry_get_manifest(reg, ref.repository,
				      ref.digest ? ref.digest : ref.tag ? ref.tag : "latest",
				      &body, &mt, b->manifest_digest, err);
	if (rc == 0 && is_index(mt)) {
		ml_json *index = ml_json_parse(ml_buf_str(&body), body.len, err);
		char digest[ML_DIGEST_LEN];

		rc = index ? pick_from_index(index, p, spec, digest, err) : -ML_EPROTO;
		ml_json_free(index);
		free(mt);
		mt = NULL;
		if (rc == 0)
			rc = ml_registry_get_manifest(reg, ref.repository, digest, &body, &mt,
						      b->manifest_digest, err);
		if (rc == 0 && is_index(mt))
			rc = ml_error_set(err, ML_EPROTO, "base image '%s': nested index", spec);
	}
	if (rc < 0)
		goto out;
	b->resolved = ml_asprintf("%s/%s@%s", ref.host, ref.repository, b->manifest_digest);
	src.reg = reg;
	src.repo = ref.repository;
	rc = from_manifest(b, cache, &src, ml_buf_str(&body), body.len, p, err);
out:
	if (rc < 0)
		ml_error_prefix(err, "base image");
	free(mt);
	ml_buf_dispose(&body);
	ml_registry_free(reg);
	ml_ref_dispose(&ref);
	return rc;
}

/* Reads a blob of an OCI layout into memory, checking its digest. */
static int dir_read(const char *dir, const char *digest, struct ml_buf *out, struct ml_error *err)
{
	char *path = ml_asprintf("%s/blobs/sha256/%s", dir, ml_digest_hex(digest));
	char got[ML_DIGEST_LEN];
	int rc = ml_read_file(path, ML_MANIFEST_MAX, out, err);

	if (rc == 0) {
		ml_sha256_digest(ml_buf_str(out), out->len, got);
		if (strcmp(got, digest))
			rc = ml_error_set(err, ML_EDIGEST, "'%s' hashes to %s", path, got);
	}
	free(path);
	return rc;
}

static const ml_json *pick_layout_entry(const ml_json *index, const char *tag, const char *dir,
					struct ml_error *err)
{
	ml_json *m = ml_json_get(index, "manifests");
	size_t i;

	for (i = 0; i < ml_json_size(m); i++) {
		ml_json *e = ml_json_at(m, i);
		const char *name = ml_json_get_str(ml_json_get(e, "annotations"),
						   "org.opencontainers.image.ref.name");

		if (tag ? name && !strcmp(name, tag) : ml_json_size(m) == 1)
			return e;
	}
	if (tag)
		ml_error_set(err, ML_ENOTFOUND, "oci-layout '%s' has no image tagged '%s'", dir, tag);
	else
		ml_error_set(err, ML_ECONFIG, "oci-layout '%s' holds %zu images (hint: name one as "
			     "oci-layout:%s:TAG)", dir, ml_json_size(m), dir);
	return NULL;
}

static int resolve_layout(struct ml_base *b, const char *arg, const struct platform *p,
			  struct ml_cache *cache, struct ml_error *err)
{
	char *dir = ml_strdup(arg), *colon = strrchr(dir, ':'), *path;
	struct ml_buf body = ML_BUF_INIT;
	struct source src = { 0 };
	const ml_json *entry;
	ml_json *index = NULL;
	const char *mt;
	char digest[ML_DIGEST_LEN];
	int rc;

	if (colon)
		*colon = '\0';
	path = ml_asprintf("%s/index.json", dir);
	rc = ml_read_file(path, ML_MANIFEST_MAX, &body, err);
	if (rc == 0 && !(index = ml_json_parse(ml_buf_str(&body), body.len, err)))
		rc = ml_error_prefix(err, "'%s'", path);
	if (rc < 0)
		goto out;
	entry = pick_layout_entry(index, colon ? colon + 1 : NULL, dir, err);
	if (!entry || !ml_digest_valid(ml_json_get_str(entry, "digest"))) {
		rc = entry ? ml_error_set(err, ML_EPROTO, "'%s': bad descriptor", path) : -err->code;
		goto out;
	}
	snprintf(digest, sizeof(digest), "%s", ml_json_get_str(entry, "digest"));
	mt = ml_json_get_str(entry, "mediaType");
	ml_buf_reset(&body);
	rc = dir_read(dir, digest, &body, err);
	if (rc == 0 && mt && is_index(mt)) {
		ml_json *sub = ml_json_parse(ml_buf_str(&body), body.len, err);

		rc = sub ? pick_from_index(sub, p, arg, digest, err) : -ML_EPROTO;
		ml_json_free(sub);
		ml_buf_reset(&body);
		if (rc == 0)
			rc = dir_read(dir, digest, &body, err);
	}
	if (rc < 0)
		goto out;
	memcpy(b->manifest_digest, digest, sizeof(digest));
	src.dir = dir;
	rc = from_manifest(b, cache, &src, ml_buf_str(&body), body.len, p, err);
out:
	if (rc < 0 && strncmp(err->msg, "base image", 10))
		ml_error_prefix(err, "base image 'oci-layout:%s'", arg);
	ml_json_free(index);
	ml_buf_dispose(&body);
	free(path);
	free(dir);
	return rc;
}

static int scratch_config(struct ml_base *b, const struct platform *p)
{
	ml_json *c = ml_json_object_new(), *rootfs = ml_json_object_new();

	ml_json_set_str(c, "architecture", p->arch);
	ml_json_set_str(c, "os", p->os);
	if (p->variant[0])
		ml_json_set_str(c, "variant", p->variant);
	ml_json_set(c, "config", ml_json_object_new());
	ml_json_set_str(rootfs, "type", "layers");
	ml_json_set(rootfs, "diff_ids", ml_json_array_new());
	ml_json_set(c, "rootfs", rootfs);
	b->config = c;
	b->layers = ml_calloc(1, sizeof(*b->layers));
	return 0;
}

int ml_base_resolve(struct ml_base *b, const char *spec, const char *platform,
		    struct ml_cache *cache, struct ml_error *err)
{
	struct platform p;
	int rc;

	memset(b, 0, sizeof(*b));
	b->name = ml_strdup(spec);
	rc = parse_platform(&p, platform ? platform : "linux/amd64", err);
	if (rc < 0)
		return rc;
	if (!strcmp(spec, "scratch"))
		return scratch_config(b, &p);
	if (!strncmp(spec, "oci-layout:", 11))
		return resolve_layout(b, spec + 11, &p, cache, err);
	if (!strncmp(spec, "docker-archive:", 15)) {
		rc = ml_docker_archive_base(b, spec + 15, cache, err);
		return rc < 0 ? rc : check_image(b, &p, err);
	}
	return resolve_registry(b, spec, &p, cache, err);
}

void ml_base_dispose(struct ml_base *b)
{
	size_t i;

	for (i = 0; i < b->nlayers; i++)
		free(b->layers[i].media_type);
	free(b->layers);
	ml_json_free(b->config);
	free(b->name);
	free(b->resolved);
	memset(b, 0, sizeof(*b));
}
