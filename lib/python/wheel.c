/* Wheel installation as pip does it, over the zip reader of tar.c. Two passes over
 * the archive: the first (wheelscan.c) checks every member name and keeps the small
 * dist-info files, parsed by wheelmeta.c; the second streams the files to disk,
 * hashing them against RECORD. Files are created below s->root through
 * directory descriptors opened with O_NOFOLLOW, so a symlink in the staging
 * directory cannot send a write elsewhere. */
#include "python/wheel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/digest.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "wrap/tar.h"
#include "python/wheel-internal.h"

#define COPY_BUF (256u << 10)
#define INSTALLER "mldeploy\n"
/* never through a symlink, never into a file someone else opened */
#define CREATE_FLAGS (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC)

/* A row of the RECORD we write. */
struct orow {
	char *path;		/* relative to the site-packages dir */
	char hash[ML_DIGEST_B64URL_LEN];
	uint64_t size;
	size_t seq;		/* write order: the last write of a path wins */
};

/* ---- the install's own state ---- */

static void dirs_pop(struct dirs *d, size_t keep)
{
	while (d->n > keep)
		close(d->open[--d->n].fd);
	ml_buf_truncate(&d->path, keep ? d->open[keep - 1].end : 0);
}

/* Frees what the install added to w, then w. */
static void install_dispose(struct wheel *w)
{
	size_t i;

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
	ml_wheel_dispose(w);
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
	ml_digest_base64url(digest, o->hash);
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
	if (ml_wheel_may_lack_hash(w, name) && has_suffix(name, "/RECORD"))
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
				    w->display, ml_wheel_shown(name, tmp), w->datadir);
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
		return ml_error_prefix(err, "%s: '%s'", w->display, ml_wheel_shown(c->name, tmp));
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
	const struct rrow *row = ml_wheel_find_row(w, name);
	char hash[ML_DIGEST_B64URL_LEN], tmp[256];

	/* the archive may have changed since the first pass */
	if (!row && !ml_wheel_may_lack_hash(w, name))
		return ml_error_set(err, ML_EDIGEST, "%s: '%s' is not in RECORD with a hash",
				    w->display, ml_wheel_shown(name, tmp));
	if (!row || !*row->hash)
		return 0;
	ml_digest_base64url(digest, hash);
	if (strcmp(hash, row->hash) || (row->size >= 0 && (uint64_t)row->size != c->in_size))
		return ml_error_set(err, ML_EDIGEST,
				    "%s: '%s' does not match its RECORD hash or size",
				    w->display, ml_wheel_shown(name, tmp));
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
	if (!(script && ml_wheel_is_ep_wrapper(w, strrchr(dest, '/') + 1))) {
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
		if ((rc = ml_wheel_check_member(w, &e, err)) < 0)
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
		ml_wheel_ep_script(&b, w->s->interpreter, ep);
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

	if ((rc = ml_wheel_scan(w, err)) < 0 ||
	    (rc = ml_wheel_parse_wheelfile(w, &purelib, err)) < 0 ||
	    (rc = ml_wheel_parse_metadata(w, &m, err)) < 0)
		return rc;
	w->libdir = purelib ? w->s->purelib : w->s->platlib;
	w->headers = ml_asprintf("%s/%s", strcmp(w->s->headers, "/") ? w->s->headers : "", m.name);
	rc = ml_wheel_check_filename(w, "project name", m.name, err);
	ml_wheel_meta_dispose(&m);
	if (rc < 0)
		return rc;
	if (!w->have_record)
		return ml_error_set(err, ML_EDIGEST, "%s: no %s/RECORD", w->display, w->distinfo);
	if ((rc = ml_wheel_parse_record(w, err)) < 0 || (rc = ml_wheel_check_record(w, err)) < 0)
		return rc;
	return ml_wheel_parse_entry_points(w, err);
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
	ml_wheel_init(&w, path, display, s);
	w.dirs.root = -1;
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
	install_dispose(&w);
	return rc;
}
