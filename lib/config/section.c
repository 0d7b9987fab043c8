/* deploy: one mapping per provider, each read by its provider through the hooks
 * and the getters of config/section.h. */
#include "config/config-internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static const struct ml_config_provider_hooks *provider_hooks;

void ml_config_set_provider_hooks(const struct ml_config_provider_hooks *h)
{
	provider_hooks = h;
}

const struct ml_config_provider_hooks *ml_cfg_provider_hooks(void)
{
	return provider_hooks;
}

/* The keys deploy may hold. */
const char *const *ml_cfg_provider_names(void)
{
	static const char *const none[] = { NULL };
	const char *const *names = provider_hooks && provider_hooks->names ?
				   provider_hooks->names() : NULL;

	return names ? names : none;
}

const char *const *ml_cfg_provider_keys(const char *name)
{
	if (!provider_hooks || !provider_hooks->keys)
		return NULL;
	return provider_hooks->keys(name);
}

/* ---- the getters ---- */

struct ml_config_section {
	struct walker *w;
	const struct ynode *m;
	const char *name;
	char *path;		/* "deploy.gcp" */
	struct ml_pos pos;
};

const char *ml_section_path(const struct ml_config_section *s)
{
	return s->path;
}

struct ml_pos ml_section_pos(const struct ml_config_section *s, const char *key)
{
	const struct ynode *v = key ? ml_cfg_map_get(s->m, key, NULL) : NULL;

	return v ? ml_cfg_pos_of(s->w, v) : s->pos;
}

int ml_section_has(const struct ml_config_section *s, const char *key)
{
	const struct ynode *v = ml_cfg_map_get(s->m, key, NULL);

	return v && !ml_cfg_is_null(v);
}

int ml_section_keys(struct ml_config_section *s, const char *const *keys)
{
	const struct ynode *k;
	size_t i;

	for (i = 0; i < s->m->n; i += 2) {
		k = s->m->kids[i];
		if (!ml_cfg_str_in(k->text, keys))
			return ml_cfg_unknown_key(s->w, k, keys, s->name);
	}
	return 0;
}

int ml_section_require(struct ml_config_section *s, const char *key, const char *hint)
{
	char *text = NULL;
	int rc;

	s->w->hint = hint;
	rc = ml_cfg_get_str(s->w, s->m, key, REQUIRED, NULL, &text, NULL);
	s->w->hint = NULL;
	free(text);
	return rc;
}

int ml_section_str(struct ml_config_section *s, const char *key, unsigned flags, char **out)
{
	int required = flags & ML_SECTION_REQUIRED ? REQUIRED : 0;

	return ml_cfg_get_str(s->w, s->m, key, required, NULL, out, NULL);
}

static int enum_error(struct walker *w, const struct ynode *n, const char *v,
		      const char *const *allowed)
{
	const char *near = ml_cfg_closest(v, allowed);
	struct ml_buf list = ML_BUF_INIT;
	int rc;

	ml_cfg_join(&list, allowed);
	if (near)
		rc = ml_cfg_werr(w, n, "invalid value '%s' for '%s' (did you mean '%s'? allowed: "
				 "%s)", ml_cfg_quote(w, v), ml_cfg_qpath(w), near,
				 ml_buf_str(&list));
	else
		rc = ml_cfg_werr(w, n, "invalid value '%s' for '%s' (allowed: %s)",
				 ml_cfg_quote(w, v), ml_cfg_qpath(w), ml_buf_str(&list));
	ml_buf_dispose(&list);
	return rc;
}

int ml_section_enum(struct ml_config_section *s, const char *key, unsigned flags,
		    const char *const *allowed, char **out)
{
	char *text = NULL;
	size_t old;
	int rc;

	rc = ml_section_str(s, key, flags, &text);
	if (rc == 0 && text && !ml_cfg_str_in(text, allowed)) {
		old = ml_cfg_path_push(s->w, key);
		rc = enum_error(s->w, ml_cfg_map_get(s->m, key, NULL), text, allowed);
		ml_cfg_path_pop(s->w, old);
	}
	if (rc == 0 && text) {
		free(*out);
		*out = text;
		text = NULL;
	}
	free(text);
	return rc;
}

int ml_section_int(struct ml_config_section *s, const char *key, unsigned flags, long min,
		   long max, int *out)
{
	int rc = 0;

	if (flags & ML_SECTION_REQUIRED)
		rc = ml_section_require(s, key, NULL);
	return rc < 0 ? rc : ml_cfg_get_int(s->w, s->m, key, min, max, out);
}

int ml_section_bool(struct ml_config_section *s, const char *key, int *out)
{
	return ml_cfg_get_bool(s->w, s->m, key, out);
}

int ml_section_positive(struct ml_config_section *s, const char *key, double *out)
{
	return ml_cfg_get_positive(s->w, s->m, key, out);
}

int ml_section_strv(struct ml_config_section *s, const char *key, struct ml_strv *out)
{
	return ml_cfg_get_strv(s->w, s->m, key, W_LIST, NULL, out);
}

int ml_section_kv(struct ml_config_section *s, const char *key, unsigned flags,
		  struct ml_kv **out, size_t *n)
{
	str_check key_check = flags & ML_SECTION_ENV_NAMES ? ml_cfg_check_env_key : NULL;

	return ml_cfg_get_kv(s->w, s->m, key, key_check, NULL, out, n);
}

const char *ml_section_quote(struct ml_config_section *s, const char *v)
{
	return ml_cfg_quote(s->w, v);
}

int ml_section_error(struct ml_config_section *s, const char *key, const char *fmt, ...)
{
	struct ml_pos pos = ml_section_pos(s, key);
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ml_cfg_verror_at(s->w->err, pos.file, pos.line, pos.column, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- walking deploy ---- */

const void *ml_config_provider_conf(const struct ml_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->ndeploy; i++)
		if (!strcmp(cfg->deploy[i].name, name))
			return cfg->deploy[i].conf;
	return NULL;
}

/* deploy.<name> = m, with the path at it: the provider's hook reads it. */
static int parse_provider(struct walker *w, const char *name, const struct ynode *m)
{
	struct ml_config *cfg = w->cfg;
	struct ml_config_section s = { w, m, name, NULL, ml_cfg_pos_of(w, m) };
	struct ml_provider_section *p;
	void *conf = NULL;
	int rc;

	rc = ml_cfg_check_map(w, m, NULL);
	if (rc < 0)
		return rc;
	s.path = ml_strdup(ml_buf_str(&w->path));
	rc = provider_hooks->parse(name, &s, &conf, w->err);
	free(s.path);
	if (rc < 0)
		return rc;
	cfg->deploy = ml_realloc(cfg->deploy, (cfg->ndeploy + 1) * sizeof(*cfg->deploy));
	p = &cfg->deploy[cfg->ndeploy++];
	p->name = ml_strdup(name);
	p->conf = conf;
	p->pos = s.pos;
	return 0;
}

static int walk_provider(struct walker *w, const struct ynode *k, const struct ynode *v)
{
	const char *const *names = ml_cfg_provider_names();
	struct ynode empty;
	size_t old;
	int rc;

	if (!ml_cfg_str_in(k->text, names))
		return ml_cfg_unknown_key(w, k, names, NULL);
	old = ml_cfg_path_push(w, k->text);
	rc = parse_provider(w, k->text, ml_cfg_map_or_empty(k, v, &empty));
	ml_cfg_path_pop(w, old);
	return rc;
}

int ml_cfg_walk_deploy(struct walker *w, const struct ynode *root)
{
	const struct ynode *m = ml_cfg_map_get(root, "deploy", NULL);
	size_t i, old;
	int rc;

	if (!m || ml_cfg_is_null(m))
		return 0;
	old = ml_cfg_path_push(w, "deploy");
	rc = ml_cfg_check_map(w, m, NULL);
	for (i = 0; rc == 0 && i < m->n; i += 2)
		rc = walk_provider(w, m->kids[i], m->kids[i + 1]);
	ml_cfg_path_pop(w, old);
	return rc;
}

void ml_cfg_deploy_dispose(struct ml_config *cfg)
{
	const struct ml_config_provider_hooks *h = cfg->provider_hooks;
	size_t i;

	for (i = 0; i < cfg->ndeploy; i++) {
		if (h && h->free)
			h->free(cfg->deploy[i].name, cfg->deploy[i].conf);
		free(cfg->deploy[i].name);
	}
	free(cfg->deploy);
}
