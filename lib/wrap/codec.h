/* Block compressors. Each block becomes one complete, independent gzip member or
 * zstd frame; concatenated members/frames are one valid stream (RFC 1952 section
 * 2.2, RFC 8878 section 3.1), which is what lets compress.c spread blocks over cores. */
#ifndef ML_CODEC_H
#define ML_CODEC_H

#include <stddef.h>

struct ml_codec {
	const char *name;		/* "gzip", "zstd" */
	const char *media_suffix;	/* "+gzip", "+zstd" */
	int min_level, max_level, default_level;
	void *(*state_new)(int level);	/* per worker thread; NULL on failure */
	size_t (*bound)(void *state, size_t len);
	/* Returns the compressed size, or 0 on failure. */
	size_t (*compress)(void *state, const void *in, size_t len, void *out, size_t cap);
	void (*state_free)(void *state);
};

extern const struct ml_codec ml_codec_gzip;	/* gzip.c, libdeflate */
extern const struct ml_codec ml_codec_zstd;	/* zstd.c, libzstd */

#endif
