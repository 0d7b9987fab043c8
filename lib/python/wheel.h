/* Installing a wheel (PEP 427 / the binary distribution format, PEP 376/627
 * installed metadata) into a staging directory that stands for the image's "/",
 * the way pip's installer does it; the caller turns that directory into a layer. */
#ifndef ML_WHEEL_H
#define ML_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Where things go, as absolute paths in the image; root is the staging directory
 * on this machine standing for the image's "/". */
struct ml_wheel_scheme {
	const char *root;		/* staging directory (exists) */
	const char *purelib;		/* "/usr/local/lib/python3.11/site-packages" */
	const char *platlib;		/* usually the same as purelib */
	const char *scripts;		/* "/usr/local/bin" */
	const char *data;		/* "/usr/local" */
	const char *headers;		/* "/usr/local/include/python3.11" (+ "/<name>") */
	const char *interpreter;	/* "/usr/local/bin/python3.11": #! of scripts */
};

/* What a wheel's METADATA says (core metadata, RFC 822 headers). */
struct ml_wheel_meta {
	char *name;
	char *version;
	char *requires_python;		/* NULL when absent */
	char **requires_dist;		/* PEP 508 strings, as written */
	size_t nrequires_dist;
	char **provides_extra;
	size_t nprovides_extra;
};

/* Reads {name}-{version}.dist-info/METADATA (and checks WHEEL's Wheel-Version is
 * 1.x) from the wheel at path; display names the wheel in messages. */
int ml_wheel_read_meta(const char *path, const char *display, struct ml_wheel_meta *out,
		       struct ml_error *err);
void ml_wheel_meta_dispose(struct ml_wheel_meta *m);

struct ml_wheel_installed {
	size_t nfiles;			/* files written, RECORD included */
	uint64_t bytes;			/* their total size */
};

/* Installs the wheel at path under s->root (streaming, never a whole file in memory):
 * - Root-Is-Purelib decides purelib or platlib for the top level; {name}-{ver}.data/
 *   purelib, platlib, scripts, data, headers go to their scheme paths;
 * - scripts whose first line is "#!python" (or "#!pythonw") get "#!<interpreter>";
 *   scripts are mode 0755;
 * - console_scripts and gui_scripts in entry_points.txt become 0755 scripts in
 *   s->scripts that import and call the object (as pip writes them);
 * - every file is checked against the wheel's RECORD (sha256 and size);
 *   files missing from RECORD, RECORD entries missing from the zip, a bad hash:
 *   -ML_EDIGEST naming the file;
 * - the dist-info gets INSTALLER ("mldeploy\n") and a regenerated RECORD
 *   (image paths relative to the site-packages dir, sha256 urlsafe-base64 without
 *   padding, sizes; RECORD itself with empty hash and size), rows sorted;
 * - a zip member whose path is absolute, holds "..", a backslash, or otherwise
 *   lands outside its scheme directory, symlinks, devices: -ML_EREFUSED naming the
 *   wheel and the member. Nothing is written outside s->root in any case.
 * A file already present (another wheel wrote it) is replaced, with a warning. */
int ml_wheel_install(const char *path, const char *display, const struct ml_wheel_scheme *s,
		     struct ml_wheel_installed *out, struct ml_error *err);

#endif
