/* A provider's own deploy.<name> mapping, read with the config walker's typed
 * getters: every error carries "file:line:column: ", names the key's full path
 * ("deploy.gcp.memory") and a hint, and unknown keys get "did you mean". The core
 * knows only that `deploy:` holds one mapping per provider; the providers (through
 * the hooks cmd/ installs) parse their own. */
#ifndef ML_CONFIG_SECTION_H
#define ML_CONFIG_SECTION_H

#include <stddef.h>

#include "config/config.h"
#include "util/error.h"
#include "wrap/json.h"

struct ml_config_section;	/* borrowed for the duration of a parse call */

enum ml_section_flags {
	ML_SECTION_REQUIRED = 1 << 0,	/* missing or empty: an error naming the key */
	ML_SECTION_ENV_NAMES = 1 << 1,	/* ml_section_kv: keys are environment variable names */
};

/* "deploy.gcp" */
const char *ml_section_path(const struct ml_config_section *s);
/* Where key's value stands (the section's own position when key is NULL or absent). */
struct ml_pos ml_section_pos(const struct ml_config_section *s, const char *key);
int ml_section_has(const struct ml_config_section *s, const char *key);

/* Every key of the mapping must be in keys (NULL-terminated): otherwise an error
 * at the key with "did you mean" among keys. Call first. */
int ml_section_keys(struct ml_config_section *s, const char *const *keys);

/* An error unless key is given with a value that is not empty after ${VAR}
 * expansion: "missing required key" at the section, "empty value for required
 * key" at the key, ending with "(hint)". Reading the key still takes a getter. */
int ml_section_require(struct ml_config_section *s, const char *key, const char *hint);

/* Getters: an absent key leaves *out untouched and returns 0 (unless REQUIRED);
 * a present one is checked, ${VAR} expanded, and stored (strings malloc'ed). */
int ml_section_str(struct ml_config_section *s, const char *key, unsigned flags, char **out);
/* One of allowed (NULL-terminated); the error lists them. */
int ml_section_enum(struct ml_config_section *s, const char *key, unsigned flags,
		    const char *const *allowed, char **out);
int ml_section_int(struct ml_config_section *s, const char *key, unsigned flags, long min,
		   long max, int *out);
int ml_section_bool(struct ml_config_section *s, const char *key, int *out);
/* A number > 0 ("1", "0.5"). */
int ml_section_positive(struct ml_config_section *s, const char *key, double *out);
/* A list of strings (a scalar is taken as a one-item list). */
int ml_section_strv(struct ml_config_section *s, const char *key, struct ml_strv *out);
/* A mapping of strings to strings (env, labels); flags: ML_SECTION_ENV_NAMES. Entries
 * are appended to *out (free with ml_kv_free). */
int ml_section_kv(struct ml_config_section *s, const char *key, unsigned flags,
		  struct ml_kv **out, size_t *n);

/* v cut to 80 characters with control characters as '?', for a message; valid
 * until four more calls. */
const char *ml_section_quote(struct ml_config_section *s, const char *v);

/* An error about key's value (or the section when key is NULL), formatted as the
 * getters' are: "FILE:L:C: MSG" where MSG names the path; returns -ML_ECONFIG. */
int ml_section_error(struct ml_config_section *s, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The providers' side, installed once by cmd/ (as the registry hooks are). */
struct ml_config_provider_hooks {
	/* Names of the providers that own a section, NULL-terminated (for "did you mean"). */
	const char *const *(*names)(void);
	/* The keys of deploy.<name> (NULL-terminated), so that a key at the wrong
	 * indentation is told "it belongs in 'deploy.gcp'"; may return NULL. */
	const char *const *(*keys)(const char *name);
	/* err is the one ml_config_load fills, as the getters do. */
	int (*parse)(const char *name, struct ml_config_section *s, void **conf,
		     struct ml_error *err);
	void (*free)(const char *name, void *conf);
	ml_json *(*json)(const char *name, const void *conf);
};
void ml_config_set_provider_hooks(const struct ml_config_provider_hooks *h);

/* The parsed section of provider name, or NULL when deploy.yaml has none. */
const void *ml_config_provider_conf(const struct ml_config *cfg, const char *name);

#endif
