#include "util/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
	fprintf(stderr, "mldeploy: out of memory (%zu bytes)\n", size);
	abort();
}

void *ml_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		oom(size);
	return p;
}

void *ml_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *ml_realloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

void *ml_grow(void *p, size_t *alloc, size_t want, size_t size)
{
	size_t n = *alloc;

	if (want <= n)
		return p;
	n = n ? n : 8;
	while (n < want)
		n *= 2;
	if (n > ((size_t)-1) / size)
		oom(n);
	p = ml_realloc(p, n * size);
	*alloc = n;
	return p;
}

char *ml_strdup(const char *s)
{
	return s ? ml_strndup(s, strlen(s)) : NULL;
}

char *ml_strndup(const char *s, size_t n)
{
	char *p = ml_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *ml_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	p = ml_malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void ml_free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void ml_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void ml_free_secret(char *s)
{
	if (s)
		ml_wipe(s, strlen(s));
	free(s);
}

void ml_free_secrets(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ml_free_secret(v[i]);
	free(v);
}
