#include "image/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/fsutil.h"
#include "util/tmpfile.h"

struct ml_cache {
	char *root;
};

static char *cache_root(void)
{
	const char *dir = getenv("MLDEPLOY_CACHE_DIR");
	const char *home;

	if (dir && dir[0])
		return ml_strdup(dir);
	dir = getenv("XDG_CACHE_HOME");
	if (dir && dir[0] == '/')
		return ml_asprintf("%s/mldeploy", dir);
	home = getenv("HOME");
	return ml_asprintf("%s/.cache/mldeploy", home && home[0] ? home : "/tmp");
}

/* Files a killed run left in tmp/ a day ago are certainly abandoned. */
/* A staging directory ("stage-<pid>-XXXXXX", see ml_cache_tmp_dir) whose build
 * is gone: its process no longer exists, or it is a day old. */
static int stage_abandoned(const char *name, time_t mtime, time_t limit)
{
	long pid;
	char *end;

	if (strncmp(name, "stage-", 6))
		return 0;
	pid = strtol(name + 6, &end, 10);
	if (end == name + 6 || *end != '-' || pid <= 0)
		return mtime < limit;
	return mtime < limit || (kill((pid_t)pid, 0) < 0 && errno == ESRCH);
}

static void sweep_tmp(const struct ml_cache *c)
{
	char *dir = ml_asprintf("%s/tmp", c->root);
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t limit = time(NULL) - 24 * 3600;

	while (d && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode) && st.st_mtime < limit) {
			unlinkat(dirfd(d), de->d_name, 0);
		} else if (S_ISDIR(st.st_mode) && stage_abandoned(de->d_name, st.st_mtime, limit)) {
			char *p = ml_path_join(dir, de->d_name);

			ml_remove_tree(p);
			free(p);
		}
	}
	if (d)
		closedir(d);
	free(dir);
}

int ml_cache_open(struct ml_cache **out, struct ml_error *err)
{
	struct ml_cache *c = ml_calloc(1, sizeof(*c));
	static const char *const subdirs[] = { "blobs/sha256", "records", "tmp" };
	size_t i;
	int rc;

	c->root = cache_root();
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char *p = ml_path_join(c->root, subdirs[i]);

		rc = ml_mkdirs(p, err);
		free(p);
		if (rc < 0) {
			ml_error_prefix(err, "cache");
			ml_cache_free(c);
			return rc;
		}
	}
	sweep_tmp(c);
	*out = c;
	return 0;
}

void ml_cache_free(struct ml_cache *c)
{
	if (!c)
		return;
	free(c->root);
	free(c);
}

const char *ml_cache_root(const struct ml_cache *c)
{
	return c->root;
}

char *ml_cache_blob_path(const struct ml_cache *c, const char *digest)
{
	return ml_asprintf("%s/blobs/sha256/%s", c->root, ml_digest_hex(digest));
}

int ml_cache_blob_present(const struct ml_cache *c, const char *digest, int64_t size)
{
	char *p = ml_cache_blob_path(c, digest);
	struct stat st;
	int ok;

	ok = stat(p, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
	free(p);
	return ok;
}

void ml_cache_blob_remove(const struct ml_cache *c, const char *digest)
{
	char *p = ml_cache_blob_path(c, digest);

	unlink(p);
	free(p);
}

int ml_cache_tmp(const struct ml_cache *c, char **path, int *fd, struct ml_error *err)
{
	char *template = ml_asprintf("%s/tmp/blob-XXXXXX", c->root);
	int rc = ml_tmp_create(template, path, fd, err);

	free(template);
	return rc;
}

int ml_cache_tmp_dir(const struct ml_cache *c, char **path, struct ml_error *err)
{
	char *dir = ml_asprintf("%s/tmp/stage-%ld-XXXXXX", c->root, (long)getpid());

	if (!mkdtemp(dir)) {
		int rc = ml_error_errno(err, ML_EIO, errno, "cannot make a directory in '%s/tmp'",
					c->root);

		free(dir);
		return rc;
	}
	*path = dir;
	return 0;
}

int ml_cache_blob_commit(const struct ml_cache *c, const char *tmp_path, const char *digest,
			 struct ml_error *err)
{
	char *p = ml_cache_blob_path(c, digest);
	int rc = 0;

	chmod(tmp_path, 0644);
	if (rename(tmp_path, p) < 0) {
		rc = ml_error_errno(err, ML_EIO, errno, "cannot move blob into cache '%s'", p);
		ml_tmp_remove(tmp_path);
	} else {
		ml_tmp_forget(tmp_path);
	}
	free(p);
	return rc;
}

int ml_cache_blob_put(const struct ml_cache *c, const void *data, size_t len,
		      char digest[ML_DIGEST_LEN], struct ml_error *err)
{
	char *tmp = NULL;
	int fd = -1, rc;

	ml_sha256_digest(data, len, digest);
	if (ml_cache_blob_present(c, digest, (int64_t)len))
		return 0;
	rc = ml_cache_tmp(c, &tmp, &fd, err);
	if (rc < 0)
		return rc;
	rc = ml_write_all(fd, data, len, err);
	close(fd);
	if (rc == 0)
		rc = ml_cache_blob_commit(c, tmp, digest, err);
	else
		ml_tmp_remove(tmp);
	free(tmp);
	return rc;
}

int ml_cache_blob_store(const struct ml_cache *c, ml_cache_read_fn read, void *ud,
			const char *expect, char digest[ML_DIGEST_LEN], int64_t *size,
			unsigned char head[4], struct ml_error *err)
{
	struct ml_sha256 *h = ml_sha256_new();
	char block[1 << 16];
	char *tmp = NULL;
	int64_t total = 0;
	int fd = -1, rc;
	long n;

	if (head)
		memset(head, 0, 4);
	rc = ml_cache_tmp(c, &tmp, &fd, err);
	if (rc < 0)
		goto out;
	while ((n = read(ud, block, sizeof(block), err)) > 0) {
		if (head && total < 4)
			memcpy(head + total, block, (size_t)(n < 4 - total ? n : 4 - total));
		ml_sha256_update(h, block, (size_t)n);
		total += n;
		rc = ml_write_all(fd, block, (size_t)n, err);
		if (rc < 0)
			break;
	}
	if (n < 0)
		rc = (int)n;
	ml_sha256_final(h, digest);
	*size = total;
	if (close(fd) < 0 && rc == 0)
		rc = ml_error_errno(err, ML_EIO, errno, "cannot write to the cache");
	if (rc == 0 && expect && strcmp(digest, expect))
		rc = ml_error_set(err, ML_EDIGEST, "blob %s hashes to %s", expect, digest);
	if (rc == 0)
		rc = ml_cache_blob_commit(c, tmp, digest, err);
	else
		ml_tmp_remove(tmp);
out:
	ml_sha256_free(h);
	free(tmp);
	return rc;
}

int ml_cache_blob_read(const struct ml_cache *c, const char *digest, size_t max,
		       struct ml_buf *out, struct ml_error *err)
{
	char *p = ml_cache_blob_path(c, digest);
	char got[ML_DIGEST_LEN];
	int rc;

	rc = ml_read_file(p, max, out, err);
	free(p);
	if (rc < 0)
		return rc;
	ml_sha256_digest(out->data, out->len, got);
	if (strcmp(got, digest) != 0) {
		ml_cache_blob_remove(c, digest);
		return ml_error_set(err, ML_ECACHE,
				    "cached blob %s was corrupt (content hashes to %s); removed it",
				    digest, got);
	}
	return 0;
}

static char *record_path(const struct ml_cache *c, const char *kind, const char *key)
{
	return ml_asprintf("%s/records/%s/%s.json", c->root, kind, key);
}

ml_json *ml_cache_record_get(const struct ml_cache *c, const char *kind, const char *key)
{
	struct ml_buf b = ML_BUF_INIT;
	char *p = record_path(c, kind, key);
	ml_json *rec = NULL;

	if (ml_read_file(p, 1 << 20, &b, NULL) == 0)
		rec = ml_json_parse(b.data ? b.data : "", b.len, NULL);
	ml_buf_dispose(&b);
	free(p);
	return rec;
}

int ml_cache_record_put(const struct ml_cache *c, const char *kind, const char *key,
			const ml_json *rec, struct ml_error *err)
{
	struct ml_buf b = ML_BUF_INIT;
	char *dir = ml_asprintf("%s/records/%s", c->root, kind);
	char *p = record_path(c, kind, key);
	int rc;

	rc = ml_mkdirs(dir, err);
	if (rc == 0)
		rc = ml_json_dump(rec, &b);
	if (rc == 0)
		rc = ml_write_file_atomic(p, b.data, b.len, err);
	ml_buf_dispose(&b);
	free(dir);
	free(p);
	return rc;
}
