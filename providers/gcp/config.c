/* deploy.gcp: the project, region and target, the service's size, scale and
 * environment (literal values, and Secret Manager references that stay references). */
#include "gcp/gcp.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

const char *const ml_gcp_targets[] = { "cloudrun", "appengine", NULL };

const char *const ml_gcp_config_keys[] = {
	"project", "region", "target", "allow_unauthenticated", "cpu", "memory",
	"min_instances", "max_instances", "concurrency", "timeout", "service_account", "env",
	"secret_env", "create_repository", "instances", "appengine_service", NULL,
};

#define TIMEOUT_MAX_S 3600	/* Cloud Run's longest request timeout */

/* A decimal without sign or exponent, followed by one of suffixes. */
static int is_quantity(const char *v, const char *const *suffixes)
{
	size_t i = strspn(v, "0123456789"), frac;

	if (!i)
		return 0;
	if (v[i] == '.') {
		frac = strspn(v + i + 1, "0123456789");
		if (!frac)
			return 0;
		i += 1 + frac;
	}
	for (; *suffixes; suffixes++)
		if (!strcmp(v + i, *suffixes))
			return strtod(v, NULL) > 0;
	return 0;
}

static int check_memory(struct ml_config_section *s, const char *v)
{
	static const char *const units[] = { "Ki", "Mi", "Gi", "Ti", "k", "K", "M", "G", "T", NULL };

	if (!v || is_quantity(v, units))
		return 0;
	return ml_section_error(s, "memory", "invalid memory size '%s' for '%s.memory' (a size "
				"with a unit, e.g. 512Mi or 2Gi)", ml_section_quote(s, v),
				ml_section_path(s));
}

static int check_cpu(struct ml_config_section *s, const char *v)
{
	static const char *const units[] = { "", "m", NULL };

	if (!v || is_quantity(v, units))
		return 0;
	return ml_section_error(s, "cpu", "invalid cpu '%s' for '%s.cpu' (a number of vCPUs such "
				"as 1 or 0.5, or millicores such as 500m)", ml_section_quote(s, v),
				ml_section_path(s));
}

static int check_scale(struct ml_config_section *s, const struct ml_gcp_conf *c)
{
	if (c->max_instances < 0 || c->min_instances <= c->max_instances)
		return 0;
	return ml_section_error(s, "max_instances", "min_instances %d is greater than "
				"max_instances %d in '%s'", c->min_instances, c->max_instances,
				ml_section_path(s));
}

/* "300", "300s", "5m", "1h" (a whole number with an optional unit) as seconds. */
static int check_timeout(struct ml_config_section *s, const char *v, long *out)
{
	char *end = NULL;
	long n, unit = 1;

	if (!v)
		return 0;
	n = v[0] >= '0' && v[0] <= '9' ? strtol(v, &end, 10) : -1;
	if (end && !strcmp(end, "m"))
		unit = 60;
	else if (end && !strcmp(end, "h"))
		unit = 3600;
	else if (end && *end && strcmp(end, "s"))
		n = -1;
	if (n > 0 && n <= TIMEOUT_MAX_S / unit) {
		*out = n * unit;
		return 0;
	}
	return ml_section_error(s, "timeout", "invalid timeout '%s' for '%s.timeout' (a duration "
				"from 1s to 3600s, e.g. 300s, 5m or 300)", ml_section_quote(s, v),
				ml_section_path(s));
}

/* Secret Manager: a secret id ([A-Za-z0-9_-], at most 255) or
 * projects/PROJECT/secrets/ID, then ":VERSION" (a number or "latest"). */
static int secret_ref_valid(const char *v)
{
	static const char idchars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789_-";
	const char *id = v, *colon;
	size_t n;

	if (!strncmp(v, "projects/", 9)) {
		n = strcspn(v + 9, "/");
		if (!n || strncmp(v + 9 + n, "/secrets/", 9))
			return 0;
		id = v + 9 + n + 9;
	}
	n = strspn(id, idchars);
	if (!n || n > 255)
		return 0;
	colon = id + n;
	if (!*colon)
		return 1;
	if (*colon != ':' || !colon[1])
		return 0;
	return !strcmp(colon + 1, "latest") ||
	       (colon[1] != '0' && strspn(colon + 1, "0123456789") == strlen(colon + 1));
}

static int check_secret_env(struct ml_config_section *s, const struct ml_gcp_conf *c)
{
	size_t i, k;

	for (i = 0; i < c->nsecret_env; i++) {
		if (!secret_ref_valid(c->secret_env[i].value))
			return ml_section_error(s, "secret_env", "invalid secret reference '%s' for "
						"'%s.secret_env.%s' (SECRET or SECRET:VERSION, e.g. "
						"api-key:latest or api-key:3; a Secret Manager secret "
						"id, not its value)", ml_section_quote(s, c->secret_env[i].value),
						ml_section_path(s), c->secret_env[i].key);
		for (k = 0; k < c->nenv; k++)
			if (!strcmp(c->env[k].key, c->secret_env[i].key))
				return ml_section_error(s, "secret_env", "'%s' is set in both '%s.env' "
							"and '%s.secret_env' (keep one)",
							c->secret_env[i].key, ml_section_path(s),
							ml_section_path(s));
	}
	return 0;
}

/* App Engine service ids: lower-case letters, digits and '-', at most 63, starting
 * with a letter and not ending with '-'. */
static int check_appengine_service(struct ml_config_section *s, const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (!v || (n && n <= 63 && v[0] >= 'a' && v[0] <= 'z' && v[n - 1] != '-' &&
		   strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") == n))
		return 0;
	return ml_section_error(s, "appengine_service", "invalid App Engine service '%s' for "
				"'%s.appengine_service' (lower-case letters, digits and '-', starting "
				"with a letter, e.g. default or api)", ml_section_quote(s, v),
				ml_section_path(s));
}

static int check_service_account(struct ml_config_section *s, const char *v)
{
	if (!v || (strchr(v, '@') && !strpbrk(v, " \t/")))
		return 0;
	return ml_section_error(s, "service_account", "invalid service account '%s' for "
				"'%s.service_account' (an e-mail such as "
				"app@my-project.iam.gserviceaccount.com)", ml_section_quote(s, v),
				ml_section_path(s));
}

int ml_gcp_config_parse(struct ml_config_section *s, void **conf, struct ml_error *err)
{
	struct ml_gcp_conf *c = ml_calloc(1, sizeof(*c));
	char *timeout = NULL;
	int rc;

	(void)err;
	c->max_instances = -1;
	c->allow_unauthenticated = -1;
	c->pos = ml_section_pos(s, NULL);
	if ((rc = ml_section_keys(s, ml_gcp_config_keys)) < 0 ||
	    (rc = ml_section_str(s, "project", 0, &c->project)) < 0 ||
	    (rc = ml_section_str(s, "region", 0, &c->region)) < 0 ||
	    (rc = ml_section_enum(s, "target", 0, ml_gcp_targets, &c->target)) < 0 ||
	    (rc = ml_section_bool(s, "allow_unauthenticated", &c->allow_unauthenticated)) < 0 ||
	    (rc = ml_section_str(s, "cpu", 0, &c->cpu)) < 0 || (rc = check_cpu(s, c->cpu)) < 0 ||
	    (rc = ml_section_str(s, "memory", 0, &c->memory)) < 0 ||
	    (rc = check_memory(s, c->memory)) < 0 ||
	    (rc = ml_section_int(s, "min_instances", 0, 0, INT_MAX, &c->min_instances)) < 0 ||
	    (rc = ml_section_int(s, "max_instances", 0, 0, INT_MAX, &c->max_instances)) < 0 ||
	    (rc = check_scale(s, c)) < 0 ||
	    (rc = ml_section_int(s, "concurrency", 0, 1, 1000, &c->concurrency)) < 0 ||
	    (rc = ml_section_str(s, "timeout", 0, &timeout)) < 0 ||
	    (rc = check_timeout(s, timeout, &c->timeout_s)) < 0 ||
	    (rc = ml_section_str(s, "service_account", 0, &c->service_account)) < 0 ||
	    (rc = check_service_account(s, c->service_account)) < 0 ||
	    (rc = ml_section_kv(s, "env", ML_SECTION_ENV_NAMES, &c->env, &c->nenv)) < 0 ||
	    (rc = ml_section_kv(s, "secret_env", ML_SECTION_ENV_NAMES, &c->secret_env,
				&c->nsecret_env)) < 0 ||
	    (rc = check_secret_env(s, c)) < 0 ||
	    (rc = ml_section_bool(s, "create_repository", &c->create_repository)) < 0 ||
	    (rc = ml_section_int(s, "instances", 0, 1, 1000, &c->instances)) < 0 ||
	    (rc = ml_section_str(s, "appengine_service", 0, &c->appengine_service)) < 0 ||
	    (rc = check_appengine_service(s, c->appengine_service)) < 0) {
		free(timeout);
		ml_gcp_config_free(c);
		return rc;
	}
	free(timeout);
	if (!c->target)
		c->target = ml_strdup(ml_gcp_targets[0]);
	if (!c->appengine_service)
		c->appengine_service = ml_strdup("default");
	*conf = c;
	return 0;
}

void ml_gcp_config_free(void *conf)
{
	struct ml_gcp_conf *c = conf;

	if (!c)
		return;
	free(c->project);
	free(c->region);
	free(c->target);
	free(c->cpu);
	free(c->memory);
	free(c->service_account);
	ml_kv_free(c->env, c->nenv);
	ml_kv_free(c->secret_env, c->nsecret_env);
	free(c->appengine_service);
	free(c);
}

static ml_json *kv_json(const struct ml_kv *kv, size_t n)
{
	ml_json *o = ml_json_object_new();
	size_t i;

	for (i = 0; i < n; i++)
		ml_json_set_str(o, kv[i].key, kv[i].value);
	return o;
}

ml_json *ml_gcp_config_json(const void *conf)
{
	const struct ml_gcp_conf *c = conf;
	ml_json *o = ml_json_object_new();

	if (c->project)
		ml_json_set_str(o, "project", c->project);
	if (c->region)
		ml_json_set_str(o, "region", c->region);
	ml_json_set_str(o, "target", c->target);
	if (c->allow_unauthenticated >= 0)
		ml_json_set(o, "allow_unauthenticated", ml_json_bool_new(c->allow_unauthenticated));
	if (c->cpu)
		ml_json_set_str(o, "cpu", c->cpu);
	if (c->memory)
		ml_json_set_str(o, "memory", c->memory);
	ml_json_set_int(o, "min_instances", c->min_instances);
	if (c->max_instances >= 0)
		ml_json_set_int(o, "max_instances", c->max_instances);
	if (c->concurrency)
		ml_json_set_int(o, "concurrency", c->concurrency);
	if (c->timeout_s)
		ml_json_set_int(o, "timeout", c->timeout_s);
	if (c->service_account)
		ml_json_set_str(o, "service_account", c->service_account);
	ml_json_set(o, "env", kv_json(c->env, c->nenv));
	ml_json_set(o, "secret_env", kv_json(c->secret_env, c->nsecret_env));
	ml_json_set(o, "create_repository", ml_json_bool_new(c->create_repository));
	if (c->instances)
		ml_json_set_int(o, "instances", c->instances);
	ml_json_set_str(o, "appengine_service", c->appengine_service);
	return o;
}
