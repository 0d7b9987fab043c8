/* gzip members with libdeflate: the header carries no name and mtime 0. */
#include <libdeflate.h>

#include "wrap/codec.h"

static void *gzip_new(int level)
{
	return libdeflate_alloc_compressor(level);
}

static size_t gzip_bound(void *state, size_t len)
{
	return libdeflate_gzip_compress_bound(state, len);
}

static size_t gzip_compress(void *state, const void *in, size_t len, void *out, size_t cap)
{
	return libdeflate_gzip_compress(state, in, len, out, cap);
}

static void gzip_free(void *state)
{
	libdeflate_free_compressor(state);
}

const struct ml_codec ml_codec_gzip = {
	.name = "gzip",
	.media_suffix = "+gzip",
	.min_level = 1,
	.max_level = 12,
	.default_level = 6,
	.state_new = gzip_new,
	.bound = gzip_bound,
	.compress = gzip_compress,
	.state_free = gzip_free,
};
