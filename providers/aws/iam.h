/* IAM: the instance profile Elastic Beanstalk's EC2 instances run with. */
#ifndef ML_AWS_IAM_H
#define ML_AWS_IAM_H

#include "aws/aws.h"

#define ML_IAM_DEFAULT_PROFILE "aws-elasticbeanstalk-ec2-role"

/* 1 when the instance profile name exists, 0 when not, negative on error
 * (AccessDenied names iam:GetInstanceProfile). */
int ml_iam_profile_exists(struct ml_aws *a, const char *name, struct ml_error *err);

/* Creates it as the eb CLI does: a role of the same name that ec2.amazonaws.com
 * may assume, with the managed policies AWSElasticBeanstalkWebTier and
 * AmazonEC2ContainerRegistryReadOnly, and the instance profile holding the role.
 * What already exists is kept (a rerun after a partial failure completes it). */
int ml_iam_create_profile(struct ml_aws *a, const char *name, struct ml_error *err);

#endif
