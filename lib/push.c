#include "push.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "image/cache.h"
#include "wrap/json.h"
#include "util/log.h"
#include "util/parallel.h"
#include "image/archive-read.h"
#include "registry/reference.h"
#include "registry/registry.h"

#define DEFAULT_JOBS 3
#define MAX_JOBS 16
#define MAX_MOUNT_SOURCES 3
#define REMEMBERED_REPOS 16

struct push {
	const struct ml_push_opts *opts;
	struct ml_push_result *res;
	struct ml_cache *cache;
	struct ml_registry *reg;
	struct ml_ref target;
	char *base_repo;		/* the base image's repository on the same registry */
	struct ml_buf manifest;
	char *media_type;
	pthread_mutex_t lock;		/* the "pushed" records */
};

const char *ml_push_action_name(enum ml_push_action a)
{
	return a == ML_PUSH_EXISTS ? "exists" : a == ML_PUSH_MOUNTED ? "mounted" : "uploaded";
}

/* A blob the manifest names is missing or has another size: the archive is
 * incomplete, or the cache lost or damaged what the build put there. */
static int blob_missing(struct push *p, const char *kind, const char *digest, int64_t size,
			const struct stat *st, int absent, struct ml_error *err)
{
	if (p->opts->archive && absent)
		return ml_error_set(err, ML_EDIGEST, "%s %s is not in the image archive", kind, digest);
	if (p->opts->archive)
		return ml_error_set(err, ML_EDIGEST, "%s %s is %lld bytes but the manifest says %lld; "
				    "nothing was pushed", kind, digest, (long long)st->st_size,
				    (long long)size);
	if (!absent)
		ml_cache_blob_remove(p->cache, digest);
	return ml_error_set(err, ML_ECACHE, "%s %s of image %s is %s the cache; nothing was pushed "
			    "(hint: build again)", kind, digest, p->res->manifest_digest,
			    absent ? "not in" : "damaged in (removed it from)");
}

static int add_blob(struct push *p, const ml_json *desc, const char *kind, struct ml_error *err)
{
	struct ml_push_result *res = p->res;
	const char *digest = ml_json_get_str(desc, "digest");
	struct ml_push_blob *b;
	int64_t size;
	char *path;
	struct stat st;
	int absent;

	if (!ml_digest_valid(digest) || ml_json_get_int(desc, "size", &size) < 0 || size < 0)
		return ml_error_set(err, ML_EPROTO, "the manifest has a bad %s descriptor", kind);
	path = ml_cache_blob_path(p->cache, digest);
	absent = stat(path, &st) < 0;
	free(path);
	if (absent || st.st_size != size)
		return blob_missing(p, kind, digest, size, &st, absent, err);
	res->blobs = ml_realloc(res->blobs, (res->nblobs + 1) * sizeof(*res->blobs));
	b = &res->blobs[res->nblobs++];
	memset(b, 0, sizeof(*b));
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
	b->kind = kind;
	return 0;
}

/* The manifest res->manifest_digest from the cache: the imported archive's,
 * whose index.json gave its size and media type (img), or the build's (img NULL). */
static int load_manifest(struct push *p, const struct ml_archive_image *img,
			 struct ml_error *err)
{
	const char *digest = p->res->manifest_digest;
	int rc;

	if (!img && !ml_cache_blob_present(p->cache, digest, -1))
		return ml_error_set(err, ML_ECACHE, "image %s is not in the cache (hint: build it "
				    "again)", digest);
	rc = ml_cache_blob_read(p->cache, digest, ML_MANIFEST_MAX, &p->manifest, err);
	if ((rc == -ML_EDIGEST || rc == -ML_ECACHE) && !img)
		return ml_error_set(err, ML_ECACHE, "manifest %s was corrupt in the cache; removed it "
				    "(hint: build again)", digest);
	if (rc == 0 && img && (int64_t)p->manifest.len != img->manifest_size)
		rc = ml_error_set(err, ML_EDIGEST, "manifest %s is %zu bytes, index.json says %lld",
				  digest, p->manifest.len, (long long)img->manifest_size);
	return rc;
}

/* The manifest, its blobs (all present in the cache with the sizes it gives) and
 * the base repository to mount from. */
static int read_manifest(struct push *p, const struct ml_archive_image *img, struct ml_error *err)
{
	ml_json *m = NULL, *layers;
	const char *base, *mt;
	struct ml_ref ref;
	size_t i;
	int rc;

	rc = load_manifest(p, img, err);
	if (rc == 0 && !(m = ml_json_parse(ml_buf_str(&p->manifest), p->manifest.len, err)))
		rc = ml_error_prefix(err, "manifest %s", p->res->manifest_digest);
	if (rc < 0)
		return rc;
	rc = add_blob(p, ml_json_get(m, "config"), "config", err);
	layers = ml_json_get(m, "layers");
	for (i = 0; rc == 0 && i < ml_json_size(layers); i++)
		rc = add_blob(p, ml_json_at(layers, i), "layer", err);
	base = ml_json_get_str(ml_json_get(m, "annotations"), "org.opencontainers.image.base.name");
	if (rc == 0 && base && ml_ref_parse(&ref, base, 1, NULL) == 0) {
		if (!strcmp(ref.host, p->target.host) && strcmp(ref.repository, p->target.repository))
			p->base_repo = ml_strdup(ref.repository);
		ml_ref_dispose(&ref);
	}
	mt = ml_json_get_str(m, "mediaType");
	p->media_type = ml_strdup(mt ? mt : img ? img->media_type : ML_MT_OCI_MANIFEST);
	ml_json_free(m);
	return rc;
}

/* Repositories of this registry known to hold the blob: where this machine
 * pushed it before, and the base image's. */
static size_t mount_sources(struct push *p, const char *digest, char **out)
{
	ml_json *rec;
	ml_json *repos;
	size_t i, n = 0;
	char *prefix = ml_asprintf("%s/", p->target.host);

	pthread_mutex_lock(&p->lock);
	rec = ml_cache_record_get(p->cache, "pushed", ml_digest_hex(digest));
	pthread_mutex_unlock(&p->lock);
	repos = ml_json_get(rec, "repos");
	for (i = ml_json_size(repos); i > 0 && n < MAX_MOUNT_SOURCES; i--) {
		const char *r = ml_json_str(ml_json_at(repos, i - 1));

		if (r && !strncmp(r, prefix, strlen(prefix)) &&
		    strcmp(r + strlen(prefix), p->target.repository))
			out[n++] = ml_strdup(r + strlen(prefix));
	}
	if (p->base_repo && n < MAX_MOUNT_SOURCES)
		out[n++] = ml_strdup(p->base_repo);
	ml_json_free(rec);
	free(prefix);
	return n;
}

static void remember(struct push *p, const char *digest)
{
	char *here = ml_asprintf("%s/%s", p->target.host, p->target.repository);
	ml_json *rec, *repos, *kept = ml_json_array_new();
	size_t i, n;

	pthread_mutex_lock(&p->lock);
	rec = ml_cache_record_get(p->cache, "pushed", ml_digest_hex(digest));
	repos = ml_json_get(rec, "repos");
	n = ml_json_size(repos);
	for (i = n > REMEMBERED_REPOS ? n - REMEMBERED_REPOS : 0; i < n; i++) {
		const char *r = ml_json_str(ml_json_at(repos, i));

		if (r && strcmp(r, here))
			ml_json_append(kept, ml_json_string_new(r));
	}
	ml_json_append(kept, ml_json_string_new(here));
	ml_json_free(rec);
	rec = ml_json_object_new();
	ml_json_set(rec, "repos", kept);
	ml_cache_record_put(p->cache, "pushed", ml_digest_hex(digest), rec, NULL);
	pthread_mutex_unlock(&p->lock);
	ml_json_free(rec);
	free(here);
}

static int try_mounts(struct push *p, struct ml_push_blob *b, char **location,
		      struct ml_error *err)
{
	char *sources[MAX_MOUNT_SOURCES + 1];
	size_t i, n = mount_sources(p, b->digest, sources);
	int rc = 0;

	for (i = 0; i < n; i++) {
		char *loc = NULL;

		if (rc == 0 && !b->mounted_from) {
			rc = ml_registry_mount_blob(p->reg, p->target.repository, b->digest,
						    sources[i], &loc, err);
			if (rc == 1) {
				b->mounted_from = ml_strdup(sources[i]);
				rc = 0;
			}
		}
		if (loc && !*location)
			*location = loc;
		else
			free(loc);
		free(sources[i]);
	}
	return rc;
}

static int upload(struct push *p, struct ml_push_blob *b, const char *location,
		  struct ml_error *err)
{
	struct ml_upload_stats st = { 0 };
	char *path = ml_cache_blob_path(p->cache, b->digest);
	char label[64];
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return ml_error_errno(err, ML_EIO, errno, "cannot open cached blob %s", b->digest);
	snprintf(label, sizeof(label), "%s %.19s", b->kind, b->digest);
	ml_progress_start(b->digest, label, (uint64_t)b->size);
	rc = ml_registry_upload_blob(p->reg, p->target.repository, b->digest, b->size, fd,
				     location, &st, err);
	ml_progress_finish(b->digest, rc < 0 ? "failed" : "uploaded");
	close(fd);
	if (rc == -ML_EDIGEST && p->opts->archive) {
		ml_cache_blob_remove(p->cache, b->digest);
		ml_error_prefix(err, "removed the corrupt blob from the cache; build again, or push "
				"the archive again to re-import it");
	} else if (rc == -ML_EDIGEST) {
		char why[ML_ERROR_MAX];

		ml_cache_blob_remove(p->cache, b->digest);
		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		rc = ml_error_set(err, ML_ECACHE, "removed the corrupt blob from the cache (hint: "
				  "build again): %.1900s", why);
	}
	b->bytes_sent = st.bytes_sent;
	b->resumes = st.resumes;
	b->restarts = st.restarts;
	return rc;
}

static int push_blob(struct push *p, struct ml_push_blob *b, struct ml_error *err)
{
	char *location = NULL;
	int rc;

	rc = ml_registry_blob_exists(p->reg, p->target.repository, b->digest, b->size, err);
	if (rc == 1) {
		b->action = ML_PUSH_EXISTS;
		ml_log(ML_LOG_INFO, "%s %s: already in %s", b->kind, b->digest, p->target.repository);
	} else if (rc == 0) {
		rc = try_mounts(p, b, &location, err);
		if (rc == 0 && b->mounted_from) {
			b->action = ML_PUSH_MOUNTED;
			ml_log(ML_LOG_INFO, "%s %s: mounted from %s", b->kind, b->digest, b->mounted_from);
		} else if (rc == 0) {
			b->action = ML_PUSH_UPLOADED;
			rc = upload(p, b, location, err);
		}
	}
	free(location);
	if (rc >= 0 && b->action != ML_PUSH_UPLOADED) {
		char label[64];

		snprintf(label, sizeof(label), "%s %.19s", b->kind, b->digest);
		ml_progress_start(b->digest, label, (uint64_t)b->size);
		ml_progress_finish(b->digest, ml_push_action_name(b->action));
	}
	if (rc >= 0) {
		remember(p, b->digest);
		rc = 0;
	}
	return rc;
}

static int push_one(void *ud, size_t i, struct ml_error *err)
{
	struct push *p = ud;

	return push_blob(p, &p->res->blobs[i], err);
}

static int push_blobs(struct push *p, struct ml_error *err)
{
	int jobs = p->opts->jobs > 0 ? p->opts->jobs : DEFAULT_JOBS;

	return ml_parallel_for(p->res->nblobs, jobs > MAX_JOBS ? MAX_JOBS : jobs, push_one, p, err);
}

static int put_manifest(struct push *p, const char *tag, struct ml_error *err)
{
	int rc = ml_registry_put_manifest(p->reg, p->target.repository, tag, p->media_type,
					  ml_buf_str(&p->manifest), p->manifest.len,
					  p->res->manifest_digest, err);

	if (rc == 0)
		ml_log(ML_LOG_INFO, "tagged %s/%s:%s", p->target.host, p->target.repository, tag);
	return rc;
}

static int tag_seen(char *const *tags, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (!strcmp(tags[j], tags[i]))
			return 1;
	return 0;
}

static int push_manifests(struct push *p, const char *archive_tag, struct ml_error *err)
{
	size_t i;
	int rc = 0;

	if (archive_tag)
		rc = put_manifest(p, archive_tag, err);
	for (i = 0; rc == 0 && i < p->opts->ntags; i++)
		if ((!archive_tag || strcmp(archive_tag, p->opts->tags[i])) &&
		    !tag_seen(p->opts->tags, i))
			rc = put_manifest(p, p->opts->tags[i], err);
	return rc;
}

/* The archive's ref name as a tag: "v1", or the tag of "name:v1" as Docker writes. */
static const char *archive_tag(const struct ml_archive_image *img)
{
	const char *t = img->ref_name, *colon;

	if (!t)
		return NULL;
	colon = strrchr(t, ':');
	if (colon && !strchr(colon, '/'))
		t = colon + 1;
	return ml_ref_valid_tag(t) ? t : NULL;
}

/* The image to push, in the cache: the archive's, imported there first, or the
 * one named by digest. From here on both are pushed the same way. */
static int find_image(struct push *p, struct ml_archive_image *img, struct ml_error *err)
{
	const struct ml_push_opts *opts = p->opts;
	int rc;

	if (!opts->archive) {
		if (!ml_digest_valid(opts->manifest_digest))
			return ml_error_set(err, ML_EUSAGE, "'%s' is not an image digest "
					    "(sha256:<64 hex digits>)", opts->manifest_digest ?
					    opts->manifest_digest : "");
		snprintf(p->res->manifest_digest, sizeof(p->res->manifest_digest), "%s",
			 opts->manifest_digest);
		return read_manifest(p, NULL, err);
	}
	rc = ml_archive_import(img, opts->archive, p->cache, err);
	if (rc < 0)
		return rc;
	memcpy(p->res->manifest_digest, img->manifest_digest, sizeof(img->manifest_digest));
	return read_manifest(p, img, err);
}

int ml_push_run(const struct ml_push_opts *opts, struct ml_push_result *res,
		struct ml_error *err)
{
	struct push p = { .opts = opts, .res = res };
	struct ml_archive_image img = { 0 };
	int rc;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&p.lock, NULL);
	rc = ml_ref_parse(&p.target, opts->repository, 0, err);
	if (rc < 0)
		goto out;
	res->repository = ml_asprintf("%s/%s", p.target.host, p.target.repository);
	rc = ml_cache_open(&p.cache, err);
	if (rc == 0)
		rc = find_image(&p, &img, err);
	if (rc == 0 && opts->archive && opts->archive_tag && !archive_tag(&img))
		rc = ml_error_set(err, ML_EUSAGE, "'%s' names no usable tag (hint: give one with "
				  "--tag)", opts->archive);
	if (rc == 0 && !(opts->archive && opts->archive_tag) && !opts->ntags)
		rc = ml_error_set(err, ML_EUSAGE, "no tag to push (hint: --tag)");
	if (rc == 0)
		rc = ml_registry_open(&p.reg, p.target.host, 0, err);
	if (rc == 0)
		rc = push_blobs(&p, err);
	if (rc == 0)
		rc = push_manifests(&p, opts->archive && opts->archive_tag ? archive_tag(&img) : NULL,
				    err);
	if (rc == 0)
		res->reference = ml_asprintf("%s@%s", res->repository, res->manifest_digest);
out:
	ml_archive_image_dispose(&img);
	ml_registry_free(p.reg);
	ml_cache_free(p.cache);
	ml_ref_dispose(&p.target);
	ml_buf_dispose(&p.manifest);
	free(p.media_type);
	free(p.base_repo);
	pthread_mutex_destroy(&p.lock);
	return rc;
}

void ml_push_result_dispose(struct ml_push_result *res)
{
	size_t i;

	for (i = 0; i < res->nblobs; i++)
		free(res->blobs[i].mounted_from);
	free(res->blobs);
	free(res->repository);
	free(res->reference);
	memset(res, 0, sizeof(*res));
}
