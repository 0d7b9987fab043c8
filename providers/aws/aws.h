/* Amazon Web Services: Elastic Beanstalk. */
#ifndef ML_PROVIDER_AWS_H
#define ML_PROVIDER_AWS_H

#include "provider.h"

/* deploy.aws; every field NULL when unset */
struct ml_aws_conf {
	char *region;
	char *application;
	char *environment;
	char *instance_type;
	struct ml_pos pos;
};

extern const char *const ml_aws_config_keys[];
int ml_aws_config_parse(struct ml_config_section *sec, void **conf, struct ml_error *err);
void ml_aws_config_free(void *conf);
ml_json *ml_aws_config_json(const void *conf);

extern const struct ml_provider ml_provider_aws;

#endif
