#include "pydeps.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "parallel.h"
#include "pyindex.h"
#include "pyreq.h"
#include "pytags.h"
#include "pyver.h"
#include "wheel.h"

/* Bump when what a resolution or an installed layer holds changes. */
#define RESOLVE_FORMAT "mldeploy-pyresolve-v1"
#define PYLAYER_FORMAT "mldeploy-pylayer-v1"
#define REQ_MAX (16u << 20)
#define LAYER_NAME "python"

/* ---- the target ---- */

static char *full_version(const struct ml_base *base, int major, int minor)
{
	ml_json *env = ml_json_get(ml_json_get(base->config, "config"), "Env");
	char want[32];
	size_t i, wl;

	wl = (size_t)snprintf(want, sizeof(want), "PYTHON_VERSION=%d.%d.", major, minor);
	for (i = 0; i < ml_json_size(env); i++) {
		const char *e = ml_json_str(ml_json_at(env, i));

		if (e && !strncmp(e, want, wl) && e[wl] >= '0' && e[wl] <= '9')
			return ml_strdup(e + strlen("PYTHON_VERSION="));
	}
	return ml_asprintf("%d.%d.0", major, minor);
}

/* The platform-specific tags re-made for the platforms the user named: every
 * interpreter-abi pair in its order, times those platforms, then the -any tags. */
static void retarget(char ***tags, size_t *n, const struct ml_strv *platforms)
{
	char **out = NULL, **pairs = NULL;
	size_t nout = 0, aout = 0, npairs = 0, apairs = 0, i, k;

	for (i = 0; i < *n; i++) {
		const char *t = (*tags)[i], *dash = strrchr(t, '-');
		char *pair;

		if (!dash || !strcmp(dash, "-any"))
			continue;
		pair = ml_strndup(t, (size_t)(dash - t));
		for (k = 0; k < npairs && strcmp(pairs[k], pair); k++)
			;
		if (k < npairs) {
			free(pair);
			continue;
		}
		pairs = ml_grow(pairs, &apairs, npairs + 1, sizeof(*pairs));
		pairs[npairs++] = pair;
	}
	for (i = 0; i < npairs; i++)
		for (k = 0; k < platforms->n; k++) {
			out = ml_grow(out, &aout, nout + 1, sizeof(*out));
			out[nout++] = ml_asprintf("%s-%s", pairs[i], platforms->v[k]);
		}
	for (i = 0; i < *n; i++) {
		const char *dash = strrchr((*tags)[i], '-');

		if (dash && !strcmp(dash, "-any")) {
			out = ml_grow(out, &aout, nout + 1, sizeof(*out));
			out[nout++] = ml_strdup((*tags)[i]);
		}
	}
	ml_pytags_free(pairs, npairs);
	ml_pytags_free(*tags, *n);
	*tags = out;
	*n = nout;
}

int ml_pydeps_target(const struct ml_config *cfg, const struct ml_base *base,
		     struct ml_cache *cache, struct ml_pytarget_info *t, struct ml_error *err)
{
	char os[32] = "linux", arch[32] = "amd64", variant[32] = "";
	struct ml_pytarget pt = { 0 };
	const char *machine;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = ml_pybase_detect(base, cache, cfg->image.python.version,
			      cfg->image.python.site_packages, &t->base, err);
	if (rc < 0)
		return rc;
	sscanf(cfg->image.platform ? cfg->image.platform : "linux/amd64", "%31[^/]/%31[^/]/%31s",
	       os, arch, variant);
	machine = ml_pytags_arch(arch, variant[0] ? variant : NULL);
	if (!machine)
		return ml_error_set(err, ML_ECONFIG, "no Python wheels exist for the platform '%s' "
				    "(hint: use linux/amd64 or linux/arm64)", cfg->image.platform);
	t->arch = ml_strdup(machine);
	pt.py_major = t->base.py_major;
	pt.py_minor = t->base.py_minor;
	pt.arch = t->arch;
	pt.libc = t->base.libc_found ? t->base.libc : ML_LIBC_GLIBC;
	pt.libc_major = t->base.libc_found ? t->base.libc_major : 2;
	pt.libc_minor = t->base.libc_found ? t->base.libc_minor : 17;
	rc = ml_pytags_for(&pt, &t->tags, &t->ntags, err);
	if (rc < 0)
		return rc;
	if (cfg->image.python.platform_tags.n) {
		retarget(&t->tags, &t->ntags, &cfg->image.python.platform_tags);
	} else if (!t->base.libc_found) {
		struct ml_strv none = { 0 };

		retarget(&t->tags, &t->ntags, &none);
	}
	t->python_full_version = full_version(base, t->base.py_major, t->base.py_minor);
	if (cfg->image.python.platform_tags.n)
		t->describe = ml_asprintf("CPython %d.%d, %s, platform tags %s%s", pt.py_major,
					  pt.py_minor, t->arch, cfg->image.python.platform_tags.v[0],
					  cfg->image.python.platform_tags.n > 1 ? ", ..." : "");
	else if (t->base.libc_found)
		t->describe = ml_asprintf("CPython %d.%d, %s %d.%d, %s", pt.py_major, pt.py_minor,
					  pt.libc == ML_LIBC_MUSL ? "musl" : "glibc", pt.libc_major,
					  pt.libc_minor, t->arch);
	else
		t->describe = ml_asprintf("CPython %d.%d, %s, no C library found (pure-Python wheels "
					  "only)", pt.py_major, pt.py_minor, t->arch);
	return 0;
}

void ml_pytarget_info_dispose(struct ml_pytarget_info *t)
{
	ml_pybase_dispose(&t->base);
	free(t->arch);
	ml_pytags_free(t->tags, t->ntags);
	free(t->python_full_version);
	free(t->describe);
	memset(t, 0, sizeof(*t));
}

/* ---- one build ---- */

struct run {
	const struct ml_config *cfg;
	const char *context;
	const struct ml_layer_opts *lo;
	struct ml_pydeps_result *res;
	struct ml_pyenv env;
	char py_version[16];
	char *req_path;			/* on this machine */
	char *req_display;		/* for messages */
	struct ml_buf req_text;
	struct ml_pyreqs reqs;
	char **indexes;
	size_t nindexes;
	char **links;
	size_t nlinks;
	struct ml_pyindex *ix;
};

static void strs_add(char ***v, size_t *n, char *s)
{
	*v = ml_realloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

static void strs_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

static int load_requirements(struct run *r, struct ml_error *err)
{
	const struct ml_pos *p = &r->cfg->image.python.requirements_pos;
	struct stat st;
	int rc;

	r->req_path = ml_path_join(r->context, r->cfg->image.python.requirements);
	r->req_display = ml_path_join(r->cfg->dir, r->cfg->image.python.requirements);
	if (stat(r->req_path, &st) < 0 || !S_ISREG(st.st_mode))
		return ml_error_set(err, ML_ECONFIG, "%s:%d:%d: image.python.requirements '%s' is not "
				    "a file of the build context (hint: `pip freeze > %s` writes one)",
				    p->file ? p->file : "deploy.yaml", p->line, p->column,
				    r->cfg->image.python.requirements,
				    r->cfg->image.python.requirements);
	ml_buf_init(&r->req_text, REQ_MAX);
	rc = ml_read_file(r->req_path, REQ_MAX, &r->req_text, err);
	if (rc == 0)
		rc = ml_pyreqs_parse(r->req_display, ml_buf_str(&r->req_text), r->req_text.len, &r->env,
				     &r->reqs, err);
	return rc;
}

/* Indexes: $MLDEPLOY_PYTHON_INDEX, else image.python.index, else the file's
 * --index-url, else PyPI; then the extra indexes of both. find-links: deploy.yaml's
 * (context-relative), then the file's (relative to the file). */
static void gather_sources(struct run *r)
{
	const char *env = getenv("MLDEPLOY_PYTHON_INDEX");
	const struct ml_strv *ex = &r->cfg->image.python.extra_index, *fl = &r->cfg->image.python.find_links;
	char *req_dir = ml_dirname(r->req_path);
	size_t i;

	if (!r->reqs.no_index) {
		strs_add(&r->indexes, &r->nindexes,
			 ml_strdup(env && *env ? env : r->cfg->image.python.index ?
				   r->cfg->image.python.index : r->reqs.index_url ? r->reqs.index_url :
				   ML_PYDEPS_DEFAULT_INDEX));
		for (i = 0; i < ex->n; i++)
			strs_add(&r->indexes, &r->nindexes, ml_strdup(ex->v[i]));
		for (i = 0; i < r->reqs.nextra_index_urls; i++)
			strs_add(&r->indexes, &r->nindexes, ml_strdup(r->reqs.extra_index_urls[i]));
	}
	for (i = 0; i < fl->n; i++)
		strs_add(&r->links, &r->nlinks, ml_path_join(r->context, fl->v[i]));
	for (i = 0; i < r->reqs.nfind_links; i++) {
		const char *f = r->reqs.find_links[i];

		strs_add(&r->links, &r->nlinks, is_url(f) || f[0] == '/' ? ml_strdup(f) :
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
			strs_add(&names, &n, ml_strdup(de->d_name));
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
	strs_free(names, n);
}

static void resolve_key(const struct run *r, char key[ML_DIGEST_LEN])
{
	struct ml_sha256 *h = ml_sha256_new();
	size_t i;

	key_add(h, RESOLVE_FORMAT);
	ml_sha256_update(h, r->req_text.data, r->req_text.len);
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

static void pkg_dispose(struct ml_pypkg *p)
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

/* A recorded resolution is usable while every wheel it names is still where it was. */
static int resolved_from_cache(struct run *r, const char *keyhex)
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
			pkg_dispose(&res->pkgs[i]);
		free(res->pkgs);
		res->pkgs = NULL;
		res->npkgs = 0;
	}
	return ok;
}

static void sources_text(const struct run *r, struct ml_buf *b)
{
	size_t i;

	for (i = 0; i < r->nindexes + r->nlinks; i++) {
		char *d = ml_pyindex_display(i < r->nindexes ? r->indexes[i] : r->links[i - r->nindexes]);

		ml_buf_printf(b, "%s%s", i ? ", " : "", d);
		free(d);
	}
	if (!r->nindexes && !r->nlinks)
		ml_buf_adds(b, "no index (--no-index and no find-links)");
}

static int has_hash(const struct ml_pyreq *q, const char *hex)
{
	size_t i;

	for (i = 0; i < q->nhashes; i++)
		if (!strcmp(q->hashes[i] + strlen("sha256:"), hex))
			return 1;
	return 0;
}

static int python_ok(const struct run *r, const char *requires_python)
{
	if (!requires_python || !*requires_python)
		return 1;
	return ml_pyspec_match(requires_python, r->res->target.python_full_version, NULL) != 0;
}

/* "cp311-cp311-manylinux_2_36_x86_64, cp311-cp311-manylinux_2_35_x86_64, ..., py3-none-any" */
static void tags_text(const struct ml_pytarget_info *t, struct ml_buf *b)
{
	size_t i;

	for (i = 0; i < t->ntags && i < 2; i++)
		ml_buf_printf(b, "%s%s", i ? ", " : "", t->tags[i]);
	if (t->ntags > 2)
		ml_buf_adds(b, ", ...");
	for (i = 2; i < t->ntags; i++)
		if (!strcmp(t->tags[i], "py3-none-any"))
			ml_buf_adds(b, ", py3-none-any");
}

static int no_wheel_error(const struct run *r, const struct ml_pyreq *q,
			  const struct ml_pyfile *files, size_t n, struct ml_error *err)
{
	struct ml_buf seen = ML_BUF_INIT, src = ML_BUF_INIT, versions = ML_BUF_INIT, tags = ML_BUF_INIT;
	size_t i, shown = 0, nversion = 0;
	int rc;

	sources_text(r, &src);
	tags_text(&r->res->target, &tags);
	for (i = 0; i < n; i++) {
		struct ml_wheelname w;

		if (ml_wheelname_parse(files[i].filename, &w, NULL) < 0)
			continue;
		if (ml_pyver_cmp(w.version, q->version) == 0) {
			nversion++;
			if (shown++ < 8)
				ml_buf_printf(&seen, "%s%s", shown > 1 ? ", " : "", files[i].filename);
		} else if (!strstr(ml_buf_str(&versions), w.version) && versions.len < 200) {
			ml_buf_printf(&versions, "%s%s", versions.len ? ", " : "", w.version);
		}
		ml_wheelname_dispose(&w);
	}
	if (!n)
		rc = ml_error_set(err, ML_ENOTFOUND, "%s:%d:%d: no wheel of '%s' on %s (hint: check "
				  "the name, or add the index that has it with image.python.index or "
				  "extra_index, or a directory of wheels with find_links)",
				  r->req_display, q->line, q->column, q->name, ml_buf_str(&src));
	else if (!nversion)
		rc = ml_error_set(err, ML_ENOTFOUND, "%s:%d:%d: no wheel of %s==%s on %s; it has %s "
				  "(hint: pin a version that exists)", r->req_display, q->line,
				  q->column, q->name, q->version, ml_buf_str(&src), ml_buf_str(&versions));
	else
		rc = ml_error_set(err, ML_ENOTFOUND, "%s:%d:%d: no wheel of %s==%s for the image (%s; "
				  "it takes the tags %s)%s; %s has %s%s (hint: source distributions are "
				  "not built: pin a version with a wheel for this platform, or put one in "
				  "image.python.find_links)", r->req_display, q->line, q->column, q->name,
				  q->version, r->res->target.describe, ml_buf_str(&tags),
				  q->nhashes ? " matching the --hash pins" : "", ml_buf_str(&src),
				  ml_buf_str(&seen), shown > 8 ? ", ..." : "");
	ml_buf_dispose(&seen);
	ml_buf_dispose(&src);
	ml_buf_dispose(&versions);
	ml_buf_dispose(&tags);
	return rc;
}

/* The best wheel of the pinned version for the target. */
static int pick(struct run *r, const struct ml_pyreq *q, struct ml_pypkg *p, struct ml_error *err)
{
	struct ml_pyfile *files = NULL;
	size_t n = 0, i;
	long best_rank = -1;
	const struct ml_pyfile *best = NULL;
	int rc;

	rc = ml_pyindex_project(r->ix, q->normalized, &files, &n, err);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		struct ml_wheelname w;
		long rank;

		if (ml_wheelname_parse(files[i].filename, &w, NULL) < 0)
			continue;
		rank = ml_pyver_cmp(w.version, q->version) == 0 ?
		       ml_pytags_rank(r->res->target.tags, r->res->target.ntags, &w) : -1;
		ml_wheelname_dispose(&w);
		if (rank < 0 || !python_ok(r, files[i].requires_python))
			continue;
		if (q->nhashes && files[i].sha256 && !has_hash(q, files[i].sha256))
			continue;
		if (!best || rank < best_rank) {
			best = &files[i];
			best_rank = rank;
		}
	}
	if (!best) {
		rc = no_wheel_error(r, q, files, n, err);
		ml_pyfiles_free(files, n);
		return rc;
	}
	if (best->yanked)
		ml_log(ML_LOG_WARN, "%s==%s is yanked on %s; installing it because it is pinned",
		       q->name, q->version, best->source);
	ml_log(ML_LOG_INFO, "%s==%s: %s from %s", q->name, q->version, best->filename, best->source);
	rc = ml_pyindex_fetch(r->ix, best, r->lo->cache, p->digest, &p->size, &p->path, err);
	if (rc == 0 && q->nhashes && !has_hash(q, ml_digest_hex(p->digest)))
		rc = ml_error_set(err, ML_EDIGEST, "%s:%d:%d: %s is %s, which none of the --hash pins "
				  "of %s allows (hint: the file changed on the index, or the pins are "
				  "wrong; nothing was installed)", r->req_display, q->line, q->column,
				  best->filename, p->digest, q->name);
	if (rc == 0) {
		p->wheel = ml_strdup(best->filename);
		p->source = ml_strdup(best->source);
		p->normalized = ml_strdup(q->normalized);
		p->name = ml_strdup(q->name);
		p->version = ml_strdup(q->version);
	}
	ml_pyfiles_free(files, n);
	return rc;
}

/* ---- completeness: every Requires-Dist of the set, markers evaluated, is in it ---- */

struct node {
	const struct ml_pyreq *req;
	struct ml_pypkg *pkg;
	struct ml_wheel_meta meta;
	char **extras;			/* requested extras, normalized */
	size_t nextras;
	int done_extras;		/* how many of extras were expanded */
	int expanded_base;
};

static struct node *find_node(struct node *v, size_t n, const char *normalized)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].pkg->normalized, normalized))
			return &v[i];
	return NULL;
}

static int add_extra(struct node *nd, const char *extra)
{
	size_t i;

	for (i = 0; i < nd->nextras; i++)
		if (!strcmp(nd->extras[i], extra))
			return 0;
	strs_add(&nd->extras, &nd->nextras, ml_strdup(extra));
	return 1;
}

/* Checks nd's requirements under extra (NULL: the base requirements). */
static int expand(struct run *r, struct node *v, size_t n, struct node *nd, const char *extra,
		  struct ml_buf *missing, struct ml_buf *conflicts, int *changed, struct ml_error *err)
{
	size_t i, k;

	for (i = 0; i < nd->meta.nrequires_dist; i++) {
		const char *spec = nd->meta.requires_dist[i];
		struct ml_pydep d;
		struct node *dep;
		int on = 1, rc;

		if (ml_pydep_parse(spec, &d, NULL, NULL) < 0) {
			ml_log(ML_LOG_WARN, "%s %s: cannot read its requirement '%s'; not checked",
			       nd->pkg->name, nd->pkg->version, spec);
			continue;
		}
		if (d.marker) {
			rc = ml_pymarker_eval(d.marker, &r->env, extra, NULL);
			on = rc > 0;
			if (rc < 0)
				ml_log(ML_LOG_WARN, "%s %s: cannot evaluate the marker of '%s'; not "
				       "checked", nd->pkg->name, nd->pkg->version, spec);
		} else if (extra) {
			on = 0;		/* counted with the base requirements */
		}
		if (on) {
			dep = find_node(v, n, d.normalized);
			if (!dep) {
				if (!strstr(ml_buf_str(missing), d.normalized))
					ml_buf_printf(missing, "\n  %s  (%s %s requires %s)", d.name,
						      nd->pkg->name, nd->pkg->version, spec);
			} else if (d.specifier[0] &&
				   ml_pyspec_match(d.specifier, dep->pkg->version, NULL) == 0) {
				ml_buf_printf(conflicts, "\n  %s==%s (%s:%d) but %s %s requires %s",
					      dep->pkg->name, dep->pkg->version, r->req_display,
					      dep->req->line, nd->pkg->name, nd->pkg->version, spec);
			} else {
				for (k = 0; k < d.nextras; k++)
					*changed |= add_extra(dep, d.extras[k]);
			}
		}
		ml_pydep_dispose(&d);
	}
	(void)err;
	return 0;
}

static int same_project(const struct ml_wheel_meta *m, const struct ml_pypkg *p)
{
	char *norm;
	int same;

	if (!m->name || !m->version)
		return 0;
	norm = ml_pyname_normalize(m->name);
	same = !strcmp(norm, p->normalized) && ml_pyver_cmp(m->version, p->version) == 0;
	free(norm);
	return same;
}

static int check_complete(struct run *r, struct ml_error *err)
{
	struct ml_pydeps_result *res = r->res;
	struct node *v = ml_calloc(res->npkgs + 1, sizeof(*v));
	struct ml_buf missing = ML_BUF_INIT, conflicts = ML_BUF_INIT;
	size_t i, k;
	int rc = 0, changed = 1;

	for (i = 0; i < res->npkgs && rc == 0; i++) {
		struct node *nd = &v[i];

		nd->pkg = &res->pkgs[i];
		for (k = 0; k < r->reqs.n; k++)
			if (!strcmp(r->reqs.v[k].normalized, nd->pkg->normalized))
				nd->req = &r->reqs.v[k];
		for (k = 0; nd->req && k < nd->req->nextras; k++)
			add_extra(nd, nd->req->extras[k]);
		rc = ml_wheel_read_meta(nd->pkg->path, nd->pkg->wheel, &nd->meta, err);
		if (rc == 0 && !same_project(&nd->meta, nd->pkg))
			rc = ml_error_set(err, ML_EPROTO, "%s says it is %s %s, not %s %s (hint: the "
					  "wheel file is misnamed; remove it from the index)",
					  nd->pkg->wheel, nd->meta.name ? nd->meta.name : "?",
					  nd->meta.version ? nd->meta.version : "?", nd->pkg->name,
					  nd->pkg->version);
		if (rc == 0 && nd->meta.requires_python && !python_ok(r, nd->meta.requires_python))
			rc = ml_error_set(err, ML_ECONFIG, "%s:%d:%d: %s %s needs Python %s, the image has "
					  "%s (hint: pin a version made for this Python)", r->req_display,
					  nd->req->line, nd->req->column, nd->pkg->name, nd->pkg->version,
					  nd->meta.requires_python, r->res->target.python_full_version);
		if (rc == 0 && nd->pkg->name && nd->meta.name) {
			free(nd->pkg->name);
			nd->pkg->name = ml_strdup(nd->meta.name);
		}
	}
	while (rc == 0 && changed) {
		changed = 0;
		for (i = 0; i < res->npkgs && rc == 0; i++) {
			struct node *nd = &v[i];

			if (!nd->expanded_base) {
				nd->expanded_base = 1;
				rc = expand(r, v, res->npkgs, nd, NULL, &missing, &conflicts, &changed, err);
			}
			while (rc == 0 && (size_t)nd->done_extras < nd->nextras) {
				const char *extra = nd->extras[nd->done_extras++];

				rc = expand(r, v, res->npkgs, nd, extra, &missing, &conflicts, &changed,
					    err);
			}
		}
	}
	if (rc == 0 && missing.len)
		rc = ml_error_set(err, ML_ECONFIG, "%s is not a complete set: pin these too (with the "
				  "versions you test with; pip-compile or `pip freeze` write complete "
				  "sets):%s", r->req_display, ml_buf_str(&missing));
	else if (rc == 0 && conflicts.len)
		rc = ml_error_set(err, ML_ECONFIG, "%s pins versions its packages do not accept:%s "
				  "(hint: pin versions that satisfy every requirement; pip-compile "
				  "finds them)", r->req_display, ml_buf_str(&conflicts));
	for (i = 0; i < res->npkgs; i++) {
		ml_wheel_meta_dispose(&v[i].meta);
		strs_free(v[i].extras, v[i].nextras);
	}
	free(v);
	ml_buf_dispose(&missing);
	ml_buf_dispose(&conflicts);
	return rc;
}

static int pkg_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ml_pypkg *)a)->normalized, ((const struct ml_pypkg *)b)->normalized);
}

static int resolve(struct run *r, const char *keyhex, struct ml_error *err)
{
	struct ml_pydeps_result *res = r->res;
	ml_json *rec;
	size_t i;
	int rc;

	rc = ml_pyindex_new(&r->ix, r->indexes, r->nindexes, r->links, r->nlinks, err);
	if (rc < 0)
		return rc;
	res->pkgs = ml_calloc(r->reqs.n + 1, sizeof(*res->pkgs));
	for (i = 0; i < r->reqs.n && rc == 0; i++) {
		rc = pick(r, &r->reqs.v[i], &res->pkgs[res->npkgs], err);
		if (rc == 0)
			res->npkgs++;
		else
			pkg_dispose(&res->pkgs[res->npkgs]);
	}
	if (rc < 0)
		return rc;
	qsort(res->pkgs, res->npkgs, sizeof(*res->pkgs), pkg_cmp);
	rc = check_complete(r, err);
	if (rc < 0)
		return rc;
	rec = ml_json_object_new();
	ml_json_set(rec, "packages", pkgs_json(res, 1));
	ml_cache_record_put(r->lo->cache, "pyresolve", keyhex, rec, NULL);
	ml_json_free(rec);
	return 0;
}

/* ---- the layer ---- */

static void layer_key(const struct run *r, char key[ML_DIGEST_LEN])
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
static int install_all(struct run *r, const char *keyhex, struct ml_error *err)
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

static void run_dispose(struct run *r)
{
	free(r->req_path);
	free(r->req_display);
	ml_buf_dispose(&r->req_text);
	ml_pyreqs_dispose(&r->reqs);
	strs_free(r->indexes, r->nindexes);
	strs_free(r->links, r->nlinks);
	ml_pyindex_free(r->ix);
}

int ml_pydeps_build(const struct ml_config *cfg, const char *context, const struct ml_base *base,
		    const struct ml_layer_opts *lo, struct ml_pydeps_result *res,
		    struct ml_error *err)
{
	struct run r = { .cfg = cfg, .context = context, .lo = lo, .res = res };
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
		rc = resolve(&r, ml_digest_hex(rkey), err);
		if (rc < 0)
			goto out;
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
		pkg_dispose(&res->pkgs[i]);
	free(res->pkgs);
	free(res->requirements);
	memset(res, 0, sizeof(*res));
}

ml_json *ml_pytarget_json(const struct ml_pytarget_info *t)
{
	const struct ml_pybase *b = &t->base;
	ml_json *o = ml_json_object_new();
	char v[16];

	snprintf(v, sizeof(v), "%d.%d", b->py_major, b->py_minor);
	ml_json_set_str(o, "version", v);
	ml_json_set_str(o, "full_version", t->python_full_version);
	ml_json_set_str(o, "interpreter", b->interpreter);
	ml_json_set_str(o, "site_packages", b->site_packages);
	ml_json_set_str(o, "scripts", b->scripts);
	ml_json_set_str(o, "machine", t->arch);
	if (b->libc_found) {
		char lv[16];

		snprintf(lv, sizeof(lv), "%d.%d", b->libc_major, b->libc_minor);
		ml_json_set_str(o, "libc", b->libc == ML_LIBC_MUSL ? "musl" : "glibc");
		ml_json_set_str(o, "libc_version", lv);
		ml_json_set_str(o, "libc_found_in", b->libc_source);
	}
	ml_json_set_str(o, "target", t->describe);
	ml_json_set_int(o, "tags", (int64_t)t->ntags);
	if (t->ntags)
		ml_json_set_str(o, "best_tag", t->tags[0]);
	return o;
}

ml_json *ml_pydeps_json(const struct ml_pydeps_result *res)
{
	ml_json *o = ml_pytarget_json(&res->target);

	ml_json_set_str(o, "requirements", res->requirements);
	ml_json_set(o, "resolved_from_cache", ml_json_bool_new(res->resolved_cached));
	ml_json_set(o, "packages", pkgs_json(res, 0));
	return o;
}
