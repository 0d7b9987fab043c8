/* Python packaging rules, as the Python Packaging Authority specifies them:
 * PEP 503 project names, PEP 440 versions and specifiers, PEP 508 dependency
 * specifiers and environment markers. Pure functions: no I/O. Names, versions
 * and specifiers are in pep440.c; dependency specifiers and markers in pep508.c. */
#ifndef ML_PYVER_H
#define ML_PYVER_H

#include <stddef.h>

#include "util/error.h"

/* A valid project name (PEP 508: letters, digits, ._- ; alnum at both ends). */
int ml_pyname_valid(const char *name);
/* PEP 503 normalized form (lower case, runs of -_. -> "-"); malloc'ed. */
char *ml_pyname_normalize(const char *name);

/* A valid PEP 440 version (public or local, any accepted spelling: "1.0", "v1.0rc1",
 * "1.0.post1.dev2+ubuntu.1", "1!2.0"). */
int ml_pyver_valid(const char *v);
/* Compares two valid versions by PEP 440 ordering: <0, 0, >0. Invalid versions
 * compare as strings, after every valid one. */
int ml_pyver_cmp(const char *a, const char *b);
/* The normalized form of a valid version ("V1.0-RC.1" -> "1.0rc1"), malloc'ed;
 * NULL when v is not a version. */
char *ml_pyver_normalize(const char *v);

/* Whether version satisfies a specifier set ("==1.2", ">=1,<2", "~=1.4.2", "!=1.5.*",
 * "===abc"; "" matches everything). Pre-releases match when the specifier allows them
 * explicitly or version is one (we only ever check pinned sets, never pick versions).
 * 1 or 0; negative (ML_ECONFIG) with a message when spec is malformed. */
int ml_pyspec_match(const char *spec, const char *version, struct ml_error *err);

/* The target interpreter, for markers (PEP 508 "Environment Markers"). NULL fields
 * compare as "". */
struct ml_pyenv {
	const char *python_version;		/* "3.11" */
	const char *python_full_version;	/* "3.11.2" */
	const char *implementation_name;	/* "cpython" */
	const char *implementation_version;	/* "3.11.2" */
	const char *platform_python_implementation;	/* "CPython" */
	const char *os_name;			/* "posix" */
	const char *sys_platform;		/* "linux" */
	const char *platform_system;		/* "Linux" */
	const char *platform_machine;		/* "x86_64" */
	const char *platform_release;		/* "" */
	const char *platform_version;		/* "" */
};

/* A PEP 508 dependency specifier:
 *   name [extras] (version-spec | @ url) [; marker] */
struct ml_pydep {
	char *name;		/* as written */
	char *normalized;	/* ml_pyname_normalize(name) */
	char **extras;		/* normalized extra names */
	size_t nextras;
	char *specifier;	/* "" when none, else e.g. ">=1.0,<2" (parentheses and spaces removed) */
	char *url;		/* "name @ url" form, else NULL */
	char *marker;		/* the marker text after ';', trimmed, or NULL */
};

/* Parses s. On error returns -ML_ECONFIG, err says what was expected, and *errpos
 * (when errpos is given) is the 0-based offset in s where parsing failed. */
int ml_pydep_parse(const char *s, struct ml_pydep *out, size_t *errpos, struct ml_error *err);
void ml_pydep_dispose(struct ml_pydep *d);

/* Evaluates a marker for env. extra: the extra being evaluated (normalized), or
 * NULL, in which case `extra == "..."` is false. 1 true, 0 false, negative
 * (ML_ECONFIG, message) when the marker is malformed. Version comparisons follow
 * PEP 508: PEP 440 when both sides are versions, else string operators. */
int ml_pymarker_eval(const char *marker, const struct ml_pyenv *env, const char *extra,
		     struct ml_error *err);

#endif
