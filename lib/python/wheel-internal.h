/* What the parts of the wheel code share: the state of one wheel, read by the first
 * pass over its archive (wheelscan.c) and the parsers of its dist-info text files
 * (wheelmeta.c), then installed (wheel.c). */
#ifndef ML_WHEEL_INTERNAL_H
#define ML_WHEEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"
#include "wrap/tar.h"
#include "python/wheel.h"

#define META_MAX (16u << 20)	/* cap on each dist-info file read into memory */

struct orow;
struct ml_sha256;

/* A row of the wheel's RECORD. */
struct rrow {
	char *path;
	char *hash;		/* urlsafe base64 after "sha256=", "" when none */
	int64_t size;		/* -1 when none */
};

struct entry_point {
	char *name;
	char *module;
	char *attr;		/* "func" or "obj.attr.sub" */
};

/* Open directories from root down to the last one written into (wheel.c). */
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
	/* the install's own state (wheel.c) */
	const char *libdir;		/* purelib or platlib: where the dist-info goes */
	char *headers;			/* s->headers + "/" + project name */
	struct dirs dirs;
	struct orow *out;
	size_t nout, aout;
	struct ml_sha256 *h_in;		/* the member as stored */
	struct ml_sha256 *h_out;	/* the member as written, when rewritten */
	char *buf;
};

static inline int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static inline int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- wheelscan.c: one wheel, the first pass ---- */

/* w->s is borrowed (NULL when only reading); ml_wheel_dispose frees what the
 * first pass and the parsers put in w, not the install's own state. */
void ml_wheel_init(struct wheel *w, const char *path, const char *display,
		   const struct ml_wheel_scheme *s);
void ml_wheel_dispose(struct wheel *w);

/* Refuses a member that is a symlink or device, or whose name is absolute, holds
 * "." or "..", a backslash or a control character. */
int ml_wheel_check_member(const struct wheel *w, const struct ml_tar_entry *e,
			  struct ml_error *err);

/* Checks every member name and keeps the small dist-info files (RECORD, WHEEL,
 * METADATA, entry_points.txt) in w; w->names ends up sorted. */
int ml_wheel_scan(struct wheel *w, struct ml_error *err);

/* ---- wheelmeta.c: the dist-info files ---- */

/* Member names in messages, with control characters shown as '?'. */
const char *ml_wheel_shown(const char *name, char out[256]);

/* WHEEL: checks Wheel-Version is 1.x; *purelib gets Root-Is-Purelib. */
int ml_wheel_parse_wheelfile(struct wheel *w, int *purelib, struct ml_error *err);
/* METADATA, into m (disposed of on failure). */
int ml_wheel_parse_metadata(struct wheel *w, struct ml_wheel_meta *m, struct ml_error *err);

/* RECORD into w->rows, sorted by path. */
int ml_wheel_parse_record(struct wheel *w, struct ml_error *err);
const struct rrow *ml_wheel_find_row(const struct wheel *w, const char *path);
/* RECORD itself and its signatures may go without a hash. */
int ml_wheel_may_lack_hash(const struct wheel *w, const char *name);
/* Every member in RECORD with a hash, every RECORD row in the wheel. */
int ml_wheel_check_record(struct wheel *w, struct ml_error *err);

/* Names used as one path component: entry point scripts, the project's headers dir. */
int ml_wheel_check_filename(const struct wheel *w, const char *what, const char *name,
			    struct ml_error *err);
/* console_scripts and gui_scripts of entry_points.txt into w->eps. */
int ml_wheel_parse_entry_points(struct wheel *w, struct ml_error *err);
/* pip leaves out the scripts in .data/scripts that an entry point replaces. */
int ml_wheel_is_ep_wrapper(const struct wheel *w, const char *base);
/* Appends to b the script pip writes for ep, run by interpreter. */
void ml_wheel_ep_script(struct ml_buf *b, const char *interpreter,
			const struct entry_point *ep);

#endif
