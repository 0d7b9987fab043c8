/* deploy.azure: the subscription, resource group, location and DNS label of the
 * container group, and its size. */
#include "azure/azure.h"

#include <stdlib.h>

#include "util/alloc.h"

const char *const ml_azure_config_keys[] = {
	"subscription", "resource_group", "location", "dns_label", "cpu", "memory_gb", NULL,
};

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
	    (rc = ml_section_positive(s, "memory_gb", &c->memory_gb)) < 0) {
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
	free(c);
}

static void set_opt(ml_json *o, const char *key, const char *v)
{
	if (v)
		ml_json_set_str(o, key, v);
}

ml_json *ml_azure_config_json(const void *conf)
{
	const struct ml_azure_conf *c = conf;
	ml_json *o = ml_json_object_new();

	set_opt(o, "subscription", c->subscription);
	set_opt(o, "resource_group", c->resource_group);
	set_opt(o, "location", c->location);
	set_opt(o, "dns_label", c->dns_label);
	if (c->cpu > 0)
		ml_json_set(o, "cpu", ml_json_real_new(c->cpu));
	if (c->memory_gb > 0)
		ml_json_set(o, "memory_gb", ml_json_real_new(c->memory_gb));
	return o;
}
