/* Wheel installation as pip does it, over the zip reader of tar.c. Two passes over
 * the archive: the first checks every member name and keeps the small dist-info
 * files (RECORD, WHEEL, METADATA, entry_points.txt); the second streams the files
 * to disk, hashing them against RECORD. Files are created below s->root through
 * directory descriptors opened with O_NOFOLLOW, so a symlink in the staging
 * directory cannot send a write elsewhere. */
#define _GNU_SOURCE	/* memrchr */
#include "wheel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "digest.h"
#include "fsutil.h"
#include "log.h"
#include "tar.h"

#define META_MAX (16u << 20)	/* cap on each dist-info file read into memory */
#define COPY_BUF (256u << 10)
#define B64_HASH 44		/* urlsafe base64 of a sha256 without padding + NUL */
#define INSTALLER "mldeploy\n"
/* never through a symlink, never into a file someone else opened */
#define CREATE_FLAGS (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC)

/* A row of the wheel's RECORD. */
struct rrow {
	char *path;
	char *hash;		/* urlsafe base64 after "sha256=", "" when none */
	int64_t size;		/* -1 when none */
};

/* A row of the RECORD we write. */
struct orow {
	char *path;		/* relative to the site-packages dir */
	char hash[B64_HASH];
	uint64_t size;
	size_t seq;		/* write order: the last write of a path wins */
};

struct entry_point {
	char *name;
	char *module;
	char *attr;		/* "func" or "obj.attr.sub" */
};

/* Open directories from root down to the last one written into. */
struct dirs {
	int root;
	struct ml_buf path;	/* image path of the deepest open directory */
	struct open_dir {
		int fd;		/* the directory after i + 1 components of path */
		size_t end;	/* the length of path up to it */
	} *open;
	size_t n, alloc;
};

struct wheel {
	const char *path;
	const char *display;
	const struct ml_wheel_scheme *s;
	char *distinfo;			/* "demo-1.0.dist-info" */
	char *datadir;			/* "demo-1.0.data" */
	struct ml_buf record, wheelfile, metadata, entry_points;
	int have_record, have_wheel, have_metadata;
	char **names;			/* file members, sorted after the scan */
	size_t nnames, anames;
	struct rrow *rows;		/* sorted by path */
	size_t nrows, arows;
	struct entry_point *eps;
	size_t neps, aeps;
	const char *libdir;		/* purelib or platlib: where the dist-info goes */
	char *headers;			/* s->headers + "/" + project name */
	struct dirs dirs;
	struct orow *out;
	size_t nout, aout;
	struct ml_sha256 *h_in;		/* the member as stored */
	struct ml_sha256 *h_out;	/* the member as written, when rewritten */
	char *buf;
};

/* ---- small string helpers ---- */

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Member names in messages, with control characters shown as '?'. */
static const char *shown(const char *name, char out[256])
{
	size_t i;

	for (i = 0; name[i] && i < 255; i++)
		out[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	out[i] = '\0';
	return out;
}

/* PEP 503: lower case, runs of "-", "_", "." become one "-". */
static char *normalize(const char *s, size_t len)
{
	char *out = ml_malloc(len + 1), *o = out;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '-' || c == '_' || c == '.') {
			if (o == out || o[-1] != '-')
				*o++ = '-';
			continue;
		}
		*o++ = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	*o = '\0';
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

static unsigned hexval(char c)
{
	return (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
}

/* "sha256:<hex>" to urlsafe base64 without padding, as RECORD holds it. */
static void record_hash(const char *digest, char out[B64_HASH])
{
	const char *hex = ml_digest_hex(digest);
	unsigned char raw[32];
	struct ml_buf b = ML_BUF_INIT;
	size_t i, n = 0;

	for (i = 0; i < 32; i++)
		raw[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	ml_base64_encode(&b, raw, sizeof(raw));
	for (i = 0; i < b.len && n < B64_HASH - 1; i++) {
		char c = b.data[i];

		if (c == '=')
			break;
		out[n++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[n] = '\0';
	ml_buf_dispose(&b);
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

static int parse_wheelfile(struct wheel *w, int *purelib, struct ml_error *err)
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

static int parse_metadata(struct wheel *w, struct ml_wheel_meta *m, struct ml_error *err)
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
	size_t i;

	if (!m)
		return;
	free(m->name);
	free(m->version);
	free(m->requires_python);
	for (i = 0; i < m->nrequires_dist; i++)
		free(m->requires_dist[i]);
	free(m->requires_dist);
	for (i = 0; i < m->nprovides_extra; i++)
		free(m->provides_extra[i]);
	free(m->provides_extra);
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

static int parse_record(struct wheel *w, struct ml_error *err)
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

static const struct rrow *find_row(const struct wheel *w, const char *path)
{
	struct rrow key = { (char *)path, NULL, 0 };

	return bsearch(&key, w->rows, w->nrows, sizeof(*w->rows), rrow_cmp);
}

/* RECORD itself and its signatures may go without a hash. */
static int may_lack_hash(const struct wheel *w, const char *name)
{
	size_t n = strlen(w->distinfo);

	return !strncmp(name, w->distinfo, n) && name[n] == '/' &&
	       (!strcmp(name + n + 1, "RECORD") || !strcmp(name + n + 1, "RECORD.jws") ||
		!strcmp(name + n + 1, "RECORD.p7s"));
}

/* Every member in RECORD with a hash, every RECORD row in the wheel. */
static int check_record(struct wheel *w, struct ml_error *err)
{
	char tmp[256];
	size_t i;

	for (i = 0; i < w->nnames; i++) {
		const struct rrow *r = find_row(w, w->names[i]);

		if (may_lack_hash(w, w->names[i]))
			continue;
		if (!r || !*r->hash)
			return ml_error_set(err, ML_EDIGEST,
					    "%s: '%s' is not in RECORD with a hash",
					    w->display, shown(w->names[i], tmp));
	}
	for (i = 0; i < w->nrows; i++)
		if (!bsearch(&w->rows[i].path, w->names, w->nnames, sizeof(*w->names), strp_cmp))
			return ml_error_set(err, ML_EDIGEST,
					    "%s: '%s' is in RECORD but not in the wheel",
					    w->display, shown(w->rows[i].path, tmp));
	return 0;
}

/* ---- entry_points.txt ---- */

/* Names used as one path component: entry point scripts, the project's headers dir. */
static int check_filename(const struct wheel *w, const char *what, const char *name,
			  struct ml_error *err)
{
	char tmp[256];
	const char *p;

	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			break;
	if (!*name || *p || !strcmp(name, ".") || !strcmp(name, ".."))
		return ml_error_set(err, ML_EREFUSED, "%s: refusing %s '%s'", w->display, what,
				    shown(name, tmp));
	return 0;
}

static int add_entry_point(struct wheel *w, char *line, struct ml_error *err)
{
	char *eq = strchr(line, '='), *name, *value, *colon, tmp[256];
	struct entry_point *ep;

	if (!eq)
		return ml_error_set(err, ML_EPROTO, "%s: malformed entry point '%s'", w->display,
				    shown(line, tmp));
	*eq = '\0';
	name = trim(line);
	value = trim(eq + 1);
	value[strcspn(value, "[")] = '\0';
	value = trim(value);
	colon = strchr(value, ':');
	if (!colon || !*trim(colon + 1) || colon == value)
		return ml_error_set(err, ML_EPROTO,
				    "%s: entry point '%s' does not name 'module:object'",
				    w->display, shown(name, tmp));
	*colon = '\0';
	if (check_filename(w, "entry point script name", name, err) < 0)
		return -ML_EREFUSED;
	w->eps = ml_grow(w->eps, &w->aeps, w->neps + 1, sizeof(*w->eps));
	ep = &w->eps[w->neps++];
	ep->name = ml_strdup(name);
	ep->module = ml_strdup(trim(value));
	ep->attr = ml_strdup(trim(colon + 1));
	return 0;
}

static int parse_entry_points(struct wheel *w, struct ml_error *err)
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

/* pip leaves out the scripts in .data/scripts that an entry point replaces. */
static int is_ep_wrapper(const struct wheel *w, const char *base)
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

/* ---- the first pass: names and dist-info files ---- */

static int check_member(const struct wheel *w, const struct ml_tar_entry *e,
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
				    shown(name, tmp), why);
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
				    w->display, w->distinfo, (int)len, shown(name, tmp));
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

		if ((rc = check_member(w, &e, err)) < 0 || (rc = note_distinfo(w, e.name, err)) < 0)
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

static int scan(struct wheel *w, struct ml_error *err)
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
					    w->display, shown(w->names[i], tmp));
	return check_distinfo(w, err);
}

static void wheel_init(struct wheel *w, const char *path, const char *display,
		       const struct ml_wheel_scheme *s)
{
	memset(w, 0, sizeof(*w));
	w->path = path;
	w->display = display ? display : path;
	w->s = s;
	w->dirs.root = -1;
	ml_buf_init(&w->record, META_MAX);
	ml_buf_init(&w->wheelfile, META_MAX);
	ml_buf_init(&w->metadata, META_MAX);
	ml_buf_init(&w->entry_points, META_MAX);
}

static void dirs_pop(struct dirs *d, size_t keep)
{
	while (d->n > keep)
		close(d->open[--d->n].fd);
	ml_buf_truncate(&d->path, keep ? d->open[keep - 1].end : 0);
}

static void wheel_dispose(struct wheel *w)
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
	free(w->headers);
	dirs_pop(&w->dirs, 0);
	if (w->dirs.root >= 0)
		close(w->dirs.root);
	ml_buf_dispose(&w->dirs.path);
	free(w->dirs.open);
	for (i = 0; i < w->nout; i++)
		free(w->out[i].path);
	free(w->out);
	if (w->h_in)
		ml_sha256_free(w->h_in);
	if (w->h_out)
		ml_sha256_free(w->h_out);
	free(w->buf);
}

int ml_wheel_read_meta(const char *path, const char *display, struct ml_wheel_meta *out,
		       struct ml_error *err)
{
	struct ml_wheel_meta m;
	struct wheel w;
	int purelib, rc;

	wheel_init(&w, path, display, NULL);
	rc = scan(&w, err);
	if (rc == 0)
		rc = parse_wheelfile(&w, &purelib, err);
	if (rc == 0)
		rc = parse_metadata(&w, &m, err);
	if (rc == 0)
		*out = m;
	wheel_dispose(&w);
	return rc;
}

/* ---- writing below the root ---- */

static int open_dir(int parent, const char *name, const char *path, struct ml_error *err)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
			return ml_error_errno(err, ML_EIO, errno, "cannot create directory '%s'",
					      path);
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* the umask must not decide the image's modes */
		if (fd >= 0 && fchmod(fd, 0755) < 0) {
			close(fd);
			return ml_error_errno(err, ML_EIO, errno, "cannot chmod '%s'", path);
		}
	}
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return ml_error_set(err, ML_EREFUSED,
				    "'%s' in the staging directory is a symlink or not a directory",
				    path);
	if (fd < 0)
		return ml_error_errno(err, ML_EIO, errno, "cannot open directory '%s'", path);
	return fd;
}

/* Opens the image directory dir[0..len) ("/usr/local/bin"), creating it as needed;
 * the descriptor stays owned by d. */
static int dirs_open(struct dirs *d, const char *dir, size_t len, int *out,
		     struct ml_error *err)
{
	size_t keep = 0, pos;

	while (keep < d->n && d->open[keep].end <= len &&
	       !memcmp(d->path.data, dir, d->open[keep].end) &&
	       (d->open[keep].end == len || dir[d->open[keep].end] == '/'))
		keep++;
	dirs_pop(d, keep);
	for (pos = keep ? d->open[keep - 1].end : 0; pos < len;) {
		const char *next = memchr(dir + pos + 1, '/', len - pos - 1);
		size_t stop = next ? (size_t)(next - dir) : len;
		int fd;

		ml_buf_add(&d->path, dir + pos, stop - pos);
		fd = open_dir(d->n ? d->open[d->n - 1].fd : d->root, d->path.data + pos + 1,
			      d->path.data, err);
		if (fd < 0) {
			ml_buf_truncate(&d->path, pos);
			return fd;
		}
		d->open = ml_grow(d->open, &d->alloc, d->n + 1, sizeof(*d->open));
		d->open[d->n].fd = fd;
		d->open[d->n++].end = stop;
		pos = stop;
	}
	*out = d->n ? d->open[d->n - 1].fd : d->root;
	return 0;
}

/* Creates the file at image path dest, replacing a file already there; *dfd gets
 * its directory (owned by w->dirs), *base its name in dest. */
static int create_file(struct wheel *w, const char *dest, unsigned mode, int *dfd,
		       const char **base, struct ml_error *err)
{
	const char *slash = strrchr(dest, '/');
	struct stat st;
	int fd, rc;

	rc = dirs_open(&w->dirs, dest, (size_t)(slash - dest), dfd, err);
	if (rc < 0)
		return rc;
	*base = slash + 1;
	fd = openat(*dfd, *base, CREATE_FLAGS, mode);
	if (fd < 0 && errno == EEXIST) {
		if (fstatat(*dfd, *base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return ml_error_set(err, ML_EREFUSED,
					    "%s: '%s' is in the way and is not a regular file",
					    w->display, dest);
		ml_log(ML_LOG_WARN, "%s: replacing '%s' written by another wheel", w->display,
		       dest);
		if (unlinkat(*dfd, *base, 0) < 0)
			return ml_error_errno(err, ML_EIO, errno, "cannot replace '%s'", dest);
		fd = openat(*dfd, *base, CREATE_FLAGS, mode);
	}
	if (fd < 0)
		return ml_error_errno(err, ML_EIO, errno, "cannot create '%s'", dest);
	if (fchmod(fd, mode) < 0) {
		rc = ml_error_errno(err, ML_EIO, errno, "cannot chmod '%s'", dest);
		close(fd);
		return rc;
	}
	return fd;
}

/* dest relative to the site-packages dir, as pip's RECORD has it. */
static char *relative_to_lib(const struct wheel *w, const char *dest)
{
	const char *lib = strcmp(w->libdir, "/") ? w->libdir : "";
	struct ml_buf b = ML_BUF_INIT;
	size_t common = 0, i;

	/* common: the '/' ending the longest directory prefix of both */
	for (i = 0; lib[i] && lib[i] == dest[i]; i++)
		if (lib[i] == '/')
			common = i;
	if (!lib[i] && dest[i] == '/')
		common = i;
	for (i = common; lib[i]; i++)
		if (lib[i] == '/')
			ml_buf_adds(&b, "../");
	ml_buf_adds(&b, dest + common + 1);
	return ml_buf_detach(&b);
}

static void add_orow(struct wheel *w, const char *dest, const char *digest, uint64_t size)
{
	struct orow *o;

	w->out = ml_grow(w->out, &w->aout, w->nout + 1, sizeof(*w->out));
	o = &w->out[w->nout];
	o->path = relative_to_lib(w, dest);
	record_hash(digest, o->hash);
	o->size = size;
	o->seq = w->nout++;
}

/* Writes a small generated file and records it. */
static int write_small(struct wheel *w, const char *dest, const void *data, size_t len,
		       unsigned mode, int record, struct ml_error *err)
{
	char digest[ML_DIGEST_LEN];
	const char *base;
	int dfd, fd, rc;

	fd = create_file(w, dest, mode, &dfd, &base, err);
	if (fd < 0)
		return fd;
	rc = ml_write_all(fd, data, len, err);
	if (close(fd) < 0 && rc == 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write '%s'", dest);
	if (rc < 0)
		return rc;
	if (record) {
		ml_sha256_digest(data, len, digest);
		add_orow(w, dest, digest, len);
	}
	return 0;
}

/* ---- the second pass: members to disk ---- */

/* The image path of a member, or NULL for members not installed as they are. */
static int member_dest(struct wheel *w, const char *name, char **dest, int *script,
		       struct ml_error *err)
{
	size_t dn = strlen(w->datadir);
	const char *rest, *slash, *dir;
	char tmp[256];

	*dest = NULL;
	*script = 0;
	if (may_lack_hash(w, name) && has_suffix(name, "/RECORD"))
		return 0;
	if (has_prefix(name, w->distinfo) && !strcmp(name + strlen(w->distinfo), "/INSTALLER"))
		return 0;
	if (strncmp(name, w->datadir, dn) || name[dn] != '/') {
		*dest = ml_asprintf("%s/%s", w->libdir, name);
		return 0;
	}
	rest = name + dn + 1;
	slash = strchr(rest, '/');
	dir = NULL;
	if (slash && slash[1]) {
		size_t n = (size_t)(slash - rest);

		if (n == 7 && !strncmp(rest, "purelib", n))
			dir = w->s->purelib;
		else if (n == 7 && !strncmp(rest, "platlib", n))
			dir = w->s->platlib;
		else if (n == 7 && !strncmp(rest, "scripts", n))
			dir = w->s->scripts, *script = 1;
		else if (n == 4 && !strncmp(rest, "data", n))
			dir = w->s->data;
		else if (n == 7 && !strncmp(rest, "headers", n))
			dir = w->headers;
	}
	if (!dir)
		return ml_error_set(err, ML_EREFUSED,
				    "%s: refusing member '%s' (unknown %s directory)",
				    w->display, shown(name, tmp), w->datadir);
	*dest = ml_asprintf("%s%s", strcmp(dir, "/") ? dir : "", slash);
	return 0;
}

struct copy {
	int fd;			/* -1: hash only */
	int rewrite;		/* the first line changed: h_out hashes what is written */
	uint64_t in_size;
	uint64_t out_size;
	const char *name;	/* the member */
	const char *dest;
};

static int emit(struct wheel *w, struct copy *c, const void *data, size_t len,
		struct ml_error *err)
{
	if (c->rewrite)
		ml_sha256_update(w->h_out, data, len);
	c->out_size += len;
	if (c->fd < 0 || !len)
		return 0;
	if (ml_write_all(c->fd, data, len, err) < 0)
		return ml_error_prefix(err, "cannot write '%s'", c->dest);
	return 0;
}

static long read_in(struct wheel *w, struct ml_tar_reader *r, struct copy *c, char *buf,
		    size_t size, struct ml_error *err)
{
	long n = ml_tar_reader_read(r, buf, size, err);
	char tmp[256];

	if (n < 0)
		return ml_error_prefix(err, "%s: '%s'", w->display, shown(c->name, tmp));
	if (n > 0) {
		ml_sha256_update(w->h_in, buf, (size_t)n);
		c->in_size += (uint64_t)n;
	}
	return n;
}

/* A script's first line "#!python..." becomes "#!<interpreter>", keeping the
 * arguments; the line is looked for in the first COPY_BUF bytes. */
static int copy_script_head(struct wheel *w, struct ml_tar_reader *r, struct copy *c,
			    struct ml_error *err)
{
	size_t have = 0, p;
	const char *eol = NULL;
	long n;
	int rc;

	while (have < COPY_BUF && !eol) {
		n = read_in(w, r, c, w->buf + have, COPY_BUF - have, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		eol = memchr(w->buf + have, '\n', (size_t)n);
		have += (size_t)n;
	}
	if (have < 8 || memcmp(w->buf, "#!python", 8))
		return emit(w, c, w->buf, have, err);
	c->rewrite = 1;
	eol = eol ? eol : w->buf + have;
	for (p = 2; w->buf + p < eol && !strchr(" \t\r", w->buf[p]); p++)
		;
	rc = emit(w, c, "#!", 2, err);
	if (rc == 0)
		rc = emit(w, c, w->s->interpreter, strlen(w->s->interpreter), err);
	return rc < 0 ? rc : emit(w, c, w->buf + p, have - p, err);
}

static int copy_member(struct wheel *w, struct ml_tar_reader *r, struct copy *c, int script,
		       struct ml_error *err)
{
	long n;
	int rc;

	if (script && (rc = copy_script_head(w, r, c, err)) < 0)
		return rc;
	while ((n = read_in(w, r, c, w->buf, COPY_BUF, err)) > 0)
		if ((rc = emit(w, c, w->buf, (size_t)n, err)) < 0)
			return rc;
	return n < 0 ? (int)n : 0;
}

static int verify_member(struct wheel *w, const char *name, const struct copy *c,
			 const char *digest, struct ml_error *err)
{
	const struct rrow *row = find_row(w, name);
	char hash[B64_HASH], tmp[256];

	/* the archive may have changed since the first pass */
	if (!row && !may_lack_hash(w, name))
		return ml_error_set(err, ML_EDIGEST, "%s: '%s' is not in RECORD with a hash",
				    w->display, shown(name, tmp));
	if (!row || !*row->hash)
		return 0;
	record_hash(digest, hash);
	if (strcmp(hash, row->hash) || (row->size >= 0 && (uint64_t)row->size != c->in_size))
		return ml_error_set(err, ML_EDIGEST,
				    "%s: '%s' does not match its RECORD hash or size",
				    w->display, shown(name, tmp));
	return 0;
}

static int install_member(struct wheel *w, struct ml_tar_reader *r,
			  const struct ml_tar_entry *e, struct ml_error *err)
{
	struct copy c = { -1, 0, 0, 0, e->name, NULL };
	char digest[ML_DIGEST_LEN], *dest = NULL;
	const char *base = NULL;
	int script, dfd = -1, rc;
	unsigned mode;

	rc = member_dest(w, e->name, &dest, &script, err);
	if (rc < 0 || !dest)
		goto out;
	mode = script || (e->mode & 0111) ? 0755 : 0644;
	c.dest = dest;
	if (!(script && is_ep_wrapper(w, strrchr(dest, '/') + 1))) {
		c.fd = create_file(w, dest, mode, &dfd, &base, err);
		if (c.fd < 0) {
			rc = c.fd;
			goto out;
		}
	}
	ml_sha256_reset(w->h_in);
	ml_sha256_reset(w->h_out);
	rc = copy_member(w, r, &c, script, err);
	if (c.fd >= 0 && close(c.fd) < 0 && rc == 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write '%s'", dest);
	if (rc == 0) {
		ml_sha256_final(w->h_in, digest);
		rc = verify_member(w, e->name, &c, digest, err);
	}
	if (rc < 0) {
		/* no file that failed its check is left behind */
		if (base)
			unlinkat(dfd, base, 0);
		goto out;
	}
	if (c.fd < 0)
		goto out;
	if (c.rewrite)
		ml_sha256_final(w->h_out, digest);
	add_orow(w, dest, digest, c.out_size);
out:
	free(dest);
	return rc;
}

static int install_members(struct wheel *w, struct ml_error *err)
{
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	int rc = ml_zip_reader_open(&r, w->path, err);

	if (rc < 0)
		return ml_error_prefix(err, "%s", w->display);
	for (;;) {
		rc = ml_tar_reader_next(r, &e, err);
		if (rc <= 0) {
			if (rc < 0)
				ml_error_prefix(err, "%s", w->display);
			break;
		}
		if ((rc = check_member(w, &e, err)) < 0)
			break;
		if (e.type == ML_TAR_FILE && (rc = install_member(w, r, &e, err)) < 0)
			break;
	}
	ml_tar_reader_free(r);
	return rc;
}

/* ---- generated files ---- */

static int write_entry_points(struct wheel *w, struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < w->neps && rc == 0; i++) {
		const struct entry_point *ep = &w->eps[i];
		char *dest = ml_asprintf("%s/%s", strcmp(w->s->scripts, "/") ? w->s->scripts : "",
					 ep->name);

		ml_buf_reset(&b);
		ml_buf_printf(&b,
			      "#!%s\n"
			      "# -*- coding: utf-8 -*-\n"
			      "import re\n"
			      "import sys\n"
			      "from %s import %.*s\n"
			      "if __name__ == '__main__':\n"
			      "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
			      "    sys.exit(%s())\n",
			      w->s->interpreter, ep->module, (int)strcspn(ep->attr, "."), ep->attr,
			      ep->attr);
		rc = write_small(w, dest, b.data, b.len, 0755, 1, err);
		free(dest);
	}
	ml_buf_dispose(&b);
	return rc;
}

static int orow_cmp(const void *a, const void *b)
{
	const struct orow *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void csv_add(struct ml_buf *b, const char *s)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		ml_buf_adds(b, s);
		return;
	}
	ml_buf_addch(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			ml_buf_addch(b, '"');
		ml_buf_addch(b, *s);
	}
	ml_buf_addch(b, '"');
}

/* RECORD as pip writes it: rows sorted, "\r\n" line ends, RECORD itself last
 * among its neighbours with empty hash and size. */
static int write_record(struct wheel *w, struct ml_wheel_installed *out, struct ml_error *err)
{
	struct ml_buf b;
	char *dest = ml_asprintf("%s/%s/RECORD", w->libdir, w->distinfo);
	uint64_t bytes = 0;
	size_t i, n = 0;
	int rc;

	ml_buf_init(&b, (size_t)-1);
	w->out = ml_grow(w->out, &w->aout, w->nout + 1, sizeof(*w->out));
	memset(&w->out[w->nout], 0, sizeof(*w->out));
	w->out[w->nout].path = relative_to_lib(w, dest);
	w->out[w->nout].seq = w->nout;
	w->nout++;
	qsort(w->out, w->nout, sizeof(*w->out), orow_cmp);
	for (i = 0; i < w->nout; i++) {
		const struct orow *o = &w->out[i];

		if (i + 1 < w->nout && !strcmp(o->path, w->out[i + 1].path))
			continue;
		csv_add(&b, o->path);
		if (o->hash[0])
			ml_buf_printf(&b, ",sha256=%s,%llu\r\n", o->hash,
				      (unsigned long long)o->size);
		else
			ml_buf_adds(&b, ",,\r\n");
		bytes += o->size;
		n++;
	}
	rc = write_small(w, dest, b.data, b.len, 0644, 0, err);
	if (rc == 0) {
		out->nfiles = n;
		out->bytes = bytes + b.len;
	}
	ml_buf_dispose(&b);
	free(dest);
	return rc;
}

/* ---- install ---- */

static int clean_abs(const char *p)
{
	const char *c;

	if (!p || *p != '/')
		return 0;
	for (c = p; *c; c++) {
		if (*c != '/')
			continue;
		if (c[1] == '/' || (c[1] == '.' && (!c[2] || c[2] == '/')) ||
		    (c[1] == '.' && c[2] == '.' && (!c[3] || c[3] == '/')) || (!c[1] && c != p))
			return 0;
	}
	return 1;
}

static int check_scheme(const struct ml_wheel_scheme *s, struct ml_error *err)
{
	const char *paths[] = { s->purelib, s->platlib, s->scripts, s->data, s->headers };
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(*paths); i++)
		if (!clean_abs(paths[i]))
			return ml_error_set(err, ML_EINTERNAL, "bad wheel install path '%s'",
					    paths[i] ? paths[i] : "(null)");
	if (!s->root || !s->interpreter || !*s->interpreter || strpbrk(s->interpreter, "\r\n"))
		return ml_error_set(err, ML_EINTERNAL, "bad wheel install root or interpreter");
	return 0;
}

static int prepare(struct wheel *w, struct ml_error *err)
{
	struct ml_wheel_meta m;
	int purelib, rc;

	if ((rc = scan(w, err)) < 0 || (rc = parse_wheelfile(w, &purelib, err)) < 0 ||
	    (rc = parse_metadata(w, &m, err)) < 0)
		return rc;
	w->libdir = purelib ? w->s->purelib : w->s->platlib;
	w->headers = ml_asprintf("%s/%s", strcmp(w->s->headers, "/") ? w->s->headers : "", m.name);
	rc = check_filename(w, "project name", m.name, err);
	ml_wheel_meta_dispose(&m);
	if (rc < 0)
		return rc;
	if (!w->have_record)
		return ml_error_set(err, ML_EDIGEST, "%s: no %s/RECORD", w->display, w->distinfo);
	if ((rc = parse_record(w, err)) < 0 || (rc = check_record(w, err)) < 0)
		return rc;
	return parse_entry_points(w, err);
}

int ml_wheel_install(const char *path, const char *display, const struct ml_wheel_scheme *s,
		     struct ml_wheel_installed *out, struct ml_error *err)
{
	struct ml_wheel_installed res = { 0, 0 };
	struct wheel w;
	char *dest = NULL;
	int rc;

	if ((rc = check_scheme(s, err)) < 0)
		return rc;
	wheel_init(&w, path, display, s);
	if ((rc = prepare(&w, err)) < 0)
		goto out;
	w.dirs.root = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.dirs.root < 0) {
		rc = ml_error_errno(err, ML_EIO, errno, "cannot open staging directory '%s'",
				    s->root);
		goto out;
	}
	w.h_in = ml_sha256_new();
	w.h_out = ml_sha256_new();
	w.buf = ml_malloc(COPY_BUF);
	if ((rc = install_members(&w, err)) < 0 || (rc = write_entry_points(&w, err)) < 0)
		goto out;
	dest = ml_asprintf("%s/%s/INSTALLER", w.libdir, w.distinfo);
	if ((rc = write_small(&w, dest, INSTALLER, strlen(INSTALLER), 0644, 1, err)) < 0 ||
	    (rc = write_record(&w, &res, err)) < 0)
		goto out;
	if (out)
		*out = res;
out:
	free(dest);
	wheel_dispose(&w);
	return rc;
}
