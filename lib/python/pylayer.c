#include "python/pylayer.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/parallel.h"
#include "python/pylayer-internal.h"
#include "python/pyindex.h"
#include "python/pyreq.h"
#include "python/pytags.h"
#include "python/pyver.h"
#include "python/wheel.h"

/* Bump when what a resolution or an installed layer holds changes. */
#define RESOLVE_FORMAT "mldeploy-pyresolve-v1"
#define PYLAYER_FORMAT "mldeploy-pylayer-v1"
#define LAYER_NAME "python"

void ml_py_strs_add(char ***v, size_t *n, char *s)
{
	*v = ml_realloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}


static int is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

static int load_requirements(struct ml_pylayer_run *r, struct ml_error *err)
{
	const struct ml_pos *p = &r->cfg->image.python.requirements_pos;
	struct stat st;

	r->req_path = ml_path_join(r->context, r->cfg->image.python.requirements);
	r->req_display = ml_path_join(r->cfg->dir, r->cfg->image.python.requirements);
	if (stat(r->req_path, &st) < 0 || !S_ISREG(st.st_mode))
		return ml_error_set(err, ML_ECONFIG, "%s:%d:%d: image.python.requirements '%s' is not "
				    "a file of the build context (hint: `pip freeze > %s` writes one)",
				    p->file ? p->file : "deploy.yaml", p->line, p->column,
				    r->cfg->image.python.requirements,
				    r->cfg->image.python.requirements);
	return ml_pyreqs_load(r->req_display, &r->env, &r->reqs, err);
}

/* Indexes: $MLDEPLOY_PYTHON_INDEX, else image.python.index, else the file's
 * --index-url, else PyPI; then the extra indexes of both. find-links: deploy.yaml's
 * (context-relative), then the file's (relative to the file). */
static void gather_sources(struct ml_pylayer_run *r)
{
	const char *env = getenv("MLDEPLOY_PYTHON_INDEX");
	const struct ml_strv *ex = &r->cfg->image.python.extra_index, *fl = &r->cfg->image.python.find_links;
	char *req_dir = ml_dirname(r->req_path);
	size_t i;

	if (!r->reqs.no_index) {
		ml_py_strs_add(&r->indexes, &r->nindexes,
			 ml_strdup(env && *env ? env : r->cfg->image.python.index ?
				   r->cfg->image.python.index : r->reqs.index_url ? r->reqs.index_url :
				   ML_PYDEPS_DEFAULT_INDEX));
		for (i = 0; i < ex->n; i++)
			ml_py_strs_add(&r->indexes, &r->nindexes, ml_strdup(ex->v[i]));
		for (i = 0; i < r->reqs.nextra_index_urls; i++)
			ml_py_strs_add(&r->indexes, &r->nindexes, ml_strdup(r->reqs.extra_index_urls[i]));
	}
	for (i = 0; i < fl->n; i++)
		ml_py_strs_add(&r->links, &r->nlinks, ml_path_join(r->context, fl->v[i]));
	for (i = 0; i < r->reqs.nfind_links; i++) {
		const char *f = r->reqs.find_links[i];

		ml_py_strs_add(&r->links, &r->nlinks, is_url(f) || f[0] == '/' ? ml_strdup(f) :
			 ml_path_join(req_dir, f));
	}
	free(req_dir);
}

static void key_add(struct ml_sha256 *h, const char *s)
{
	ml_sha256_update(h, s ? s : "-", strlen(s ? s : "-") + 1);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a find-links directory holds, for the resolution key. */
static void key_add_dir(struct ml_sha256 *h, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".whl"))
			ml_py_strs_add(&names, &n, ml_strdup(de->d_name));
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), str_cmp);
	for (i = 0; i < n; i++) {
		char *p = ml_path_join(dir, names[i]), *line;
		struct stat st;

		if (stat(p, &st) == 0) {
			line = ml_asprintf("%s %lld %lld.%09ld %llu", names[i], (long long)st.st_size,
					   (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
					   (unsigned long long)st.st_ino);
			key_add(h, line);
			free(line);
		}
		free(p);
	}
	ml_free_strings(names, n);
}

/* The pinned set as parsed (markers applied), so that comments and layout do not
 * count; the indexes and find-links it names are in the sources. */
static void key_add_reqs(struct ml_sha256 *h, const struct ml_pyreqs *reqs)
{
	size_t i, k;

	for (i = 0; i < reqs->n; i++) {
		const struct ml_pyreq *q = &reqs->v[i];

		key_add(h, q->normalized);
		key_add(h, q->version);
		for (k = 0; k < q->nextras; k++)
			key_add(h, q->extras[k]);
		key_add(h, ";");
		for (k = 0; k < q->nhashes; k++)
			key_add(h, q->hashes[k]);
		key_add(h, ";");
	}
}

static void resolve_key(const struct ml_pylayer_run *r, char key[ML_DIGEST_LEN])
{
	struct ml_sha256 *h = ml_sha256_new();
	size_t i;

	key_add(h, RESOLVE_FORMAT);
	key_add_reqs(h, &r->reqs);
	key_add(h, r->res->target.python_full_version);
	for (i = 0; i < r->res->target.ntags; i++)
		key_add(h, r->res->target.tags[i]);
	for (i = 0; i < r->nindexes; i++)
		key_add(h, r->indexes[i]);
	for (i = 0; i < r->nlinks; i++) {
		key_add(h, r->links[i]);
		if (!is_url(r->links[i]))
			key_add_dir(h, r->links[i]);
	}
	ml_sha256_final(h, key);
	ml_sha256_free(h);
}

void ml_pypkg_dispose(struct ml_pypkg *p)
{
	free(p->name);
	free(p->normalized);
	free(p->version);
	free(p->wheel);
	free(p->source);
	free(p->path);
}

/* A package as JSON: for --json, and (with where it is) for the resolution record. */
static ml_json *pkg_json(const struct ml_pypkg *p, int record)
{
	ml_json *o = ml_json_object_new();

	ml_json_set_str(o, "name", p->name);
	if (record)
		ml_json_set_str(o, "normalized", p->normalized);
	ml_json_set_str(o, "version", p->version);
	ml_json_set_str(o, "wheel", p->wheel);
	ml_json_set_str(o, "source", p->source);
	ml_json_set_str(o, "digest", p->digest);
	ml_json_set_int(o, "size", p->size);
	if (record)
		ml_json_set_str(o, "path", p->path);
	return o;
}

static ml_json *pkgs_json(const struct ml_pydeps_result *res, int record)
{
	ml_json *arr = ml_json_array_new();
	size_t i;

	for (i = 0; i < res->npkgs; i++)
		ml_json_append(arr, pkg_json(&res->pkgs[i], record));
	return arr;
}

static void record_resolution(const struct ml_pylayer_run *r, const char *keyhex)
{
	ml_json *rec = ml_json_object_new();

	ml_json_set(rec, "packages", pkgs_json(r->res, 1));
	ml_cache_record_put(r->lo->cache, "pyresolve", keyhex, rec, NULL);
	ml_json_free(rec);
}

/* A recorded resolution is usable while every wheel it names is still where it was. */
static int resolved_from_cache(struct ml_pylayer_run *r, const char *keyhex)
{
	ml_json *rec = ml_cache_record_get(r->lo->cache, "pyresolve", keyhex), *arr;
	struct ml_pydeps_result *res = r->res;
	size_t i, n;
	int ok = 1;

	if (!rec)
		return 0;
	arr = ml_json_get(rec, "packages");
	n = ml_json_size(arr);
	res->pkgs = ml_calloc(n + 1, sizeof(*res->pkgs));
	for (i = 0; i < n && ok; i++) {
		ml_json *o = ml_json_at(arr, i);
		struct ml_pypkg *p = &res->pkgs[res->npkgs];
		const char *d = ml_json_get_str(o, "digest");
		struct stat st;

		res->npkgs++;
		p->name = ml_strdup(ml_json_get_str(o, "name"));
		p->normalized = ml_strdup(ml_json_get_str(o, "normalized"));
		p->version = ml_strdup(ml_json_get_str(o, "version"));
		p->wheel = ml_strdup(ml_json_get_str(o, "wheel"));
		p->source = ml_strdup(ml_json_get_str(o, "source"));
		p->path = ml_strdup(ml_json_get_str(o, "path"));
		ml_json_get_int(o, "size", &p->size);
		ok = p->name && p->normalized && p->version && p->wheel && p->path &&
		     ml_digest_valid(d) && stat(p->path, &st) == 0 && st.st_size == p->size;
		if (ok)
			snprintf(p->digest, sizeof(p->digest), "%s", d);
	}
	ml_json_free(rec);
	if (!ok) {
		for (i = 0; i < res->npkgs; i++)
			ml_pypkg_dispose(&res->pkgs[i]);
		free(res->pkgs);
		res->pkgs = NULL;
		res->npkgs = 0;
	}
	return ok;
}

/* ---- the layer ---- */

static void layer_key(const struct ml_pylayer_run *r, char key[ML_DIGEST_LEN])
{
	const struct ml_pydeps_result *res = r->res;
	const struct ml_pybase *b = &res->target.base;
	struct ml_sha256 *h = ml_sha256_new();
	char num[64];
	size_t i;

	key_add(h, PYLAYER_FORMAT);
	key_add(h, b->site_packages);
	key_add(h, b->scripts);
	key_add(h, b->prefix);
	key_add(h, b->interpreter);
	snprintf(num, sizeof(num), "%d.%d %lld %d", b->py_major, b->py_minor,
		 (long long)r->lo->mtime, r->lo->level);
	key_add(h, num);
	key_add(h, r->lo->codec ? r->lo->codec->name : "none");
	for (i = 0; i < res->npkgs; i++) {
		key_add(h, res->pkgs[i].wheel);
		key_add(h, res->pkgs[i].digest);
	}
	ml_sha256_final(h, key);
	ml_sha256_free(h);
}

struct install {
	struct ml_pydeps_result *res;
	struct ml_wheel_scheme scheme;		/* root set per wheel */
	char **roots;				/* one staging root per wheel, in name order */
	size_t *order;				/* largest wheel first, to balance the threads */
	uint64_t done;				/* bytes of wheels installed (atomic) */
};

static int install_one(void *ud, size_t k, struct ml_error *err)
{
	struct install *in = ud;
	size_t i = in->order[k];
	struct ml_wheel_scheme s = in->scheme;
	struct ml_wheel_installed inst = { 0 };
	int rc;

	s.root = in->roots[i];
	rc = ml_mkdirs(s.root, err);
	if (rc == 0)
		rc = ml_wheel_install(in->res->pkgs[i].path, in->res->pkgs[i].wheel, &s, &inst, err);
	ml_progress_update("python-install",
			   __atomic_add_fetch(&in->done, (uint64_t)in->res->pkgs[i].size,
					      __ATOMIC_RELAXED));
	return rc;
}

struct by_size {
	int64_t size;
	size_t i;
};

static int bigger_first(const void *a, const void *b)
{
	const struct by_size *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->i < y->i ? -1 : 1;
}

/* Every wheel is installed into a staging root of its own, in parallel; the layer is
 * made from the roots in name order, so that when two packages hold the same file the
 * outcome does not depend on timing. */
static int install_all(struct ml_pylayer_run *r, const char *keyhex, struct ml_error *err)
{
	struct ml_pydeps_result *res = r->res;
	const struct ml_pybase *b = &res->target.base;
	char *stage = NULL;
	char *headers = ml_asprintf("%s/include/python%d.%d", b->prefix, b->py_major, b->py_minor);
	struct install in = {
		.res = res,
		.scheme = {
			.purelib = b->site_packages,
			.platlib = b->site_packages,
			.scripts = b->scripts,
			.data = b->prefix,
			.headers = headers,
			.interpreter = b->interpreter,
		},
	};
	struct by_size *sizes;
	uint64_t total = 0;
	size_t i;
	int rc, jobs = r->lo->threads > 0 ? r->lo->threads : ml_parallel_cpus();

	rc = ml_cache_tmp_dir(r->lo->cache, &stage, err);
	if (rc < 0)
		goto out;
	in.roots = ml_calloc(res->npkgs + 1, sizeof(*in.roots));
	in.order = ml_calloc(res->npkgs + 1, sizeof(*in.order));
	sizes = ml_calloc(res->npkgs + 1, sizeof(*sizes));
	for (i = 0; i < res->npkgs; i++) {
		in.roots[i] = ml_asprintf("%s/%04zu", stage, i);
		sizes[i].size = res->pkgs[i].size;
		sizes[i].i = i;
		total += (uint64_t)res->pkgs[i].size;
	}
	qsort(sizes, res->npkgs, sizeof(*sizes), bigger_first);
	for (i = 0; i < res->npkgs; i++)
		in.order[i] = sizes[i].i;
	free(sizes);
	ml_progress_start("python-install", "installing wheels", total);
	rc = ml_parallel_for(res->npkgs, jobs, install_one, &in, err);
	ml_progress_finish("python-install", rc < 0 ? "failed" : "installed");
	if (rc == 0)
		rc = ml_layer_build_tree(LAYER_NAME, in.roots, res->npkgs, keyhex, r->lo, &res->layer,
					 err);
	ml_remove_tree(stage);
	for (i = 0; i < res->npkgs; i++)
		free(in.roots[i]);
	free(in.roots);
	free(in.order);
out:
	free(stage);
	free(headers);
	return rc;
}

static void run_dispose(struct ml_pylayer_run *r)
{
	free(r->req_path);
	free(r->req_display);
	ml_pyreqs_dispose(&r->reqs);
	ml_free_strings(r->indexes, r->nindexes);
	ml_free_strings(r->links, r->nlinks);
	ml_pyindex_free(r->ix);
}

int ml_pydeps_build(const struct ml_config *cfg, const char *context, const struct ml_base *base,
		    const struct ml_layer_opts *lo, struct ml_pydeps_result *res,
		    struct ml_error *err)
{
	struct ml_pylayer_run r = { .cfg = cfg, .context = context, .lo = lo, .res = res };
	struct ml_pytarget_info *t = &res->target;
	char rkey[ML_DIGEST_LEN], lkey[ML_DIGEST_LEN];
	int rc;

	memset(res, 0, sizeof(*res));
	res->requirements = ml_strdup(cfg->image.python.requirements);
	rc = ml_pydeps_target(cfg, base, lo->cache, t, err);
	if (rc < 0)
		goto out;
	snprintf(r.py_version, sizeof(r.py_version), "%d.%d", t->base.py_major, t->base.py_minor);
	r.env.python_version = r.py_version;
	r.env.python_full_version = t->python_full_version;
	r.env.implementation_name = "cpython";
	r.env.implementation_version = t->python_full_version;
	r.env.platform_python_implementation = "CPython";
	r.env.os_name = "posix";
	r.env.sys_platform = "linux";
	r.env.platform_system = "Linux";
	r.env.platform_machine = t->arch;
	r.env.platform_release = "";
	r.env.platform_version = "";
	rc = load_requirements(&r, err);
	if (rc < 0)
		goto out;
	gather_sources(&r);
	resolve_key(&r, rkey);
	if (lo->reuse && resolved_from_cache(&r, ml_digest_hex(rkey))) {
		res->resolved_cached = 1;
		ml_log(ML_LOG_INFO, "python: %zu packages, resolved before", res->npkgs);
	} else {
		rc = ml_pylayer_resolve(&r, err);
		if (rc < 0)
			goto out;
		record_resolution(&r, ml_digest_hex(rkey));
	}
	layer_key(&r, lkey);
	if (lo->reuse && ml_layer_lookup(lo, ml_digest_hex(lkey), &res->layer)) {
		ml_log(ML_LOG_INFO, "layer %s: unchanged, reusing %s", LAYER_NAME, res->layer.digest);
		goto out;
	}
	rc = install_all(&r, ml_digest_hex(lkey), err);
out:
	run_dispose(&r);
	return rc;
}

void ml_pydeps_result_dispose(struct ml_pydeps_result *res)
{
	size_t i;

	ml_pytarget_info_dispose(&res->target);
	for (i = 0; i < res->npkgs; i++)
		ml_pypkg_dispose(&res->pkgs[i]);
	free(res->pkgs);
	free(res->requirements);
	memset(res, 0, sizeof(*res));
}

ml_json *ml_pydeps_json(const struct ml_pydeps_result *res)
{
	ml_json *o = ml_pytarget_json(&res->target);

	ml_json_set_str(o, "requirements", res->requirements);
	ml_json_set(o, "resolved_from_cache", ml_json_bool_new(res->resolved_cached));
	ml_json_set(o, "packages", pkgs_json(res, 0));
	return o;
}
