/* Small file-system helpers shared by lib/. */
#ifndef ML_FSUTIL_H
#define ML_FSUTIL_H

#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

/* Writes all of buf to fd (retrying short writes and EINTR). */
int ml_write_all(int fd, const void *buf, size_t len, struct ml_error *err);
/* mkdir -p with mode 0755. */
int ml_mkdirs(const char *path, struct ml_error *err);
/* Reads a whole (small) file into out, at most max bytes. */
int ml_read_file(const char *path, size_t max, struct ml_buf *out, struct ml_error *err);
/* Writes data to path atomically (temp file in the same directory + rename). */
int ml_write_file_atomic(const char *path, const void *data, size_t len, struct ml_error *err);
/* Joins a and b with one '/' (b may be absolute: then a is ignored). */
char *ml_path_join(const char *a, const char *b);
/* Directory part of path ("." when none); malloc'ed. */
char *ml_dirname(const char *path);
/* Removes path and everything under it (not following symlinks); best effort. */
void ml_remove_tree(const char *path);

#endif
