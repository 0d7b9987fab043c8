/* Unit tests for ml_archive_write_stream (lib/image/archive-write.c): an image put
 * into a temporary cache is streamed to a callback, read back with our tar reader
 * and our archive importer, and handed to skopeo (inspect and copy of the
 * docker-archive and the oci-archive), which checks every digest. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "image/archive-read.h"
#include "image/archive-write.h"
#include "image/cache.h"
#include "image/image.h"
#include "registry/oci.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "wrap/digest.h"
#include "wrap/json.h"
#include "wrap/tar.h"

#define BIG_FILE (3u << 20)	/* larger than any piece the stream may hand over */
#define MAX_PIECE (2u << 20)

struct fixture {
	struct ut_tmpdir tmp;
	char archive[PATH_MAX + 16];
	struct ml_cache *cache;
	char manifest[ML_DIGEST_LEN];
	struct ml_blob layers[2];
};

static int tar_to_buf(void *ud, const void *data, size_t len)
{
	ml_buf_add(ud, data, len);
	return 0;
}

/* An uncompressed layer holding one file; its digest is also its diff_id. */
static void put_layer(struct fixture *f, const char *name, const char *data, size_t len,
		      struct ml_blob *out)
{
	struct ml_tar_writer *w = NULL;
	struct ml_buf b = ML_BUF_INIT;
	struct ml_error err = { 0, "" };

	assert_int_equal(ml_tar_writer_new(&w, tar_to_buf, &b, &err), 0);
	assert_int_equal(ml_tar_add_data(w, name, 0644, 1700000000, data, len, &err), 0);
	assert_int_equal(ml_tar_writer_close(w, &err), 0);
	ml_tar_writer_free(w);
	assert_int_equal(ml_cache_blob_put(f->cache, b.data, b.len, out->digest, &err), 0);
	out->size = (int64_t)b.len;
	out->media_type = (char *)ML_MT_OCI_LAYER;
	ml_buf_dispose(&b);
}

static void put_json(struct fixture *f, ml_json *doc, char digest[ML_DIGEST_LEN], int64_t *size)
{
	struct ml_buf b = ML_BUF_INIT;
	struct ml_error err = { 0, "" };

	assert_int_equal(ml_json_dump(doc, &b), 0);
	assert_int_equal(ml_cache_blob_put(f->cache, b.data, b.len, digest, &err), 0);
	*size = (int64_t)b.len;
	ml_buf_dispose(&b);
	ml_json_free(doc);
}

/* A two-layer arm64 image: a small file, then BIG_FILE bytes of noise. */
static void make_image(struct fixture *f)
{
	char *big = ml_malloc(BIG_FILE), config[ML_DIGEST_LEN];
	ml_json *c = ml_json_object_new(), *rootfs = ml_json_object_new();
	ml_json *ids = ml_json_array_new(), *cc = ml_json_object_new(), *cmd = ml_json_array_new();
	uint32_t x = 12345;
	int64_t config_size, manifest_size;
	size_t i;

	for (i = 0; i < BIG_FILE; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (char)(x >> 24);
	}
	put_layer(f, "hello.txt", "hello\n", 6, &f->layers[0]);
	put_layer(f, "model.bin", big, BIG_FILE, &f->layers[1]);
	free(big);
	ml_json_set_str(c, "architecture", "arm64");
	ml_json_set_str(c, "os", "linux");
	ml_json_set_str(rootfs, "type", "layers");
	for (i = 0; i < 2; i++)
		ml_json_append(ids, ml_json_string_new(f->layers[i].digest));
	ml_json_set(rootfs, "diff_ids", ids);
	ml_json_set(c, "rootfs", rootfs);
	ml_json_append(cmd, ml_json_string_new("/bin/true"));
	ml_json_set(cc, "Cmd", cmd);
	ml_json_set(c, "config", cc);
	put_json(f, c, config, &config_size);
	put_json(f, ml_image_manifest_new(config, config_size, f->layers, 2, NULL), f->manifest,
		 &manifest_size);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ml_error err = { 0, "" };

	if (!f || ut_tmpdir_make(&f->tmp, "test-archive-write") < 0)
		return -1;
	snprintf(f->archive, sizeof(f->archive), "%s/image.tar", f->tmp.root);
	if (ml_cache_open(&f->cache, &err) != 0)
		return -1;
	make_image(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = ut_tmpdir_remove(&f->tmp);

	ml_cache_free(f->cache);
	free(f);
	return rc;
}

/* ---- the callback ---- */

struct sink {
	int fd;
	size_t pieces, max_piece;
	uint64_t total;
	uint64_t fail_after;		/* 0: never */
	struct ml_error *own_err;	/* filled on failure when given */
};

static int sink_write(void *ud, const void *buf, size_t len)
{
	struct sink *s = ud;

	if (s->fail_after && s->total + len > s->fail_after)
		return s->own_err ? ml_error_set(s->own_err, ML_ENET, "engine went away at %llu",
						 (unsigned long long)s->total) : -ML_EIO;
	s->pieces++;
	s->total += len;
	if (len > s->max_piece)
		s->max_piece = len;
	return write(s->fd, buf, len) == (ssize_t)len ? 0 : -ML_EIO;
}

static int stream_to_file(struct fixture *f, enum ml_format fmt, struct sink *s,
			  struct ml_error *err)
{
	int rc;

	s->fd = open(f->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(s->fd >= 0);
	rc = ml_archive_write_stream(f->cache, f->manifest, fmt, sink_write, s, err);
	close(s->fd);
	return rc;
}

/* The archive's entries; manifest.json and index.json parsed. */
static void read_archive(const char *path, struct ml_buf *names, ml_json **manifest,
			 ml_json **index)
{
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	struct ml_error err = { 0, "" };
	int rc;

	*manifest = *index = NULL;
	assert_int_equal(ml_tar_reader_open(&r, path, &err), 0);
	while ((rc = ml_tar_reader_next(r, &e, &err)) > 0) {
		ml_json **doc = !strcmp(e.name, "manifest.json") ? manifest :
				!strcmp(e.name, "index.json") ? index : NULL;

		ml_buf_printf(names, "%s\n", e.name);
		if (doc) {
			struct ml_buf b = ML_BUF_INIT;

			assert_int_equal(ml_tar_reader_read_all(r, &b, 1 << 20, &err), 0);
			*doc = ml_json_parse(ml_buf_str(&b), b.len, &err);
			assert_non_null(*doc);
			ml_buf_dispose(&b);
		}
	}
	assert_int_equal(rc, 0);
	ml_tar_reader_free(r);
}

/* Runs a shell command line; its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	struct ml_buf b = ML_BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	ml_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rc = system(ml_buf_str(&b));
	ml_buf_dispose(&b);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* skopeo with its blob-info cache inside the test's directory (as the e2e rig). */
#define SKOPEO "env HOME='%s' XDG_DATA_HOME='%s/data' _CONTAINERS_ROOTLESS_UID=65534 skopeo"

/* ---- tests ---- */

static void test_docker_archive(void **state)
{
	struct fixture *f = *state;
	struct sink s = { 0 };
	struct ml_error err = { 0, "" };
	struct ml_buf names = ML_BUF_INIT;
	ml_json *manifest, *index, *img, *d;
	char *layer_path = ml_asprintf("blobs/sha256/%s", ml_digest_hex(f->layers[1].digest));
	struct stat st;

	assert_int_equal(stream_to_file(f, ML_FORMAT_DOCKER, &s, &err), 0);
	assert_int_equal(stat(f->archive, &st), 0);
	assert_int_equal((uint64_t)st.st_size, s.total);
	/* the big layer went through in pieces, never whole */
	assert_true(s.total > BIG_FILE);
	assert_true(s.max_piece <= MAX_PIECE);
	assert_true(s.pieces > 2);

	read_archive(f->archive, &names, &manifest, &index);
	assert_non_null(strstr(ml_buf_str(&names), "oci-layout\n"));
	assert_non_null(strstr(ml_buf_str(&names), layer_path));
	assert_non_null(manifest);
	assert_int_equal(ml_json_size(manifest), 1);
	img = ml_json_at(manifest, 0);
	/* null, as `docker save IMAGE-ID` writes */
	assert_non_null(ml_json_get(img, "RepoTags"));
	assert_false(ml_json_is_array(ml_json_get(img, "RepoTags")));
	assert_false(ml_json_is_string(ml_json_get(img, "RepoTags")));
	assert_int_equal(ml_json_size(ml_json_get(img, "Layers")), 2);
	assert_string_equal(ml_json_str(ml_json_at(ml_json_get(img, "Layers"), 1)), layer_path);
	d = ml_json_at(ml_json_get(index, "manifests"), 0);
	assert_string_equal(ml_json_get_str(d, "digest"), f->manifest);
	assert_string_equal(ml_json_get_str(ml_json_get(d, "platform"), "architecture"), "arm64");
	assert_null(ml_json_get(d, "annotations"));
	ml_json_free(manifest);
	ml_json_free(index);
	ml_buf_dispose(&names);
	free(layer_path);

	/* skopeo reads it as a docker-archive and copies it, checking every digest */
	assert_int_equal(sh(SKOPEO " inspect docker-archive:'%s' >'%s/inspect.json'", f->tmp.root,
			    f->tmp.root, f->archive, f->tmp.root), 0);
	assert_int_equal(sh("grep -q '\"Architecture\": \"arm64\"' '%s/inspect.json'", f->tmp.root),
			 0);
	assert_int_equal(sh(SKOPEO " copy --quiet docker-archive:'%s' oci:'%s/copy:x'", f->tmp.root,
			    f->tmp.root, f->archive, f->tmp.root), 0);
}

static void test_oci_archive_round_trip(void **state)
{
	struct fixture *f = *state;
	struct sink s = { 0 };
	struct ml_error err = { 0, "" };
	struct ml_archive_image img;
	struct ml_cache *other = NULL;
	char *dir = ml_asprintf("%s/other-cache", f->tmp.root);

	assert_int_equal(stream_to_file(f, ML_FORMAT_OCI, &s, &err), 0);
	assert_int_equal(sh(SKOPEO " inspect oci-archive:'%s' >'%s/inspect.json'", f->tmp.root,
			    f->tmp.root, f->archive, f->tmp.root), 0);
	assert_int_equal(sh("grep -q '\"Digest\": \"%s\"' '%s/inspect.json'", f->manifest,
			    f->tmp.root), 0);
	/* what push reads: the same image, into an empty cache */
	setenv("MLDEPLOY_CACHE_DIR", dir, 1);
	assert_int_equal(ml_cache_open(&other, &err), 0);
	setenv("MLDEPLOY_CACHE_DIR", f->tmp.cache_dir, 1);
	assert_int_equal(ml_archive_import(&img, f->archive, other, &err), 0);
	assert_string_equal(img.manifest_digest, f->manifest);
	assert_null(img.ref_name);
	assert_true(ml_cache_blob_present(other, f->layers[1].digest, f->layers[1].size));
	ml_archive_image_dispose(&img);
	ml_cache_free(other);
	free(dir);
}

static void test_callback_fails(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" }, own = { 0, "" };
	struct sink s = { .fail_after = 1u << 20 };
	struct sink t = { .fail_after = 1u << 20, .own_err = &own };

	/* a callback that fills no error: a generic message with its code */
	assert_int_equal(stream_to_file(f, ML_FORMAT_DOCKER, &s, &err), -ML_EIO);
	assert_int_equal(err.code, ML_EIO);
	assert_non_null(strstr(err.msg, f->manifest));
	assert_true(s.total <= 1u << 20);
	/* one that fills the same error: its message stands */
	assert_int_equal(stream_to_file(f, ML_FORMAT_DOCKER, &t, &own), -ML_ENET);
	assert_non_null(strstr(own.msg, "engine went away"));
}

static void test_not_in_cache(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct sink s = { .fd = -1 };
	char absent[ML_DIGEST_LEN];

	ml_sha256_digest("nothing", 7, absent);
	assert_int_equal(ml_archive_write_stream(f->cache, absent, ML_FORMAT_DOCKER, sink_write, &s,
						 &err), -ML_ECACHE);
	assert_non_null(strstr(err.msg, absent));
	assert_int_equal(ml_archive_write_stream(f->cache, "sha256:nope", ML_FORMAT_DOCKER,
						 sink_write, &s, &err), -ML_EUSAGE);
	assert_int_equal(s.total, 0);
}

static void test_corrupt_layer(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0, "" };
	struct sink s = { 0 };
	char *path = ml_cache_blob_path(f->cache, f->layers[1].digest);
	int fd = open(path, O_WRONLY);

	/* same size, other bytes: found on the way, and removed */
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "XXXX", 4, 1000), 4);
	close(fd);
	assert_true(stream_to_file(f, ML_FORMAT_DOCKER, &s, &err) < 0);
	assert_non_null(strstr(err.msg, f->layers[1].digest));
	assert_false(ml_cache_blob_present(f->cache, f->layers[1].digest, -1));
	free(path);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_docker_archive),
		T(test_oci_archive_round_trip),
		T(test_callback_fails),
		T(test_not_in_cache),
		T(test_corrupt_layer),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
