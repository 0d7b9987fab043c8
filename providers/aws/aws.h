/* Amazon Web Services: Elastic Beanstalk's Docker platform, images from ECR. */
#ifndef ML_PROVIDER_AWS_H
#define ML_PROVIDER_AWS_H

#include "deploy/rest.h"
#include "provider.h"

/* deploy.aws; strings NULL when unset */
struct ml_aws_conf {
	char *region;
	char *application;	/* Elastic Beanstalk application; default: the service name */
	char *environment;	/* its environment; default: "<name>-env" */
	char *instance_type;	/* e.g. t3.small; default: the platform's */
	char *instance_profile;	/* default "aws-elasticbeanstalk-ec2-role" */
	int load_balanced;	/* LoadBalanced environment instead of SingleInstance */
	int create_repository;	/* create a missing ECR repository; default 1 */
	int scan_on_push;	/* for a repository mldeploy creates */
	int immutable_tags;	/* likewise */
	struct ml_kv *env;	/* extra environment for this provider (wins over image.env) */
	size_t nenv;
	struct ml_pos pos;
};

extern const char *const ml_aws_config_keys[];
int ml_aws_config_parse(struct ml_config_section *sec, void **conf, struct ml_error *err);
void ml_aws_config_free(void *conf);
ml_json *ml_aws_config_json(const void *conf);

struct ml_awsauth;

/* The provider's state for one run (aws.c). */
struct ml_aws {
	const struct ml_deploy_ctx *ctx;
	const struct ml_aws_conf *conf;
	struct ml_awsauth *auth;
	const char *region;	/* resolved (owned by auth) */
	struct ml_rest *clients[6];	/* made by ml_aws_rest, freed at cleanup */
	size_t nclients;
	void *target_state;	/* eb.c's own, freed by its cleanup */
	int calls_done, mutations_done;	/* of clients already freed (ml_aws_rest_done) */
	int repository_missing;	/* prepare_registry found it missing on a dry run */
	char *repository_name;	/* the ECR repository name when on ECR, else NULL */
};

/* A REST client for one AWS service (awsauth.h) in the run's region, owned by a
 * (freed at cleanup); its calls count in api_calls. */
struct ml_aws_service;
int ml_aws_rest(struct ml_aws *a, const struct ml_aws_service *svc, struct ml_rest **out,
		struct ml_error *err);

/* Counts the calls of a client made for one operation (S3's per-object URLs, IAM)
 * in the run's api_calls, then frees it. */
void ml_aws_rest_done(struct ml_aws *a, struct ml_rest *r);

extern const struct ml_provider ml_provider_aws;

#endif
