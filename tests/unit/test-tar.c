/* Unit tests for lib/wrap/tar.c: deterministic tar streams that GNU tar and our reader
 * agree on, and files that change size while they are read. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "wrap/tar.h"

#define MTIME 1700000000	/* 2023-11-14 22:13:20 UTC */

/* 120 characters: longer than ustar's 100-byte name field and its 155-byte prefix
 * cannot help since the last component alone is this long */
#define LONG_BASE "a-file-name-that-is-much-longer-than-one-hundred-characters-" \
	"so-that-ustar-cannot-hold-it-and-a-pax-header-is-needed.txt"
#define LONG_TARGET "../../" LONG_BASE "/and/then/some/more/directories/to/pass/the/limit"
#define UTF8_NAME "app/caf\xc3\xa9-\xc3\xb1-\xe6\x97\xa5\xe6\x9c\xac.txt"

struct fixture {
	char dir[64];
	char src[96];		/* a file the tar entries are read from */
	char big[96];		/* 3 MiB + 7, more than tar.c's copy block */
};

static const char content[] = "print('hello from app')\n";

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	size_t n = (3u << 20) + 7, i;
	char *big = malloc(n);

	if (!f || !big)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-tar-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->src, sizeof(f->src), "%s/src.py", f->dir);
	snprintf(f->big, sizeof(f->big), "%s/big.bin", f->dir);
	write_file(f->src, content, sizeof(content) - 1);
	for (i = 0; i < n; i++)
		big[i] = (char)(i * 7 + i / 4099);
	write_file(f->big, big, n);
	free(big);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int out_buf(void *ud, const void *data, size_t len)
{
	return ml_buf_add(ud, data, len);
}

static void tap_count(void *ud, const void *data, size_t len)
{
	(void)data;
	*(size_t *)ud += len;
}

/* The reference archive: every kind of entry, in the order given. */
static int write_sample(struct fixture *f, struct ml_buf *out, struct ml_error *err)
{
	struct ml_tar_writer *w = NULL;
	char last[1024];
	size_t tapped = 0;
	struct stat st;
	int fd, rc;

	rc = ml_tar_writer_new(&w, out_buf, out, err);
	if (rc < 0)
		return rc;
	fd = open(f->src, O_RDONLY);
	if (fd < 0)
		return -ML_EIO;
	if ((rc = ml_tar_add_dir(w, "app", 0755, MTIME, 0, 0, err)) < 0 ||
	    (rc = ml_tar_add_file(w, "app/main.py", 0644, MTIME, 0, 0, fd,
				  sizeof(content) - 1, tap_count, &tapped, err)) < 0 ||
	    (rc = ml_tar_add_symlink(w, "app/link.py", "main.py", MTIME, 0, 0, err)) < 0 ||
	    (rc = ml_tar_add_dir(w, "app/" LONG_BASE ".d", 0700, MTIME, 0, 0, err)) < 0 ||
	    (rc = ml_tar_add_data(w, "app/" LONG_BASE, 0755, MTIME, "#!/bin/sh\n", 10, err)) < 0 ||
	    (rc = ml_tar_add_symlink(w, "app/long-link", LONG_TARGET, MTIME, 0, 0, err)) < 0 ||
	    (rc = ml_tar_add_data(w, "app/secret", 0600, MTIME, "x", 1, err)) < 0 ||
	    (rc = ml_tar_add_data(w, "empty", 0644, MTIME, "", 0, err)) < 0)
		goto out;
	close(fd);
	fd = open(f->big, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -ML_EIO;
	if ((rc = ml_tar_add_dir(w, "data", 0755, MTIME, 1000, 1000, err)) < 0 ||
	    (rc = ml_tar_add_file(w, "data/big.bin", 0644, MTIME, 1000, 1000, fd,
				  (uint64_t)st.st_size, NULL, NULL, err)) < 0)
		goto out;
	/* the last entry's data ends a 512-byte block with a non-zero byte */
	memset(last, 'z', sizeof(last));
	rc = ml_tar_add_data(w, "z-last", 0644, MTIME, last, sizeof(last), err);
	if (rc == 0)
		rc = ml_tar_writer_close(w, err);
	if (rc == 0 && tapped != sizeof(content) - 1)
		rc = ml_error_set(err, ML_EINTERNAL, "tap saw %zu bytes", tapped);
out:
	if (fd >= 0)
		close(fd);
	ml_tar_writer_free(w);
	return rc;
}

static void sample(struct fixture *f, struct ml_buf *out)
{
	struct ml_error err = { 0, "" };

	ml_buf_init(out, 64u << 20);
	if (write_sample(f, out, &err) != 0)
		fail_msg("writing the sample tar: %s", err.msg);
}

static char *save(struct fixture *f, const struct ml_buf *b, const char *name)
{
	char *path = malloc(160);
	int fd;

	assert_non_null(path);
	snprintf(path, 160, "%s/%s", f->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b->data, b->len), (ssize_t)b->len);
	close(fd);
	return path;
}

static void test_deterministic(void **state)
{
	struct fixture *f = *state;
	struct ml_buf a, b, c = ML_BUF_INIT;
	char path[160], *p;
	int status, fd;
	pid_t pid;
	ssize_t n;

	sample(f, &a);
	sample(f, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);

	/* and from another process: nothing depends on the pid (pax header names) */
	snprintf(path, sizeof(path), "%s/child.tar", f->dir);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ml_error err = { 0, "" };
		struct ml_buf out;

		ml_buf_init(&out, 64u << 20);
		if (write_sample(f, &out, &err) != 0)
			_exit(1);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, out.data, out.len) != (ssize_t)out.len)
			_exit(2);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ml_buf_init(&c, 64u << 20);
	p = malloc(1 << 16);
	while ((n = read(fd, p, 1 << 16)) > 0)
		ml_buf_add(&c, p, (size_t)n);
	free(p);
	close(fd);
	assert_int_equal(a.len, c.len);
	assert_memory_equal(a.data, c.data, a.len);

	ml_buf_dispose(&a);
	ml_buf_dispose(&b);
	ml_buf_dispose(&c);
}

static int all_zero(const char *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

static void test_layout(void **state)
{
	struct fixture *f = *state;
	struct ml_buf a;

	sample(f, &a);
	/* whole 512-byte blocks, exactly two zero blocks at the end, no padding after */
	assert_int_equal(a.len % 512, 0);
	assert_true(a.len > 1024 + 512);
	assert_true(all_zero(a.data + a.len - 1024, 1024));
	assert_true(a.data[a.len - 1025] != 0);
	/* no host details: atime, ctime, owner names */
	assert_null(memmem(a.data, a.len, "atime=", 6));
	assert_null(memmem(a.data, a.len, "ctime=", 6));
	assert_null(memmem(a.data, a.len, "uname=", 6));
	assert_null(memmem(a.data, a.len, "gname=", 6));
	assert_null(memmem(a.data, a.len, "LIBARCHIVE.", 11));
	/* ustar magic in the first header, and no user name in it */
	assert_memory_equal(a.data + 257, "ustar\0" "00", 8);
	assert_true(all_zero(a.data + 265, 64));
	ml_buf_dispose(&a);
}

struct want {
	const char *name;
	enum ml_tar_type type;
	int64_t size;
};

static const struct want sample_entries[] = {
	{ "app/", ML_TAR_DIR, 0 },
	{ "app/main.py", ML_TAR_FILE, sizeof(content) - 1 },
	{ "app/link.py", ML_TAR_SYMLINK, 0 },
	{ "app/" LONG_BASE ".d/", ML_TAR_DIR, 0 },
	{ "app/" LONG_BASE, ML_TAR_FILE, 10 },
	{ "app/long-link", ML_TAR_SYMLINK, 0 },
	{ "app/secret", ML_TAR_FILE, 1 },
	{ "empty", ML_TAR_FILE, 0 },
	{ "data/", ML_TAR_DIR, 0 },
	{ "data/big.bin", ML_TAR_FILE, (3 << 20) + 7 },
	{ "z-last", ML_TAR_FILE, 1024 },
};

#define NWANT (sizeof(sample_entries) / sizeof(sample_entries[0]))

static int same_name(const char *got, const char *want)
{
	size_t n = strlen(want);

	/* a reader may or may not keep the '/' after a directory name */
	if (strcmp(got, want) == 0)
		return 1;
	return want[n - 1] == '/' && strncmp(got, want, n - 1) == 0 && got[n - 1] == '\0';
}

static void test_read_back(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	struct ml_buf a, data = ML_BUF_INIT;
	char *path, buf[70000];
	size_t i = 0;
	long n;
	int rc;

	sample(f, &a);
	path = save(f, &a, "sample.tar");
	if (ml_tar_reader_open(&r, path, &err) != 0)
		fail_msg("open: %s", err.msg);
	while ((rc = ml_tar_reader_next(r, &e, &err)) == 1) {
		assert_true(i < NWANT);
		if (!same_name(e.name, sample_entries[i].name))
			fail_msg("entry %zu: name '%s', want '%s'", i, e.name, sample_entries[i].name);
		assert_int_equal(e.type, sample_entries[i].type);
		assert_int_equal(e.size, sample_entries[i].size);
		if (e.type == ML_TAR_FILE) {
			ml_buf_init(&data, 8u << 20);
			while ((n = ml_tar_reader_read(r, buf, sizeof(buf), &err)) > 0)
				assert_int_equal(ml_buf_add(&data, buf, (size_t)n), 0);
			assert_int_equal(n, 0);
			assert_int_equal(data.len, sample_entries[i].size);
			if (i == 1)
				assert_string_equal(data.data, content);
			if (i == 4)
				assert_string_equal(data.data, "#!/bin/sh\n");
			if (i == 9)
				assert_int_equal((unsigned char)data.data[4098],
						 (unsigned char)(4098 * 7));
			ml_buf_dispose(&data);
		}
		i++;
	}
	if (rc != 0)
		fail_msg("next: %s", err.msg);
	assert_int_equal(i, NWANT);
	ml_tar_reader_free(r);
	ml_tar_reader_free(NULL);
	free(path);
	ml_buf_dispose(&a);
}

/* Runs cmd and returns its whole output; the command must exit 0. */
static char *run(const char *cmd)
{
	struct ml_buf out = ML_BUF_INIT;
	char buf[4096];
	size_t n;
	int status;
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		ml_buf_add(&out, buf, n);
	status = pclose(p);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("'%s' failed (status %d):\n%s", cmd, status, ml_buf_str(&out));
	return ml_buf_detach(&out);
}

static void test_gnu_tar_listing(void **state)
{
	static const char *const lines[] = {
		"drwxr-xr-x 0/0 0 2023-11-14 22:13:20 app/\n",
		"-rw-r--r-- 0/0 24 2023-11-14 22:13:20 app/main.py\n",
		"lrwxrwxrwx 0/0 0 2023-11-14 22:13:20 app/link.py -> main.py\n",
		"drwx------ 0/0 0 2023-11-14 22:13:20 app/" LONG_BASE ".d/\n",
		"-rwxr-xr-x 0/0 10 2023-11-14 22:13:20 app/" LONG_BASE "\n",
		"lrwxrwxrwx 0/0 0 2023-11-14 22:13:20 app/long-link -> " LONG_TARGET "\n",
		"-rw------- 0/0 1 2023-11-14 22:13:20 app/secret\n",
		"-rw-r--r-- 0/0 0 2023-11-14 22:13:20 empty\n",
		"drwxr-xr-x 1000/1000 0 2023-11-14 22:13:20 data/\n",
		"-rw-r--r-- 1000/1000 3145735 2023-11-14 22:13:20 data/big.bin\n",
		"-rw-r--r-- 0/0 1024 2023-11-14 22:13:20 z-last\n",
	};
	struct fixture *f = *state;
	struct ml_buf a, want = ML_BUF_INIT;
	char cmd[256], *path, *got;
	size_t i;

	sample(f, &a);
	path = save(f, &a, "gnu.tar");
	/* squeeze the column padding; no --numeric-owner, so names would show;
	 * with stderr, so that warnings (unknown pax keywords) count as output */
	snprintf(cmd, sizeof(cmd), "LC_ALL=C.UTF-8 TZ=UTC tar --full-time --quoting-style=literal "
		 "-tvf '%s' 2>&1 | tr -s ' '", path);
	got = run(cmd);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ml_buf_adds(&want, lines[i]);
	assert_string_equal(got, ml_buf_str(&want));
	/* and GNU tar extracts the content we put in */
	free(got);
	snprintf(cmd, sizeof(cmd), "tar -xOf '%s' app/main.py", path);
	got = run(cmd);
	assert_string_equal(got, content);
	free(got);
	free(path);
	ml_buf_dispose(&want);
	ml_buf_dispose(&a);
}

/* Entries that ustar can hold get no pax header: a directory and a one-byte file
 * are two headers, one data block and the two end blocks. */
static void test_no_pax_header_when_not_needed(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_tar_writer *w = NULL;
	struct ml_buf out;

	(void)state;
	ml_buf_init(&out, 1 << 20);
	assert_int_equal(ml_tar_writer_new(&w, out_buf, &out, &err), 0);
	assert_int_equal(ml_tar_add_dir(w, "app", 0755, MTIME, 0, 0, &err), 0);
	assert_int_equal(ml_tar_add_data(w, "app/x.py", 0644, MTIME, "x", 1, &err), 0);
	assert_int_equal(ml_tar_writer_close(w, &err), 0);
	ml_tar_writer_free(w);
	if (out.len != 5 * 512)
		fail_msg("%zu bytes, want %d (pax headers: %s)", out.len, 5 * 512,
			 memmem(out.data, out.len, "PaxHeader", 9) ? "yes" : "no");
	assert_string_equal(out.data, "app/");
	assert_string_equal(out.data + 512, "app/x.py");
	ml_buf_dispose(&out);
}

/* Non-ASCII (UTF-8) names and link targets, as a context may hold, in whatever
 * locale the process runs (mldeploy does not call setlocale: this is "C"). */
static void test_non_ascii_names(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_tar_writer *w = NULL;
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	struct ml_buf out;
	char cmd[256], *path, *got;
	int rc;

	ml_buf_init(&out, 1 << 20);
	assert_int_equal(ml_tar_writer_new(&w, out_buf, &out, &err), 0);
	rc = ml_tar_add_data(w, UTF8_NAME, 0644, MTIME, "x", 1, &err);
	if (rc == 0)
		rc = ml_tar_add_symlink(w, "app/l\xc3\xa9", "caf\xc3\xa9.txt", MTIME, 0, 0, &err);
	if (rc == 0)
		rc = ml_tar_writer_close(w, &err);
	ml_tar_writer_free(w);
	if (rc != 0)
		fail_msg("a UTF-8 name was refused: %s", err.msg);
	path = save(f, &out, "utf8.tar");
	snprintf(cmd, sizeof(cmd), "LC_ALL=C.UTF-8 TZ=UTC tar --quoting-style=literal -tf '%s'", path);
	got = run(cmd);
	assert_string_equal(got, UTF8_NAME "\napp/l\xc3\xa9\n");
	free(got);
	assert_int_equal(ml_tar_reader_open(&r, path, &err), 0);
	assert_int_equal(ml_tar_reader_next(r, &e, &err), 1);
	assert_string_equal(e.name, UTF8_NAME);
	ml_tar_reader_free(r);
	free(path);
	ml_buf_dispose(&out);
}

/* Adds f->src (24 bytes) announcing size bytes. */
static int add_src(struct fixture *f, uint64_t size, struct ml_buf *out, struct ml_error *err)
{
	struct ml_tar_writer *w = NULL;
	int fd = open(f->src, O_RDONLY), rc;

	assert_true(fd >= 0);
	ml_buf_init(out, 1 << 20);
	assert_int_equal(ml_tar_writer_new(&w, out_buf, out, err), 0);
	rc = ml_tar_add_file(w, "main.py", 0644, MTIME, 0, 0, fd, size, NULL, NULL, err);
	close(fd);
	ml_tar_writer_free(w);
	return rc;
}

static void test_file_changes_size(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_buf out;

	/* the file has fewer bytes than announced: it shrank */
	assert_int_equal(add_src(f, sizeof(content) + 9, &out, &err), -ML_EIO);
	assert_int_equal(err.code, ML_EIO);
	assert_non_null(strstr(err.msg, "'main.py'"));
	assert_non_null(strstr(err.msg, "shrank"));
	ml_buf_dispose(&out);

	/* more bytes than announced: it grew */
	ml_error_clear(&err);
	assert_int_equal(add_src(f, 5, &out, &err), -ML_EIO);
	assert_non_null(strstr(err.msg, "'main.py'"));
	assert_non_null(strstr(err.msg, "grew"));
	ml_buf_dispose(&out);

	ml_error_clear(&err);
	assert_int_equal(add_src(f, sizeof(content) - 1, &out, &err), 0);
	ml_buf_dispose(&out);
}

static void test_unreadable_fd(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_tar_writer *w = NULL;
	struct ml_buf out;
	int fd = open(f->dir, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	ml_buf_init(&out, 1 << 20);
	assert_int_equal(ml_tar_writer_new(&w, out_buf, &out, &err), 0);
	assert_int_equal(ml_tar_add_file(w, "dir", 0644, MTIME, 0, 0, fd, 10, NULL, NULL, &err),
			 -ML_EIO);
	assert_non_null(strstr(err.msg, "cannot read 'dir'"));
	close(fd);
	ml_tar_writer_free(w);
	ml_buf_dispose(&out);
}

static int out_fail(void *ud, const void *data, size_t len)
{
	(void)data;
	(void)len;
	++*(int *)ud;
	return -ML_ENET;
}

/* The output callback's code comes back to the caller unchanged. */
static void test_output_error(void **state)
{
	struct ml_error err = { 0, "" };
	struct ml_tar_writer *w = NULL;
	int calls = 0, rc;

	(void)state;
	assert_int_equal(ml_tar_writer_new(&w, out_fail, &calls, &err), 0);
	rc = ml_tar_add_dir(w, "app", 0755, MTIME, 0, 0, &err);
	if (rc == 0)
		rc = ml_tar_add_data(w, "app/x", 0644, MTIME, "x", 1, &err);
	if (rc == 0)
		rc = ml_tar_writer_close(w, &err);
	assert_int_equal(rc, -ML_ENET);
	assert_true(calls > 0);
	ml_tar_writer_free(w);
	ml_tar_writer_free(NULL);
}

static void test_reader_errors(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	struct ml_buf junk = ML_BUF_INIT;
	char path[128], *p;
	int rc;

	snprintf(path, sizeof(path), "%s/does-not-exist.tar", f->dir);
	assert_int_equal(ml_tar_reader_open(&r, path, &err), -ML_EIO);
	assert_non_null(strstr(err.msg, "does-not-exist.tar"));

	ml_buf_adds(&junk, "this is not a tar archive, not even close to one\n");
	p = save(f, &junk, "junk.tar");
	ml_error_clear(&err);
	rc = ml_tar_reader_open(&r, p, &err);
	if (rc == 0) {
		rc = ml_tar_reader_next(r, &e, &err);
		ml_tar_reader_free(r);
	}
	assert_int_equal(rc, -ML_EIO);
	assert_int_equal(err.code, ML_EIO);
	free(p);
	ml_buf_dispose(&junk);
}

/* A gzip-compressed tar is read as well (the filter is detected). */
static void test_reader_gzip(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	struct ml_buf a;
	char cmd[256], *path, *got;
	size_t i = 0;

	sample(f, &a);
	path = save(f, &a, "gz.tar");
	snprintf(cmd, sizeof(cmd), "gzip -n -f '%s'", path);
	got = run(cmd);
	free(got);
	snprintf(path + strlen(path), 8, ".gz");
	assert_int_equal(ml_tar_reader_open(&r, path, &err), 0);
	while (ml_tar_reader_next(r, &e, &err) == 1) {
		assert_true(i < NWANT);
		assert_true(same_name(e.name, sample_entries[i].name));
		i++;
	}
	assert_int_equal(i, NWANT);
	ml_tar_reader_free(r);
	free(path);
	ml_buf_dispose(&a);
}

/* A zip (an Elastic Beanstalk source bundle): the same bytes every time, which
 * unzip and our zip reader take back with the entry's content and time. */
static void zip_sample(struct ml_buf *out)
{
	static const char doc[] = "{\"AWSEBDockerrunVersion\":\"1\"}\n";
	struct ml_tar_writer *w = NULL;
	struct ml_error err = { 0, "" };

	ml_buf_init(out, 1 << 20);
	assert_int_equal(ml_zip_writer_new(&w, out_buf, out, &err), 0);
	assert_int_equal(ml_tar_add_data(w, "Dockerrun.aws.json", 0644, MTIME, doc, sizeof(doc) - 1,
					 &err), 0);
	assert_int_equal(ml_tar_writer_close(w, &err), 0);
	ml_tar_writer_free(w);
}

static void test_zip(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	struct ml_buf a, b, data;
	char path[160], cmd[800];

	zip_sample(&a);
	zip_sample(&b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_memory_equal(a.data, "PK\x03\x04", 4);
	snprintf(path, sizeof(path), "%s/bundle.zip", f->dir);
	write_file(path, a.data, a.len);
	snprintf(cmd, sizeof(cmd), "unzip -tqq '%s' && TZ=UTC unzip -l '%s' | "
		 "grep -q ' 2023-11-14 22:13 *Dockerrun.aws.json$'", path, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ml_zip_reader_open(&r, path, &err), 0);
	assert_int_equal(ml_tar_reader_next(r, &e, &err), 1);
	assert_string_equal(e.name, "Dockerrun.aws.json");
	ml_buf_init(&data, 1 << 20);
	assert_int_equal(ml_tar_reader_read_all(r, &data, 1 << 20, &err), 0);
	assert_string_equal(ml_buf_str(&data), "{\"AWSEBDockerrunVersion\":\"1\"}\n");
	assert_int_equal(ml_tar_reader_next(r, &e, &err), 0);
	ml_tar_reader_free(r);
	ml_buf_dispose(&data);
	ml_buf_dispose(&a);
	ml_buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_gnu_tar_listing),
		cmocka_unit_test(test_no_pax_header_when_not_needed),
		cmocka_unit_test(test_non_ascii_names),
		cmocka_unit_test(test_file_changes_size),
		cmocka_unit_test(test_unreadable_fd),
		cmocka_unit_test(test_output_error),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_reader_gzip),
		cmocka_unit_test(test_zip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
