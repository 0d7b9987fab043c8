#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/error.h"

void ml_buf_init(struct ml_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

static size_t buf_max(const struct ml_buf *b)
{
	return b->max ? b->max : ML_BUF_DEFAULT_MAX;
}

static int buf_reserve(struct ml_buf *b, size_t extra)
{
	if (extra > buf_max(b) || b->len > buf_max(b) - extra)
		return -ML_ETOOBIG;
	b->data = ml_grow(b->data, &b->alloc, b->len + extra + 1, 1);
	return 0;
}

int ml_buf_add(struct ml_buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -ML_ETOOBIG;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int ml_buf_adds(struct ml_buf *b, const char *s)
{
	return ml_buf_add(b, s, strlen(s));
}

int ml_buf_addch(struct ml_buf *b, char c)
{
	return ml_buf_add(b, &c, 1);
}

int ml_buf_vprintf(struct ml_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -ML_EINTERNAL;
	if (buf_reserve(b, (size_t)n) < 0)
		return -ML_ETOOBIG;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int ml_buf_printf(struct ml_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ml_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *ml_buf_str(const struct ml_buf *b)
{
	return b->data ? b->data : "";
}

void ml_buf_reset(struct ml_buf *b)
{
	ml_buf_truncate(b, 0);
}

void ml_buf_truncate(struct ml_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

char *ml_buf_detach(struct ml_buf *b)
{
	char *p = b->data ? b->data : ml_strdup("");

	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

void ml_buf_dispose(struct ml_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}
