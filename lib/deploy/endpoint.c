#include "deploy/endpoint.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/redact.h"

#define ENV_PREFIX "MLDEPLOY_ENDPOINT_"
#define SERVICE_MAX 64

static int valid_url(const char *v)
{
	const char *host = !strncmp(v, "http://", 7) ? v + 7 :
			   !strncmp(v, "https://", 8) ? v + 8 : NULL;
	const unsigned char *p;

	if (!host || !*host || *host == '/' || *host == '?' || *host == '#' || *host == ':')
		return 0;
	for (p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static int valid_service(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      (i && s[i] == '_')))
			return 0;
	return i > 0 && i <= SERVICE_MAX;
}

static char *without_slash(const char *v)
{
	size_t n = strlen(v);

	while (n > 8 && v[n - 1] == '/')
		n--;
	return ml_strndup(v, n);
}

static const struct ml_kv *config_entry(const struct ml_config *cfg, const char *service)
{
	char lower[SERVICE_MAX + 1];
	size_t i;

	for (i = 0; service[i]; i++)
		lower[i] = (char)(service[i] >= 'A' && service[i] <= 'Z' ?
				  service[i] - 'A' + 'a' : service[i]);
	lower[i] = '\0';
	for (i = 0; cfg && i < cfg->nendpoints; i++)
		if (!strcmp(cfg->endpoints[i].key, lower))
			return &cfg->endpoints[i];
	return NULL;
}

/* The value quoted in an error, without credentials or control characters. */
static char *shown(const char *v)
{
	char *s = ml_redacted_url(v);

	ml_sanitize(s);
	return s;
}

int ml_endpoint(char **out, const struct ml_config *cfg, const char *service,
		const char *default_url, struct ml_error *err)
{
	const struct ml_kv *kv;
	const char *v;
	char var[sizeof(ENV_PREFIX) + SERVICE_MAX], *s, *u;
	int rc;

	if (!valid_service(service))
		return ml_error_set(err, ML_EINTERNAL, "invalid endpoint service name '%s'",
				    service);
	snprintf(var, sizeof(var), ENV_PREFIX "%s", service);
	v = getenv(var);
	if (v && *v) {
		if (!valid_url(v)) {
			s = shown(v);
			rc = ml_error_set(err, ML_EUSAGE, "%s: invalid url '%s' (expected "
					  "https://HOST[:PORT][/PATH] or http://...)", var, s);
			free(s);
			return rc;
		}
		u = without_slash(v);
		s = shown(u);
		ml_log(ML_LOG_INFO, "endpoint %s: %s (from %s)", service, s, var);
		free(s);
		*out = u;
		return 0;
	}
	kv = config_entry(cfg, service);
	if (kv) {
		if (!valid_url(kv->value)) {
			s = shown(kv->value);
			rc = ml_error_set(err, ML_ECONFIG, "%s:%d:%d: invalid url '%s' for "
					  "'endpoints.%s' (expected https://HOST[:PORT][/PATH] or "
					  "http://...)", kv->pos.file ? kv->pos.file : "deploy.yaml",
					  kv->pos.line, kv->pos.column, s, kv->key);
			free(s);
			return rc;
		}
		u = without_slash(kv->value);
		s = shown(u);
		ml_log(ML_LOG_INFO, "endpoint %s: %s (from endpoints.%s in %s)", service, s,
		       kv->key, kv->pos.file ? kv->pos.file : "deploy.yaml");
		free(s);
		*out = u;
		return 0;
	}
	if (!default_url || !valid_url(default_url))
		return ml_error_set(err, ML_EINTERNAL, "no valid default endpoint for %s", service);
	*out = without_slash(default_url);
	return 0;
}
