/* AWS credentials, region and endpoints, as the AWS SDKs find them.
 * Credentials, in order:
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      (AWS_ROLE_SESSION_NAME) -> STS AssumeRoleWithWebIdentity (the CI OIDC case);
 *   3. the profile AWS_PROFILE (default "default") of ~/.aws/credentials and
 *      ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE): keys,
 *      role_arn + source_profile (STS AssumeRole), web_identity_token_file,
 *      credential_process;
 *   4. the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI or
 *      _RELATIVE_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]);
 *   5. IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_DISABLED).
 * Region: deploy.aws.region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region.
 * Endpoints: AWS_ENDPOINT_URL_<SERVICE> (ELASTIC_BEANSTALK, S3, ECR, STS, IAM), then
 * AWS_ENDPOINT_URL, else the service's regional host (amazonaws.com, .com.cn in
 * cn-* regions). Temporary credentials are refreshed before they expire. No key,
 * secret, session token or signature reaches a message or a log. */
#ifndef ML_AWS_AUTH_H
#define ML_AWS_AUTH_H

#include "config/config.h"
#include "deploy/rest.h"
#include "deploy/sigv4.h"
#include "util/error.h"

struct ml_awsauth;

/* Reads the environment and the profile files (no network). region: deploy.aws.region
 * or NULL. Malformed files are -ML_EAUTH naming the file and line (never a value). */
int ml_awsauth_new(struct ml_awsauth **out, const char *region, struct ml_error *err);
void ml_awsauth_free(struct ml_awsauth *a);	/* wipes every secret; NULL is fine */

/* Current credentials (a copy: ml_aws_credentials_dispose it). No credential
 * anywhere: -ML_EAUTH with one message listing the chain tried and what to set.
 * Several threads may call it. */
int ml_awsauth_credentials(struct ml_awsauth *a, struct ml_aws_credentials *out,
			   struct ml_error *err);
/* The region, or NULL when none is set anywhere. */
const char *ml_awsauth_region(const struct ml_awsauth *a);
/* Where the credentials come from, for -v: "environment", "profile dev
 * (~/.aws/credentials)", "web identity (AWS_ROLE_ARN)"...; NULL before known. */
const char *ml_awsauth_source(const struct ml_awsauth *a);

/* One AWS service as the client needs it. */
struct ml_aws_service {
	const char *id;			/* endpoint variable suffix: "ELASTIC_BEANSTALK" */
	const char *signing_name;	/* "elasticbeanstalk" */
	const char *display;		/* for messages: "Elastic Beanstalk" */
	const char *host_prefix;	/* "elasticbeanstalk" -> elasticbeanstalk.REGION.amazonaws.com */
	int global;			/* IAM: iam.amazonaws.com, signed for us-east-1 */
	int s3;				/* S3 signing rules */
	ml_rest_decode_fn decode;	/* ml_rest_decode_aws_query or _aws_json */
};

/* The base URL of svc in region (override or default; *overridden set to 1 for an
 * AWS_ENDPOINT_URL* value, for S3's path-style addressing). */
int ml_aws_endpoint(const struct ml_awsauth *a, const struct ml_aws_service *svc,
		    const char *region, char **url, int *overridden, struct ml_error *err);

/* A REST client for svc in region: SigV4 on every attempt, AWS's throttling
 * codes (Throttling, ThrottlingException, RequestLimitExceeded, ...) retried.
 * The caller frees it with ml_rest_free. */
int ml_aws_client(struct ml_awsauth *a, const struct ml_aws_service *svc, const char *region,
		  struct ml_rest **out, struct ml_error *err);

#endif
