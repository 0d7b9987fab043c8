/* The core of mldeploy.yaml(5): name, image (with copy and python), health and
 * endpoints, one function per mapping, and the checks of their values. deploy's
 * sections are the providers' (section.c). */
#include "config/config-internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "registry/reference.h"

static const char *const root_keys[] = { "name", "image", "deploy", "health", "endpoints", NULL };
static const char *const image_keys[] = {
	"repository", "tags", "base", "platform", "workdir", "copy", "ignore", "allow_credentials",
	"env", "port", "cmd", "entrypoint", "user", "labels", "python", NULL,
};
static const char *const python_keys[] = {
	"requirements", "index", "extra_index", "find_links", "version", "site_packages",
	"platform_tags", NULL,
};
static const char *const copy_keys[] = { "src", "dst", "layer", NULL };
static const char *const health_keys[] = { "path", NULL };

/* Where each key belongs, to tell a key at the wrong indentation from a typo; the
 * entry without keys stands for deploy and the providers' sections. */
static const struct {
	const char *const *keys;
	const char *where;
} sections[] = {
	{ root_keys, "at the top level" },
	{ image_keys, "in 'image'" },
	{ copy_keys, "in an 'image.copy' entry" },
	{ python_keys, "in 'image.python'" },
	{ NULL, "in 'deploy'" },
	{ health_keys, "in 'health'" },
};

/* ---- where keys belong ---- */

static void add_where(struct ml_buf *b, const char *where)
{
	ml_buf_printf(b, "%s%s", b->len ? " or " : "", where);
}

void ml_cfg_elsewhere(struct ml_buf *b, const char *key, const char *const *here,
		      const char *here_provider)
{
	const char *const *names = ml_cfg_provider_names(), *const *keys;
	size_t i, j;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (sections[i].keys) {
			if (sections[i].keys != here && ml_cfg_str_in(key, sections[i].keys))
				add_where(b, sections[i].where);
			continue;
		}
		if (names != here && ml_cfg_str_in(key, names))
			add_where(b, sections[i].where);
		for (j = 0; names[j]; j++) {
			keys = ml_cfg_provider_keys(names[j]);
			if (keys && ml_cfg_str_in(key, keys) &&
			    !(here_provider && !strcmp(here_provider, names[j])))
				ml_buf_printf(b, "%sin 'deploy.%s'", b->len ? " or " : "",
					      names[j]);
		}
	}
}

const char *ml_cfg_required_hint(const char *key)
{
	static const char *const hints[][2] = {
		{ "name", "the service name, e.g. 'name: iris'" },
		{ "image", "it needs at least a base, e.g. 'image: {base: python:3.11-slim}'" },
		{ "base", "e.g. 'base: python:3.11-slim' or 'base: scratch'" },
		{ "src", "a file or directory of the context, e.g. 'src: app/'" },
		{ "dst", "an absolute path in the image, e.g. 'dst: /app/'" },
		{ "requirements", "a pinned requirements file of the context, e.g. "
				  "'requirements: requirements.txt' (pip freeze > requirements.txt)" },
	};
	size_t i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (!strcmp(hints[i][0], key))
			return hints[i][1];
	return "it is required";
}

/* ---- value checks ---- */

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int has_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 1;
	return 0;
}

static int is_dns_label(const char *s)
{
	size_t i, len = strlen(s);

	if (!len || len > 63 || s[0] < 'a' || s[0] > 'z' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

static int check_name(struct walker *w, const struct ynode *n, const char *v)
{
	if (is_dns_label(v))
		return 0;
	return ml_cfg_werr(w, n, "invalid value '%s' for '%s' (use lower-case letters, digits and "
			   "'-', starting with a letter and ending with a letter or digit, at most "
			   "63 characters)", ml_cfg_quote(w, v), ml_cfg_qpath(w));
}

static int check_repository(struct walker *w, const struct ynode *n, const char *v)
{
	struct ml_error e = { 0, "" };
	struct ml_ref ref;

	if (ml_ref_parse(&ref, v, 0, &e) == 0) {
		ml_ref_dispose(&ref);
		return 0;
	}
	return ml_cfg_werr(w, n, "invalid repository for '%s': %s (expected [HOST[:PORT]/]PATH "
			   "such as 'us-east1-docker.pkg.dev/my-proj/ml/iris')", ml_cfg_qpath(w),
			   e.msg);
}

static int check_oci_layout(struct walker *w, const struct ynode *n, const char *v)
{
	const char *rest = v + strlen("oci-layout:"), *colon = strrchr(rest, ':');

	if (colon && strchr(colon, '/'))
		colon = NULL;
	if (!*rest || colon == rest)
		return ml_cfg_werr(w, n, "invalid base '%s' for '%s' (oci-layout: needs a "
				   "directory, e.g. 'oci-layout:base' or 'oci-layout:base:3.11')",
				   ml_cfg_quote(w, v), ml_cfg_qpath(w));
	if (colon && !ml_ref_valid_tag(colon + 1))
		return ml_cfg_werr(w, n, "invalid tag '%s' in '%s' (letters, digits, '_', '.' and "
				   "'-', not starting with '.' or '-', at most 128 characters)",
				   ml_cfg_quote(w, colon + 1), ml_cfg_qpath(w));
	return 0;
}

static int check_reference(struct walker *w, const struct ynode *n, const char *v)
{
	struct ml_error e = { 0, "" };
	struct ml_ref ref;

	if (ml_ref_parse(&ref, v, 1, &e) == 0) {
		ml_ref_dispose(&ref);
		return 0;
	}
	return ml_cfg_werr(w, n, "invalid base for '%s': %s (expected scratch, "
			   "oci-layout:DIR[:TAG], docker-archive:FILE, or "
			   "NAME[:TAG][@sha256:DIGEST] such as python:3.11-slim)", ml_cfg_qpath(w),
			   e.msg);
}

static int check_base(struct walker *w, const struct ynode *n, const char *v)
{
	if (!strcmp(v, "scratch"))
		return 0;
	if (!strncmp(v, "oci-layout:", strlen("oci-layout:")))
		return check_oci_layout(w, n, v);
	if (!strncmp(v, "docker-archive:", strlen("docker-archive:"))) {
		if (v[strlen("docker-archive:")])
			return 0;
		return ml_cfg_werr(w, n, "invalid base '%s' for '%s' (docker-archive: needs a "
				   "file, e.g. 'docker-archive:base.tar')", ml_cfg_quote(w, v),
				   ml_cfg_qpath(w));
	}
	if (strstr(v, "://"))
		return ml_cfg_werr(w, n, "invalid base '%s' for '%s' (write an image reference "
				   "such as python:3.11-slim, not a url)", ml_cfg_quote(w, v),
				   ml_cfg_qpath(w));
	return check_reference(w, n, v);
}

static int check_platform(struct walker *w, const struct ynode *n, const char *v)
{
	static const char *const aliases[][2] = {
		{ "x86_64", "amd64" }, { "x86-64", "amd64" }, { "aarch64", "arm64" },
		{ "armhf", "arm" }, { "armv7l", "arm" }, { "i386", "386" }, { "i686", "386" },
	};
	const char *slash = strchr(v, '/'), *arch = slash ? slash + 1 : "";
	size_t i, parts = 1, run = 0;

	for (i = 0; v[i]; i++) {
		if (v[i] == '/' && run) {
			parts++;
			run = 0;
		} else if (is_lower_alnum(v[i]) || v[i] == '_') {
			run++;
		} else {
			parts = 0;
			break;
		}
	}
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strncmp(arch, aliases[i][0], strlen(aliases[i][0])) &&
		    (arch[strlen(aliases[i][0])] == '/' || !arch[strlen(aliases[i][0])]))
			return ml_cfg_werr(w, n, "invalid platform '%s' for '%s' (architectures "
					   "have their Go names: write '%s' for '%s')",
					   ml_cfg_quote(w, v), ml_cfg_qpath(w), aliases[i][1],
					   aliases[i][0]);
	if (run && (parts == 2 || parts == 3))
		return 0;
	return ml_cfg_werr(w, n, "invalid platform '%s' for '%s' (expected OS/ARCH[/VARIANT] in "
			   "lower case, e.g. 'linux/amd64' or 'linux/arm64/v8')",
			   ml_cfg_quote(w, v), ml_cfg_qpath(w));
}

static int has_dotdot(const char *s)
{
	const char *p = s;

	for (;;) {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return 1;
		p = strchr(p, '/');
		if (!p)
			return 0;
		p++;
	}
}

static int check_workdir(struct walker *w, const struct ynode *n, const char *v)
{
	if (v[0] == '/')
		return 0;
	return ml_cfg_werr(w, n, "invalid path '%s' for '%s' (an absolute path in the image, e.g. "
			   "'/app')", ml_cfg_quote(w, v), ml_cfg_qpath(w));
}

static int check_src(struct walker *w, const struct ynode *n, const char *v)
{
	if (v[0] == '/' || (is_alnum(v[0]) && v[1] == ':'))
		return ml_cfg_werr(w, n, "invalid path '%s' for '%s' (it must be relative to the "
				   "context directory, e.g. 'app/')", ml_cfg_quote(w, v),
				   ml_cfg_qpath(w));
	if (strchr(v, '\\'))
		return ml_cfg_werr(w, n, "invalid path '%s' for '%s' (separate directories with "
				   "'/')", ml_cfg_quote(w, v), ml_cfg_qpath(w));
	if (has_dotdot(v))
		return ml_cfg_werr(w, n, "invalid path '%s' for '%s' (it must not contain '..': "
				   "only files inside the context directory are copied)",
				   ml_cfg_quote(w, v), ml_cfg_qpath(w));
	return 0;
}

static int check_dst(struct walker *w, const struct ynode *n, const char *v)
{
	if (v[0] != '/')
		return ml_cfg_werr(w, n, "invalid path '%s' for '%s' (an absolute path in the "
				   "image, e.g. '/app/')", ml_cfg_quote(w, v), ml_cfg_qpath(w));
	if (has_dotdot(v))
		return ml_cfg_werr(w, n, "invalid path '%s' for '%s' (it must not contain '..')",
				   ml_cfg_quote(w, v), ml_cfg_qpath(w));
	/* "/srv/." names a directory without saying so: a file copied there would
	 * replace it ("/." the image's root) */
	if (strlen(v) >= 2 && !strcmp(v + strlen(v) - 2, "/."))
		return ml_cfg_werr(w, n, "invalid path '%s' for '%s' (it must not end in '/.': end "
				   "a directory with '/', e.g. '/' or '/app/')", ml_cfg_quote(w, v),
				   ml_cfg_qpath(w));
	return 0;
}

static int check_layer(struct walker *w, const struct ynode *n, const char *v)
{
	size_t i;

	for (i = 0; v[i] && i < 64; i++)
		if (!is_lower_alnum(v[i]) && (!i || (v[i] != '_' && v[i] != '-')))
			break;
	if (!v[i])
		return 0;
	return ml_cfg_werr(w, n, "invalid layer name '%s' for '%s' (lower-case letters, digits, "
			   "'_' and '-', starting with a letter or digit, at most 64 characters)",
			   ml_cfg_quote(w, v), ml_cfg_qpath(w));
}

static int check_pattern(struct walker *w, const struct ynode *n, const char *v)
{
	if (*v)
		return 0;
	return ml_cfg_werr(w, n, "empty pattern in '%s' (remove it)", ml_cfg_qpath(w));
}

static int check_tag(struct walker *w, const struct ynode *n, const char *v)
{
	if (ml_ref_valid_tag(v))
		return 0;
	return ml_cfg_werr(w, n, "invalid tag '%s' in '%s' (letters, digits, '_', '.' and '-', at "
			   "most 128, not starting with '.' or '-')", ml_cfg_quote(w, v),
			   ml_cfg_qpath(w));
}

int ml_cfg_check_env_key(struct walker *w, const struct ynode *n, const char *v)
{
	size_t i;

	for (i = 0; v[i] && is_name_char(v[i]); i++)
		;
	if (!v[i] && is_name_start(v[0]))
		return 0;
	return ml_cfg_werr(w, n, "invalid variable name '%s'%s (letters, digits and '_', not "
			   "starting with a digit)", ml_cfg_quote(w, v), ml_cfg_in_path(w));
}

static int check_label_key(struct walker *w, const struct ynode *n, const char *v)
{
	if (*v && !has_space(v))
		return 0;
	return ml_cfg_werr(w, n, "invalid label key '%s'%s (a non-empty name without spaces, e.g. "
			   "'org.opencontainers.image.source')", ml_cfg_quote(w, v),
			   ml_cfg_in_path(w));
}

static int check_endpoint_key(struct walker *w, const struct ynode *n, const char *v)
{
	size_t i;

	for (i = 0; is_lower_alnum(v[i]) || (i && v[i] == '_'); i++)
		;
	if (!v[i] && v[0] >= 'a' && v[0] <= 'z')
		return 0;
	return ml_cfg_werr(w, n, "invalid endpoint name '%s'%s (lower-case letters, digits and "
			   "'_', e.g. 'cloudrun': the SERVICE of MLDEPLOY_ENDPOINT_SERVICE in "
			   "lower case)", ml_cfg_quote(w, v), ml_cfg_in_path(w));
}

static int check_url(struct walker *w, const struct ynode *n, const char *v)
{
	const char *host = !strncmp(v, "http://", 7) ? v + 7 : !strncmp(v, "https://", 8) ? v + 8 : NULL;

	if (host && *host && *host != '/' && !has_space(v))
		return 0;
	return ml_cfg_werr(w, n, "invalid url '%s' for '%s' (expected http://HOST[:PORT][/PATH] or "
			   "https://...)", ml_cfg_quote(w, v), ml_cfg_qpath(w));
}

static int check_user(struct walker *w, const struct ynode *n, const char *v)
{
	if (!has_space(v))
		return 0;
	return ml_cfg_werr(w, n, "invalid user '%s' for '%s' (a name or uid, optionally ':group', "
			   "without spaces, e.g. \"1000\" or \"app:app\")", ml_cfg_quote(w, v),
			   ml_cfg_qpath(w));
}

static int check_health_path(struct walker *w, const struct ynode *n, const char *v)
{
	if (v[0] == '/' && !has_space(v))
		return 0;
	return ml_cfg_werr(w, n, "invalid path '%s' for '%s' (an http path starting with '/', e.g. "
			   "'/healthz')", ml_cfg_quote(w, v), ml_cfg_qpath(w));
}

static int copy_short(struct walker *w, const struct ynode *item, struct ml_copy *c)
{
	char *text = NULL, *colon;
	int rc;

	rc = ml_cfg_scalar_text(w, item, W_COPY, &text);
	if (rc < 0)
		return rc;
	/* dst is absolute: split before the first ":/", so that src may hold ':' */
	colon = strstr(text, ":/");
	if (!colon)
		colon = strchr(text, ':');
	if (!colon || colon == text || !colon[1]) {
		rc = ml_cfg_werr(w, item, "invalid copy entry '%s' for '%s' (write 'SRC:DST' such "
				 "as 'app/:/app/', or {src: SRC, dst: DST})", ml_cfg_quote(w, text),
				 ml_cfg_qpath(w));
		goto out;
	}
	c->src = ml_strndup(text, (size_t)(colon - text));
	c->dst = ml_strdup(colon + 1);
	rc = check_src(w, item, c->src);
	if (rc == 0)
		rc = check_dst(w, item, c->dst);
out:
	free(text);
	return rc;
}

static int copy_long(struct walker *w, const struct ynode *item, struct ml_copy *c)
{
	int rc = ml_cfg_check_map(w, item, copy_keys);

	if (rc == 0)
		rc = ml_cfg_get_str(w, item, "src", REQUIRED, check_src, &c->src, NULL);
	if (rc == 0)
		rc = ml_cfg_get_str(w, item, "dst", REQUIRED, check_dst, &c->dst, NULL);
	if (rc == 0)
		rc = ml_cfg_get_str(w, item, "layer", 0, check_layer, &c->layer, NULL);
	return rc;
}

static int copy_entry(struct walker *w, const struct ynode *item, size_t i)
{
	struct ml_config *cfg = w->cfg;
	struct ml_copy *c;
	size_t old;
	int rc;

	cfg->image.copy = ml_realloc(cfg->image.copy, (cfg->image.ncopy + 1) * sizeof(*c));
	c = &cfg->image.copy[cfg->image.ncopy++];
	memset(c, 0, sizeof(*c));
	c->pos = ml_cfg_pos_of(w, item);
	old = ml_cfg_path_push_index(w, i);
	if (item->type == YN_SCALAR && !ml_cfg_is_null(item))
		rc = copy_short(w, item, c);
	else if (item->type == YN_MAP)
		rc = copy_long(w, item, c);
	else
		rc = ml_cfg_type_err(w, item, W_COPY);
	ml_cfg_path_pop(w, old);
	return rc;
}

static int get_copy(struct walker *w, const struct ynode *image)
{
	const struct ynode *v = ml_cfg_map_get(image, "copy", NULL);
	size_t i, old;
	int rc = 0;

	if (!v || ml_cfg_is_null(v))
		return 0;
	old = ml_cfg_path_push(w, "copy");
	if (v->type != YN_SEQ)
		rc = ml_cfg_type_err(w, v, W_SEQ);
	for (i = 0; rc == 0 && i < v->n; i++)
		rc = copy_entry(w, v->kids[i], i);
	ml_cfg_path_pop(w, old);
	return rc;
}

static int check_index_url(struct walker *w, const struct ynode *n, const char *v)
{
	if (!strncmp(v, "https://", 8) || !strncmp(v, "http://", 7))
		return 0;
	return ml_cfg_werr(w, n, "invalid URL '%s' for '%s' (an http:// or https:// URL of a "
			   "package index's simple API, e.g. 'https://pypi.org/simple')",
			   ml_cfg_quote(w, v), ml_cfg_qpath(w));
}

static int check_py_version(struct walker *w, const struct ynode *n, const char *v)
{
	const char *p = v + 2;

	if (v[0] == '3' && v[1] == '.' && *p >= '0' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
		if (!*p && p - v <= 4)
			return 0;
	}
	return ml_cfg_werr(w, n, "invalid Python version '%s' for '%s' (write major.minor, e.g. "
			   "\"3.11\", quoted so YAML keeps it a string)", ml_cfg_quote(w, v),
			   ml_cfg_qpath(w));
}

static int check_platform_tag(struct walker *w, const struct ynode *n, const char *v)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (!is_lower_alnum(v[i]) && v[i] != '_')
			break;
	if (!v[i] && i)
		return 0;
	return ml_cfg_werr(w, n, "invalid platform tag '%s' for '%s' (a wheel platform tag such as "
			   "'manylinux_2_28_x86_64')", ml_cfg_quote(w, v), ml_cfg_qpath(w));
}

static int walk_python(struct walker *w, const struct ynode *m)
{
	struct ml_config *cfg = w->cfg;
	int rc;

	cfg->image.python.present = 1;
	cfg->image.python.pos = ml_cfg_pos_of(w, m);
	if ((rc = ml_cfg_get_str(w, m, "requirements", REQUIRED, check_src,
				 &cfg->image.python.requirements,
				 &cfg->image.python.requirements_pos)) < 0 ||
	    (rc = ml_cfg_get_str(w, m, "index", 0, check_index_url, &cfg->image.python.index,
				 NULL)) < 0 ||
	    (rc = ml_cfg_get_strv(w, m, "extra_index", W_SEQ, check_index_url,
				  &cfg->image.python.extra_index)) < 0 ||
	    (rc = ml_cfg_get_strv(w, m, "find_links", W_SEQ, check_src,
				  &cfg->image.python.find_links)) < 0 ||
	    (rc = ml_cfg_get_str(w, m, "version", 0, check_py_version, &cfg->image.python.version,
				 NULL)) < 0 ||
	    (rc = ml_cfg_get_str(w, m, "site_packages", 0, check_workdir,
				 &cfg->image.python.site_packages, NULL)) < 0)
		return rc;
	return ml_cfg_get_strv(w, m, "platform_tags", W_SEQ, check_platform_tag,
			       &cfg->image.python.platform_tags);
}

/* "python" names the layer image.python makes. */
static int check_layer_names(struct walker *w)
{
	const struct ml_config *cfg = w->cfg;
	size_t i;

	for (i = 0; cfg->image.python.present && i < cfg->image.ncopy; i++) {
		const struct ml_copy *c = &cfg->image.copy[i];

		if (c->layer && !strcmp(c->layer, "python"))
			return ml_cfg_error_at(w->err, c->pos.file, c->pos.line, c->pos.column,
					       "layer name 'python' of 'image.copy[%zu]' is the "
					       "one image.python gives its dependencies (hint: "
					       "choose another name)", i);
	}
	return 0;
}

static int walk_image(struct walker *w, const struct ynode *m)
{
	struct ml_config *cfg = w->cfg;
	int rc;

	if ((rc = ml_cfg_get_str(w, m, "repository", 0, check_repository, &cfg->image.repository,
				 &cfg->image.repository_pos)) < 0 ||
	    (rc = ml_cfg_get_str(w, m, "base", REQUIRED, check_base, &cfg->image.base,
				 &cfg->image.base_pos)) < 0 ||
	    (rc = ml_cfg_get_str(w, m, "platform", 0, check_platform, &cfg->image.platform,
				 NULL)) < 0 ||
	    (rc = ml_cfg_get_str(w, m, "workdir", 0, check_workdir, &cfg->image.workdir,
				 NULL)) < 0 ||
	    (rc = get_copy(w, m)) < 0 ||
	    (rc = ml_cfg_get_strv(w, m, "ignore", W_SEQ, check_pattern, &cfg->image.ignore)) < 0 ||
	    (rc = ml_cfg_get_strv(w, m, "allow_credentials", W_SEQ, check_pattern,
				  &cfg->image.allow_credentials)) < 0 ||
	    (rc = ml_cfg_get_strv(w, m, "tags", W_SEQ, check_tag, &cfg->image.tags)) < 0 ||
	    (rc = ml_cfg_get_kv(w, m, "env", ml_cfg_check_env_key, NULL, &cfg->image.env,
				&cfg->image.nenv)) < 0 ||
	    (rc = ml_cfg_get_int(w, m, "port", 1, 65535, &cfg->image.port)) < 0 ||
	    (rc = ml_cfg_get_strv(w, m, "cmd", W_CMD, NULL, &cfg->image.cmd)) < 0 ||
	    (rc = ml_cfg_get_strv(w, m, "entrypoint", W_CMD, NULL, &cfg->image.entrypoint)) < 0 ||
	    (rc = ml_cfg_get_str(w, m, "user", 0, check_user, &cfg->image.user, NULL)) < 0 ||
	    (rc = ml_cfg_walk_section(w, m, "python", python_keys, walk_python)) < 0 ||
	    (rc = check_layer_names(w)) < 0)
		return rc;
	return ml_cfg_get_kv(w, m, "labels", check_label_key, NULL, &cfg->image.labels,
			     &cfg->image.nlabels);
}

static int walk_health(struct walker *w, const struct ynode *m)
{
	return ml_cfg_get_str(w, m, "path", 0, check_health_path, &w->cfg->health.path, NULL);
}

int ml_cfg_walk_root(struct walker *w, const struct ynode *root)
{
	struct ml_config *cfg = w->cfg;
	const struct ynode *k, *image;
	int rc;

	if (!root || ml_cfg_is_null(root))
		return ml_cfg_error_at(w->err, cfg->path, 1, 1, "the file is empty (it needs at "
				       "least 'name' and 'image.base')");
	if (root->type != YN_MAP)
		return ml_cfg_werr(w, root, "expected a mapping at the top level, got %s (start "
				   "with 'name: ...')", ml_cfg_describe(w, root));
	if ((rc = ml_cfg_check_map(w, root, root_keys)) < 0 ||
	    (rc = ml_cfg_get_str(w, root, "name", REQUIRED, check_name, &cfg->name,
				 &cfg->name_pos)) < 0)
		return rc;
	image = ml_cfg_map_get(root, "image", &k);
	if (!image || ml_cfg_is_null(image))
		return ml_cfg_missing(w, root, k, "image");
	if ((rc = ml_cfg_walk_section(w, root, "image", image_keys, walk_image)) < 0 ||
	    (rc = ml_cfg_walk_deploy(w, root)) < 0 ||
	    (rc = ml_cfg_walk_section(w, root, "health", health_keys, walk_health)) < 0)
		return rc;
	return ml_cfg_get_kv(w, root, "endpoints", check_endpoint_key, check_url, &cfg->endpoints,
			     &cfg->nendpoints);
}
