/* Shared by the files of lib/config/ (not for other files):
 *   yaml.c       libyaml's events -> a tree of struct ynode (the only file that
 *                includes yaml.h)
 *   walk.c       the walker: messages with file:line:column and the dotted key,
 *                "did you mean", mappings, and the typed getters
 *   expand.c     ${VAR} expansion of scalars
 *   schema.c     the core keys: name, image, health, endpoints, and their checks
 *   section.c    deploy: one section per provider, read through config/section.h
 *   json-view.c  the resolved configuration as JSON (validate --json)
 *   config.c     loading and freeing */
#ifndef ML_CONFIG_INTERNAL_H
#define ML_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "config/config.h"
#include "config/section.h"
#include "util/buf.h"
#include "util/error.h"

#define QUOTE_MAX 80			/* characters of a value shown in a message */
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)	/* the bytes of one, quoted so */

#define REQUIRED 1			/* ml_cfg_get_str: missing or empty is an error */

/* ---- the tree (yaml.c) ---- */

enum ynode_type { YN_SCALAR, YN_SEQ, YN_MAP };

/* A core-schema tag on a scalar, which its value must match. */
enum ytag { YT_NONE, YT_NULL, YT_BOOL, YT_INT, YT_FLOAT };

struct ynode {
	enum ynode_type type;
	int line, column;	/* 1-based */
	char *text;		/* scalar as written, before ${} expansion */
	int plain;		/* unquoted and untagged: null, booleans and numbers apply */
	enum ytag tag;		/* still to check after expansion (the text holds "${") */
	struct ynode **kids;	/* sequence items; mapping keys and values, alternating */
	size_t n, alloc;
};

/* The one document of data; *root stays NULL for an empty stream. */
int ml_cfg_yaml_load(const char *file, const struct ml_buf *data, struct ynode **root,
		     struct ml_error *err);
void ml_cfg_ynode_free(struct ynode *n);
/* Whether text is of the tag's type in YAML's core schema. */
int ml_cfg_tag_fits(enum ytag tag, const char *text);
/* What the tag needs: "'!!int' needs an integer such as 8080". */
const char *ml_cfg_tag_needs(enum ytag tag);

static inline int is_utf8_start(char c)
{
	return ((unsigned char)c & 0xc0) != 0x80;
}

/* ---- walking the tree (walk.c) ---- */

struct walker {
	struct ml_config *cfg;
	struct ml_error *err;
	struct ml_buf path;		/* dotted path of the value at hand: "image.copy[2].src" */
	struct ml_buf where;		/* scratch for " in 'PATH'" */
	char quoted[4][QUOTE_BUF];	/* ring of values shortened for messages */
	char desc[QUOTE_MAX * 4 + 16];	/* scratch for ml_cfg_describe() */
	unsigned qslot;
	const char *hint;		/* a provider's hint for a missing required key */
};

/* What a value was expected to be, and how to write one. */
enum want { W_STRING, W_INT, W_BOOL, W_NUMBER, W_SEQ, W_MAP, W_CMD, W_COPY, W_LIST };

typedef int (*str_check)(struct walker *w, const struct ynode *n, const char *v);
typedef int (*section_fn)(struct walker *w, const struct ynode *m);

/* "FILE:L:C: MSG", ML_ECONFIG; return -ML_ECONFIG. */
int ml_cfg_verror_at(struct ml_error *err, const char *file, int line, int column,
		     const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
int ml_cfg_error_at(struct ml_error *err, const char *file, int line, int column,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same at node n. */
int ml_cfg_werr(struct walker *w, const struct ynode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* s cut to QUOTE_MAX characters with control characters as '?', for messages,
 * into dst; ml_cfg_quote's result is valid until four more calls. */
void ml_cfg_shorten(char dst[QUOTE_BUF], const char *s);
const char *ml_cfg_quote(struct walker *w, const char *s);
const char *ml_cfg_qpath(struct walker *w);	/* the path, quoted so */
const char *ml_cfg_in_path(struct walker *w);	/* " in 'PATH'", or "" at the top */
size_t ml_cfg_path_push(struct walker *w, const char *key);	/* returns what to pop to */
size_t ml_cfg_path_push_index(struct walker *w, size_t i);
void ml_cfg_path_pop(struct walker *w, size_t old);
struct ml_pos ml_cfg_pos_of(const struct walker *w, const struct ynode *n);
int ml_cfg_is_null(const struct ynode *n);
const char *ml_cfg_describe(struct walker *w, const struct ynode *n);	/* "a mapping", "'x'" */
int ml_cfg_type_err(struct walker *w, const struct ynode *n, enum want want);
/* A scalar whose text, after expansion, is not what was wanted. */
int ml_cfg_value_err(struct walker *w, const struct ynode *n, enum want want,
		     const char *text);

/* The candidate nearest to word, if near enough to be a typo of it, or NULL. */
const char *ml_cfg_closest(const char *word, const char *const *cands);
void ml_cfg_join(struct ml_buf *b, const char *const *words);	/* "a, b, c" */
int ml_cfg_str_in(const char *s, const char *const *list);

/* Key k is not one of keys: says where it belongs, or what it may be a typo of;
 * here_provider names the provider section at hand, if any. */
int ml_cfg_unknown_key(struct walker *w, const struct ynode *k, const char *const *keys,
		       const char *here_provider);
/* m is a mapping with string keys, each one of keys (NULL: any), none twice. */
int ml_cfg_check_map(struct walker *w, const struct ynode *m, const char *const *keys);
/* m[key], NULL when absent; *k gets the key node. */
const struct ynode *ml_cfg_map_get(const struct ynode *m, const char *key,
				   const struct ynode **k);
/* With the path at the mapping; k is the key node when the key is there with an
 * empty value. */
int ml_cfg_missing(struct walker *w, const struct ynode *map, const struct ynode *k,
		   const char *key);

/* Typed values: a key that is absent, null, or empty after expansion is left at
 * its default (a REQUIRED one is an error); quoted numbers and booleans are taken,
 * so that "${PORT}" works. */
int ml_cfg_get_str(struct walker *w, const struct ynode *map, const char *key, int flags,
		   str_check check, char **out, struct ml_pos *pos);
int ml_cfg_get_int(struct walker *w, const struct ynode *map, const char *key, long min,
		   long max, int *out);
int ml_cfg_get_bool(struct walker *w, const struct ynode *map, const char *key, int *out);
int ml_cfg_get_positive(struct walker *w, const struct ynode *map, const char *key,
			double *out);
/* A sequence of strings; with W_CMD, one string s also does, as /bin/sh -c s; with
 * W_LIST, as the one item s. */
int ml_cfg_get_strv(struct walker *w, const struct ynode *map, const char *key,
		    enum want want, str_check check, struct ml_strv *out);
/* A mapping of strings; key_check (may be NULL) sees each key with the path at
 * the mapping. */
int ml_cfg_get_kv(struct walker *w, const struct ynode *map, const char *key,
		  str_check key_check, str_check value_check, struct ml_kv **arr, size_t *n);
/* v, the value of key k; when v is null, an empty mapping at k's place, made in
 * *empty, so that "gcp:" alone still reports what gcp needs. */
const struct ynode *ml_cfg_map_or_empty(const struct ynode *k, const struct ynode *v,
					struct ynode *empty);
/* parent[key] as a mapping of keys, walked by walk; null stands for an empty
 * mapping. */
int ml_cfg_walk_section(struct walker *w, const struct ynode *parent, const char *key,
			const char *const *keys, section_fn walk);

/* ---- expansion (expand.c) ---- */

static inline int is_name_start(char c)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline int is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* The text of scalar n after ${} expansion (malloc'ed); want names what a
 * sequence or mapping there should have been. */
int ml_cfg_scalar_text(struct walker *w, const struct ynode *n, enum want want, char **out);

/* ---- the core keys (schema.c) ---- */

int ml_cfg_walk_root(struct walker *w, const struct ynode *root);
/* Appends where else key is valid: "in 'image' or in 'deploy.gcp'". */
void ml_cfg_elsewhere(struct ml_buf *b, const char *key, const char *const *here,
		      const char *here_provider);
const char *ml_cfg_required_hint(const char *key);
int ml_cfg_check_env_key(struct walker *w, const struct ynode *n, const char *v);

/* ---- deploy (section.c) ---- */

const struct ml_config_provider_hooks *ml_cfg_provider_hooks(void);
const char *const *ml_cfg_provider_names(void);		/* never NULL */
const char *const *ml_cfg_provider_keys(const char *name);	/* may be NULL */
int ml_cfg_walk_deploy(struct walker *w, const struct ynode *root);
void ml_cfg_deploy_dispose(struct ml_config *cfg);

#endif
