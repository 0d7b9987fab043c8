#include "image/compress.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/fsutil.h"

#define BLOCK_SIZE (2u << 20)
#define MAX_THREADS 64

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_WORKING, SLOT_DONE, SLOT_FAILED };

struct slot {
	enum slot_state state;
	uint64_t seq;
	char *in;
	size_t in_len;
	char *out;
	size_t out_cap;
	size_t out_len;
};

struct ml_compressor {
	const struct ml_codec *codec;
	int level;
	int fd;
	struct ml_sha256 *in_hash;
	struct ml_sha256 *out_hash;
	uint64_t in_total;
	uint64_t out_total;

	pthread_mutex_t lock;
	pthread_cond_t work;	/* a slot was queued, or stopping */
	pthread_cond_t done;	/* a slot finished */
	pthread_t *threads;
	int nthreads;
	int started;
	int stopping;
	struct slot *slots;
	size_t nslots;
	uint64_t next_seq;	/* sequence number of the slot being filled */
	uint64_t write_seq;	/* next sequence number to write out */
	struct slot *filling;
	int failed;		/* the first error: the stream cannot go on after it */
};

static struct slot *queued_slot(struct ml_compressor *c)
{
	struct slot *best = NULL;
	size_t i;

	for (i = 0; i < c->nslots; i++) {
		struct slot *s = &c->slots[i];

		if (s->state == SLOT_QUEUED && (!best || s->seq < best->seq))
			best = s;
	}
	return best;
}

static void *worker(void *arg)
{
	struct ml_compressor *c = arg;
	void *state = c->codec->state_new(c->level);
	struct slot *s;
	size_t n;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stopping && !(s = queued_slot(c)))
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stopping)
			break;
		s->state = SLOT_WORKING;
		pthread_mutex_unlock(&c->lock);
		n = 0;
		if (state) {
			size_t bound = c->codec->bound(state, s->in_len);

			if (bound > s->out_cap) {
				s->out = ml_realloc(s->out, bound);
				s->out_cap = bound;
			}
			n = c->codec->compress(state, s->in, s->in_len, s->out, s->out_cap);
		}
		pthread_mutex_lock(&c->lock);
		s->out_len = n;
		s->state = n ? SLOT_DONE : SLOT_FAILED;
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->lock);
	if (state)
		c->codec->state_free(state);
	return NULL;
}

static int start_threads(struct ml_compressor *c, struct ml_error *err)
{
	int i;

	c->threads = ml_calloc((size_t)c->nthreads, sizeof(*c->threads));
	for (i = 0; i < c->nthreads; i++) {
		if (pthread_create(&c->threads[i], NULL, worker, c) != 0)
			return ml_error_set(err, ML_EINTERNAL, "cannot start compression thread");
		c->started++;
	}
	return 0;
}

int ml_compressor_new(struct ml_compressor **out, const struct ml_codec *codec, int level,
		      int threads, int fd, struct ml_error *err)
{
	struct ml_compressor *c = ml_calloc(1, sizeof(*c));
	size_t i;
	int rc;

	c->codec = codec;
	c->level = level;
	c->fd = fd;
	c->in_hash = ml_sha256_new();
	c->out_hash = ml_sha256_new();
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->done, NULL);
	if (codec) {
		if (threads <= 0)
			threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
		c->nthreads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
		c->nslots = (size_t)c->nthreads + 2;
		c->slots = ml_calloc(c->nslots, sizeof(*c->slots));
		for (i = 0; i < c->nslots; i++)
			c->slots[i].in = ml_malloc(BLOCK_SIZE);
		c->filling = &c->slots[0];
		rc = start_threads(c, err);
		if (rc < 0) {
			ml_compressor_free(c);
			return rc;
		}
	}
	*out = c;
	return 0;
}

/* Called with the lock held: writes finished slots in sequence order. */
static int flush_done(struct ml_compressor *c, struct ml_error *err)
{
	size_t i;
	int rc, progress = 1;

	while (progress) {
		progress = 0;
		for (i = 0; i < c->nslots; i++) {
			struct slot *s = &c->slots[i];

			if (s->seq != c->write_seq || s == c->filling)
				continue;
			if (s->state == SLOT_FAILED)
				return ml_error_set(err, ML_EINTERNAL, "%s compression failed",
						    c->codec->name);
			if (s->state != SLOT_DONE)
				continue;
			rc = ml_write_all(c->fd, s->out, s->out_len, err);
			if (rc < 0)
				return rc;
			ml_sha256_update(c->out_hash, s->out, s->out_len);
			c->out_total += s->out_len;
			s->state = SLOT_FREE;
			c->write_seq++;
			progress = 1;
		}
	}
	return 0;
}

/* Queues the filling slot and waits for a free one to fill next. */
static int submit(struct ml_compressor *c, struct ml_error *err)
{
	struct slot *s = c->filling;
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	s->seq = c->next_seq++;
	s->state = SLOT_QUEUED;
	c->filling = NULL;
	pthread_cond_signal(&c->work);
	for (;;) {
		rc = flush_done(c, err);
		if (rc < 0)
			break;
		for (i = 0; i < c->nslots && !c->filling; i++)
			if (c->slots[i].state == SLOT_FREE)
				c->filling = &c->slots[i];
		if (c->filling)
			break;
		pthread_cond_wait(&c->done, &c->lock);
	}
	if (c->filling) {
		c->filling->in_len = 0;
		c->filling->seq = UINT64_MAX;
	}
	if (rc < 0)
		c->failed = rc;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int ml_compressor_write(struct ml_compressor *c, const void *data, size_t len,
			struct ml_error *err)
{
	const char *p = data;
	int rc;

	if (c->failed)
		return ml_error_set(err, -c->failed, "cannot compress after an earlier error");
	ml_sha256_update(c->in_hash, data, len);
	c->in_total += len;
	if (!c->codec) {
		ml_sha256_update(c->out_hash, data, len);
		c->out_total += len;
		rc = ml_write_all(c->fd, data, len, err);
		if (rc < 0)
			c->failed = rc;
		return rc;
	}
	while (len) {
		struct slot *s = c->filling;
		size_t n = BLOCK_SIZE - s->in_len;

		if (n > len)
			n = len;
		memcpy(s->in + s->in_len, p, n);
		s->in_len += n;
		p += n;
		len -= n;
		if (s->in_len == BLOCK_SIZE) {
			rc = submit(c, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int ml_compressor_finish(struct ml_compressor *c, struct ml_compress_result *res,
			 struct ml_error *err)
{
	int rc = 0;

	if (c->failed)
		return ml_error_set(err, -c->failed, "cannot compress after an earlier error");
	if (c->codec) {
		/* an empty stream still gets one (empty) member so it is valid gzip/zstd */
		if (c->filling->in_len || c->next_seq == 0)
			rc = submit(c, err);
		pthread_mutex_lock(&c->lock);
		while (rc == 0 && c->write_seq < c->next_seq) {
			rc = flush_done(c, err);
			if (rc == 0 && c->write_seq < c->next_seq)
				pthread_cond_wait(&c->done, &c->lock);
		}
		pthread_mutex_unlock(&c->lock);
		if (rc < 0)
			return rc;
	}
	ml_sha256_final(c->in_hash, res->diff_id);
	ml_sha256_final(c->out_hash, res->digest);
	res->size = c->out_total;
	res->uncompressed_size = c->in_total;
	return 0;
}

void ml_compressor_free(struct ml_compressor *c)
{
	size_t i;
	int t;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	for (t = 0; t < c->started; t++)
		pthread_join(c->threads[t], NULL);
	for (i = 0; i < c->nslots; i++) {
		free(c->slots[i].in);
		free(c->slots[i].out);
	}
	free(c->slots);
	free(c->threads);
	ml_sha256_free(c->in_hash);
	ml_sha256_free(c->out_hash);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
	free(c);
}
