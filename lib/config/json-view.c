/* The resolved configuration as JSON, for `mldeploy validate --json`. */
#include "config/config-internal.h"

#include <stdlib.h>

#include "util/redact.h"
#include "wrap/json.h"

static void json_opt_str(ml_json *obj, const char *key, const char *s)
{
	if (s)
		ml_json_set_str(obj, key, s);
}

static ml_json *json_strv(const struct ml_strv *sv)
{
	ml_json *arr = ml_json_array_new();
	size_t i;

	for (i = 0; i < sv->n; i++)
		ml_json_append(arr, ml_json_string_new(sv->v[i]));
	return arr;
}

static ml_json *json_kv(const struct ml_kv *kv, size_t n)
{
	ml_json *obj = ml_json_object_new();
	size_t i;

	for (i = 0; i < n; i++)
		ml_json_set_str(obj, kv[i].key, kv[i].value);
	return obj;
}

static ml_json *json_copy(const struct ml_config *cfg)
{
	ml_json *arr = ml_json_array_new(), *e;
	size_t i;

	for (i = 0; i < cfg->image.ncopy; i++) {
		e = ml_json_object_new();
		ml_json_set_str(e, "src", cfg->image.copy[i].src);
		ml_json_set_str(e, "dst", cfg->image.copy[i].dst);
		json_opt_str(e, "layer", cfg->image.copy[i].layer);
		ml_json_append(arr, e);
	}
	return arr;
}

/* Index URLs may hold a login: shown without it. */
static ml_json *json_url(const char *url)
{
	char *shown = ml_redacted_url(url);
	ml_json *j = ml_json_string_new(shown);

	free(shown);
	return j;
}

static ml_json *json_python(const struct ml_config *cfg)
{
	ml_json *o = ml_json_object_new(), *extra = ml_json_array_new();
	size_t i;

	ml_json_set_str(o, "requirements", cfg->image.python.requirements);
	if (cfg->image.python.index)
		ml_json_set(o, "index", json_url(cfg->image.python.index));
	for (i = 0; i < cfg->image.python.extra_index.n; i++)
		ml_json_append(extra, json_url(cfg->image.python.extra_index.v[i]));
	ml_json_set(o, "extra_index", extra);
	ml_json_set(o, "find_links", json_strv(&cfg->image.python.find_links));
	json_opt_str(o, "version", cfg->image.python.version);
	json_opt_str(o, "site_packages", cfg->image.python.site_packages);
	ml_json_set(o, "platform_tags", json_strv(&cfg->image.python.platform_tags));
	return o;
}

static ml_json *json_image(const struct ml_config *cfg)
{
	ml_json *o = ml_json_object_new();

	json_opt_str(o, "repository", cfg->image.repository);
	ml_json_set_str(o, "base", cfg->image.base);
	ml_json_set_str(o, "platform", cfg->image.platform);
	json_opt_str(o, "workdir", cfg->image.workdir);
	ml_json_set(o, "copy", json_copy(cfg));
	ml_json_set(o, "ignore", json_strv(&cfg->image.ignore));
	ml_json_set(o, "allow_credentials", json_strv(&cfg->image.allow_credentials));
	ml_json_set(o, "tags", json_strv(&cfg->image.tags));
	ml_json_set(o, "env", json_kv(cfg->image.env, cfg->image.nenv));
	if (cfg->image.port)
		ml_json_set_int(o, "port", cfg->image.port);
	if (cfg->image.cmd.present)
		ml_json_set(o, "cmd", json_strv(&cfg->image.cmd));
	if (cfg->image.entrypoint.present)
		ml_json_set(o, "entrypoint", json_strv(&cfg->image.entrypoint));
	json_opt_str(o, "user", cfg->image.user);
	ml_json_set(o, "labels", json_kv(cfg->image.labels, cfg->image.nlabels));
	if (cfg->image.python.present)
		ml_json_set(o, "python", json_python(cfg));
	return o;
}

static ml_json *json_deploy(const struct ml_config *cfg)
{
	const struct ml_config_provider_hooks *h = cfg->provider_hooks;
	ml_json *o = ml_json_object_new(), *sec;
	size_t i;

	for (i = 0; i < cfg->ndeploy; i++) {
		sec = h && h->json ? h->json(cfg->deploy[i].name, cfg->deploy[i].conf) : NULL;
		ml_json_set(o, cfg->deploy[i].name, sec ? sec : ml_json_object_new());
	}
	return o;
}

ml_json *ml_config_to_json(const struct ml_config *cfg)
{
	ml_json *o = ml_json_object_new(), *health = ml_json_object_new();

	ml_json_set_str(o, "file", cfg->path);
	ml_json_set_str(o, "context", cfg->dir);
	ml_json_set_str(o, "name", cfg->name);
	ml_json_set(o, "image", json_image(cfg));
	ml_json_set(o, "deploy", json_deploy(cfg));
	ml_json_set_str(health, "path", cfg->health.path);
	ml_json_set(o, "health", health);
	ml_json_set(o, "endpoints", json_kv(cfg->endpoints, cfg->nendpoints));
	return o;
}
