#include "wrap/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "util/alloc.h"
#include "util/buf.h"

#define COPY_BLOCK (1u << 20)
#define ZIP_BLOCK (256u << 10)

/* File names are UTF-8 bytes whatever the process locale (often "C", in which
 * libarchive refuses every non-ASCII name): the archive calls that convert names
 * run with this thread switched to C.UTF-8. */
static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
	utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Returns the locale to give back to leave_utf8. */
static locale_t enter_utf8(void)
{
	pthread_once(&utf8_once, utf8_init);
	return utf8_loc ? uselocale(utf8_loc) : (locale_t)0;
}

static void leave_utf8(locale_t old)
{
	if (old)
		uselocale(old);
}

/* The length of the character at s (n > 0 bytes), or 0 when s does not start
 * with one in UTF-8; called between enter_utf8 and leave_utf8. */
static size_t utf8_char_len(const char *s, size_t n)
{
	mbstate_t st;
	size_t k;

	memset(&st, 0, sizeof(st));
	k = mbrtowc(NULL, s, n, &st);
	return k == (size_t)-1 || k == (size_t)-2 ? 0 : k;
}

int ml_tar_name_valid(const char *name)
{
	locale_t old = enter_utf8();
	size_t n = strlen(name), i = 0, k = 1;

	while (i < n && (k = utf8_char_len(name + i, n - i)) > 0)
		i += k;
	leave_utf8(old);
	return i == n;
}

char *ml_tar_name_shown(const char *name)
{
	struct ml_buf b = ML_BUF_INIT;
	locale_t old = enter_utf8();
	size_t n = strlen(name), i = 0, k;
	unsigned char c;

	while (i < n) {
		c = (unsigned char)name[i];
		k = utf8_char_len(name + i, n - i);
		if (c == '\\') {
			ml_buf_adds(&b, "\\\\");
			i++;
		} else if (k == 0 || c < 0x20 || c == 0x7f) {
			ml_buf_printf(&b, "\\x%02x", c);
			i++;
		} else {
			ml_buf_add(&b, name + i, k);
			i += k;
		}
	}
	leave_utf8(old);
	return ml_buf_detach(&b);
}

struct ml_tar_writer {
	struct archive *a;
	ml_tar_out_fn fn;
	void *ud;
	int out_rc;		/* first error of the output callback */
	int closed;
	int abandoned;		/* freed unfinished: output is dropped */
	const char *kind;	/* "tar" or "zip", for messages */
	char *block;
};

struct ml_tar_reader {
	struct archive *a;
	const char *kind;	/* "tar" or "zip", for messages */
};

static la_ssize_t writer_cb(struct archive *a, void *ud, const void *data, size_t len)
{
	struct ml_tar_writer *w = ud;
	int rc;

	(void)a;
	if (w->abandoned || w->out_rc)
		return (la_ssize_t)len;
	/* a failure is kept for our caller rather than handed to libarchive, whose
	 * fatal-error path leaks the entry being written */
	rc = w->fn(w->ud, data, len);
	if (rc < 0)
		w->out_rc = rc;
	return (la_ssize_t)len;
}

static int archive_fail(struct ml_tar_writer *w, struct ml_error *err, const char *what,
			const char *name)
{
	if (w->out_rc)
		return w->out_rc;
	return ml_error_set(err, ML_EIO, "cannot write '%s' to %s (%s): %s", name, w->kind, what,
			    archive_error_string(w->a) ? archive_error_string(w->a) : "unknown error");
}

static int writer_new(struct ml_tar_writer **out, int zip, ml_tar_out_fn fn, void *ud,
		      struct ml_error *err)
{
	struct ml_tar_writer *w = ml_calloc(1, sizeof(*w));
	int r;

	w->fn = fn;
	w->ud = ud;
	w->kind = zip ? "zip" : "tar";
	w->a = archive_write_new();
	if (!w->a)
		r = ARCHIVE_FATAL;
	else if (zip)
		r = archive_write_set_format_zip(w->a) == ARCHIVE_OK ?
		    archive_write_set_format_option(w->a, "zip", "compression", "deflate") : ARCHIVE_FATAL;
	else
		r = archive_write_set_format_pax_restricted(w->a);
	if (r != ARCHIVE_OK || archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, writer_cb, NULL, NULL) != ARCHIVE_OK) {
		ml_error_set(err, ML_EINTERNAL, "cannot set up %s writer: %s", w->kind,
			     w->a ? archive_error_string(w->a) : "out of memory");
		ml_tar_writer_free(w);
		return -ML_EINTERNAL;
	}
	w->block = ml_malloc(COPY_BLOCK);
	*out = w;
	return 0;
}

int ml_tar_writer_new(struct ml_tar_writer **out, ml_tar_out_fn fn, void *ud,
		      struct ml_error *err)
{
	return writer_new(out, 0, fn, ud, err);
}

int ml_zip_writer_new(struct ml_tar_writer **out, ml_tar_out_fn fn, void *ud,
		      struct ml_error *err)
{
	return writer_new(out, 1, fn, ud, err);
}

static struct archive_entry *entry_new(const char *name, mode_t type, unsigned mode,
				       int64_t mtime, unsigned uid, unsigned gid)
{
	struct archive_entry *e = archive_entry_new();

	if (!e)
		abort();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode & 07777);
	archive_entry_set_mtime(e, (time_t)mtime, 0);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	return e;
}

static int write_header(struct ml_tar_writer *w, struct archive_entry *e, const char *name,
			struct ml_error *err)
{
	size_t len = strlen(name);
	locale_t old;

	if (!len || (name[len - 1] == '/' && archive_entry_filetype(e) != AE_IFDIR) ||
	    strstr(name, "//")) {
		archive_entry_free(e);
		return ml_error_set(err, ML_EINTERNAL, "refusing tar entry name '%s'", name);
	}
	old = enter_utf8();
	int r = archive_write_header(w->a, e);

	leave_utf8(old);
	archive_entry_free(e);
	if (r != ARCHIVE_OK || w->out_rc)
		return archive_fail(w, err, "header", name);
	return 0;
}

int ml_tar_add_dir(struct ml_tar_writer *w, const char *name, unsigned mode, int64_t mtime,
		   unsigned uid, unsigned gid, struct ml_error *err)
{
	return write_header(w, entry_new(name, AE_IFDIR, mode, mtime, uid, gid), name, err);
}

int ml_tar_add_symlink(struct ml_tar_writer *w, const char *name, const char *target,
		       int64_t mtime, unsigned uid, unsigned gid, struct ml_error *err)
{
	struct archive_entry *e = entry_new(name, AE_IFLNK, 0777, mtime, uid, gid);

	archive_entry_set_symlink(e, target);
	return write_header(w, e, name, err);
}

static int write_data(struct ml_tar_writer *w, const void *data, size_t len, const char *name,
		      struct ml_error *err)
{
	while (len) {
		la_ssize_t n = archive_write_data(w->a, data, len);

		if (n <= 0 || w->out_rc)
			return archive_fail(w, err, "data", name);
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	return 0;
}

int ml_tar_add_file(struct ml_tar_writer *w, const char *name, unsigned mode, int64_t mtime,
		    unsigned uid, unsigned gid, int fd, uint64_t size,
		    void (*tap)(void *ud, const void *data, size_t len), void *tap_ud,
		    struct ml_error *err)
{
	struct archive_entry *e = entry_new(name, AE_IFREG, mode, mtime, uid, gid);
	uint64_t left = size;
	int rc;

	archive_entry_set_size(e, (la_int64_t)size);
	rc = write_header(w, e, name, err);
	if (rc < 0)
		return rc;
	while (left) {
		size_t want = left < COPY_BLOCK ? (size_t)left : COPY_BLOCK;
		ssize_t n = read(fd, w->block, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", name);
		if (n == 0)
			return ml_error_set(err, ML_EIO, "'%s' shrank while it was read", name);
		if (tap)
			tap(tap_ud, w->block, (size_t)n);
		rc = write_data(w, w->block, (size_t)n, name, err);
		if (rc < 0)
			return rc;
		left -= (uint64_t)n;
	}
	if (read(fd, w->block, 1) > 0)
		return ml_error_set(err, ML_EIO, "'%s' grew while it was read", name);
	return 0;
}

int ml_tar_add_data(struct ml_tar_writer *w, const char *name, unsigned mode, int64_t mtime,
		    const void *data, size_t len, struct ml_error *err)
{
	struct archive_entry *e = entry_new(name, AE_IFREG, mode, mtime, 0, 0);
	int rc;

	archive_entry_set_size(e, (la_int64_t)len);
	rc = write_header(w, e, name, err);
	if (rc < 0)
		return rc;
	return write_data(w, data, len, name, err);
}

int ml_tar_writer_close(struct ml_tar_writer *w, struct ml_error *err)
{
	w->closed = 1;
	if (archive_write_close(w->a) != ARCHIVE_OK || w->out_rc)
		return archive_fail(w, err, "end", "archive");
	return 0;
}

void ml_tar_writer_free(struct ml_tar_writer *w)
{
	if (!w)
		return;
	/* an unfinished archive is abandoned: nothing more reaches the callback
	 * (archive_write_fail would do that too, but leaks the format's state) */
	w->abandoned = !w->closed;
	if (w->a)
		archive_write_free(w->a);
	free(w->block);
	free(w);
}

static int reader_open(struct ml_tar_reader **out, const char *path, int zip,
		       struct ml_error *err)
{
	struct ml_tar_reader *r = ml_calloc(1, sizeof(*r));
	const char *kind = zip ? "zip" : "tar";

	r->a = archive_read_new();
	if (!r->a)
		abort();
	r->kind = kind;
	if (zip) {
		archive_read_support_format_zip_seekable(r->a);
	} else {
		archive_read_support_format_tar(r->a);
		archive_read_support_filter_all(r->a);
	}
	if (archive_read_open_filename(r->a, path, zip ? ZIP_BLOCK : 1 << 16) != ARCHIVE_OK) {
		ml_error_set(err, ML_EIO, "cannot open '%s' as a %s archive: %s", path, kind,
			     archive_error_string(r->a));
		ml_tar_reader_free(r);
		return -ML_EIO;
	}
	*out = r;
	return 0;
}

int ml_tar_reader_open(struct ml_tar_reader **out, const char *path, struct ml_error *err)
{
	return reader_open(out, path, 0, err);
}

int ml_zip_reader_open(struct ml_tar_reader **out, const char *path, struct ml_error *err)
{
	return reader_open(out, path, 1, err);
}

int ml_tar_reader_next(struct ml_tar_reader *r, struct ml_tar_entry *e, struct ml_error *err)
{
	struct archive_entry *ae;
	locale_t old = enter_utf8();
	int rc = archive_read_next_header(r->a, &ae);

	if (rc == ARCHIVE_EOF || (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)) {
		leave_utf8(old);
		if (rc == ARCHIVE_EOF)
			return 0;
		return ml_error_set(err, ML_EIO, "cannot read %s archive: %s", r->kind,
				    archive_error_string(r->a));
	}
	e->name = archive_entry_pathname(ae);
	leave_utf8(old);
	e->size = archive_entry_size(ae);
	e->mode = archive_entry_perm(ae) & 07777;
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		e->type = ML_TAR_FILE;
		break;
	case AE_IFDIR:
		e->type = ML_TAR_DIR;
		break;
	case AE_IFLNK:
		e->type = ML_TAR_SYMLINK;
		break;
	default:
		e->type = ML_TAR_OTHER;
	}
	if (!e->name)
		e->name = "";
	return 1;
}

long ml_tar_reader_read(struct ml_tar_reader *r, void *buf, size_t size, struct ml_error *err)
{
	la_ssize_t n = archive_read_data(r->a, buf, size);

	if (n < 0)
		return ml_error_set(err, ML_EIO, "cannot read %s entry: %s", r->kind,
				    archive_error_string(r->a));
	return (long)n;
}

long ml_tar_reader_read_cb(void *reader, void *buf, size_t size, struct ml_error *err)
{
	return ml_tar_reader_read(reader, buf, size, err);
}

int ml_tar_reader_read_all(struct ml_tar_reader *r, struct ml_buf *out, size_t max,
			   struct ml_error *err)
{
	char block[1 << 14];
	long n;

	while ((n = ml_tar_reader_read(r, block, sizeof(block), err)) > 0)
		if (out->len + (size_t)n > max || ml_buf_add(out, block, (size_t)n) < 0)
			return ml_error_set(err, ML_ETOOBIG, "%s entry larger than %zu bytes",
					    r->kind, max);
	return n < 0 ? (int)n : 0;
}

void ml_tar_reader_free(struct ml_tar_reader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	free(r);
}
