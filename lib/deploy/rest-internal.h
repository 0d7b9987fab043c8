/* Shared by rest.c and apierror.c (the error decoders). */
#ifndef ML_REST_INTERNAL_H
#define ML_REST_INTERNAL_H

#include <stddef.h>

/* Writes server text into out (cap bytes, NUL-terminated) as one line: secrets
 * redacted, control characters and line breaks made spaces, runs of blanks
 * collapsed, cut with "..." when longer. */
void ml_rest_line(char *out, size_t cap, const char *text);

#endif
