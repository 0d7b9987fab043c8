/* What pep440.c (names, PEP 440) shares with pep508.c (PEP 508): the character
 * classes and the parsing of one version specifier clause. */
#ifndef ML_PYVER_INTERNAL_H
#define ML_PYVER_INTERNAL_H

#include <stddef.h>

static inline int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A separator in project names and versions. */
static inline int is_sep(char c)
{
	return c == '-' || c == '_' || c == '.';
}

/* The specifier operator s[0..len) starts with ("===", "~=", "==", ...), *n its
 * length; NULL when there is none. */
const char *ml_pyspec_op(const char *s, size_t len, size_t *n);

/* Checks s[0..len) as one specifier clause ("op version", white space around).
 * On success *op is the operator (static) and ver[0..*nver) the version as
 * written, trimmed, pointing into s. On failure returns -1 and *why (static)
 * says what is wrong. */
int ml_pyspec_clause(const char *s, size_t len, const char **op, const char **ver, size_t *nver,
		     const char **why);

#endif
