/* deploy.yaml -> struct ml_config. The only file that includes yaml.h is
 * lib/config/yaml.c. The schema is documented in man/mldeploy.yaml.5; each
 * deploy.<provider> section belongs to its provider (config/section.h). */
#ifndef ML_CONFIG_H
#define ML_CONFIG_H

#include <stddef.h>

#include "util/error.h"
#include "wrap/json.h"

/* Where a value stood in the file, for later errors ("deploy.yaml:12:7: ..."). */
struct ml_pos {
	const char *file;	/* borrowed from struct ml_config.path */
	int line;		/* 1-based; 0 when unknown */
	int column;		/* 1-based */
};

struct ml_kv {
	char *key;
	char *value;
	struct ml_pos pos;
};

struct ml_copy {
	char *src;		/* relative to the context directory; may end in '/' */
	char *dst;		/* absolute path in the image; ends in '/' for a directory target */
	char *layer;		/* name of the layer this entry joins, NULL for its own layer */
	struct ml_pos pos;
};

struct ml_strv {
	char **v;
	size_t n;
	struct ml_pos pos;
	int present;		/* the key was given, even as [] */
};

void ml_kv_free(struct ml_kv *kv, size_t n);
/* 1 when one of the n pairs has key (deploy.X.env overriding image.env). */
int ml_kv_has(const struct ml_kv *kv, size_t n, const char *key);
void ml_strv_dispose(struct ml_strv *sv);

struct ml_config_provider_hooks;

/* deploy.<name>: the provider's own object, parsed and freed through the hooks
 * installed with ml_config_set_provider_hooks (config/section.h). */
struct ml_provider_section {
	char *name;		/* the key under deploy: */
	void *conf;
	struct ml_pos pos;	/* of the section's mapping */
};

struct ml_config {
	char *path;		/* the file as given */
	char *dir;		/* context directory: -C DIR, else the file's directory */
	char *name;		/* DNS-safe service name */
	struct ml_pos name_pos;
	struct {
		char *repository;	/* push target, may be NULL */
		struct ml_pos repository_pos;
		char *base;		/* "scratch", "oci-layout:DIR[:TAG]", "docker-archive:FILE", or a reference */
		struct ml_pos base_pos;
		char *platform;		/* default "linux/amd64" */
		char *workdir;		/* may be NULL */
		struct ml_copy *copy;
		size_t ncopy;
		struct ml_strv ignore;
		struct ml_strv allow_credentials;	/* patterns of files allowed although they look like secrets */
		struct ml_strv tags;		/* pushed too, besides the revision tag ("latest") */
		struct ml_kv *env;
		size_t nenv;
		int port;		/* 0 when unset */
		struct ml_strv cmd;		/* n == 0 when unset */
		struct ml_strv entrypoint;	/* n == 0 when unset */
		char *user;		/* may be NULL */
		struct ml_kv *labels;
		size_t nlabels;
		struct {
			int present;
			char *requirements;	/* context-relative requirements.txt */
			struct ml_pos requirements_pos;
			char *index;		/* NULL: https://pypi.org/simple (or $MLDEPLOY_PYTHON_INDEX) */
			struct ml_strv extra_index;
			struct ml_strv find_links;	/* context-relative directories of wheels */
			char *version;		/* "3.11"; NULL: detected from the base image */
			char *site_packages;	/* absolute; NULL: detected */
			struct ml_strv platform_tags;	/* replace the detected platform tags */
			struct ml_pos pos;
		} python;
	} image;
	struct ml_kv *endpoints;	/* endpoints: service name (lower-case) -> base URL */
	size_t nendpoints;
	struct ml_provider_section *deploy;	/* in file order */
	size_t ndeploy;
	const struct ml_config_provider_hooks *provider_hooks;	/* that parsed deploy */
	struct {
		char *path;		/* default "/" */
	} health;
};

/* Reads and checks path. dir is the context directory (NULL: the file's own
 * directory). On error, err->msg starts with "file:line:column: " and names the
 * key and a hint; the code is ML_ECONFIG (ML_EIO when the file cannot be read). */
int ml_config_load(struct ml_config **out, const char *path, const char *dir,
		   struct ml_error *err);
void ml_config_free(struct ml_config *cfg);

/* The resolved configuration as a JSON object (for `mldeploy validate --json`):
 * the YAML structure with defaults filled in, unset optional scalars left out,
 * lists and maps always present, deploy holding only the providers given (each
 * provider's section as its json hook gives it), plus
 * "file" (the path as given) and "context" (cfg->dir). */
ml_json *ml_config_to_json(const struct ml_config *cfg);

/* doc (objects, arrays, strings, numbers, true) as one block-style YAML document
 * appended to out (platform files such as App Engine's app.yaml); strings that would
 * read back as something else are quoted. libyaml's emitter, in yaml.c. */
int ml_yaml_write(const ml_json *doc, struct ml_buf *out, struct ml_error *err);

#endif
