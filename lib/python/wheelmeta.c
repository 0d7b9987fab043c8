/* The text files of a wheel's .dist-info directory: RFC 822 headers (WHEEL,
 * METADATA), RECORD (CSV), entry_points.txt, and the scripts entry points become.
 * Each is parsed from the copy the first pass kept in memory. */
#include "python/wheel-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/buf.h"

/* ---- small string helpers ---- */

const char *ml_wheel_shown(const char *name, char out[256])
{
	size_t i;

	for (i = 0; name[i] && i < 255; i++)
		out[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	out[i] = '\0';
	return out;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* ---- RFC 822 headers (WHEEL, METADATA) ---- */

typedef int (*header_fn)(void *ud, const char *key, char *value, struct ml_error *err);

/* Calls fn for each header before the first empty line; continuation lines are
 * joined to their header with one space. */
static int headers_each(const char *text, size_t len, header_fn fn, void *ud,
			struct ml_error *err)
{
	struct ml_buf line = ML_BUF_INIT, value = ML_BUF_INIT;
	char *key = NULL;
	size_t pos = 0;
	int rc = 0;

	while (pos < len && rc == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		char *l, *colon;

		ml_buf_reset(&line);
		ml_buf_add(&line, text + pos, end - pos);
		pos = end + 1;
		l = line.data ? line.data : "";
		if (*l == ' ' || *l == '\t') {
			if (key && *trim(l)) {
				ml_buf_addch(&value, ' ');
				ml_buf_adds(&value, trim(l));
			}
			continue;
		}
		if (key)
			rc = fn(ud, key, trim(value.data ? value.data : ""), err);
		free(key);
		key = NULL;
		ml_buf_reset(&value);
		if (!*trim(l))
			break;
		colon = strchr(l, ':');
		if (!colon)
			continue;
		*colon = '\0';
		key = ml_strdup(trim(l));
		ml_buf_adds(&value, trim(colon + 1));
	}
	if (key && rc == 0)
		rc = fn(ud, key, trim(value.data ? value.data : ""), err);
	free(key);
	ml_buf_dispose(&line);
	ml_buf_dispose(&value);
	return rc;
}

struct wheel_hdr {
	const char *display;
	int version_seen;
	int purelib;
};

static int wheel_header(void *ud, const char *key, char *value, struct ml_error *err)
{
	struct wheel_hdr *h = ud;

	if (!strcasecmp(key, "Wheel-Version")) {
		char *end;
		long major = strtol(value, &end, 10);

		if (end == value || major != 1 || (*end && *end != '.'))
			return ml_error_set(err, ML_EPROTO, "%s: unsupported Wheel-Version '%s'",
					    h->display, value);
		h->version_seen = 1;
	} else if (!strcasecmp(key, "Root-Is-Purelib")) {
		h->purelib = !strcasecmp(value, "true");
	}
	return 0;
}

int ml_wheel_parse_wheelfile(struct wheel *w, int *purelib, struct ml_error *err)
{
	struct wheel_hdr h = { w->display, 0, 0 };
	int rc;

	if (!w->have_wheel)
		return ml_error_set(err, ML_EPROTO, "%s: no %s/WHEEL", w->display, w->distinfo);
	rc = headers_each(w->wheelfile.data, w->wheelfile.len, wheel_header, &h, err);
	if (rc < 0)
		return rc;
	if (!h.version_seen)
		return ml_error_set(err, ML_EPROTO, "%s: %s/WHEEL has no Wheel-Version",
				    w->display, w->distinfo);
	*purelib = h.purelib;
	return 0;
}

static void strv_push(char ***v, size_t *n, char *s)
{
	*v = ml_realloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

static int meta_header(void *ud, const char *key, char *value, struct ml_error *err)
{
	struct ml_wheel_meta *m = ud;

	(void)err;
	if (!strcasecmp(key, "Name") && !m->name)
		m->name = ml_strdup(value);
	else if (!strcasecmp(key, "Version") && !m->version)
		m->version = ml_strdup(value);
	else if (!strcasecmp(key, "Requires-Python") && !m->requires_python)
		m->requires_python = ml_strdup(value);
	else if (!strcasecmp(key, "Requires-Dist"))
		strv_push(&m->requires_dist, &m->nrequires_dist, ml_strdup(value));
	else if (!strcasecmp(key, "Provides-Extra"))
		strv_push(&m->provides_extra, &m->nprovides_extra, ml_strdup(value));
	return 0;
}

int ml_wheel_parse_metadata(struct wheel *w, struct ml_wheel_meta *m, struct ml_error *err)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if (!w->have_metadata)
		return ml_error_set(err, ML_EPROTO, "%s: no %s/METADATA", w->display, w->distinfo);
	rc = headers_each(w->metadata.data, w->metadata.len, meta_header, m, err);
	if (rc == 0 && (!m->name || !*m->name || !m->version || !*m->version))
		rc = ml_error_set(err, ML_EPROTO, "%s: %s/METADATA lacks Name or Version",
				  w->display, w->distinfo);
	if (rc < 0)
		ml_wheel_meta_dispose(m);
	return rc;
}

void ml_wheel_meta_dispose(struct ml_wheel_meta *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->version);
	free(m->requires_python);
	ml_free_strings(m->requires_dist, m->nrequires_dist);
	ml_free_strings(m->provides_extra, m->nprovides_extra);
	memset(m, 0, sizeof(*m));
}

/* ---- RECORD (CSV as Python's csv module writes it) ---- */

/* Reads one field at *p; 1 when it ends its row, 0 when a ',' follows, -1 when
 * malformed. */
static int csv_field(const char **p, const char *end, struct ml_buf *f)
{
	const char *s = *p;

	ml_buf_reset(f);
	if (s < end && *s == '"') {
		for (s++;; s++) {
			if (s == end)
				return -1;
			if (*s == '"' && (s + 1 == end || s[1] != '"'))
				break;
			if (*s == '"')
				s++;
			ml_buf_addch(f, *s);
		}
		s++;
	} else {
		while (s < end && *s != ',' && *s != '\n' && *s != '\r')
			ml_buf_addch(f, *s++);
	}
	if (s < end && *s == ',') {
		*p = s + 1;
		return 0;
	}
	if (s < end && *s == '\r')
		s++;
	if (s < end && *s == '\n')
		s++;
	else if (s < end)
		return -1;
	*p = s;
	return 1;
}

static int rrow_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rrow *)a)->path, ((const struct rrow *)b)->path);
}

static int add_rrow(struct wheel *w, char **fields, size_t n, struct ml_error *err)
{
	struct rrow *r;
	char *end;

	w->rows = ml_grow(w->rows, &w->arows, w->nrows + 1, sizeof(*w->rows));
	r = &w->rows[w->nrows++];
	r->path = ml_strdup(fields[0]);
	r->hash = ml_strdup("");
	r->size = -1;
	if (n > 1 && *fields[1]) {
		if (!has_prefix(fields[1], "sha256="))
			return ml_error_set(err, ML_EDIGEST,
					    "%s: unsupported hash '%.20s' for '%s' in RECORD",
					    w->display, fields[1], r->path);
		free(r->hash);
		r->hash = ml_strdup(fields[1] + 7);
		r->hash[strcspn(r->hash, "=")] = '\0';
	}
	if (n > 2 && *fields[2]) {
		errno = 0;
		r->size = strtoll(fields[2], &end, 10);
		if (errno || *end || r->size < 0)
			return ml_error_set(err, ML_EDIGEST,
					    "%s: bad size '%.20s' for '%s' in RECORD",
					    w->display, fields[2], r->path);
	}
	return 0;
}

int ml_wheel_parse_record(struct wheel *w, struct ml_error *err)
{
	const char *p = w->record.data, *end = p + w->record.len;
	struct ml_buf f[3] = { ML_BUF_INIT, ML_BUF_INIT, ML_BUF_INIT };
	size_t i, n;
	int rc = 0;

	while (p < end && rc == 0) {
		char *fields[3];
		int last = 0;

		if (*p == '\n' || *p == '\r') {
			p++;
			continue;
		}
		for (n = 0; !last; n++) {
			if (n == 3 || (last = csv_field(&p, end, &f[n])) < 0) {
				rc = ml_error_set(err, ML_EDIGEST, "%s: malformed %s/RECORD",
						  w->display, w->distinfo);
				break;
			}
		}
		if (rc < 0)
			break;
		for (i = 0; i < n; i++)
			fields[i] = f[i].data ? f[i].data : "";
		if (*fields[0])
			rc = add_rrow(w, fields, n, err);
	}
	for (i = 0; i < 3; i++)
		ml_buf_dispose(&f[i]);
	if (rc < 0)
		return rc;
	qsort(w->rows, w->nrows, sizeof(*w->rows), rrow_cmp);
	for (i = 1; i < w->nrows; i++)
		if (!strcmp(w->rows[i - 1].path, w->rows[i].path) &&
		    (strcmp(w->rows[i - 1].hash, w->rows[i].hash) ||
		     w->rows[i - 1].size != w->rows[i].size))
			return ml_error_set(err, ML_EDIGEST, "%s: RECORD lists '%s' twice",
					    w->display, w->rows[i].path);
	return 0;
}

const struct rrow *ml_wheel_find_row(const struct wheel *w, const char *path)
{
	struct rrow key = { (char *)path, NULL, 0 };

	return bsearch(&key, w->rows, w->nrows, sizeof(*w->rows), rrow_cmp);
}

int ml_wheel_may_lack_hash(const struct wheel *w, const char *name)
{
	size_t n = strlen(w->distinfo);

	return !strncmp(name, w->distinfo, n) && name[n] == '/' &&
	       (!strcmp(name + n + 1, "RECORD") || !strcmp(name + n + 1, "RECORD.jws") ||
		!strcmp(name + n + 1, "RECORD.p7s"));
}

int ml_wheel_check_record(struct wheel *w, struct ml_error *err)
{
	char tmp[256];
	size_t i;

	for (i = 0; i < w->nnames; i++) {
		const struct rrow *r = ml_wheel_find_row(w, w->names[i]);

		if (ml_wheel_may_lack_hash(w, w->names[i]))
			continue;
		if (!r || !*r->hash)
			return ml_error_set(err, ML_EDIGEST,
					    "%s: '%s' is not in RECORD with a hash",
					    w->display, ml_wheel_shown(w->names[i], tmp));
	}
	for (i = 0; i < w->nrows; i++)
		if (!bsearch(&w->rows[i].path, w->names, w->nnames, sizeof(*w->names), strp_cmp))
			return ml_error_set(err, ML_EDIGEST,
					    "%s: '%s' is in RECORD but not in the wheel",
					    w->display, ml_wheel_shown(w->rows[i].path, tmp));
	return 0;
}

/* ---- entry_points.txt ---- */

int ml_wheel_check_filename(const struct wheel *w, const char *what, const char *name,
			    struct ml_error *err)
{
	char tmp[256];
	const char *p;

	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			break;
	if (!*name || *p || !strcmp(name, ".") || !strcmp(name, ".."))
		return ml_error_set(err, ML_EREFUSED, "%s: refusing %s '%s'", w->display, what,
				    ml_wheel_shown(name, tmp));
	return 0;
}

static int add_entry_point(struct wheel *w, char *line, struct ml_error *err)
{
	char *eq = strchr(line, '='), *name, *value, *colon, tmp[256];
	struct entry_point *ep;

	if (!eq)
		return ml_error_set(err, ML_EPROTO, "%s: malformed entry point '%s'", w->display,
				    ml_wheel_shown(line, tmp));
	*eq = '\0';
	name = trim(line);
	value = trim(eq + 1);
	value[strcspn(value, "[")] = '\0';
	value = trim(value);
	colon = strchr(value, ':');
	if (!colon || !*trim(colon + 1) || colon == value)
		return ml_error_set(err, ML_EPROTO,
				    "%s: entry point '%s' does not name 'module:object'",
				    w->display, ml_wheel_shown(name, tmp));
	*colon = '\0';
	if (ml_wheel_check_filename(w, "entry point script name", name, err) < 0)
		return -ML_EREFUSED;
	w->eps = ml_grow(w->eps, &w->aeps, w->neps + 1, sizeof(*w->eps));
	ep = &w->eps[w->neps++];
	ep->name = ml_strdup(name);
	ep->module = ml_strdup(trim(value));
	ep->attr = ml_strdup(trim(colon + 1));
	return 0;
}

int ml_wheel_parse_entry_points(struct wheel *w, struct ml_error *err)
{
	char *line = w->entry_points.data, *next;
	int in_scripts = 0, rc = 0;

	for (; line && *line && rc == 0; line = next) {
		char *l;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		l = trim(line);

		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			in_scripts = !strcmp(l, "[console_scripts]") || !strcmp(l, "[gui_scripts]");
			continue;
		}
		if (in_scripts)
			rc = add_entry_point(w, l, err);
	}
	return rc;
}

int ml_wheel_is_ep_wrapper(const struct wheel *w, const char *base)
{
	size_t n = strlen(base), i;

	if (n > 4 && (!strcasecmp(base + n - 4, ".exe") || !strcasecmp(base + n - 4, ".pya")))
		n -= 4;
	else if (n > 10 && !strcasecmp(base + n - 10, "-script.py"))
		n -= 10;
	for (i = 0; i < w->neps; i++)
		if (strlen(w->eps[i].name) == n && !strncmp(w->eps[i].name, base, n))
			return 1;
	return 0;
}

void ml_wheel_ep_script(struct ml_buf *b, const char *interpreter,
			const struct entry_point *ep)
{
	ml_buf_printf(b,
		      "#!%s\n"
		      "# -*- coding: utf-8 -*-\n"
		      "import re\n"
		      "import sys\n"
		      "from %s import %.*s\n"
		      "if __name__ == '__main__':\n"
		      "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
		      "    sys.exit(%s())\n",
		      interpreter, ep->module, (int)strcspn(ep->attr, "."), ep->attr, ep->attr);
}
