/* Resolving a pinned set: the best wheel of each pin for the image, fetched and
 * checked, then every Requires-Dist of the set checked against it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "python/pylayer-internal.h"
#include "python/pyindex.h"
#include "python/pytags.h"
#include "util/redact.h"
#include "python/pyver.h"
#include "python/wheel.h"

static void sources_text(const struct ml_pylayer_run *r, struct ml_buf *b)
{
	size_t i;

	for (i = 0; i < r->nindexes + r->nlinks; i++) {
		char *d = ml_redacted_url(i < r->nindexes ? r->indexes[i] : r->links[i - r->nindexes]);

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

static int python_ok(const struct ml_pylayer_run *r, const char *requires_python)
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

static int no_wheel_error(const struct ml_pylayer_run *r, const struct ml_pyreq *q,
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
static int pick(struct ml_pylayer_run *r, const struct ml_pyreq *q, struct ml_pypkg *p, struct ml_error *err)
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
	ml_py_strs_add(&nd->extras, &nd->nextras, ml_strdup(extra));
	return 1;
}

/* Checks nd's requirements under extra (NULL: the base requirements). */
static int expand(struct ml_pylayer_run *r, struct node *v, size_t n, struct node *nd, const char *extra,
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

static int check_complete(struct ml_pylayer_run *r, struct ml_error *err)
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
		ml_free_strings(v[i].extras, v[i].nextras);
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

int ml_pylayer_resolve(struct ml_pylayer_run *r, struct ml_error *err)
{
	struct ml_pydeps_result *res = r->res;
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
			ml_pypkg_dispose(&res->pkgs[res->npkgs]);
	}
	if (rc < 0)
		return rc;
	qsort(res->pkgs, res->npkgs, sizeof(*res->pkgs), pkg_cmp);
	return check_complete(r, err);
}
