#include "registry/auth.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "registry/credhelper.h"
#include "wrap/digest.h"
#include "util/fsutil.h"
#include "wrap/json.h"

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return p;
}

static char *parse_token(const char **pp)
{
	const char *p = *pp, *start = p;

	while (*p && !strchr(" \t,=\"", *p))
		p++;
	*pp = p;
	return ml_strndup(start, (size_t)(p - start));
}

static int parse_quoted(const char **pp, struct ml_buf *out)
{
	const char *p = *pp + 1;

	for (; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		if (ml_buf_addch(out, *p) < 0)
			return -1;
	}
	if (*p != '"')
		return -1;
	*pp = p + 1;
	return 0;
}

static void set_param(struct ml_challenge *c, const char *key, char *value)
{
	char **slot = NULL;

	if (!strcasecmp(key, "realm"))
		slot = &c->realm;
	else if (!strcasecmp(key, "service"))
		slot = &c->service;
	else if (!strcasecmp(key, "scope"))
		slot = &c->scope;
	else if (!strcasecmp(key, "error"))
		slot = &c->error;
	if (slot && !*slot)
		*slot = value;
	else
		free(value);
}

int ml_challenge_parse(struct ml_challenge *c, const char *header, struct ml_error *err)
{
	const char *p = skip_space(header);
	char *s;

	memset(c, 0, sizeof(*c));
	c->scheme = parse_token(&p);
	for (s = c->scheme; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	if (!c->scheme[0])
		goto bad;
	for (;;) {
		struct ml_buf v = ML_BUF_INIT;
		char *key;

		ml_buf_init(&v, 8192);
		p = skip_space(p);
		if (!*p)
			break;
		key = parse_token(&p);
		while (*p == ' ' || *p == '\t')	/* RFC 7235: BWS "=" BWS */
			p++;
		if (!key[0] || *p != '=') {
			/* the start of a second challenge: only the first one is used */
			free(key);
			break;
		}
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"' ? parse_quoted(&p, &v) < 0 : ml_buf_adds(&v, "") < 0) {
			free(key);
			ml_buf_dispose(&v);
			goto bad;
		}
		if (!v.len) {
			char *t = parse_token(&p);

			ml_buf_adds(&v, t);
			free(t);
		}
		set_param(c, key, ml_buf_detach(&v));
		free(key);
	}
	return 0;
bad:
	ml_challenge_dispose(c);
	return ml_error_set(err, ML_EPROTO, "cannot parse the registry's WWW-Authenticate header");
}

void ml_challenge_dispose(struct ml_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

static char *docker_config_path(void)
{
	const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");

	if (dir && dir[0])
		return ml_asprintf("%s/config.json", dir);
	return home && home[0] ? ml_asprintf("%s/.docker/config.json", home) : NULL;
}

/* The names a host may be filed under in config.json, Docker Hub's included. */
static size_t config_keys(const char *host, char **keys)
{
	size_t n = 0;

	keys[n++] = ml_strdup(host);
	keys[n++] = ml_asprintf("https://%s", host);
	keys[n++] = ml_asprintf("http://%s", host);
	if (!strcmp(host, "docker.io")) {
		keys[n++] = ml_strdup("https://index.docker.io/v1/");
		keys[n++] = ml_strdup("index.docker.io");
		keys[n++] = ml_strdup("registry-1.docker.io");
	}
	return n;
}

static const char *find_key(const ml_json *obj, char **keys, size_t n, const ml_json **val)
{
	size_t i;

	for (i = 0; i < n; i++) {
		*val = ml_json_get(obj, keys[i]);
		if (*val)
			return keys[i];
	}
	return NULL;
}

/* auths["host"]: {"auth": base64("user:password")} or {"username", "password"}. */
static int from_auths(const ml_json *entry, const char *path, struct ml_credential *out,
		      struct ml_error *err)
{
	const char *auth = ml_json_get_str(entry, "auth");
	const char *user = ml_json_get_str(entry, "username");
	const char *pass = ml_json_get_str(entry, "password");
	struct ml_buf plain = ML_BUF_INIT;
	char *colon;

	if (auth && auth[0]) {
		if (ml_base64_decode(&plain, auth, strlen(auth)) < 0 ||
		    !(colon = memchr(ml_buf_str(&plain), ':', plain.len))) {
			ml_buf_dispose(&plain);
			return ml_error_set(err, ML_ECONFIG, "%s: an \"auth\" entry is not "
					    "base64 of user:password", path);
		}
		out->username = ml_strndup(plain.data, (size_t)(colon - plain.data));
		out->secret = ml_strdup(colon + 1);
		explicit_bzero(plain.data, plain.len);
		ml_buf_dispose(&plain);
	} else if (user && pass) {
		out->username = ml_strdup(user);
		out->secret = ml_strdup(pass);
	} else {
		return 0;
	}
	out->source = ml_asprintf("%s (auths)", path);
	return 1;
}

/* Docker's order: credHelpers for the host, then credsStore, then auths. */
static int from_docker_config(const char *host, struct ml_credential *out, struct ml_error *err)
{
	struct ml_buf body = ML_BUF_INIT;
	char *path = docker_config_path(), *keys[6];
	const ml_json *val;
	const char *key, *store;
	ml_json *doc = NULL;
	size_t n = config_keys(host, keys), i;
	int rc = 0;

	if (!path || ml_read_file(path, 1 << 20, &body, NULL) < 0)
		goto out;
	doc = ml_json_parse_secret(ml_buf_str(&body), body.len, err);
	if (!doc) {
		rc = ml_error_prefix(err, "%s", path);
		goto out;
	}
	key = find_key(ml_json_get(doc, "credHelpers"), keys, n, &val);
	store = ml_json_get_str(doc, "credsStore");
	if (key && ml_json_str(val))
		rc = ml_credhelper_get(ml_json_str(val), key, out, err);
	else if (store && store[0])
		rc = ml_credhelper_get(store, find_key(ml_json_get(doc, "auths"), keys, n, &val) ?
				       find_key(ml_json_get(doc, "auths"), keys, n, &val) : host, out, err);
	if (rc == 0 && (key = find_key(ml_json_get(doc, "auths"), keys, n, &val)))
		rc = from_auths(val, path, out, err);
out:
	for (i = 0; i < n; i++)
		free(keys[i]);
	if (body.data)
		explicit_bzero(body.data, body.len);
	ml_buf_dispose(&body);
	ml_json_free(doc);
	free(path);
	return rc;
}

int ml_auth_credential(const char *host, struct ml_credential *out, struct ml_error *err)
{
	const char *user = getenv("MLDEPLOY_REGISTRY_USERNAME");
	const char *pass = getenv("MLDEPLOY_REGISTRY_PASSWORD");
	int rc;

	memset(out, 0, sizeof(*out));
	rc = from_docker_config(host, out, err);
	if (rc != 0)
		return rc;
	if (!user || !user[0] || !pass)
		return 0;
	out->username = ml_strdup(user);
	out->secret = ml_strdup(pass);
	out->source = ml_strdup("environment (MLDEPLOY_REGISTRY_USERNAME/MLDEPLOY_REGISTRY_PASSWORD)");
	return 1;
}

void ml_credential_dispose(struct ml_credential *c)
{
	if (c->secret)
		explicit_bzero(c->secret, strlen(c->secret));
	free(c->username);
	free(c->secret);
	free(c->source);
	memset(c, 0, sizeof(*c));
}
