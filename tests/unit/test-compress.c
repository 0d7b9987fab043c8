/* Unit tests for lib/image/compress.c with the gzip and zstd codecs: hashes on both sides,
 * output that the reference tools decompress, and output independent of threads
 * and of how the input was cut into writes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wrap/codec.h"
#include "image/compress.h"
#include "wrap/digest.h"

#define BLOCK (2u << 20)	/* compress.c's block size */

struct fixture {
	char dir[64];
	unsigned char *data;	/* MANY bytes of half-compressible input */
};

#define MANY (3 * BLOCK + 12345)

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint32_t x = 2463534242u;
	size_t i;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-compress-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->data = malloc(MANY);
	if (!f->data)
		return -1;
	/* random bytes alternating with runs of text, so codecs have work to do */
	for (i = 0; i < MANY; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		f->data[i] = (i / 4096) % 2 ? (unsigned char)x : (unsigned char)("layer"[i % 5]);
	}
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
	free(f->data);
	free(f);
	return 0;
}

/* Write sizes that straddle block boundaries in every way. */
static const size_t odd_sizes[] = { 1, 7, 4093, 65537, 1, 0, 1048573, 3, 2097151, 2, 524287 };

struct run {
	struct ml_compress_result res;
	char path[128];
};

/* Compresses data[0..len) in writes of the given sizes (cycled; NULL: one write). */
static void compress_to_file(struct fixture *f, const struct ml_codec *codec, int threads,
			     const unsigned char *data, size_t len, const size_t *sizes,
			     size_t nsizes, struct run *r)
{
	static int seq;
	struct ml_error err = { 0, "" };
	struct ml_compressor *c = NULL;
	size_t off = 0, k = 0;
	int fd;

	snprintf(r->path, sizeof(r->path), "%s/out-%d", f->dir, seq++);
	fd = open(r->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	if (ml_compressor_new(&c, codec, codec ? codec->default_level : 0, threads, fd, &err) != 0)
		fail_msg("ml_compressor_new: %s", err.msg);
	while (off < len) {
		size_t n = sizes ? sizes[k++ % nsizes] : len;

		if (n > len - off)
			n = len - off;
		if (ml_compressor_write(c, data + off, n, &err) != 0)
			fail_msg("ml_compressor_write: %s", err.msg);
		off += n;
	}
	memset(&r->res, 0xaa, sizeof(r->res));
	if (ml_compressor_finish(c, &r->res, &err) != 0)
		fail_msg("ml_compressor_finish: %s", err.msg);
	ml_compressor_free(c);
	/* fd is left open by the compressor */
	assert_int_equal(close(fd), 0);
}

static void file_digest(const char *path, char out[ML_DIGEST_LEN], uint64_t *size)
{
	struct ml_error err = { 0, "" };
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	if (ml_sha256_fd(fd, out, size, &err) != 0)
		fail_msg("hashing %s: %s", path, err.msg);
	close(fd);
}

/* sha256 of what "tool -dc < path" writes, which must exit 0. */
static void tool_digest(const char *tool, const char *path, char out[ML_DIGEST_LEN],
			uint64_t *size)
{
	struct ml_sha256 *h = ml_sha256_new();
	char cmd[256], buf[1 << 16];
	size_t n;
	int status;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s -dc < '%s'", tool, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	*size = 0;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
		ml_sha256_update(h, buf, n);
		*size += n;
	}
	status = pclose(p);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("'%s' failed (status %d)", cmd, status);
	ml_sha256_final(h, out);
	ml_sha256_free(h);
}

/* Checks every promise of the result against the file and the input. */
static void check_run(const struct ml_codec *codec, const unsigned char *data, size_t len,
		      const struct run *r)
{
	char want[ML_DIGEST_LEN], got[ML_DIGEST_LEN];
	uint64_t size;

	ml_sha256_digest(data, len, want);
	assert_string_equal(r->res.diff_id, want);
	assert_int_equal(r->res.uncompressed_size, len);
	file_digest(r->path, got, &size);
	assert_string_equal(r->res.digest, got);
	assert_int_equal(r->res.size, size);
	if (!codec) {
		assert_string_equal(r->res.digest, want);
		assert_int_equal(size, len);
		return;
	}
	/* even an empty stream is a valid, non-empty gzip member / zstd frame */
	assert_true(size > 0);
	tool_digest(codec->name, r->path, got, &size);
	assert_string_equal(got, want);
	assert_int_equal(size, len);
}

static void roundtrip(void **state, const struct ml_codec *codec, size_t len, int odd)
{
	struct fixture *f = *state;
	const int threads[] = { 1, 4 };
	struct run r[2];
	size_t i;

	for (i = 0; i < 2; i++) {
		compress_to_file(f, codec, threads[i], f->data, len, odd ? odd_sizes : NULL,
				 sizeof(odd_sizes) / sizeof(odd_sizes[0]), &r[i]);
		check_run(codec, f->data, len, &r[i]);
	}
	/* blocks are compressed independently: the thread count changes nothing */
	assert_string_equal(r[0].res.digest, r[1].res.digest);
	assert_int_equal(r[0].res.size, r[1].res.size);
}

static void test_none(void **state)
{
	roundtrip(state, NULL, 0, 0);
	roundtrip(state, NULL, 1, 0);
	roundtrip(state, NULL, MANY, 1);
}

static void test_gzip_empty(void **state)
{
	roundtrip(state, &ml_codec_gzip, 0, 0);
}

static void test_zstd_empty(void **state)
{
	roundtrip(state, &ml_codec_zstd, 0, 0);
}

static void test_gzip_one_byte(void **state)
{
	roundtrip(state, &ml_codec_gzip, 1, 0);
}

static void test_zstd_one_byte(void **state)
{
	roundtrip(state, &ml_codec_zstd, 1, 0);
}

static void test_gzip_one_block(void **state)
{
	roundtrip(state, &ml_codec_gzip, BLOCK, 0);
	roundtrip(state, &ml_codec_gzip, BLOCK, 1);
	roundtrip(state, &ml_codec_gzip, BLOCK + 1, 1);
	roundtrip(state, &ml_codec_gzip, BLOCK - 1, 1);
}

static void test_zstd_one_block(void **state)
{
	roundtrip(state, &ml_codec_zstd, BLOCK, 0);
	roundtrip(state, &ml_codec_zstd, BLOCK, 1);
	roundtrip(state, &ml_codec_zstd, BLOCK + 1, 1);
}

static void test_gzip_many_blocks(void **state)
{
	roundtrip(state, &ml_codec_gzip, MANY, 1);
}

static void test_zstd_many_blocks(void **state)
{
	roundtrip(state, &ml_codec_zstd, MANY, 1);
}

/* How the input was cut into writes does not change the output. */
static void test_write_sizes_do_not_matter(void **state)
{
	static const size_t ones[] = { 1 };
	struct fixture *f = *state;
	const struct ml_codec *codecs[] = { &ml_codec_gzip, &ml_codec_zstd };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct run whole, odd, bytes;

		compress_to_file(f, codecs[i], 3, f->data, BLOCK + 100, NULL, 0, &whole);
		compress_to_file(f, codecs[i], 2, f->data, BLOCK + 100, odd_sizes,
				 sizeof(odd_sizes) / sizeof(odd_sizes[0]), &odd);
		compress_to_file(f, codecs[i], 1, f->data, 70000, ones, 1, &bytes);
		check_run(codecs[i], f->data, 70000, &bytes);
		assert_string_equal(whole.res.digest, odd.res.digest);
		assert_string_equal(whole.res.diff_id, odd.res.diff_id);
	}
}

/* threads <= 0 means one per core; more than the limit is clamped. */
static void test_thread_counts(void **state)
{
	struct fixture *f = *state;
	struct run a, b, c;

	compress_to_file(f, &ml_codec_gzip, 0, f->data, BLOCK * 2 + 5, NULL, 0, &a);
	compress_to_file(f, &ml_codec_gzip, -3, f->data, BLOCK * 2 + 5, NULL, 0, &b);
	compress_to_file(f, &ml_codec_gzip, 1000, f->data, BLOCK * 2 + 5, odd_sizes, 3, &c);
	check_run(&ml_codec_gzip, f->data, BLOCK * 2 + 5, &a);
	assert_string_equal(a.res.digest, b.res.digest);
	assert_string_equal(a.res.digest, c.res.digest);
}

/* A level changes the bytes but not what they decompress to. */
static void test_levels(void **state)
{
	struct fixture *f = *state;
	const struct ml_codec *codecs[] = { &ml_codec_gzip, &ml_codec_zstd };
	size_t i;

	for (i = 0; i < 2; i++) {
		const struct ml_codec *codec = codecs[i];
		int levels[2] = { codec->min_level, codec->max_level > 12 ? 12 : codec->max_level };
		int k;

		assert_true(codec->min_level <= codec->default_level);
		assert_true(codec->default_level <= codec->max_level);
		for (k = 0; k < 2; k++) {
			struct ml_error err = { 0, "" };
			struct ml_compressor *c = NULL;
			struct run r;
			int fd;

			snprintf(r.path, sizeof(r.path), "%s/level-%s-%d", f->dir, codec->name, k);
			fd = open(r.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			assert_true(fd >= 0);
			assert_int_equal(ml_compressor_new(&c, codec, levels[k], 2, fd, &err), 0);
			assert_int_equal(ml_compressor_write(c, f->data, 300000, &err), 0);
			assert_int_equal(ml_compressor_finish(c, &r.res, &err), 0);
			ml_compressor_free(c);
			close(fd);
			check_run(codec, f->data, 300000, &r);
		}
	}
}

/* Writing to an fd that refuses writes fails with ML_EIO, and the compressor can
 * still be finished (reporting the error) and freed without crashing or hanging.
 * Runs in a child, so it reports with its exit status rather than cmocka asserts. */
static int fail_on_bad_fd(struct fixture *f, const struct ml_codec *codec)
{
	struct ml_compress_result res;
	struct ml_error err = { 0, "" };
	struct ml_compressor *c = NULL;
	char path[128];
	int fd, rc = 0, i;

	snprintf(path, sizeof(path), "%s/readonly", f->dir);
	fd = open(path, O_RDONLY | O_CREAT, 0644);
	if (fd < 0 || ml_compressor_new(&c, codec, 1, 2, fd, &err) != 0)
		return 10;
	for (i = 0; i < 8 && rc == 0; i++)
		rc = ml_compressor_write(c, f->data, BLOCK, &err);
	if (rc == 0)
		rc = ml_compressor_finish(c, &res, &err);
	if (rc != -ML_EIO || err.code != ML_EIO)
		return 11;
	/* a caller that goes on after the error must get an error again, not a crash */
	if (ml_compressor_write(c, f->data, 10, &err) == 0 &&
	    ml_compressor_finish(c, &res, &err) == 0)
		return 12;
	ml_compressor_free(c);
	close(fd);
	return 0;
}

/* Runs fn in a child so that a crash is a failed test, not a dead test binary. */
static void in_child(struct fixture *f, const struct ml_codec *codec,
		     int (*fn)(struct fixture *, const struct ml_codec *))
{
	const char *name = codec ? codec->name : "none";
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka's handlers would turn a crash into a test run in the child */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGILL, SIG_DFL);
		signal(SIGFPE, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		_exit(fn(f, codec));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("%s: child killed by signal %d", name, WTERMSIG(status));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s: child failed with exit status %d", name, WEXITSTATUS(status));
}

static void test_write_error(void **state)
{
	struct fixture *f = *state;

	in_child(f, NULL, fail_on_bad_fd);
	in_child(f, &ml_codec_gzip, fail_on_bad_fd);
	in_child(f, &ml_codec_zstd, fail_on_bad_fd);
}

static void test_codec_tables(void **state)
{
	(void)state;
	assert_string_equal(ml_codec_gzip.name, "gzip");
	assert_string_equal(ml_codec_gzip.media_suffix, "+gzip");
	assert_string_equal(ml_codec_zstd.name, "zstd");
	assert_string_equal(ml_codec_zstd.media_suffix, "+zstd");
	ml_compressor_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_tables),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_gzip_empty),
		cmocka_unit_test(test_zstd_empty),
		cmocka_unit_test(test_gzip_one_byte),
		cmocka_unit_test(test_zstd_one_byte),
		cmocka_unit_test(test_gzip_one_block),
		cmocka_unit_test(test_zstd_one_block),
		cmocka_unit_test(test_gzip_many_blocks),
		cmocka_unit_test(test_zstd_many_blocks),
		cmocka_unit_test(test_write_sizes_do_not_matter),
		cmocka_unit_test(test_thread_counts),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
