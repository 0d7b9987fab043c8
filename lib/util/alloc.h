/* Allocation that never returns NULL: running out of memory ends the process,
 * as in git's xmalloc; data from the network is bounded by ml_buf caps instead. */
#ifndef ML_ALLOC_H
#define ML_ALLOC_H

#include <stddef.h>

void *ml_malloc(size_t size);
void *ml_calloc(size_t n, size_t size);
void *ml_realloc(void *p, size_t size);
/* Grows an array of n elements of size to hold at least want elements. */
void *ml_grow(void *p, size_t *alloc, size_t want, size_t size);
char *ml_strdup(const char *s);		/* NULL in, NULL out */
char *ml_strndup(const char *s, size_t n);
char *ml_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Frees the n strings of v, then v. */
void ml_free_strings(char **v, size_t n);

/* Overwrites n bytes at p with zeros in a way the compiler keeps (explicit_bzero):
 * for secrets before their memory is freed or reused. NULL is fine. */
void ml_wipe(void *p, size_t n);
/* Wipes the string s (up to its NUL), then frees it. */
void ml_free_secret(char *s);
/* ml_free_strings for strings that hold secrets (signed headers). */
void ml_free_secrets(char **v, size_t n);

#endif
