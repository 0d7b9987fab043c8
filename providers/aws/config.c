/* deploy.aws: the region, the Elastic Beanstalk application, environment, instance
 * type, instance profile and environment type, the ECR repository's options, and
 * extra environment variables. */
#include "aws/aws.h"

#include <stdlib.h>

#include "aws/iam.h"
#include "util/alloc.h"

const char *const ml_aws_config_keys[] = {
	"region", "application", "environment", "instance_type", "instance_profile",
	"load_balanced", "create_repository", "scan_on_push", "immutable_tags", "env", NULL,
};

int ml_aws_config_parse(struct ml_config_section *s, void **conf, struct ml_error *err)
{
	struct ml_aws_conf *c = ml_calloc(1, sizeof(*c));
	int rc;

	(void)err;
	c->pos = ml_section_pos(s, NULL);
	c->create_repository = 1;
	if ((rc = ml_section_keys(s, ml_aws_config_keys)) < 0 ||
	    (rc = ml_section_str(s, "region", 0, &c->region)) < 0 ||
	    (rc = ml_section_str(s, "application", 0, &c->application)) < 0 ||
	    (rc = ml_section_str(s, "environment", 0, &c->environment)) < 0 ||
	    (rc = ml_section_str(s, "instance_type", 0, &c->instance_type)) < 0 ||
	    (rc = ml_section_str(s, "instance_profile", 0, &c->instance_profile)) < 0 ||
	    (rc = ml_section_bool(s, "load_balanced", &c->load_balanced)) < 0 ||
	    (rc = ml_section_bool(s, "create_repository", &c->create_repository)) < 0 ||
	    (rc = ml_section_bool(s, "scan_on_push", &c->scan_on_push)) < 0 ||
	    (rc = ml_section_bool(s, "immutable_tags", &c->immutable_tags)) < 0 ||
	    (rc = ml_section_kv(s, "env", ML_SECTION_ENV_NAMES, &c->env, &c->nenv)) < 0) {
		ml_aws_config_free(c);
		return rc;
	}
	if (!c->instance_profile)
		c->instance_profile = ml_strdup(ML_IAM_DEFAULT_PROFILE);
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
	free(c->instance_profile);
	ml_kv_free(c->env, c->nenv);
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
	ml_json *o = ml_json_object_new(), *env = ml_json_object_new();
	size_t i;

	set_opt(o, "region", c->region);
	set_opt(o, "application", c->application);
	set_opt(o, "environment", c->environment);
	set_opt(o, "instance_type", c->instance_type);
	ml_json_set_str(o, "instance_profile",
			c->instance_profile ? c->instance_profile : ML_IAM_DEFAULT_PROFILE);
	ml_json_set(o, "load_balanced", ml_json_bool_new(c->load_balanced));
	ml_json_set(o, "create_repository", ml_json_bool_new(c->create_repository));
	ml_json_set(o, "scan_on_push", ml_json_bool_new(c->scan_on_push));
	ml_json_set(o, "immutable_tags", ml_json_bool_new(c->immutable_tags));
	for (i = 0; i < c->nenv; i++)
		ml_json_set_str(env, c->env[i].key, c->env[i].value);
	ml_json_set(o, "env", env);
	return o;
}
