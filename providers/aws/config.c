/* deploy.aws: the region, and the Elastic Beanstalk application, environment and
 * instance type. */
#include "aws/aws.h"

#include <stdlib.h>

#include "util/alloc.h"

const char *const ml_aws_config_keys[] = {
	"region", "application", "environment", "instance_type", NULL,
};

int ml_aws_config_parse(struct ml_config_section *s, void **conf, struct ml_error *err)
{
	struct ml_aws_conf *c = ml_calloc(1, sizeof(*c));
	int rc;

	(void)err;
	c->pos = ml_section_pos(s, NULL);
	if ((rc = ml_section_keys(s, ml_aws_config_keys)) < 0 ||
	    (rc = ml_section_str(s, "region", 0, &c->region)) < 0 ||
	    (rc = ml_section_str(s, "application", 0, &c->application)) < 0 ||
	    (rc = ml_section_str(s, "environment", 0, &c->environment)) < 0 ||
	    (rc = ml_section_str(s, "instance_type", 0, &c->instance_type)) < 0) {
		ml_aws_config_free(c);
		return rc;
	}
	*conf = c;
	return 0;
}

void ml_aws_config_free(void *conf)
{
	struct ml_aws_conf *c = conf;

	if (!c)
		return;
	free(c->region);
	free(c->application);
	free(c->environment);
	free(c->instance_type);
	free(c);
}

static void set_opt(ml_json *o, const char *key, const char *v)
{
	if (v)
		ml_json_set_str(o, key, v);
}

ml_json *ml_aws_config_json(const void *conf)
{
	const struct ml_aws_conf *c = conf;
	ml_json *o = ml_json_object_new();

	set_opt(o, "region", c->region);
	set_opt(o, "application", c->application);
	set_opt(o, "environment", c->environment);
	set_opt(o, "instance_type", c->instance_type);
	return o;
}
