/* Amazon Web Services. It reads its section of deploy.yaml so far; deploying
 * comes with the Elastic Beanstalk client. */
#include "aws/aws.h"

const struct ml_provider ml_provider_aws = {
	.name = "aws",
	.summary = "AWS Elastic Beanstalk",
	.caps = ML_PROVIDER_CONFIG,
	.config_parse = ml_aws_config_parse,
	.config_keys = ml_aws_config_keys,
	.config_free = ml_aws_config_free,
	.config_json = ml_aws_config_json,
};
