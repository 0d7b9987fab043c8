/* An expiry-aware cache of secrets (access tokens) by key, shared by the registry
 * and the providers' credential flows.
 * - A token counts as expired a margin before its expiry (a tenth of its life, at
 *   most 60 s), so that it is never sent just as it lapses.
 * - A new token for a key replaces the old one (never a second entry).
 * - Every secret is wiped when it is replaced, dropped or freed; get returns a copy
 *   for the caller to wipe (ml_free_secret).
 * - All functions may be called from several threads at once. */
#ifndef ML_TOKEN_H
#define ML_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define ML_TOKEN_MARGIN_MAX_S 60

struct ml_token_cache;

struct ml_token_cache *ml_token_cache_new(void);
void ml_token_cache_free(struct ml_token_cache *c);	/* wipes every secret; NULL is fine */

/* Stores a copy of secret for key, replacing what key held. lifetime_s: how long
 * the token is valid from now (OAuth's expires_in); <= 0 means no known expiry
 * (kept until dropped or replaced). */
void ml_token_cache_put(struct ml_token_cache *c, const char *key, const char *secret,
			int64_t lifetime_s);
/* A copy of key's secret while it is fresh (free it with ml_free_secret), else
 * NULL; an expired entry is dropped (and wiped) here. */
char *ml_token_cache_get(struct ml_token_cache *c, const char *key);
/* Forgets key (a token the server refused). */
void ml_token_cache_drop(struct ml_token_cache *c, const char *key);
/* How many entries the cache holds, expired ones included. */
size_t ml_token_cache_count(struct ml_token_cache *c);

/* Replaces the clock (seconds, monotonic) for tests; NULL restores the real one. */
void ml_token_cache_set_clock(struct ml_token_cache *c, int64_t (*now)(void *ud), void *ud);

#endif
