/* Wheel compatibility tags (PEP 425, PEP 600 manylinux, PEP 656 musllinux) and
 * wheel file names (PEP 427 / binary distribution format). Pure functions. */
#ifndef ML_PYTAGS_H
#define ML_PYTAGS_H

#include <stddef.h>

#include "util/error.h"

enum ml_libc { ML_LIBC_GLIBC, ML_LIBC_MUSL };

/* The image's interpreter: CPython major.minor on arch with a C library. */
struct ml_pytarget {
	int py_major, py_minor;		/* 3, 11 */
	const char *arch;		/* Python's machine name: "x86_64", "aarch64", ... */
	enum ml_libc libc;
	int libc_major, libc_minor;	/* glibc 2.36, musl 1.2 */
};

/* Python's machine name for an OCI architecture (+variant): amd64 -> x86_64,
 * arm64 -> aarch64, 386 -> i686, arm/v7 -> armv7l, ppc64le, s390x, riscv64.
 * NULL when unknown. */
const char *ml_pytags_arch(const char *oci_arch, const char *variant);

/* Every tag the target supports, most preferred first, in the order
 * packaging.tags.sys_tags() gives for such an interpreter: cpXY-cpXY-<plat>,
 * cpXY-abi3-<plat>, cpXY-none-<plat>, cpXW-abi3-<plat> for W < Y down to 2,
 * pyXY/py3X...-none-<plat>, then -none-any ones. <plat> runs from
 * manylinux_2_<minor>_<arch> down to manylinux_2_17 (manylinux_2_5 on x86_64 and
 * i686), each legacy alias manylinux2014/2010/1 right after its equivalent, then
 * linux_<arch> for glibc; from musllinux_1_<minor>_<arch> down to musllinux_1_0
 * then linux_<arch> for musl (as packaging.tags yields them).
 * Returns a malloc'ed array of malloc'ed strings; negative with a message
 * when the target cannot be described (unknown arch). */
int ml_pytags_for(const struct ml_pytarget *t, char ***tags, size_t *n, struct ml_error *err);
void ml_pytags_free(char **tags, size_t n);

/* A parsed wheel file name: {name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl, with
 * the compressed tag sets ("py2.py3-none-any") expanded into triples. */
struct ml_wheelname {
	char *name;		/* as in the file name (underscores) */
	char *normalized;	/* PEP 503 */
	char *version;
	char *build;		/* NULL when absent */
	char **tags;		/* "py3-none-any", ... */
	size_t ntags;
};
/* -ML_EPROTO with a message when filename is not a wheel name. */
int ml_wheelname_parse(const char *filename, struct ml_wheelname *out, struct ml_error *err);
void ml_wheelname_dispose(struct ml_wheelname *w);

/* The index in tags[0..n-1] of the best tag w supports (lower is better), or -1
 * when none is supported. */
long ml_pytags_rank(char *const *tags, size_t n, const struct ml_wheelname *w);

#endif
