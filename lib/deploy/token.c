#include "deploy/token.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"

struct entry {
	char *key;
	char *secret;
	int64_t stale_at;	/* when it stops being handed out; INT64_MAX: never */
};

struct ml_token_cache {
	pthread_mutex_t lock;
	struct entry *v;
	size_t n, alloc;
	int64_t (*now)(void *ud);
	void *now_ud;
};

static int64_t monotonic_s(void *ud)
{
	struct timespec ts;

	(void)ud;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

struct ml_token_cache *ml_token_cache_new(void)
{
	struct ml_token_cache *c = ml_calloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->now = monotonic_s;
	return c;
}

static void entry_dispose(struct entry *e)
{
	free(e->key);
	ml_free_secret(e->secret);
	memset(e, 0, sizeof(*e));
}

/* Removes entry i (the lock is held). */
static void remove_at(struct ml_token_cache *c, size_t i)
{
	entry_dispose(&c->v[i]);
	c->v[i] = c->v[--c->n];
}

static struct entry *find(struct ml_token_cache *c, const char *key, size_t *index)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].key, key)) {
			*index = i;
			return &c->v[i];
		}
	return NULL;
}

void ml_token_cache_free(struct ml_token_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		entry_dispose(&c->v[i]);
	free(c->v);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The margin is a tenth of the token's life, at most ML_TOKEN_MARGIN_MAX_S. */
static int64_t stale_at(int64_t now, int64_t lifetime_s)
{
	int64_t margin;

	if (lifetime_s <= 0)
		return INT64_MAX;
	margin = lifetime_s / 10;
	if (margin > ML_TOKEN_MARGIN_MAX_S)
		margin = ML_TOKEN_MARGIN_MAX_S;
	if (lifetime_s > INT64_MAX - now)
		return INT64_MAX;
	return now + lifetime_s - margin;
}

void ml_token_cache_put(struct ml_token_cache *c, const char *key, const char *secret,
			int64_t lifetime_s)
{
	struct entry *e;
	size_t i;

	pthread_mutex_lock(&c->lock);
	e = find(c, key, &i);
	if (e) {
		ml_free_secret(e->secret);
	} else {
		c->v = ml_grow(c->v, &c->alloc, c->n + 1, sizeof(*c->v));
		e = &c->v[c->n++];
		e->key = ml_strdup(key);
	}
	e->secret = ml_strdup(secret);
	e->stale_at = stale_at(c->now(c->now_ud), lifetime_s);
	pthread_mutex_unlock(&c->lock);
}

char *ml_token_cache_get(struct ml_token_cache *c, const char *key)
{
	struct entry *e;
	char *out = NULL;
	size_t i;

	pthread_mutex_lock(&c->lock);
	e = find(c, key, &i);
	if (e && c->now(c->now_ud) >= e->stale_at)
		remove_at(c, i);
	else if (e)
		out = ml_strdup(e->secret);
	pthread_mutex_unlock(&c->lock);
	return out;
}

void ml_token_cache_drop(struct ml_token_cache *c, const char *key)
{
	size_t i;

	pthread_mutex_lock(&c->lock);
	if (find(c, key, &i))
		remove_at(c, i);
	pthread_mutex_unlock(&c->lock);
}

size_t ml_token_cache_count(struct ml_token_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void ml_token_cache_set_clock(struct ml_token_cache *c, int64_t (*now)(void *ud), void *ud)
{
	pthread_mutex_lock(&c->lock);
	c->now = now ? now : monotonic_s;
	c->now_ud = now ? ud : NULL;
	pthread_mutex_unlock(&c->lock);
}
