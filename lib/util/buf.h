/* One growable byte buffer: always NUL-terminated, always capped. */
#ifndef ML_BUF_H
#define ML_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define ML_BUF_DEFAULT_MAX (64u << 20)	/* cap when none is given */

struct ml_buf {
	char *data;	/* NUL-terminated when non-NULL; "" is returned by ml_buf_str when NULL */
	size_t len;
	size_t alloc;
	size_t max;	/* len never exceeds max; 0 means ML_BUF_DEFAULT_MAX */
};

#define ML_BUF_INIT { NULL, 0, 0, 0 }

void ml_buf_init(struct ml_buf *b, size_t max);
/* These return 0, or -ML_ETOOBIG when the cap would be passed (b unchanged). */
int ml_buf_add(struct ml_buf *b, const void *data, size_t len);
int ml_buf_adds(struct ml_buf *b, const char *s);
int ml_buf_addch(struct ml_buf *b, char c);
int ml_buf_printf(struct ml_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ml_buf_vprintf(struct ml_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
const char *ml_buf_str(const struct ml_buf *b);
void ml_buf_reset(struct ml_buf *b);		/* len = 0, keeps memory */
void ml_buf_truncate(struct ml_buf *b, size_t len);
char *ml_buf_detach(struct ml_buf *b);		/* caller frees; b is reset to empty */
void ml_buf_dispose(struct ml_buf *b);

#endif
