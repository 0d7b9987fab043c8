/* Placeholder until this module lands (being written now). */
#include "aws/awsauth.h"

int ml_awsauth_new(struct ml_awsauth **out, const char *region, struct ml_error *err)
{
	(void)out; (void)region;
	return ml_error_set(err, ML_EAUTH, "aws: credentials not available yet");
}

void ml_awsauth_free(struct ml_awsauth *a)
{
	(void)a;
}

int ml_awsauth_credentials(struct ml_awsauth *a, struct ml_aws_credentials *out,
			   struct ml_error *err)
{
	(void)a; (void)out;
	return ml_error_set(err, ML_EAUTH, "aws: credentials not available yet");
}

const char *ml_awsauth_region(const struct ml_awsauth *a)
{
	(void)a;
	return NULL;
}

const char *ml_awsauth_source(const struct ml_awsauth *a)
{
	(void)a;
	return NULL;
}

int ml_aws_endpoint(const struct ml_awsauth *a, const struct ml_aws_service *svc,
		    const char *region, char **url, int *overridden, struct ml_error *err)
{
	(void)a; (void)svc; (void)region; (void)url; (void)overridden;
	return ml_error_set(err, ML_EINTERNAL, "aws: endpoints not available yet");
}

int ml_aws_client(struct ml_awsauth *a, const struct ml_aws_service *svc, const char *region,
		  struct ml_rest **out, struct ml_error *err)
{
	(void)a; (void)svc; (void)region; (void)out;
	return ml_error_set(err, ML_EINTERNAL, "aws: clients not available yet");
}
