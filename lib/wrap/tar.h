/* tar (and zip) over libarchive. Only tar.c includes archive.h/archive_entry.h.
 * Writers produce deterministic POSIX (pax-restricted) tar: no atime/ctime, no
 * user/group names, numeric ids as given, pax headers only where ustar cannot hold
 * a name or a size, no padding beyond the two end blocks. */
#ifndef ML_TAR_H
#define ML_TAR_H

#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/error.h"

struct ml_tar_writer;

/* The output callback receives the tar stream; return 0 or a negative ml code. */
typedef int (*ml_tar_out_fn)(void *ud, const void *data, size_t len);

int ml_tar_writer_new(struct ml_tar_writer **out, ml_tar_out_fn fn, void *ud,
		      struct ml_error *err);
/* A zip writer (an Elastic Beanstalk source bundle) taking the same add calls:
 * entries deflated, carrying the mtime given and no other time, so that the same
 * entries give the same bytes. */
int ml_zip_writer_new(struct ml_tar_writer **out, ml_tar_out_fn fn, void *ud,
		      struct ml_error *err);
/* Whether name can be stored: tar names (pax headers) are UTF-8. */
int ml_tar_name_valid(const char *name);
/* name for a message (malloc'ed): bytes that are not UTF-8, control characters
 * and '\\' escaped as \xNN (and \\). */
char *ml_tar_name_shown(const char *name);

/* Names are relative ("app/x.py"); mode holds permission bits only. */
int ml_tar_add_dir(struct ml_tar_writer *w, const char *name, unsigned mode, int64_t mtime,
		   unsigned uid, unsigned gid, struct ml_error *err);
int ml_tar_add_symlink(struct ml_tar_writer *w, const char *name, const char *target,
		       int64_t mtime, unsigned uid, unsigned gid, struct ml_error *err);
/* Streams size bytes from fd; fails if the file does not have exactly that size.
 * If tap is given it sees every byte of the file's content. */
int ml_tar_add_file(struct ml_tar_writer *w, const char *name, unsigned mode, int64_t mtime,
		    unsigned uid, unsigned gid, int fd, uint64_t size,
		    void (*tap)(void *ud, const void *data, size_t len), void *tap_ud,
		    struct ml_error *err);
/* Adds a file from memory. */
int ml_tar_add_data(struct ml_tar_writer *w, const char *name, unsigned mode, int64_t mtime,
		    const void *data, size_t len, struct ml_error *err);
/* Writes the end blocks and flushes; the writer must still be freed. */
int ml_tar_writer_close(struct ml_tar_writer *w, struct ml_error *err);
void ml_tar_writer_free(struct ml_tar_writer *w);

/* Reading a tar file (plain or compressed, detected). */
struct ml_tar_reader;

enum ml_tar_type { ML_TAR_FILE, ML_TAR_DIR, ML_TAR_SYMLINK, ML_TAR_OTHER };

struct ml_tar_entry {
	const char *name;	/* borrowed until the next call */
	enum ml_tar_type type;
	int64_t size;
	unsigned mode;		/* permission bits (07777) */
};

int ml_tar_reader_open(struct ml_tar_reader **out, const char *path, struct ml_error *err);
/* Reads a zip file (a wheel) with the same reader calls. The entries and their
 * modes come from the central directory (libarchive's seekable zip reader), their
 * names from each entry's local header, as stored (UTF-8 for wheels) whatever the
 * process locale, except that libarchive turns '\\' into '/' in a name that holds
 * no '/'. Unix symlinks are ML_TAR_SYMLINK; entries without a mode get 0664. */
int ml_zip_reader_open(struct ml_tar_reader **out, const char *path, struct ml_error *err);
/* 1 with an entry, 0 at the end, negative on error. */
int ml_tar_reader_next(struct ml_tar_reader *r, struct ml_tar_entry *e, struct ml_error *err);
/* Reads the current entry's data: bytes read, 0 at its end, negative on error. */
long ml_tar_reader_read(struct ml_tar_reader *r, void *buf, size_t size, struct ml_error *err);
/* ml_tar_reader_read for callers taking a generic reader (void *ud = the reader). */
long ml_tar_reader_read_cb(void *reader, void *buf, size_t size, struct ml_error *err);
/* Reads the rest of the current entry into out; -ML_ETOOBIG past max bytes. */
int ml_tar_reader_read_all(struct ml_tar_reader *r, struct ml_buf *out, size_t max,
			   struct ml_error *err);
void ml_tar_reader_free(struct ml_tar_reader *r);

#endif
