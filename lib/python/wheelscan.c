/* Reading a wheel: the first pass over the archive checks every member name, finds
 * the .dist-info directory and checks it against the wheel's file name, and keeps
 * its small text files (RECORD, WHEEL, METADATA, entry_points.txt) in memory;
 * ml_wheel_read_meta stops there. */
#include "python/wheel-internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "python/pyver.h"
#include "wrap/tar.h"

/* The PEP 503 form of s[0..len). */
static char *normalize(const char *s, size_t len)
{
	char *name = ml_strndup(s, len), *out = ml_pyname_normalize(name);

	free(name);
	return out;
}

int ml_wheel_check_member(const struct wheel *w, const struct ml_tar_entry *e,
			  struct ml_error *err)
{
	const char *name = e->name, *why = NULL, *p, *comp;
	char tmp[256];

	if (e->type == ML_TAR_SYMLINK)
		why = "symlink";
	else if (e->type == ML_TAR_OTHER)
		why = "not a file or directory";
	else if (!*name)
		why = "empty name";
	else if (*name == '/')
		why = "absolute path";
	else if (strchr(name, '\\'))
		why = "backslash in name";
	for (p = name; !why && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			why = "control character in name";
	for (comp = name; !why && *comp; comp = *p ? p + 1 : p) {
		size_t len;

		p = strchr(comp, '/');
		p = p ? p : comp + strlen(comp);
		len = (size_t)(p - comp);
		if ((len == 1 && *comp == '.') || (len == 2 && !strncmp(comp, "..", 2)))
			why = "'.' or '..' in path";
		else if (!len || (*p == '/' && !p[1] && e->type != ML_TAR_DIR))
			why = "empty path component";
	}
	if (why)
		return ml_error_set(err, ML_EREFUSED, "%s: refusing member '%s' (%s)", w->display,
				    ml_wheel_shown(name, tmp), why);
	return 0;
}

static int note_distinfo(struct wheel *w, const char *name, struct ml_error *err)
{
	const char *slash = strchr(name, '/');
	size_t len = slash ? (size_t)(slash - name) : 0;
	char tmp[256];

	if (len <= 10 || strncmp(slash - 10, ".dist-info", 10))
		return 0;
	if (!w->distinfo) {
		w->distinfo = ml_strndup(name, len);
		w->datadir = ml_asprintf("%.*s.data", (int)(len - 10), name);
		return 0;
	}
	if (strlen(w->distinfo) != len || strncmp(w->distinfo, name, len))
		return ml_error_set(err, ML_EPROTO,
				    "%s: several .dist-info directories ('%s', '%.*s')",
				    w->display, w->distinfo, (int)len, ml_wheel_shown(name, tmp));
	return 0;
}

/* The buffer for a dist-info file read into memory, or NULL. */
static struct ml_buf *meta_slot(struct wheel *w, const char *name)
{
	size_t n = w->distinfo ? strlen(w->distinfo) : 0;

	if (!n || strncmp(name, w->distinfo, n) || name[n] != '/')
		return NULL;
	name += n + 1;
	if (!strcmp(name, "RECORD"))
		return w->have_record = 1, &w->record;
	if (!strcmp(name, "WHEEL"))
		return w->have_wheel = 1, &w->wheelfile;
	if (!strcmp(name, "METADATA"))
		return w->have_metadata = 1, &w->metadata;
	if (!strcmp(name, "entry_points.txt"))
		return &w->entry_points;
	return NULL;
}

/* The project name in the wheel's file name, or NULL when it has none. */
static char *file_project(const char *path, const char *display)
{
	const char *cands[2] = { display, path };
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *base = cands[i] ? strrchr(cands[i], '/') : NULL;
		const char *dash;

		base = base ? base + 1 : cands[i];
		if (!base || !has_suffix(base, ".whl") || !(dash = strchr(base, '-')))
			continue;
		return normalize(base, (size_t)(dash - base));
	}
	return NULL;
}

static int check_distinfo(struct wheel *w, struct ml_error *err)
{
	char *want, *have, *dash;
	int rc = 0;

	if (!w->distinfo)
		return ml_error_set(err, ML_EPROTO, "%s: no .dist-info directory", w->display);
	want = file_project(w->path, w->display);
	dash = memrchr(w->distinfo, '-', strlen(w->distinfo) - 10);
	have = normalize(w->distinfo, dash ? (size_t)(dash - w->distinfo) : 0);
	if ((want && strcmp(want, have)) || !*have)
		rc = ml_error_set(err, ML_EPROTO, "%s: '%s' does not belong to project '%s'",
				  w->display, w->distinfo, want ? want : "");
	free(want);
	free(have);
	return rc;
}

static int scan_entries(struct wheel *w, struct ml_tar_reader *r, struct ml_error *err)
{
	struct ml_tar_entry e;
	int rc;

	while ((rc = ml_tar_reader_next(r, &e, err)) == 1) {
		struct ml_buf *slot;

		if ((rc = ml_wheel_check_member(w, &e, err)) < 0 ||
		    (rc = note_distinfo(w, e.name, err)) < 0)
			return rc;
		if (e.type == ML_TAR_DIR)
			continue;
		w->names = ml_grow(w->names, &w->anames, w->nnames + 1, sizeof(*w->names));
		w->names[w->nnames++] = ml_strdup(e.name);
		slot = meta_slot(w, e.name);
		if (slot) {
			ml_buf_reset(slot);
			rc = ml_tar_reader_read_all(r, slot, META_MAX, err);
			if (rc < 0)
				return ml_error_prefix(err, "%s: %s", w->display, e.name);
		}
	}
	return rc < 0 ? ml_error_prefix(err, "%s", w->display) : 0;
}

int ml_wheel_scan(struct wheel *w, struct ml_error *err)
{
	struct ml_tar_reader *r = NULL;
	char tmp[256];
	size_t i;
	int rc = ml_zip_reader_open(&r, w->path, err);

	if (rc < 0)
		return ml_error_prefix(err, "%s", w->display);
	rc = scan_entries(w, r, err);
	ml_tar_reader_free(r);
	if (rc < 0)
		return rc;
	qsort(w->names, w->nnames, sizeof(*w->names), strp_cmp);
	for (i = 1; i < w->nnames; i++)
		if (!strcmp(w->names[i - 1], w->names[i]))
			return ml_error_set(err, ML_EREFUSED, "%s: member '%s' appears twice",
					    w->display, ml_wheel_shown(w->names[i], tmp));
	return check_distinfo(w, err);
}

/* ---- one wheel ---- */

void ml_wheel_init(struct wheel *w, const char *path, const char *display,
		   const struct ml_wheel_scheme *s)
{
	memset(w, 0, sizeof(*w));
	w->path = path;
	w->display = display ? display : path;
	w->s = s;
	ml_buf_init(&w->record, META_MAX);
	ml_buf_init(&w->wheelfile, META_MAX);
	ml_buf_init(&w->metadata, META_MAX);
	ml_buf_init(&w->entry_points, META_MAX);
}

void ml_wheel_dispose(struct wheel *w)
{
	size_t i;

	free(w->distinfo);
	free(w->datadir);
	ml_buf_dispose(&w->record);
	ml_buf_dispose(&w->wheelfile);
	ml_buf_dispose(&w->metadata);
	ml_buf_dispose(&w->entry_points);
	for (i = 0; i < w->nnames; i++)
		free(w->names[i]);
	free(w->names);
	for (i = 0; i < w->nrows; i++) {
		free(w->rows[i].path);
		free(w->rows[i].hash);
	}
	free(w->rows);
	for (i = 0; i < w->neps; i++) {
		free(w->eps[i].name);
		free(w->eps[i].module);
		free(w->eps[i].attr);
	}
	free(w->eps);
}

int ml_wheel_read_meta(const char *path, const char *display, struct ml_wheel_meta *out,
		       struct ml_error *err)
{
	struct ml_wheel_meta m;
	struct wheel w;
	int purelib, rc;

	ml_wheel_init(&w, path, display, NULL);
	rc = ml_wheel_scan(&w, err);
	if (rc == 0)
		rc = ml_wheel_parse_wheelfile(&w, &purelib, err);
	if (rc == 0)
		rc = ml_wheel_parse_metadata(&w, &m, err);
	if (rc == 0)
		*out = m;
	ml_wheel_dispose(&w);
	return rc;
}
