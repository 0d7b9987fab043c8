/* zstd frames with libzstd, with the content size recorded and no dictionary. */
#include <zstd.h>

#include <stdlib.h>

#include "util/alloc.h"
#include "wrap/codec.h"

struct zstd_state {
	ZSTD_CCtx *cctx;
	int level;
};

static void *zstd_new(int level)
{
	struct zstd_state *s = ml_calloc(1, sizeof(*s));

	s->cctx = ZSTD_createCCtx();
	s->level = level;
	if (!s->cctx) {
		free(s);
		return NULL;
	}
	return s;
}

static size_t zstd_bound(void *state, size_t len)
{
	(void)state;
	return ZSTD_compressBound(len);
}

static size_t zstd_compress(void *state, const void *in, size_t len, void *out, size_t cap)
{
	struct zstd_state *s = state;
	size_t n = ZSTD_compressCCtx(s->cctx, out, cap, in, len, s->level);

	return ZSTD_isError(n) ? 0 : n;
}

static void zstd_free(void *state)
{
	struct zstd_state *s = state;

	ZSTD_freeCCtx(s->cctx);
	free(s);
}

const struct ml_codec ml_codec_zstd = {
	.name = "zstd",
	.media_suffix = "+zstd",
	.min_level = 1,
	.max_level = 19,
	.default_level = 3,
	.state_new = zstd_new,
	.bound = zstd_bound,
	.compress = zstd_compress,
	.state_free = zstd_free,
};
