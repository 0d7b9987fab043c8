/* deploy.azure: the subscription, resource group, location and DNS label of the
 * container group, and its size. */
#include "azure/azure.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

const char *const ml_azure_config_keys[] = {
	"subscription", "resource_group", "location", "dns_label", "cpu", "memory_gb",
	"create_resource_group", "restart_policy", "identity", "env", "secure_env", NULL,
};

static const char *const restart_policies[] = { "Always", "OnFailure", "Never", NULL };

int ml_azure_config_parse(struct ml_config_section *s, void **conf, struct ml_error *err)
{
	struct ml_azure_conf *c = ml_calloc(1, sizeof(*c));
	int rc;

	(void)err;
	c->pos = ml_section_pos(s, NULL);
	if ((rc = ml_section_keys(s, ml_azure_config_keys)) < 0 ||
	    (rc = ml_section_str(s, "subscription", 0, &c->subscription)) < 0 ||
	    (rc = ml_section_str(s, "resource_group", 0, &c->resource_group)) < 0 ||
	    (rc = ml_section_str(s, "location", 0, &c->location)) < 0 ||
	    (rc = ml_section_str(s, "dns_label", 0, &c->dns_label)) < 0 ||
	    (rc = ml_section_positive(s, "cpu", &c->cpu)) < 0 ||
	    (rc = ml_section_positive(s, "memory_gb", &c->memory_gb)) < 0 ||
	    (rc = ml_section_bool(s, "create_resource_group", &c->create_resource_group)) < 0 ||
	    (rc = ml_section_enum(s, "restart_policy", 0, restart_policies, &c->restart_policy)) < 0 ||
	    (rc = ml_section_str(s, "identity", 0, &c->identity)) < 0 ||
	    (rc = ml_section_kv(s, "env", ML_SECTION_ENV_NAMES, &c->env, &c->nenv)) < 0 ||
	    (rc = ml_section_strv(s, "secure_env", &c->secure_env)) < 0) {
		ml_azure_config_free(c);
		return rc;
	}
	*conf = c;
	return 0;
}

void ml_azure_config_free(void *conf)
{
	struct ml_azure_conf *c = conf;

	if (!c)
		return;
	free(c->subscription);
	free(c->resource_group);
	free(c->location);
	free(c->dns_label);
	free(c->restart_policy);
	free(c->identity);
	ml_kv_free(c->env, c->nenv);
	ml_strv_dispose(&c->secure_env);
	free(c);
}

int ml_azure_is_secure(const struct ml_azure_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->secure_env.n; i++)
		if (!strcmp(c->secure_env.v[i], name))
			return 1;
	return 0;
}

static void set_opt(ml_json *o, const char *key, const char *v)
{
	if (v)
		ml_json_set_str(o, key, v);
}

ml_json *ml_azure_config_json(const void *conf)
{
	const struct ml_azure_conf *c = conf;
	ml_json *o = ml_json_object_new(), *env, *secure;
	size_t i;

	set_opt(o, "subscription", c->subscription);
	set_opt(o, "resource_group", c->resource_group);
	set_opt(o, "location", c->location);
	set_opt(o, "dns_label", c->dns_label);
	if (c->cpu > 0)
		ml_json_set(o, "cpu", ml_json_real_new(c->cpu));
	if (c->memory_gb > 0)
		ml_json_set(o, "memory_gb", ml_json_real_new(c->memory_gb));
	ml_json_set(o, "create_resource_group", ml_json_bool_new(c->create_resource_group));
	ml_json_set_str(o, "restart_policy", c->restart_policy ? c->restart_policy : "Always");
	set_opt(o, "identity", c->identity);
	env = ml_json_object_new();
	for (i = 0; i < c->nenv; i++)	/* secure values are not shown */
		ml_json_set_str(env, c->env[i].key, ml_azure_is_secure(c, c->env[i].key) ? "***" : c->env[i].value);
	ml_json_set(o, "env", env);
	secure = ml_json_array_new();
	for (i = 0; i < c->secure_env.n; i++)
		ml_json_append(secure, ml_json_string_new(c->secure_env.v[i]));
	ml_json_set(o, "secure_env", secure);
	return o;
}
