#include "build.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/alloc.h"
#include "image/cache.h"
#include "util/fsutil.h"
#include "image/ignore.h"
#include "image/image.h"
#include "image/layer.h"
#include "util/log.h"

/* Layers of one build, grouped from image.copy. */
struct group {
	char *name;
	struct ml_copy **copies;
	size_t n, alloc;
};

struct build {
	const struct ml_build_opts *opts;
	const struct ml_config *cfg;
	struct ml_build_result *res;
	struct ml_cache *cache;
	struct ml_ignore *ignore;
	struct ml_ignore *allow;
	char *context;
	char *default_output;
	struct group *groups;
	size_t ngroups, agroups;
	struct ml_base base;
};

char *ml_build_default_output(const struct ml_config *cfg)
{
	return ml_asprintf("%s/build/%s.tar", cfg->dir, cfg->name);
}

int ml_build_mtime(const struct ml_gitmeta *git, int64_t *mtime, const char **source,
		   struct ml_error *err)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	if (sde && sde[0]) {
		errno = 0;
		v = strtoll(sde, &end, 10);
		if (errno || *end || v < 0 || v > 253402300799LL)
			return ml_error_set(err, ML_EUSAGE, "SOURCE_DATE_EPOCH '%s' is not a Unix time "
					    "(hint: seconds since 1970, e.g. $(git log -1 --format=%%ct))",
					    sde);
		*mtime = v;
		*source = "SOURCE_DATE_EPOCH";
	} else if (git->present) {
		*mtime = git->commit_time;
		*source = "git commit";
	} else {
		*mtime = 0;
		*source = "none";
	}
	return 0;
}

static char *layer_name_from_src(const char *src)
{
	struct ml_buf b = ML_BUF_INIT;
	const char *p, *base;
	size_t len = strlen(src);

	while (len && src[len - 1] == '/')
		len--;
	for (base = src + len; base > src && base[-1] != '/'; base--)
		;
	for (p = base; p < src + len; p++)
		ml_buf_addch(&b, isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) :
			     *p == '.' && p == base ? '_' : '-');
	if (!b.len || (b.len == 1 && b.data[0] == '_'))
		ml_buf_adds(&b, "context");
	return ml_buf_detach(&b);
}

static struct group *find_group(struct build *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->ngroups; i++)
		if (!strcmp(b->groups[i].name, name))
			return &b->groups[i];
	return NULL;
}

static struct group *new_group(struct build *b, char *name)
{
	struct group *g;

	b->groups = ml_grow(b->groups, &b->agroups, b->ngroups + 1, sizeof(*b->groups));
	g = &b->groups[b->ngroups++];
	memset(g, 0, sizeof(*g));
	g->name = name;
	return g;
}

static int named_explicitly(const struct ml_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->image.ncopy; i++)
		if (cfg->image.copy[i].layer && !strcmp(cfg->image.copy[i].layer, name))
			return 1;
	return 0;
}

/* Entries naming a layer join it; the others get a layer each, named from src. */
static void group_copies(struct build *b)
{
	size_t i;

	for (i = 0; i < b->cfg->image.ncopy; i++) {
		struct ml_copy *c = &b->cfg->image.copy[i];
		struct group *g = c->layer ? find_group(b, c->layer) : NULL;

		if (!g && c->layer) {
			g = new_group(b, ml_strdup(c->layer));
		} else if (!g) {
			char *name = layer_name_from_src(c->src), *unique = ml_strdup(name);
			int k = 2;

			while (find_group(b, unique) || named_explicitly(b->cfg, unique)) {
				free(unique);
				unique = ml_asprintf("%s-%d", name, k++);
			}
			free(name);
			g = new_group(b, unique);
		}
		g->copies = ml_grow(g->copies, &g->alloc, g->n + 1, sizeof(*g->copies));
		g->copies[g->n++] = c;
	}
}

static int add_patterns(struct ml_ignore *ig, const struct ml_strv *sv, struct ml_error *err)
{
	char *origin = ml_asprintf("%s:%d:%d", sv->pos.file ? sv->pos.file : "deploy.yaml",
				   sv->pos.line, sv->pos.column);
	size_t i;
	int rc = 0;

	for (i = 0; i < sv->n && rc == 0; i++)
		rc = ml_ignore_add(ig, sv->v[i], origin, err);
	free(origin);
	return rc;
}

static int setup_ignore(struct build *b, struct ml_error *err)
{
	static const char *const files[] = { ".dockerignore", ".mldeployignore" };
	const struct ml_config *cfg = b->cfg;
	size_t i, cl = strlen(b->context);
	char *out;
	int rc = 0;

	b->ignore = ml_ignore_new();
	b->allow = ml_ignore_new();
	for (i = 0; i < 2 && rc == 0; i++) {
		char *p = ml_path_join(b->context, files[i]);

		rc = ml_ignore_add_file(b->ignore, p, err);
		free(p);
	}
	rc = rc ? rc : add_patterns(b->ignore, &cfg->image.ignore, err);
	rc = rc ? rc : add_patterns(b->allow, &cfg->image.allow_credentials, err);
	/* the build's own output never goes into its image; nor, when it writes
	 * none, the default one, so that the image is the same either way */
	out = realpath(b->res->output ? b->res->output : b->default_output, NULL);
	if (rc == 0 && out && !strncmp(out, b->context, cl) && out[cl] == '/') {
		char *pat = ml_asprintf("/%s", out + cl + 1), *tmp = ml_asprintf("/%s.tmp-*", out + cl + 1);

		rc = ml_ignore_add(b->ignore, pat, "output", err);
		if (rc == 0)
			rc = ml_ignore_add(b->ignore, tmp, "output", err);
		free(pat);
		free(tmp);
	}
	free(out);
	return rc;
}

static char *describe_group(const struct group *g)
{
	struct ml_buf b = ML_BUF_INIT;
	size_t i;

	for (i = 0; i < g->n; i++)
		ml_buf_printf(&b, "%s%s -> %s", i ? "; " : "", g->copies[i]->src, g->copies[i]->dst);
	return ml_buf_detach(&b);
}

static struct ml_build_layer *add_result_layer(struct ml_build_result *res)
{
	res->layers = ml_realloc(res->layers, (res->nlayers + 1) * sizeof(*res->layers));
	memset(&res->layers[res->nlayers], 0, sizeof(*res->layers));
	return &res->layers[res->nlayers++];
}

static void add_base_layers(struct build *b)
{
	ml_json *diff_ids = ml_json_get(ml_json_get(b->base.config, "rootfs"), "diff_ids");
	size_t i;

	for (i = 0; i < b->base.nlayers; i++) {
		struct ml_build_layer *l = add_result_layer(b->res);
		const char *d = ml_json_str(ml_json_at(diff_ids, i));

		l->name = ml_strdup("base");
		l->source = ml_strdup(b->base.name);
		l->blob = b->base.layers[i];
		l->blob.media_type = ml_strdup(b->base.layers[i].media_type);
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", d ? d : "");
		l->from_base = 1;
		l->cached = 1;
	}
}

/* image.python: the installed dependencies, one layer between the base and the
 * context's layers, so that code changes never rebuild it. */
static int python_layer(struct build *b, const struct ml_layer_opts *lo, struct ml_error *err)
{
	const char *suffix = b->opts->codec ? b->opts->codec->media_suffix : "";
	struct ml_pydeps_result *py;
	struct ml_build_layer *l;
	int rc;

	if (!b->cfg->image.python.present)
		return 0;
	py = b->res->python = ml_calloc(1, sizeof(*py));
	rc = ml_pydeps_build(b->cfg, b->context, &b->base, lo, py, err);
	if (rc < 0)
		return rc;
	l = add_result_layer(b->res);
	l->name = ml_strdup("python");
	l->source = ml_asprintf("%s (%zu packages)", b->cfg->image.python.requirements, py->npkgs);
	memcpy(l->blob.digest, py->layer.digest, sizeof(py->layer.digest));
	l->blob.size = (int64_t)py->layer.size;
	l->blob.media_type = ml_asprintf("application/vnd.oci.image.layer.v1.tar%s", suffix);
	memcpy(l->diff_id, py->layer.diff_id, sizeof(py->layer.diff_id));
	l->uncompressed_size = py->layer.uncompressed_size;
	l->nfiles = py->layer.nfiles;
	l->cached = py->layer.cached;
	return 0;
}

static int build_layers(struct build *b, const struct ml_layer_opts *lo, struct ml_error *err)
{
	const char *suffix = b->opts->codec ? b->opts->codec->media_suffix : "";
	size_t i;
	int rc;

	for (i = 0; i < b->ngroups; i++) {
		struct group *g = &b->groups[i];
		struct ml_layer_result lr;
		struct ml_build_layer *l;

		rc = ml_layer_build(g->name, g->copies, g->n, lo, &lr, err);
		if (rc < 0)
			return rc;
		l = add_result_layer(b->res);
		l->name = ml_strdup(g->name);
		l->source = describe_group(g);
		memcpy(l->blob.digest, lr.digest, sizeof(lr.digest));
		l->blob.size = (int64_t)lr.size;
		l->blob.media_type = ml_asprintf("application/vnd.oci.image.layer.v1.tar%s", suffix);
		memcpy(l->diff_id, lr.diff_id, sizeof(lr.diff_id));
		l->uncompressed_size = lr.uncompressed_size;
		l->nfiles = lr.nfiles;
		l->cached = lr.cached;
	}
	return 0;
}

static ml_json *annotations(const struct build *b, const char *created)
{
	ml_json *a = ml_json_object_new();
	const struct ml_gitmeta *git = &b->res->git;

	ml_json_set_str(a, "org.opencontainers.image.created", created);
	if (git->present)
		ml_json_set_str(a, "org.opencontainers.image.revision", git->revision);
	if (git->remote_url)
		ml_json_set_str(a, "org.opencontainers.image.source", git->remote_url);
	if (b->base.resolved) {
		ml_json_set_str(a, "org.opencontainers.image.base.name", b->base.name);
		ml_json_set_str(a, "org.opencontainers.image.base.digest", b->base.manifest_digest);
	}
	return a;
}

static int store_json(struct ml_cache *cache, const ml_json *doc, char digest[ML_DIGEST_LEN],
		      int64_t *size, struct ml_error *err)
{
	struct ml_buf buf = ML_BUF_INIT;
	int rc = ml_json_dump(doc, &buf);

	if (rc == 0)
		rc = ml_cache_blob_put(cache, ml_buf_str(&buf), buf.len, digest, err);
	*size = (int64_t)buf.len;
	ml_buf_dispose(&buf);
	return rc;
}

/* Config and manifest documents, stored in the cache as blobs. */
static int write_documents(struct build *b, struct ml_error *err)
{
	struct ml_build_result *res = b->res;
	struct ml_image_step *steps = ml_calloc(res->nlayers + 1, sizeof(*steps));
	struct ml_blob *blobs = ml_calloc(res->nlayers + 1, sizeof(*blobs));
	ml_json *config, *manifest;
	char created[32];
	size_t i, n = 0;
	int rc;

	ml_image_time(res->mtime, created);
	for (i = 0; i < res->nlayers; i++) {
		blobs[i] = res->layers[i].blob;
		if (res->layers[i].from_base)
			continue;
		steps[n].diff_id = res->layers[i].diff_id;
		steps[n].created_by = res->layers[i].source;
		n++;
	}
	config = ml_image_config_new(b->base.config, b->cfg, steps, n, created, &res->git);
	rc = store_json(b->cache, config, res->config_digest, &res->config_size, err);
	manifest = ml_image_manifest_new(res->config_digest, res->config_size, blobs,
					 res->nlayers, annotations(b, created));
	if (rc == 0)
		rc = store_json(b->cache, manifest, res->manifest_digest, &res->manifest_size, err);
	ml_json_free(config);
	ml_json_free(manifest);
	free(steps);
	free(blobs);
	return rc;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* Before any work: the output is renamed over path at the end, which would
 * replace a device node (as root, /dev/null), a FIFO or a symbolic link with a
 * regular file; only a regular file or a new name is accepted. */
static int check_output(const char *path, struct ml_error *err)
{
	struct stat st;

	if (!path[0])
		return ml_error_set(err, ML_EUSAGE, "the output file name is empty");
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return ml_error_errno(err, ML_EUSAGE, errno, "cannot use '%s' as the output", path);
	}
	if (!S_ISREG(st.st_mode))
		return ml_error_set(err, ML_EREFUSED, "refusing to replace '%s', %s, with the image "
				    "(hint: the output must be a regular file or a new name)", path,
				    file_kind(st.st_mode));
	return 0;
}

static char *stamp_key(const char *path)
{
	char *real = realpath(path, NULL);
	char d[ML_DIGEST_LEN];

	ml_sha256_digest(real ? real : path, strlen(real ? real : path), d);
	free(real);
	return ml_strdup(ml_digest_hex(d));
}

/* An output file is up to date when the stamp written with it still describes it. */
static int output_up_to_date(struct build *b)
{
	char *key = stamp_key(b->res->output);
	ml_json *rec = ml_cache_record_get(b->cache, "outputs", key);
	struct stat st;
	int64_t size = -1, ino = -1, mtime = -1, format = -1;
	int ok;

	ml_json_get_int(rec, "size", &size);
	ml_json_get_int(rec, "ino", &ino);
	ml_json_get_int(rec, "mtime_ns", &mtime);
	ml_json_get_int(rec, "format", &format);
	ok = rec && stat(b->res->output, &st) == 0 &&
	     ml_json_get_str(rec, "manifest") &&
	     !strcmp(ml_json_get_str(rec, "manifest"), b->res->manifest_digest) &&
	     ml_json_get_str(rec, "name") && !strcmp(ml_json_get_str(rec, "name"), b->res->image_name) &&
	     st.st_size == size && (int64_t)st.st_ino == ino && format == (int64_t)b->opts->format &&
	     (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == mtime;
	ml_json_free(rec);
	free(key);
	return ok;
}

static void write_stamp(struct build *b)
{
	char *key = stamp_key(b->res->output);
	ml_json *rec = ml_json_object_new();
	struct stat st;

	if (stat(b->res->output, &st) == 0) {
		ml_json_set_str(rec, "manifest", b->res->manifest_digest);
		ml_json_set_str(rec, "name", b->res->image_name);
		ml_json_set_int(rec, "size", st.st_size);
		ml_json_set_int(rec, "ino", (int64_t)st.st_ino);
		ml_json_set_int(rec, "format", (int64_t)b->opts->format);
		ml_json_set_int(rec, "mtime_ns", (int64_t)st.st_mtim.tv_sec * 1000000000LL +
				st.st_mtim.tv_nsec);
		ml_cache_record_put(b->cache, "outputs", key, rec, NULL);
	}
	ml_json_free(rec);
	free(key);
}

static int write_output(struct build *b, struct ml_error *err)
{
	struct ml_build_result *res = b->res;
	struct ml_blob *blobs;
	struct ml_layout l = { 0 };
	char os[32] = "linux", arch[32] = "amd64";
	size_t i;
	int rc;

	if (!b->opts->no_cache && output_up_to_date(b)) {
		res->up_to_date = 1;
		return 0;
	}
	blobs = ml_calloc(res->nlayers + 1, sizeof(*blobs));
	for (i = 0; i < res->nlayers; i++)
		blobs[i] = res->layers[i].blob;
	sscanf(b->cfg->image.platform ? b->cfg->image.platform : "linux/amd64", "%31[^/]/%31[^/]",
	       os, arch);
	l.format = b->opts->format;
	l.path = res->output;
	l.manifest_digest = res->manifest_digest;
	l.manifest_size = res->manifest_size;
	l.config_digest = res->config_digest;
	l.config_size = res->config_size;
	l.layers = blobs;
	l.nlayers = res->nlayers;
	l.tag = res->tag;
	l.image_name = res->image_name;
	l.platform_os = os;
	l.platform_arch = arch;
	l.mtime = res->mtime;
	rc = ml_layout_write(&l, b->cache, err);
	if (rc == 0)
		write_stamp(b);
	free(blobs);
	return rc;
}

static void reset_attempt(struct build *b)
{
	size_t i;

	for (i = 0; i < b->res->nlayers; i++) {
		free(b->res->layers[i].name);
		free(b->res->layers[i].source);
		free(b->res->layers[i].blob.media_type);
	}
	free(b->res->layers);
	b->res->layers = NULL;
	b->res->nlayers = 0;
	free(b->res->base_resolved);
	b->res->base_resolved = NULL;
	if (b->res->python)
		ml_pydeps_result_dispose(b->res->python);
	free(b->res->python);
	b->res->python = NULL;
	ml_base_dispose(&b->base);
}

/* oci-layout:DIR and docker-archive:FILE are relative to the context directory. */
static char *local_base_path(const struct ml_config *cfg)
{
	static const char *const kinds[] = { "oci-layout:", "docker-archive:" };
	const char *spec = cfg->image.base;
	size_t i, n;

	for (i = 0; i < 2; i++) {
		n = strlen(kinds[i]);
		if (!strncmp(spec, kinds[i], n) && spec[n] != '/') {
			char *joined = ml_path_join(cfg->dir, spec + n), *out;

			out = ml_asprintf("%s%s", kinds[i], joined);
			free(joined);
			return out;
		}
	}
	return ml_strdup(spec);
}

int ml_build_python_target(const struct ml_config *cfg, struct ml_pytarget_info *t,
			   struct ml_error *err)
{
	struct ml_cache *cache = NULL;
	struct ml_base base = { 0 };
	char *spec = local_base_path(cfg);
	int rc;

	memset(t, 0, sizeof(*t));
	rc = ml_cache_open(&cache, err);
	if (rc == 0)
		rc = ml_base_resolve(&base, spec, cfg->image.platform, cache, err);
	if (rc == 0)
		rc = ml_pydeps_target(cfg, &base, cache, t, err);
	ml_base_dispose(&base);
	ml_cache_free(cache);
	free(spec);
	return rc;
}

static int attempt(struct build *b, struct ml_error *err)
{
	struct ml_layer_opts lo = { 0 };
	char *base;
	int rc;

	base = local_base_path(b->cfg);
	rc = ml_base_resolve(&b->base, base, b->cfg->image.platform, b->cache, err);
	free(base);
	if (rc < 0)
		return rc;
	b->res->base_resolved = ml_strdup(b->base.resolved);
	add_base_layers(b);
	lo.context = b->context;
	lo.ignore = b->ignore;
	lo.allow = b->allow;
	lo.mtime = b->res->mtime;
	lo.codec = b->opts->codec;
	lo.level = b->opts->level;
	lo.threads = b->opts->threads;
	lo.cache = b->cache;
	lo.reuse = !b->opts->no_cache;
	clock_gettime(CLOCK_REALTIME, &lo.now);
	rc = python_layer(b, &lo, err);
	if (rc == 0)
		rc = build_layers(b, &lo, err);
	if (rc == 0)
		rc = write_documents(b, err);
	if (rc == 0 && !b->opts->no_output)
		rc = write_output(b, err);
	return rc;
}

static void set_names(struct build *b)
{
	const struct ml_gitmeta *git = &b->res->git;
	const char *repo = b->cfg->image.repository ? b->cfg->image.repository : b->cfg->name;

	if (b->opts->tag)
		b->res->tag = ml_strdup(b->opts->tag);
	else if (git->present)
		b->res->tag = ml_asprintf("%s%s", git->short_rev, git->dirty ? "-dirty" : "");
	else
		b->res->tag = ml_strdup("latest");
	b->res->image_name = ml_asprintf("%s:%s", repo, b->res->tag);
}

int ml_build_run(const struct ml_build_opts *opts, struct ml_build_result *res,
		 struct ml_error *err)
{
	struct build b = { .opts = opts, .cfg = opts->cfg, .res = res };
	size_t i;
	int rc;

	memset(res, 0, sizeof(*res));
	b.context = realpath(opts->cfg->dir, NULL);
	if (!b.context)
		return ml_error_errno(err, ML_EUSAGE, errno, "build context '%s'", opts->cfg->dir);
	b.default_output = ml_build_default_output(opts->cfg);
	if (!opts->no_output)
		res->output = ml_strdup(opts->output ? opts->output : b.default_output);
	rc = res->output ? check_output(res->output, err) : 0;
	if (rc == 0)
		rc = ml_cache_open(&b.cache, err);
	if (rc == 0)
		rc = ml_gitmeta_read(&res->git, b.context, err);
	if (rc == 0)
		rc = ml_build_mtime(&res->git, &res->mtime, &res->mtime_source, err);
	if (rc == 0)
		rc = setup_ignore(&b, err);
	if (rc < 0)
		goto out;
	set_names(&b);
	group_copies(&b);
	rc = attempt(&b, err);
	if (rc == -ML_ECACHE) {
		ml_log(ML_LOG_WARN, "%s; building again", err ? err->msg : "a cached blob was lost");
		reset_attempt(&b);
		rc = attempt(&b, err);
	}
out:
	for (i = 0; i < b.ngroups; i++) {
		free(b.groups[i].name);
		free(b.groups[i].copies);
	}
	free(b.groups);
	ml_base_dispose(&b.base);
	ml_ignore_free(b.ignore);
	ml_ignore_free(b.allow);
	ml_cache_free(b.cache);
	free(b.context);
	free(b.default_output);
	return rc;
}

void ml_build_result_dispose(struct ml_build_result *res)
{
	size_t i;

	for (i = 0; i < res->nlayers; i++) {
		free(res->layers[i].name);
		free(res->layers[i].source);
		free(res->layers[i].blob.media_type);
	}
	free(res->layers);
	free(res->output);
	free(res->image_name);
	free(res->tag);
	free(res->base_resolved);
	if (res->python)
		ml_pydeps_result_dispose(res->python);
	free(res->python);
	ml_gitmeta_dispose(&res->git);
	memset(res, 0, sizeof(*res));
}
