/* Unit tests for lib/python/pybase.c: the interpreter, site-packages and C library of a
 * base image, read from its layers (tar blobs in the cache), whiteouts honoured. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "image/base.h"
#include "util/buf.h"
#include "image/cache.h"
#include "util/fsutil.h"
#include "wrap/json.h"
#include "python/pybase.h"
#include "wrap/tar.h"

struct fixture {
	char root[256];
	struct ml_cache *cache;
	struct ml_base base;
};

static int setup(void **state)
{
	struct fixture *f = ml_calloc(1, sizeof(*f));
	struct ml_error err = { 0 };
	char *dir;

	snprintf(f->root, sizeof(f->root), "/tmp/mldeploy-test-pybase-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	dir = ml_path_join(f->root, "cache");
	setenv("MLDEPLOY_CACHE_DIR", dir, 1);
	free(dir);
	if (ml_cache_open(&f->cache, &err) < 0)
		return -1;
	f->base.name = ml_strdup("test-base");
	f->base.config = ml_json_object_new();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ml_base_dispose(&f->base);
	ml_cache_free(f->cache);
	ml_remove_tree(f->root);
	free(f);
	return 0;
}

static int collect(void *ud, const void *data, size_t len)
{
	return ml_buf_add(ud, data, len);
}

/* One layer from "path" (a file, content after '=') and "path/" (a directory). */
static void add_layer(struct fixture *f, ...)
{
	struct ml_tar_writer *w = NULL;
	struct ml_buf tar = ML_BUF_INIT;
	struct ml_error err = { 0 };
	struct ml_blob *b;
	const char *spec;
	va_list ap;

	assert_int_equal(ml_tar_writer_new(&w, collect, &tar, &err), 0);
	va_start(ap, f);
	while ((spec = va_arg(ap, const char *))) {
		const char *eq = strchr(spec, '=');
		size_t len = strlen(spec);

		if (spec[len - 1] == '/') {
			char *name = ml_strndup(spec, len - 1);

			assert_int_equal(ml_tar_add_dir(w, name, 0755, 0, 0, 0, &err), 0);
			free(name);
		} else {
			char *name = eq ? ml_strndup(spec, (size_t)(eq - spec)) : ml_strdup(spec);
			const char *data = eq ? eq + 1 : "";

			assert_int_equal(ml_tar_add_data(w, name, 0644, 0, data, strlen(data), &err), 0);
			free(name);
		}
	}
	va_end(ap);
	assert_int_equal(ml_tar_writer_close(w, &err), 0);
	ml_tar_writer_free(w);
	f->base.layers = ml_realloc(f->base.layers, (f->base.nlayers + 1) * sizeof(*b));
	b = &f->base.layers[f->base.nlayers++];
	memset(b, 0, sizeof(*b));
	assert_int_equal(ml_cache_blob_put(f->cache, tar.data, tar.len, b->digest, &err), 0);
	b->size = (int64_t)tar.len;
	b->media_type = ml_strdup("application/vnd.oci.image.layer.v1.tar");
	ml_buf_dispose(&tar);
}

#define GLIBC236 "lib/x86_64-linux-gnu/libc.so.6=\x7f" "ELF...GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\n"

static void detect_ok(struct fixture *f, const char *version, const char *sp, struct ml_pybase *pb)
{
	struct ml_error err = { 0 };
	int rc = ml_pybase_detect(&f->base, f->cache, version, sp, pb, &err);

	if (rc < 0)
		fail_msg("ml_pybase_detect: %s", err.msg);
}

/* python:3.11-slim: its own Python in /usr/local on Debian. */
static void test_python_image(void **state)
{
	struct fixture *f = *state;
	struct ml_pybase pb;

	add_layer(f, "etc/debian_version=12.5\n", GLIBC236, "usr/lib/python3/dist-packages/", NULL);
	add_layer(f, "usr/local/bin/python3.11=", "usr/local/lib/python3.11/os.py=#",
		  "usr/local/lib/python3.11/site-packages/", NULL);
	detect_ok(f, NULL, NULL, &pb);
	assert_int_equal(pb.py_major, 3);
	assert_int_equal(pb.py_minor, 11);
	assert_string_equal(pb.interpreter, "/usr/local/bin/python3.11");
	assert_string_equal(pb.site_packages, "/usr/local/lib/python3.11/site-packages");
	assert_string_equal(pb.scripts, "/usr/local/bin");
	assert_string_equal(pb.prefix, "/usr/local");
	assert_true(pb.libc_found);
	assert_int_equal(pb.libc, ML_LIBC_GLIBC);
	assert_int_equal(pb.libc_major, 2);
	assert_int_equal(pb.libc_minor, 36);
	assert_string_equal(pb.libc_source, "/lib/x86_64-linux-gnu/libc.so.6");
	ml_pybase_dispose(&pb);
}

/* Debian's python3: packages go to /usr/local/lib/python3.X/dist-packages. */
static void test_debian(void **state)
{
	struct fixture *f = *state;
	struct ml_pybase pb;

	add_layer(f, "./etc/debian_version=12.5\n", "./usr/lib/x86_64-linux-gnu/libc.so.6=" "release version 2.31.",
		  "./usr/lib/python3.9/os.py=#", "./usr/lib/python3.11/os.py=#", NULL);
	detect_ok(f, NULL, NULL, &pb);
	assert_int_equal(pb.py_minor, 11);
	assert_string_equal(pb.interpreter, "/usr/bin/python3.11");
	assert_string_equal(pb.site_packages, "/usr/local/lib/python3.11/dist-packages");
	assert_string_equal(pb.scripts, "/usr/local/bin");
	assert_int_equal(pb.libc_minor, 31);
	ml_pybase_dispose(&pb);
}

/* Alpine: musl, version from the apk database, /usr/lib/python3.X/site-packages. */
static void test_alpine(void **state)
{
	struct fixture *f = *state;
	struct ml_pybase pb;

	add_layer(f, "lib/ld-musl-x86_64.so.1=", "lib/apk/db/installed=P:busybox\nV:1.36.1-r5\n\n"
		  "P:musl\nV:1.2.4-r2\n\n", "usr/lib/python3.12/os.py=#", NULL);
	detect_ok(f, NULL, NULL, &pb);
	assert_int_equal(pb.py_minor, 12);
	assert_string_equal(pb.interpreter, "/usr/bin/python3.12");
	assert_string_equal(pb.site_packages, "/usr/lib/python3.12/site-packages");
	assert_string_equal(pb.scripts, "/usr/bin");
	assert_int_equal(pb.libc, ML_LIBC_MUSL);
	assert_int_equal(pb.libc_major, 1);
	assert_int_equal(pb.libc_minor, 2);
	ml_pybase_dispose(&pb);
}

/* A later layer deleting a Python (whiteout) or emptying a directory (opaque). */
static void test_whiteouts(void **state)
{
	struct fixture *f = *state;
	struct ml_pybase pb;

	add_layer(f, GLIBC236, "usr/lib/python3.11/os.py=#", "usr/local/lib/python3.12/os.py=#", NULL);
	add_layer(f, "usr/local/lib/.wh.python3.12", NULL);
	detect_ok(f, NULL, NULL, &pb);
	assert_int_equal(pb.py_minor, 11);
	assert_string_equal(pb.interpreter, "/usr/bin/python3.11");
	ml_pybase_dispose(&pb);

	add_layer(f, "lib/x86_64-linux-gnu/.wh..wh..opq", NULL);
	/* the cached result is per manifest; this base has none, so it is read again */
	detect_ok(f, NULL, NULL, &pb);
	assert_false(pb.libc_found);
	ml_pybase_dispose(&pb);
}

/* image.python.version and site_packages win; with no Python at all they describe it. */
static void test_overrides(void **state)
{
	struct fixture *f = *state;
	struct ml_error err = { 0 };
	struct ml_pybase pb;

	detect_ok(f, "3.12", "/opt/venv/lib/python3.12/site-packages", &pb);
	assert_string_equal(pb.interpreter, "/opt/venv/bin/python3.12");
	assert_string_equal(pb.site_packages, "/opt/venv/lib/python3.12/site-packages");
	assert_string_equal(pb.prefix, "/opt/venv");
	assert_string_equal(pb.scripts, "/opt/venv/bin");
	ml_pybase_dispose(&pb);

	assert_int_equal(ml_pybase_detect(&f->base, f->cache, NULL, NULL, &pb, &err), -ML_ECONFIG);
	assert_non_null(strstr(err.msg, "no Python 3 interpreter found in the base image 'test-base'"));
	assert_non_null(strstr(err.msg, "image.python.version"));
	ml_pybase_dispose(&pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_python_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debian, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alpine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whiteouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
