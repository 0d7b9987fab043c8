/* deploy.gcp: the project, region and target, and the service's size and scale. */
#include "gcp/gcp.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

const char *const ml_gcp_targets[] = { "cloudrun", "appengine", NULL };

const char *const ml_gcp_config_keys[] = {
	"project", "region", "target", "allow_unauthenticated", "cpu", "memory",
	"min_instances", "max_instances", NULL,
};

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

int ml_gcp_config_parse(struct ml_config_section *s, void **conf, struct ml_error *err)
{
	struct ml_gcp_conf *c = ml_calloc(1, sizeof(*c));
	int rc;

	(void)err;
	c->max_instances = -1;
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
	    (rc = check_scale(s, c)) < 0) {
		ml_gcp_config_free(c);
		return rc;
	}
	if (!c->target)
		c->target = ml_strdup(ml_gcp_targets[0]);
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
	free(c);
}

ml_json *ml_gcp_config_json(const void *conf)
{
	const struct ml_gcp_conf *c = conf;
	ml_json *o = ml_json_object_new();

	ml_json_set_str(o, "project", c->project);
	if (c->region)
		ml_json_set_str(o, "region", c->region);
	ml_json_set_str(o, "target", c->target);
	ml_json_set(o, "allow_unauthenticated", ml_json_bool_new(c->allow_unauthenticated));
	if (c->cpu)
		ml_json_set_str(o, "cpu", c->cpu);
	if (c->memory)
		ml_json_set_str(o, "memory", c->memory);
	ml_json_set_int(o, "min_instances", c->min_instances);
	if (c->max_instances >= 0)
		ml_json_set_int(o, "max_instances", c->max_instances);
	return o;
}
