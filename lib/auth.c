#include "auth.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

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

int ml_auth_credential(const char *host, struct ml_credential *out, struct ml_error *err)
{
	const char *user = getenv("MLDEPLOY_REGISTRY_USERNAME");
	const char *pass = getenv("MLDEPLOY_REGISTRY_PASSWORD");

	(void)host;
	(void)err;
	memset(out, 0, sizeof(*out));
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
