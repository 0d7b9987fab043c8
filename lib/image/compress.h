/* A stream compressor that spreads fixed-size blocks over worker threads and
 * writes them, in order, to a file descriptor, hashing both sides on the way:
 * diff_id = sha256 of what was written in, digest = sha256 of what reached fd.
 * Memory stays bounded: (threads + 2) blocks in flight, whatever the stream size. */
#ifndef ML_COMPRESS_H
#define ML_COMPRESS_H

#include <stdint.h>

#include "wrap/codec.h"
#include "wrap/digest.h"
#include "util/error.h"

struct ml_compressor;

struct ml_compress_result {
	char diff_id[ML_DIGEST_LEN];
	char digest[ML_DIGEST_LEN];
	uint64_t size;			/* bytes written to fd */
	uint64_t uncompressed_size;
};

/* codec NULL writes the stream as is. threads <= 0 means one per online core. */
int ml_compressor_new(struct ml_compressor **out, const struct ml_codec *codec, int level,
		      int threads, int fd, struct ml_error *err);
int ml_compressor_write(struct ml_compressor *c, const void *data, size_t len,
			struct ml_error *err);
/* Flushes everything; fd is left open (the caller fsyncs/closes it). */
int ml_compressor_finish(struct ml_compressor *c, struct ml_compress_result *res,
			 struct ml_error *err);
void ml_compressor_free(struct ml_compressor *c);

#endif
