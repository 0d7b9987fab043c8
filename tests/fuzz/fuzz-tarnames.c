/* Entry names through the tar writer and back through the reader: a layer must
 * hold exactly the names it was given (ustar, or pax when ustar cannot), and
 * any name in UTF-8 must be accepted. Other bytes may be refused (pax wants
 * UTF-8), but what is written must read back the same. */
#define _GNU_SOURCE	/* memmem */

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "fuzzutil.h"
#include "wrap/tar.h"

#define CONTENT "fuzz\n"
#define MTIME 1700000000

static volatile unsigned sink;

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* libarchive is not instrumented, so names that differ only in what tar cares
 * about would all look alike to libFuzzer: each kind gets its own branch here.
 * ustar holds 100 bytes of name and 155 of prefix, split at a '/'. */
static void name_kind(const char *name, size_t len)
{
	const char *slash = strrchr(name, '/');

	if (len < 100)
		sink = 1;
	else if (len == 100)
		sink = 2;
	else if (len <= 256)
		sink = 3;
	else
		sink = 4;
	if (slash && (size_t)(slash - name) > 155)
		sink = 5;
	if (slash && strlen(slash + 1) > 100)
		sink = 6;
	if (!fuzz_utf8_valid(name, len))
		sink = 7;
	else if (!is_ascii(name))
		sink = 8;
	if (strstr(name, "./"))
		sink = 9;
}

static int out_cb(void *ud, const void *data, size_t len)
{
	return ml_buf_add(ud, data, len);
}

/* The tar stream of one file named name, in out; 0 or negative when the writer
 * refuses the name. */
static int write_tar(struct ml_buf *out, const char *name)
{
	struct ml_error err = { 0, "" };
	struct ml_tar_writer *w = NULL;
	int rc;

	rc = ml_tar_writer_new(&w, out_cb, out, &err);
	if (rc == 0)
		rc = ml_tar_add_data(w, name, 0644, MTIME, CONTENT, strlen(CONTENT), &err);
	if (rc == 0)
		rc = ml_tar_writer_close(w, &err);
	ml_tar_writer_free(w);
	return rc;
}

static void read_back(const char *path, const char *name, const uint8_t *data, size_t size)
{
	struct ml_error err = { 0, "" };
	struct ml_tar_reader *r = NULL;
	struct ml_tar_entry e;
	char buf[sizeof(CONTENT)];
	long n;

	if (ml_tar_reader_open(&r, path, &err) < 0)
		fuzz_fail("the tar written cannot be opened", data, size);
	if (ml_tar_reader_next(r, &e, &err) != 1)
		fuzz_fail("the tar written has no readable entry", data, size);
	if (strcmp(e.name, name))
		fuzz_fail("the entry name does not round-trip", data, size);
	if (e.type != ML_TAR_FILE)
		fuzz_fail("a regular file reads back as another type", data, size);
	n = ml_tar_reader_read(r, buf, sizeof(buf), &err);
	if (n != (long)strlen(CONTENT) || memcmp(buf, CONTENT, (size_t)n))
		fuzz_fail("the entry's content does not round-trip", data, size);
	if (ml_tar_reader_next(r, &e, &err) != 0)
		fuzz_fail("the tar written has more than one entry", data, size);
	ml_tar_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_tmp_path("layer.tar");
	struct ml_buf tar = ML_BUF_INIT;
	char *name;

	/* A file name never ends in '/': readers take such an entry for a directory
	 * (and its data for the next header). Nor does a clean one hold "//":
	 * libarchive may split such a name into ustar prefix and name after the
	 * first of the slashes and join them back with one slash fewer. */
	if (size == 0 || memchr(data, '\0', size) || data[size - 1] == '/' ||
	    memmem(data, size, "//", 2))
		return 0;
	name = fuzz_strndup(data, size);
	name_kind(name, size);
	if (write_tar(&tar, name) == 0) {
		fuzz_write_file(path, tar.data, tar.len);
		read_back(path, name, data, size);
	} else if (fuzz_utf8_valid(data, size)) {
		fuzz_fail("the writer refuses a utf-8 name", data, size);
	}
	ml_buf_dispose(&tar);
	free(name);
	return 0;
}
