/* deploy.yaml -> struct ml_config: the file read, its tree walked against the
 * schema (schema.c), the defaults filled in; and freeing. */
#include "config/config-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define CONFIG_MAX_SIZE (4u << 20)	/* a deploy.yaml is a few hundred bytes */

static int read_file(const char *path, struct ml_buf *out, struct ml_error *err)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (!f)
		return ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
	ml_buf_init(out, CONFIG_MAX_SIZE);
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (ml_buf_add(out, chunk, n) < 0)
			rc = ml_cfg_error_at(err, path, 1, 1, "the file is larger than %u MiB",
					     CONFIG_MAX_SIZE >> 20);
	if (rc == 0 && ferror(f))
		rc = ml_error_errno(err, ML_EIO, errno, "cannot read '%s'", path);
	fclose(f);
	return rc;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash)
		return ml_strdup(".");
	len = (size_t)(slash - path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	return len ? ml_strndup(path, len) : ml_strdup("/");
}

static struct ml_config *config_new(const char *path, const char *dir)
{
	struct ml_config *cfg = ml_calloc(1, sizeof(*cfg));

	cfg->path = ml_strdup(path);
	cfg->dir = dir ? ml_strdup(dir) : dir_of(path);
	cfg->provider_hooks = ml_cfg_provider_hooks();
	return cfg;
}

static void fill_defaults(struct ml_config *cfg)
{
	if (!cfg->image.platform)
		cfg->image.platform = ml_strdup("linux/amd64");
	if (!cfg->health.path)
		cfg->health.path = ml_strdup("/");
}

int ml_config_load(struct ml_config **out, const char *path, const char *dir,
		   struct ml_error *err)
{
	struct walker w = { .err = err };
	struct ml_buf data = ML_BUF_INIT;
	struct ynode *root = NULL;
	int rc;

	rc = read_file(path, &data, err);
	if (rc < 0)
		goto out;
	w.cfg = config_new(path, dir);
	rc = ml_cfg_yaml_load(w.cfg->path, &data, &root, err);
	if (rc < 0)
		goto out;
	rc = ml_cfg_walk_root(&w, root);
	if (rc < 0)
		goto out;
	fill_defaults(w.cfg);
	*out = w.cfg;
	w.cfg = NULL;
out:
	ml_cfg_ynode_free(root);
	ml_buf_dispose(&data);
	ml_buf_dispose(&w.path);
	ml_buf_dispose(&w.where);
	ml_config_free(w.cfg);
	return rc;
}

void ml_strv_dispose(struct ml_strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
}

int ml_kv_has(const struct ml_kv *kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return 1;
	return 0;
}

void ml_kv_free(struct ml_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void image_dispose(struct ml_config *cfg)
{
	size_t i;

	free(cfg->image.repository);
	free(cfg->image.base);
	free(cfg->image.platform);
	free(cfg->image.workdir);
	for (i = 0; i < cfg->image.ncopy; i++) {
		free(cfg->image.copy[i].src);
		free(cfg->image.copy[i].dst);
		free(cfg->image.copy[i].layer);
	}
	free(cfg->image.copy);
	ml_strv_dispose(&cfg->image.ignore);
	ml_strv_dispose(&cfg->image.allow_credentials);
	ml_strv_dispose(&cfg->image.tags);
	ml_kv_free(cfg->image.env, cfg->image.nenv);
	ml_strv_dispose(&cfg->image.cmd);
	ml_strv_dispose(&cfg->image.entrypoint);
	free(cfg->image.user);
	ml_kv_free(cfg->image.labels, cfg->image.nlabels);
	free(cfg->image.python.requirements);
	free(cfg->image.python.index);
	ml_strv_dispose(&cfg->image.python.extra_index);
	ml_strv_dispose(&cfg->image.python.find_links);
	free(cfg->image.python.version);
	free(cfg->image.python.site_packages);
	ml_strv_dispose(&cfg->image.python.platform_tags);
}

void ml_config_free(struct ml_config *cfg)
{
	if (!cfg)
		return;
	image_dispose(cfg);
	ml_cfg_deploy_dispose(cfg);
	free(cfg->health.path);
	ml_kv_free(cfg->endpoints, cfg->nendpoints);
	free(cfg->name);
	free(cfg->dir);
	free(cfg->path);
	free(cfg);
}
