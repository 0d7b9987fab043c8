/* Helpers shared by the libFuzzer targets in tests/fuzz/ (not part of lib/). */
#ifndef ML_FUZZUTIL_H
#define ML_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The path of a temporary file made once per process for name (a label such
 * as "deploy.yaml"), so every run of a target reuses the same file. */
const char *fuzz_tmp_path(const char *name);

/* Replaces the contents of path with data; aborts when it cannot. */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* data followed by a NUL, malloc'ed (C functions see it up to its first NUL). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Whether needle (nlen > 0) occurs in hay. */
int fuzz_contains(const char *hay, size_t hlen, const char *needle, size_t nlen);

/* Length of the UTF-8 sequence at p (n > 0), 0 when it is not valid UTF-8
 * (RFC 3629: no overlong forms, surrogates or values above U+10FFFF); *cp gets
 * the code point. */
size_t fuzz_utf8_char(const unsigned char *p, size_t n, unsigned *cp);
int fuzz_utf8_valid(const void *data, size_t len);

/* Prints what broke an invariant, with the input escaped, and aborts so
 * libFuzzer saves the input as a crash. */
void fuzz_fail(const char *what, const void *input, size_t len)
	__attribute__((noreturn));

/* Prints label and data (len bytes) escaped, for the context of a failure. */
void fuzz_print(const char *label, const void *data, size_t len);

#endif
