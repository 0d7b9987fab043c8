#include "image/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "registry/oci.h"

void ml_image_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static ml_json *string_array(char *const *v, size_t n)
{
	ml_json *a = ml_json_array_new();
	size_t i;

	for (i = 0; i < n; i++)
		ml_json_append(a, ml_json_string_new(v[i]));
	return a;
}

static ml_json *merged_env(const ml_json *base_env, const struct ml_config *cfg)
{
	ml_json *out = ml_json_array_new();
	size_t i, j;

	for (i = 0; i < ml_json_size(base_env); i++) {
		const char *s = ml_json_str(ml_json_at(base_env, i));
		int overridden = 0;

		for (j = 0; s && j < cfg->image.nenv; j++) {
			size_t kl = strlen(cfg->image.env[j].key);

			if (!strncmp(s, cfg->image.env[j].key, kl) && s[kl] == '=')
				overridden = 1;
		}
		if (s && !overridden)
			ml_json_append(out, ml_json_string_new(s));
	}
	for (j = 0; j < cfg->image.nenv; j++) {
		char *kv = ml_asprintf("%s=%s", cfg->image.env[j].key, cfg->image.env[j].value);

		ml_json_append(out, ml_json_string_new(kv));
		free(kv);
	}
	return out;
}

static void apply_run_config(ml_json *c, const struct ml_config *cfg, const struct ml_gitmeta *git)
{
	ml_json *labels;
	size_t i;

	ml_json_set(c, "Env", merged_env(ml_json_get(c, "Env"), cfg));
	if (cfg->image.workdir)
		ml_json_set_str(c, "WorkingDir", cfg->image.workdir);
	if (cfg->image.user)
		ml_json_set_str(c, "User", cfg->image.user);
	if (cfg->image.entrypoint.present) {
		ml_json_set(c, "Entrypoint", cfg->image.entrypoint.n ?
			    string_array(cfg->image.entrypoint.v, cfg->image.entrypoint.n) : NULL);
		ml_json_set(c, "Cmd", cfg->image.cmd.n ?
			    string_array(cfg->image.cmd.v, cfg->image.cmd.n) : NULL);
	} else if (cfg->image.cmd.present) {
		ml_json_set(c, "Cmd", cfg->image.cmd.n ?
			    string_array(cfg->image.cmd.v, cfg->image.cmd.n) : NULL);
	}
	if (cfg->image.port) {
		char port[16];

		snprintf(port, sizeof(port), "%d/tcp", cfg->image.port);
		ml_json_set(ml_json_get_or_add_object(c, "ExposedPorts"), port, ml_json_object_new());
	}
	if (!cfg->image.nlabels && !(git && git->present))
		return;
	labels = ml_json_get_or_add_object(c, "Labels");
	for (i = 0; i < cfg->image.nlabels; i++)
		ml_json_set_str(labels, cfg->image.labels[i].key, cfg->image.labels[i].value);
	if (git && git->present) {
		ml_json_set_str(labels, "org.opencontainers.image.revision", git->revision);
		if (git->remote_url)
			ml_json_set_str(labels, "org.opencontainers.image.source", git->remote_url);
	}
}

ml_json *ml_image_config_new(const ml_json *base, const struct ml_config *cfg,
			     const struct ml_image_step *steps, size_t nsteps,
			     const char *created, const struct ml_gitmeta *git)
{
	ml_json *c = ml_json_deep_copy(base);
	ml_json *rootfs, *diff_ids, *history;
	size_t i;

	ml_json_set_str(c, "created", created);
	ml_json_set(c, "container", NULL);
	ml_json_set(c, "container_config", NULL);
	apply_run_config(ml_json_get_or_add_object(c, "config"), cfg, git);
	rootfs = ml_json_get_or_add_object(c, "rootfs");
	ml_json_set_str(rootfs, "type", "layers");
	diff_ids = ml_json_get(rootfs, "diff_ids");
	if (!ml_json_is_array(diff_ids)) {
		diff_ids = ml_json_array_new();
		ml_json_set(rootfs, "diff_ids", diff_ids);
	}
	history = ml_json_get(c, "history");
	if (!ml_json_is_array(history)) {
		history = ml_json_array_new();
		ml_json_set(c, "history", history);
	}
	for (i = 0; i < nsteps; i++) {
		ml_json *h = ml_json_object_new();

		ml_json_append(diff_ids, ml_json_string_new(steps[i].diff_id));
		ml_json_set_str(h, "created", created);
		ml_json_set_str(h, "created_by", steps[i].created_by);
		ml_json_set_str(h, "comment", "mldeploy");
		ml_json_append(history, h);
	}
	return c;
}

static ml_json *descriptor(const char *mt, const char *digest, int64_t size)
{
	ml_json *d = ml_json_object_new();

	ml_json_set_str(d, "mediaType", mt);
	ml_json_set_str(d, "digest", digest);
	ml_json_set_int(d, "size", size);
	return d;
}

ml_json *ml_image_manifest_new(const char *config_digest, int64_t config_size,
			       const struct ml_blob *layers, size_t nlayers, ml_json *annotations)
{
	ml_json *m = ml_json_object_new(), *arr = ml_json_array_new();
	size_t i;

	ml_json_set_int(m, "schemaVersion", 2);
	ml_json_set_str(m, "mediaType", ML_MT_OCI_MANIFEST);
	ml_json_set(m, "config", descriptor(ML_MT_OCI_CONFIG, config_digest, config_size));
	for (i = 0; i < nlayers; i++)
		ml_json_append(arr, descriptor(layers[i].media_type, layers[i].digest, layers[i].size));
	ml_json_set(m, "layers", arr);
	if (annotations && ml_json_size(annotations))
		ml_json_set(m, "annotations", annotations);
	else
		ml_json_free(annotations);
	return m;
}
