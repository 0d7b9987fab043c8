#define _GNU_SOURCE	/* memmem */

#include "fuzzutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 4

static struct {
	char *name;
	char path[32];
} files[MAX_FILES];
static size_t nfiles;

/* The file is unlinked at once and reached through /proc/self/fd, so nothing is
 * left behind when libFuzzer ends the process on a crash without running exit
 * handlers. */
const char *fuzz_tmp_path(const char *name)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	size_t i;
	int fd;

	for (i = 0; i < nfiles; i++)
		if (!strcmp(files[i].name, name))
			return files[i].path;
	if (nfiles == MAX_FILES)
		abort();
	snprintf(tmpl, sizeof(tmpl), "%s/mldeploy-fuzz-%s-XXXXXX",
		 base && *base ? base : "/tmp", name);
	fd = mkstemp(tmpl);
	if (fd < 0) {
		perror(tmpl);
		abort();
	}
	unlink(tmpl);
	files[nfiles].name = strdup(name);
	if (!files[nfiles].name)
		abort();
	snprintf(files[nfiles].path, sizeof(files[nfiles].path), "/proc/self/fd/%d", fd);
	return files[nfiles++].path;
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

int fuzz_contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return nlen <= hlen && memmem(hay, hlen, needle, nlen) != NULL;
}

size_t fuzz_utf8_char(const unsigned char *p, size_t n, unsigned *cp)
{
	size_t len, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, *cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, *cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, *cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && *cp < 0x800) || (len == 4 && (*cp < 0x10000 || *cp > 0x10ffff)) ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

int fuzz_utf8_valid(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0, n;
	unsigned cp;

	while (i < len) {
		n = fuzz_utf8_char(p + i, len - i, &cp);
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

void fuzz_print(const char *label, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	fprintf(stderr, "%s (%zu bytes): \"", label, len);
	for (i = 0; i < len; i++)
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			fputc(p[i], stderr);
		else
			fprintf(stderr, "\\x%02x", p[i]);
	fputs("\"\n", stderr);
}

void fuzz_fail(const char *what, const void *input, size_t len)
{
	fprintf(stderr, "invariant broken: %s\n", what);
	fuzz_print("input", input, len);
	abort();
}
