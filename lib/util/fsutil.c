#include "util/fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/tmpfile.h"

int ml_write_all(int fd, const void *buf, size_t len, struct ml_error *err)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ml_error_errno(err, ML_EIO, errno, "cannot write");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ml_mkdirs(const char *path, struct ml_error *err)
{
	char *p = ml_strdup(path);
	char *s;
	int rc = 0;

	for (s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST) {
				rc = ml_error_errno(err, ML_EIO, errno, "cannot create directory '%s'", p);
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return rc;
}

int ml_read_file(const char *path, size_t max, struct ml_buf *out, struct ml_error *err)
{
	char block[1 << 14];
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ml_error_errno(err, errno == ENOENT ? ML_ENOTFOUND : ML_EIO, errno,
				      "cannot open '%s'", path);
	while ((n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
			break;
		}
		if (out->len + (size_t)n > max || ml_buf_add(out, block, (size_t)n) < 0) {
			rc = ml_error_set(err, ML_ETOOBIG, "'%s' is larger than %zu bytes", path, max);
			break;
		}
	}
	close(fd);
	return rc;
}

int ml_write_file_atomic(const char *path, const void *data, size_t len, struct ml_error *err)
{
	char *template = ml_asprintf("%s.tmp-XXXXXX", path);
	char *tmp = NULL;
	int fd = -1, rc;

	rc = ml_tmp_create(template, &tmp, &fd, err);
	if (rc < 0)
		goto out;
	rc = ml_write_all(fd, data, len, err);
	if (rc == 0 && fchmod(fd, 0644) < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot chmod '%s'", tmp);
	if (close(fd) < 0 && rc == 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write '%s'", tmp);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot rename '%s' to '%s'", tmp, path);
	if (rc < 0)
		ml_tmp_remove(tmp);
	else
		ml_tmp_forget(tmp);
out:
	free(tmp);
	free(template);
	return rc;
}

char *ml_path_join(const char *a, const char *b)
{
	size_t la;

	if (b[0] == '/' || !a || !a[0])
		return ml_strdup(b);
	la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	return ml_asprintf("%.*s/%s", (int)la, a, b);
}

char *ml_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return ml_strdup(".");
	if (slash == path)
		return ml_strdup("/");
	return ml_strndup(path, (size_t)(slash - path));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void ml_remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
