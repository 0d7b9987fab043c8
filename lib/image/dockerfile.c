#include "image/dockerfile.h"

#include <stdlib.h>
#include <string.h>

#include "image/base.h"
#include "image/cache.h"
#include "util/alloc.h"
#include "wrap/json.h"

/* Where RUN --mount puts the build context while pip installs. */
#define CONTEXT_MOUNT "/mnt/mldeploy-context"

/* One Docker instruction's JSON array ("exec form"), jansson-escaped. */
static void add_json_array(struct ml_buf *out, const char *instr, char *const *v, size_t n)
{
	ml_json *a = ml_json_array_new();
	struct ml_buf b = ML_BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		ml_json_append(a, ml_json_string_new(v[i]));
	ml_json_dump(a, &b);
	ml_buf_printf(out, "%s %s\n", instr, ml_buf_str(&b));
	ml_buf_dispose(&b);
	ml_json_free(a);
}

/* A "double-quoted" word of ENV or LABEL: backslash, quote and '$' (the
 * Dockerfile's own variables) escaped. Newlines cannot be written. */
static int add_quoted(struct ml_buf *out, const char *s, const char *what, const char *key,
		      struct ml_error *err)
{
	if (strpbrk(s, "\r\n"))
		return ml_error_set(err, ML_ECONFIG, "%s '%s' holds a line break, which a "
				    "Dockerfile cannot carry", what, key);
	ml_buf_addch(out, '"');
	for (; *s; s++) {
		if (*s == '\\' || *s == '"' || *s == '$')
			ml_buf_addch(out, '\\');
		ml_buf_addch(out, *s);
	}
	ml_buf_addch(out, '"');
	return 0;
}

static int has_userinfo(const char *url)
{
	const char *p = strstr(url, "://"), *end;

	if (!p)
		return 0;
	p += 3;
	end = p + strcspn(p, "/?#");
	return memchr(p, '@', (size_t)(end - p)) != NULL;
}

static void header(const struct ml_config *cfg, struct ml_buf *out)
{
	size_t i;

	ml_buf_printf(out,
		"# Dockerfile of '%s', written by `mldeploy render Dockerfile` from %s.\n"
		"# It builds, with Docker (BuildKit, for RUN --mount) or podman/buildah, the image\n"
		"# `mldeploy build` makes: the same base by digest, the same layers in the same\n"
		"# order, the same configuration. Their bytes differ (file times, owners and modes\n"
		"# are Docker's), and so does the history; mldeploy also labels its image with the\n"
		"# git revision and source (org.opencontainers.image.revision, .source).\n"
		"#   docker build -t %s .        podman build -t %s .\n",
		cfg->name, cfg->path, cfg->name, cfg->name);
	ml_buf_adds(out, "# mldeploy leaves out of the image what .dockerignore, .mldeployignore and\n"
		    "# image.ignore name; Docker reads .dockerignore only (cp .mldeployignore\n"
		    "# .dockerignore)");
	for (i = 0; i < cfg->image.ignore.n; i++)
		ml_buf_printf(out, "%s%s", i ? " " : ": put these there too: ", cfg->image.ignore.v[i]);
	ml_buf_adds(out, "\n\n");
}

static void from(const struct ml_config *cfg, const char *base_ref, struct ml_buf *out)
{
	const char *base = cfg->image.base;

	if (base_ref) {
		ml_buf_printf(out, "# %s, by digest\nFROM %s\n", base, base_ref);
	} else if (!strncmp(base, "oci-layout:", 11)) {
		ml_buf_printf(out, "# a local OCI layout: podman and buildah read it as it is; Docker needs\n"
			      "# it loaded and named here\nFROM oci:%s\n", base + 11);
	} else {
		ml_buf_printf(out, "%sFROM %s\n", strncmp(base, "docker-archive:", 15) ? "" :
			      "# a docker-archive: podman and buildah read it as it is; Docker needs\n"
			      "# it loaded and named here\n", base);
	}
}

/* image.python: pip in the image installs the pinned set as it is (no resolving:
 * mldeploy checks that it is complete), into one layer, as mldeploy does. */
static int python(const struct ml_config *cfg, struct ml_buf *out, struct ml_error *err)
{
	const char *index = cfg->image.python.index;
	size_t i;

	if (!cfg->image.python.present)
		return 0;
	ml_buf_adds(out, "\n# image.python: the pinned requirements, each package as it is\n"
		    "# (--no-deps: mldeploy checked that the set is complete), in one layer\n");
	if (index && !has_userinfo(index))
		ml_buf_printf(out, "ARG PIP_INDEX_URL=%s\n", index);
	else
		ml_buf_printf(out, "ARG PIP_INDEX_URL%s\n", index ? "\t# the index needs a login: "
			      "pass --build-arg PIP_INDEX_URL=..." : "");
	ml_buf_adds(out, "ARG PIP_EXTRA_INDEX_URL");
	for (i = 0; i < cfg->image.python.extra_index.n; i++)
		if (has_userinfo(cfg->image.python.extra_index.v[i]))
			break;
	if (cfg->image.python.extra_index.n && i == cfg->image.python.extra_index.n) {
		ml_buf_addch(out, '=');
		for (i = 0; i < cfg->image.python.extra_index.n; i++)
			ml_buf_printf(out, "%s%s", i ? " " : "\"", cfg->image.python.extra_index.v[i]);
		ml_buf_addch(out, '"');
	}
	ml_buf_adds(out, "\n# a base whose Python is marked externally managed (PEP 668: Debian's)\n"
		    "# gets the packages all the same, as mldeploy's layer would\n"
		    "ARG PIP_BREAK_SYSTEM_PACKAGES=1\nARG PIP_ROOT_USER_ACTION=ignore\n");
	ml_buf_printf(out, "RUN --mount=type=bind,target=" CONTEXT_MOUNT " \\\n"
		      "    python3 -m pip install --no-cache-dir --no-deps --disable-pip-version-check");
	for (i = 0; i < cfg->image.python.find_links.n; i++) {
		const char *d = cfg->image.python.find_links.v[i];

		if (strpbrk(d, " \t\r\n'\"\\$"))
			return ml_error_set(err, ML_ECONFIG, "image.python.find_links '%s' cannot be "
					    "written in a Dockerfile's RUN line", d);
		ml_buf_printf(out, " \\\n        --find-links " CONTEXT_MOUNT "/%s", d);
	}
	if (strpbrk(cfg->image.python.requirements, " \t\r\n'\"\\$"))
		return ml_error_set(err, ML_ECONFIG, "image.python.requirements '%s' cannot be written "
				    "in a Dockerfile's RUN line", cfg->image.python.requirements);
	ml_buf_printf(out, " \\\n        -r " CONTEXT_MOUNT "/%s\n", cfg->image.python.requirements);
	return 0;
}

/* image.copy in build's layers: entries naming a layer join it where it first
 * appears, the others are a layer each. Docker makes a layer per COPY. */
static void copies(const struct ml_config *cfg, struct ml_buf *out)
{
	size_t i, j, n = cfg->image.ncopy;
	char *done = ml_calloc(n + 1, 1);

	for (i = 0; i < n; i++) {
		const struct ml_copy *c = &cfg->image.copy[i];
		size_t members = 0;

		if (done[i])
			continue;
		for (j = i; j < n; j++)
			if (j == i || (c->layer && cfg->image.copy[j].layer &&
				       !strcmp(c->layer, cfg->image.copy[j].layer)))
				members++;
		if (c->layer)
			ml_buf_printf(out, "\n# layer '%s'%s\n", c->layer, members > 1 ?
				      " (one layer for mldeploy, one per COPY for Docker)" : "");
		else
			ml_buf_addch(out, '\n');
		for (j = i; j < n; j++) {
			const struct ml_copy *d = &cfg->image.copy[j];
			char *v[2];

			if (j != i && !(c->layer && d->layer && !strcmp(c->layer, d->layer)))
				continue;
			done[j] = 1;
			v[0] = d->src;
			v[1] = d->dst;
			add_json_array(out, "COPY", v, 2);
		}
	}
	free(done);
}

static int run_config(const struct ml_config *cfg, struct ml_buf *out, struct ml_error *err)
{
	size_t i;
	int rc = 0;

	ml_buf_addch(out, '\n');
	for (i = 0; i < cfg->image.nenv && rc == 0; i++) {
		ml_buf_printf(out, "ENV %s=", cfg->image.env[i].key);
		rc = add_quoted(out, cfg->image.env[i].value, "image.env", cfg->image.env[i].key, err);
		ml_buf_addch(out, '\n');
	}
	if (cfg->image.workdir)
		ml_buf_printf(out, "WORKDIR %s\n", cfg->image.workdir);
	if (cfg->image.user)
		ml_buf_printf(out, "USER %s\n", cfg->image.user);
	if (cfg->image.port)
		ml_buf_printf(out, "EXPOSE %d\n", cfg->image.port);
	for (i = 0; i < cfg->image.nlabels && rc == 0; i++) {
		ml_buf_adds(out, "LABEL ");
		rc = add_quoted(out, cfg->image.labels[i].key, "image.labels", cfg->image.labels[i].key,
				err);
		ml_buf_addch(out, '=');
		if (rc == 0)
			rc = add_quoted(out, cfg->image.labels[i].value, "image.labels",
					cfg->image.labels[i].key, err);
		ml_buf_addch(out, '\n');
	}
	/* Docker's rules, as build's config: ENTRYPOINT clears the base's CMD */
	if (cfg->image.entrypoint.present)
		add_json_array(out, "ENTRYPOINT", cfg->image.entrypoint.v, cfg->image.entrypoint.n);
	if (cfg->image.cmd.present && (cfg->image.cmd.n || !cfg->image.entrypoint.present))
		add_json_array(out, "CMD", cfg->image.cmd.v, cfg->image.cmd.n);
	return rc;
}

int ml_dockerfile_render(const struct ml_config *cfg, const char *base_ref, struct ml_buf *out,
			 struct ml_error *err)
{
	int rc;

	header(cfg, out);
	from(cfg, base_ref, out);
	rc = python(cfg, out, err);
	if (rc == 0)
		copies(cfg, out);
	if (rc == 0)
		rc = run_config(cfg, out, err);
	return rc;
}

static int is_local(const char *base)
{
	return !strcmp(base, "scratch") || !strncmp(base, "oci-layout:", 11) ||
	       !strncmp(base, "docker-archive:", 15);
}

int ml_dockerfile_make(const struct ml_config *cfg, struct ml_buf *out, struct ml_error *err)
{
	struct ml_cache *cache = NULL;
	struct ml_base base = { 0 };
	int rc;

	if (is_local(cfg->image.base))
		return ml_dockerfile_render(cfg, NULL, out, err);
	rc = ml_cache_open(&cache, err);
	if (rc == 0)
		rc = ml_base_resolve(&base, cfg->image.base, cfg->image.platform, cache, err);
	if (rc == 0)
		rc = ml_dockerfile_render(cfg, base.resolved, out, err);
	ml_base_dispose(&base);
	ml_cache_free(cache);
	return rc;
}
