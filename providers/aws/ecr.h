/* Amazon ECR: the registry login (GetAuthorizationToken) and the repository. */
#ifndef ML_AWS_ECR_H
#define ML_AWS_ECR_H

#include "aws/aws.h"
#include "registry/auth.h"

/* 1 when host is ACCOUNT.dkr.ecr.REGION.amazonaws.com or .amazonaws.com.cn
 * (case-insensitive, no port); account and region (may be NULL, cap bytes each)
 * get its parts. */
int ml_ecr_parse_host(const char *host, char *account, char *region, size_t cap);

/* The provider's registry_auth hook: 1 with "AWS" and the decoded
 * GetAuthorizationToken password for an ECR host (cached until its expiresAt);
 * 0 for other hosts, and when no AWS credential is found (the Docker config's
 * ecr-login helper then applies); negative when a credential is there but fails
 * (AccessDenied names ecr:GetAuthorizationToken). */
int ml_ecr_registry_auth(const char *host, struct ml_credential *out, struct ml_error *err);

/* The provider's prepare_registry hook: DescribeRepositories for the repository of
 * an ECR image.repository; missing: CreateRepository (scan-on-push, immutable tags
 * as configured) when deploy.aws.create_repository, else -ML_ENOTFOUND naming it.
 * On a dry run it only looks and sets a->repository_missing. Other hosts: 0. */
int ml_ecr_prepare(struct ml_aws *a, const struct ml_deploy_request *req, const char *repository,
		   struct ml_error *err);
/* Adds the "create repository" step to plan when the dry run found it missing. */
void ml_ecr_plan_step(struct ml_aws *a, struct ml_plan *plan);

#endif
