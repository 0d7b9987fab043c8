/* Unit tests for lib/image/layer.c (with cache.c and ignore.c): layers built from a
 * temporary context into a temporary cache, listed back with GNU tar. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "image/cache.h"
#include "wrap/codec.h"
#include "config/config.h"
#include "wrap/digest.h"
#include "image/ignore.h"
#include "wrap/json.h"
#include "image/layer.h"
#include "util/log.h"

#define MTIME 1700000000	/* 2023-11-14 22:13:20 UTC */
#define STAMP "2023-11-14 22:13:20"

struct fixture {
	struct ut_tmpdir tmp;
	struct ml_cache *cache;
	struct ml_ignore *ignore;
	struct ml_ignore *allow;
	struct ml_layer_opts opts;
	char *ctx[8];		/* context directories, freed at teardown */
	size_t nctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ml_error err = { 0, "" };

	if (!f || ut_tmpdir_make(&f->tmp, "test-layer") < 0)
		return -1;
	if (ml_cache_open(&f->cache, &err) != 0) {
		print_error("cache: %s\n", err.msg);
		return -1;
	}
	if (strcmp(ml_cache_root(f->cache), f->tmp.cache_dir) != 0)
		return -1;
	f->ignore = ml_ignore_new();
	f->allow = ml_ignore_new();
	f->opts.ignore = f->ignore;
	f->opts.allow = f->allow;
	f->opts.mtime = MTIME;
	f->opts.codec = &ml_codec_gzip;
	f->opts.level = 6;
	f->opts.threads = 2;
	f->opts.cache = f->cache;
	f->opts.reuse = 1;
	clock_gettime(CLOCK_REALTIME, &f->opts.now);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = ut_tmpdir_remove(&f->tmp);

	while (f->nctx)
		free(f->ctx[--f->nctx]);
	ml_cache_free(f->cache);
	ml_ignore_free(f->ignore);
	ml_ignore_free(f->allow);
	free(f);
	return rc;
}

/* ---- building contexts ---- */

static char *path_in(const char *dir, const char *rel)
{
	return ml_asprintf("%s/%s", dir, rel);
}

static void mkdirs(const char *dir, const char *rel)
{
	char *p = path_in(dir, rel), *s;

	for (s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0777) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
	free(p);
}

/* Creates dir/rel (and its parents) holding content; mode 0 keeps the umask's. */
static void mkfile(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char *p = path_in(dir, rel), *slash = strrchr(rel, '/');
	size_t len = strlen(content);
	int fd;

	if (slash) {
		char *parent = strndup(rel, (size_t)(slash - rel));

		mkdirs(dir, parent);
		free(parent);
	}
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		fail_msg("create %s: %s", p, strerror(errno));
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	if (mode)
		assert_int_equal(chmod(p, mode), 0);
	free(p);
}

static void mklink(const char *dir, const char *rel, const char *target)
{
	char *p = path_in(dir, rel), *slash = strrchr(rel, '/');

	if (slash) {
		char *parent = strndup(rel, (size_t)(slash - rel));

		mkdirs(dir, parent);
		free(parent);
	}
	if (symlink(target, p) < 0)
		fail_msg("symlink %s: %s", p, strerror(errno));
	free(p);
}

/* A new, empty context directory root/name (freed at teardown). */
static const char *context(struct fixture *f, const char *name)
{
	char *p = path_in(f->tmp.root, name);

	assert_true(f->nctx < sizeof(f->ctx) / sizeof(f->ctx[0]));
	f->ctx[f->nctx++] = p;
	assert_int_equal(mkdir(p, 0755), 0);
	return p;
}

/* ---- building layers ---- */

struct cp {
	const char *src, *dst;
};

static int build(struct fixture *f, const char *ctx, const struct cp *cps, size_t n,
		 struct ml_layer_result *res, struct ml_error *err)
{
	struct ml_copy *copies = calloc(n, sizeof(*copies));
	struct ml_copy **ptrs = calloc(n, sizeof(*ptrs));
	struct ml_layer_opts o = f->opts;
	size_t i;
	int rc;

	assert_non_null(copies);
	assert_non_null(ptrs);
	for (i = 0; i < n; i++) {
		copies[i].src = (char *)cps[i].src;
		copies[i].dst = (char *)cps[i].dst;
		copies[i].pos.file = "deploy.yaml";
		copies[i].pos.line = 7 + (int)i;
		copies[i].pos.column = 5;
		ptrs[i] = &copies[i];
	}
	o.context = ctx;
	memset(res, 0, sizeof(*res));
	ml_error_clear(err);
	rc = ml_layer_build("app", ptrs, n, &o, res, err);
	free(copies);
	free(ptrs);
	return rc;
}

static void build_ok(struct fixture *f, const char *ctx, const struct cp *cps, size_t n,
		     struct ml_layer_result *res)
{
	struct ml_error err = { 0, "" };

	if (build(f, ctx, cps, n, res, &err) != 0)
		fail_msg("layer build failed: %s", err.msg);
	assert_true(ml_digest_valid(res->digest));
	assert_true(ml_digest_valid(res->diff_id));
}

/* Builds and expects -code with all of words in the message. */
static void build_fails(struct fixture *f, const char *ctx, const struct cp *cps, size_t n,
			int code, const char *const *words)
{
	struct ml_layer_result res;
	struct ml_error err = { 0, "" };
	int rc = build(f, ctx, cps, n, &res, &err);

	if (rc != -code)
		fail_msg("build returned %d, want %d (message '%s')", rc, -code, err.msg);
	assert_int_equal(err.code, code);
	for (; *words; words++)
		if (!strstr(err.msg, *words))
			fail_msg("message '%s' lacks '%s'", err.msg, *words);
}

/* ---- looking at the result ---- */

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

/* "tar tvzf" of the layer's blob, one entry a line, spaces squeezed. */
static char *listing(struct fixture *f, const struct ml_layer_result *res)
{
	char *blob = ml_cache_blob_path(f->cache, res->digest), *cmd, *out;

	cmd = ml_asprintf("TZ=UTC tar --full-time --quoting-style=literal -tzvf '%s' | tr -s ' '",
			  blob);
	out = run(cmd);
	free(cmd);
	free(blob);
	return out;
}

static char *names(struct fixture *f, const struct ml_layer_result *res)
{
	char *blob = ml_cache_blob_path(f->cache, res->digest), *cmd, *out;

	cmd = ml_asprintf("tar --quoting-style=literal -tzf '%s'", blob);
	out = run(cmd);
	free(cmd);
	free(blob);
	return out;
}

static char *extract_one(struct fixture *f, const struct ml_layer_result *res, const char *name)
{
	char *blob = ml_cache_blob_path(f->cache, res->digest), *cmd, *out;

	cmd = ml_asprintf("tar -xzOf '%s' '%s'", blob, name);
	out = run(cmd);
	free(cmd);
	free(blob);
	return out;
}

static void expect_names(struct fixture *f, const struct ml_layer_result *res,
			 const char *want)
{
	char *got = names(f, res);
	int same = strcmp(got, want) == 0;

	if (!same)
		print_error("layer holds:\n%s\nwant:\n%s\n", got, want);
	free(got);
	assert_true(same);
}

static void expect_listing(struct fixture *f, const struct ml_layer_result *res,
			   const char *want)
{
	char *got = listing(f, res);
	int same = strcmp(got, want) == 0;

	if (!same)
		print_error("layer listing:\n%s\nwant:\n%s\n", got, want);
	free(got);
	assert_true(same);
}

/* The blob's digest, the uncompressed stream's digest and the sizes all agree. */
static void check_blob(struct fixture *f, const struct ml_layer_result *res)
{
	char *blob = ml_cache_blob_path(f->cache, res->digest);
	char d[ML_DIGEST_LEN], *cmd, *out;
	struct ml_error err = { 0, "" };
	uint64_t size;
	int fd = open(blob, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(ml_sha256_fd(fd, d, &size, &err), 0);
	close(fd);
	assert_string_equal(d, res->digest);
	assert_int_equal(size, res->size);
	assert_true(ml_cache_blob_present(f->cache, res->digest, (int64_t)res->size));
	cmd = ml_asprintf("gzip -dc < '%s' | sha256sum", blob);
	out = run(cmd);
	free(cmd);
	assert_memory_equal(out, ml_digest_hex(res->diff_id), 64);
	free(out);
	cmd = ml_asprintf("gzip -dc < '%s' | wc -c", blob);
	out = run(cmd);
	free(cmd);
	assert_int_equal(strtoull(out, NULL, 10), res->uncompressed_size);
	free(out);
	free(blob);
}

/* ---- determinism, layout, modes ---- */

static void fill_app(const char *ctx, int other_order)
{
	if (!other_order) {
		mkfile(ctx, "app/main.py", "print('main')\n", 0644);
		mkfile(ctx, "app/run.sh", "#!/bin/sh\nexec python main.py\n", 0755);
		mkfile(ctx, "app/pkg/__init__.py", "", 0644);
		mkfile(ctx, "app/pkg/util.py", "X = 1\n", 0640);
		mklink(ctx, "app/current", "main.py");
	} else {
		mklink(ctx, "app/current", "main.py");
		mkfile(ctx, "app/pkg/util.py", "X = 1\n", 0);
		mkfile(ctx, "app/pkg/__init__.py", "", 0);
		mkfile(ctx, "app/run.sh", "#!/bin/sh\nexec python main.py\n", 0700);
		mkfile(ctx, "app/main.py", "print('main')\n", 0);
	}
}

static void set_times(const char *ctx, const char *rel, time_t t)
{
	struct timespec ts[2] = { { t, 123 }, { t, 456789 } };
	char *p = path_in(ctx, rel);

	assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
	free(p);
}

static void test_deterministic(void **state)
{
	static const struct cp cps[] = { { "app/", "/srv/app/" } };
	struct fixture *f = *state;
	struct ml_layer_result a, b;
	const char *ctx_a = context(f, "a"), *ctx_b = context(f, "b");
	mode_t old = umask(022);

	fill_app(ctx_a, 0);
	/* other order, other umask, other times, other directory */
	umask(077);
	fill_app(ctx_b, 1);
	umask(old);
	set_times(ctx_b, "app/main.py", 1000000000);
	set_times(ctx_b, "app/pkg", 1234567890);
	set_times(ctx_b, "app/current", 999);
	set_times(ctx_b, "app", 2000000000);

	build_ok(f, ctx_a, cps, 1, &a);
	build_ok(f, ctx_b, cps, 1, &b);
	assert_int_equal(a.cached, 0);
	assert_int_equal(b.cached, 0);
	assert_string_equal(a.digest, b.digest);
	assert_string_equal(a.diff_id, b.diff_id);
	assert_int_equal(a.size, b.size);
	assert_int_equal(a.uncompressed_size, b.uncompressed_size);
	assert_int_equal(a.nfiles, b.nfiles);
	check_blob(f, &a);

	/* the layer's mtime is the only time in it */
	f->opts.mtime = MTIME + 1;
	build_ok(f, ctx_a, cps, 1, &b);
	assert_int_equal(b.cached, 0);
	assert_string_not_equal(a.diff_id, b.diff_id);
}

/* Threads and levels do what they say; no codec gives an uncompressed layer. */
static void test_codecs(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	struct fixture *f = *state;
	struct ml_layer_result a, b, plain;
	const char *ctx = context(f, "ctx");

	fill_app(ctx, 0);
	build_ok(f, ctx, cps, 1, &a);
	f->opts.threads = 1;
	f->opts.reuse = 0;
	build_ok(f, ctx, cps, 1, &b);
	assert_int_equal(b.cached, 0);
	assert_string_equal(a.digest, b.digest);

	f->opts.codec = NULL;
	f->opts.level = 0;
	build_ok(f, ctx, cps, 1, &plain);
	assert_string_equal(plain.diff_id, a.diff_id);
	assert_string_equal(plain.digest, plain.diff_id);
	assert_int_equal(plain.size, plain.uncompressed_size);
	assert_int_equal(plain.uncompressed_size, a.uncompressed_size);

	f->opts.codec = &ml_codec_zstd;
	f->opts.level = 3;
	build_ok(f, ctx, cps, 1, &b);
	assert_string_equal(b.diff_id, a.diff_id);
	assert_string_not_equal(b.digest, a.digest);
}

/* Entries sort by the bytes of their whole path (so "a-b" and "a.txt" come
 * between "a" and "a/x"), every parent comes before its children. */
static void test_parents_sorted_and_modes(void **state)
{
	static const struct cp cps[] = { { "app/", "/opt/svc/" } };
	static const char want[] =
		"drwxr-xr-x 0/0 0 " STAMP " opt/\n"
		"drwxr-xr-x 0/0 0 " STAMP " opt/svc/\n"
		"-rw-r--r-- 0/0 2 " STAMP " opt/svc/B.txt\n"
		"drwxr-xr-x 0/0 0 " STAMP " opt/svc/a/\n"
		"-rw-r--r-- 0/0 2 " STAMP " opt/svc/a-b\n"
		"-rw-r--r-- 0/0 2 " STAMP " opt/svc/a.txt\n"
		"-rw-r--r-- 0/0 2 " STAMP " opt/svc/a/x\n"
		"drwxr-xr-x 0/0 0 " STAMP " opt/svc/bin/\n"
		"-rwxr-xr-x 0/0 8 " STAMP " opt/svc/bin/tool\n"
		"-rwxr-xr-x 0/0 8 " STAMP " opt/svc/bin/tool2\n"
		"lrwxrwxrwx 0/0 0 " STAMP " opt/svc/link -> bin/tool\n"
		"drwxr-xr-x 0/0 0 " STAMP " opt/svc/private/\n"
		"-rw-r--r-- 0/0 2 " STAMP " opt/svc/private/p\n"
		"-rw-r--r-- 0/0 2 " STAMP " opt/svc/z.txt\n";
	struct fixture *f = *state;
	struct ml_layer_result res;
	const char *ctx = context(f, "ctx");
	char *priv;

	mkfile(ctx, "app/z.txt", "z\n", 0644);
	mkfile(ctx, "app/a.txt", "a\n", 0600);
	mkfile(ctx, "app/B.txt", "B\n", 0664);
	mkfile(ctx, "app/a-b", "-\n", 0400);
	mkfile(ctx, "app/a/x", "x\n", 0644);
	mkfile(ctx, "app/bin/tool", "#!/bin/\n", 0750);
	mkfile(ctx, "app/bin/tool2", "#!/bin/\n", 0500);
	mkfile(ctx, "app/private/p", "p\n", 0644);
	mklink(ctx, "app/link", "bin/tool");
	priv = path_in(ctx, "app/private");
	assert_int_equal(chmod(priv, 0700), 0);

	free(priv);
	build_ok(f, ctx, cps, 1, &res);
	expect_listing(f, &res, want);
	check_blob(f, &res);
}

/* Copies to "/" and of single files, renamed or into a directory; the later of
 * two copies to one path wins. */
static void test_destinations(void **state)
{
	static const struct cp cps[] = {
		{ "app", "/" },
		{ "main.py", "/srv/" },
		{ "main.py", "/srv/entry.py" },
		{ "other.py", "/srv/entry.py" },
	};
	struct fixture *f = *state;
	struct ml_layer_result res;
	const char *ctx = context(f, "ctx");
	char *got;

	mkfile(ctx, "app/x.txt", "x\n", 0644);
	mkfile(ctx, "main.py", "main\n", 0644);
	mkfile(ctx, "other.py", "other\n", 0644);
	build_ok(f, ctx, cps, 4, &res);
	expect_names(f, &res, "srv/\nsrv/entry.py\nsrv/main.py\nx.txt\n");
	got = extract_one(f, &res, "srv/entry.py");
	assert_string_equal(got, "other\n");
	free(got);
}

/* Copying an empty directory (or one whose files are all ignored) to /data/
 * still makes /data, as docker's COPY does: the application may write there. */
static void test_empty_directory(void **state)
{
	static const struct cp cps[] = { { "data/", "/data/" }, { "main.py", "/app/" } };
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_layer_result res;
	const char *ctx = context(f, "ctx");

	mkdirs(ctx, "data");
	mkfile(ctx, "main.py", "m\n", 0644);
	build_ok(f, ctx, cps, 2, &res);
	expect_names(f, &res, "app/\napp/main.py\ndata/\n");

	assert_int_equal(ml_ignore_add(f->ignore, "data/*.tmp", "test", &err), 0);
	mkfile(ctx, "data/x.tmp", "t\n", 0644);
	build_ok(f, ctx, cps, 2, &res);
	expect_names(f, &res, "app/\napp/main.py\ndata/\n");
}

static void test_ignore(void **state)
{
	static const char *const patterns[] = {
		"*.log", "**/__pycache__", "docs", "!docs/README.md", ".git", NULL,
	};
	static const struct cp cps[] = { { ".", "/app/" } };
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_layer_result res;
	const char *ctx = context(f, "ctx");
	const char *const *p;

	for (p = patterns; *p; p++)
		assert_int_equal(ml_ignore_add(f->ignore, *p, "test", &err), 0);
	mkfile(ctx, "main.py", "m\n", 0644);
	mkfile(ctx, "x.log", "l\n", 0644);
	mkfile(ctx, "sub/y.log", "l\n", 0644);
	mkfile(ctx, "__pycache__/a.pyc", "c\n", 0644);
	mkfile(ctx, "pkg/__pycache__/b.pyc", "c\n", 0644);
	mkfile(ctx, "pkg/mod.py", "p\n", 0644);
	mkfile(ctx, "docs/a.md", "d\n", 0644);
	mkfile(ctx, "docs/README.md", "r\n", 0644);
	mkfile(ctx, ".git/config", "[core]\n", 0644);
	mkfile(ctx, ".git/objects/ab/cdef", "blob\n", 0644);
	build_ok(f, ctx, cps, 1, &res);
	/* "*.log" is anchored at the context: sub/y.log stays, as with docker */
	expect_names(f, &res, "app/\napp/docs/\napp/docs/README.md\napp/main.py\napp/pkg/\n"
		     "app/pkg/mod.py\napp/sub/\napp/sub/y.log\n");
}

/* A src that is itself excluded is a configuration error, not an empty layer. */
static void test_ignored_src(void **state)
{
	static const struct cp cps[] = { { "build/", "/app/" } };
	static const char *const words[] = { "deploy.yaml:7:5: ", "'build'", "excluded", NULL };
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	const char *ctx = context(f, "ctx");

	assert_int_equal(ml_ignore_add(f->ignore, "build", "test", &err), 0);
	mkfile(ctx, "build/x", "x\n", 0644);
	build_fails(f, ctx, cps, 1, ML_ECONFIG, words);
}

/* config.c accepts a src written "./app/" or "app//"; it is the same directory as
 * "app/", so the same ignore patterns apply to it and the same layer comes out. */
static void test_dot_slash_src(void **state)
{
	static const struct cp plain[] = { { "app/", "/app/" } };
	static const struct cp dotted[] = { { "./app/", "/app/" } };
	static const struct cp doubled[] = { { "app//", "/app/" } };
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct ml_layer_result a, b;
	const char *ctx = context(f, "ctx");

	assert_int_equal(ml_ignore_add(f->ignore, "app/*.pyc", "test", &err), 0);
	mkfile(ctx, "app/main.py", "m\n", 0644);
	mkfile(ctx, "app/main.pyc", "c\n", 0644);
	build_ok(f, ctx, plain, 1, &a);
	expect_names(f, &a, "app/\napp/main.py\n");
	build_ok(f, ctx, dotted, 1, &b);
	expect_names(f, &b, "app/\napp/main.py\n");
	assert_string_equal(a.diff_id, b.diff_id);
	build_ok(f, ctx, doubled, 1, &b);
	expect_names(f, &b, "app/\napp/main.py\n");
}

/* ---- symlinks ---- */

static void test_symlinks_inside(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	static const char want[] =
		"drwxr-xr-x 0/0 0 " STAMP " app/\n"
		"lrwxrwxrwx 0/0 0 " STAMP " app/cur -> ./main.py\n"
		"lrwxrwxrwx 0/0 0 " STAMP " app/dangling -> missing.txt\n"
		"lrwxrwxrwx 0/0 0 " STAMP " app/lib -> sub\n"
		"-rw-r--r-- 0/0 2 " STAMP " app/main.py\n"
		"drwxr-xr-x 0/0 0 " STAMP " app/sub/\n"
		"-rw-r--r-- 0/0 2 " STAMP " app/sub/s.py\n"
		"lrwxrwxrwx 0/0 0 " STAMP " app/sub/up -> ../main.py\n"
		"lrwxrwxrwx 0/0 0 " STAMP " app/sub/up2 -> ../../other.txt\n";
	struct fixture *f = *state;
	struct ml_layer_result res;
	const char *ctx = context(f, "ctx");

	mkfile(ctx, "other.txt", "o\n", 0644);
	mkfile(ctx, "app/main.py", "m\n", 0644);
	mkfile(ctx, "app/sub/s.py", "s\n", 0644);
	mklink(ctx, "app/cur", "./main.py");
	mklink(ctx, "app/lib", "sub");
	mklink(ctx, "app/dangling", "missing.txt");
	mklink(ctx, "app/sub/up", "../main.py");
	/* leaves app/ but stays in the context */
	mklink(ctx, "app/sub/up2", "../../other.txt");
	build_ok(f, ctx, cps, 1, &res);
	expect_listing(f, &res, want);
}

static void expect_link_refused(struct fixture *f, const char *name, const char *link,
				const char *target)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	const char *words[] = { "deploy.yaml:7:5: ", NULL, NULL, "outside the build context",
				"hint", NULL };
	const char *ctx = context(f, name);
	char quoted_link[256], quoted_target[256];

	snprintf(quoted_link, sizeof(quoted_link), "symlink '%s'", link);
	snprintf(quoted_target, sizeof(quoted_target), "'%s'", target);
	words[1] = quoted_link;
	words[2] = quoted_target;
	mkfile(ctx, "app/main.py", "m\n", 0644);
	mklink(ctx, link, target);
	build_fails(f, ctx, cps, 1, ML_EREFUSED, words);
}

static void test_symlink_escapes(void **state)
{
	struct fixture *f = *state;

	expect_link_refused(f, "c1", "app/abs", "/etc/passwd");
	expect_link_refused(f, "c2", "app/abs-inside", "/app/main.py");
	expect_link_refused(f, "c3", "app/up", "../../x");
	expect_link_refused(f, "c4", "app/sub/up", "../../../etc/passwd");
	expect_link_refused(f, "c5", "app/sneaky", "sub/../../../x");
	expect_link_refused(f, "c6", "app/dotdot", "..//..");
}

/* Resolving the target by its text alone misses links through other links:
 * app/self -> "." makes app/self/.. the context and app/self/../.. its parent. */
static void test_symlink_escape_through_link(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	static const char *const words[] = { "app/esc", "outside the build context", NULL };
	struct fixture *f = *state;
	const char *ctx = context(f, "ctx");

	mkfile(ctx, "app/main.py", "m\n", 0644);
	mklink(ctx, "app/self", ".");
	mklink(ctx, "app/esc", "self/../../outside.txt");
	build_fails(f, ctx, cps, 1, ML_EREFUSED, words);
}

static void test_src_escapes(void **state)
{
	struct fixture *f = *state;
	const char *ctx = context(f, "ctx");
	char *outside = path_in(f->tmp.root, "outside");
	static const char *const words[] = { "outside the build context", "resolves to", NULL };
	static const struct cp through_abs[] = { { "ext/secret.txt", "/x" } };
	static const struct cp through_rel[] = { { "rel/", "/x/" } };
	static const struct cp the_link[] = { { "ext", "/x/" } };
	static const struct cp file_link[] = { { "passwd", "/x" } };
	static const struct cp nested[] = { { "sub/ext/deeper/", "/x/" } };

	mkfile(f->tmp.root, "outside/secret.txt", "secret\n", 0644);
	mkfile(f->tmp.root, "outside/deeper/y", "y\n", 0644);
	mkfile(ctx, "main.py", "m\n", 0644);
	mklink(ctx, "ext", outside);
	mklink(ctx, "rel", "../outside");
	mklink(ctx, "passwd", "/etc/passwd");
	mklink(ctx, "sub/ext", "../../outside");
	build_fails(f, ctx, through_abs, 1, ML_EREFUSED, words);
	build_fails(f, ctx, through_rel, 1, ML_EREFUSED, words);
	build_fails(f, ctx, the_link, 1, ML_EREFUSED, words);
	build_fails(f, ctx, file_link, 1, ML_EREFUSED, words);
	build_fails(f, ctx, nested, 1, ML_EREFUSED, words);
	free(outside);
}

/* A src that is a symlink to something inside the context is followed. */
static void test_src_link_inside(void **state)
{
	static const struct cp cps[] = { { "current/", "/app/" }, { "entry", "/bin/entry" } };
	struct fixture *f = *state;
	struct ml_layer_result res;
	const char *ctx = context(f, "ctx");
	char *got;

	mkfile(ctx, "releases/v2/main.py", "v2\n", 0644);
	mkfile(ctx, "scripts/start.sh", "#!/bin/sh\n", 0755);
	mklink(ctx, "current", "releases/v2");
	mklink(ctx, "entry", "scripts/start.sh");
	build_ok(f, ctx, cps, 2, &res);
	expect_names(f, &res, "app/\napp/main.py\nbin/\nbin/entry\n");
	got = listing(f, &res);
	assert_non_null(strstr(got, "-rwxr-xr-x 0/0 10 " STAMP " bin/entry\n"));
	free(got);
}

/* ---- credential files ---- */

static const char sa_key[] =
	"{\n  \"type\": \"service_account\",\n  \"project_id\": \"p\",\n"
	"  \"private_key_id\": \"abc\",\n"
	"  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIE...\\n-----END PRIVATE KEY-----\\n\",\n"
	"  \"client_email\": \"x@p.iam.gserviceaccount.com\"\n}\n";

static void expect_secret_refused(struct fixture *f, const char *name, const char *rel,
				  const char *content)
{
	static const struct cp cps[] = { { ".", "/app/" } };
	char quoted[256];
	const char *words[] = { "deploy.yaml:7:5: ", quoted, "credential", "hint",
				"allow_credentials", ".dockerignore", NULL };
	struct ml_error err = { 0, "" };
	struct ml_layer_result res;
	struct ml_ignore *allow;
	const char *ctx = context(f, name);
	char *got, line[300];

	snprintf(quoted, sizeof(quoted), "'%s'", rel);
	mkfile(ctx, "main.py", "m\n", 0644);
	mkfile(ctx, rel, content, 0600);
	build_fails(f, ctx, cps, 1, ML_EREFUSED, words);

	/* listed in image.allow_credentials: it ships */
	allow = ml_ignore_new();
	assert_int_equal(ml_ignore_add(allow, rel, "deploy.yaml:20:7", &err), 0);
	f->opts.allow = allow;
	build_ok(f, ctx, cps, 1, &res);
	got = names(f, &res);
	snprintf(line, sizeof(line), "app/%s\n", rel);
	if (!strstr(got, line))
		fail_msg("allowed '%s' missing from the layer:\n%s", rel, got);
	free(got);
	f->opts.allow = f->allow;
	ml_ignore_free(allow);

	/* excluded by the ignore patterns: nothing to refuse */
	assert_int_equal(ml_ignore_add(f->ignore, rel, ".dockerignore:1", &err), 0);
	build_ok(f, ctx, cps, 1, &res);
	got = names(f, &res);
	assert_null(strstr(got, line));
	free(got);
	ml_ignore_free(f->ignore);
	f->ignore = ml_ignore_new();
	f->opts.ignore = f->ignore;
}

static void test_credential_files(void **state)
{
	struct fixture *f = *state;

	expect_secret_refused(f, "c1", ".env", "API_KEY=s3cret\n");
	expect_secret_refused(f, "c2", "id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	expect_secret_refused(f, "c3", "certs/x.pem", "-----BEGIN PRIVATE KEY-----\n");
	expect_secret_refused(f, "c4", "sa.json", sa_key);
	expect_secret_refused(f, "c5", "config/deploy/key.json", sa_key);
	expect_secret_refused(f, "c6", "app/.env.production", "DB_PASSWORD=x\n");
	expect_secret_refused(f, "c7", ".aws/credentials", "[default]\naws_secret_access_key=x\n");
}

/* Copied by name, a credential file is refused all the same. */
static void test_credential_file_by_name(void **state)
{
	static const struct cp cps[] = { { ".env", "/app/.env" } };
	static const char *const words[] = { "'.env'", "credential", NULL };
	struct fixture *f = *state;
	const char *ctx = context(f, "ctx");

	mkfile(ctx, ".env", "TOKEN=x\n", 0644);
	build_fails(f, ctx, cps, 1, ML_EREFUSED, words);
}

static void test_not_credentials(void **state)
{
	static const struct cp cps[] = { { ".", "/app/" } };
	struct fixture *f = *state;
	struct ml_layer_result res;
	const char *ctx = context(f, "ctx");

	mkfile(ctx, ".env.example", "API_KEY=changeme\n", 0644);
	mkfile(ctx, ".env.sample", "API_KEY=changeme\n", 0644);
	mkfile(ctx, "id_rsa.pub", "ssh-rsa AAAA\n", 0644);
	mkfile(ctx, "settings.json", "{\"private_key\": \"none\", \"type\": \"config\"}\n", 0644);
	mkfile(ctx, "package.json", "{\"name\": \"service_account\"}\n", 0644);
	mkfile(ctx, "keys.py", "KEYS = []\n", 0644);
	mkfile(ctx, "environment.yml", "name: x\n", 0644);
	build_ok(f, ctx, cps, 1, &res);
	expect_names(f, &res, "app/\napp/.env.example\napp/.env.sample\napp/environment.yml\n"
		     "app/id_rsa.pub\napp/keys.py\napp/package.json\napp/settings.json\n");
}

static void test_looks_secret_table(void **state)
{
	static const struct {
		const char *path;
		int secret;
	} names_table[] = {
		{ ".env", 1 }, { ".env.local", 1 }, { ".env.production", 1 }, { "app/.env", 1 },
		{ ".env.example", 0 }, { ".env.sample", 0 }, { ".env.template", 0 },
		{ "app/.env.example", 0 }, { "env", 0 }, { "dotenv.py", 0 }, { ".envrc", 0 },
		{ "x.pem", 1 }, { "certs/server.key", 1 }, { "store.p12", 1 }, { "a.pfx", 1 },
		{ "release.keystore", 1 }, { "java.jks", 1 },
		{ "id_rsa", 1 }, { "home/u/.ssh/id_ed25519", 1 }, { "id_ecdsa", 1 }, { "id_dsa", 1 },
		{ "id_rsa.pub", 0 }, { "id_ed25519.pub", 0 },
		{ ".netrc", 1 }, { ".pypirc", 1 }, { ".npmrc", 1 }, { ".git-credentials", 1 },
		{ ".aws/credentials", 1 }, { "home/.aws/credentials", 1 },
		{ ".docker/config.json", 1 }, { "ci/.docker/config.json", 1 },
		{ "credentials", 0 }, { "config.json", 0 }, { "keys.py", 0 }, { "monkey", 0 },
		{ "pem", 0 }, { "README.md", 0 }, { "key.json", 0 }, { "src/main.py", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names_table) / sizeof(names_table[0]); i++)
		if (ml_layer_looks_secret(names_table[i].path, -1, 100) != names_table[i].secret)
			fail_msg("ml_layer_looks_secret('%s') != %d", names_table[i].path,
				 names_table[i].secret);
}

static int temp_with(struct fixture *f, const char *content)
{
	char *p = path_in(f->tmp.root, "sniff.json");
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	free(p);
	return fd;
}

static void test_looks_secret_by_content(void **state)
{
	struct fixture *f = *state;
	int fd;

	fd = temp_with(f, sa_key);
	assert_true(ml_layer_looks_secret("key.json", fd, strlen(sa_key)));
	assert_true(ml_layer_looks_secret("deep/dir/gcp-key.json", fd, strlen(sa_key)));
	/* only JSON files are sniffed, and only small ones */
	assert_false(ml_layer_looks_secret("key.txt", fd, strlen(sa_key)));
	assert_false(ml_layer_looks_secret("key.json", fd, (2u << 20)));
	assert_false(ml_layer_looks_secret("key.json", -1, strlen(sa_key)));
	close(fd);

	fd = temp_with(f, "{\"private_key\": \"x\"}");
	assert_false(ml_layer_looks_secret("key.json", fd, 20));
	close(fd);
	fd = temp_with(f, "{\"type\": \"service_account\"}");
	assert_false(ml_layer_looks_secret("key.json", fd, 27));
	close(fd);
	fd = temp_with(f, "");
	assert_false(ml_layer_looks_secret("key.json", fd, 0));
	close(fd);
}

/* ---- the layer cache ---- */

static void test_cache_reuse(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	struct fixture *f = *state;
	struct ml_layer_result a, b, c;
	const char *ctx = context(f, "ctx");
	char *blob;

	fill_app(ctx, 0);
	build_ok(f, ctx, cps, 1, &a);
	assert_int_equal(a.cached, 0);
	build_ok(f, ctx, cps, 1, &b);
	assert_int_equal(b.cached, 1);
	assert_string_equal(a.digest, b.digest);
	assert_string_equal(a.diff_id, b.diff_id);
	assert_int_equal(a.size, b.size);
	assert_int_equal(a.uncompressed_size, b.uncompressed_size);
	assert_int_equal(a.nfiles, b.nfiles);

	/* --no-cache */
	f->opts.reuse = 0;
	build_ok(f, ctx, cps, 1, &c);
	assert_int_equal(c.cached, 0);
	assert_string_equal(a.digest, c.digest);
	f->opts.reuse = 1;

	/* a record whose blob is gone is not used */
	ml_cache_blob_remove(f->cache, a.digest);
	build_ok(f, ctx, cps, 1, &c);
	assert_int_equal(c.cached, 0);
	assert_string_equal(a.digest, c.digest);
	blob = ml_cache_blob_path(f->cache, a.digest);
	assert_int_equal(access(blob, R_OK), 0);
	free(blob);

	/* other options, other layer */
	f->opts.level = 1;
	build_ok(f, ctx, cps, 1, &c);
	assert_int_equal(c.cached, 0);
}

/* Rewriting a file with content of the same size within the same second must
 * not bring back the old layer. */
static void test_cache_same_size_same_second(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	struct fixture *f = *state;
	struct ml_layer_result a, b, c;
	const char *ctx = context(f, "ctx");
	char *p, *got;
	struct timespec ts[2];
	struct stat before, after;

	mkfile(ctx, "app/config.py", "MODE = 'aaaa'\n", 0644);
	p = path_in(ctx, "app/config.py");
	assert_int_equal(stat(p, &before), 0);
	build_ok(f, ctx, cps, 1, &a);
	assert_int_equal(a.cached, 0);

	mkfile(ctx, "app/config.py", "MODE = 'bbbb'\n", 0644);
	ts[0] = before.st_atim;
	ts[1] = before.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	assert_int_equal(stat(p, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);

	build_ok(f, ctx, cps, 1, &b);
	assert_int_equal(b.cached, 0);
	assert_string_not_equal(a.digest, b.digest);
	assert_string_not_equal(a.diff_id, b.diff_id);
	got = extract_one(f, &b, "app/config.py");
	assert_string_equal(got, "MODE = 'bbbb'\n");
	free(got);
	build_ok(f, ctx, cps, 1, &c);
	assert_int_equal(c.cached, 1);
	assert_string_equal(c.digest, b.digest);
	free(p);
}

/* The path of the one record the cache holds. */
static char *only_record(struct fixture *f)
{
	char *dir = path_in(f->tmp.cache_dir, "records/layers"), *found = NULL;
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		assert_null(found);
		found = path_in(dir, de->d_name);
	}
	closedir(d);
	free(dir);
	assert_non_null(found);
	return found;
}

static ml_json *read_record(const char *path)
{
	struct ml_error err = { 0, "" };
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY);
	ml_json *rec;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_true(n > 0);
	rec = ml_json_parse(buf, (size_t)n, &err);
	if (!rec)
		fail_msg("record %s: %s", path, err.msg);
	return rec;
}

static void write_record(const char *path, const ml_json *rec)
{
	struct ml_buf b = ML_BUF_INIT;
	int fd = open(path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	assert_int_equal(ml_json_dump(rec, &b), 0);
	assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	ml_buf_dispose(&b);
}

/* Files changed less than two seconds before the build are remembered by their
 * content; a record whose racy file no longer has that content is not used. */
static void test_cache_racy_verify(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	struct fixture *f = *state;
	struct ml_layer_result a, b;
	const char *ctx = context(f, "ctx");
	char *rec_path, *src, want[ML_DIGEST_LEN];
	ml_json *rec, *verify, *v;

	mkfile(ctx, "app/main.py", "print(1)\n", 0644);
	build_ok(f, ctx, cps, 1, &a);
	rec_path = only_record(f);
	rec = read_record(rec_path);
	assert_string_equal(ml_json_get_str(rec, "digest"), a.digest);
	assert_string_equal(ml_json_get_str(rec, "diff_id"), a.diff_id);
	verify = ml_json_get(rec, "verify");
	assert_int_equal(ml_json_size(verify), 1);
	v = ml_json_at(verify, 0);
	src = path_in(ctx, "app/main.py");
	assert_string_equal(ml_json_get_str(v, "path"), src);
	ml_sha256_digest("print(1)\n", 9, want);
	assert_string_equal(ml_json_get_str(v, "digest"), want);

	/* as if the file had held other bytes when the record was written */
	ml_sha256_digest("print(2)\n", 9, want);
	ml_json_set_str(v, "digest", want);
	write_record(rec_path, rec);
	build_ok(f, ctx, cps, 1, &b);
	assert_int_equal(b.cached, 0);
	assert_string_equal(a.digest, b.digest);
	build_ok(f, ctx, cps, 1, &b);
	assert_int_equal(b.cached, 1);
	ml_json_free(rec);
	free(rec_path);
	free(src);
}

/* Files older than the racy window are trusted by their stat data alone. */
static void test_cache_not_racy(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	struct fixture *f = *state;
	struct ml_layer_result a;
	const char *ctx = context(f, "ctx");
	char *rec_path;
	ml_json *rec;

	mkfile(ctx, "app/main.py", "print(1)\n", 0644);
	f->opts.now.tv_sec += 3600;
	build_ok(f, ctx, cps, 1, &a);
	rec_path = only_record(f);
	rec = read_record(rec_path);
	assert_int_equal(ml_json_size(ml_json_get(rec, "verify")), 0);
	ml_json_free(rec);
	free(rec_path);
}

/* ---- files that change during the build ---- */

struct grow {
	char *path;		/* appended to when the layer starts being written */
	char status[32];	/* what the progress handler was told at the end */
};

static void grow_start(void *ud, const char *id, const char *label, uint64_t total)
{
	struct grow *g = ud;
	int fd = open(g->path, O_WRONLY | O_APPEND);

	(void)id;
	(void)label;
	(void)total;
	if (fd >= 0) {
		if (write(fd, "more\n", 5) != 5)
			g->status[0] = '!';
		close(fd);
	}
}

static void grow_finish(void *ud, const char *id, const char *status)
{
	struct grow *g = ud;

	(void)id;
	snprintf(g->status, sizeof(g->status), "%s", status);
}

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A file that grows between being listed and being read fails the build, which
 * leaves neither a temporary file nor a record behind. */
static void test_file_changes_during_build(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	static const struct ml_progress_ops ops = { grow_start, NULL, grow_finish };
	struct fixture *f = *state;
	struct ml_layer_result res;
	struct ml_error err = { 0, "" };
	const char *ctx = context(f, "ctx");
	struct grow g = { NULL, "" };
	char *tmp_dir = path_in(f->tmp.cache_dir, "tmp");
	char *rec_dir = path_in(f->tmp.cache_dir, "records/layers");
	int rc;

	mkfile(ctx, "app/a.py", "a\n", 0644);
	mkfile(ctx, "app/log.txt", "line\n", 0644);
	g.path = path_in(ctx, "app/log.txt");
	ml_progress_set_handler(&ops, &g);
	rc = build(f, ctx, cps, 1, &res, &err);
	ml_progress_set_handler(NULL, NULL);
	free(g.path);
	assert_int_equal(rc, -ML_EIO);
	assert_non_null(strstr(err.msg, "log.txt"));
	assert_non_null(strstr(err.msg, "changed while the layer was built"));
	assert_string_equal(g.status, "failed");
	assert_int_equal(count_entries(tmp_dir), 0);
	assert_int_equal(count_entries(rec_dir), 0);
	free(tmp_dir);
	free(rec_dir);

	/* and the next build, with the file at rest, works */
	build_ok(f, ctx, cps, 1, &res);
	assert_int_equal(res.cached, 0);
}

/* ---- configuration errors ---- */

static void test_missing_src(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" }, { "nope/", "/nope/" } };
	static const char *const words[] = { "deploy.yaml:8:5: ", "'nope'", "does not exist", NULL };
	struct fixture *f = *state;
	const char *ctx = context(f, "ctx");

	mkfile(ctx, "app/main.py", "m\n", 0644);
	build_fails(f, ctx, cps, 2, ML_ECONFIG, words);
}

static void test_special_file(void **state)
{
	static const struct cp cps[] = { { "app/", "/app/" } };
	static const char *const words[] = { "'app/fifo'", "not a regular file", NULL };
	struct fixture *f = *state;
	const char *ctx = context(f, "ctx");
	char *p;

	mkfile(ctx, "app/main.py", "m\n", 0644);
	p = path_in(ctx, "app/fifo");
	assert_int_equal(mkfifo(p, 0644), 0);
	build_fails(f, ctx, cps, 1, ML_EREFUSED, words);
	free(p);
}

static void test_file_and_directory(void **state)
{
	static const struct cp cps[] = { { "one.txt", "/app" }, { "lib/", "/app/" } };
	static const char *const words[] = { "'/app'", "both a file and a directory", NULL };
	struct fixture *f = *state;
	const char *ctx = context(f, "ctx");

	mkfile(ctx, "one.txt", "1\n", 0644);
	mkfile(ctx, "two.txt", "2\n", 0644);
	mkfile(ctx, "lib/x.py", "x\n", 0644);
	build_fails(f, ctx, cps, 2, ML_ECONFIG, words);
}

/* The same conflict with an entry sorting between "app" and "app/x.py"
 * ('.' < '/' and '-' < '/'). */
static void test_file_and_directory_not_adjacent(void **state)
{
	static const struct cp cps[] = {
		{ "one.txt", "/app" }, { "two.txt", "/app.txt" }, { "lib/", "/app/" },
	};
	static const char *const words[] = { "'/app'", "both a file and a directory", NULL };
	struct fixture *f = *state;
	const char *ctx = context(f, "ctx");

	mkfile(ctx, "one.txt", "1\n", 0644);
	mkfile(ctx, "two.txt", "2\n", 0644);
	mkfile(ctx, "lib/x.py", "x\n", 0644);
	build_fails(f, ctx, cps, 3, ML_ECONFIG, words);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_deterministic),
		T(test_codecs),
		T(test_parents_sorted_and_modes),
		T(test_destinations),
		T(test_ignore),
		T(test_ignored_src),
		T(test_dot_slash_src),
		T(test_symlinks_inside),
		T(test_symlink_escapes),
		T(test_symlink_escape_through_link),
		T(test_src_escapes),
		T(test_src_link_inside),
		T(test_credential_files),
		T(test_credential_file_by_name),
		T(test_not_credentials),
		T(test_looks_secret_table),
		T(test_looks_secret_by_content),
		T(test_cache_reuse),
		T(test_cache_same_size_same_second),
		T(test_cache_racy_verify),
		T(test_cache_not_racy),
		T(test_file_changes_during_build),
		T(test_missing_src),
		T(test_special_file),
		T(test_file_and_directory),
		T(test_file_and_directory_not_adjacent),
		/* last: it hits undefined behaviour in walk() (qsort of NULL), which
		 * ends a sanitizer build at once */
		T(test_empty_directory),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
